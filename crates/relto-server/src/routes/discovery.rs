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
    let mut body = json!({ "title": st.config.title, "api_roots": urls });
    if let Some(d) = &st.config.description {
        body["description"] = json!(d);
    }
    if let Some(c) = &st.config.contact {
        body["contact"] = json!(c);
    }
    if urls.len() == 1 {
        body["default"] = json!(urls[0]);
    }
    if urls.is_empty() {
        if let Some(map) = body.as_object_mut() {
            map.remove("api_roots");
        }
    }
    Ok(json_ok(&body))
}

pub(super) async fn api_root(
    State(st): State<AppState>,
    Caller(_): Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let Path(root) = path.map_err(path_err)?;
    let r = find_root(&st, &root).await?;
    let mut body = json!({
        "title": r.title,
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": r.max_content_length,
    });
    if let Some(d) = &r.description {
        body["description"] = json!(d);
    }
    Ok(json_ok(&body))
}
