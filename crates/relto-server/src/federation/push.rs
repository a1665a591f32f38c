//! A push: the local collection as the peer organization's reader receives it (DESIGN §11),
//! through the one read path (`Hub::read_page`: the release predicate, the redaction), each
//! envelope followed to a complete status before the cursor moves past it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use relto_hub::federation::PushPosition;
use relto_hub::read::Served;
use relto_policy::label::raw_withheld_from_peers;
use relto_stix::timestamp::format_micros;
use relto_store::audit::AuditKind;
use relto_store::{ObjectQuery, SentCopy, StoredObject};
use relto_taxii::hops::HopPath;
use relto_taxii::remote::{shown, PeerStatus};
use relto_taxii::withdrawal::{self, WithdrawalResult, Withdrawals};
use relto_taxii::VersionFilter;

use super::{PeerError, Run};
use crate::now_us;

/// Objects read, and at most sent in one envelope.
const PUSH_PAGE: usize = 500;
/// Most bytes of objects in one envelope (well under any server's max_content_length).
const MAX_ENVELOPE: usize = 8 << 20;
/// How often the peer's copies are reconciled with its view when nothing else asked for it
/// (deletions and expiring stages change what it receives without a new write).
const RECONCILE_EVERY: Duration = Duration::from_secs(60);
/// How long a status may stay pending.
const STATUS_WAIT: Duration = Duration::from_secs(120);
/// Why an object the peer organization could read is not pushed.
const TLP_WITHHELD: &str = "TLP AMBER, AMBER+STRICT or RED: never sent to a peer automatically";

/// Sends what the peer has not been sent; true when nothing is left. When what the peer
/// organization receives may have changed behind the cursor (a stage came into effect or
/// ended, the realm changed, or a while has passed: deletions, expiries), the peer's copies
/// are first reconciled with its view: withdrawn, replaced or added.
pub(super) async fn push(run: &mut Run<'_>) -> Result<bool, PeerError> {
    let mut pos = PushPosition::parse(run.cursor.as_deref());
    let view = run.st.hub.view().await?;
    let now = now_us();
    let mut in_effect: Vec<i64> = view.stages_in_effect(now).into_iter().collect();
    in_effect.sort_unstable();
    let mut sent = Ledger::default();
    if let Some(after) = pos.cursor() {
        let due = pos.stages != in_effect
            || pos.generation != view.generation
            || now - pos.reconciled_us > RECONCILE_EVERY.as_micros() as i64;
        if due {
            reconcile(run, &view, after, &mut sent).await?;
            pos.reconciled_us = now;
        }
    } else {
        pos.reconciled_us = now;
    }
    pos.stages = in_effect;
    pos.generation = view.generation;
    run.checkpoint(Some(pos.to_text())).await?;
    loop {
        run.renew().await?;
        let view = run.st.hub.view().await?;
        let mut q = ObjectQuery::new(run.collection.pk, PUSH_PAGE);
        q.versions = VersionFilter::all();
        q.after = pos.cursor();
        let served = run.st.hub.read_page(&view, &run.account, q).await?;
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
        send(run, served, &mut sent).await?;
        pos.advance(last);
        run.checkpoint(Some(pos.to_text())).await?;
        if !more {
            return Ok(true);
        }
    }
}

/// What the peer holds of this hub: each version's copy, by its digest (the store keeps it).
/// Read from the store when first needed: a run with nothing to send or reconcile (most of
/// them, every interval) reads none of it.
#[derive(Default)]
struct Ledger(Option<HashMap<(String, i64), String>>);

impl Ledger {
    async fn copies(
        &mut self,
        run: &Run<'_>,
    ) -> Result<&HashMap<(String, i64), String>, PeerError> {
        let copies = match self.0.take() {
            Some(copies) => copies,
            None => run
                .st
                .store
                .peer_sent(&run.plan.name)
                .await?
                .into_iter()
                .map(|c| ((c.stix_id, c.version), c.digest))
                .collect(),
        };
        Ok(self.0.insert(copies))
    }

    async fn record(
        &mut self,
        run: &Run<'_>,
        sent: Vec<SentCopy>,
        withdrawn: Vec<(String, i64)>,
    ) -> Result<(), PeerError> {
        run.st
            .store
            .record_peer_sent(&run.plan.name, &sent, &withdrawn)
            .await?;
        // Recorded copies are only ever ones the run looked up, so the ledger is loaded.
        if let Some(copies) = &mut self.0 {
            for w in withdrawn {
                copies.remove(&w);
            }
            for c in sent {
                copies.insert((c.stix_id, c.version), c.digest);
            }
        }
        Ok(())
    }
}

/// The digest a copy is known by: its SHA-256, in hex.
fn digest(raw: &str) -> String {
    use sha2::{Digest, Sha256};
    relto_store::audit::hex(&Sha256::digest(raw.as_bytes()))
}

/// Makes the peer's copies of everything up to `after` what its organization receives now:
/// versions it no longer receives are withdrawn (TAXII 2.1 §5.8 DELETE, which any TAXII
/// server answers and relto allows only the object's organization, here its relay), copies
/// that changed (a reference now hidden or visible, a tearline lifted) are withdrawn and sent
/// again, and versions it now receives are sent.
async fn reconcile(
    run: &mut Run<'_>,
    view: &relto_hub::release::ReleaseView,
    after: relto_taxii::Cursor,
    sent: &mut Ledger,
) -> Result<(), PeerError> {
    // The peer organization's view up to the cursor, TLP AMBER/RED held back.
    let mut current: HashMap<(String, i64), StoredObject> = HashMap::new();
    let mut cursor = None;
    loop {
        run.renew().await?;
        let mut q = ObjectQuery::new(run.collection.pk, PUSH_PAGE);
        q.versions = VersionFilter::all();
        q.after = cursor;
        let served = run.st.hub.read_page(view, &run.account, q).await?;
        let more = served.page.more;
        cursor = served.page.items.last().map(StoredObject::cursor);
        for o in served.page.items {
            if (o.date_added, o.row) <= (after.date_added, after.row)
                && !raw_withheld_from_peers(&o.raw)
            {
                current.insert((o.stix_id.clone(), o.version), o);
            }
        }
        if !more || cursor.is_none_or(|c| (c.date_added, c.row) > (after.date_added, after.row)) {
            break;
        }
    }
    let mut stale: Vec<(String, i64)> = Vec::new();
    for (key, d) in sent.copies(run).await? {
        match current.get(key) {
            Some(o) if &digest(&o.raw) == d => {}
            _ => stale.push(key.clone()),
        }
    }
    withdraw(run, &stale, sent).await?;
    let copies = sent.copies(run).await?;
    let mut missing: Vec<StoredObject> = current
        .into_iter()
        .filter(|(k, _)| !copies.contains_key(k))
        .map(|(_, o)| o)
        .collect();
    missing.sort_by_key(|o| (o.date_added, o.row));
    for chunk in missing.chunks(PUSH_PAGE) {
        let served = Served {
            page: relto_store::Page {
                items: chunk.to_vec(),
                ..relto_store::Page::default()
            },
            redactions: relto_hub::release::Redactions::default(),
        };
        send(run, served, sent).await?;
    }
    Ok(())
}

/// Withdraws versions from the peer and from the ledger, each recorded as a release now
/// denied. A relto peer takes them in batches (POST /api/v1/withdrawals); any other TAXII
/// server one object at a time (§5.8 DELETE). Not found at the peer counts as withdrawn.
async fn withdraw(
    run: &mut Run<'_>,
    versions: &[(String, i64)],
    sent: &mut Ledger,
) -> Result<(), PeerError> {
    let mut by_id: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (id, v) in versions {
        by_id.entry(id.as_str()).or_default().push(*v);
    }
    let objects: Vec<(String, Vec<i64>)> = by_id
        .into_iter()
        .map(|(id, mut vs)| {
            vs.sort_unstable();
            (id.to_string(), vs)
        })
        .collect();
    let mut batch_api = true;
    for batch in objects.chunks(withdrawal::MAX_OBJECTS) {
        run.renew().await?;
        if batch_api {
            batch_api = withdraw_batch(run, batch).await?;
        }
        if !batch_api {
            for (id, vs) in batch {
                withdraw_one(run, id, vs).await?;
            }
        }
        for (id, vs) in batch {
            let gone: Vec<(String, i64)> = vs.iter().map(|v| (id.clone(), *v)).collect();
            sent.record(run, Vec::new(), gone).await?;
            let mut e = run.audit_base(AuditKind::ObjectRelease);
            e.object_id = id.clone();
            e.object_version = vs
                .iter()
                .map(|v| format_micros(*v))
                .collect::<Vec<_>>()
                .join(",");
            e.outcome = relto_store::audit::AuditOutcome::Deny.into();
            e.detail = format!(
                "withdrawn from peer {}: its organization no longer receives this copy",
                run.plan.name
            );
            run.st.audit.record(e).await;
        }
    }
    Ok(())
}

/// The versions a withdrawal names at the peer: these, or every one (None) for a
/// cyber-observable, which has no version of its own: the peer dated its copy as it added
/// it, so only the id names it there.
fn named_versions(id: &str, versions: &[i64]) -> Option<Vec<i64>> {
    let versioned = !relto_stix::is_sco(id.split("--").next().unwrap_or_default());
    versioned.then(|| versions.to_vec())
}

/// One batch to a relto peer; false when the peer has no such resource (not a relto hub).
async fn withdraw_batch(run: &Run<'_>, batch: &[(String, Vec<i64>)]) -> Result<bool, PeerError> {
    let named: Vec<(String, Option<Vec<i64>>)> = batch
        .iter()
        .map(|(id, vs)| (id.clone(), named_versions(id, vs)))
        .collect();
    let body = serde_json::to_vec(&Withdrawals::new(&run.remote.collection_id, &named))
        .map_err(|e| PeerError(format!("cannot encode the withdrawals: {e}")))?;
    let answer = run.remote.post_json("/api/v1/withdrawals", body).await?;
    if matches!(
        answer.status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) {
        return Ok(false);
    }
    let answer = answer.expect(StatusCode::OK, "POST /api/v1/withdrawals")?;
    serde_json::from_slice::<WithdrawalResult>(&answer.body).map_err(|e| {
        PeerError(format!(
            "the peer's answer to withdrawals is not a result: {e}"
        ))
    })?;
    Ok(true)
}

/// One object's versions by TAXII 2.1 §5.8 DELETE.
async fn withdraw_one(run: &Run<'_>, id: &str, versions: &[i64]) -> Result<(), PeerError> {
    let list = match named_versions(id, versions) {
        Some(vs) => vs
            .iter()
            .map(|v| format_micros(*v))
            .collect::<Vec<_>>()
            .join(","),
        None => "all".to_string(),
    };
    let path = format!(
        "{}objects/{id}/?{}",
        run.remote.collection_path,
        serde_urlencoded::to_string([("match[version]", list)])
            .map_err(|e| PeerError(format!("cannot encode the query: {e}")))?
    );
    run.renew().await?;
    let answer = run.remote.delete(&path).await?;
    if answer.status != StatusCode::NOT_FOUND {
        answer.expect(StatusCode::OK, "DELETE object")?;
    }
    Ok(())
}

/// Sends a page the peer organization receives (TLP AMBER and RED kept back, copies the
/// peer already holds left out), in envelopes, each followed to its complete status; then
/// records the copies sent and audits the releases.
async fn send(run: &mut Run<'_>, mut served: Served, sent: &mut Ledger) -> Result<(), PeerError> {
    let items = std::mem::take(&mut served.page.items);
    let copies = sent.copies(run).await?;
    for o in items {
        if raw_withheld_from_peers(&o.raw) {
            served.redactions.dropped.push((o, TLP_WITHHELD.into()));
        } else if copies.get(&(o.stix_id.clone(), o.version)) != Some(&digest(&o.raw)) {
            served.page.items.push(o);
        }
    }
    // An envelope holds objects of one hop path (its headers name it), within MAX_ENVELOPE.
    let (mut start, mut accepted) = (0, 0);
    let items = &served.page.items;
    while start < items.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < items.len()
            && (end == start
                || (bytes + items[end].raw.len() <= MAX_ENVELOPE
                    && items[end].hops == items[start].hops))
        {
            bytes += items[end].raw.len();
            end += 1;
        }
        accepted += post(run, &items[start..end]).await?;
        start = end;
    }
    let copies = served
        .page
        .items
        .iter()
        .map(|o| SentCopy {
            stix_id: o.stix_id.clone(),
            version: o.version,
            digest: digest(&o.raw),
        })
        .collect();
    sent.record(run, copies, Vec::new()).await?;
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

/// POSTs one envelope (objects of one hop path, named in its headers) and follows its status
/// until complete; returns how many objects the peer accepted. Objects it refuses are logged
/// (a re-post of a version it has counts as refused by some servers; a relto peer refuses
/// what already passed through it) and not retried.
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
    let carried = HopPath::from_stored(objects.first().and_then(|o| o.hops.as_deref()));
    let answer = run.remote.post(&path, body, &carried).await?;
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
