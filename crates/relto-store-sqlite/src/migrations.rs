//! Schema migrations, applied in order; `PRAGMA user_version` records how many have run.

use relto_store::StoreError;
use rusqlite::Connection;

use crate::db_err;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE api_roots (
    path TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT,
    max_content_length INTEGER NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE organizations (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    nation TEXT NOT NULL,
    identity TEXT NOT NULL,
    accredited TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1,
    builtin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    organization TEXT NOT NULL REFERENCES organizations(slug),
    roles TEXT NOT NULL,
    password_hash TEXT,
    clearances TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1,
    builtin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tokens (
    sha256 BLOB PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts(name),
    label TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER
);
CREATE TABLE collections (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    api_root TEXT NOT NULL REFERENCES api_roots(path),
    title TEXT NOT NULL,
    description TEXT,
    alias TEXT,
    readers TEXT NOT NULL,
    writers TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE objects (
    row INTEGER PRIMARY KEY,
    collection INTEGER NOT NULL REFERENCES collections(pk),
    stix_id TEXT NOT NULL,
    type TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    version INTEGER NOT NULL,
    date_added INTEGER NOT NULL,
    is_first INTEGER NOT NULL,
    is_last INTEGER NOT NULL,
    raw TEXT NOT NULL,
    -- The release predicate's columns (DESIGN §3): who created it, the label set every reader
    -- must pass, the endpoints a reader must see (relationship, sighting), whether it has
    -- object_refs of which one must be visible.
    originator TEXT NOT NULL,
    label_set INTEGER NOT NULL REFERENCES label_sets(id),
    ref_a TEXT,
    ref_b TEXT,
    has_object_refs INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE label_sets (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    markings TEXT NOT NULL,
    default_nation TEXT
);
CREATE TABLE object_refs (
    row INTEGER NOT NULL REFERENCES objects(row) ON DELETE CASCADE,
    ref TEXT NOT NULL
);
CREATE INDEX object_refs_by_row ON object_refs (row);
CREATE TABLE markings (id TEXT PRIMARY KEY, raw TEXT NOT NULL);
CREATE UNIQUE INDEX objects_by_version ON objects (collection, stix_id, version);
CREATE INDEX objects_by_added ON objects (collection, date_added, row);
CREATE INDEX objects_by_type ON objects (collection, type, date_added, row);
-- Covers the release predicate's look-ups of referenced objects (is it visible, what does it
-- stand on) without reading the rows, which hold the objects' bytes.
CREATE INDEX objects_visibility
    ON objects (collection, stix_id, is_last, label_set, originator, ref_a, ref_b);
CREATE TABLE statuses (
    id TEXT PRIMARY KEY,
    api_root TEXT NOT NULL,
    account TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX statuses_by_created ON statuses (created_us);
"#,
    r#"
-- Every row carries the release facts of what it stands on, kept current by each write
-- (DESIGN §3, rule 5): a relationship the label set and originator of the latest version of
-- each endpoint, an object_refs entry those of the referenced object and of its endpoints.
-- The release predicate then reads them beside the row instead of looking up each
-- referenced object per reader and per read (measured at 100,000 objects: the references
-- of a page of 100 reports 0.82 -> 0.24 ms). Label set 0: stands on nothing; -1: on an
-- object not in the collection (no reader passes it).
ALTER TABLE objects ADD COLUMN a_label_set INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN a_originator TEXT NOT NULL DEFAULT '';
ALTER TABLE objects ADD COLUMN b_label_set INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN b_originator TEXT NOT NULL DEFAULT '';
UPDATE objects SET
    a_label_set = coalesce((SELECT x.label_set FROM objects x WHERE x.collection = objects.collection
                            AND x.stix_id = objects.ref_a AND x.is_last = 1), -1),
    a_originator = coalesce((SELECT x.originator FROM objects x WHERE x.collection = objects.collection
                             AND x.stix_id = objects.ref_a AND x.is_last = 1), '')
WHERE ref_a IS NOT NULL;
UPDATE objects SET
    b_label_set = coalesce((SELECT x.label_set FROM objects x WHERE x.collection = objects.collection
                            AND x.stix_id = objects.ref_b AND x.is_last = 1), -1),
    b_originator = coalesce((SELECT x.originator FROM objects x WHERE x.collection = objects.collection
                             AND x.stix_id = objects.ref_b AND x.is_last = 1), '')
WHERE ref_b IS NOT NULL;
CREATE TABLE object_refs_facts (
    row INTEGER NOT NULL REFERENCES objects(row) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    collection INTEGER NOT NULL,
    ref TEXT NOT NULL,
    label_set INTEGER NOT NULL,
    originator TEXT NOT NULL,
    a_label_set INTEGER NOT NULL,
    a_originator TEXT NOT NULL,
    b_label_set INTEGER NOT NULL,
    b_originator TEXT NOT NULL,
    -- A row's references with their facts, read in order without another index.
    PRIMARY KEY (row, idx)
) WITHOUT ROWID;
INSERT INTO object_refs_facts
SELECT r.row, row_number() OVER (PARTITION BY r.row ORDER BY r.rowid) - 1, o.collection, r.ref,
       coalesce(h.label_set, -1), coalesce(h.originator, ''),
       coalesce(h.a_label_set, 0), coalesce(h.a_originator, ''),
       coalesce(h.b_label_set, 0), coalesce(h.b_originator, '')
FROM object_refs r JOIN objects o ON o.row = r.row
LEFT JOIN objects h ON h.collection = o.collection AND h.stix_id = r.ref AND h.is_last = 1
ORDER BY r.rowid;
DROP TABLE object_refs;
ALTER TABLE object_refs_facts RENAME TO object_refs;
-- Who refers to an object, and who stands on it: the rows a write must bring up to date.
CREATE INDEX object_refs_by_ref ON object_refs (collection, ref);
CREATE INDEX objects_by_ref_a ON objects (collection, ref_a, is_last, stix_id) WHERE ref_a IS NOT NULL;
CREATE INDEX objects_by_ref_b ON objects (collection, ref_b, is_last, stix_id) WHERE ref_b IS NOT NULL;
-- Ids named (by a reference or as an endpoint) while the collection held no version of
-- them: when one arrives, the rows naming it take its facts. Any other new object is named
-- by nothing, which this small table tells a write at the cost of one probe.
CREATE TABLE unresolved_refs (
    collection INTEGER NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (collection, id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO unresolved_refs SELECT collection, ref FROM object_refs WHERE label_set = -1;
INSERT OR IGNORE INTO unresolved_refs SELECT collection, ref_a FROM objects WHERE a_label_set = -1;
INSERT OR IGNORE INTO unresolved_refs SELECT collection, ref_b FROM objects WHERE b_label_set = -1;
-- Reads no longer look referenced objects up; a write finds the latest version by id.
DROP INDEX objects_visibility;
-- Counts the writes to each collection: a reader's redacted copies are kept per generation.
ALTER TABLE collections ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- Rule 5 over every STIX reference: a language-content stands on the object it translates,
-- and observed-data needs one of its object_refs seen, as reports do (facts as migration 2).
UPDATE objects SET ref_a = json_extract(raw, '$.object_ref')
WHERE type = 'language-content' AND ref_a IS NULL;
UPDATE objects SET
    a_label_set = coalesce((SELECT x.label_set FROM objects x WHERE x.collection = objects.collection
                            AND x.stix_id = objects.ref_a AND x.is_last = 1), -1),
    a_originator = coalesce((SELECT x.originator FROM objects x WHERE x.collection = objects.collection
                             AND x.stix_id = objects.ref_a AND x.is_last = 1), '')
WHERE type = 'language-content' AND ref_a IS NOT NULL;
UPDATE object_refs SET
    a_label_set = (SELECT x.a_label_set FROM objects x WHERE x.collection = object_refs.collection
                   AND x.stix_id = object_refs.ref AND x.is_last = 1),
    a_originator = (SELECT x.a_originator FROM objects x WHERE x.collection = object_refs.collection
                    AND x.stix_id = object_refs.ref AND x.is_last = 1)
WHERE ref IN (SELECT stix_id FROM objects WHERE type = 'language-content' AND is_last = 1);
INSERT INTO object_refs (row, idx, collection, ref, label_set, originator,
                         a_label_set, a_originator, b_label_set, b_originator)
SELECT o.row, CAST(j.key AS INTEGER), o.collection, j.value,
       coalesce(h.label_set, -1), coalesce(h.originator, ''),
       coalesce(h.a_label_set, 0), coalesce(h.a_originator, ''),
       coalesce(h.b_label_set, 0), coalesce(h.b_originator, '')
FROM objects o JOIN json_each(o.raw, '$.object_refs') j
LEFT JOIN objects h ON h.collection = o.collection AND h.stix_id = j.value AND h.is_last = 1
WHERE o.type = 'observed-data' AND o.has_object_refs = 0;
UPDATE objects SET has_object_refs = 1
WHERE type = 'observed-data' AND json_type(raw, '$.object_refs') = 'array';
INSERT OR IGNORE INTO unresolved_refs SELECT collection, ref FROM object_refs WHERE label_set = -1;
INSERT OR IGNORE INTO unresolved_refs SELECT collection, ref_a FROM objects WHERE a_label_set = -1;
"#,
    r#"
-- A row's object_refs entries' facts, also as one text on the row ("idx,label_set,
-- a_label_set,b_label_set,originator,a_originator,b_originator" per entry, ';' between), so a
-- reader's page learns which entries it does not see from the row itself instead of visiting
-- every entry per row (measured at 100,000 objects: a partner's page of 100 reports spent
-- 110 µs of its 250 µs statement there). The insert of a row writes it with its entries;
-- triggers keep it equal to the entries whichever later write changes them.
ALTER TABLE objects ADD COLUMN refs_facts TEXT;
CREATE TRIGGER object_refs_facts_update AFTER UPDATE ON object_refs
BEGIN UPDATE objects SET refs_facts = (SELECT group_concat(f, ';') FROM (SELECT
    r.idx || ',' || r.label_set || ',' || r.a_label_set || ',' || r.b_label_set || ',' ||
    r.originator || ',' || r.a_originator || ',' || r.b_originator AS f
    FROM object_refs r WHERE r.row = NEW.row ORDER BY r.idx)) WHERE row = NEW.row; END;
CREATE TRIGGER object_refs_facts_delete AFTER DELETE ON object_refs
BEGIN UPDATE objects SET refs_facts = (SELECT group_concat(f, ';') FROM (SELECT
    r.idx || ',' || r.label_set || ',' || r.a_label_set || ',' || r.b_label_set || ',' ||
    r.originator || ',' || r.a_originator || ',' || r.b_originator AS f
    FROM object_refs r WHERE r.row = OLD.row ORDER BY r.idx)) WHERE row = OLD.row; END;
UPDATE objects SET refs_facts = (SELECT group_concat(f, ';') FROM (SELECT
    r.idx || ',' || r.label_set || ',' || r.a_label_set || ',' || r.b_label_set || ',' ||
    r.originator || ',' || r.a_originator || ',' || r.b_originator AS f
    FROM object_refs r WHERE r.row = objects.row ORDER BY r.idx))
WHERE has_object_refs = 1;
"#,
    r#"
-- Release plans (DESIGN §9). A stage in effect covers exact object versions: each covered
-- row is moved to a label set that holds, beside its own labels, the plans of the stages
-- covering it (stages of one plan share a set; covered_rows says which stage covers which
-- row, for withdrawals), so the reader's
-- filter (the label sets it passes) and every copy of the row's facts stay as they are.
ALTER TABLE label_sets ADD COLUMN alternatives TEXT NOT NULL DEFAULT '[]';
ALTER TABLE label_sets ADD COLUMN required_markings TEXT NOT NULL DEFAULT '[]';
CREATE TABLE situations (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    collection INTEGER NOT NULL REFERENCES collections(pk),
    originator TEXT NOT NULL,
    proposer TEXT NOT NULL,
    holdings TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE TABLE stages (
    pk INTEGER PRIMARY KEY,
    situation INTEGER NOT NULL REFERENCES situations(pk),
    n INTEGER NOT NULL,
    plan TEXT NOT NULL,
    state TEXT NOT NULL,
    changed_us INTEGER,
    UNIQUE (situation, n)
);
CREATE TABLE approvals (
    stage INTEGER NOT NULL REFERENCES stages(pk),
    account TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    PRIMARY KEY (stage, account, snapshot)
);
CREATE TABLE covered_rows (
    stage INTEGER NOT NULL REFERENCES stages(pk),
    row INTEGER NOT NULL,
    PRIMARY KEY (stage, row)
);
CREATE INDEX covered_rows_by_row ON covered_rows (row);
"#,
    // Peer hubs (DESIGN §11): the realm's declaration as JSON, and where each exchange stands.
    r#"
CREATE TABLE peers (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    cursor TEXT,
    last_attempt_us INTEGER,
    last_success_us INTEGER,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    transferred INTEGER NOT NULL DEFAULT 0,
    withheld INTEGER NOT NULL DEFAULT 0
);
"#,
    // A peer's lease: the node exchanging with it, and until when (DESIGN §11: no two nodes
    // push the same objects).
    r#"
ALTER TABLE peers ADD COLUMN lease_holder TEXT;
ALTER TABLE peers ADD COLUMN lease_until_us INTEGER;
"#,
    // A peer hub's account: the Ed25519 public key its writes must be signed by (DESIGN §11).
    r#"
ALTER TABLE accounts ADD COLUMN public_key TEXT;
"#,
    // What each push peer has been sent and holds: one copy per object version (DESIGN §11).
    r#"
CREATE TABLE peer_sent (
    peer TEXT NOT NULL,
    stix_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (peer, stix_id, version)
);
"#,
    // The hubs a version passed through before it arrived here, its origin first (DESIGN
    // §11); NULL for what began here.
    r#"
ALTER TABLE objects ADD COLUMN hops TEXT;
"#,
    // A row's copy of its object_refs facts is rebuilt once per write transaction, not once
    // per changed entry: a trigger that rebuilt it for every entry made an envelope whose
    // report precedes the N objects it names cost O(N²) (a 1,000-attribute MISP event in
    // misp-stix's order: 18 s). The rows to rebuild are noted here until the commit.
    r#"
DROP TRIGGER object_refs_facts_update;
CREATE TABLE stale_refs_facts (row INTEGER PRIMARY KEY);
"#,
];

/// The audit chain lives in its own file, attached as `chain`: every served read appends to
/// it, and a commit to a SQLite file empties every reader's page cache for that file. Kept
/// apart, the audit's commits leave the objects' cached pages alone (measured: a filtered
/// reader's full read-back 2.1 → 1.8 ms per page of 100, as fast as with the audit off).
const AUDIT_MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE chain.audit (
    seq INTEGER PRIMARY KEY,
    ts_us INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    organization TEXT NOT NULL,
    source TEXT NOT NULL,
    object_id TEXT NOT NULL,
    object_version TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- Append-only for relto itself; the hash chain is what proves it to everyone else.
CREATE TRIGGER chain.audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
CREATE TRIGGER chain.audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
"#,
    // An object's ledger (the console's object page) without reading the whole chain.
    r#"
CREATE INDEX chain.audit_by_object ON audit (object_id, seq) WHERE object_id <> '';
"#,
];

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    run(conn, "main", MIGRATIONS)?;
    run(conn, "chain", AUDIT_MIGRATIONS)
}

fn run(conn: &mut Connection, schema: &str, migrations: &[&str]) -> Result<(), StoreError> {
    let done: i64 = conn
        .query_row(&format!("PRAGMA {schema}.user_version"), [], |r| r.get(0))
        .map_err(db_err)?;
    if done as usize > migrations.len() {
        return Err(StoreError::Internal(format!(
            "the database was written by a newer relto ({schema} schema {done}, this one knows {})",
            migrations.len()
        )));
    }
    for (i, sql) in migrations.iter().enumerate().skip(done as usize) {
        let tx = conn.transaction().map_err(db_err)?;
        tx.execute_batch(sql).map_err(db_err)?;
        tx.pragma_update(Some(schema), "user_version", (i + 1) as i64)
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use relto_store::conformance::{labelled, seed_collection};
    use relto_store::Store;
    use relto_taxii::VersionFilter;

    type Facts = (
        Vec<(i64, i64, String, i64, String)>,
        Vec<Vec<String>>,
        Vec<String>,
    );

    /// Every copy of release facts: on the rows (their endpoints') and on object_refs entries.
    fn facts(conn: &Connection) -> Facts {
        let rows = conn
            .prepare("SELECT row, a_label_set, a_originator, b_label_set, b_originator FROM objects ORDER BY row")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("rows");
        let refs = conn
            .prepare(
                "SELECT row, idx, collection, ref, label_set, originator, a_label_set, a_originator,
                        b_label_set, b_originator FROM object_refs ORDER BY row, idx",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    (0..10)
                        .map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}")))
                        .collect()
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .expect("refs");
        // The entries' facts on each row are the entries' facts.
        let (differ, kept): (i64, i64) = conn
            .query_row(
                "SELECT count(*) FILTER (WHERE coalesce(refs_facts, '') <> coalesce((
                     SELECT group_concat(f, ';') FROM (SELECT r.idx || ',' || r.label_set || ',' ||
                       r.a_label_set || ',' || r.b_label_set || ',' || r.originator || ',' ||
                       r.a_originator || ',' || r.b_originator AS f
                     FROM object_refs r WHERE r.row = o.row ORDER BY r.idx)), '')),
                        count(refs_facts)
                 FROM objects o",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("refs facts");
        assert_eq!(differ, 0, "rows whose refs_facts are not their entries'");
        assert!(kept > 0 || refs.is_empty());
        let unresolved = conn
            .prepare("SELECT collection || ' ' || id FROM unresolved_refs ORDER BY 1")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .expect("unresolved");
        (rows, refs, unresolved)
    }

    /// A hub written under the first schema and then migrated holds the same facts as one
    /// whose writes kept them current: relationships and reports over objects that arrive
    /// later, new versions with other labels, deletes of the latest and of every version.
    #[tokio::test(flavor = "current_thread")]
    async fn migrated_facts_equal_the_facts_writes_keep() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open_in_dir(dir.path()).expect("open");
        let pk = seed_collection(&store).await;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let id = |ty: &str, n: u64| format!("{ty}--00000000-0000-4000-8000-{n:012}");
        for step in 0..500u64 {
            let ty = ["indicator", "relationship", "report"][next(3) as usize];
            let n = next(12);
            let originator = ["kor-nis", "deu-bnd"][next(2) as usize];
            let marking = ["m1", "m2", "m3"][next(3) as usize];
            let mut o = labelled(ty, n as u32, originator, &[marking]);
            o.version = Some(1_000 + next(6) as i64);
            let any = |k: u64, m: u64| id(["indicator", "relationship", "report"][k as usize], m);
            match ty {
                "relationship" => {
                    o.release.endpoints = vec![any(next(3), next(12)), any(next(3), next(12))]
                }
                "report" => {
                    o.release.object_refs =
                        (0..1 + next(4)).map(|_| any(next(3), next(12))).collect()
                }
                _ => {}
            }
            store
                .add_objects(pk, vec![o], step as i64)
                .await
                .expect("add");
            if next(8) == 0 {
                let which = if next(2) == 0 {
                    VersionFilter::last()
                } else {
                    VersionFilter {
                        all: true,
                        ..VersionFilter::default()
                    }
                };
                store
                    .delete_object(pk, &any(next(3), next(12)), &which, &[])
                    .await
                    .expect("delete");
            }
        }
        drop(store);
        let main = dir.path().join("relto.db");
        let kept = facts(&Connection::open(&main).expect("open"));
        assert!(kept.1.len() > 100, "{} object_refs entries", kept.1.len());

        // The same rows under the first schema, then migrated.
        let old_dir = tempfile::tempdir().expect("tempdir");
        let mut old = crate::open_conn(&old_dir.path().join("relto.db"), 2048).expect("open");
        run(&mut old, "main", &MIGRATIONS[..1]).expect("first schema");
        old.execute("ATTACH DATABASE ?1 AS src", [main.to_string_lossy()])
            .expect("attach");
        old.execute_batch(
            "INSERT INTO label_sets SELECT id, key, markings, default_nation FROM src.label_sets;
             INSERT INTO api_roots SELECT * FROM src.api_roots;
             INSERT INTO collections SELECT pk, id, api_root, title, description, alias,
               readers, writers, enabled FROM src.collections;
             INSERT INTO objects SELECT row, collection, stix_id, type, spec_version, version,
               date_added, is_first, is_last, raw, originator, label_set, ref_a, ref_b,
               has_object_refs FROM src.objects;
             INSERT INTO object_refs (row, ref) SELECT row, ref FROM src.object_refs ORDER BY row, idx;
             DETACH DATABASE src;",
        )
        .expect("copy");
        run(&mut old, "main", MIGRATIONS).expect("migrate");
        let migrated = facts(&old);
        assert_eq!((&migrated.0, &migrated.1), (&kept.0, &kept.1));
        // Writes may leave an id unresolved after the last row naming it is deleted (its
        // arrival then updates nothing); every id named and absent must be there.
        assert!(!migrated.2.is_empty());
        for id in &migrated.2 {
            assert!(kept.2.contains(id), "{id} named, absent, not recorded");
        }
    }
}
