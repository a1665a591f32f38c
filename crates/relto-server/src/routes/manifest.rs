//! The manifest (§5.3): the same released page as GET objects, as records.

use super::*;

pub(super) async fn manifest(
    State(st): State<AppState>,
    request: ReadRequest,
) -> ApiResult<Response> {
    let Served {
        page,
        head: mut body,
        headers,
    } = request.read(&st, Endpoint::Objects, "manifest").await?;
    if !page.items.is_empty() {
        let records: Vec<ManifestRecord> = page
            .items
            .iter()
            .map(|o| {
                ManifestRecord::new(
                    o.stix_id.clone(),
                    format_micros(o.date_added),
                    posted_version(o),
                )
            })
            .collect();
        let records =
            serde_json::to_string(&records).map_err(|_| ApiError(TaxiiError::internal()))?;
        body.push_str(",\"objects\":");
        body.push_str(&records);
    }
    body.push('}');
    Ok(taxii(StatusCode::OK, body, &headers))
}
