//! The versions of one object (§5.9), through the same released page.

use super::*;

pub(super) async fn versions(
    State(st): State<AppState>,
    request: ReadRequest,
) -> ApiResult<Response> {
    let Served {
        page,
        head: mut body,
        headers,
    } = request.read(&st, Endpoint::Versions, "versions").await?;
    if !page.items.is_empty() {
        let list: Vec<String> = page.items.iter().map(posted_version).collect();
        body.push_str(",\"versions\":");
        body.push_str(&json!(list).to_string());
    }
    body.push('}');
    Ok(taxii(StatusCode::OK, body, &headers))
}
