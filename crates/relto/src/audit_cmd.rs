//! `relto audit …`: verify the chain, export it, show an object's ledger, take a checkpoint.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use relto_store::audit::{AuditEvent, AuditRecord, ChainVerifier, Checkpoint};
use relto_store::Store;

use crate::{CliError, CliResult, StoreArgs};
use relto_store::audit::AuditKind;

const PAGE: usize = 10_000;

/// Every record, in stored order, page by page.
async fn for_each_record(
    store: &dyn Store,
    mut f: impl FnMut(&AuditRecord) -> CliResult<()>,
) -> CliResult<()> {
    let mut after = 0;
    loop {
        let page = store.audit_records(after, PAGE).await?;
        for r in &page {
            f(r)?;
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = last.seq,
            _ => return Ok(()),
        }
    }
}

pub async fn verify(store_args: &StoreArgs, checkpoints: Option<&Path>) -> CliResult<ExitCode> {
    let store = store_args.open().await?;
    let checkpoints: Vec<Checkpoint> = match checkpoints {
        None => Vec::new(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| CliError(format!("cannot read {}: {e}", p.display())))?;
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    serde_json::from_str(l).map_err(|e| {
                        CliError(format!(
                            "{}: each line must be a checkpoint {{\"seq\":…,\"hash\":…}}: {e}",
                            p.display()
                        ))
                    })
                })
                .collect::<CliResult<_>>()?
        }
    };
    match walk_chain(store.as_ref(), &checkpoints).await? {
        Ok((n, last)) => {
            println!(
                "audit chain intact: {n} records{}",
                last.map(|(seq, hash)| format!(", last {seq} {hash}"))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(b) => {
            println!("audit chain BROKEN at {b}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The number of records of an intact chain, or an error naming where it breaks.
pub async fn verify_store(store: &dyn Store) -> CliResult<u64> {
    match walk_chain(store, &[]).await? {
        Ok((n, _)) => Ok(n),
        Err(b) => Err(CliError(format!("audit chain BROKEN at {b}"))),
    }
}

type ChainWalk = Result<(u64, Option<(i64, String)>), relto_store::audit::ChainBreak>;

/// Verifies the chain as a stream: only the last record is held, whatever its length.
async fn walk_chain(store: &dyn Store, checkpoints: &[Checkpoint]) -> CliResult<ChainWalk> {
    let mut verifier = ChainVerifier::new(checkpoints);
    let mut broken = None;
    let mut last: Option<(i64, String)> = None;
    for_each_record(store, |r| {
        if broken.is_none() {
            match verifier.push(r) {
                Ok(()) => last = Some((r.seq, r.hash.clone())),
                Err(b) => broken = Some(b),
            }
        }
        Ok(())
    })
    .await?;
    Ok(match broken {
        Some(b) => Err(b),
        None => verifier.finish().map(|n| (n, last)),
    })
}

/// Filters of `relto audit export`.
pub struct ExportFilter<'a> {
    pub organization: Option<&'a str>,
    pub object: Option<&'a str>,
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
}

impl ExportFilter<'_> {
    fn admits(&self, e: &AuditEvent) -> bool {
        self.organization.is_none_or(|o| e.organization == o)
            && self.object.is_none_or(|o| e.object_id == o)
            && self.since_us.is_none_or(|t| e.ts_us >= t)
            && self.until_us.is_none_or(|t| e.ts_us < t)
    }
}

pub async fn export(store_args: &StoreArgs, filter: &ExportFilter<'_>) -> CliResult<()> {
    let store = store_args.open().await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for_each_record(store.as_ref(), |r| {
        if filter.admits(&r.event) {
            let line = serde_json::to_string(r).map_err(|e| CliError(e.to_string()))?;
            writeln!(out, "{line}")?;
        }
        Ok(())
    })
    .await?;
    out.flush()?;
    Ok(())
}

/// Who received which version of an object, whole or redacted (and who was refused).
pub async fn ledger(store_args: &StoreArgs, object: &str) -> CliResult<()> {
    let store = store_args.open().await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    writeln!(
        out,
        "{:<27} {:<14} {:<20} {:<24} {:<7} detail",
        "when", "organization", "account", "version", "outcome"
    )?;
    for_each_record(store.as_ref(), |r| {
        let e = &r.event;
        if e.object_id == object
            && (e.kind == AuditKind::ObjectRelease || e.kind == AuditKind::ObjectWrite)
        {
            writeln!(
                out,
                "{:<27} {:<14} {:<20} {:<24} {:<7} {}{}",
                relto_stix::timestamp::format_micros(e.ts_us),
                e.organization,
                e.actor,
                e.object_version,
                e.outcome,
                if e.kind == AuditKind::ObjectWrite {
                    "write; "
                } else {
                    ""
                },
                e.detail
            )?;
        }
        Ok(())
    })
    .await?;
    out.flush()?;
    Ok(())
}

/// Prints the last record as a checkpoint line, to be kept outside the hub.
pub async fn checkpoint(store_args: &StoreArgs) -> CliResult<()> {
    let store = store_args.open().await?;
    let cp = store
        .audit_head()
        .await?
        .ok_or_else(|| CliError("the audit chain is empty".into()))?;
    println!(
        "{}",
        serde_json::to_string(&cp).map_err(|e| CliError(e.to_string()))?
    );
    Ok(())
}

/// Prints the chain heads `peer` gave this hub to keep (its `peer.witness` records), one
/// checkpoint line each, oldest first.
pub async fn witnesses(store_args: &StoreArgs, peer: &str) -> CliResult<()> {
    let store = store_args.open().await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut kept = 0;
    for_each_record(store.as_ref(), |r| {
        if r.event.kind == AuditKind::PeerWitness && r.event.actor == peer {
            writeln!(out, "{}", r.event.detail)?;
            kept += 1;
        }
        Ok(())
    })
    .await?;
    out.flush()?;
    if kept == 0 {
        return Err(CliError(format!(
            "no chain head of '{peer}' is kept here: name the account the peer hub posts with, or peer:NAME for a [[peer]] of the realm"
        )));
    }
    Ok(())
}

/// An event the command line records about itself (source `cli`).
pub fn cli_event(kind: AuditKind, actor: &str, organization: &str) -> AuditEvent {
    AuditEvent {
        ts_us: relto_server::now_us(),
        kind: kind.into(),
        actor: actor.into(),
        organization: organization.into(),
        source: "cli".into(),
        ..AuditEvent::default()
    }
}
