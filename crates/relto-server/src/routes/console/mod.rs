//! The console of DESIGN §12: server-rendered pages under `/ui/` for analysts and releasing
//! officers, signed in by session cookie, over the same accounts, the same read path
//! (`Hub::read_page`) and the same release decision as TAXII. Every value is escaped by the
//! templates (maud); the pages carry no inline script, and the few lines of script that
//! follow the live stream are served from `/ui/static/`.

mod collections;
mod drafts;
mod misp;
mod objects;
mod session;
mod situations;

use super::*;
use maud::{html, Markup, DOCTYPE};
pub(super) use session::Session;

/// The console's Content-Security-Policy: its own script and style only, no inline script,
/// nothing remote, forms posted to itself.
pub(super) const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(collections::index))
        .route("/ui/login", post(session::login))
        .route("/ui/logout", post(session::logout))
        .route("/ui/collections/{cid}", get(collections::collection))
        .route("/ui/collections/{cid}/stream", get(collections::stream))
        .route(
            "/ui/collections/{cid}/draft",
            get(drafts::form).post(drafts::draft),
        )
        .route("/ui/collections/{cid}/draft/post", post(drafts::post))
        .route(
            "/ui/collections/{cid}/misp",
            get(misp::form).post(misp::convert),
        )
        .route("/ui/collections/{cid}/misp/post", post(drafts::post))
        .route("/ui/objects/{oid}", get(objects::object))
        .route("/ui/situations/{id}", get(situations::situation))
        .route(
            "/ui/situations/{id}/stages/{n}/approve",
            post(situations::approve),
        )
        .route(
            "/ui/situations/{id}/stages/{n}/withdraw",
            post(situations::withdraw),
        )
        .route("/ui/static/console.js", get(script))
        .route("/ui/static/console.css", get(style))
}

use axum::response::Redirect;

async fn script() -> Response {
    asset(
        include_str!("assets/console.js"),
        "text/javascript; charset=utf-8",
    )
}

async fn style() -> Response {
    asset(
        include_str!("assets/console.css"),
        "text/css; charset=utf-8",
    )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// What a console page answers when it cannot show what was asked: the sign-in page (no
/// session, or one that ended), or a page saying what went wrong with the HTTP status.
pub(super) enum UiError {
    SignIn,
    Page(StatusCode, String),
}

pub(super) type UiResult<T> = Result<T, UiError>;

impl UiError {
    pub(super) fn new(status: u16, message: impl Into<String>) -> Self {
        UiError::Page(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message.into(),
        )
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        if e.0.status == 401 {
            return UiError::SignIn;
        }
        let message = e.0.description.clone().unwrap_or_else(|| e.0.title.clone());
        Self::new(e.0.status, message)
    }
}

impl From<relto_store::StoreError> for UiError {
    fn from(e: relto_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<relto_hub::plans::PlanError> for UiError {
    fn from(e: relto_hub::plans::PlanError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn => Redirect::to("/ui/").into_response(),
            UiError::Page(status, message) => {
                let title = status.canonical_reason().unwrap_or("Error");
                let body = html! {
                    h1 { (title) }
                    p role="alert" { (message) }
                    p { a href="/ui/" { "Back to the collections" } }
                };
                html_page(status, &page(title, None, body))
            }
        }
    }
}

/// An HTML response.
pub(super) fn html_page(status: StatusCode, markup: &Markup) -> Response {
    let mut resp = (status, markup.0.clone()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// A whole page: the header with who is signed in (and the sign-out form), then `body`.
pub(super) fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — relto" }
                link rel="stylesheet" href="/ui/static/console.css";
                script src="/ui/static/console.js" defer {}
            }
            body {
                header {
                    nav aria-label="Main" {
                        a class="brand" href="/ui/" { "relto" }
                        @if let Some(s) = session {
                            a href="/ui/" { "Collections" }
                            span class="who" {
                                (s.principal.account.name) " · "
                                (s.principal.account.organization.slug.as_str())
                                " · " (roles(&s.principal.account))
                            }
                            form method="post" action="/ui/logout" class="inline" {
                                (csrf_field(s))
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

fn roles(account: &relto_store::Account) -> String {
    account
        .roles
        .iter()
        .map(|r| format!("{r:?}").to_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The hidden CSRF field every signed-in form carries.
pub(super) fn csrf_field(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// Pretty-printed JSON, as text (escaped where it is put into the page).
pub(super) fn pretty(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| raw.to_string())
}

/// What a list shows for an object: its name, else another telling property, else its id.
pub(super) fn title_of(v: &serde_json::Value) -> String {
    const SHOWN: usize = 120;
    [
        "name", "value", "pattern", "abstract", "content", "opinion", "path", "key", "user_id",
        "number",
    ]
    .iter()
    .find_map(|k| match v.get(*k) {
        Some(serde_json::Value::String(s)) if s.chars().count() > SHOWN => {
            Some(format!("{}…", s.chars().take(SHOWN).collect::<String>()))
        }
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
    .or_else(|| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
    .unwrap_or_default()
}

/// A marking in words: a relto label's name (`NATO:NS // REL TO KOR, NATO`), else its id.
pub(super) fn marking_words(view: &ReleaseView, id: &str) -> String {
    match view.policy.marking(id) {
        Some(relto_policy::Marking::Label(l)) => l.display_name(),
        Some(relto_policy::Marking::NonRestrictive) => relto_policy::label::tlp_name(id)
            .map_or_else(|| format!("{id} (not restrictive)"), str::to_string),
        Some(relto_policy::Marking::Acs(_)) => match view.policy.acs_reading(id) {
            None => id.to_string(),
            Some(relto_policy::AcsReading::Mapped(l)) => format!("ACS: {}", l.display_name()),
            Some(relto_policy::AcsReading::Default { label: Some(l), .. }) => {
                format!("ACS, not mapped: {}", l.display_name())
            }
            Some(relto_policy::AcsReading::Default { label: None, .. }) => {
                "ACS, not mapped: originator only".to_string()
            }
        },
        None => id.to_string(),
    }
}

/// The words of an object's `object_marking_refs`.
pub(super) fn labels_in_words(view: &ReleaseView, v: &serde_json::Value) -> Vec<String> {
    v.get("object_marking_refs")
        .and_then(|m| m.as_array())
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.as_str())
                .map(|r| marking_words(view, r))
                .collect()
        })
        .unwrap_or_default()
}
