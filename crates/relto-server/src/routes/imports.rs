//! POST /api/v1/import/misp?collection=ID (issue 17): a MISP event export, converted as
//! MISP's own misp-stix maps it (`Hub::convert_misp`), then taken in like a TAXII POST by the
//! caller (write rules: a partner's feed posts as its relay account); the answer is the
//! TAXII status of the objects, and what was not converted.

use super::objects::ingest_envelope;
use super::*;

#[derive(serde::Deserialize)]
pub(super) struct ImportQuery {
    collection: String,
}

pub(super) async fn import_misp(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    query: Result<axum::extract::Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let axum::extract::Query(query) = query.map_err(|_| {
        ApiError(TaxiiError::bad_request(
            "name the collection to import into: ?collection=ID",
        ))
    })?;
    let cid = query.collection.trim();
    let Some((root, _)) = collection_by_id(&st, cid).await? else {
        return Err(no_collection(cid));
    };
    let a = collection_for(&st, &p, &root.path, cid, Use::Write).await?;
    let bytes = read_body(
        &headers,
        body,
        a.api_root.max_content_length,
        st.config.body_timeout,
    )
    .await?;
    let hub_nation = hub_nation(&st).await?;
    let converted = st
        .hub
        .convert_misp(&a.view, &bytes, &hub_nation)
        .await?
        .map_err(|why| ApiError(TaxiiError::new(422, "Cannot convert", why)))?;
    let raws = relto_stix::parse_envelope_with_depth(
        converted.envelope.as_bytes(),
        st.config.max_json_depth,
    )
    .map_err(|e| ApiError(TaxiiError::new(422, "Cannot convert", e.to_string())))?;
    let status = ingest_envelope(&st, &p, &a, Poster::Account(&p.account), &raws, now_us()).await?;
    let status: serde_json::Value =
        serde_json::from_str(&status).map_err(|_| ApiError(TaxiiError::internal()))?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        serde_json::json!({"status": status, "notes": converted.notes}),
    ))
}

/// The hub's nation (its own organization's): always among a converted label's reach.
pub(super) async fn hub_nation(st: &AppState) -> relto_store::StoreResult<String> {
    Ok(st
        .store
        .organization(relto_policy::nation::OrgSlug::hub().as_str())
        .await?
        .map(|o| o.nation.as_str().to_string())
        .unwrap_or_default())
}
