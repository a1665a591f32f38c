//! Objects (§5.3-§5.8): a page, one object, posting an envelope, deleting an object.

use super::*;
use relto_store::audit::{AuditKind, AuditOutcome};

pub(super) async fn get_objects(
    State(st): State<AppState>,
    request: ReadRequest,
) -> ApiResult<Response> {
    let s = request.read(&st, Endpoint::Objects, "objects").await?;
    Ok(taxii(StatusCode::OK, envelope(s.head, &s.page), &s.headers))
}

pub(super) async fn get_object(
    State(st): State<AppState>,
    request: ReadRequest,
) -> ApiResult<Response> {
    let s = request.read(&st, Endpoint::Object, "object").await?;
    Ok(taxii(StatusCode::OK, envelope(s.head, &s.page), &s.headers))
}

pub(super) async fn delete_object(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Path((root, cid, oid)) = path.map_err(path_err)?;
    require_signature(&st, &p, &Method::DELETE, &uri, &headers, b"").await?;
    let a = collection_for(&st, &p, &root, &cid, Use::Write).await?;
    let filters = parse_query_with(
        raw.as_deref(),
        Endpoint::DeleteObject,
        &st.config.query_limits,
    )
    .map_err(|e| ApiError(TaxiiError::bad_request(e.to_string())))?;
    let versions = filters.version_filter(Endpoint::DeleteObject);
    let n = delete_versions(&st, &p, &a, &oid, &versions, &filters.spec_versions, "").await?;
    if n == 0 {
        return Err(no_object(&oid));
    }
    Ok(taxii(StatusCode::OK, String::new(), &[]))
}

/// Deletes versions of `oid` for the caller, audited; how many went (0: none it could see).
/// What the caller cannot see does not exist for it; what it did not create it may not
/// delete (admins excepted). `why` is added to the audit record's detail.
pub(super) async fn delete_versions(
    st: &AppState,
    p: &Principal,
    a: &Access,
    oid: &str,
    versions: &relto_taxii::VersionFilter,
    spec_versions: &[String],
    why: &str,
) -> ApiResult<usize> {
    let c = &a.coll;
    let mut q = ObjectQuery::new(c.pk, st.config.max_page as usize);
    q.ids = vec![oid.to_string()];
    q.versions = relto_taxii::VersionFilter::all();
    q.with_raw = false;
    q.reader = Some(a.filter(st, p));
    let seen = st.store.query_objects(&q).await?;
    if seen.items.is_empty() {
        return Ok(0);
    }
    if !p.is_admin()
        && seen
            .items
            .iter()
            .any(|o| o.originator != p.account.organization.slug)
    {
        return Err(ApiError(TaxiiError::forbidden(
            "only the organization that created this object may delete it",
        )));
    }
    let n = st
        .store
        .delete_object(c.pk, oid, versions, spec_versions)
        .await?;
    if n > 0 {
        let mut e = event(
            AuditKind::ObjectDelete,
            &p.account.name,
            p.account.organization.slug.as_str(),
            &p.source,
        );
        e.object_id = oid.to_string();
        e.outcome = AuditOutcome::Ok.into();
        e.detail = format!("{n} version(s){why}");
        st.audit.record(e).await;
    }
    Ok(n)
}

pub(super) async fn add_objects(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let Path((root, cid)) = path.map_err(path_err)?;
    let a = collection_for(&st, &p, &root, &cid, Use::Write).await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !is_taxii_content_type(ct) {
        return Err(ApiError(TaxiiError::unsupported_media_type()));
    }
    let bytes = read_body(
        &headers,
        body,
        a.api_root.max_content_length,
        st.config.body_timeout,
    )
    .await?;
    require_signature(&st, &p, &Method::POST, &uri, &headers, &bytes).await?;
    let hops = hop_path(&p, &headers)?;
    let poster = match &hops {
        Some(hops) => Poster::Hub {
            relay: &p.account,
            hops,
        },
        None => Poster::Account(&p.account),
    };
    let now = now_us();
    let raws = relto_stix::parse_envelope_with_depth(&bytes, st.config.max_json_depth)
        .map_err(|e| ApiError(TaxiiError::bad_request(e.to_string())))?;
    if raws.len() > st.config.max_objects_per_envelope {
        return Err(ApiError(TaxiiError::new(
            413,
            "Too many objects",
            format!(
                "the envelope holds {} objects; at most {} per request",
                raws.len(),
                st.config.max_objects_per_envelope
            ),
        )));
    }
    let status = ingest_envelope(&st, &p, &a, poster, &raws, now).await?;
    Ok(taxii(StatusCode::ACCEPTED, status, &[]))
}

/// Objects through the one ingest path as `poster` into the caller's collection, audited as
/// the caller's writes; what became of each.
pub(super) async fn ingest_as_caller(
    st: &AppState,
    p: &Principal,
    a: &Access,
    poster: Poster<'_>,
    raws: &[&serde_json::value::RawValue],
) -> ApiResult<Vec<relto_hub::ingest::Written>> {
    let written = st
        .hub
        .ingest(&a.view, poster, a.coll.pk, raws, usize::MAX, |_| {})
        .await?;
    let base = event(
        AuditKind::ObjectWrite,
        &p.account.name,
        p.account.organization.slug.as_str(),
        &p.source,
    );
    st.audit
        .record_all(relto_hub::ingest::write_events(&base, &written))
        .await;
    Ok(written)
}

/// An envelope's objects through [`ingest_as_caller`]; returns the TAXII status resource
/// (§4.3.1), stored for GET status.
pub(super) async fn ingest_envelope(
    st: &AppState,
    p: &Principal,
    a: &Access,
    poster: Poster<'_>,
    raws: &[&serde_json::value::RawValue],
    now: i64,
) -> ApiResult<String> {
    let written = ingest_as_caller(st, p, a, poster, raws).await?;
    // The status resource (TAXII 2.1 §4.3.1): each object's id and version, and why not.
    let (mut successes, mut failures) = (Vec::new(), Vec::new());
    for w in written {
        let mut entry = StatusDetails {
            id: w.id.unwrap_or_default(),
            version: w.version,
            message: w.note,
        };
        match w.outcome {
            Outcome::Added => successes.push(entry),
            Outcome::Duplicate => {
                entry.message = Some(DUPLICATE.into());
                successes.push(entry);
            }
            Outcome::Rejected(why) => {
                entry.message = Some(why);
                failures.push(entry);
            }
        }
    }
    let status_id = uuid::Uuid::new_v4().to_string();
    let status = Status::complete(status_id.clone(), format_micros(now), successes, failures);
    let json = serde_json::to_string(&status).map_err(|_| ApiError(TaxiiError::internal()))?;
    st.store
        .put_status(&StatusRow {
            id: status_id,
            api_root: a.api_root.path.clone(),
            account: p.account.name.clone(),
            created_us: now,
            json: json.clone(),
        })
        .await?;
    Ok(json)
}
