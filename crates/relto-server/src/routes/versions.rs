//! The versions of one object (§5.9), through the same released page.

use super::*;

pub(super) async fn versions(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let Path((root, cid, oid)) = path.map_err(path_err)?;
    let what = ReadOf {
        endpoint: Endpoint::Versions,
        name: "versions",
        oid: Some(&oid),
    };
    let Served {
        page,
        head: mut body,
        headers,
    } = read(&st, &p, &root, &cid, raw.as_deref(), what).await?;
    if !page.items.is_empty() {
        let list: Vec<String> = page.items.iter().map(posted_version).collect();
        body.push_str(",\"versions\":");
        body.push_str(&json!(list).to_string());
    }
    body.push('}');
    Ok(taxii(StatusCode::OK, body, &headers))
}
