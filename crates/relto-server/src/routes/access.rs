//! Which collection a caller may use, with the release rules in force for its request.

use super::*;

pub(super) async fn find_root(st: &AppState, root: &str) -> ApiResult<ApiRoot> {
    st.store
        .api_root(root)
        .await?
        .ok_or_else(|| ApiError(TaxiiError::not_found(format!("no API root '{root}'"))))
}

pub(super) fn no_collection(cid: &str) -> ApiError {
    ApiError(TaxiiError::not_found(format!(
        "no collection '{cid}' that you may access"
    )))
}

/// A collection the caller may use, with the release rules in force for this request.
pub(super) struct Access {
    pub(super) api_root: ApiRoot,
    pub(super) coll: Collection,
    pub(super) view: Arc<ReleaseView>,
}

impl Access {
    /// The caller's store-side filter: what the release decision lets it see.
    pub(super) fn filter(&self, st: &AppState, p: &Principal) -> ReaderFilter {
        (*st.hub.release.filter(&self.view, &p.account)).clone()
    }
}

/// The collection, if the caller may see it at all (read or write); else 404, the same
/// answer as for a collection that does not exist.
pub(super) async fn visible_collection(
    st: &AppState,
    p: &Principal,
    root: &str,
    cid: &str,
) -> ApiResult<Access> {
    let (api_root, coll) = match st.store.collection(root, cid).await? {
        Some(found) => found,
        // Say which of the two is missing.
        None => {
            find_root(st, root).await?;
            return Err(no_collection(cid));
        }
    };
    let view = st.hub.view().await?;
    if p.can_read(&coll, &view.policy) || p.can_write(&coll, &view.policy) {
        Ok(Access {
            api_root,
            coll,
            view,
        })
    } else {
        Err(no_collection(cid))
    }
}

/// What a caller does with a collection it sees.
#[derive(Clone, Copy)]
pub(super) enum Use {
    Read,
    Write,
}

/// The collection if the caller may use it so: 404 when it does not see it at all, 403 when
/// it may only do the other thing.
pub(super) async fn collection_for(
    st: &AppState,
    p: &Principal,
    root: &str,
    cid: &str,
    to: Use,
) -> ApiResult<Access> {
    let a = visible_collection(st, p, root, cid).await?;
    let (allowed, refusal) = match to {
        Use::Read => (
            p.can_read(&a.coll, &a.view.policy),
            "you may add objects to this collection but not read it",
        ),
        Use::Write => (
            p.can_write(&a.coll, &a.view.policy),
            "you may read this collection but not write to it",
        ),
    };
    if !allowed {
        return Err(ApiError(TaxiiError::forbidden(refusal)));
    }
    Ok(a)
}

/// The collection with this id, whichever API root holds it (the `/api/v1/` resources name
/// collections by id alone).
pub(super) async fn collection_by_id(
    st: &AppState,
    cid: &str,
) -> ApiResult<Option<(ApiRoot, Collection)>> {
    Ok(st.hub.collection_by_id(cid).await?)
}
