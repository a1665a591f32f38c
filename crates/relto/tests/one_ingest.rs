//! One ingest path: the same file imported with `relto import` and posted over TAXII gives
//! the same stored objects and the same outcome for every object — on the STIX corpus (valid
//! and invalid objects of every type) with hostile marking-definitions added (a statement
//! under a label's name-based id, a malformed label, objects marked with them, a label and
//! objects it marks, an unknown marking).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

mod common;

use common::{command, relto, spawn_server, text};

const COLL: &str = "2f6e6c5e-3d43-4a0e-9c7d-0a1b2c3d4e5f";
const EXT: &str = "extension-definition--e40c05f5-cb0e-4b28-8c2a-db52ed2bc0e2";

/// Every object of the corpus, then the hostile marking-definitions and what they mark.
fn corpus() -> Vec<serde_json::Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/stix-corpus");
    let mut out = Vec::new();
    for sub in ["valid", "invalid"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for f in files {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&f).unwrap())
            else {
                continue; // not JSON at all: the envelope would not parse either way
            };
            match v.get("objects").and_then(|o| o.as_array()) {
                Some(objects) => out.extend(objects.iter().cloned()),
                None => out.push(v),
            }
        }
    }
    let canonical = relto_policy::label::Label::new("KOR", "II", Some(&["KOR"]), &[]);
    let created = "2024-01-01T00:00:00.000Z";
    let marked = |n: u32, marking: &str| {
        serde_json::json!({"type": "indicator", "spec_version": "2.1",
            "id": format!("indicator--5e4d3c2b-1a09-4f8e-9d7c-{n:012}"),
            "created": created, "modified": created, "name": format!("marked {n}"),
            "pattern": "[ipv4-addr:value = '192.0.2.1']", "pattern_type": "stix",
            "valid_from": created, "object_marking_refs": [marking]})
    };
    let taken = canonical.id();
    out.push(
        serde_json::json!({"type": "marking-definition", "spec_version": "2.1",
        "id": taken, "created": created, "definition_type": "statement",
        "definition": {"statement": "open to all"}}),
    );
    out.push(marked(1, &taken));
    let broken = "marking-definition--3f2e1d0c-9b8a-4765-8432-10fedcba9876";
    out.push(serde_json::json!({"type": "marking-definition", "spec_version": "2.1",
        "id": broken, "created": created, "name": "broken",
        "extensions": {EXT: {"extension_type": "property-extension", "policy": "NATO", "classification": 5}}}));
    out.push(marked(2, broken));
    let real = canonical.to_marking_definition(created);
    let real_id = real["id"].as_str().unwrap().to_string();
    // The real label after the statement under its id: the statement is refused, the label
    // stands, and objects marked with it are judged by it.
    out.push(real);
    out.push(marked(3, &real_id));
    out.push(marked(
        4,
        "marking-definition--00000000-0000-4000-8000-0000000000ff",
    ));
    out
}

/// (id, outcome, detail) of every object.write record of a hub's audit chain.
fn write_records(dir: &Path) -> BTreeSet<(String, String, String)> {
    let out = relto(dir, &["audit", "export"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["kind"] == "object.write")
        .map(|r| {
            (
                r["object_id"].as_str().unwrap_or("").to_string(),
                r["outcome"].as_str().unwrap_or("").to_string(),
                r["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The objects a hub stores (every version), as JSON values.
fn stored(dir: &Path) -> BTreeSet<String> {
    let out = relto(dir, &["export", "--collection", COLL, "--all-versions"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    bundle["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|o| o.to_string())
        .collect()
}

#[test]
fn import_and_post_store_the_same_and_say_the_same() {
    let quickstart = format!(
        "{}/../../examples/quickstart.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let objects = corpus();
    assert!(objects.len() > 250, "{} objects", objects.len());
    let (imported, posted) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [imported.path(), posted.path()] {
        let out = relto(dir, &["apply", &quickstart]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let file = imported.path().join("corpus.json");
    std::fs::write(
        &file,
        serde_json::json!({"type": "bundle", "id": "bundle--0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
            "objects": objects})
        .to_string(),
    )
    .unwrap();
    let out = relto(
        imported.path(),
        &[
            "import",
            "--collection",
            COLL,
            "--as",
            "nis-analyst",
            "--quiet",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "some objects are invalid");

    let mut serve = command(posted.path());
    serve
        .args(["serve", "--listen", "127.0.0.1:0", "--log", "warn"])
        .env("RELTO_ADMIN_PASSWORD", "admin-secret");
    let server = spawn_server(serve);
    let envelope = posted.path().join("envelope.json");
    std::fs::write(
        &envelope,
        serde_json::json!({ "objects": objects }).to_string(),
    )
    .unwrap();
    let resp = Command::new("curl")
        .args([
            "-s",
            "-u",
            "nis-analyst:nis-secret",
            "-H",
            "Content-Type: application/taxii+json;version=2.1",
            "-H",
            "Accept: application/taxii+json;version=2.1",
            "--data-binary",
            &format!("@{}", envelope.display()),
            &format!("{}/coalition/collections/{COLL}/objects/", server.1),
        ])
        .output()
        .expect("curl");
    let status: serde_json::Value = serde_json::from_slice(&resp.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&resp.stdout)));
    assert_eq!(status["total_count"], objects.len(), "{status}");
    assert!(status["failure_count"].as_u64().unwrap() > 150, "{status}");
    // The records are written by the server's queue: stop it, then read the chain.
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(server);

    let (a, b) = (write_records(imported.path()), write_records(posted.path()));
    assert_eq!(a.len(), b.len());
    let only_import: Vec<_> = a.difference(&b).take(3).collect();
    let only_post: Vec<_> = b.difference(&a).take(3).collect();
    assert!(
        only_import.is_empty() && only_post.is_empty(),
        "outcomes differ: import {only_import:?}, POST {only_post:?}"
    );
    for (id, outcome) in [
        (
            "indicator--5e4d3c2b-1a09-4f8e-9d7c-000000000002",
            "rejected",
        ),
        (
            "indicator--5e4d3c2b-1a09-4f8e-9d7c-000000000004",
            "rejected",
        ),
    ] {
        assert!(a.iter().any(|r| r.0 == id && r.1 == outcome), "{id}");
    }
    assert_eq!(stored(imported.path()), stored(posted.path()));
}
