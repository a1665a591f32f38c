//! POST /api/v1/drafts (issue 17): a text report to a draft STIX bundle, for an analyst to
//! check and post. `?collection=ID` recognises the threat actors and intrusion sets of that
//! collection the caller may read; `?label=ID` labels the draft other than with the realm's
//! default label. Nothing is stored.

use super::*;
use relto_hub::draft::{DraftFailure, DraftRequest};

#[derive(serde::Deserialize)]
pub(super) struct DraftQuery {
    collection: Option<String>,
    label: Option<String>,
}

pub(super) async fn create_draft(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    query: Result<axum::extract::Query<DraftQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let axum::extract::Query(query) =
        query.map_err(|e| ApiError(TaxiiError::bad_request(format!("query: {e}"))))?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain");
    if !ct
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("text/plain")
    {
        return Err(ApiError(TaxiiError::new(
            415,
            "Unsupported Media Type",
            "send the report as text/plain (UTF-8)",
        )));
    }
    let bytes = read_body(
        &headers,
        body,
        relto_draft::MAX_TEXT as u64,
        st.config.body_timeout,
    )
    .await?;
    let (view, collection) = match &query.collection {
        Some(cid) => {
            let Some((root, _)) = collection_by_id(&st, cid.trim()).await? else {
                return Err(no_collection(cid));
            };
            let a = collection_for(&st, &p, &root.path, cid.trim(), Use::Read).await?;
            (a.view, Some(a.coll.pk))
        }
        None => (st.hub.view().await?, None),
    };
    let request = DraftRequest {
        text: &bytes,
        collection,
        reader: Some(&p.account),
        label: query.label.as_deref(),
        now: format_micros(now_us() / 1000 * 1000),
    };
    let draft = st.hub.draft(&view, request).await.map_err(|e| match e {
        DraftFailure::Store(e) => ApiError::from(e),
        other => ApiError(TaxiiError::new(422, "Cannot draft", other.to_string())),
    })?;
    let extractions: Vec<serde_json::Value> = draft
        .extractions
        .iter()
        .map(|e| serde_json::json!({"key": e.key, "id": e.id, "spans": e.spans}))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        serde_json::json!({
            "bundle": draft.bundle,
            "extractions": extractions,
            "relationships": draft.relationships,
            "published": draft.published,
        }),
    ))
}
