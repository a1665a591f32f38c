//! POST /management/auth: a session token for a user name and password.

use super::*;
use relto_store::audit::{AuditKind, AuditOutcome};

#[derive(serde::Deserialize)]
struct AuthRequest {
    username: String,
    password: String,
}

/// POST /management/auth: exchanges a user name and password for a bearer token valid 24
/// hours (the shape OpenTAXII clients use).
pub(super) async fn management_auth(
    State(st): State<AppState>,
    req: Request,
) -> ApiResult<Response> {
    let conn = req
        .extensions()
        .get::<ConnInfo>()
        .copied()
        .ok_or_else(|| ApiError(TaxiiError::internal()))?;
    if !conn.credentials_ok(st.auth.insecure_http()) {
        return Err(ApiError(TaxiiError::unauthorized(
            "credentials over plain HTTP are refused: use TLS or --insecure-http",
        )));
    }
    let headers = req.headers().clone();
    let bytes = read_body(&headers, req.into_body(), 64 * 1024, st.config.body_timeout).await?;
    let body: AuthRequest = serde_json::from_slice(&bytes).map_err(|_| {
        ApiError(TaxiiError::bad_request(
            "send JSON {\"username\": …, \"password\": …}",
        ))
    })?;
    let source = conn.peer.ip().to_string();
    let keys = failure_keys(Some(&body.username), &source);
    refuse_if_throttled(&st, &keys, &body.username, &source).await?;
    let account = match st.auth.basic(&body.username, &body.password).await {
        Ok(a) => a,
        Err(e) => {
            let detail = "POST /management/auth: wrong user name or password".to_string();
            note_auth_failure(&st, &keys, &body.username, &source, detail).await;
            return Err(e);
        }
    };
    let token = issue_session_token(&st, &account, "session", SESSION_TOKEN_US, &source).await?;
    Ok(json_response(StatusCode::OK, json!({ "token": token })))
}

/// A new token of `account` for `lifetime_us`, stored (as its SHA-256) and audited: the
/// session of `POST /management/auth` and of the console's sign-in.
pub(super) async fn issue_session_token(
    st: &AppState,
    account: &relto_store::Account,
    label: &str,
    lifetime_us: i64,
    source: &str,
) -> ApiResult<String> {
    let token = new_token().map_err(|_| ApiError(TaxiiError::internal()))?;
    let now = now_us();
    st.store
        .add_token(&NewToken {
            account: account.name.clone(),
            sha256: token_sha256(&token),
            label: label.into(),
            created_us: now,
            expires_us: Some(now + lifetime_us),
        })
        .await?;
    let mut ev = event(
        AuditKind::TokenCreate,
        &account.name,
        account.organization.slug.as_str(),
        source,
    );
    ev.outcome = AuditOutcome::Ok.into();
    ev.detail = format!("{label} token, {} hours", lifetime_us / 3_600_000_000);
    st.audit.record(ev).await;
    Ok(token)
}
