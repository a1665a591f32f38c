//! Signing in and out of the console. A session is an API token of the account (label
//! `console session`, 12 hours) carried in an `HttpOnly; SameSite=Strict` cookie (`Secure`
//! over TLS), so it ends as tokens do: at expiry, on sign-out (revoked), and when `relto
//! apply` disables the account or its organization. Passwords go through the same check,
//! throttling and audit as the API's.

use super::*;
use sha2::{Digest, Sha256};

const SESSION_COOKIE: &str = "relto_session";
/// Before sign-in: the value the sign-in form must send back (login CSRF).
const LOGIN_COOKIE: &str = "relto_login";
const SESSION_US: i64 = 12 * 3600 * 1_000_000;

/// A signed-in console user.
pub(in crate::routes) struct Session {
    pub(in crate::routes) principal: Principal,
    /// The token its forms carry: derived from the session's secret, so that no other site
    /// can know it.
    pub(in crate::routes) csrf: String,
    token: String,
}

/// The value of cookie `name`, if the request carries it.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_string())
        })
}

fn set_cookie(name: &str, value: &str, max_age_secs: i64, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("relto_invalid=; Max-Age=0"))
}

fn csrf_of(token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"relto console csrf\0")
        .chain_update(token.as_bytes())
        .finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Equal texts, compared in time independent of where they differ.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequestParts<AppState> for Session {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, UiError> {
        let conn = conn_info(&parts.extensions);
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(UiError::SignIn)?;
        if !conn.credentials_ok(st.auth.insecure_http()) {
            return Err(UiError::new(403, PLAIN_HTTP));
        }
        let account = st.auth.session(&token).await?;
        Ok(Session {
            principal: Principal {
                account,
                source: conn.peer.ip().to_string(),
            },
            csrf: csrf_of(&token),
            token,
        })
    }
}

const PLAIN_HTTP: &str = "Signing in over plain HTTP from another machine is refused: use TLS (relto serve --tls-cert/--tls-key) or, behind a TLS proxy, --insecure-http.";

/// The sign-in page (with a message after a failed attempt). Gives the browser the value
/// its form must send back when it has none yet.
pub(super) fn sign_in_page(
    headers: &HeaderMap,
    conn: &ConnInfo,
    status: StatusCode,
    message: Option<&str>,
) -> Response {
    let existing = cookie(headers, LOGIN_COOKIE);
    let value = existing
        .clone()
        .or_else(|| new_token().ok())
        .unwrap_or_default();
    let body = html! {
        h1 { "Sign in to relto" }
        @if let Some(m) = message {
            p class="error" role="alert" { (m) }
        }
        form method="post" action="/ui/login" class="sign-in" {
            input type="hidden" name="csrf" value=(value);
            label for="username" { "Username" }
            input id="username" name="username" type="text" autocomplete="username" required autofocus;
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
    };
    let mut resp = html_page(status, &page("Sign in", None, body));
    if existing.is_none() {
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(LOGIN_COOKIE, &value, 3600, conn.tls),
        );
    }
    resp
}

#[derive(serde::Deserialize)]
pub(super) struct SignIn {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// POST /ui/login
pub(super) async fn login(State(st): State<AppState>, req: Request) -> UiResult<Response> {
    let (parts, body) = req.into_parts();
    let (conn, headers) = (conn_info(&parts.extensions), &parts.headers);
    let form: SignIn = form_values(&st, headers, body, FORM_LIMIT).await?;
    if !cookie(headers, LOGIN_COOKIE).is_some_and(|c| same(&c, &form.csrf)) {
        return Ok(sign_in_page(
            headers,
            &conn,
            StatusCode::FORBIDDEN,
            Some("The sign-in form had expired (or came from another site). Please sign in again."),
        ));
    }
    if !conn.credentials_ok(st.auth.insecure_http()) {
        return Err(UiError::new(403, PLAIN_HTTP));
    }
    let source = conn.peer.ip().to_string();
    let keys = failure_keys(Some(&form.username), &source);
    if refuse_if_throttled(&st, &keys, &form.username, &source)
        .await
        .is_err()
    {
        return Ok(sign_in_page(
            headers,
            &conn,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed sign-ins from this address. Wait a minute and try again."),
        ));
    }
    let account = match st.auth.basic(&form.username, &form.password).await {
        Ok(a) => a,
        Err(e) if e.0.status == 401 => {
            let detail = "console sign-in: wrong user name or password".to_string();
            note_auth_failure(&st, &keys, &form.username, &source, detail).await;
            return Ok(sign_in_page(
                headers,
                &conn,
                StatusCode::UNAUTHORIZED,
                Some("Wrong username or password."),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let token = issue_session_token(&st, &account, "console session", SESSION_US, &source).await?;
    let mut resp = Redirect::to("/ui/").into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &token, SESSION_US / 1_000_000, conn.tls),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", 0, conn.tls),
    );
    Ok(resp)
}

/// POST /ui/logout: revokes the session's token.
pub(super) async fn logout(
    State(st): State<AppState>,
    s: Session,
    req: Request,
) -> UiResult<Response> {
    let tls = conn_info(req.extensions()).tls;
    let serde::de::IgnoredAny = signed_form(&st, &s, req).await?;
    st.store
        .revoke_tokens(&s.principal.account.name, Some(&token_sha256(&s.token)))
        .await?;
    st.auth.forget_session(&s.token);
    let mut resp = Redirect::to("/ui/").into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, tls));
    Ok(resp)
}

/// The largest ordinary form (a sign-in, an approval).
const FORM_LIMIT: u64 = 64 * 1024;

/// Reads an `application/x-www-form-urlencoded` body (at most `limit` bytes) as `T`.
async fn form_values<T: serde::de::DeserializeOwned>(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> UiResult<T> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(UiError::new(
            415,
            "send the form as application/x-www-form-urlencoded",
        ));
    }
    let bytes = read_body(headers, body, limit, st.config.body_timeout).await?;
    serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| UiError::new(400, format!("the form could not be read: {e}")))
}

/// A signed-in user's form: its fields as `T` once its CSRF token is the session's (403
/// otherwise, before anything is done).
pub(super) async fn signed_form<T: serde::de::DeserializeOwned>(
    st: &AppState,
    s: &Session,
    req: Request,
) -> UiResult<T> {
    signed_form_up_to(st, s, req, FORM_LIMIT).await
}

/// [`signed_form`] of a form that may be larger (a report's text, a draft bundle).
pub(super) async fn signed_form_up_to<T: serde::de::DeserializeOwned>(
    st: &AppState,
    s: &Session,
    req: Request,
    limit: u64,
) -> UiResult<T> {
    #[derive(serde::Deserialize)]
    struct Signed<T> {
        #[serde(default)]
        csrf: String,
        #[serde(flatten)]
        fields: T,
    }
    let (parts, body) = req.into_parts();
    let form: Signed<T> = form_values(st, &parts.headers, body, limit).await?;
    if same(&form.csrf, &s.csrf) {
        Ok(form.fields)
    } else {
        Err(UiError::new(
            403,
            "This form is not from your session (its CSRF token is missing or stale). Reload the page and try again.",
        ))
    }
}
