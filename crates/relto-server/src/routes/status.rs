//! Status resources (§4.3): only the account whose request it reports on (and admins).

use super::*;

pub(super) async fn status(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((root, id)) = path.map_err(path_err)?;
    find_root(&st, &root).await?;
    match st.store.status(&root, &id).await? {
        Some(s) if s.account == p.account.name || p.is_admin() => {
            Ok(taxii(StatusCode::OK, s.json, &[]))
        }
        _ => Err(ApiError(TaxiiError::not_found(format!(
            "no status '{id}' of yours"
        )))),
    }
}
