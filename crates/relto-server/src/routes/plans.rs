//! The release-plan API of DESIGN §9 under `/api/v1/`: propose a situation, read it, preview a
//! stage, approve it under the two-person rule, withdraw it. JSON in and out; the work is the
//! hub's (`relto_hub::plans`).

use super::*;
use relto_hub::plans::PlanError;
use relto_policy::plan::PlanRequest;
use relto_store::Situation;

/// Largest plan body: the most holdings a plan may name, with room to spare.
const PLAN_BODY_LIMIT: u64 = 4 * 1024 * 1024;

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Invalid(m) => ApiError(TaxiiError::bad_request(m)),
            PlanError::Forbidden(m) => ApiError(TaxiiError::forbidden(m)),
            PlanError::NotFound(m) => ApiError(TaxiiError::not_found(m)),
            PlanError::Conflict(m) => ApiError(TaxiiError::new(409, "Conflict", m)),
            PlanError::Store(e) => e.into(),
        }
    }
}

/// A situation as the API shows it.
async fn situation_json(st: &AppState, s: &Situation) -> ApiResult<serde_json::Value> {
    Ok(st.hub.situation_json(s).await?)
}

/// Whether `p` may look at situation `s`: its organization's, or any for an administrator.
pub(super) fn may_see_situation(p: &Principal, s: &Situation) -> bool {
    p.is_admin() || p.account.organization.slug == s.originator
}

/// A situation the caller may look at ([`may_see_situation`]); else 404, as for one that
/// does not exist.
pub(super) async fn visible_situation(
    st: &AppState,
    p: &Principal,
    id: &str,
) -> ApiResult<Situation> {
    let s = st.hub.situation(id).await?;
    if may_see_situation(p, &s) {
        Ok(s)
    } else {
        Err(ApiError(TaxiiError::not_found(format!(
            "no situation {id}"
        ))))
    }
}

/// POST /api/v1/situations: proposes a situation; 201 with it.
pub(super) async fn create_situation(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let bytes = read_body(&headers, body, PLAN_BODY_LIMIT, st.config.body_timeout).await?;
    let request: PlanRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError(TaxiiError::bad_request(format!("plan: {e}"))))?;
    let Some((api_root, coll)) = collection_by_id(&st, request.collection.trim()).await? else {
        return Err(no_collection(&request.collection));
    };
    let a = collection_for(&st, &p, &api_root.path, &coll.id, Use::Write).await?;
    let situation = st
        .hub
        .propose_plan(&p.account, a.coll.pk, &a.coll.id, request, &p.source)
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        situation_json(&st, &situation).await?,
    ))
}

/// GET /api/v1/situations/{id}
pub(super) async fn get_situation(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let Path(id) = path.map_err(path_err)?;
    let s = visible_situation(&st, &p, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        situation_json(&st, &s).await?,
    ))
}

/// GET /api/v1/situations/{id}/stages/{n}/preview: for the originator's releasing officers
/// and administrators.
pub(super) async fn preview_stage(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    path: Result<Path<(String, u32)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((id, n)) = path.map_err(path_err)?;
    let s = visible_situation(&st, &p, &id).await?;
    if !p.is_admin() && !p.account.has_role(relto_policy::Role::Releaser) {
        return Err(ApiError(TaxiiError::forbidden(
            "stage previews are for the originating organization's releasing officers and administrators",
        )));
    }
    let preview = st.hub.preview_stage(&s, n).await?;
    Ok(json_response(StatusCode::OK, preview.to_json()))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    snapshot: String,
}

/// POST /api/v1/situations/{id}/stages/{n}/approve `{"snapshot"}`
pub(super) async fn approve_stage(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    path: Result<Path<(String, u32)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let Path((id, n)) = path.map_err(path_err)?;
    let bytes = read_body(&headers, body, 4096, st.config.body_timeout).await?;
    let body: ApproveBody = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError(TaxiiError::bad_request(format!(
            "give {{\"snapshot\": \"…\"}} as the preview showed it: {e}"
        )))
    })?;
    visible_situation(&st, &p, &id).await.map_err(|_| {
        ApiError(TaxiiError::forbidden(
            "only releasing officers of the originating organization approve its stages",
        ))
    })?;
    let s = st
        .hub
        .approve_stage(&p.account, &id, n, &body.snapshot, &p.source)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        situation_json(&st, &s).await?,
    ))
}

/// POST /api/v1/situations/{id}/stages/{n}/withdraw
pub(super) async fn withdraw_stage(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    path: Result<Path<(String, u32)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((id, n)) = path.map_err(path_err)?;
    visible_situation(&st, &p, &id).await.map_err(|_| {
        ApiError(TaxiiError::forbidden(
            "only releasing officers of the originating organization withdraw its stages",
        ))
    })?;
    let s = st.hub.withdraw_stage(&p.account, &id, n, &p.source).await?;
    Ok(json_response(
        StatusCode::OK,
        situation_json(&st, &s).await?,
    ))
}
