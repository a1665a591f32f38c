//! POST /api/v1/witness (DESIGN §11): two hubs exchange their audit chain heads. The caller
//! (a peer hub, with its account here) sends its head as a checkpoint; it is kept as a
//! `peer.witness` record of this hub's chain, and this hub's own head is the answer.

use super::*;
use relto_store::audit::Checkpoint;

/// A checkpoint is a few dozen bytes.
const WITNESS_BODY_LIMIT: u64 = 1024;

pub(super) async fn witness(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let bytes = read_body(&headers, body, WITNESS_BODY_LIMIT, st.config.body_timeout).await?;
    require_signature(&st, &p, &Method::POST, &uri, &headers, &bytes).await?;
    let theirs: Checkpoint = serde_json::from_slice(&bytes)
        .ok()
        .filter(Checkpoint::is_well_formed)
        .ok_or_else(|| {
            ApiError(TaxiiError::bad_request(
                "the body must be your audit chain's head: {\"seq\": N, \"hash\": \"64 hex digits\"} (relto audit checkpoint)",
            ))
        })?;
    let ours = st.store.audit_head().await?;
    st.audit
        .record(relto_hub::federation::witness_event(
            &p.account.name,
            p.account.organization.slug.as_str(),
            &p.source,
            &theirs,
        ))
        .await;
    Ok(json_response(StatusCode::OK, serde_json::json!(ours)))
}
