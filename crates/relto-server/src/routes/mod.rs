//! The TAXII 2.1 endpoints (spec §4 and §5) and relto's token endpoint: the router, the
//! caller extractor and what the handlers share; the handlers by feature in the modules
//! below. Handlers stay thin: they parse the request, call the hub, shape the response.

mod access;
mod body;
mod caller;
mod collections;
mod console;
mod discovery;
mod drafts;
mod imports;
mod management;
mod manifest;
mod objects;
mod ops;
mod paging;
mod plans;
mod preview;
mod signed;
mod status;
mod stream;
mod versions;
mod withdrawals;
mod witness;

use access::*;
use body::*;
pub use caller::Caller;
use caller::*;
use collections::{collection, collections};
use discovery::{api_root, discovery};
use management::{issue_session_token, management_auth};
use manifest::manifest;
use objects::{add_objects, delete_object, get_object, get_objects};
pub use ops::metrics_router;
use ops::{healthz, readyz, track};
use paging::*;
use plans::{
    approve_stage, create_situation, get_situation, may_see_situation, preview_stage,
    visible_situation, withdraw_stage,
};
use preview::release_preview;
use signed::{hop_path, require_signature};
use status::status;
use stream::stream;
pub use stream::{StreamReads, STREAM_POLL};
use versions::versions;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::OriginalUri;
use axum::extract::{FromRequestParts, Path, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
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
use relto_taxii::resources::{
    ApiRootInfo, CollectionInfo, Collections, Discovery, ManifestRecord, Status, StatusDetails,
};
use relto_taxii::{Cursor, ObjectFilters, TaxiiError, TAXII_MEDIA_TYPE};
use serde_json::json;

use crate::audit::{event, release_events};
use crate::auth::{claimed_user, new_token, now_us, token_sha256, ConnInfo, Principal};
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use relto_hub::ingest::{Outcome, Poster, DUPLICATE};
use relto_hub::release::{Redactions, ReleaseView};

const DATE_ADDED_FIRST: HeaderName = HeaderName::from_static("x-taxii-date-added-first");
const DATE_ADDED_LAST: HeaderName = HeaderName::from_static("x-taxii-date-added-last");
const HOPS_HEADER: HeaderName = HeaderName::from_static(relto_taxii::hops::HOPS_HEADER);
/// Lifetime of tokens issued by POST /management/auth.
const SESSION_TOKEN_US: i64 = 24 * 3600 * 1_000_000;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
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
        .route("/api/v1/collections/{cid}/stream", get(stream))
        .route("/api/v1/situations", post(create_situation))
        .route("/api/v1/situations/{id}", get(get_situation))
        .route(
            "/api/v1/situations/{id}/stages/{n}/preview",
            get(preview_stage),
        )
        .route(
            "/api/v1/situations/{id}/stages/{n}/approve",
            post(approve_stage),
        )
        .route(
            "/api/v1/situations/{id}/stages/{n}/withdraw",
            post(withdraw_stage),
        )
        .route("/api/v1/drafts", post(drafts::create_draft))
        .route("/api/v1/import/misp", post(imports::import_misp))
        .route("/api/v1/witness", post(witness::witness))
        .route("/api/v1/withdrawals", post(withdrawals::withdrawals))
        .merge(console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// A JSON answer of relto's own API (not a TAXII resource).
fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
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
    let console = req.uri().path().starts_with("/ui/");
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
        HeaderValue::from_static(if console {
            console::CONSOLE_CSP
        } else {
            "default-src 'none'; frame-ancestors 'none'"
        }),
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

fn json_ok(value: &impl serde::Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => taxii(StatusCode::OK, body, &[]),
        Err(_) => ApiError(TaxiiError::internal()).into_response(),
    }
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
