//! Discovery (TAXII 2.1 §4.1) and API roots (§4.2).

use super::*;

pub(super) async fn discovery(
    State(st): State<AppState>,
    Caller(_): Caller,
    req: Request,
) -> ApiResult<Response> {
    let base = base_url(req.headers(), req.extensions().get::<ConnInfo>());
    let roots = st.store.api_roots().await?;
    let urls: Vec<String> = roots
        .iter()
        .map(|r| format!("{base}/{}/", r.path))
        .collect();
    let body = Discovery::new(
        st.config.title.clone(),
        st.config.description.clone(),
        st.config.contact.clone(),
        urls,
    );
    Ok(json_ok(&body))
}

pub(super) async fn api_root(
    State(st): State<AppState>,
    Caller(_): Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let Path(root) = path.map_err(path_err)?;
    let r = find_root(&st, &root).await?;
    let body = ApiRootInfo::new(r.title, r.description, r.max_content_length);
    Ok(json_ok(&body))
}
