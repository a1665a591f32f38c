//! The live stream of DESIGN §10: `GET /api/v1/collections/{id}/stream`, every object the
//! reader may receive as it is added, as its own view, through the one read path
//! (`Hub::read_page`: the store's predicate, the redaction, the audit) that TAXII reads use.

use super::*;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::StreamExt;
use relto_store::Account;

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
}

/// GET /api/v1/collections/{id}/stream (`text/event-stream`). `Last-Event-ID` or `?after=`
/// resumes exactly after an event; without either the stream starts at the present.
pub(super) async fn stream(
    State(st): State<AppState>,
    Caller(p): Caller,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Path(cid) = path.map_err(path_err)?;
    let Some((api_root, coll)) = collection_by_id(&st, &cid).await? else {
        return Err(no_collection(&cid));
    };
    let a = collection_for(&st, &p, &api_root.path, &coll.id, Use::Read).await?;
    let fingerprint = format!("stream {}", a.coll.id);
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            query.as_deref().and_then(|q| {
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
    let sub = Subscription {
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
