//! relto's store on PostgreSQL, for any number of stateless relto nodes sharing one database.
//! Its observable behaviour is that of `relto-store-sqlite` (both pass the conformance suite);
//! what differs is how writers on several nodes are kept in order:
//!
//! - Every transaction that adds or deletes objects first locks the single row of
//!   `hub_clock` and holds it until commit, so object writers take turns and `date_added`
//!   (handed out from that row) increases in commit order: a reader paging by
//!   (date_added, row) never skips an object committed after its page.
//! - Appending to the audit chain takes a transaction-scoped advisory lock before reading the
//!   chain's last record, so the chain never forks.
//! - Writes run at READ COMMITTED (each statement sees what committed before it, in particular
//!   after a lock wait) and are run again whole on a serialization failure or deadlock.
//!
//! Needs PostgreSQL 11 or later, with a UTF8 database.
#![forbid(unsafe_code)]

mod chain;
mod load;
mod migrations;
mod objects;
mod plans;
mod pool;
mod queries;
mod realm;
#[cfg(any(test, feature = "testing"))]
mod testing;
mod tls;

use chain::*;
use objects::*;
use queries::*;
use realm::*;

#[cfg(any(test, feature = "testing"))]
pub use testing::{fresh_database, test_url, TestDatabaseGuard, TEST_URL_VAR};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Object, Transaction};
use relto_store::rows::{
    self, json_list, tally, Columns, VersionTerm, ACCOUNT_SELECT, AUDIT_SELECT, COLLECTION_SELECT,
    LABEL_SET_SELECT, ORGANIZATION_SELECT, PEER_RUN_SQL, PEER_SELECT,
};
use relto_store::*;
use relto_taxii::VersionFilter;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, IsolationLevel, Row};

pub use load::{Column, ColumnKind, HubState, Load, LoadTable};
use migrations::{AUDIT_LOCK, REALM_LOCK};
pub use pool::PoolOptions;
use pool::{Db, Params, Pool, R};

/// Attempts of a write transaction that conflicts with concurrent ones (40001, 40P01).
const MAX_ATTEMPTS: u32 = 5;

/// Whether `s` names a PostgreSQL database (as opposed to a SQLite data directory).
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

pub struct PostgresStore {
    pool: Pool,
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = R<T>> + Send + 'a>>;
type Tx<'a> = Db<'a, Transaction<'a>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum TxKind {
    Write,
    /// One consistent snapshot for several reads.
    Snapshot,
}

impl PostgresStore {
    /// Connects (a pool of connections made on demand) and brings the schema up to date,
    /// under an advisory lock so that several nodes starting at once are safe.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, &PoolOptions::default()).await
    }

    /// As `connect`, with the pool's size and wait set.
    pub async fn connect_with(url: &str, options: &PoolOptions) -> Result<Self, StoreError> {
        let (url, tls) = tls::split_url(url)?;
        // The parser's message may quote the URL, and with it a password.
        let config: Config = url
            .parse()
            .map_err(|_| StoreError::Invalid("not a valid PostgreSQL connection URL".into()))?;
        let store = Self {
            pool: Pool::new(config, tls::connector(&tls)?, options)?,
        };
        migrations::migrate(&store.pool).await?;
        let encoding: String = store
            .read(&(), |db, _| {
                Box::pin(async move {
                    Ok(db
                        .query_one("SHOW server_encoding", &[])
                        .await?
                        .try_get(0)?)
                })
            })
            .await?;
        // Objects are served as the exact bytes posted: the database must hold any UTF-8.
        if encoding != "UTF8" {
            return Err(StoreError::Internal(format!(
                "the database's encoding is {encoding}; relto needs UTF8"
            )));
        }
        Ok(store)
    }

    /// Runs `f` on a pooled connection outside a transaction.
    async fn read<D, T, F>(&self, d: &D, f: F) -> StoreResult<T>
    where
        D: ?Sized + Sync,
        F: for<'a> Fn(Db<'a, Object>, &'a D) -> BoxFut<'a, T>,
    {
        let p = self.pool.get().await?;
        let out = match p.conn() {
            Ok(c) => f(Db::new(c), d).await,
            Err(e) => Err(e),
        };
        Ok(p.done(out)?)
    }

    /// Runs `f` in a transaction and commits; runs it again (up to `MAX_ATTEMPTS` times) when
    /// it conflicted with a concurrent transaction, so `f` must do all its work through `db`.
    async fn tx<D, T, F>(&self, kind: TxKind, d: &D, f: F) -> StoreResult<T>
    where
        D: ?Sized + Sync,
        F: for<'a> Fn(Tx<'a>, &'a D) -> BoxFut<'a, T>,
    {
        let mut attempt = 1;
        loop {
            let mut p = self.pool.get().await?;
            let out = async {
                let mut b = p.conn_mut()?.build_transaction();
                if kind == TxKind::Snapshot {
                    b = b
                        .isolation_level(IsolationLevel::RepeatableRead)
                        .read_only(true);
                }
                let tx = b.start().await?;
                let out = f(Db::new(&tx), d).await?;
                tx.commit().await?;
                Ok(out)
            }
            .await;
            match p.done(out) {
                Err(e) if e.is_retryable() && attempt < MAX_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                out => return Ok(out?),
            }
        }
    }

    async fn write<D, T, F>(&self, d: &D, f: F) -> StoreResult<T>
    where
        D: ?Sized + Sync,
        F: for<'a> Fn(Tx<'a>, &'a D) -> BoxFut<'a, T>,
    {
        self.tx(TxKind::Write, d, f).await
    }
}

/// A few milliseconds, growing, with jitter so that two conflicting writers do not meet again.
fn backoff(attempt: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let jitter = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % 5;
    Duration::from_millis((2u64 << attempt) + jitter)
}

/// PostgreSQL's TEXT cannot hold NUL, so no stored key contains one: a look-up by such a key
/// finds nothing (as in SQLite) instead of failing.
fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

#[async_trait]
impl Store for PostgresStore {
    async fn cursor_key(&self) -> StoreResult<[u8; 32]> {
        let stored = self
            .read(&(), |db, _| {
                Box::pin(async move {
                    let row = db
                        .query_one("SELECT cursor_key FROM hub_state", &[])
                        .await?;
                    Ok(row.try_get::<_, Option<Vec<u8>>>(0)?)
                })
            })
            .await?;
        if let Some(k) = stored.and_then(|k| <[u8; 32]>::try_from(k).ok()) {
            return Ok(k);
        }
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|e| StoreError::Internal(format!("no randomness: {e}")))?;
        // Nodes starting at once race here: the first key written wins and all return it.
        self.write(&fresh, |db, fresh| {
            Box::pin(async move {
                db.execute(
                    "UPDATE hub_state SET cursor_key = $1
                     WHERE cursor_key IS NULL OR length(cursor_key) <> 32",
                    &[&&fresh[..]],
                )
                .await?;
                let row = db
                    .query_one("SELECT cursor_key FROM hub_state", &[])
                    .await?;
                let key: Vec<u8> = row.try_get(0)?;
                <[u8; 32]>::try_from(key).map_err(|_| {
                    StoreError::Internal("the stored cursor key is malformed".into()).into()
                })
            })
        })
        .await
    }

    async fn bootstrap(&self, hub: &HubIdentity, admin_password_hash: &str) -> StoreResult<bool> {
        self.write(&(hub, admin_password_hash), |db, (hub, hash)| {
            Box::pin(async move {
                db.execute(
                    "INSERT INTO organizations (slug, name, nation, identity, accredited, enabled, builtin)
                     VALUES ($1, 'Hub operator', $2, $3, '[]', TRUE, TRUE) ON CONFLICT (slug) DO NOTHING",
                    &[&hub.organization.as_str(), &hub.nation.as_str(), &hub.identity],
                )
                .await?;
                let created = db
                    .execute(
                        "INSERT INTO accounts (name, organization, roles, password_hash, enabled, builtin)
                         VALUES ('admin', $1, '[\"admin\"]', $2, TRUE, TRUE) ON CONFLICT (name) DO NOTHING",
                        &[&hub.organization.as_str(), hash],
                    )
                    .await?;
                Ok(created == 1)
            })
        })
        .await
    }

    async fn apply_realm(&self, plan: &RealmPlan) -> StoreResult<ApplySummary> {
        self.write(plan, |db, plan| Box::pin(apply_plan(db, plan)))
            .await
    }

    async fn api_roots(&self) -> StoreResult<Vec<ApiRoot>> {
        self.read(&(), |db, _| {
            Box::pin(async move {
                db.query(
                    "SELECT path, title, description, max_content_length FROM api_roots
                     WHERE enabled ORDER BY path",
                    &[],
                )
                .await?
                .iter()
                .map(|r| api_root_from_row(r, 0))
                .collect()
            })
        })
        .await
    }

    async fn api_root(&self, path: &str) -> StoreResult<Option<ApiRoot>> {
        if has_nul(path) {
            return Ok(None);
        }
        self.read(path, |db, path| {
            Box::pin(async move {
                db.query_opt(
                    "SELECT path, title, description, max_content_length FROM api_roots
                     WHERE enabled AND path = $1",
                    &[&path],
                )
                .await?
                .map(|r| api_root_from_row(&r, 0))
                .transpose()
            })
        })
        .await
    }

    async fn collections(&self, api_root: &str) -> StoreResult<Vec<Collection>> {
        if has_nul(api_root) {
            return Ok(Vec::new());
        }
        self.read(api_root, |db, api_root| {
            Box::pin(async move {
                db.query(
                    &format!("{COLLECTION_SELECT} WHERE enabled AND api_root = $1 ORDER BY pk"),
                    &[&api_root],
                )
                .await?
                .iter()
                .map(collection_from_row)
                .collect()
            })
        })
        .await
    }

    async fn collection(
        &self,
        api_root: &str,
        id: &str,
    ) -> StoreResult<Option<(ApiRoot, Collection)>> {
        if has_nul(api_root) || has_nul(id) {
            return Ok(None);
        }
        self.read(&(api_root, id), |db, (api_root, id)| {
            Box::pin(async move {
                let row = db
                    .query_opt(
                        "SELECT c.pk, c.id, c.api_root, c.title, c.description, c.alias, c.readers, c.writers,
                                r.path, r.title, r.description, r.max_content_length
                         FROM collections c JOIN api_roots r ON r.path = c.api_root
                         WHERE c.enabled AND r.enabled AND c.api_root = $1 AND c.id = $2",
                        &[api_root, id],
                    )
                    .await?;
                match row {
                    Some(r) => Ok(Some((api_root_from_row(&r, 8)?, collection_from_row(&r)?))),
                    None => Ok(None),
                }
            })
        })
        .await
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        self.read(&(), |db, _| {
            Box::pin(async move {
                db.query(
                    &format!(
                        "{ACCOUNT_SELECT} WHERE a.enabled AND o.enabled ORDER BY o.slug, a.name"
                    ),
                    &[],
                )
                .await?
                .iter()
                .map(account_from_row)
                .collect()
            })
        })
        .await
    }

    async fn peers(&self) -> StoreResult<Vec<Peer>> {
        self.read(&(), |db, _| {
            Box::pin(async move {
                db.query(&format!("{PEER_SELECT} ORDER BY name"), &[])
                    .await?
                    .iter()
                    .map(|r| Ok(rows::peer(&PgRow(r))?))
                    .collect()
            })
        })
        .await
    }

    async fn lease_peer(
        &self,
        name: &str,
        holder: &str,
        now_us: i64,
        until_us: i64,
    ) -> StoreResult<bool> {
        if has_nul(name) || has_nul(holder) {
            return Ok(false);
        }
        self.write(
            &(name, holder, now_us, until_us),
            |db, (name, holder, now, until)| {
                Box::pin(async move {
                    let n = db
                        .execute(
                            "UPDATE peers SET lease_holder = $2, lease_until_us = $4
                         WHERE name = $1 AND enabled
                           AND (lease_holder IS NULL OR lease_holder = $2 OR lease_until_us < $3)",
                            &[name, holder, now, until],
                        )
                        .await?;
                    Ok(n == 1)
                })
            },
        )
        .await
    }

    async fn record_peer_run(&self, name: &str, holder: &str, run: &PeerRun) -> StoreResult<bool> {
        if has_nul(name) || has_nul(holder) {
            return Ok(false);
        }
        // An error text is the remote's words: PostgreSQL's text holds no NUL.
        let error = run.error.as_ref().map(|e| e.replace('\0', ""));
        let cursor = run.cursor.as_ref().map(|c| c.replace('\0', ""));
        let args = (
            name,
            holder,
            cursor,
            run.at_us,
            error,
            run.transferred,
            run.withheld,
        );
        self.write(
            &args,
            |db, (name, holder, cursor, at, error, moved, withheld)| {
                Box::pin(async move {
                    let n = db
                        .execute(
                            &PEER_RUN_SQL.replace('?', "$"),
                            &[name, holder, cursor, at, error, moved, withheld],
                        )
                        .await?;
                    Ok(n == 1)
                })
            },
        )
        .await
    }

    async fn peer_sent(&self, name: &str) -> StoreResult<Vec<SentCopy>> {
        if has_nul(name) {
            return Ok(Vec::new());
        }
        self.read(name, |db, name| {
            Box::pin(async move {
                db.query(
                    "SELECT stix_id, version, digest FROM peer_sent WHERE peer = $1",
                    &[&name],
                )
                .await?
                .iter()
                .map(|r| {
                    Ok(SentCopy {
                        stix_id: r.try_get(0)?,
                        version: r.try_get(1)?,
                        digest: r.try_get(2)?,
                    })
                })
                .collect()
            })
        })
        .await
    }

    async fn record_peer_sent(
        &self,
        name: &str,
        sent: &[SentCopy],
        withdrawn: &[(String, i64)],
    ) -> StoreResult<()> {
        if has_nul(name) {
            return Ok(());
        }
        self.write(&(name, sent, withdrawn), |db, (name, sent, withdrawn)| {
            Box::pin(async move {
                for s in sent.iter() {
                    db.execute(
                        "INSERT INTO peer_sent (peer, stix_id, version, digest) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (peer, stix_id, version) DO UPDATE SET digest = excluded.digest",
                        &[name, &s.stix_id, &s.version, &s.digest],
                    )
                    .await?;
                }
                for (id, version) in withdrawn.iter() {
                    db.execute(
                        "DELETE FROM peer_sent WHERE peer = $1 AND stix_id = $2 AND version = $3",
                        &[name, id, version],
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn organization(&self, slug: &str) -> StoreResult<Option<Organization>> {
        if has_nul(slug) {
            return Ok(None);
        }
        self.read(slug, |db, slug| {
            Box::pin(async move {
                db.query_opt(
                    &format!("{ORGANIZATION_SELECT} WHERE o.slug = $1 AND o.enabled"),
                    &[&slug],
                )
                .await?
                .map(|r| Ok(rows::organization(&PgRow(&r), 0)?))
                .transpose()
            })
        })
        .await
    }

    async fn account(&self, name: &str) -> StoreResult<Option<Account>> {
        if has_nul(name) {
            return Ok(None);
        }
        self.read(name, |db, name| {
            Box::pin(async move {
                db.query_opt(
                    &format!("{ACCOUNT_SELECT} WHERE a.name = $1 AND a.enabled AND o.enabled"),
                    &[&name],
                )
                .await?
                .map(|r| account_from_row(&r))
                .transpose()
            })
        })
        .await
    }

    async fn account_by_token(
        &self,
        token_sha256: &[u8; 32],
        now_us: i64,
    ) -> StoreResult<Option<Account>> {
        self.read(&(token_sha256, now_us), |db, (sha, now)| {
            Box::pin(async move {
                db.query_opt(
                    &format!(
                        "{ACCOUNT_SELECT} JOIN tokens t ON t.account = a.name
                         WHERE t.sha256 = $1 AND (t.expires_us IS NULL OR t.expires_us > $2)
                           AND a.enabled AND o.enabled"
                    ),
                    &[&&sha[..], now],
                )
                .await?
                .map(|r| account_from_row(&r))
                .transpose()
            })
        })
        .await
    }

    async fn add_token(&self, token: &NewToken) -> StoreResult<()> {
        if has_nul(&token.account) {
            return Err(StoreError::Invalid(format!(
                "no enabled account named '{}'",
                token.account
            )));
        }
        self.write(token, |db, t| {
            Box::pin(async move {
                let n = db
                    .execute(
                        "INSERT INTO tokens (sha256, account, label, created_us, expires_us)
                         SELECT $1::bytea, name, $3::text, $4::bigint, $5::bigint FROM accounts
                         WHERE name = $2 AND enabled",
                        &[
                            &&t.sha256[..],
                            &t.account,
                            &t.label,
                            &t.created_us,
                            &t.expires_us,
                        ],
                    )
                    .await?;
                if n == 0 {
                    return Err(StoreError::Invalid(format!(
                        "no enabled account named '{}'",
                        t.account
                    ))
                    .into());
                }
                Ok(())
            })
        })
        .await
    }

    async fn set_password(&self, account: &str, password_hash: &str) -> StoreResult<()> {
        if has_nul(account) {
            return Err(StoreError::Invalid(format!("no account named '{account}'")));
        }
        self.write(&(account, password_hash), |db, (account, hash)| {
            Box::pin(async move {
                let n = db
                    .execute(
                        "UPDATE accounts SET password_hash = $2 WHERE name = $1",
                        &[account, hash],
                    )
                    .await?;
                if n == 0 {
                    return Err(StoreError::Invalid(format!("no account named '{account}'")).into());
                }
                // A new password ends the sessions the old one opened; servers drop what they
                // cached of the account.
                db.execute(
                    "DELETE FROM tokens WHERE account = $1 AND label = 'session'",
                    &[account],
                )
                .await?;
                db.execute(
                    "UPDATE hub_state SET release_generation = release_generation + 1",
                    &[],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn revoke_tokens(&self, account: &str, token: Option<&[u8; 32]>) -> StoreResult<usize> {
        if has_nul(account) {
            return Ok(0);
        }
        let sha = token.map(|t| t.to_vec());
        self.write(&(account, sha), |db, (account, sha)| {
            Box::pin(async move {
                let n = db
                    .execute(
                        "DELETE FROM tokens WHERE account = $1 AND ($2::bytea IS NULL OR sha256 = $2::bytea)",
                        &[account, sha],
                    )
                    .await?;
                db.execute(
                    "UPDATE hub_state SET release_generation = release_generation + 1",
                    &[],
                )
                .await?;
                Ok(n as usize)
            })
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
        self.write(&(collection, objects, now_us), |db, (c, objects, now)| {
            Box::pin(add_batch(db, *c, objects, *now))
        })
        .await
    }

    async fn query_objects(&self, query: &ObjectQuery) -> StoreResult<Page> {
        let cleaned;
        let q = if [&query.ids, &query.types, &query.spec_versions]
            .iter()
            .any(|l| l.iter().any(|s| has_nul(s)))
        {
            let mut c = query.clone();
            if !can_match([&mut c.ids, &mut c.types, &mut c.spec_versions]) {
                return Ok(Page::default());
            }
            cleaned = c;
            &cleaned
        } else {
            query
        };
        self.read(q, |db, q| Box::pin(run_query(db, q))).await
    }

    async fn delete_object(
        &self,
        collection: i64,
        id: &str,
        versions: &VersionFilter,
        spec_versions: &[String],
    ) -> StoreResult<usize> {
        let mut spec_versions = spec_versions.to_vec();
        if has_nul(id) || !can_match([&mut spec_versions]) {
            return Ok(0);
        }
        self.write(
            &(collection, id, versions, spec_versions),
            |db, (c, id, versions, specs)| Box::pin(delete_versions(db, *c, id, versions, specs)),
        )
        .await
    }

    async fn release_generation(&self) -> StoreResult<i64> {
        self.read(&(), |db, _| {
            Box::pin(async move {
                Ok(db
                    .query_one("SELECT release_generation FROM hub_state", &[])
                    .await?
                    .try_get(0)?)
            })
        })
        .await
    }

    async fn release_state(&self) -> StoreResult<ReleaseState> {
        // One snapshot, so that the generation matches what is read with it.
        self.tx(TxKind::Snapshot, &(), |db, _| {
            Box::pin(read_release_state(db))
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
        self.read(
            &(collection, ids, reader),
            |db, (collection, ids, reader)| {
                Box::pin(async move {
                    let mut sql = Sql::new("");
                    let (ids_p, coll_p) = (sql.bind(ids), sql.bind(collection));
                    let f = ReaderSql::bind(&mut sql, reader);
                    // One statement: the generation is of the snapshot the ids were read in.
                    sql.push(&format!(
                        "SELECT c.generation, h.id FROM collections c
                     LEFT JOIN LATERAL (
                       SELECT DISTINCT u.id FROM unnest({ids_p}::text[]) u(id)
                       WHERE NOT EXISTS (SELECT 1 FROM objects e
                         WHERE e.collection = {coll_p} AND e.stix_id = u.id AND e.is_last AND {})
                     ) h ON TRUE
                     WHERE c.pk = {coll_p}
                     ORDER BY h.id",
                        f.sees("e")
                    ));
                    let rows = db.query(&sql.text, &sql.params).await?;
                    let mut out = HiddenIds {
                        generation: rows.first().map(|r| r.try_get(0)).transpose()?,
                        ids: Vec::new(),
                    };
                    for r in &rows {
                        if let Some(id) = r.try_get::<_, Option<String>>(1)? {
                            out.ids.push(id);
                        }
                    }
                    Ok(out)
                })
            },
        )
        .await
    }

    async fn append_audit(&self, events: Vec<audit::AuditEvent>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.write(&events[..], |db, events| {
            Box::pin(append_events(db, events))
        })
        .await
    }

    async fn audit_records(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<audit::AuditRecord>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read(&(after_seq, limit), |db, (after, limit)| {
            Box::pin(async move {
                db.query(
                    &format!("{AUDIT_SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2"),
                    &[after, limit],
                )
                .await?
                .iter()
                .map(audit_from_row)
                .collect()
            })
        })
        .await
    }

    async fn audit_head(&self) -> StoreResult<Option<audit::Checkpoint>> {
        self.read(&(), |db, _| {
            Box::pin(async move {
                db.query_opt(&format!("{AUDIT_SELECT} ORDER BY seq DESC LIMIT 1"), &[])
                    .await?
                    .map(|r| audit_from_row(&r))
                    .transpose()
            })
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
        let limit = limit.min(i64::MAX as usize) as i64;
        if has_nul(object_id) || object_id.is_empty() {
            return Ok(Vec::new());
        }
        self.read(&(object_id.as_bytes(), limit), |db, (id, limit)| {
            Box::pin(async move {
                db.query(
                    &format!("{AUDIT_SELECT} WHERE object_id = $1 ORDER BY seq DESC LIMIT $2"),
                    &[id, limit],
                )
                .await?
                .iter()
                .map(audit_from_row)
                .collect()
            })
        })
        .await
    }

    async fn create_situation(&self, situation: &NewSituation) -> StoreResult<Situation> {
        self.write(situation, |db, s| Box::pin(plans::create_situation(db, s)))
            .await
    }

    async fn situation(&self, id: &str) -> StoreResult<Option<Situation>> {
        if has_nul(id) {
            return Ok(None);
        }
        self.read(id, |db, id| {
            Box::pin(async move {
                Ok(plans::read_situations(db, "WHERE id = $1", &[&id])
                    .await?
                    .pop())
            })
        })
        .await
    }

    async fn situations(&self) -> StoreResult<Vec<Situation>> {
        self.read(&(), |db, _| Box::pin(plans::read_situations(db, "", &[])))
            .await
    }

    async fn approve_stage(
        &self,
        stage: i64,
        approval: &Approval,
        cover: &[CoveredRow],
    ) -> StoreResult<StageState> {
        self.write(&(stage, approval, cover), |db, (stage, approval, cover)| {
            Box::pin(plans::approve_stage(db, *stage, approval, cover))
        })
        .await
    }

    async fn covered_ids(&self, stage: i64) -> StoreResult<Vec<String>> {
        self.read(&stage, |db, stage| Box::pin(plans::covered_ids(db, *stage)))
            .await
    }

    async fn withdraw_stage(&self, stage: i64, at_us: i64) -> StoreResult<bool> {
        self.write(&(stage, at_us), |db, (stage, at)| {
            Box::pin(plans::withdraw_stage(db, *stage, *at))
        })
        .await
    }

    async fn put_status(&self, status: &StatusRow) -> StoreResult<()> {
        self.write(status, |db, s| {
            Box::pin(async move {
                db.execute(
                    "INSERT INTO statuses (id, api_root, account, created_us, json) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET api_root = excluded.api_root, account = excluded.account,
                       created_us = excluded.created_us, json = excluded.json",
                    &[&s.id, &s.api_root, &s.account, &s.created_us, &s.json],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn status(&self, api_root: &str, id: &str) -> StoreResult<Option<StatusRow>> {
        if has_nul(api_root) || has_nul(id) {
            return Ok(None);
        }
        self.read(&(api_root, id), |db, (api_root, id)| {
            Box::pin(async move {
                match db
                    .query_opt(
                        "SELECT id, api_root, account, created_us, json FROM statuses
                         WHERE id = $1 AND api_root = $2",
                        &[id, api_root],
                    )
                    .await?
                {
                    Some(r) => Ok(Some(StatusRow {
                        id: r.try_get(0)?,
                        api_root: r.try_get(1)?,
                        account: r.try_get(2)?,
                        created_us: r.try_get(3)?,
                        json: r.try_get(4)?,
                    })),
                    None => Ok(None),
                }
            })
        })
        .await
    }

    async fn purge_statuses(&self, before_us: i64) -> StoreResult<usize> {
        self.write(&before_us, |db, before| {
            Box::pin(async move {
                Ok(db
                    .execute("DELETE FROM statuses WHERE created_us < $1", &[before])
                    .await? as usize)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests;
