//! Who calls: authentication, throttling of failed attempts, the TAXII Accept header.

use super::*;
use relto_store::audit::{AuditKind, AuditOutcome};

/// An authenticated caller whose `Accept` admits TAXII 2.1 (the TAXII endpoints).
pub struct Caller(pub Principal);

/// An authenticated caller, whatever it accepts: relto's own `/api/v1/` resources answer
/// JSON or an event stream, and an `EventSource` asks for `text/event-stream`.
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let Authenticated(principal) = Authenticated::from_request_parts(parts, st).await?;
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        if !accepts_taxii(accept) {
            return Err(ApiError(TaxiiError::not_acceptable()));
        }
        Ok(Caller(principal))
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let conn = conn_info(&parts.extensions);
        let claimed = claimed_user(&parts.headers);
        let source = conn.peer.ip().to_string();
        let keys = failure_keys(claimed.as_deref(), &source);
        refuse_if_throttled(st, &keys, claimed.as_deref().unwrap_or(""), &source).await?;
        let principal = match st.auth.authenticate(&parts.headers, &conn).await {
            Ok(p) => p,
            Err(e) => {
                // A request without credentials is a question, not an attempt.
                if parts.headers.contains_key(header::AUTHORIZATION) {
                    let detail = e.0.description.clone().unwrap_or_default();
                    note_auth_failure(st, &keys, claimed.as_deref().unwrap_or(""), &source, detail)
                        .await;
                }
                return Err(e);
            }
        };
        Ok(Authenticated(principal))
    }
}

/// The connection a request came in on. Requests that did not come through `serve` carry no
/// connection facts: they count as remote plain HTTP, the strictest case.
pub(super) fn conn_info(extensions: &axum::http::Extensions) -> ConnInfo {
    extensions.get::<ConnInfo>().copied().unwrap_or(ConnInfo {
        peer: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        tls: false,
    })
}

/// What failed authentications are counted against: the address, and the claimed account
/// from that address. Not the account alone: then anyone could lock an account for everyone
/// by guessing wrong twenty times.
pub(super) fn failure_keys(claimed: Option<&str>, source: &str) -> Vec<String> {
    claimed
        .iter()
        .map(|u| format!("user:{u}@{source}"))
        .chain([format!("ip:{source}")])
        .collect()
}

/// Counts a failed authentication against `keys` and audits it (`detail`: what failed where).
pub(super) async fn note_auth_failure(
    st: &AppState,
    keys: &[String],
    claimed: &str,
    source: &str,
    detail: String,
) {
    st.auth.note_failure(keys);
    let mut ev = event(AuditKind::AuthFailure, claimed, "", source);
    ev.outcome = AuditOutcome::Failure.into();
    ev.detail = detail;
    st.audit.record(ev).await;
}

/// 429 while the failures counted against `keys` are over their limits; each refusal is
/// audited.
pub(super) async fn refuse_if_throttled(
    st: &AppState,
    keys: &[String],
    claimed: &str,
    source: &str,
) -> ApiResult<()> {
    if !st.auth.throttled(keys) {
        return Ok(());
    }
    let mut ev = event(AuditKind::AuthThrottled, claimed, "", source);
    ev.outcome = AuditOutcome::Refused.into();
    ev.detail = "too many failed authentications from this address".into();
    st.audit.record(ev).await;
    Err(ApiError(TaxiiError::too_many_requests(
        "too many failed authentications; wait a minute and try again",
    )))
}
