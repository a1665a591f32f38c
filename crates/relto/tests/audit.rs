//! Tampering with the audit chain in the database — editing, deleting, inserting or
//! reordering any single record — is detected by `relto audit verify`, which names it. On
//! SQLite the files are copied and edited; on PostgreSQL (RELTO_TEST_BACKEND=postgres) the
//! rows are edited in place, with relto's guards switched off as an intruder would, and put
//! back after each check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::{database_for, postgres, psql, relto};
use relto_store::audit::{chain, AuditEvent};
use rusqlite::{params, Connection};

const COLL: &str = "2f6e6c5e-3d43-4a0e-9c7d-0a1b2c3d4e5f";

/// A hub with an audit chain of about a hundred records.
fn hub_with_history() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let realm = format!(
        "{}/../../examples/quickstart.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    assert!(relto(dir.path(), &["apply", &realm]).status.success());
    let objs: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"type":"note","spec_version":"2.1","id":"note--0b9c8d7e-6f5a-4b3c-9d2e-{i:012}","created":"2024-10-25T00:00:00.000Z","modified":"2024-10-25T00:00:00.000Z","content":"Convoy {i}","object_refs":["note--0b9c8d7e-6f5a-4b3c-9d2e-{i:012}"],"object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]}}"#
            )
        })
        .collect();
    let bundle = dir.path().join("b.json");
    std::fs::write(&bundle, format!("{{\"objects\":[{}]}}", objs.join(","))).unwrap();
    let out = relto(
        dir.path(),
        &[
            "import",
            "--collection",
            COLL,
            "--as",
            "nis-analyst",
            bundle.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for reader in ["bnd-reader", "army-analyst"] {
        let out = relto(
            dir.path(),
            &["export", "--collection", COLL, "--as", reader],
        );
        assert!(out.status.success());
    }
    dir
}

/// A copy of the data directory to tamper with.
fn copy_of(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let dst = tempfile::tempdir().unwrap();
    for f in [
        "relto.db",
        "relto.db-wal",
        "relto.db-shm",
        "relto.audit.db",
        "relto.audit.db-wal",
        "relto.audit.db-shm",
    ] {
        let from = src.join(f);
        if from.exists() {
            std::fs::copy(&from, dst.path().join(f)).unwrap();
        }
    }
    // The chain is in its own file beside the objects.
    let db = dst.path().join("relto.audit.db");
    (dst, db)
}

/// Runs `audit verify`; Ok(count) when intact, Err(seq named) when broken.
fn verify(dir: &Path, checkpoints: Option<&Path>) -> Result<u64, i64> {
    let mut args = vec!["audit", "verify"];
    let cp;
    if let Some(p) = checkpoints {
        cp = p.to_string_lossy().into_owned();
        args.extend(["--checkpoints", cp.as_str()]);
    }
    let out = relto(dir, &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        let n = text
            .split_whitespace()
            .nth(3)
            .and_then(|w| w.parse().ok())
            .expect("count");
        return Ok(n);
    }
    assert_eq!(out.status.code(), Some(1), "{text}");
    let named = text
        .split("audit record ")
        .nth(1)
        .and_then(|t| t.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no record named in: {text}"));
    Err(named)
}

fn open(db: &Path) -> Connection {
    let c = Connection::open(db).unwrap();
    // An attacker with the database file can drop relto's own guards first.
    c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    c
}

fn count(dir: &Path) -> i64 {
    verify(dir, None).expect("intact") as i64
}

#[test]
fn every_single_tampering_is_detected_and_named() {
    if postgres() {
        return; // tampering_in_postgres_is_detected_and_named
    }
    let hub = hub_with_history();
    let n = count(hub.path());
    assert!(n > 80, "only {n} records");
    // The guards hold against relto's own connection.
    let c = Connection::open(hub.path().join("relto.audit.db")).unwrap();
    assert!(c.execute("DELETE FROM audit WHERE seq = 1", []).is_err());
    assert!(c
        .execute("UPDATE audit SET outcome = 'x' WHERE seq = 1", [])
        .is_err());
    drop(c);

    for k in 1..=n {
        // Edit one field of record k.
        let (dir, db) = copy_of(hub.path());
        open(&db)
            .execute(
                "UPDATE audit SET detail = detail || ' (edited)' WHERE seq = ?1",
                [k],
            )
            .unwrap();
        assert_eq!(verify(dir.path(), None), Err(k), "edit of {k}");

        // Delete record k (the last one is caught by a checkpoint kept elsewhere).
        let (dir, db) = copy_of(hub.path());
        let cp = dir.path().join("cp.jsonl");
        let last_hash: String = Connection::open(&db)
            .unwrap()
            .query_row("SELECT hash FROM audit WHERE seq = ?1", [n], |r| r.get(0))
            .unwrap();
        std::fs::write(&cp, format!("{{\"seq\":{n},\"hash\":\"{last_hash}\"}}\n")).unwrap();
        open(&db)
            .execute("DELETE FROM audit WHERE seq = ?1", [k])
            .unwrap();
        assert_eq!(verify(dir.path(), Some(&cp)), Err(k), "deletion of {k}");
    }

    for k in (1..n).step_by(3) {
        // Swap records k and k+1 (reordering).
        let (dir, db) = copy_of(hub.path());
        let c = open(&db);
        c.execute_batch(&format!(
            "CREATE TEMP TABLE a AS SELECT * FROM audit WHERE seq = {k};
             CREATE TEMP TABLE b AS SELECT * FROM audit WHERE seq = {k} + 1;
             DELETE FROM audit WHERE seq IN ({k}, {k} + 1);
             INSERT INTO audit SELECT {k}, ts_us, kind, actor, organization, source, object_id, object_version, outcome, detail, prev_hash, hash FROM b;
             INSERT INTO audit SELECT {k} + 1, ts_us, kind, actor, organization, source, object_id, object_version, outcome, detail, prev_hash, hash FROM a;"
        ))
        .unwrap();
        drop(c);
        assert_eq!(
            verify(dir.path(), None),
            Err(k),
            "swap of {k} and {}",
            k + 1
        );

        // Insert a forged record at k, well chained to k-1, shifting the rest up.
        let (dir, db) = copy_of(hub.path());
        let c = open(&db);
        let prev: Option<(i64, String)> = c
            .query_row("SELECT seq, hash FROM audit WHERE seq = ?1", [k - 1], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .ok();
        let forged = chain(
            prev.as_ref().map(|(s, h)| (*s, h.as_str())),
            AuditEvent {
                ts_us: 1,
                kind: "object.release".into(),
                actor: "nobody".into(),
                outcome: "allow".into(),
                ..AuditEvent::default()
            },
        );
        c.execute_batch(&format!(
            "UPDATE audit SET seq = seq + 1000000 WHERE seq >= {k};
             UPDATE audit SET seq = seq - 1000000 + 1 WHERE seq >= 1000000;"
        ))
        .unwrap();
        let e = &forged.event;
        c.execute(
            "INSERT INTO audit VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                forged.seq,
                e.ts_us,
                e.kind,
                e.actor,
                e.organization,
                e.source,
                e.object_id,
                e.object_version,
                e.outcome,
                e.detail,
                forged.prev_hash,
                forged.hash
            ],
        )
        .unwrap();
        drop(c);
        let named = verify(dir.path(), None).expect_err("insertion undetected");
        assert!(
            named == k || named == k + 1,
            "insertion at {k} named {named}"
        );
    }
}

#[test]
fn tampering_in_postgres_is_detected_and_named() {
    if !postgres() {
        return; // every_single_tampering_is_detected_and_named
    }
    let hub = hub_with_history();
    let url = database_for(hub.path()).expect("a database");
    let n = count(hub.path());
    assert!(n > 80, "only {n} records");
    // The guards hold against the hub's own role.
    for sql in [
        "DELETE FROM audit WHERE seq = 1",
        "UPDATE audit SET outcome = 'x' WHERE seq = 1",
        "TRUNCATE audit",
    ] {
        let refused = psql(&url, sql).expect_err(sql);
        assert!(refused.contains("append-only"), "{refused}");
    }
    // An intruder with the database switches them off; each edit is undone after its check.
    psql(
        &url,
        "ALTER TABLE audit DISABLE TRIGGER USER; CREATE TABLE kept AS SELECT * FROM audit",
    )
    .unwrap();
    let restore = |k: i64| {
        psql(
            &url,
            &format!(
                "DELETE FROM audit WHERE seq IN ({k}, {k} + 1); INSERT INTO audit SELECT * FROM kept WHERE seq IN ({k}, {k} + 1)"
            ),
        )
        .unwrap();
        assert_eq!(verify(hub.path(), None), Ok(n as u64), "restored after {k}");
    };
    let cp = hub.path().join("cp.jsonl");
    let last_hash = psql(&url, &format!("SELECT hash FROM audit WHERE seq = {n}")).unwrap();
    std::fs::write(&cp, format!("{{\"seq\":{n},\"hash\":\"{last_hash}\"}}\n")).unwrap();
    for k in (1..=n).step_by(5) {
        psql(
            &url,
            &format!("UPDATE audit SET detail = detail || '\\x20'::bytea WHERE seq = {k}"),
        )
        .unwrap();
        assert_eq!(verify(hub.path(), None), Err(k), "edit of {k}");
        restore(k);
        psql(&url, &format!("DELETE FROM audit WHERE seq = {k}")).unwrap();
        assert_eq!(verify(hub.path(), Some(&cp)), Err(k), "deletion of {k}");
        restore(k);
        if k < n {
            psql(
                &url,
                &format!(
                    "UPDATE audit SET seq = -1 WHERE seq = {k}; UPDATE audit SET seq = {k} WHERE seq = {k} + 1;
                     UPDATE audit SET seq = {k} + 1 WHERE seq = -1"
                ),
            )
            .unwrap();
            assert_eq!(
                verify(hub.path(), None),
                Err(k),
                "swap of {k} and {}",
                k + 1
            );
            restore(k);
        }
    }
}

#[test]
fn export_ledger_and_checkpoint() {
    let hub = hub_with_history();
    let out = relto(
        hub.path(),
        &["audit", "export", "--organization", "deu-bnd"],
    );
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 40, "one release per exported note");
    assert!(lines
        .iter()
        .all(|l| l["kind"] == "object.release" && l["actor"] == "bnd-reader"));
    let id = "note--0b9c8d7e-6f5a-4b3c-9d2e-000000000007";
    let out = relto(hub.path(), &["audit", "ledger", id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("deu-bnd") && text.contains("kor-army") && text.contains("write"),
        "{text}"
    );
    let out = relto(hub.path(), &["audit", "checkpoint"]);
    let cp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(cp["seq"].as_i64().unwrap() > 80);
    let out = relto(hub.path(), &["audit", "export", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
}
