//! POST /api/v1/withdrawals (DESIGN §11): a peer hub withdraws versions it pushed here (a
//! stage withdrawn or expired, an object deleted, a copy replaced), many objects in one
//! request; this hub stops holding and serving them onward. The same rule as a TAXII DELETE
//! of each: only the organization that created a version may withdraw it, and a peer hub's
//! request must be signed by its key.

use super::objects::delete_versions;
use super::*;
use relto_taxii::withdrawal::{WithdrawalResult, Withdrawals};
use relto_taxii::VersionFilter;

/// 500 objects with their versions' timestamps, with room to spare.
const WITHDRAWALS_BODY_LIMIT: u64 = 4 << 20;

pub(super) async fn withdrawals(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let bytes = read_body(
        &headers,
        body,
        WITHDRAWALS_BODY_LIMIT,
        st.config.body_timeout,
    )
    .await?;
    require_signature(&st, &p, &Method::POST, &uri, &headers, &bytes).await?;
    let (cid, objects) =
        Withdrawals::parse(&bytes).map_err(|why| ApiError(TaxiiError::bad_request(why)))?;
    let Some((root, _)) = collection_by_id(&st, &cid).await? else {
        return Err(ApiError(TaxiiError::not_found(format!(
            "no collection {cid} here"
        ))));
    };
    let a = collection_for(&st, &p, &root.path, &cid, Use::Write).await?;
    let mut result = WithdrawalResult::default();
    for w in objects {
        let versions = match w.versions {
            Some(exact) => VersionFilter {
                exact,
                ..VersionFilter::default()
            },
            None => VersionFilter::all(),
        };
        let why = format!("; withdrawn by peer hub {}", p.account.name);
        match delete_versions(&st, &p, &a, w.id.as_str(), &versions, &[], &why).await? {
            0 => result.absent += 1,
            n => result.withdrawn += n as u64,
        }
    }
    if result.withdrawn > 0 {
        st.hub.changes.announce();
    }
    Ok(json_response(StatusCode::OK, serde_json::json!(result)))
}
