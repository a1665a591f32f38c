//! `relto import`, `relto export` and `relto validate`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use relto_hub::audit::release_events;
use relto_hub::ingest::{write_events, Outcome, Poster};
use relto_hub::release::ReleaseView;
use relto_hub::Hub;
use relto_policy::nation::{Nation, OrgSlug};
use relto_store::{Account, Collection, ObjectQuery, Store};
use relto_taxii::VersionFilter;
use serde_json::{json, Value};

use crate::progress::Progress;
use crate::{CliError, CliResult, StoreArgs};
use relto_store::audit::{AuditKind, AuditOutcome};

const IMPORT_BATCH: usize = 1000;
const EXPORT_PAGE: usize = 1000;
/// Failures listed in full on standard error; the rest are counted.
const FAILURES_SHOWN: usize = 20;

fn read_input(file: &Path) -> CliResult<Vec<u8>> {
    if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| CliError(format!("cannot read standard input: {e}")))?;
        Ok(buf)
    } else {
        std::fs::read(file).map_err(|e| CliError(format!("cannot read {}: {e}", file.display())))
    }
}

pub async fn find_collection(
    store: &dyn Store,
    id: &str,
    api_root: Option<&str>,
) -> CliResult<Collection> {
    let roots: Vec<String> = match api_root {
        Some(r) => vec![r.to_string()],
        None => store
            .api_roots()
            .await?
            .into_iter()
            .map(|r| r.path)
            .collect(),
    };
    let mut found = Vec::new();
    for root in &roots {
        if let Some((_, c)) = store.collection(root, &id.to_ascii_lowercase()).await? {
            found.push(c);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(CliError(format!(
            "no collection '{id}'{}; `relto apply` a realm that declares it",
            api_root
                .map(|r| format!(" in API root '{r}'"))
                .unwrap_or_default()
        ))),
        _ => Err(CliError(format!(
            "collection '{id}' exists in several API roots; name one with --api-root"
        ))),
    }
}

/// Refuses `--as ACCOUNT` on a collection the account may not use over TAXII: the CLI grants
/// nothing the HTTP API would not.
fn check_grant(
    account: &Account,
    coll: &Collection,
    view: &ReleaseView,
    write: bool,
) -> CliResult<()> {
    let p = relto_server::auth::Principal {
        account: std::sync::Arc::new(account.clone()),
        source: "cli".into(),
    };
    let (ok, verb, list) = if write {
        (p.can_write(coll, &view.policy), "write to", "writers")
    } else {
        (p.can_read(coll, &view.policy), "read", "readers")
    };
    if ok {
        return Ok(());
    }
    Err(CliError(format!(
        "account '{}' may not {verb} collection '{}' ({}); add it (or its organization or community) to the collection's {list} in the realm",
        account.name, coll.title, coll.id
    )))
}

/// The account `--as` names, or the operator (the hub's organization, no release checks).
async fn acting_account(store: &dyn Store, name: Option<&str>) -> CliResult<Option<Account>> {
    match name {
        None => Ok(None),
        Some(n) => store
            .account(n)
            .await?
            .map(Some)
            .ok_or_else(|| CliError(format!("no enabled account named '{n}'"))),
    }
}

/// What `relto import` reads and `relto export` writes.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ImportFormat {
    Stix,
    Misp,
}

/// The collection `relto import` writes or `relto export` reads, and as whom.
pub struct ImportTarget<'a> {
    pub collection: &'a str,
    pub api_root: Option<&'a str>,
    pub as_account: Option<&'a str>,
}

pub async fn import(
    store_args: &StoreArgs,
    target: ImportTarget<'_>,
    file: &Path,
    quiet: bool,
    format: ImportFormat,
) -> CliResult<ExitCode> {
    let mut bytes = read_input(file)?;
    let store = store_args.open().await?;
    let coll = find_collection(store.as_ref(), target.collection, target.api_root).await?;
    let poster = acting_account(store.as_ref(), target.as_account).await?;
    let hub = Hub::new(store.clone(), 0);
    let view = hub.view().await?;
    if let Some(p) = &poster {
        check_grant(p, &coll, &view, true)?;
    }
    let (operator_org, operator_nation) = operator(store.as_ref()).await?;
    if let ImportFormat::Misp = format {
        let converted = hub
            .convert_misp(&view, &bytes, operator_nation.as_str())
            .await?
            .map_err(|e| CliError(format!("{}: {e}", file.display())))?;
        for note in &converted.notes {
            eprintln!("{note}");
        }
        bytes = converted.envelope.into_bytes();
    }
    let raws = relto_stix::parse_envelope(&bytes)
        .map_err(|e| CliError(format!("{}: {e}", file.display())))?;
    // One check of the whole file, as a TAXII POST checks an envelope: markings defined in it
    // may be used by its other objects.
    let poster_kind = match &poster {
        Some(p) => Poster::Account(p),
        None => Poster::Operator {
            organization: operator_org.as_str(),
            nation: operator_nation.as_str(),
        },
    };
    let raw_refs: Vec<&serde_json::value::RawValue> = raws.iter().map(|r| &**r).collect();
    let mut progress = Progress::new(raws.len(), quiet);
    let written = hub
        .ingest(&view, poster_kind, coll.pk, &raw_refs, IMPORT_BATCH, |n| {
            progress.advance(n)
        })
        .await?;
    let (actor, org) = match &poster {
        Some(p) => (p.name.as_str(), p.organization.slug.as_str()),
        None => ("operator", operator_org.as_str()),
    };
    let base = crate::audit_cmd::cli_event(AuditKind::ObjectWrite, actor, org);
    store.append_audit(write_events(&base, &written)).await?;
    let (mut added, mut duplicates) = (0usize, 0usize);
    let mut failures: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for w in &written {
        match &w.outcome {
            Outcome::Added => {
                added += 1;
                if let Some(note) = &w.note {
                    notes.push(format!("{}: {note}", w.id.as_deref().unwrap_or("(no id)")));
                }
            }
            Outcome::Duplicate => duplicates += 1,
            Outcome::Rejected(why) => {
                failures.push(format!("{}: {why}", w.id.as_deref().unwrap_or("(no id)")))
            }
        }
    }
    progress.finish();
    for n in &notes {
        eprintln!("{n}");
    }
    for f in failures.iter().take(FAILURES_SHOWN) {
        eprintln!("rejected {f}");
    }
    if failures.len() > FAILURES_SHOWN {
        eprintln!("… and {} more rejected", failures.len() - FAILURES_SHOWN);
    }
    println!(
        "imported {added} objects into '{}' ({duplicates} already present, {} rejected)",
        coll.title,
        failures.len()
    );
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The operator's organization and nation: the hub's own (created at the first `serve`).
async fn operator(store: &dyn Store) -> CliResult<(OrgSlug, Nation)> {
    Ok(match store.account("admin").await? {
        Some(a) => (a.organization.slug, a.organization.nation),
        None => {
            let hub = crate::hub_identity(crate::parse_nation(
                std::env::var("RELTO_NATION").ok().as_deref(),
            )?);
            (hub.organization, hub.nation)
        }
    })
}

/// What an export writes.
pub struct ExportForm {
    /// Every version, not only the latest.
    pub all_versions: bool,
    pub format: ImportFormat,
    /// An ACS marking beside each relto label.
    pub acs: bool,
}

pub async fn export(
    store_args: &StoreArgs,
    target: ImportTarget<'_>,
    output: Option<&Path>,
    ExportForm {
        all_versions,
        format,
        acs,
    }: ExportForm,
) -> CliResult<()> {
    if acs && matches!(format, ImportFormat::Misp) {
        return Err(CliError(
            "--acs adds ACS markings to a STIX bundle; MISP events carry tags instead (drop --acs or --format misp)".into(),
        ));
    }
    let store = store_args.open().await?;
    let coll = find_collection(store.as_ref(), target.collection, target.api_root).await?;
    let reader = acting_account(store.as_ref(), target.as_account).await?;
    // An export reads each page once: no copies are kept.
    let hub = Hub::new(store.clone(), 0);
    let view = hub.view().await?;
    if let Some(a) = &reader {
        check_grant(a, &coll, &view, false)?;
    }
    if reader.is_none() {
        eprintln!("relto: exporting every object unfiltered (operator); use --as ACCOUNT for what that account may receive");
    }
    let mut out: Box<dyn Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .map_err(|e| CliError(format!("cannot create {}: {e}", p.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    // MISP events are made of the whole export (a report and what it refers to).
    let mut for_misp: Option<Vec<serde_json::Value>> = match format {
        ImportFormat::Misp => Some(Vec::new()),
        ImportFormat::Stix => None,
    };
    if for_misp.is_none() {
        write!(
            out,
            "{{\"type\":\"bundle\",\"id\":\"bundle--{}\"",
            uuid::Uuid::new_v4()
        )?;
    }
    let mut acs_marker = None;
    if acs {
        let custodian = operator(store.as_ref()).await?.1;
        acs_marker = Some(relto_policy::acs::AcsMarker::new(
            &view.policy,
            custodian.as_str(),
            relto_policy::label::CARRIED_DEFINITION_CREATED,
        ));
    }
    let mut q = ObjectQuery::new(coll.pk, EXPORT_PAGE);
    if all_versions {
        q.versions = VersionFilter::all();
    }
    let mut count = 0usize;
    loop {
        // The account's pages through the one read path of TAXII; the operator's unfiltered.
        let (page, redactions) = match &reader {
            Some(account) => {
                let served = hub.read_page(&view, account, q.clone()).await?;
                (served.page, served.redactions)
            }
            None => (store.query_objects(&q).await?, Default::default()),
        };
        let next = page.items.last().map(|o| o.cursor());
        let (actor, org) = match &reader {
            Some(a) => (a.name.as_str(), a.organization.slug.as_str()),
            None => ("operator", ""),
        };
        let base = crate::audit_cmd::cli_event(AuditKind::ObjectRelease, actor, org);
        let path = if reader.is_some() {
            "export"
        } else {
            "operator export"
        };
        let events = release_events(&base, path, &page, &redactions);
        store.append_audit(events).await?;
        for o in &page.items {
            count += 1;
            if let Some(objects) = &mut for_misp {
                objects.push(
                    serde_json::from_str(&o.raw)
                        .map_err(|e| CliError(format!("{} is not JSON: {e}", o.stix_id)))?,
                );
                continue;
            }
            out.write_all(if count == 1 { b",\"objects\":[" } else { b"," })?;
            match &mut acs_marker {
                Some(marker) => {
                    let mut value: serde_json::Value = serde_json::from_str(&o.raw)
                        .map_err(|e| CliError(format!("{} is not JSON: {e}", o.stix_id)))?;
                    if marker.mark(&mut value) {
                        serde_json::to_writer(&mut out, &value)
                            .map_err(|e| CliError(format!("cannot write {}: {e}", o.stix_id)))?;
                    } else {
                        out.write_all(o.raw.as_bytes())?;
                    }
                }
                None => out.write_all(o.raw.as_bytes())?,
            }
        }
        match (page.more, next) {
            (true, Some(c)) => q.after = Some(c),
            _ => break,
        }
    }
    if let Some(objects) = for_misp {
        let (events, skipped) = relto_misp::to_misp(&objects);
        for s in &skipped {
            eprintln!("not exported: {s}");
        }
        serde_json::to_writer(&mut out, &serde_json::json!({ "response": events }))
            .map_err(|e| CliError(format!("cannot write the events: {e}")))?;
        out.write_all(b"\n")?;
        out.flush()?;
        eprintln!(
            "exported {} MISP events of {count} objects from '{}'",
            events.len(),
            coll.title
        );
        return Ok(());
    }
    if let Some(marker) = acs_marker {
        let (definitions, refused) = marker.finish();
        for why in &refused {
            eprintln!("no ACS marking for {why}");
        }
        for md in &definitions {
            count += 1;
            out.write_all(if count == 1 { b",\"objects\":[" } else { b"," })?;
            serde_json::to_writer(&mut out, md)
                .map_err(|e| CliError(format!("cannot write an ACS marking: {e}")))?;
        }
        eprintln!("added {} ACS marking-definitions", definitions.len());
    }
    if count > 0 {
        out.write_all(b"]")?;
    }
    out.write_all(b"}\n")?;
    out.flush()?;
    eprintln!("exported {count} objects from '{}'", coll.title);
    Ok(())
}

/// The objects of a file: one object, or the objects of a bundle or envelope.
fn objects_of(bytes: &[u8]) -> CliResult<Vec<String>> {
    let top: Value =
        serde_json::from_slice(bytes).map_err(|e| CliError(format!("not JSON: {e}")))?;
    let is_container = top.get("type").and_then(Value::as_str) == Some("bundle")
        || (top.get("type").is_none() && top.get("objects").is_some());
    if is_container {
        Ok(relto_stix::parse_envelope(bytes)?
            .iter()
            .map(|r| r.get().to_string())
            .collect())
    } else {
        String::from_utf8(bytes.to_vec())
            .map(|s| vec![s])
            .map_err(|_| CliError("not UTF-8".into()))
    }
}

pub fn validate(files: &[PathBuf]) -> CliResult<ExitCode> {
    let mut any_invalid = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in files {
        let bytes = read_input(file)?;
        let name = file.display().to_string();
        match objects_of(&bytes) {
            Err(e) => {
                any_invalid = true;
                writeln!(
                    out,
                    "{}",
                    json!({"file": name, "index": 0, "id": null, "valid": false, "error": e.0})
                )?;
            }
            Ok(objects) => {
                for (i, raw) in objects.iter().enumerate() {
                    let line = match relto_stix::validate_object(raw) {
                        Ok(meta) => json!({"file": name, "index": i, "id": meta.id, "valid": true}),
                        Err(e) => {
                            any_invalid = true;
                            json!({"file": name, "index": i, "id": e.id, "valid": false, "error": e.message})
                        }
                    };
                    writeln!(out, "{line}")?;
                }
            }
        }
    }
    Ok(if any_invalid {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn release_preview(
    store_args: &StoreArgs,
    collection: &str,
    api_root: Option<&str>,
    object: &str,
) -> CliResult<()> {
    let store = store_args.open().await?;
    let coll = find_collection(store.as_ref(), collection, api_root).await?;
    let view = Hub::new(store.clone(), 0).view().await?;
    let (_, preview) = relto_hub::release::preview_object(store.as_ref(), &view, coll.pk, object)
        .await?
        .ok_or_else(|| CliError(format!("no object '{object}' in '{}'", coll.title)))?;
    let mut e = crate::audit_cmd::cli_event(AuditKind::ReleasePreview, "operator", "");
    e.object_id = object.to_string();
    e.outcome = AuditOutcome::Ok.into();
    e.detail = format!("collection {}", coll.id);
    store.append_audit(vec![e]).await?;
    let text = serde_json::to_string_pretty(&preview).unwrap_or_else(|_| preview.to_string());
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout(), "{text}");
    Ok(())
}
