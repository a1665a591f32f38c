//! `relto migrate`: a stopped SQLite hub copied into an empty PostgreSQL database. This module
//! knows where each of the PostgreSQL store's load tables lives in the SQLite hub; the stores
//! know only their own schemas (the SQLite file is read here, the rows written through
//! `PostgresStore::begin_load`).

use std::path::Path;

use std::sync::Arc;

use relto_store::Store;
use relto_store_postgres::{is_postgres_url, Column, HubState, Load, LoadTable, PostgresStore};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags};

use crate::{audit_cmd, without_password, CliError, CliResult};

/// Rows per INSERT: each column goes over as one array, unnested server-side.
const CHUNK: usize = 2000;

/// The SQLite query that reads each table, its columns in the load's order.
fn select(table: LoadTable) -> &'static str {
    match table {
        LoadTable::ApiRoots => {
            "SELECT path, title, description, max_content_length, enabled FROM api_roots"
        }
        LoadTable::Organizations => {
            "SELECT slug, name, nation, identity, accredited, enabled, builtin FROM organizations"
        }
        LoadTable::Accounts => {
            "SELECT name, organization, roles, password_hash, clearances, enabled, builtin, public_key FROM accounts"
        }
        LoadTable::Tokens => "SELECT sha256, account, label, created_us, expires_us FROM tokens",
        LoadTable::Collections => {
            "SELECT pk, id, api_root, title, description, alias, readers, writers, enabled
             FROM collections ORDER BY pk"
        }
        LoadTable::Situations => {
            "SELECT pk, id, title, collection, originator, proposer, holdings, created_us
             FROM situations ORDER BY pk"
        }
        LoadTable::Stages => {
            "SELECT pk, situation, n, plan, state, changed_us FROM stages ORDER BY pk"
        }
        LoadTable::Approvals => "SELECT stage, account, snapshot, at_us FROM approvals",
        LoadTable::CoveredRows => "SELECT stage, row FROM covered_rows",
        LoadTable::LabelSets => {
            "SELECT id, key, markings, default_nation, alternatives, required_markings
             FROM label_sets ORDER BY id"
        }
        LoadTable::Markings => "SELECT id, raw FROM markings",
        LoadTable::Objects => {
            "SELECT row, collection, stix_id, type, spec_version, version, date_added, is_first,
                    is_last, raw, originator, label_set, ref_a, ref_b, has_object_refs, hops
             FROM objects ORDER BY row"
        }
        LoadTable::ObjectRefs => "SELECT row, idx, ref FROM object_refs ORDER BY row, idx",
        LoadTable::Statuses => "SELECT id, api_root, account, created_us, json FROM statuses",
        LoadTable::Peers => {
            "SELECT name, config, enabled, cursor, last_attempt_us, last_success_us, failures,
                    last_error, transferred, withheld FROM peers"
        }
        LoadTable::PeerSent => "SELECT peer, stix_id, version, digest FROM peer_sent",
        LoadTable::Audit => {
            "SELECT seq, ts_us, kind, actor, organization, source, object_id, object_version,
                    outcome, detail, prev_hash, hash FROM chain.audit ORDER BY seq"
        }
    }
}

/// `relto migrate`: the copy, then the proofs that it is whole (counts, audit chain).
pub async fn run(from: &Path, to: &str) -> CliResult<()> {
    if !from.is_file() {
        return Err(CliError(format!(
            "no SQLite hub at {} (give --data-dir or --from)",
            from.display()
        )));
    }
    if !is_postgres_url(to) {
        return Err(CliError(
            "--to must be a PostgreSQL URL (postgres://USER@HOST/DATABASE)".into(),
        ));
    }
    let target = PostgresStore::connect(to).await.map_err(|e| {
        CliError(format!(
            "cannot open PostgreSQL database {}: {e}",
            without_password(to)
        ))
    })?;
    let copied = copy(from, &target)
        .await
        .map_err(|e| CliError(format!("migration stopped, nothing committed: {}", e.0)))?;
    for (table, rows) in &copied {
        println!("{table:<14} {rows:>10} rows");
    }
    let target: Arc<dyn Store> = Arc::new(target);
    let records = audit_cmd::verify_store(target.as_ref()).await?;
    println!(
        "copied {} into {}; its audit chain of {records} records verifies",
        from.display(),
        without_password(to)
    );
    Ok(())
}

/// Copies the SQLite hub at `from` into `target`, in one transaction; returns the rows copied
/// per table.
async fn copy(from: &Path, target: &PostgresStore) -> CliResult<Vec<(&'static str, u64)>> {
    let source = open_source(from)?;
    let mut load = target.begin_load().await?;
    for table in LoadTable::ALL {
        copy_table(&source, &mut load, table).await?;
    }
    let meta = |key: &str| -> CliResult<Option<SqlValue>> {
        match source.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)) {
            Ok(v) => Ok(Some(v)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(sqlite_error(e)),
        }
    };
    let state = HubState {
        release_generation: match meta("release_generation")? {
            Some(SqlValue::Integer(g)) => g,
            _ => 0,
        },
        release_rules: match meta("release_rules")? {
            Some(SqlValue::Text(t)) => Some(t),
            Some(SqlValue::Blob(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        },
        cursor_key: match meta("cursor_key")? {
            Some(SqlValue::Blob(b)) => Some(b),
            _ => None,
        },
    };
    Ok(load.finish(state).await?)
}

fn open_source(path: &Path) -> CliResult<Connection> {
    let fail = |e: rusqlite::Error| CliError(format!("{}: {e}", path.display()));
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(fail)?;
    let audit = relto_store_sqlite::audit_path(path);
    conn.execute(
        "ATTACH DATABASE ?1 AS chain",
        [format!("file:{}?mode=ro", audit.display())],
    )
    .map_err(fail)?;
    Ok(conn)
}

fn sqlite_error(e: rusqlite::Error) -> CliError {
    CliError(format!("reading the SQLite hub: {e}"))
}

/// One pass over the SQLite table; every CHUNK rows go over as one INSERT.
async fn copy_table(source: &Connection, load: &mut Load, table: LoadTable) -> CliResult<()> {
    let mut columns: Vec<Column> = table
        .columns()
        .iter()
        .map(|(_, kind)| Column::new(*kind))
        .collect();
    let mut stmt = source.prepare(select(table)).map_err(sqlite_error)?;
    let mut rows = stmt.query([]).map_err(sqlite_error)?;
    loop {
        let row = rows.next().map_err(sqlite_error)?;
        if let Some(r) = row {
            for (i, c) in columns.iter_mut().enumerate() {
                push(c, r.get::<_, SqlValue>(i).map_err(sqlite_error)?);
            }
        }
        let pending = columns.first().map_or(0, Column::len);
        if pending == CHUNK || (row.is_none() && pending > 0) {
            load.insert(table, &columns).await?;
            columns.iter_mut().for_each(Column::clear);
        }
        if row.is_none() {
            return Ok(());
        }
    }
}

/// SQLite's loose types to the PostgreSQL column's (text kept as bytes where the column holds
/// bytes: the audit chain's fields are hashed as received).
fn push(column: &mut Column, v: SqlValue) {
    match (column, v) {
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
