//! Paged reads: the filters and cursor of a request, and the page as the caller receives it
//! (through the hub's one read path), with its TAXII envelope head and date headers.

use super::*;
use relto_store::audit::{AuditKind, AuditOutcome};
use relto_taxii::hops::{page_paths_text, HopPath};

/// The parsed filters of a paged request, with its page size and position.
pub(super) struct Paging {
    pub(super) filters: ObjectFilters,
    pub(super) fingerprint: String,
    pub(super) limit: usize,
    pub(super) after: Option<Cursor>,
}

pub(super) fn paging(
    st: &AppState,
    raw: Option<&str>,
    endpoint: Endpoint,
    scope: &str,
) -> ApiResult<Paging> {
    let filters = parse_query_with(raw, endpoint, &st.config.query_limits)
        .map_err(|e| ApiError(TaxiiError::bad_request(e.to_string())))?;
    let fingerprint = filters.fingerprint(scope);
    let after = match &filters.next {
        Some(n) => Some(
            Cursor::decode(n, &st.cursor_key, &fingerprint)
                .map_err(|e| ApiError(TaxiiError::bad_request(e.to_string())))?,
        ),
        None => None,
    };
    let limit = filters
        .limit
        .unwrap_or(st.config.default_page)
        .min(st.config.max_page)
        .max(1) as usize;
    Ok(Paging {
        filters,
        fingerprint,
        limit,
        after,
    })
}

impl Paging {
    pub(super) fn query(&self, collection: i64, endpoint: Endpoint) -> ObjectQuery {
        let mut q = ObjectQuery::new(collection, self.limit);
        q.ids = self.filters.ids.clone();
        q.types = self.filters.types.clone();
        q.versions = self.filters.version_filter(endpoint);
        q.spec_versions = self.filters.spec_versions.clone();
        q.added_after = self.filters.added_after;
        q.after = self.after;
        q
    }
}

/// Records the release of a served page (see [`release_events`]).
pub(super) async fn audit_release(
    st: &AppState,
    p: &Principal,
    path: &str,
    page: &Page,
    r: &Redactions,
) {
    let base = event(
        AuditKind::ObjectRelease,
        &p.account.name,
        p.account.organization.slug.as_str(),
        &p.source,
    );
    st.audit
        .record_all(release_events(&base, path, page, r))
        .await;
}

/// One page as the caller receives it, through the one release path of every read endpoint
/// (objects, one object, versions, manifest): the store's predicate, then the redaction of
/// the page, refilled when the redaction withholds an object, so that `more`, `next` and the
/// X-TAXII-Date-Added headers are computed from what is served and a withheld object is
/// indistinguishable from one that does not exist. Each served object's release is audited.
pub(super) struct Served {
    pub(super) page: Page,
    pub(super) head: String,
    pub(super) headers: Vec<(HeaderName, String)>,
}

/// What a read endpoint takes from its request, in this order: the authenticated caller, the
/// collection's path (and the object's id, on one object's endpoints) and the raw query.
pub(super) struct ReadRequest {
    caller: Principal,
    root: String,
    cid: String,
    oid: Option<String>,
    query: Option<String>,
    /// A peer hub asking (its relay names a hop path): told each object's path.
    from_hub: bool,
}

impl FromRequestParts<AppState> for ReadRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let Caller(caller) = Caller::from_request_parts(parts, st).await?;
        let Path(mut params) =
            Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, st)
                .await
                .map_err(path_err)?;
        let RawQuery(query) = RawQuery::from_request_parts(parts, st)
            .await
            .unwrap_or(RawQuery(None));
        let mut take = |name: &str| params.remove(name);
        let (Some(root), Some(cid)) = (take("root"), take("cid")) else {
            return Err(ApiError(TaxiiError::not_found("no such TAXII resource")));
        };
        let from_hub = super::hop_path(&caller, &parts.headers)?.is_some();
        Ok(Self {
            caller,
            root,
            cid,
            oid: take("oid"),
            query,
            from_hub,
        })
    }
}

impl ReadRequest {
    /// Every read endpoint's steps: the collection the caller may read, the request's filters
    /// and cursor, the released page of `endpoint` (`name` is what its cursors and audit
    /// records carry). For one object's endpoints, an object without a version the caller may
    /// receive (never existed, denied, withheld, deleted) is 404, unless the client is paging
    /// past the end (TAXII 2.1 §5.7).
    pub(super) async fn read(
        &self,
        st: &AppState,
        endpoint: Endpoint,
        name: &str,
    ) -> ApiResult<Served> {
        let p = &self.caller;
        let a = collection_for(st, p, &self.root, &self.cid, Use::Read).await?;
        let scope = match &self.oid {
            Some(oid) => format!("{name}|{}|{oid}", a.coll.pk),
            None => format!("{name}|{}", a.coll.pk),
        };
        let pg = paging(st, self.query.as_deref(), endpoint, &scope)?;
        let mut q = pg.query(a.coll.pk, endpoint);
        if let Some(oid) = &self.oid {
            q.ids = vec![oid.clone()];
        }
        let mut served = released_page(st, &a, p, &pg, q, name).await?;
        let objects = matches!(endpoint, Endpoint::Objects | Endpoint::Object);
        if let (true, true, Some(here)) = (self.from_hub, objects, &st.hub.name) {
            // Each object's path as the asking hub would carry it on, this hub last: the
            // asking hub takes nothing back that passed through it before.
            let paths: Vec<HopPath> = served
                .page
                .items
                .iter()
                .map(|o| HopPath::from_stored(o.hops.as_deref()).then(here))
                .collect();
            if !paths.is_empty() {
                served
                    .headers
                    .push((HOPS_HEADER.clone(), page_paths_text(&paths)));
            }
        }
        if let Some(oid) = &self.oid {
            if served.page.items.is_empty() && pg.after.is_none() {
                audit_hidden(st, p, a.coll.pk, oid, name).await?;
                return Err(no_object(oid));
            }
        }
        Ok(served)
    }
}

pub(super) async fn released_page(
    st: &AppState,
    a: &Access,
    p: &Principal,
    pg: &Paging,
    q: ObjectQuery,
    path: &str,
) -> ApiResult<Served> {
    let relto_hub::read::Served { page, redactions } =
        st.hub.read_page(&a.view, &p.account, q).await?;
    let more = page.more;
    audit_release(st, p, path, &page, &redactions).await;
    let mut head = String::from(if more {
        "{\"more\":true"
    } else {
        "{\"more\":false"
    });
    if more {
        if let Some(last) = page.items.last() {
            let next = last.cursor().encode(&st.cursor_key, &pg.fingerprint);
            head.push_str(",\"next\":\"");
            head.push_str(&next);
            head.push('"');
        }
    }
    let mut headers = Vec::new();
    if let (Some(first), Some(last)) = (page.items.first(), page.items.last()) {
        headers.push((DATE_ADDED_FIRST, format_micros(first.date_added)));
        headers.push((DATE_ADDED_LAST, format_micros(last.date_added)));
    }
    Ok(Served {
        page,
        head,
        headers,
    })
}

/// Records a denial when `oid` exists in the collection but the reader may not see it (the
/// reader itself is answered 404, as for an object that does not exist).
pub(super) async fn audit_hidden(
    st: &AppState,
    p: &Principal,
    collection: i64,
    oid: &str,
    path: &str,
) -> ApiResult<()> {
    let mut q = ObjectQuery::new(collection, 1);
    q.ids = vec![oid.to_string()];
    q.with_raw = false;
    if let Some(o) = st.store.query_objects(&q).await?.items.first() {
        let mut e = event(
            AuditKind::ObjectRelease,
            &p.account.name,
            p.account.organization.slug.as_str(),
            &p.source,
        );
        e.object_id = o.stix_id.clone();
        e.object_version = format_micros(o.version);
        e.outcome = AuditOutcome::Deny.into();
        e.detail = format!("{path}; not releasable to this reader");
        st.audit.record(e).await;
    }
    Ok(())
}

/// An object's version as it was posted (`modified`, else `created`: TAXII 2.1 §3.6 versions
/// are the objects' own timestamps), else its first date_added (objects without either).
pub(super) fn posted_version(o: &relto_store::StoredObject) -> String {
    #[derive(serde::Deserialize)]
    struct Stamps {
        modified: Option<String>,
        created: Option<String>,
    }
    serde_json::from_str::<Stamps>(&o.raw)
        .ok()
        .and_then(|s| s.modified.or(s.created))
        .unwrap_or_else(|| format_micros(o.version))
}

/// Writes an envelope from stored bytes without re-serialising the objects.
pub(super) fn envelope(head: String, page: &Page) -> String {
    let size: usize = page.items.iter().map(|o| o.raw.len() + 1).sum();
    let mut body = head;
    body.reserve(size + 16);
    if !page.items.is_empty() {
        body.push_str(",\"objects\":[");
        for (i, o) in page.items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&o.raw);
        }
        body.push(']');
    }
    body.push('}');
    body
}

pub(super) fn no_object(oid: &str) -> ApiError {
    ApiError(TaxiiError::not_found(format!(
        "no object '{oid}' in this collection"
    )))
}
