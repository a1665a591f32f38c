//! Collections (§5.1, §5.2): those the caller may read or write.

use super::*;

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

pub(super) async fn collections(
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

pub(super) async fn collection(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((root, cid)) = path.map_err(path_err)?;
    let a = visible_collection(&st, &p, &root, &cid).await?;
    Ok(json_ok(&collection_json(&a.coll, &p, &a.view.policy)))
}
