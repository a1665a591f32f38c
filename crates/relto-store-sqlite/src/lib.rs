//! relto's embedded store: one SQLite file in WAL mode (and the audit chain in a second file
//! beside it). One writer connection (SQLite admits
//! one writer at a time anyway) and a small pool of readers, all used from tokio's blocking
//! pool so that no query stalls the async workers.
#![forbid(unsafe_code)]

mod migrations;
mod objects;
mod plans;
mod queries;
mod realm;

use objects::*;
use queries::*;
use realm::*;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use relto_store::rows::{
    self, json_list, tally, Columns, VersionTerm, ACCOUNT_SELECT, AUDIT_SELECT, COLLECTION_SELECT,
    LABEL_SET_SELECT, ORGANIZATION_SELECT, PEER_RUN_SQL, PEER_SELECT,
};
use relto_store::*;
use relto_taxii::VersionFilter;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, ToSql, Transaction};

/// Readers kept open between requests; more are opened under load and closed after.
const IDLE_READERS: usize = 8;
/// Reads in the blocking pool at once; the rest wait their turn. Without a bound, a burst
/// (a thousand live streams woken by one write) opened a connection with a cold cache per
/// read and the threads fought over SQLite's locks: measured, a third of the server's time.
const BLOCKING_READS: usize = IDLE_READERS;
/// Page cache per connection, KiB. A reader's release predicate looks up every referenced
/// object in the visibility index; with 2 MiB it re-read index pages from the OS on each
/// page of reports (measured in the sqlite3 shell at 100,000 objects: the hidden references
/// of 100 reports 1.35 ms with 2 MiB, under 1 ms with more). The writer's cache holds the
/// indexes' hot pages during imports.
const READER_CACHE_KIB: i64 = 16 * 1024;
const WRITER_CACHE_KIB: i64 = 32 * 1024;

pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    blocking_reads: tokio::sync::Semaphore,
}

struct Writer {
    conn: Connection,
    /// The highest date_added handed out: each new object gets a strictly greater one, so
    /// `added_after` with a page's last date_added never skips an object.
    last_date_added: i64,
}

fn db_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, ref m)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable(m.clone().unwrap_or_else(|| "database busy".into()))
        }
        other => StoreError::Internal(other.to_string()),
    }
}

/// The audit chain's file beside the objects' one: `relto.db` → `relto.audit.db`.
pub fn audit_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_default();
    let audit = match name.strip_suffix(".db") {
        Some(stem) => format!("{stem}.audit.db"),
        None => format!("{name}.audit"),
    };
    path.with_file_name(audit)
}

fn open_conn(path: &Path, cache_kib: i64) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(db_err)?;
    conn.execute(
        "ATTACH DATABASE ?1 AS chain",
        [audit_path(path).to_string_lossy()],
    )
    .map_err(db_err)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA chain.journal_mode=WAL; PRAGMA synchronous=NORMAL;
         PRAGMA chain.synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;
         PRAGMA cache_size=-{cache_kib}; PRAGMA chain.cache_size=-512; PRAGMA temp_store=MEMORY;
         PRAGMA mmap_size=1073741824;"
    ))
    .map_err(db_err)?;
    // rarray(): passes a list of rows to a query as one value.
    rusqlite::vtab::array::load_module(&conn).map_err(db_err)?;
    // Queries differ by filters and by each reader's label sets; parsing the release
    // predicate costs more than running it, so keep many prepared.
    conn.set_prepared_statement_cache_capacity(256);
    // Without the query planner stability guarantee, SQLite re-prepares a statement each
    // time a bound value (an object id, a cursor) changes, because the value might pick a
    // better plan: measured, that re-parsing was a third of a read's server time. Our
    // queries name their indexes where it matters.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(db_err)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = open_conn(&path, WRITER_CACHE_KIB)?;
        migrations::migrate(&mut conn)?;
        let last_date_added: i64 = conn
            .query_row(
                "SELECT COALESCE(MAX(date_added), 0) FROM objects",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        // Checkpoints (copying the WAL back into the file, with an fsync) run in a thread of
        // their own instead of inside whichever write crossed the WAL's threshold: measured,
        // they were a sixth of ingest's time.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(db_err)?;
        let inner = Arc::new(Inner {
            path,
            writer: Mutex::new(Writer {
                conn,
                last_date_added,
            }),
            readers: Mutex::new(Vec::new()),
            blocking_reads: tokio::sync::Semaphore::new(BLOCKING_READS),
        });
        start_checkpointer(&inner)?;
        Ok(Self { inner })
    }

    /// Opens `relto.db` under a data directory, creating the directory.
    pub fn open_in_dir(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir.as_ref()).map_err(|e| {
            StoreError::Internal(format!(
                "cannot create data directory {}: {e}",
                dir.as_ref().display()
            ))
        })?;
        Self::open(dir.as_ref().join("relto.db"))
    }

    /// Runs `f` on a reader connection in the blocking pool: for reads that may take long.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _turn = self
            .inner
            .blocking_reads
            .acquire()
            .await
            .map_err(|_| StoreError::Internal("the store is closing".into()))?;
        let inner = self.inner.clone();
        blocking(move || with_reader(&inner, f)).await
    }

    /// Runs `f` on a reader connection right here. Point lookups by key take microseconds,
    /// less than the hand-over to the blocking pool would cost.
    fn read_now<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        with_reader(&self.inner, f)
    }

    /// Runs `f` in a write transaction in the blocking pool; commits when it returns Ok.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &mut i64) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            let mut w = inner.writer.lock().map_err(poisoned)?;
            let Writer {
                conn,
                last_date_added,
            } = &mut *w;
            let mut last = *last_date_added;
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err)?;
            let out = f(&tx, &mut last)?;
            objects::rebuild_stale_refs_facts(&tx)?;
            tx.commit().map_err(db_err)?;
            *last_date_added = last;
            Ok(out)
        })
        .await
    }
}

/// How often the checkpoint thread looks at the WAL.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Runs passive checkpoints of both files (they never block readers or the writer) until
/// the store is dropped.
fn start_checkpointer(inner: &Arc<Inner>) -> Result<(), StoreError> {
    let conn = open_conn(&inner.path, 1024)?;
    let store = Arc::downgrade(inner);
    std::thread::Builder::new()
        .name("relto-checkpoint".into())
        .spawn(move || {
            while store.strong_count() > 0 {
                std::thread::sleep(CHECKPOINT_EVERY);
                // A busy or failed checkpoint is retried at the next turn; the WAL keeps
                // every commit meanwhile.
                let _ = conn.execute_batch(
                    "PRAGMA main.wal_checkpoint(PASSIVE); PRAGMA chain.wal_checkpoint(PASSIVE);",
                );
            }
        })
        .map(|_| ())
        .map_err(|e| StoreError::Internal(format!("cannot start the checkpoint thread: {e}")))
}

fn with_reader<T>(inner: &Inner, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    let pooled = inner.readers.lock().map_err(poisoned)?.pop();
    let conn = match pooled {
        Some(c) => c,
        None => open_conn(&inner.path, READER_CACHE_KIB)?,
    };
    let out = f(&conn);
    let mut pool = inner.readers.lock().map_err(poisoned)?;
    if pool.len() < IDLE_READERS {
        pool.push(conn);
    }
    out
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> StoreError {
    StoreError::Internal("a store lock was poisoned by a panic".into())
}

async fn blocking<T, F>(f: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StoreResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
}

#[async_trait]
impl Store for SqliteStore {
    async fn cursor_key(&self) -> StoreResult<[u8; 32]> {
        self.write(|tx, _| {
            let existing: Option<Vec<u8>> = tx
                .query_row("SELECT value FROM meta WHERE key = 'cursor_key'", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db_err)?;
            if let Some(k) = existing.filter(|k| k.len() == 32) {
                let mut out = [0u8; 32];
                out.copy_from_slice(&k);
                return Ok(out);
            }
            let mut key = [0u8; 32];
            getrandom::fill(&mut key)
                .map_err(|e| StoreError::Internal(format!("no randomness: {e}")))?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor_key', ?1)",
                [&key[..]],
            )
            .map_err(db_err)?;
            Ok(key)
        })
        .await
    }

    async fn bootstrap(&self, hub: &HubIdentity, admin_password_hash: &str) -> StoreResult<bool> {
        let hub = hub.clone();
        let hash = admin_password_hash.to_string();
        self.write(move |tx, _| {
            tx.execute(
                "INSERT OR IGNORE INTO organizations (slug, name, nation, identity, accredited, enabled, builtin)
                 VALUES (?1, 'Hub operator', ?2, ?3, '[]', 1, 1)",
                params![hub.organization.as_str(), hub.nation.as_str(), hub.identity],
            )
            .map_err(db_err)?;
            let created = tx
                .execute(
                    "INSERT OR IGNORE INTO accounts (name, organization, roles, password_hash, enabled, builtin)
                     VALUES ('admin', ?1, '[\"admin\"]', ?2, 1, 1)",
                    params![hub.organization.as_str(), hash],
                )
                .map_err(db_err)?;
            Ok(created == 1)
        })
        .await
    }

    async fn apply_realm(&self, plan: &RealmPlan) -> StoreResult<ApplySummary> {
        let plan = plan.clone();
        self.write(move |tx, _| {
            let mut s = ApplySummary::default();
            for r in &plan.api_roots {
                let existed = exists(tx, "SELECT 1 FROM api_roots WHERE path = ?1", &r.path)?;
                let changed = tx
                    .execute(
                        "INSERT INTO api_roots (path, title, description, max_content_length, enabled)
                         VALUES (?1, ?2, ?3, ?4, 1)
                         ON CONFLICT(path) DO UPDATE SET title = excluded.title, description = excluded.description,
                           max_content_length = excluded.max_content_length, enabled = 1
                         WHERE title IS NOT excluded.title OR description IS NOT excluded.description
                           OR max_content_length IS NOT excluded.max_content_length OR enabled = 0",
                        params![r.path, r.title, r.description, r.max_content_length as i64],
                    )
                    .map_err(db_err)?;
                tally(&mut s, existed, changed as u64);
            }
            for o in &plan.organizations {
                let existed = exists(tx, "SELECT 1 FROM organizations WHERE slug = ?1", o.slug.as_str())?;
                let acc = json_list(&o.accredited);
                let changed = tx
                    .execute(
                        "INSERT INTO organizations (slug, name, nation, identity, accredited, enabled, builtin)
                         VALUES (?1, ?2, ?3, ?4, ?5, 1, 0)
                         ON CONFLICT(slug) DO UPDATE SET name = excluded.name, nation = excluded.nation,
                           identity = excluded.identity, accredited = excluded.accredited, enabled = 1
                         WHERE name IS NOT excluded.name OR nation IS NOT excluded.nation
                           OR identity IS NOT excluded.identity OR accredited IS NOT excluded.accredited OR enabled = 0",
                        params![o.slug.as_str(), o.name, o.nation.as_str(), o.identity, acc],
                    )
                    .map_err(db_err)?;
                tally(&mut s, existed, changed as u64);
            }
            for a in &plan.accounts {
                let existed = exists(tx, "SELECT 1 FROM accounts WHERE name = ?1", &a.name)?;
                let roles = rows::roles_list(&a.roles);
                let clearances =
                    serde_json::to_string(&a.clearances).unwrap_or_else(|_| "[]".into());
                if a.password_hash.is_some() {
                    // A new password ends the sessions the old one opened.
                    tx.execute(
                        "DELETE FROM tokens WHERE account = ?1 AND label = 'session' AND EXISTS
                           (SELECT 1 FROM accounts WHERE name = ?1 AND password_hash IS NOT ?2)",
                        params![a.name, a.password_hash],
                    )
                    .map_err(db_err)?;
                }
                let changed = tx
                    .execute(
                        "INSERT INTO accounts (name, organization, roles, password_hash, clearances, public_key, enabled, builtin)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 0)
                         ON CONFLICT(name) DO UPDATE SET organization = excluded.organization, roles = excluded.roles,
                           password_hash = COALESCE(excluded.password_hash, accounts.password_hash),
                           clearances = excluded.clearances, public_key = excluded.public_key, enabled = 1
                         WHERE organization IS NOT excluded.organization OR roles IS NOT excluded.roles
                           OR (excluded.password_hash IS NOT NULL AND password_hash IS NOT excluded.password_hash)
                           OR clearances IS NOT excluded.clearances OR public_key IS NOT excluded.public_key
                           OR enabled = 0",
                        params![a.name, a.organization.as_str(), roles, a.password_hash, clearances, a.public_key],
                    )
                    .map_err(db_err)?;
                tally(&mut s, existed, changed as u64);
                // The realm's token is the one it names now: a rotated or removed one stops working.
                let sha = a.token_sha256.as_ref().map(|s| s.to_vec());
                tx.execute(
                    "DELETE FROM tokens WHERE account = ?1 AND label = 'realm' AND sha256 IS NOT ?2",
                    params![a.name, sha],
                )
                .map_err(db_err)?;
                if let Some(sha) = &sha {
                    tx.execute(
                        "INSERT OR IGNORE INTO tokens (sha256, account, label, created_us, expires_us)
                         VALUES (?1, ?2, 'realm', 0, NULL)",
                        params![sha, a.name],
                    )
                    .map_err(db_err)?;
                }
            }
            for c in &plan.collections {
                let existed = exists(tx, "SELECT 1 FROM collections WHERE id = ?1", &c.id)?;
                let changed = tx
                    .execute(
                        "INSERT INTO collections (id, api_root, title, description, alias, readers, writers, enabled)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)
                         ON CONFLICT(id) DO UPDATE SET api_root = excluded.api_root, title = excluded.title,
                           description = excluded.description, alias = excluded.alias, readers = excluded.readers,
                           writers = excluded.writers, enabled = 1
                         WHERE api_root IS NOT excluded.api_root OR title IS NOT excluded.title
                           OR description IS NOT excluded.description OR alias IS NOT excluded.alias
                           OR readers IS NOT excluded.readers OR writers IS NOT excluded.writers OR enabled = 0",
                        params![
                            c.id,
                            c.api_root,
                            c.title,
                            c.description,
                            c.alias,
                            json_list(&c.readers),
                            json_list(&c.writers)
                        ],
                    )
                    .map_err(db_err)?;
                tally(&mut s, existed, changed as u64);
            }
            for p in &plan.peers {
                let existed = exists(tx, "SELECT 1 FROM peers WHERE name = ?1", &p.name)?;
                let changed = tx
                    .execute(
                        "INSERT INTO peers (name, config, enabled) VALUES (?1, ?2, 1)
                         ON CONFLICT(name) DO UPDATE SET config = excluded.config, enabled = 1
                         WHERE config IS NOT excluded.config OR enabled = 0",
                        params![p.name, rows::peer_config(p)],
                    )
                    .map_err(db_err)?;
                tally(&mut s, existed, changed as u64);
            }
            let peers: Vec<&str> = plan.peers.iter().map(|p| p.name.as_str()).collect();
            s.disabled += disable_missing(tx, "peers", "name", &peers)?;
            let roots: Vec<&str> = plan.api_roots.iter().map(|r| r.path.as_str()).collect();
            let orgs: Vec<&str> = plan.organizations.iter().map(|o| o.slug.as_str()).collect();
            let accounts: Vec<&str> = plan.accounts.iter().map(|a| a.name.as_str()).collect();
            let colls: Vec<&str> = plan.collections.iter().map(|c| c.id.as_str()).collect();
            s.disabled += disable_missing(tx, "collections", "id", &colls)?;
            s.disabled += disable_missing(tx, "accounts", "name", &accounts)?;
            s.disabled += disable_missing(tx, "organizations", "slug", &orgs)?;
            s.disabled += disable_missing(tx, "api_roots", "path", &roots)?;
            let rules = serde_json::to_string(&plan.release_rules)
                .map_err(|e| StoreError::Internal(e.to_string()))?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('release_rules', ?1)",
                [rules],
            )
            .map_err(db_err)?;
            bump_generation(tx)?;
            Ok(s)
        })
        .await
    }

    async fn peers(&self) -> StoreResult<Vec<Peer>> {
        self.read_now(|c| {
            c.prepare_cached(&format!("{PEER_SELECT} ORDER BY name"))
                .and_then(|mut s| {
                    s.query_map([], |r| rows::peer(&SqlRow(r)))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(db_err)
        })
    }

    async fn lease_peer(
        &self,
        name: &str,
        holder: &str,
        now_us: i64,
        until_us: i64,
    ) -> StoreResult<bool> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |tx, _| {
            let n = tx
                .execute(
                    "UPDATE peers SET lease_holder = ?2, lease_until_us = ?4
                     WHERE name = ?1 AND enabled = 1
                       AND (lease_holder IS NULL OR lease_holder = ?2 OR lease_until_us < ?3)",
                    params![name, holder, now_us, until_us],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn record_peer_run(&self, name: &str, holder: &str, run: &PeerRun) -> StoreResult<bool> {
        let (name, holder, run) = (name.to_string(), holder.to_string(), run.clone());
        self.write(move |tx, _| {
            let n = tx
                .execute(
                    PEER_RUN_SQL,
                    params![
                        name,
                        holder,
                        run.cursor,
                        run.at_us,
                        run.error,
                        run.transferred,
                        run.withheld
                    ],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn peer_sent(&self, name: &str) -> StoreResult<Vec<SentCopy>> {
        self.read_now(|c| {
            c.prepare_cached("SELECT stix_id, version, digest FROM peer_sent WHERE peer = ?1")
                .and_then(|mut s| {
                    s.query_map([name], |r| {
                        Ok(SentCopy {
                            stix_id: r.get(0)?,
                            version: r.get(1)?,
                            digest: r.get(2)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(db_err)
        })
    }

    async fn record_peer_sent(
        &self,
        name: &str,
        sent: &[SentCopy],
        withdrawn: &[(String, i64)],
    ) -> StoreResult<()> {
        let (name, sent, withdrawn) = (name.to_string(), sent.to_vec(), withdrawn.to_vec());
        self.write(move |tx, _| {
            for s in &sent {
                tx.execute(
                    "INSERT INTO peer_sent (peer, stix_id, version, digest) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (peer, stix_id, version) DO UPDATE SET digest = excluded.digest",
                    params![name, s.stix_id, s.version, s.digest],
                )
                .map_err(db_err)?;
            }
            for (id, version) in &withdrawn {
                tx.execute(
                    "DELETE FROM peer_sent WHERE peer = ?1 AND stix_id = ?2 AND version = ?3",
                    params![name, id, version],
                )
                .map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn organization(&self, slug: &str) -> StoreResult<Option<Organization>> {
        self.read_now(|c| {
            c.prepare_cached(&format!(
                "{ORGANIZATION_SELECT} WHERE o.slug = ?1 AND o.enabled = 1"
            ))
            .and_then(|mut s| {
                s.query_row([slug], |r| rows::organization(&SqlRow(r), 0))
                    .optional()
            })
            .map_err(db_err)
        })
    }

    async fn api_roots(&self) -> StoreResult<Vec<ApiRoot>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT path, title, description, max_content_length FROM api_roots WHERE enabled = 1 ORDER BY path",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map([], api_root_from_row)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            Ok(rows)
        })
        .await
    }

    async fn api_root(&self, path: &str) -> StoreResult<Option<ApiRoot>> {
        self.read_now(|c| {
            c.prepare_cached(
                "SELECT path, title, description, max_content_length FROM api_roots WHERE enabled = 1 AND path = ?1",
            )
            .and_then(|mut s| s.query_row([path], api_root_from_row).optional())
            .map_err(db_err)
        })
    }

    async fn collections(&self, api_root: &str) -> StoreResult<Vec<Collection>> {
        let api_root = api_root.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "{COLLECTION_SELECT} WHERE enabled = 1 AND api_root = ?1 ORDER BY pk"
                ))
                .map_err(db_err)?;
            let rows = stmt
                .query_map([api_root], collection_from_row)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            Ok(rows)
        })
        .await
    }

    async fn collection(
        &self,
        api_root: &str,
        id: &str,
    ) -> StoreResult<Option<(ApiRoot, Collection)>> {
        self.read_now(|c| {
            c.prepare_cached(
                "SELECT c.pk, c.id, c.api_root, c.title, c.description, c.alias, c.readers, c.writers,
                        r.path, r.title, r.description, r.max_content_length
                 FROM collections c JOIN api_roots r ON r.path = c.api_root
                 WHERE c.enabled = 1 AND r.enabled = 1 AND c.api_root = ?1 AND c.id = ?2",
            )
            .and_then(|mut s| {
                s.query_row([api_root, id], |r| {
                    let coll = collection_from_row(r)?;
                    let root = ApiRoot {
                        path: r.get(8)?,
                        title: r.get(9)?,
                        description: r.get(10)?,
                        max_content_length: r.get::<_, i64>(11)?.max(0) as u64,
                    };
                    Ok((root, coll))
                })
                .optional()
            })
            .map_err(db_err)
        })
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        self.read(|c| {
            c.prepare(&format!(
                "{ACCOUNT_SELECT} WHERE a.enabled = 1 AND o.enabled = 1 ORDER BY o.slug, a.name"
            ))
            .and_then(|mut s| {
                s.query_map([], account_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn account(&self, name: &str) -> StoreResult<Option<Account>> {
        self.read_now(|c| {
            c.prepare_cached(&format!(
                "{ACCOUNT_SELECT} WHERE a.name = ?1 AND a.enabled = 1 AND o.enabled = 1"
            ))
            .and_then(|mut s| s.query_row([name], account_from_row).optional())
            .map_err(db_err)
        })
    }

    async fn account_by_token(
        &self,
        token_sha256: &[u8; 32],
        now_us: i64,
    ) -> StoreResult<Option<Account>> {
        self.read_now(|c| {
            c.prepare_cached(&format!(
                "{ACCOUNT_SELECT} JOIN tokens t ON t.account = a.name
                 WHERE t.sha256 = ?1 AND (t.expires_us IS NULL OR t.expires_us > ?2)
                   AND a.enabled = 1 AND o.enabled = 1"
            ))
            .and_then(|mut s| {
                s.query_row(params![&token_sha256[..], now_us], account_from_row)
                    .optional()
            })
            .map_err(db_err)
        })
    }

    async fn add_token(&self, token: &NewToken) -> StoreResult<()> {
        let t = token.clone();
        self.write(move |tx, _| {
            let n = tx
                .execute(
                    "INSERT INTO tokens (sha256, account, label, created_us, expires_us)
                     SELECT ?1, name, ?3, ?4, ?5 FROM accounts WHERE name = ?2 AND enabled = 1",
                    params![
                        &t.sha256[..],
                        t.account,
                        t.label,
                        t.created_us,
                        t.expires_us
                    ],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::Invalid(format!(
                    "no enabled account named '{}'",
                    t.account
                )));
            }
            Ok(())
        })
        .await
    }

    async fn set_password(&self, account: &str, password_hash: &str) -> StoreResult<()> {
        let (account, hash) = (account.to_string(), password_hash.to_string());
        self.write(move |tx, _| {
            let n = tx
                .execute(
                    "UPDATE accounts SET password_hash = ?2 WHERE name = ?1",
                    params![account, hash],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::Invalid(format!("no account named '{account}'")));
            }
            // A new password ends the sessions the old one opened; servers drop what they
            // cached of the account.
            tx.execute(
                "DELETE FROM tokens WHERE account = ?1 AND label = 'session'",
                params![account],
            )
            .map_err(db_err)?;
            bump_generation(tx)
        })
        .await
    }

    async fn revoke_tokens(&self, account: &str, token: Option<&[u8; 32]>) -> StoreResult<usize> {
        let (account, sha) = (account.to_string(), token.map(|t| t.to_vec()));
        self.write(move |tx, _| {
            let n = tx
                .execute(
                    "DELETE FROM tokens WHERE account = ?1 AND (?2 IS NULL OR sha256 = ?2)",
                    params![account, sha],
                )
                .map_err(db_err)?;
            bump_generation(tx)?;
            Ok(n)
        })
        .await
    }

    async fn add_objects(
        &self,
        collection: i64,
        objects: Vec<NewObject>,
        now_us: i64,
    ) -> StoreResult<Vec<AddOutcome>> {
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        self.write(move |tx, last| {
            let outcomes = objects
                .iter()
                .map(|o| insert_object(tx, collection, o, now_us, last))
                .collect::<StoreResult<Vec<_>>>()?;
            if outcomes
                .iter()
                .any(|o| matches!(o, AddOutcome::Added { .. }))
            {
                bump_collection(tx, collection)?;
            }
            Ok(outcomes)
        })
        .await
    }

    async fn query_objects(&self, query: &ObjectQuery) -> StoreResult<Page> {
        // Small pages (one object, a few versions) are read in place; large ones off the
        // async workers.
        if query.limit <= 16 || !query.ids.is_empty() {
            return self.read_now(|c| run_query(c, query));
        }
        let q = query.clone();
        self.read(move |c| run_query(c, &q)).await
    }

    async fn delete_object(
        &self,
        collection: i64,
        id: &str,
        versions: &VersionFilter,
        spec_versions: &[String],
    ) -> StoreResult<usize> {
        let (id, versions, spec_versions) =
            (id.to_string(), versions.clone(), spec_versions.to_vec());
        self.write(move |tx, _| {
            let mut sql = String::from("DELETE FROM objects WHERE collection = ? AND stix_id = ?");
            let mut args: Vec<&dyn ToSql> = vec![&collection, &id];
            push_in(&mut sql, &mut args, "spec_version", &spec_versions);
            push_versions(&mut sql, &mut args, &versions, "");
            let n = tx
                .execute(&sql, params_from_iter(args.iter()))
                .map_err(db_err)?;
            if n > 0 {
                tx.execute(
                    "UPDATE objects SET
                       is_first = (version = (SELECT MIN(version) FROM objects o WHERE o.collection = ?1 AND o.stix_id = ?2)),
                       is_last = (version = (SELECT MAX(version) FROM objects o WHERE o.collection = ?1 AND o.stix_id = ?2))
                     WHERE collection = ?1 AND stix_id = ?2",
                    params![collection, id],
                )
                .map_err(db_err)?;
                propagate_head(tx, collection, &id)?;
                bump_collection(tx, collection)?;
                // What readers receive of other objects may change (a reference gone): peers'
                // pushes and caches look at the release generation.
                bump_generation(tx)?;
            }
            Ok(n)
        })
        .await
    }

    async fn release_generation(&self) -> StoreResult<i64> {
        self.read_now(|c| {
            c.prepare_cached("SELECT value FROM meta WHERE key = 'release_generation'")
                .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)).optional())
                .map(|g| g.unwrap_or(0))
                .map_err(db_err)
        })
    }

    async fn release_state(&self) -> StoreResult<ReleaseState> {
        self.read(|c| {
            // One read transaction, so that the generation matches what is read with it.
            c.execute_batch("BEGIN").map_err(db_err)?;
            let state = (|| {
                let generation: i64 = c
                    .query_row(
                        "SELECT value FROM meta WHERE key = 'release_generation'",
                        [],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?
                    .unwrap_or(0);
                let rules: Option<String> = c
                    .query_row(
                        "SELECT value FROM meta WHERE key = 'release_rules'",
                        [],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
                let rules = rows::release_rules(rules.as_deref())?;
                let markings = c
                    .prepare("SELECT id, raw FROM markings")
                    .and_then(|mut s| {
                        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(db_err)?;
                let label_sets = c
                    .prepare(LABEL_SET_SELECT)
                    .and_then(|mut s| {
                        s.query_map([], |r| rows::label_set(&realm::SqlRow(r)))?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(db_err)?;
                let active_stages = plans::active_stages(c)?;
                Ok(ReleaseState {
                    generation,
                    rules,
                    markings,
                    label_sets,
                    active_stages,
                })
            })();
            let _ = c.execute_batch("COMMIT");
            state
        })
        .await
    }

    async fn hidden_ids(
        &self,
        collection: i64,
        ids: &[String],
        reader: &ReaderFilter,
    ) -> StoreResult<HiddenIds> {
        if ids.is_empty() {
            return Ok(HiddenIds::default());
        }
        self.read_now(|c| {
            let f = ReaderFilterArgs::new(reader);
            let ids = std::rc::Rc::new(
                ids.iter()
                    .map(|i| rusqlite::types::Value::Text(i.clone()))
                    .collect::<Vec<_>>(),
            );
            let sees = sql_sees_ref("o", &f);
            let sql = format!(
                "SELECT DISTINCT u.value FROM rarray(?) u WHERE NOT EXISTS (
                   SELECT 1 FROM objects o INDEXED BY objects_by_version
                   WHERE o.collection = ? AND o.stix_id = u.value AND o.is_last = 1 AND {sees})
                 ORDER BY u.value"
            );
            let mut args: Vec<&dyn ToSql> = vec![&ids, &collection];
            for _ in 0..sees.matches('?').count() {
                args.push(&f.organization);
            }
            snapshot(c, |c| {
                let ids = c
                    .prepare_cached(&sql)
                    .and_then(|mut s| {
                        s.query_map(params_from_iter(args.iter()), |r| r.get(0))?
                            .collect::<Result<Vec<String>, _>>()
                    })
                    .map_err(db_err)?;
                Ok(HiddenIds {
                    generation: collection_generation(c, collection)?,
                    ids,
                })
            })
        })
    }

    async fn append_audit(&self, events: Vec<audit::AuditEvent>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.write(move |tx, _| {
            let mut last: Option<(i64, String)> = tx
                .query_row(
                    "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db_err)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO audit (seq, ts_us, kind, actor, organization, source, object_id,
                                        object_version, outcome, detail, prev_hash, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(db_err)?;
            for e in events {
                let r = audit::chain(last.as_ref().map(|(s, h)| (*s, h.as_str())), e);
                let ev = &r.event;
                insert
                    .execute(params![
                        r.seq,
                        ev.ts_us,
                        ev.kind,
                        ev.actor,
                        ev.organization,
                        ev.source,
                        ev.object_id,
                        ev.object_version,
                        ev.outcome,
                        ev.detail,
                        r.prev_hash,
                        r.hash
                    ])
                    .map_err(db_err)?;
                last = Some((r.seq, r.hash));
            }
            Ok(())
        })
        .await
    }

    async fn audit_records(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<audit::AuditRecord>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "{AUDIT_SELECT} WHERE seq > ?1 ORDER BY rowid LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(params![after_seq, limit as i64], audit_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn audit_head(&self) -> StoreResult<Option<audit::Checkpoint>> {
        self.read(move |c| {
            c.prepare_cached(&format!("{AUDIT_SELECT} ORDER BY rowid DESC LIMIT 1"))
                .and_then(|mut s| s.query_row([], audit_from_row).optional())
                .map_err(db_err)
        })
        .await
        .map(|last| {
            last.map(|r| audit::Checkpoint {
                seq: r.seq,
                hash: r.hash,
            })
        })
    }

    async fn object_audit(
        &self,
        object_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<audit::AuditRecord>> {
        let object_id = object_id.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!("{AUDIT_SELECT} WHERE object_id = ?1 AND object_id <> '' ORDER BY seq DESC LIMIT ?2"))
            .and_then(|mut s| {
                s.query_map(params![object_id, limit as i64], audit_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn create_situation(&self, situation: &NewSituation) -> StoreResult<Situation> {
        let s = situation.clone();
        self.write(move |tx, _| {
            plans::create_situation(tx, &s)?;
            plans::read_situations(tx, "WHERE id = ?1", &[&s.id])?
                .pop()
                .ok_or_else(|| StoreError::Internal("the situation just created is gone".into()))
        })
        .await
    }

    async fn situation(&self, id: &str) -> StoreResult<Option<Situation>> {
        let id = id.to_string();
        self.read(move |c| Ok(plans::read_situations(c, "WHERE id = ?1", &[&id])?.pop()))
            .await
    }

    async fn situations(&self) -> StoreResult<Vec<Situation>> {
        self.read(|c| plans::read_situations(c, "", &[])).await
    }

    async fn approve_stage(
        &self,
        stage: i64,
        approval: &Approval,
        cover: &[CoveredRow],
    ) -> StoreResult<StageState> {
        let (approval, cover) = (approval.clone(), cover.to_vec());
        self.write(move |tx, _| plans::approve_stage(tx, stage, &approval, &cover))
            .await
    }

    async fn covered_ids(&self, stage: i64) -> StoreResult<Vec<String>> {
        self.read(move |c| plans::covered_ids(c, stage)).await
    }

    async fn withdraw_stage(&self, stage: i64, at_us: i64) -> StoreResult<bool> {
        self.write(move |tx, _| plans::withdraw_stage(tx, stage, at_us))
            .await
    }

    async fn put_status(&self, status: &StatusRow) -> StoreResult<()> {
        let s = status.clone();
        self.write(move |tx, _| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO statuses (id, api_root, account, created_us, json) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| {
                st.execute(params![s.id, s.api_root, s.account, s.created_us, s.json])
            })
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn status(&self, api_root: &str, id: &str) -> StoreResult<Option<StatusRow>> {
        self.read_now(|c| {
            c.prepare_cached(
                "SELECT id, api_root, account, created_us, json FROM statuses WHERE id = ?1 AND api_root = ?2",
            )
            .and_then(|mut s| {
                s.query_row([id, api_root], |r| {
                    Ok(StatusRow {
                        id: r.get(0)?,
                        api_root: r.get(1)?,
                        account: r.get(2)?,
                        created_us: r.get(3)?,
                        json: r.get(4)?,
                    })
                })
                .optional()
            })
            .map_err(db_err)
        })
    }

    async fn purge_statuses(&self, before_us: i64) -> StoreResult<usize> {
        self.write(move |tx, _| {
            tx.execute("DELETE FROM statuses WHERE created_us < ?1", [before_us])
                .map_err(db_err)
        })
        .await
    }
}

/// An audit record from a row of [`AUDIT_SELECT`].
fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<audit::AuditRecord> {
    Ok(audit::AuditRecord {
        seq: r.get(0)?,
        event: audit::AuditEvent {
            ts_us: r.get(1)?,
            kind: r.get(2)?,
            actor: r.get(3)?,
            organization: r.get(4)?,
            source: r.get(5)?,
            object_id: r.get(6)?,
            object_version: r.get(7)?,
            outcome: r.get(8)?,
            detail: r.get(9)?,
        },
        prev_hash: r.get(10)?,
        hash: r.get(11)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open_in_dir(dir.path()).expect("open");
        (dir, store)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn conformance_suite() {
        let (_dir, store) = fresh();
        relto_store::conformance::run_all(&store).await;
    }

    /// Readers' label sets are tested as bits up to id 62 and as a list beyond: both give
    /// exactly the objects under the sets named.
    #[tokio::test(flavor = "current_thread")]
    async fn label_sets_as_bits_and_as_a_list() {
        let (_dir, store) = fresh();
        let pk = relto_store::conformance::seed_collection(&store).await;
        let objects: Vec<NewObject> = (0..70u32)
            .map(|n| {
                let marking = format!("marking-definition--00000000-0000-4000-8000-{n:012}");
                relto_store::conformance::labelled("indicator", n, "kor-nis", &[&marking])
            })
            .collect();
        store.add_objects(pk, objects, 1).await.expect("add");
        let set_of: Vec<(String, i64)> = store
            .read_now(|c| {
                c.prepare("SELECT o.stix_id, o.label_set FROM objects o ORDER BY o.row")
                    .and_then(|mut s| {
                        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(db_err)
            })
            .expect("sets");
        assert!(set_of.iter().any(|(_, s)| *s > 62), "{set_of:?}");
        for sets in [vec![3, 17, 60], vec![3, 63, 70], vec![]] {
            let mut q = ObjectQuery::new(pk, 1000);
            q.reader = Some(ReaderFilter {
                organization: "deu-bnd".into(),
                label_sets: sets.clone(),
            });
            let mut got: Vec<String> = store
                .query_objects(&q)
                .await
                .expect("query")
                .items
                .into_iter()
                .map(|o| o.stix_id)
                .collect();
            got.sort();
            let mut want: Vec<String> = set_of
                .iter()
                .filter(|(_, s)| sets.contains(s))
                .map(|(id, _)| id.clone())
                .collect();
            want.sort();
            assert_eq!(got, want, "label sets {sets:?}");
        }
    }

    /// A stored nation that is not a code (a hand-edited database) makes reading the account
    /// fail: it never becomes a reader whose nation nobody checked.
    #[tokio::test(flavor = "current_thread")]
    async fn a_stored_nation_that_does_not_parse_is_an_error() {
        let (_dir, store) = fresh();
        relto_store::conformance::seed_collection(&store).await;
        assert!(store.account("nis-analyst").await.expect("read").is_some());
        store
            .write(|tx, _| {
                tx.execute(
                    "UPDATE organizations SET nation = 'KOREA' WHERE slug = 'kor-nis'",
                    [],
                )
                .map_err(db_err)
            })
            .await
            .expect("edit");
        let err = store
            .account("nis-analyst")
            .await
            .expect_err("a nation that is not a code");
        assert!(err.to_string().contains("KOREA"), "{err}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn date_added_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = {
            let store = SqliteStore::open_in_dir(dir.path()).expect("open");
            relto_store::conformance::seed_collection(&store).await;
            let out = store
                .add_objects(
                    1,
                    vec![relto_store::conformance::object("indicator", 1, 1_000)],
                    i64::MAX / 2,
                )
                .await
                .expect("add");
            match out[0] {
                AddOutcome::Added { date_added, .. } => date_added,
                _ => panic!("not added"),
            }
        };
        let store = SqliteStore::open_in_dir(dir.path()).expect("reopen");
        let out = store
            .add_objects(
                1,
                vec![relto_store::conformance::object("indicator", 2, 1_000)],
                0,
            )
            .await
            .expect("add");
        match out[0] {
            AddOutcome::Added { date_added, .. } => assert!(date_added > first),
            _ => panic!("not added"),
        }
    }
}
