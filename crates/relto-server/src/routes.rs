//! The TAXII 2.1 endpoints (spec §4 and §5) and relto's token endpoint.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use relto_stix::timestamp::format_micros;
use std::sync::Arc;

use relto_policy::ReleasePolicy;
use relto_store::{ApiRoot, Collection, NewToken, ObjectQuery, Page, ReaderFilter, StatusRow};
use relto_taxii::media::{accepts_taxii, is_taxii_content_type};
use relto_taxii::query::{parse_query_with, Endpoint};
use relto_taxii::{Cursor, ObjectFilters, TaxiiError, STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE};
use serde_json::{json, Value};

use crate::audit::{event, release_events};
use crate::auth::{claimed_user, new_token, now_us, token_sha256, ConnInfo, Principal};
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use relto_hub::ingest::{Outcome, Poster, DUPLICATE};
use relto_hub::release::{Redactions, ReleaseView};

const DATE_ADDED_FIRST: HeaderName = HeaderName::from_static("x-taxii-date-added-first");
const DATE_ADDED_LAST: HeaderName = HeaderName::from_static("x-taxii-date-added-last");
/// Lifetime of tokens issued by POST /management/auth.
const SESSION_TOKEN_US: i64 = 24 * 3600 * 1_000_000;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/management/auth", post(management_auth))
        .route("/{root}/", get(api_root))
        .route("/{root}/status/{id}/", get(status))
        .route("/{root}/collections/", get(collections))
        .route("/{root}/collections/{cid}/", get(collection))
        .route(
            "/{root}/collections/{cid}/objects/",
            get(get_objects).post(add_objects),
        )
        .route(
            "/{root}/collections/{cid}/objects/{oid}/",
            get(get_object).delete(delete_object),
        )
        .route(
            "/{root}/collections/{cid}/objects/{oid}/versions/",
            get(versions),
        )
        .route("/{root}/collections/{cid}/manifest/", get(manifest))
        .route(
            "/{root}/collections/{cid}/objects/{oid}/release-preview/",
            get(release_preview),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError(TaxiiError::not_found("no such TAXII resource"))
}

async fn method_not_allowed() -> ApiError {
    ApiError(TaxiiError::new(
        405,
        "Method not allowed",
        "this resource does not support that method",
    ))
}

async fn security_headers(req: Request, next: Next) -> Response {
    let tls = req.extensions().get::<ConnInfo>().is_some_and(|c| c.tls);
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let mut resp = next.run(req).await;
    let status = resp.status();
    let h = resp.headers_mut();
    // An error answered before the body was read ends the connection (its unread bytes
    // cannot be told from the next request); say so, so that clients do not reuse it.
    if has_body && (status.is_client_error() || status.is_server_error()) {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

/// An authenticated caller whose `Accept` admits TAXII 2.1.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        // Requests that did not come through `serve` carry no connection facts: treat them as
        // remote plain HTTP, the strictest case.
        let conn = parts
            .extensions
            .get::<ConnInfo>()
            .copied()
            .unwrap_or(ConnInfo {
                peer: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
                tls: false,
            });
        let claimed = claimed_user(&parts.headers);
        let source = conn.peer.ip().to_string();
        let keys = failure_keys(claimed.as_deref(), &source);
        refuse_if_throttled(st, &keys, claimed.as_deref().unwrap_or(""), &source).await?;
        let principal = match st.auth.authenticate(&parts.headers, &conn).await {
            Ok(p) => p,
            Err(e) => {
                // A request without credentials is a question, not an attempt.
                if parts.headers.contains_key(header::AUTHORIZATION) {
                    st.auth.note_failure(&keys);
                    let mut ev = event(
                        "auth.failure",
                        claimed.as_deref().unwrap_or(""),
                        "",
                        &source,
                    );
                    ev.outcome = "failure".into();
                    ev.detail = e.0.description.clone().unwrap_or_default();
                    st.audit.record(ev).await;
                }
                return Err(e);
            }
        };
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

/// What failed authentications are counted against: the address, and the claimed account
/// from that address. Not the account alone: then anyone could lock an account for everyone
/// by guessing wrong twenty times.
fn failure_keys(claimed: Option<&str>, source: &str) -> Vec<String> {
    claimed
        .iter()
        .map(|u| format!("user:{u}@{source}"))
        .chain([format!("ip:{source}")])
        .collect()
}

/// 429 while the failures counted against `keys` are over their limits; each refusal is
/// audited.
async fn refuse_if_throttled(
    st: &AppState,
    keys: &[String],
    claimed: &str,
    source: &str,
) -> ApiResult<()> {
    if !st.auth.throttled(keys) {
        return Ok(());
    }
    let mut ev = event("auth.throttled", claimed, "", source);
    ev.outcome = "refused".into();
    ev.detail = "too many failed authentications from this address".into();
    st.audit.record(ev).await;
    Err(ApiError(TaxiiError::too_many_requests(
        "too many failed authentications; wait a minute and try again",
    )))
}

fn path_err(e: PathRejection) -> ApiError {
    ApiError(TaxiiError::bad_request(format!("bad URL path: {e}")))
}

/// A 200 (or other) TAXII response with its body and extra headers.
fn taxii(status: StatusCode, body: String, extra: &[(HeaderName, String)]) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TAXII_MEDIA_TYPE),
    );
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name.clone(), v);
        }
    }
    resp
}

fn json_ok(value: &Value) -> Response {
    taxii(StatusCode::OK, value.to_string(), &[])
}

/// The prefix of API root URLs in discovery. TAXII 2.1 §4.1.1 allows HTTPS absolute URLs or
/// relative ones beginning with a single '/': absolute over TLS (when the Host header is
/// sane), relative otherwise (plain HTTP, or TLS terminated by a proxy in front).
fn base_url(headers: &HeaderMap, conn: Option<&ConnInfo>) -> String {
    if !conn.is_some_and(|c| c.tls) {
        return String::new();
    }
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host)
            if !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)) =>
        {
            format!("https://{host}")
        }
        _ => String::new(),
    }
}

async fn discovery(
    State(st): State<AppState>,
    Caller(_): Caller,
    req: Request,
) -> ApiResult<Response> {
    let base = base_url(req.headers(), req.extensions().get::<ConnInfo>());
    let roots = st.store.api_roots().await?;
    let urls: Vec<String> = roots
        .iter()
        .map(|r| format!("{base}/{}/", r.path))
        .collect();
    let mut body = json!({ "title": st.config.title, "api_roots": urls });
    if let Some(d) = &st.config.description {
        body["description"] = json!(d);
    }
    if let Some(c) = &st.config.contact {
        body["contact"] = json!(c);
    }
    if urls.len() == 1 {
        body["default"] = json!(urls[0]);
    }
    if urls.is_empty() {
        if let Some(map) = body.as_object_mut() {
            map.remove("api_roots");
        }
    }
    Ok(json_ok(&body))
}

async fn find_root(st: &AppState, root: &str) -> ApiResult<ApiRoot> {
    st.store
        .api_root(root)
        .await?
        .ok_or_else(|| ApiError(TaxiiError::not_found(format!("no API root '{root}'"))))
}

fn no_collection(cid: &str) -> ApiError {
    ApiError(TaxiiError::not_found(format!(
        "no collection '{cid}' that you may access"
    )))
}

/// A collection the caller may use, with the release rules in force for this request.
struct Access {
    api_root: ApiRoot,
    coll: Collection,
    view: Arc<ReleaseView>,
}

impl Access {
    /// The caller's store-side filter: what the release decision lets it see.
    fn filter(&self, st: &AppState, p: &Principal) -> ReaderFilter {
        (*st.hub.release.filter(&self.view, &p.account)).clone()
    }
}

/// The collection, if the caller may see it at all (read or write); else 404, the same
/// answer as for a collection that does not exist.
async fn visible_collection(
    st: &AppState,
    p: &Principal,
    root: &str,
    cid: &str,
) -> ApiResult<Access> {
    let (api_root, coll) = match st.store.collection(root, cid).await? {
        Some(found) => found,
        // Say which of the two is missing.
        None => {
            find_root(st, root).await?;
            return Err(no_collection(cid));
        }
    };
    let view = st.hub.view().await?;
    if p.can_read(&coll, &view.policy) || p.can_write(&coll, &view.policy) {
        Ok(Access {
            api_root,
            coll,
            view,
        })
    } else {
        Err(no_collection(cid))
    }
}

async fn readable_collection(
    st: &AppState,
    p: &Principal,
    root: &str,
    cid: &str,
) -> ApiResult<Access> {
    let a = visible_collection(st, p, root, cid).await?;
    if !p.can_read(&a.coll, &a.view.policy) {
        return Err(ApiError(TaxiiError::forbidden(
            "you may add objects to this collection but not read it",
        )));
    }
    Ok(a)
}

async fn writable_collection(
    st: &AppState,
    p: &Principal,
    root: &str,
    cid: &str,
) -> ApiResult<Access> {
    let a = visible_collection(st, p, root, cid).await?;
    if !p.can_write(&a.coll, &a.view.policy) {
        return Err(ApiError(TaxiiError::forbidden(
            "you may read this collection but not write to it",
        )));
    }
    Ok(a)
}

async fn api_root(
    State(st): State<AppState>,
    Caller(_): Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let Path(root) = path.map_err(path_err)?;
    let r = find_root(&st, &root).await?;
    let mut body = json!({
        "title": r.title,
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": r.max_content_length,
    });
    if let Some(d) = &r.description {
        body["description"] = json!(d);
    }
    Ok(json_ok(&body))
}

fn collection_json(c: &Collection, p: &Principal, policy: &ReleasePolicy) -> Value {
    let mut v = json!({
        "id": c.id,
        "title": c.title,
        "can_read": p.can_read(c, policy),
        "can_write": p.can_write(c, policy),
        "media_types": [STIX_MEDIA_TYPE],
    });
    if let Some(d) = &c.description {
        v["description"] = json!(d);
    }
    if let Some(a) = &c.alias {
        v["alias"] = json!(a);
    }
    v
}

async fn collections(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let Path(root) = path.map_err(path_err)?;
    find_root(&st, &root).await?;
    let view = st.hub.view().await?;
    let policy = &view.policy;
    let list: Vec<Value> = st
        .store
        .collections(&root)
        .await?
        .iter()
        .filter(|c| p.can_read(c, policy) || p.can_write(c, policy))
        .map(|c| collection_json(c, &p, policy))
        .collect();
    let body = if list.is_empty() {
        json!({})
    } else {
        json!({ "collections": list })
    };
    Ok(json_ok(&body))
}

async fn collection(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((root, cid)) = path.map_err(path_err)?;
    let a = visible_collection(&st, &p, &root, &cid).await?;
    Ok(json_ok(&collection_json(&a.coll, &p, &a.view.policy)))
}

async fn status(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((root, id)) = path.map_err(path_err)?;
    find_root(&st, &root).await?;
    match st.store.status(&root, &id).await? {
        Some(s) if s.account == p.account.name || p.is_admin() => {
            Ok(taxii(StatusCode::OK, s.json, &[]))
        }
        _ => Err(ApiError(TaxiiError::not_found(format!(
            "no status '{id}' of yours"
        )))),
    }
}

/// The parsed filters of a paged request, with its page size and position.
struct Paging {
    filters: ObjectFilters,
    fingerprint: String,
    limit: usize,
    after: Option<Cursor>,
}

fn paging(st: &AppState, raw: Option<&str>, endpoint: Endpoint, scope: &str) -> ApiResult<Paging> {
    let filters = parse_query_with(raw, endpoint, &st.config.query_limits)
        .map_err(|e| ApiError(TaxiiError::bad_request(e.to_string())))?;
    let fingerprint = filters.fingerprint(scope);
    let after = match &filters.next {
        Some(n) => Some(
            Cursor::decode(n, &st.cursor_key, &fingerprint)
                .map_err(|e| ApiError(TaxiiError::bad_request(e.to_string())))?,
        ),
        None => None,
    };
    let limit = filters
        .limit
        .unwrap_or(st.config.default_page)
        .min(st.config.max_page)
        .max(1) as usize;
    Ok(Paging {
        filters,
        fingerprint,
        limit,
        after,
    })
}

impl Paging {
    fn query(&self, collection: i64, endpoint: Endpoint) -> ObjectQuery {
        let mut q = ObjectQuery::new(collection, self.limit);
        q.ids = self.filters.ids.clone();
        q.types = self.filters.types.clone();
        q.versions = self.filters.version_filter(endpoint);
        q.spec_versions = self.filters.spec_versions.clone();
        q.added_after = self.filters.added_after;
        q.after = self.after;
        q
    }
}

/// Records the release of a served page (see [`release_events`]).
async fn audit_release(st: &AppState, p: &Principal, path: &str, page: &Page, r: &Redactions) {
    let base = event(
        "object.release",
        &p.account.name,
        &p.account.organization.slug,
        &p.source,
    );
    st.audit
        .record_all(release_events(&base, path, page, r))
        .await;
}

/// One page as the caller receives it, through the one release path of every read endpoint
/// (objects, one object, versions, manifest): the store's predicate, then the redaction of
/// the page, refilled when the redaction withholds an object, so that `more`, `next` and the
/// X-TAXII-Date-Added headers are computed from what is served and a withheld object is
/// indistinguishable from one that does not exist. Each served object's release is audited.
struct Served {
    page: Page,
    head: String,
    headers: Vec<(HeaderName, String)>,
}

async fn released_page(
    st: &AppState,
    a: &Access,
    p: &Principal,
    pg: &Paging,
    q: ObjectQuery,
    path: &str,
) -> ApiResult<Served> {
    let relto_hub::read::Served { page, redactions } =
        st.hub.read_page(&a.view, &p.account, q).await?;
    let more = page.more;
    audit_release(st, p, path, &page, &redactions).await;
    let mut head = String::from(if more {
        "{\"more\":true"
    } else {
        "{\"more\":false"
    });
    if more {
        if let Some(last) = page.items.last() {
            let next = last.cursor().encode(&st.cursor_key, &pg.fingerprint);
            head.push_str(",\"next\":\"");
            head.push_str(&next);
            head.push('"');
        }
    }
    let mut headers = Vec::new();
    if let (Some(first), Some(last)) = (page.items.first(), page.items.last()) {
        headers.push((DATE_ADDED_FIRST, format_micros(first.date_added)));
        headers.push((DATE_ADDED_LAST, format_micros(last.date_added)));
    }
    Ok(Served {
        page,
        head,
        headers,
    })
}

/// Records a denial when `oid` exists in the collection but the reader may not see it (the
/// reader itself is answered 404, as for an object that does not exist).
async fn audit_hidden(
    st: &AppState,
    p: &Principal,
    collection: i64,
    oid: &str,
    path: &str,
) -> ApiResult<()> {
    let mut q = ObjectQuery::new(collection, 1);
    q.ids = vec![oid.to_string()];
    q.with_raw = false;
    if let Some(o) = st.store.query_objects(&q).await?.items.first() {
        let mut e = event(
            "object.release",
            &p.account.name,
            &p.account.organization.slug,
            &p.source,
        );
        e.object_id = o.stix_id.clone();
        e.object_version = format_micros(o.version);
        e.outcome = "deny".into();
        e.detail = format!("{path}; not releasable to this reader");
        st.audit.record(e).await;
    }
    Ok(())
}

/// An object's version as it was posted (`modified`, else `created`: TAXII 2.1 §3.6 versions
/// are the objects' own timestamps), else its first date_added (objects without either).
fn posted_version(o: &relto_store::StoredObject) -> String {
    #[derive(serde::Deserialize)]
    struct Stamps {
        modified: Option<String>,
        created: Option<String>,
    }
    serde_json::from_str::<Stamps>(&o.raw)
        .ok()
        .and_then(|s| s.modified.or(s.created))
        .unwrap_or_else(|| format_micros(o.version))
}

/// Writes an envelope from stored bytes without re-serialising the objects.
fn envelope(head: String, page: &Page) -> String {
    let size: usize = page.items.iter().map(|o| o.raw.len() + 1).sum();
    let mut body = head;
    body.reserve(size + 16);
    if !page.items.is_empty() {
        body.push_str(",\"objects\":[");
        for (i, o) in page.items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&o.raw);
        }
        body.push(']');
    }
    body.push('}');
    body
}

async fn get_objects(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let Path((root, cid)) = path.map_err(path_err)?;
    let a = readable_collection(&st, &p, &root, &cid).await?;
    let c = &a.coll;
    let pg = paging(
        &st,
        raw.as_deref(),
        Endpoint::Objects,
        &format!("objects|{}", c.pk),
    )?;
    let q = pg.query(c.pk, Endpoint::Objects);
    let s = released_page(&st, &a, &p, &pg, q, "objects").await?;
    Ok(taxii(StatusCode::OK, envelope(s.head, &s.page), &s.headers))
}

async fn manifest(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let Path((root, cid)) = path.map_err(path_err)?;
    let a = readable_collection(&st, &p, &root, &cid).await?;
    let c = &a.coll;
    let pg = paging(
        &st,
        raw.as_deref(),
        Endpoint::Objects,
        &format!("manifest|{}", c.pk),
    )?;
    let q = pg.query(c.pk, Endpoint::Objects);
    let Served {
        page,
        head: mut body,
        headers,
    } = released_page(&st, &a, &p, &pg, q, "manifest").await?;
    if !page.items.is_empty() {
        let records: Vec<Value> = page
            .items
            .iter()
            .map(|o| {
                json!({
                    "id": o.stix_id,
                    "date_added": format_micros(o.date_added),
                    "version": posted_version(o),
                    "media_type": STIX_MEDIA_TYPE,
                })
            })
            .collect();
        body.push_str(",\"objects\":");
        body.push_str(&Value::Array(records).to_string());
    }
    body.push('}');
    Ok(taxii(StatusCode::OK, body, &headers))
}

fn no_object(oid: &str) -> ApiError {
    ApiError(TaxiiError::not_found(format!(
        "no object '{oid}' in this collection"
    )))
}

async fn get_object(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let Path((root, cid, oid)) = path.map_err(path_err)?;
    let a = readable_collection(&st, &p, &root, &cid).await?;
    let c = &a.coll;
    let pg = paging(
        &st,
        raw.as_deref(),
        Endpoint::Object,
        &format!("object|{}|{oid}", c.pk),
    )?;
    let mut q = pg.query(c.pk, Endpoint::Object);
    q.ids = vec![oid.clone()];
    let s = released_page(&st, &a, &p, &pg, q, "object").await?;
    // No version matching the filters is "not found" (TAXII 2.1 §5.7: a deleted version
    // answers 404), unless the client is paging past the end. An object the reader may not
    // see, or whose every version the release withholds, answers exactly the same.
    if s.page.items.is_empty() && pg.after.is_none() {
        audit_hidden(&st, &p, c.pk, &oid, "object").await?;
        return Err(no_object(&oid));
    }
    Ok(taxii(StatusCode::OK, envelope(s.head, &s.page), &s.headers))
}

async fn versions(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let Path((root, cid, oid)) = path.map_err(path_err)?;
    let a = readable_collection(&st, &p, &root, &cid).await?;
    let c = &a.coll;
    let pg = paging(
        &st,
        raw.as_deref(),
        Endpoint::Versions,
        &format!("versions|{}|{oid}", c.pk),
    )?;
    let mut q = pg.query(c.pk, Endpoint::Versions);
    q.ids = vec![oid.clone()];
    let Served {
        page,
        head: mut body,
        headers,
    } = released_page(&st, &a, &p, &pg, q, "versions").await?;
    // No version matching the filters is "not found" (TAXII 2.1 §5.7: a deleted version
    // answers 404), unless the client is paging past the end.
    if page.items.is_empty() && pg.after.is_none() {
        audit_hidden(&st, &p, c.pk, &oid, "versions").await?;
        return Err(no_object(&oid));
    }
    if !page.items.is_empty() {
        let list: Vec<String> = page.items.iter().map(posted_version).collect();
        body.push_str(",\"versions\":");
        body.push_str(&json!(list).to_string());
    }
    body.push('}');
    Ok(taxii(StatusCode::OK, body, &headers))
}

/// GET …/objects/{id}/release-preview/: for releasing officers (and the originator), what
/// every organization and community of the realm would receive of the object.
async fn release_preview(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((root, cid, oid)) = path.map_err(path_err)?;
    let a = readable_collection(&st, &p, &root, &cid).await?;
    let mut q = ObjectQuery::new(a.coll.pk, 1);
    q.ids = vec![oid.clone()];
    q.with_raw = false;
    q.reader = Some(a.filter(&st, &p));
    if st.store.query_objects(&q).await?.items.is_empty() {
        return Err(no_object(&oid));
    }
    let (originator, body) =
        relto_hub::release::preview_object(st.store.as_ref(), &a.view, a.coll.pk, &oid)
            .await?
            .ok_or_else(|| no_object(&oid))?;
    // What every organization receives is the originator's releasing officers' business
    // (and the administrators'), not that of another organization's officers.
    let allowed = p.is_admin()
        || (p.account.has_role("releaser") && p.account.organization.slug == originator);
    let mut e = event(
        "release.preview",
        &p.account.name,
        &p.account.organization.slug,
        &p.source,
    );
    e.object_id = oid.clone();
    e.outcome = if allowed { "ok" } else { "refused" }.into();
    e.detail = format!("collection {}", a.coll.id);
    st.audit.record(e).await;
    if !allowed {
        return Err(ApiError(TaxiiError::forbidden(
            "release previews are for the originating organization's releasing officers and administrators",
        )));
    }
    let mut resp = (StatusCode::OK, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

async fn delete_object(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let Path((root, cid, oid)) = path.map_err(path_err)?;
    let a = writable_collection(&st, &p, &root, &cid).await?;
    let c = &a.coll;
    let filters = parse_query_with(
        raw.as_deref(),
        Endpoint::DeleteObject,
        &st.config.query_limits,
    )
    .map_err(|e| ApiError(TaxiiError::bad_request(e.to_string())))?;
    // What the caller cannot see does not exist for it; what it did not create it may not
    // delete (admins excepted).
    let mut q = ObjectQuery::new(c.pk, st.config.max_page as usize);
    q.ids = vec![oid.clone()];
    q.versions = relto_taxii::VersionFilter::all();
    q.with_raw = false;
    q.reader = Some(a.filter(&st, &p));
    let seen = st.store.query_objects(&q).await?;
    if seen.items.is_empty() {
        return Err(no_object(&oid));
    }
    if !p.is_admin()
        && seen
            .items
            .iter()
            .any(|o| o.originator != p.account.organization.slug)
    {
        return Err(ApiError(TaxiiError::forbidden(
            "only the organization that created this object may delete it",
        )));
    }
    let n = st
        .store
        .delete_object(
            c.pk,
            &oid,
            &filters.version_filter(Endpoint::DeleteObject),
            &filters.spec_versions,
        )
        .await?;
    if n == 0 {
        return Err(no_object(&oid));
    }
    let mut e = event(
        "object.delete",
        &p.account.name,
        &p.account.organization.slug,
        &p.source,
    );
    e.object_id = oid.clone();
    e.outcome = "ok".into();
    e.detail = format!("{n} version(s)");
    st.audit.record(e).await;
    Ok(taxii(StatusCode::OK, String::new(), &[]))
}

/// Most bytes read and thrown away after a body went over its limit, and for how long, so that
/// the client can read the 413 instead of a reset connection (a lingering close).
const DRAIN_MAX: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads a request body of at most `limit` bytes; more is a 413.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    timeout: std::time::Duration,
) -> ApiResult<Vec<u8>> {
    tokio::time::timeout(timeout, read_body_within(headers, body, limit))
        .await
        .map_err(|_| {
            ApiError(TaxiiError::new(
                408,
                "Request Timeout",
                format!(
                    "the request body did not arrive within {} s",
                    timeout.as_secs()
                ),
            ))
        })?
}

async fn read_body_within(headers: &HeaderMap, mut body: Body, limit: u64) -> ApiResult<Vec<u8>> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut buf: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    let mut seen: u64 = 0;
    let mut over = declared.is_some_and(|n| n > limit);
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        let next = if over {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Ok(f) => f,
                Err(_) => break,
            }
        } else {
            body.frame().await
        };
        let Some(frame) = next else { break };
        let frame = frame.map_err(|_| {
            ApiError(TaxiiError::bad_request(
                "the request body could not be read",
            ))
        })?;
        if let Ok(data) = frame.into_data() {
            seen += data.len() as u64;
            if seen > limit {
                over = true;
            }
            if over {
                if seen > limit.saturating_add(DRAIN_MAX) {
                    break;
                }
            } else {
                buf.extend_from_slice(&data);
            }
        }
    }
    if over {
        return Err(ApiError(TaxiiError::payload_too_large(limit)));
    }
    Ok(buf)
}

async fn add_objects(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let Path((root, cid)) = path.map_err(path_err)?;
    let a = writable_collection(&st, &p, &root, &cid).await?;
    let c = &a.coll;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !is_taxii_content_type(ct) {
        return Err(ApiError(TaxiiError::unsupported_media_type()));
    }
    let bytes = read_body(
        &headers,
        body,
        a.api_root.max_content_length,
        st.config.body_timeout,
    )
    .await?;
    let now = now_us();
    let raws = relto_stix::parse_envelope_with_depth(&bytes, st.config.max_json_depth)
        .map_err(|e| ApiError(TaxiiError::bad_request(e.to_string())))?;
    if raws.len() > st.config.max_objects_per_envelope {
        return Err(ApiError(TaxiiError::new(
            413,
            "Too many objects",
            format!(
                "the envelope holds {} objects; at most {} per request",
                raws.len(),
                st.config.max_objects_per_envelope
            ),
        )));
    }
    let raw_refs: Vec<&serde_json::value::RawValue> = raws.iter().map(|r| &**r).collect();
    let written = st
        .hub
        .ingest(
            &a.view,
            Poster::Account(&p.account),
            c.pk,
            &raw_refs,
            usize::MAX,
            |_| {},
        )
        .await?;
    let base = event(
        "object.write",
        &p.account.name,
        &p.account.organization.slug,
        &p.source,
    );
    st.audit
        .record_all(relto_hub::ingest::write_events(&base, &written))
        .await;
    // The status resource (TAXII 2.1 §4.3.1): each object's id and version, and why not.
    let (mut successes, mut failures) = (Vec::new(), Vec::new());
    for w in written {
        let mut entry = json!({ "id": w.id.unwrap_or_default() });
        if let Some(v) = w.version {
            entry["version"] = json!(v);
        }
        match w.outcome {
            Outcome::Added => successes.push(entry),
            Outcome::Duplicate => {
                entry["message"] = json!(DUPLICATE);
                successes.push(entry);
            }
            Outcome::Rejected(why) => {
                entry["message"] = json!(why);
                failures.push(entry);
            }
        }
    }
    let status_id = uuid::Uuid::new_v4().to_string();
    let mut status = json!({
        "id": status_id,
        "status": "complete",
        "request_timestamp": format_micros(now),
        "total_count": raws.len(),
        "success_count": successes.len(),
        "failure_count": failures.len(),
        "pending_count": 0,
    });
    if !successes.is_empty() {
        status["successes"] = Value::Array(successes);
    }
    if !failures.is_empty() {
        status["failures"] = Value::Array(failures);
    }
    let json = status.to_string();
    st.store
        .put_status(&StatusRow {
            id: status_id,
            api_root: root,
            account: p.account.name.clone(),
            created_us: now,
            json: json.clone(),
        })
        .await?;
    Ok(taxii(StatusCode::ACCEPTED, json, &[]))
}

#[derive(serde::Deserialize)]
struct AuthRequest {
    username: String,
    password: String,
}

/// POST /management/auth: exchanges a user name and password for a bearer token valid 24
/// hours (the shape OpenTAXII clients use).
async fn management_auth(State(st): State<AppState>, req: Request) -> ApiResult<Response> {
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
            st.auth.note_failure(&keys);
            let mut ev = event("auth.failure", &body.username, "", &source);
            ev.outcome = "failure".into();
            ev.detail = "POST /management/auth: wrong user name or password".into();
            st.audit.record(ev).await;
            return Err(e);
        }
    };
    let token = new_token().map_err(|_| ApiError(TaxiiError::internal()))?;
    let now = now_us();
    st.store
        .add_token(&NewToken {
            account: account.name.clone(),
            sha256: token_sha256(&token),
            label: "session".into(),
            created_us: now,
            expires_us: Some(now + SESSION_TOKEN_US),
        })
        .await?;
    let mut ev = event(
        "token.create",
        &account.name,
        &account.organization.slug,
        &source,
    );
    ev.outcome = "ok".into();
    ev.detail = "session token, 24 hours".into();
    st.audit.record(ev).await;
    let mut resp = (StatusCode::OK, json!({ "token": token }).to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
