//! The machine's floors for the same rows: a bulk insert straight into SQLite (the tables and
//! indexes relto keeps for objects and their references, the same values, prepared
//! statements, a transaction per envelope, WAL;
//! like relto's writer it leaves checkpoints out of the inserts, and like relto's checkpoint
//! thread it copies the WAL into the file: one checkpoint at the end, timed with the load),
//! and reading the same bytes back page by page into an envelope, without HTTP.

use std::time::Instant;

use rusqlite::{params, Connection};
use serde_json::{json, Value};

use crate::workload::Object;
use crate::BATCH;

/// relto's tables and indexes for objects and their references (relto-store-sqlite's
/// migrations; kept in step by hand).
const SCHEMA: &str = "
CREATE TABLE objects (
    row INTEGER PRIMARY KEY, collection INTEGER NOT NULL, stix_id TEXT NOT NULL,
    type TEXT NOT NULL, spec_version TEXT NOT NULL, version INTEGER NOT NULL,
    date_added INTEGER NOT NULL, is_first INTEGER NOT NULL, is_last INTEGER NOT NULL,
    raw TEXT NOT NULL, originator TEXT NOT NULL, label_set INTEGER NOT NULL,
    ref_a TEXT, ref_b TEXT, has_object_refs INTEGER NOT NULL DEFAULT 0,
    a_label_set INTEGER NOT NULL DEFAULT 0, a_originator TEXT NOT NULL DEFAULT '',
    b_label_set INTEGER NOT NULL DEFAULT 0, b_originator TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX objects_by_version ON objects (collection, stix_id, version);
CREATE INDEX objects_by_added ON objects (collection, date_added, row);
CREATE INDEX objects_by_type ON objects (collection, type, date_added, row);
CREATE INDEX objects_by_ref_a ON objects (collection, ref_a, is_last, stix_id) WHERE ref_a IS NOT NULL;
CREATE INDEX objects_by_ref_b ON objects (collection, ref_b, is_last, stix_id) WHERE ref_b IS NOT NULL;
CREATE TABLE object_refs (
    row INTEGER NOT NULL, idx INTEGER NOT NULL, collection INTEGER NOT NULL, ref TEXT NOT NULL,
    label_set INTEGER NOT NULL, originator TEXT NOT NULL, a_label_set INTEGER NOT NULL,
    a_originator TEXT NOT NULL, b_label_set INTEGER NOT NULL, b_originator TEXT NOT NULL,
    PRIMARY KEY (row, idx)) WITHOUT ROWID;
CREATE INDEX object_refs_by_ref ON object_refs (collection, ref);
";

/// What relto stores beside an object's bytes: its endpoints and its object_refs.
struct Refs {
    ref_a: Option<String>,
    ref_b: Option<String>,
    object_refs: Vec<String>,
}

fn refs_of(o: &Object) -> Refs {
    let v: Value = serde_json::from_str(&o.json).unwrap_or(Value::Null);
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Refs {
        ref_a: text("source_ref").or_else(|| text("sighting_of_ref")),
        ref_b: text("target_ref"),
        object_refs: v
            .get("object_refs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub fn measure(objects: &[Object], page: usize) -> Result<Value, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut conn = Connection::open(dir.path().join("floor.db")).map_err(|e| e.to_string())?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768;
         PRAGMA wal_autocheckpoint=0;",
    )
    .map_err(|e| e.to_string())?;
    conn.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
    let refs: Vec<Refs> = objects.iter().map(refs_of).collect();
    let t = Instant::now();
    let mut date_added = 1_700_000_000_000_000i64;
    for (chunk, chunk_refs) in objects.chunks(BATCH).zip(refs.chunks(BATCH)) {
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO objects (collection, stix_id, type, spec_version, version, date_added,
                       is_first, is_last, raw, originator, label_set, ref_a, ref_b, has_object_refs)
                     VALUES (1, ?1, ?2, '2.1', ?3, ?4, 1, 1, ?5, 'bench', 1, ?6, ?7, ?8)",
                )
                .map_err(|e| e.to_string())?;
            let mut insert_ref = tx
                .prepare_cached(
                    "INSERT INTO object_refs VALUES (?1, ?2, 1, ?3, 1, 'bench', 0, '', 0, '')",
                )
                .map_err(|e| e.to_string())?;
            for (o, r) in chunk.iter().zip(chunk_refs) {
                date_added += 1;
                let ty = o.id.split("--").next().unwrap_or("");
                insert
                    .execute(params![
                        o.id,
                        ty,
                        date_added,
                        date_added,
                        o.json,
                        r.ref_a,
                        r.ref_b,
                        !r.object_refs.is_empty()
                    ])
                    .map_err(|e| e.to_string())?;
                let row = tx.last_insert_rowid();
                for (idx, id) in r.object_refs.iter().enumerate() {
                    insert_ref
                        .execute(params![row, idx as i64, id])
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        tx.commit().map_err(|e| e.to_string())?;
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(|e| e.to_string())?;
    let insert_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut read = 0usize;
    let mut after = (0i64, 0i64);
    let mut stmt = conn
        .prepare(
            "SELECT row, date_added, raw FROM objects WHERE collection = 1
               AND (date_added > ?1 OR (date_added = ?1 AND row > ?2))
             ORDER BY date_added, row LIMIT ?3",
        )
        .map_err(|e| e.to_string())?;
    loop {
        let mut envelope = String::from("{\"more\":true,\"objects\":[");
        let mut n = 0;
        let mut rows = stmt
            .query(params![after.0, after.1, page as i64])
            .map_err(|e| e.to_string())?;
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            if n > 0 {
                envelope.push(',');
            }
            let raw: String = r.get(2).map_err(|e| e.to_string())?;
            envelope.push_str(&raw);
            after = (
                r.get(1).map_err(|e| e.to_string())?,
                r.get(0).map_err(|e| e.to_string())?,
            );
            n += 1;
        }
        envelope.push_str("]}");
        std::hint::black_box(&envelope);
        read += n;
        if n < page {
            break;
        }
    }
    let read_s = t.elapsed().as_secs_f64();
    if read != objects.len() {
        return Err(format!("floor read {read} of {}", objects.len()));
    }
    Ok(json!({
        "insert_objects_per_s": (objects.len() as f64 / insert_s).round(),
        "read_objects_per_s": (read as f64 / read_s).round(),
    }))
}
