//! The release preview of one object, for the originator's releasing officers.

use super::*;
use relto_store::audit::{AuditKind, AuditOutcome};

/// GET …/objects/{id}/release-preview/: for releasing officers (and the originator), what
/// every organization and community of the realm would receive of the object.
pub(super) async fn release_preview(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((root, cid, oid)) = path.map_err(path_err)?;
    let a = collection_for(&st, &p, &root, &cid, Use::Read).await?;
    let mut q = ObjectQuery::new(a.coll.pk, 1);
    q.ids = vec![oid.clone()];
    q.with_raw = false;
    q.reader = Some(a.filter(&st, &p));
    if st.store.query_objects(&q).await?.items.is_empty() {
        return Err(no_object(&oid));
    }
    let (originator, body) =
        relto_hub::release::preview_object(st.store.as_ref(), &a.view, a.coll.pk, &oid)
            .await?
            .ok_or_else(|| no_object(&oid))?;
    // What every organization receives is the originator's releasing officers' business
    // (and the administrators'), not that of another organization's officers.
    let allowed = p.is_admin()
        || (p.account.has_role(relto_policy::Role::Releaser)
            && p.account.organization.slug == originator);
    st.audit
        .record(preview_event(
            &p,
            &oid,
            allowed,
            format!("collection {}", a.coll.id),
        ))
        .await;
    if !allowed {
        return Err(ApiError(TaxiiError::forbidden(
            "release previews are for the originating organization's releasing officers and administrators",
        )));
    }
    Ok(json_response(StatusCode::OK, body))
}

/// The audit record of a release preview of `oid` (API or console), allowed or refused.
pub(super) fn preview_event(
    p: &Principal,
    oid: &str,
    allowed: bool,
    detail: String,
) -> relto_store::audit::AuditEvent {
    let mut e = event(
        AuditKind::ReleasePreview,
        &p.account.name,
        p.account.organization.slug.as_str(),
        &p.source,
    );
    e.object_id = oid.to_string();
    e.outcome = if allowed {
        AuditOutcome::Ok
    } else {
        AuditOutcome::Refused
    }
    .into();
    e.detail = detail;
    e
}
