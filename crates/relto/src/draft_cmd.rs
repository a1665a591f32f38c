//! `relto draft`: a text report to a draft STIX bundle (issue 17), printed for an analyst to
//! check against the report's spans, then import.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use relto_hub::draft::DraftRequest;
use relto_hub::Hub;
use relto_stix::timestamp::format_micros;

use crate::transfer::find_collection;
use crate::{CliError, CliResult, StoreArgs};

/// What `relto draft` is given.
pub struct DraftArgs<'a> {
    pub store: &'a StoreArgs,
    pub collection: Option<&'a str>,
    pub api_root: Option<&'a str>,
    pub label: Option<&'a str>,
    pub output: Option<&'a Path>,
    pub file: &'a Path,
}

pub async fn draft(args: DraftArgs<'_>) -> CliResult<ExitCode> {
    let text = read_report(args.file)?;
    let store = args.store.open().await?;
    let collection = match args.collection {
        Some(id) => Some(find_collection(store.as_ref(), id, args.api_root).await?.pk),
        None => None,
    };
    let hub = Hub::new(store, 0);
    let view = hub.view().await?;
    let request = DraftRequest {
        text: &text,
        collection,
        reader: None,
        label: args.label,
        now: format_micros(relto_server::now_us() / 1000 * 1000),
    };
    let draft = hub
        .draft(&view, request)
        .await
        .map_err(|e| CliError(format!("{}: {e}", args.file.display())))?;
    let json = serde_json::to_string_pretty(&draft.bundle)
        .map_err(|e| CliError(format!("cannot write the bundle: {e}")))?;
    match args.output {
        Some(path) => std::fs::write(path, json + "\n")
            .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))?,
        None => println!("{json}"),
    }
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for e in &draft.extractions {
        let kind = e.key.split(':').next().unwrap_or("").to_string();
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let counts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    eprintln!(
        "relto: drafted {} from {}: {}; {} relationship(s); published {}. Check each against the report's x_relto_spans, then relto import",
        if args.output.is_some() { "a bundle" } else { "the bundle above" },
        args.file.display(),
        counts.join(", "),
        draft.relationships.len(),
        draft.published.as_deref().unwrap_or("not given in the text (now)"),
    );
    Ok(ExitCode::SUCCESS)
}

/// The report's bytes, at most one more than a draft takes (so that a larger one is named
/// as such without reading all of it).
fn read_report(file: &Path) -> CliResult<Vec<u8>> {
    let limit = relto_draft::MAX_TEXT as u64 + 1;
    let mut buf = Vec::new();
    let read = if file == Path::new("-") {
        std::io::stdin().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(file)
            .map_err(|e| CliError(format!("cannot read {}: {e}", file.display())))?
            .take(limit)
            .read_to_end(&mut buf)
    };
    read.map_err(|e| CliError(format!("cannot read {}: {e}", file.display())))?;
    Ok(buf)
}
