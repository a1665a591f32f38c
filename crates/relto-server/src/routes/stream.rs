//! The live stream of DESIGN §10: `GET /api/v1/collections/{id}/stream`, every object the
//! reader may receive as it is added, as its own view, through the one read path
//! (`Hub::read_page`: the store's predicate, the redaction, the audit) that TAXII reads use.

use super::*;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::StreamExt;
use relto_store::Account;
use std::collections::HashSet;

/// Objects read per step of a stream.
const STREAM_PAGE: usize = 100;
/// How often an idle stream looks for objects written on other nodes.
const POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// What one stream keeps between its steps: the caller, where it is, how to reach the hub.
struct Subscription {
    st: AppState,
    principal: Principal,
    account: Arc<Account>,
    collection: i64,
    fingerprint: String,
    after: Cursor,
    /// The release-plan stages in effect when the stream last looked: one that comes into
    /// effect releases objects (sent then), one that ends may take them away (`withdrawn`).
    in_effect: HashSet<i64>,
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
    let after = match resume {
        Some(text) => Cursor::decode(&text, &st.cursor_key, &fingerprint).map_err(|_| {
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
    let in_effect = a.view.stages_in_effect(now_us());
    let sub = Subscription {
        in_effect,
        account: p.account.clone(),
        principal: p,
        st,
        collection: a.coll.pk,
        fingerprint,
        after,
    };
    let events =
        futures_util::stream::unfold(sub, next_events).flat_map(futures_util::stream::iter);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response())
}

/// The next events of a stream: the objects the reader receives after its cursor, a page at
/// a time; waits for a write (or the next poll) when there are none. Ends on a store error
/// (the client resumes from its last event).
async fn next_events(
    mut sub: Subscription,
) -> Option<(Vec<Result<Event, std::convert::Infallible>>, Subscription)> {
    loop {
        // Registered before the read, so that a write during it is not missed.
        let hub = sub.st.hub.clone();
        let changed = hub.changes.notified();
        let view = sub.st.hub.view().await.ok()?;
        let events = stage_events(&mut sub, &view).await?;
        if !events.is_empty() {
            return Some((events, sub));
        }
        let mut q = ObjectQuery::new(sub.collection, STREAM_PAGE);
        q.after = Some(sub.after);
        let served = sub.st.hub.read_page(&view, &sub.account, q).await.ok()?;
        if let Some(last) = served.page.items.last() {
            sub.after = last.cursor();
            audit_release(
                &sub.st,
                &sub.principal,
                "stream",
                &served.page,
                &served.redactions,
            )
            .await;
            let events = served
                .page
                .items
                .iter()
                .map(|o| {
                    Ok(Event::default()
                        .event("object")
                        .id(o.cursor().encode(&sub.st.cursor_key, &sub.fingerprint))
                        .data(&o.raw))
                })
                .collect();
            return Some((events, sub));
        }
        let _ = tokio::time::timeout(POLL, changed).await;
    }
}

type Events = Vec<Result<Event, std::convert::Infallible>>;

/// What stages that came into effect or ended since the stream last looked change for its
/// reader: the objects a stage now releases to it (as `object` events, at the stream's
/// cursor), and the ids a stage that ended took from it (`withdrawn`, `{"id": …}`).
async fn stage_events(sub: &mut Subscription, view: &ReleaseView) -> Option<Events> {
    let now = view.stages_in_effect(now_us());
    if now == sub.in_effect {
        return Some(Vec::new());
    }
    let opened: Vec<i64> = now.difference(&sub.in_effect).copied().collect();
    let closed: Vec<i64> = sub.in_effect.difference(&now).copied().collect();
    sub.in_effect = now;
    let mut events = Vec::new();
    let id = sub.after.encode(&sub.st.cursor_key, &sub.fingerprint);
    for stage in opened {
        for o in read_latest(sub, view, stage).await?.0 {
            events.push(Ok(Event::default()
                .event("object")
                .id(id.clone())
                .data(&o.raw)));
        }
    }
    for stage in closed {
        let (served, mut ids) = read_latest(sub, view, stage).await?;
        ids.retain(|i| !served.iter().any(|o| &o.stix_id == i));
        for gone in ids {
            events.push(Ok(Event::default()
                .event("withdrawn")
                .id(id.clone())
                .data(json!({ "id": gone }).to_string())));
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
        let page = sub.st.hub.read_page(view, &sub.account, q).await.ok()?;
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
