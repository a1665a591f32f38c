//! The versions of one object (§5.9), through the same released page.

use super::*;

pub(super) async fn versions(
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
