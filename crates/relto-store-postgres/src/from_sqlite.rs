//! `relto migrate`: a stopped SQLite hub copied into an empty PostgreSQL database, table by
//! table, in one transaction (nothing is committed unless everything was copied). Row keys,
//! date_added, the cursor key and every audit record are kept as they were, so outstanding
//! `next` cursors stay valid and the audit chain verifies the same.

use std::path::Path;

use relto_store::StoreError;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags};
use tokio_postgres::types::ToSql;
use tokio_postgres::Transaction;

use crate::pool::{Error, R};
use crate::PostgresStore;

/// Rows per INSERT: each column goes over as one array, unnested server-side.
const CHUNK: usize = 2000;

/// How one column crosses over: SQLite's loose types to the PostgreSQL column's.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Bool,
    Text,
    /// Text in SQLite, bytes in PostgreSQL (the audit chain's client-supplied fields).
    TextAsBytes,
    Bytes,
}

/// A table: the query that reads it from SQLite, the INSERT into PostgreSQL, the columns'
/// kinds.
struct Table {
    name: &'static str,
    select: &'static str,
    insert: &'static str,
    kinds: &'static [Kind],
    /// The identity column whose sequence must continue after the copied keys.
    identity: Option<&'static str>,
}

use Kind::*;

const TABLES: &[Table] = &[
    Table {
        name: "api_roots",
        select: "SELECT path, title, description, max_content_length, enabled FROM api_roots",
        insert: "INSERT INTO api_roots (path, title, description, max_content_length, enabled)",
        kinds: &[Text, Text, Text, Int, Bool],
        identity: None,
    },
    Table {
        name: "organizations",
        select: "SELECT slug, name, nation, identity, accredited, enabled, builtin FROM organizations",
        insert: "INSERT INTO organizations (slug, name, nation, identity, accredited, enabled, builtin)",
        kinds: &[Text, Text, Text, Text, Text, Bool, Bool],
        identity: None,
    },
    Table {
        name: "accounts",
        select: "SELECT name, organization, roles, password_hash, clearances, enabled, builtin FROM accounts",
        insert: "INSERT INTO accounts (name, organization, roles, password_hash, clearances, enabled, builtin)",
        kinds: &[Text, Text, Text, Text, Text, Bool, Bool],
        identity: None,
    },
    Table {
        name: "tokens",
        select: "SELECT sha256, account, label, created_us, expires_us FROM tokens",
        insert: "INSERT INTO tokens (sha256, account, label, created_us, expires_us)",
        kinds: &[Bytes, Text, Text, Int, Int],
        identity: None,
    },
    Table {
        name: "collections",
        select: "SELECT pk, id, api_root, title, description, alias, readers, writers, enabled FROM collections ORDER BY pk",
        insert: "INSERT INTO collections (pk, id, api_root, title, description, alias, readers, writers, enabled)",
        kinds: &[Int, Text, Text, Text, Text, Text, Text, Text, Bool],
        identity: Some("collections.pk"),
    },
    Table {
        name: "label_sets",
        select: "SELECT id, key, markings, default_nation FROM label_sets ORDER BY id",
        insert: "INSERT INTO label_sets (id, key, markings, default_nation)",
        kinds: &[Int, Text, Text, Text],
        identity: Some("label_sets.id"),
    },
    Table {
        name: "markings",
        select: "SELECT id, raw FROM markings",
        insert: "INSERT INTO markings (id, raw)",
        kinds: &[Text, Text],
        identity: None,
    },
    Table {
        name: "objects",
        select: "SELECT row, collection, stix_id, type, spec_version, version, date_added, is_first,
                        is_last, raw, originator, label_set, ref_a, ref_b, has_object_refs
                 FROM objects ORDER BY row",
        insert: "INSERT INTO objects (row_id, collection, stix_id, type, spec_version, version,
                   date_added, is_first, is_last, raw, originator, label_set, ref_a, ref_b,
                   has_object_refs) OVERRIDING SYSTEM VALUE",
        kinds: &[Int, Int, Text, Text, Text, Int, Int, Bool, Bool, Text, Text, Int, Text, Text, Bool],
        identity: Some("objects.row_id"),
    },
    Table {
        name: "object_refs",
        select: "SELECT row, idx, ref FROM object_refs ORDER BY row, idx",
        insert: "INSERT INTO object_refs (row_id, idx, ref)",
        kinds: &[Int, Int, Text],
        identity: None,
    },
    Table {
        name: "statuses",
        select: "SELECT id, api_root, account, created_us, json FROM statuses",
        insert: "INSERT INTO statuses (id, api_root, account, created_us, json)",
        kinds: &[Text, Text, Text, Int, Text],
        identity: None,
    },
    Table {
        name: "audit",
        select: "SELECT seq, ts_us, kind, actor, organization, source, object_id, object_version,
                        outcome, detail, prev_hash, hash FROM chain.audit ORDER BY seq",
        insert: "INSERT INTO audit (seq, ts_us, kind, actor, organization, source, object_id,
                   object_version, outcome, detail, prev_hash, hash)",
        kinds: &[
            Int, Int, TextAsBytes, TextAsBytes, TextAsBytes, TextAsBytes, TextAsBytes,
            TextAsBytes, TextAsBytes, TextAsBytes, Text, Text,
        ],
        identity: None,
    },
];

impl PostgresStore {
    /// Copies the SQLite hub at `sqlite` (its `relto.db`, with the audit chain beside it)
    /// into this database, which must hold no hub yet. Returns the rows copied per table.
    pub async fn copy_from_sqlite(
        &self,
        sqlite: &Path,
    ) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let source = open_source(sqlite)?;
        // A connection of its own, without the request timeout: a large hub takes a while.
        let mut conn = self.pool.open().await?;
        let client = conn.client();
        client
            .batch_execute("SET statement_timeout = 0")
            .await
            .map_err(Error::from)?;
        let tx = client.transaction().await.map_err(Error::from)?;
        let copied = copy_all(&source, &tx).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(copied)
    }
}

fn open_source(path: &Path) -> Result<Connection, StoreError> {
    let fail = |e: rusqlite::Error| StoreError::Invalid(format!("{}: {e}", path.display()));
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(fail)?;
    let audit = relto_store_sqlite::audit_path(path);
    conn.execute(
        "ATTACH DATABASE ?1 AS chain",
        [format!("file:{}?mode=ro", audit.display())],
    )
    .map_err(fail)?;
    Ok(conn)
}

async fn copy_all(source: &Connection, tx: &Transaction<'_>) -> R<Vec<(&'static str, u64)>> {
    let holds: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM organizations) + (SELECT count(*) FROM objects)
                  + (SELECT count(*) FROM audit)",
            &[],
        )
        .await?
        .try_get(0)?;
    if holds > 0 {
        return Err(StoreError::Invalid(
            "the PostgreSQL database already holds a hub; migrate into an empty database".into(),
        )
        .into());
    }
    let mut copied = Vec::new();
    for table in TABLES {
        let n = copy_table(source, tx, table).await?;
        if let Some(col) = table.identity {
            let (t, c) = col.split_once('.').unwrap_or((col, "id"));
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), GREATEST((SELECT MAX({c}) FROM {t}), 1))"
                ),
                &[],
            )
            .await?;
        }
        copied.push((table.name, n));
    }
    // The hub's state: release generation and rules, the cursor key, the object clock.
    let meta = |key: &str| -> R<Option<SqlValue>> {
        source
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(sqlite_error(e)),
            })
    };
    let generation = match meta("release_generation")? {
        Some(SqlValue::Integer(g)) => g,
        _ => 0,
    };
    let rules = match meta("release_rules")? {
        Some(SqlValue::Text(t)) => Some(t),
        Some(SqlValue::Blob(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    };
    let cursor_key = match meta("cursor_key")? {
        Some(SqlValue::Blob(b)) => Some(b),
        _ => None,
    };
    tx.execute(
        "UPDATE hub_state SET release_generation = $1, release_rules = $2, cursor_key = $3",
        &[&generation, &rules, &cursor_key],
    )
    .await?;
    tx.execute(
        "UPDATE hub_clock SET last_date_added = GREATEST(last_date_added,
           (SELECT COALESCE(MAX(date_added), 0) FROM objects))",
        &[],
    )
    .await?;
    Ok(copied)
}

fn sqlite_error(e: rusqlite::Error) -> Error {
    StoreError::Invalid(format!("reading the SQLite hub: {e}")).into()
}

/// One column of a chunk, typed for PostgreSQL.
enum Column {
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Column {
    fn new(kind: Kind) -> Self {
        match kind {
            Int => Column::Int(Vec::new()),
            Bool => Column::Bool(Vec::new()),
            Text => Column::Text(Vec::new()),
            TextAsBytes | Bytes => Column::Bytes(Vec::new()),
        }
    }

    fn push(&mut self, v: SqlValue) {
        match (self, v) {
            (Column::Int(c), SqlValue::Integer(i)) => c.push(Some(i)),
            (Column::Bool(c), SqlValue::Integer(i)) => c.push(Some(i != 0)),
            (Column::Text(c), SqlValue::Text(t)) => c.push(Some(t)),
            (Column::Text(c), SqlValue::Blob(b)) => {
                c.push(Some(String::from_utf8_lossy(&b).into_owned()))
            }
            (Column::Text(c), SqlValue::Integer(i)) => c.push(Some(i.to_string())),
            (Column::Bytes(c), SqlValue::Text(t)) => c.push(Some(t.into_bytes())),
            (Column::Bytes(c), SqlValue::Blob(b)) => c.push(Some(b)),
            (Column::Int(c), _) => c.push(None),
            (Column::Bool(c), _) => c.push(None),
            (Column::Text(c), _) => c.push(None),
            (Column::Bytes(c), _) => c.push(None),
        }
    }

    fn cast(&self) -> &'static str {
        match self {
            Column::Int(_) => "bigint[]",
            Column::Bool(_) => "boolean[]",
            Column::Text(_) => "text[]",
            Column::Bytes(_) => "bytea[]",
        }
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Int(c) => c,
            Column::Bool(c) => c,
            Column::Text(c) => c,
            Column::Bytes(c) => c,
        }
    }

    fn clear(&mut self) {
        match self {
            Column::Int(c) => c.clear(),
            Column::Bool(c) => c.clear(),
            Column::Text(c) => c.clear(),
            Column::Bytes(c) => c.clear(),
        }
    }
}

async fn copy_table(source: &Connection, tx: &Transaction<'_>, table: &Table) -> R<u64> {
    let mut columns: Vec<Column> = table.kinds.iter().map(|k| Column::new(*k)).collect();
    let sql = format!(
        "{} SELECT * FROM unnest({})",
        table.insert,
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("${}::{}", i + 1, c.cast()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // One pass over the SQLite table; every CHUNK rows go over as one INSERT.
    let mut stmt = source.prepare(table.select).map_err(sqlite_error)?;
    let mut rows = stmt.query([]).map_err(sqlite_error)?;
    let mut total = 0u64;
    let mut pending = 0usize;
    loop {
        let row = rows.next().map_err(sqlite_error)?;
        if let Some(r) = row {
            for (i, c) in columns.iter_mut().enumerate() {
                c.push(r.get::<_, SqlValue>(i).map_err(sqlite_error)?);
            }
            pending += 1;
        }
        if pending == CHUNK || (row.is_none() && pending > 0) {
            let params: Vec<&(dyn ToSql + Sync)> = columns.iter().map(Column::param).collect();
            tx.execute(sql.as_str(), &params).await?;
            columns.iter_mut().for_each(Column::clear);
            total += pending as u64;
            pending = 0;
        }
        if row.is_none() {
            break;
        }
    }
    Ok(total)
}
