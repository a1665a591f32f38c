//! The audit chain's appends (one chain across nodes, under an advisory lock) and reads.

use super::*;
use relto_store::audit;

pub(crate) async fn append_events(db: Tx<'_>, events: &[audit::AuditEvent]) -> R<()> {
    // One chain for all nodes: the lock (held to commit) makes appends take turns, and the
    // SELECT below, a statement after the wait, sees the record the one before appended.
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .await?;
    let mut last: Option<(i64, String)> = match db
        .query_opt("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])
        .await?
    {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
        None => None,
    };
    let records: Vec<audit::AuditRecord> = events
        .iter()
        .map(|e| {
            let r = audit::chain(last.as_ref().map(|(s, h)| (*s, h.as_str())), e.clone());
            last = Some((r.seq, r.hash.clone()));
            r
        })
        .collect();
    let col = |f: fn(&audit::AuditEvent) -> &String| -> Vec<&[u8]> {
        records.iter().map(|r| f(&r.event).as_bytes()).collect()
    };
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    let ts: Vec<i64> = records.iter().map(|r| r.event.ts_us).collect();
    let (kind, actor, org, source) = (
        col(|e| &e.kind),
        col(|e| &e.actor),
        col(|e| &e.organization),
        col(|e| &e.source),
    );
    let (object_id, object_version, outcome, detail) = (
        col(|e| &e.object_id),
        col(|e| &e.object_version),
        col(|e| &e.outcome),
        col(|e| &e.detail),
    );
    let prev: Vec<&str> = records.iter().map(|r| r.prev_hash.as_str()).collect();
    let hash: Vec<&str> = records.iter().map(|r| r.hash.as_str()).collect();
    // The whole batch in one statement: parallel arrays, unnested together.
    db.execute(
        "INSERT INTO audit (seq, ts_us, kind, actor, organization, source, object_id,
                            object_version, outcome, detail, prev_hash, hash)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[],
                              $6::bytea[], $7::bytea[], $8::bytea[], $9::bytea[], $10::bytea[],
                              $11::text[], $12::text[])",
        &[
            &seqs,
            &ts,
            &kind,
            &actor,
            &org,
            &source,
            &object_id,
            &object_version,
            &outcome,
            &detail,
            &prev,
            &hash,
        ],
    )
    .await?;
    Ok(())
}

pub(crate) fn audit_text(r: &Row, i: usize) -> R<String> {
    // Lossy: bytes altered outside relto still come back, and the chain's hashes name them.
    Ok(String::from_utf8_lossy(r.try_get::<_, &[u8]>(i)?).into_owned())
}

pub(crate) fn audit_from_row(r: &Row) -> R<audit::AuditRecord> {
    Ok(audit::AuditRecord {
        seq: r.try_get(0)?,
        event: audit::AuditEvent {
            ts_us: r.try_get(1)?,
            kind: audit_text(r, 2)?,
            actor: audit_text(r, 3)?,
            organization: audit_text(r, 4)?,
            source: audit_text(r, 5)?,
            object_id: audit_text(r, 6)?,
            object_version: audit_text(r, 7)?,
            outcome: audit_text(r, 8)?,
            detail: audit_text(r, 9)?,
        },
        prev_hash: r.try_get(10)?,
        hash: r.try_get(11)?,
    })
}
