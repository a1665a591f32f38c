//! A push: the local collection as the peer organization's reader receives it (DESIGN §11),
//! through the one read path (`Hub::read_page`: the release predicate, the redaction), each
//! envelope followed to a complete status before the cursor moves past it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use relto_hub::federation::PushPosition;
use relto_hub::read::Served;
use relto_stix::timestamp::format_micros;
use relto_store::audit::AuditKind;
use relto_store::{ObjectQuery, StoredObject};
use relto_taxii::remote::{shown, PeerStatus};
use relto_taxii::VersionFilter;

use super::{PeerError, Run};
use crate::now_us;

/// Objects read, and at most sent in one envelope.
const PUSH_PAGE: usize = 500;
/// Most bytes of objects in one envelope (well under any server's max_content_length).
const MAX_ENVELOPE: usize = 8 << 20;
/// Ids of a withdrawn stage looked at together, and the most versions read for them.
const WITHDRAW_IDS: usize = 100;
const MAX_VERSIONS: usize = 100_000;
/// How long a status may stay pending.
const STATUS_WAIT: Duration = Duration::from_secs(120);
/// Why an object the peer organization could read is not pushed.
const TLP_WITHHELD: &str = "TLP AMBER, AMBER+STRICT or RED: never sent to a peer automatically";

/// Sends what the peer has not been sent; true when nothing is left.
pub(super) async fn push(run: &mut Run<'_>) -> Result<bool, PeerError> {
    let store_err = |e: relto_store::StoreError| PeerError(format!("the store: {e}"));
    let mut pos = PushPosition::parse(run.cursor.as_deref());
    let view = run.st.hub.view().await.map_err(store_err)?;
    let in_effect: BTreeSet<i64> = view.stages_in_effect(now_us()).into_iter().collect();
    // Stages that came into effect since the last run release objects the cursor has passed.
    if let Some(after) = pos.cursor() {
        for stage in in_effect.iter().filter(|s| !pos.stages.contains(s)) {
            let mut ids = run.st.store.covered_ids(*stage).await.map_err(store_err)?;
            ids.sort();
            ids.dedup();
            for chunk in ids.chunks(PUSH_PAGE) {
                let mut q = ObjectQuery::new(run.collection.pk, chunk.len());
                q.ids = chunk.to_vec();
                q.versions = VersionFilter::all();
                let mut served = run
                    .st
                    .hub
                    .read_page(&view, &run.account, q)
                    .await
                    .map_err(store_err)?;
                // Later objects are sent by the sweep below.
                served
                    .page
                    .items
                    .retain(|o| (o.date_added, o.row) <= (after.date_added, after.row));
                send(run, served).await?;
            }
        }
    }
    // Stages that ended take back what only they released: withdrawn from the peer.
    for stage in pos.stages.iter().filter(|s| !in_effect.contains(s)) {
        withdraw(run, &view, *stage).await?;
    }
    pos.stages = in_effect.into_iter().collect();
    run.checkpoint(Some(pos.to_text())).await?;
    loop {
        run.renew().await?;
        let view = run.st.hub.view().await.map_err(store_err)?;
        let mut q = ObjectQuery::new(run.collection.pk, PUSH_PAGE);
        q.versions = VersionFilter::all();
        q.after = pos.cursor();
        let served = run
            .st
            .hub
            .read_page(&view, &run.account, q)
            .await
            .map_err(store_err)?;
        let more = served.page.more;
        // Past what was served and what was withheld alike: neither is looked at again.
        let examined = served
            .page
            .items
            .iter()
            .chain(served.redactions.dropped.iter().map(|(o, _)| o))
            .max_by_key(|o| (o.date_added, o.row))
            .map(StoredObject::cursor);
        let Some(last) = examined else {
            return Ok(true);
        };
        send(run, served).await?;
        pos.advance(last);
        run.checkpoint(Some(pos.to_text())).await?;
        if !more {
            return Ok(true);
        }
    }
}

/// Withdraws from the peer the versions of a stage's objects its organization no longer
/// receives (TAXII 2.1 §5.8 DELETE, which any TAXII server answers and relto allows only the
/// object's organization, here its relay), each recorded as a release now denied.
async fn withdraw(
    run: &mut Run<'_>,
    view: &relto_hub::release::ReleaseView,
    stage: i64,
) -> Result<(), PeerError> {
    let store_err = |e: relto_store::StoreError| PeerError(format!("the store: {e}"));
    let mut ids = run.st.store.covered_ids(stage).await.map_err(store_err)?;
    ids.sort();
    ids.dedup();
    for chunk in ids.chunks(WITHDRAW_IDS) {
        let mut q = ObjectQuery::new(run.collection.pk, MAX_VERSIONS);
        q.ids = chunk.to_vec();
        q.versions = VersionFilter::all();
        let stored = run.st.store.query_objects(&q).await.map_err(store_err)?;
        let served = run
            .st
            .hub
            .read_page(view, &run.account, q)
            .await
            .map_err(store_err)?;
        let still: std::collections::HashSet<(&str, i64)> = served
            .page
            .items
            .iter()
            .map(|o| (o.stix_id.as_str(), o.version))
            .collect();
        let mut gone: Vec<&StoredObject> = stored
            .items
            .iter()
            .filter(|o| !still.contains(&(o.stix_id.as_str(), o.version)))
            .collect();
        gone.sort_by(|a, b| a.stix_id.cmp(&b.stix_id));
        let mut withdrawn = Vec::new();
        for group in gone.chunk_by(|a, b| a.stix_id == b.stix_id) {
            let id = &group[0].stix_id;
            let versions = if still.iter().any(|(i, _)| i == id) {
                group
                    .iter()
                    .map(|o| format_micros(o.version))
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                "all".into()
            };
            let path = format!(
                "{}objects/{id}/?{}",
                run.remote.collection_path,
                serde_urlencoded::to_string([("match[version]", versions)])
                    .map_err(|e| PeerError(format!("cannot encode the query: {e}")))?
            );
            run.renew().await?;
            let answer = run.remote.delete(&path).await?;
            // Not found: the peer never had it, or has dropped it already.
            if answer.status != StatusCode::NOT_FOUND {
                answer.expect(StatusCode::OK, "DELETE object")?;
            }
            withdrawn.extend(group.iter().map(|o| (*o).clone()));
        }
        let base = run.audit_base(AuditKind::ObjectRelease);
        let detail = format!("withdrawn from peer {}: stage {stage} ended", run.plan.name);
        let denied = relto_hub::release::Redactions {
            dropped: withdrawn.into_iter().map(|o| (o, detail.clone())).collect(),
            ..Default::default()
        };
        run.st
            .audit
            .record_all(relto_hub::audit::release_events(
                &base,
                "withdrawal",
                &relto_store::Page::default(),
                &denied,
            ))
            .await;
    }
    Ok(())
}

/// Sends a page the peer organization receives (TLP AMBER and RED kept back), in envelopes,
/// each followed to its complete status; then audits the releases.
async fn send(run: &mut Run<'_>, mut served: Served) -> Result<(), PeerError> {
    let items = std::mem::take(&mut served.page.items);
    for o in items {
        let held = serde_json::from_str(&o.raw)
            .map(|v| relto_policy::label::withheld_from_peers(&v))
            .unwrap_or(true);
        if held {
            served.redactions.dropped.push((o, TLP_WITHHELD.into()));
        } else {
            served.page.items.push(o);
        }
    }
    let (mut start, mut accepted) = (0, 0);
    while start < served.page.items.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < served.page.items.len()
            && (end == start || bytes + served.page.items[end].raw.len() <= MAX_ENVELOPE)
        {
            bytes += served.page.items[end].raw.len();
            end += 1;
        }
        accepted += post(run, &served.page.items[start..end]).await?;
        start = end;
    }
    let withheld = served.redactions.dropped.len();
    run.count(accepted, withheld);
    let base = run.audit_base(AuditKind::ObjectRelease);
    let path = format!("push to peer {}", run.plan.name);
    run.st
        .audit
        .record_all(relto_hub::audit::release_events(
            &base,
            &path,
            &served.page,
            &served.redactions,
        ))
        .await;
    Ok(())
}

/// POSTs one envelope and follows its status until complete; returns how many objects the
/// peer accepted. Objects it refuses are logged (a re-post of a version it has counts as
/// refused by some servers) and not retried.
async fn post(run: &Run<'_>, objects: &[StoredObject]) -> Result<usize, PeerError> {
    run.renew().await?;
    let mut body = Vec::with_capacity(objects.iter().map(|o| o.raw.len() + 1).sum::<usize>() + 16);
    body.extend_from_slice(b"{\"objects\":[");
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(o.raw.as_bytes());
    }
    body.extend_from_slice(b"]}");
    let path = format!("{}objects/", run.remote.collection_path);
    let answer = run.remote.post(&path, body).await?;
    let answer = if answer.status == StatusCode::OK {
        answer
    } else {
        answer.expect(StatusCode::ACCEPTED, "POST objects")?
    };
    let mut status = PeerStatus::parse(&answer.body).map_err(|e| PeerError(e.0))?;
    let began = Instant::now();
    let mut pause = Duration::from_millis(100);
    while !status.is_complete() {
        if began.elapsed() > STATUS_WAIT {
            return Err(PeerError(format!(
                "the peer's status {} stayed {} for {} s",
                status.id,
                shown(&status.status),
                STATUS_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
        run.renew().await?;
        let path = format!("{}status/{}/", run.remote.api_root_path, status.id);
        let answer = run
            .remote
            .get(&path)
            .await?
            .expect(StatusCode::OK, "GET status")?;
        status = PeerStatus::parse(&answer.body).map_err(|e| PeerError(e.0))?;
    }
    if status.total_count != 0 && status.total_count != objects.len() as u64 {
        return Err(PeerError(format!(
            "the peer's status counts {} objects of the {} sent",
            status.total_count,
            objects.len()
        )));
    }
    if status.failure_count > 0 {
        let first = status.failures.first();
        tracing::warn!(
            peer = %run.plan.name,
            refused = status.failure_count,
            first_id = %first.map(|f| shown(&f.id)).unwrap_or_default(),
            first_reason = %first.and_then(|f| f.message.as_deref()).map(shown).unwrap_or_default(),
            "the peer refused objects of a push"
        );
    }
    // What the peer says it accepted, never more than was sent.
    Ok((status.success_count as usize).min(objects.len()))
}
