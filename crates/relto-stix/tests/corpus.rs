//! Runs `validate_object` over the shared corpus in `tests/stix-corpus/`:
//! every file under `valid/` must validate, every file under `invalid/`
//! must be rejected. (The same files are checked against the OASIS
//! stix2-validator by the project's Python agreement test; deliberate
//! differences are listed in `tests/stix-corpus/EXPECTED.md`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use relto_stix::{parse_envelope, validate_object};
use std::fs;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("tests")
        .join("stix-corpus")
}

fn json_files(sub: &str) -> Vec<(String, String)> {
    let dir = corpus_dir().join(sub);
    let mut out = Vec::new();
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 file name")
            .to_owned();
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        out.push((name, text));
    }
    out.sort();
    out
}

#[test]
fn valid_corpus_is_accepted() {
    let files = json_files("valid");
    assert!(
        files.len() >= 40,
        "expected a substantial valid corpus, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for (name, text) in &files {
        match validate_object(text) {
            Ok(meta) => {
                let id = meta.id.clone();
                assert!(id.starts_with(&format!("{}--", meta.object_type)), "{name}");
                assert_eq!(meta.spec_version, "2.1", "{name}");
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "valid corpus files rejected:\n{}",
        failures.join("\n")
    );
}

#[test]
fn invalid_corpus_is_rejected() {
    let files = json_files("invalid");
    assert!(
        files.len() >= 80,
        "expected at least 80 invalid files, found {}",
        files.len()
    );
    let mut accepted = Vec::new();
    for (name, text) in &files {
        match validate_object(text) {
            Ok(_) => accepted.push(name.clone()),
            Err(e) => {
                assert!(!e.message.is_empty(), "{name}: empty message");
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "invalid corpus files accepted:\n{}",
        accepted.join("\n")
    );
}

#[test]
fn every_type_is_covered_by_the_valid_corpus() {
    let mut types = std::collections::BTreeSet::new();
    for (_, text) in json_files("valid") {
        if let Ok(meta) = validate_object(&text) {
            types.insert(meta.object_type);
        }
    }
    for ty in [
        "attack-pattern",
        "campaign",
        "course-of-action",
        "grouping",
        "identity",
        "incident",
        "indicator",
        "infrastructure",
        "intrusion-set",
        "location",
        "malware",
        "malware-analysis",
        "note",
        "observed-data",
        "opinion",
        "report",
        "threat-actor",
        "tool",
        "vulnerability",
        "relationship",
        "sighting",
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
        "marking-definition",
        "language-content",
        "extension-definition",
    ] {
        assert!(types.contains(ty), "no valid corpus object of type {ty}");
    }
}

#[test]
fn corpus_as_one_envelope_round_trips_bytes() {
    // Put every valid object into one TAXII envelope and check that the
    // envelope parser hands back each object's exact text.
    let files = json_files("valid");
    let texts: Vec<String> = files.iter().map(|(_, t)| t.trim_end().to_owned()).collect();
    let body = format!(
        "{{\"objects\": [\n{}\n], \"more\": false}}",
        texts.join(",\n")
    );
    let raws = parse_envelope(body.as_bytes()).expect("envelope parses");
    assert_eq!(raws.len(), texts.len());
    for (raw, text) in raws.iter().zip(&texts) {
        assert_eq!(raw.get(), text);
        validate_object(raw.get()).expect("still valid");
    }
}
