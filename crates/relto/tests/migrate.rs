//! `relto migrate`: a SQLite hub, used (objects, reads, so audit records), copied into an empty
//! PostgreSQL database. Afterwards the PostgreSQL hub exports the same bytes, its audit chain
//! verifies with the same records, and a `next` cursor handed out by the SQLite hub continues
//! on the PostgreSQL one. Needs RELTO_TEST_POSTGRES_URL (scripts/test.sh sets it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{psql, spawn_server, text, Server, BIN};

const COLL: &str = "2f6e6c5e-3d43-4a0e-9c7d-0a1b2c3d4e5f";

fn relto(dir: &Path, database: Option<&str>, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("RELTO_DATA_DIR", dir)
        .env("RELTO_PW_NIS", "nis-secret")
        .env("RELTO_PW_ARMY", "army-secret")
        .env("RELTO_PW_BND", "bnd-secret")
        .env("RELTO_ADMIN_PASSWORD", "admin-secret");
    match database {
        Some(url) => c.env("RELTO_DATABASE", url),
        None => c.env_remove("RELTO_DATABASE"),
    };
    c
}

fn run(dir: &Path, database: Option<&str>, args: &[&str]) -> Output {
    relto(dir, database, args).output().expect("run relto")
}

fn serve(dir: &Path, database: Option<&str>) -> Server {
    spawn_server(relto(
        dir,
        database,
        &["serve", "--listen", "127.0.0.1:0", "--log", "warn"],
    ))
}

/// GET a page of the collection as nis-analyst.
fn page(server: &Server, query: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", "-g", "-u", "nis-analyst:nis-secret", "-H"])
        .arg("Accept: application/taxii+json;version=2.1")
        .arg(format!(
            "{}/coalition/collections/{COLL}/objects/?{query}",
            server.1
        ))
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out.stdout)))
}

fn bundle(n: usize) -> String {
    let objs: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--0b9c8d7e-6f5a-4b3c-9d2e-{i:012}","created":"2024-10-25T00:00:00.000Z","modified":"2024-10-25T00:00:00.000Z","name":"Convoy {i}","pattern":"[ipv4-addr:value = '198.51.100.{}']","pattern_type":"stix","valid_from":"2024-10-25T00:00:00Z"}}"#,
                i % 250
            )
        })
        .collect();
    format!(r#"{{"objects":[{}]}}"#, objs.join(","))
}

#[test]
fn a_sqlite_hub_moves_to_postgres_whole() {
    let Some(admin) = relto_store_postgres::test_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let quickstart = format!(
        "{}/../../examples/quickstart.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    // The quickstart realm and a peer hub (its declaration and state are copied too).
    let realm = dir.path().join("realm.toml");
    std::fs::write(
        &realm,
        std::fs::read_to_string(&quickstart).unwrap() + common::BND_PEER,
    )
    .unwrap();
    assert!(run(dir.path(), None, &["apply", realm.to_str().unwrap()])
        .status
        .success());
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, bundle(250)).unwrap();
    let out = run(
        dir.path(),
        None,
        &["import", "--collection", COLL, file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    // On SQLite: a first page and its cursor, the page after it, the export, the chain.
    let (cursor, second) = {
        let s = serve(dir.path(), None);
        let first = page(&s, "limit=100");
        let cursor = first["next"]
            .as_str()
            .unwrap_or_else(|| panic!("{first}"))
            .to_string();
        (
            cursor.clone(),
            page(&s, &format!("limit=100&next={cursor}")),
        )
    };
    let export = |db: Option<&str>| {
        let out = run(
            dir.path(),
            db,
            &["export", "--collection", COLL, "--all-versions"],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        // The objects' bytes (the bundle's own id is new at each export).
        let bundle = text(&out.stdout);
        bundle
            .split_once("\"objects\":")
            .map(|(_, objects)| objects.to_string())
            .unwrap_or_default()
    };
    let sqlite_export = export(None);
    let verify = |db: Option<&str>| text(&run(dir.path(), db, &["audit", "verify"]).stdout);
    let sqlite_chain = verify(None);
    assert!(
        sqlite_chain.starts_with("audit chain intact"),
        "{sqlite_chain}"
    );

    let name = format!("relto_test_migrate_{}", std::process::id());
    let psql = |sql: &str| {
        psql(&admin, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    };
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    psql(&format!("CREATE DATABASE {name}"));
    let url = format!(
        "{}/{name}",
        admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b)
    );

    let out = run(dir.path(), None, &["migrate", "--to", &url]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // Every record came over: the copied chain verifies with the SQLite chain's count.
    let count = |s: &str| {
        s.split_whitespace()
            .nth(3)
            .and_then(|n| n.parse::<u64>().ok())
    };
    let migrated = text(&out.stdout);
    let copied_records = migrated
        .split("audit chain of ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    assert_eq!(copied_records, count(&sqlite_chain), "{migrated}");

    // The same hub on PostgreSQL.
    assert_eq!(
        export(Some(&url)),
        sqlite_export,
        "same objects, same bytes, same order"
    );
    let peers = |db: Option<&str>| text(&run(dir.path(), db, &["peers"]).stdout);
    assert!(peers(None).starts_with("bnd-hub  push"), "{}", peers(None));
    assert_eq!(peers(Some(&url)), peers(None), "the peers and their state");
    let pg_chain = verify(Some(&url));
    assert!(pg_chain.starts_with("audit chain intact"), "{pg_chain}");
    {
        let s = serve(dir.path(), Some(&url));
        let continued = page(&s, &format!("limit=100&next={cursor}"));
        assert_eq!(
            continued["objects"], second["objects"],
            "the SQLite cursor continues"
        );
    }

    // Into a database that already holds a hub: refused, and it says why.
    let again = run(dir.path(), None, &["migrate", "--to", &url]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("already holds a hub"),
        "{}",
        text(&again.stderr)
    );
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}
