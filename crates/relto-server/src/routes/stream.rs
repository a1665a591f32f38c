//! The live stream of DESIGN §10: `GET /api/v1/collections/{id}/stream`, every object the
//! reader may receive as it is added, as its own view, through the one read path
//! (`Hub::read_page`: the store's predicate, the redaction, the audit) that TAXII reads use.

use super::*;
use crate::metrics::Metrics;
use axum::body::Bytes;
use futures_util::StreamExt;
use relto_store::audit::AuditKind;
use relto_store::StoredObject;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// Objects read per step of a stream.
const STREAM_PAGE: usize = 500;
/// How often idle streams look, all together, for objects written on other nodes.
pub const STREAM_POLL: Duration = Duration::from_secs(1);
/// A comment after this long without an event keeps idle connections (and proxies) open.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// What one stream keeps between its steps: the caller, where it is, how to reach the hub.
struct Subscription {
    st: AppState,
    principal: Principal,
    /// The collection: its API root, id and key.
    api_root: String,
    collection_id: String,
    collection: i64,
    /// The realm's generation when the stream last checked its account and grant.
    generation: i64,
    fingerprint: String,
    after: Cursor,
    /// The release-plan stages in effect when the stream last looked: one that comes into
    /// effect releases objects (sent then), one that ends may take them away (`withdrawn`).
    in_effect: HashSet<i64>,
    last_sent: Instant,
    _open: OpenStream,
}

/// Counts a stream as open while its subscription lives (`relto_stream_connections`).
struct OpenStream(Arc<Metrics>);

impl OpenStream {
    fn new(metrics: Arc<Metrics>) -> Self {
        metrics.streams.fetch_add(1, Ordering::Relaxed);
        Self(metrics)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// GET /api/v1/collections/{id}/stream (`text/event-stream`). `Last-Event-ID` or `?after=`
/// resumes exactly after an event; without either the stream starts at the present.
pub(super) async fn stream(
    State(st): State<AppState>,
    Authenticated(p): Authenticated,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Path(cid) = path.map_err(path_err)?;
    open_stream(st, p, &cid, query.as_deref(), &headers).await
}

/// The stream of collection `cid` for `p`, resumed from `Last-Event-ID` or `after=` in
/// `query` when given: the API's and the console's (which signs in by cookie) alike.
pub(super) async fn open_stream(
    st: AppState,
    p: Principal,
    cid: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let Some((api_root, coll)) = collection_by_id(&st, cid).await? else {
        return Err(no_collection(cid));
    };
    let a = collection_for(&st, &p, &api_root.path, &coll.id, Use::Read).await?;
    let fingerprint = format!("stream {}", a.coll.id);
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            query.and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("after="))
                    .map(str::to_string)
            })
        });
    let after = match &resume {
        Some(text) => Cursor::decode(text, &st.cursor_key, &fingerprint).map_err(|_| {
            ApiError(TaxiiError::bad_request(
                "Last-Event-ID (or after): not a cursor this stream gave; reconnect without it to start at the present",
            ))
        })?,
        // The present: everything stored from now on has a later date_added.
        None => Cursor {
            date_added: now_us(),
            row: i64::MAX,
        },
    };
    // Who opened a stream, from where, and from which point. The releases it then receives
    // are recorded once per read of the account's streams (see `shared_page`).
    let mut opened = event(
        AuditKind::StreamOpen,
        &p.account.name,
        p.account.organization.slug.as_str(),
        &p.source,
    );
    opened.detail = format!(
        "collection {}; {}",
        a.coll.id,
        if resume.is_some() {
            "resumed after an event"
        } else {
            "from the present"
        }
    );
    st.audit.record(opened).await;
    let sub = Subscription {
        _open: OpenStream::new(st.metrics.clone()),
        in_effect: a.view.stages_in_effect(now_us()),
        principal: p,
        st,
        api_root: api_root.path,
        collection_id: a.coll.id.clone(),
        collection: a.coll.pk,
        generation: a.view.generation,
        fingerprint,
        after,
        last_sent: Instant::now(),
    };
    let body =
        futures_util::stream::unfold(sub, next_events).map(Ok::<_, std::convert::Infallible>);
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// The next events of a stream, encoded: the objects the reader receives after its cursor,
/// a page at a time; waits for a write (or the next poll) when there are none, and sends a
/// comment when it has been idle for a while. Ends on a store error (the client resumes
/// from its last event).
async fn next_events(mut sub: Subscription) -> Option<(Bytes, Subscription)> {
    loop {
        let hub = sub.st.hub.clone();
        // Registered before the read, so that a write during it is not missed.
        let (changed, writes) = hub.changes.watch();
        let view = sub.st.hub.view().await.ok()?;
        follow_realm(&mut sub, &view).await?;
        let events = stage_events(&mut sub, &view).await?;
        if !events.is_empty() {
            sub.last_sent = Instant::now();
            return Some((events.into(), sub));
        }
        let page = shared_page(&sub, &view, writes).await?;
        if let Some(last) = page.last {
            sub.after = last;
            sub.last_sent = Instant::now();
            return Some((page.events.clone(), sub));
        }
        let idle = sub.last_sent.elapsed();
        if idle >= HEARTBEAT {
            sub.last_sent = Instant::now();
            return Some((Bytes::from_static(b":\n\n"), sub));
        }
        // A write on this node, or the hub's poll tick (`STREAM_POLL`), wakes the stream.
        let _ = tokio::time::timeout(HEARTBEAT - idle, changed).await;
    }
}

/// After the realm changed, the stream goes on as its account is now (its clearances, its
/// grants), or ends: when the account or its organization was disabled, or it may no longer
/// read the collection.
async fn follow_realm(sub: &mut Subscription, view: &ReleaseView) -> Option<()> {
    if view.generation == sub.generation {
        return Some(());
    }
    let account = sub
        .st
        .store
        .account(&sub.principal.account.name)
        .await
        .ok()??;
    sub.principal.account = Arc::new(account);
    collection_for(
        &sub.st,
        &sub.principal,
        &sub.api_root,
        &sub.collection_id,
        Use::Read,
    )
    .await
    .ok()?;
    sub.generation = view.generation;
    Some(())
}

/// A page of a stream as its events, encoded once for every stream that shares its read.
struct StreamPage {
    events: Bytes,
    /// Where the page ends (None: nothing new).
    last: Option<Cursor>,
}

/// One read of a collection for one account after one cursor, between two writes.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ReadKey {
    account: String,
    collection: i64,
    after: (i64, i64),
    view: i64,
    writes: u64,
}

type PendingReads = HashMap<ReadKey, Arc<OnceCell<Arc<StreamPage>>>>;

/// The stream reads running now, by what they read. When a write wakes the streams, those
/// of one account stand at one cursor: one read through the release path, one audit of its
/// releases and one encoding of its events serve all of them, instead of one per connection
/// (measured: those reads were most of the server's time with a thousand streams).
#[derive(Default)]
pub struct StreamReads(Mutex<PendingReads>);

impl StreamReads {
    fn pending(&self) -> std::sync::MutexGuard<'_, PendingReads> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The page after the stream's cursor as its account receives it, shared with the account's
/// other streams whose read runs at the same time. A stream joins only a read keyed with the
/// writes it counted after it registered for the next one: a write the shared page may lack
/// wakes it again. A read is shared while it runs only; one that starts later reads afresh
/// (stages come into effect and end with time).
async fn shared_page(
    sub: &Subscription,
    view: &ReleaseView,
    writes: u64,
) -> Option<Arc<StreamPage>> {
    let key = ReadKey {
        account: sub.principal.account.name.clone(),
        collection: sub.collection,
        after: (sub.after.date_added, sub.after.row),
        view: view.generation,
        writes,
    };
    let reads = &sub.st.streams;
    let cell = reads.pending().entry(key.clone()).or_default().clone();
    let page = cell
        .get_or_try_init(|| read_events(sub, view))
        .await
        .ok()
        .cloned();
    let mut pending = reads.pending();
    if pending.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
        pending.remove(&key);
    }
    page
}

/// Reads the page after the stream's cursor through the one read path, audits its releases
/// (to the account, from the connection that read it) and encodes its events.
async fn read_events(sub: &Subscription, view: &ReleaseView) -> Result<Arc<StreamPage>, ()> {
    let mut q = ObjectQuery::new(sub.collection, STREAM_PAGE);
    q.after = Some(sub.after);
    let served = sub
        .st
        .hub
        .read_page(view, &sub.principal.account, q)
        .await
        .map_err(|_| ())?;
    let last = served.page.items.last().map(StoredObject::cursor);
    if last.is_some() {
        audit_release(
            &sub.st,
            &sub.principal,
            "stream",
            &served.page,
            &served.redactions,
        )
        .await;
    }
    let mut events = String::new();
    for o in &served.page.items {
        let id = o.cursor().encode(&sub.st.cursor_key, &sub.fingerprint);
        push_event(&mut events, "object", &id, &o.raw);
    }
    Ok(Arc::new(StreamPage {
        events: events.into(),
        last,
    }))
}

/// Appends one `text/event-stream` event. Each line of the data is a `data:` line (a client
/// joins them with line feeds). A carriage return in stored JSON can only be whitespace
/// between tokens, so it ends a line too rather than breaking the event's framing.
fn push_event(out: &mut String, kind: &str, id: &str, data: &str) {
    out.push_str("event: ");
    out.push_str(kind);
    out.push_str("\nid: ");
    out.push_str(id);
    out.push('\n');
    for line in data.split(['\r', '\n']).filter(|l| !l.is_empty()) {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
}

/// What stages that came into effect or ended since the stream last looked change for its
/// reader: the objects a stage now releases to it (as `object` events, at the stream's
/// cursor), and the ids a stage that ended took from it (`withdrawn`, `{"id": …}`).
async fn stage_events(sub: &mut Subscription, view: &ReleaseView) -> Option<String> {
    let now = view.stages_in_effect(now_us());
    if now == sub.in_effect {
        return Some(String::new());
    }
    let opened: Vec<i64> = now.difference(&sub.in_effect).copied().collect();
    let closed: Vec<i64> = sub.in_effect.difference(&now).copied().collect();
    sub.in_effect = now;
    let mut events = String::new();
    let id = sub.after.encode(&sub.st.cursor_key, &sub.fingerprint);
    for stage in opened {
        for o in read_latest(sub, view, stage).await?.0 {
            push_event(&mut events, "object", &id, &o.raw);
        }
    }
    for stage in closed {
        let (served, mut ids) = read_latest(sub, view, stage).await?;
        ids.retain(|i| !served.iter().any(|o| &o.stix_id == i));
        for gone in ids {
            push_event(
                &mut events,
                "withdrawn",
                &id,
                &json!({ "id": gone }).to_string(),
            );
        }
    }
    Some(events)
}

/// The latest versions of the objects a stage covers, as the reader receives them now, and
/// the stage's ids (sorted, without repeats).
async fn read_latest(
    sub: &Subscription,
    view: &ReleaseView,
    stage: i64,
) -> Option<(Vec<relto_store::StoredObject>, Vec<String>)> {
    let mut ids = sub.st.store.covered_ids(stage).await.ok()?;
    ids.sort();
    ids.dedup();
    let mut served = Vec::new();
    for chunk in ids.chunks(STREAM_PAGE) {
        let mut q = ObjectQuery::new(sub.collection, chunk.len());
        q.ids = chunk.to_vec();
        q.versions = relto_taxii::VersionFilter::last();
        let page = sub
            .st
            .hub
            .read_page(view, &sub.principal.account, q)
            .await
            .ok()?;
        audit_release(
            &sub.st,
            &sub.principal,
            "stream",
            &page.page,
            &page.redactions,
        )
        .await;
        served.extend(page.page.items);
    }
    Some((served, ids))
}
