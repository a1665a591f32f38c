//! Collections (§5.1, §5.2): those the caller may read or write.

use super::*;

fn collection_info(c: &Collection, p: &Principal, policy: &ReleasePolicy) -> CollectionInfo {
    CollectionInfo::new(
        c.id.clone(),
        c.title.clone(),
        c.description.clone(),
        c.alias.clone(),
        p.can_read(c, policy),
        p.can_write(c, policy),
    )
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
    let collections: Vec<CollectionInfo> = st
        .store
        .collections(&root)
        .await?
        .iter()
        .filter(|c| p.can_read(c, policy) || p.can_write(c, policy))
        .map(|c| collection_info(c, &p, policy))
        .collect();
    Ok(json_ok(&Collections { collections }))
}

pub(super) async fn collection(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((root, cid)) = path.map_err(path_err)?;
    let a = visible_collection(&st, &p, &root, &cid).await?;
    Ok(json_ok(&collection_info(&a.coll, &p, &a.view.policy)))
}
