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

mod from_sqlite;
mod migrations;
mod pool;
#[cfg(any(test, feature = "testing"))]
mod testing;
mod tls;

#[cfg(any(test, feature = "testing"))]
pub use testing::{fresh_database, TestDatabaseGuard, TEST_URL_VAR};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use relto_store::rows::{
    self, json_list, parse_list, tally, Columns, ACCOUNT_SELECT, COLLECTION_SELECT,
};
use relto_store::*;
use relto_taxii::VersionFilter;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, GenericClient, IsolationLevel, Row, Transaction};

use migrations::{AUDIT_LOCK, REALM_LOCK};
use pool::{Db, Pool, R};

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
        let (url, tls) = tls::split_url(url)?;
        // The parser's message may quote the URL, and with it a password.
        let config: Config = url
            .parse()
            .map_err(|_| StoreError::Invalid("not a valid PostgreSQL connection URL".into()))?;
        let store = Self {
            pool: Pool::new(config, tls::connector(&tls)?),
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
        F: for<'a> Fn(Db<'a, Client>, &'a D) -> BoxFut<'a, T>,
    {
        let p = self.pool.get().await?;
        let out = match p.conn() {
            Ok(c) => f(c.plain(), d).await,
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
                let (client, stmts) = p.conn_mut()?.split();
                let mut b = client.build_transaction();
                if kind == TxKind::Snapshot {
                    b = b
                        .isolation_level(IsolationLevel::RepeatableRead)
                        .read_only(true);
                }
                let tx = b.start().await?;
                let out = f(Db::new(&tx, stmts), d).await?;
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

/// A PostgreSQL row read through the shared row mapping (`relto_store::rows`).
struct PgRow<'a>(&'a Row);

impl Columns for PgRow<'_> {
    type Error = tokio_postgres::Error;
    fn text(&self, i: usize) -> Result<String, Self::Error> {
        self.0.try_get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error> {
        self.0.try_get(i)
    }
    fn int(&self, i: usize) -> Result<i64, Self::Error> {
        self.0.try_get(i)
    }
}

fn account_from_row(r: &Row) -> R<Account> {
    Ok(rows::account(&PgRow(r))?)
}

fn collection_from_row(r: &Row) -> R<Collection> {
    Ok(rows::collection(&PgRow(r))?)
}

fn api_root_from_row(r: &Row, at: usize) -> R<ApiRoot> {
    Ok(rows::api_root(&PgRow(r), at)?)
}

async fn exists(db: Tx<'_>, sql: &str, key: &str) -> R<bool> {
    Ok(db.query_opt(sql, &[&key]).await?.is_some())
}

/// Disables every non-builtin row of `table` whose key is not in `keep`; returns how many.
async fn disable_missing(db: Tx<'_>, table: &str, key: &str, keep: Vec<&str>) -> R<usize> {
    let builtin = if table == "organizations" || table == "accounts" {
        " AND NOT builtin"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE {table} SET enabled = FALSE WHERE enabled{builtin} AND NOT ({key} = ANY($1::text[]))"
    );
    Ok(db.execute(&sql, &[&keep]).await? as usize)
}

async fn apply_plan(db: Tx<'_>, plan: &RealmPlan) -> R<ApplySummary> {
    // Realm applies from several nodes take turns: each sees what the one before created.
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&REALM_LOCK])
        .await?;
    let mut s = ApplySummary::default();
    for r in &plan.api_roots {
        let existed = exists(db, "SELECT 1 FROM api_roots WHERE path = $1", &r.path).await?;
        let max = r.max_content_length as i64;
        let changed = if existed {
            db.execute(
                "UPDATE api_roots SET title = $2, description = $3, max_content_length = $4, enabled = TRUE
                 WHERE path = $1 AND (title IS DISTINCT FROM $2 OR description IS DISTINCT FROM $3
                   OR max_content_length IS DISTINCT FROM $4 OR NOT enabled)",
                &[&r.path, &r.title, &r.description, &max],
            )
            .await?
        } else {
            db.execute(
                "INSERT INTO api_roots (path, title, description, max_content_length, enabled)
                 VALUES ($1, $2, $3, $4, TRUE)",
                &[&r.path, &r.title, &r.description, &max],
            )
            .await?
        };
        tally(&mut s, existed, changed);
    }
    for o in &plan.organizations {
        let existed = exists(db, "SELECT 1 FROM organizations WHERE slug = $1", &o.slug).await?;
        let acc = json_list(&o.accredited);
        let args: [&(dyn ToSql + Sync); 5] = [&o.slug, &o.name, &o.nation, &o.identity, &acc];
        let changed = if existed {
            db.execute(
                "UPDATE organizations SET name = $2, nation = $3, identity = $4, accredited = $5, enabled = TRUE
                 WHERE slug = $1 AND (name IS DISTINCT FROM $2 OR nation IS DISTINCT FROM $3
                   OR identity IS DISTINCT FROM $4 OR accredited IS DISTINCT FROM $5 OR NOT enabled)",
                &args,
            )
            .await?
        } else {
            db.execute(
                "INSERT INTO organizations (slug, name, nation, identity, accredited, enabled, builtin)
                 VALUES ($1, $2, $3, $4, $5, TRUE, FALSE)",
                &args,
            )
            .await?
        };
        tally(&mut s, existed, changed);
    }
    for a in &plan.accounts {
        let existed = exists(db, "SELECT 1 FROM accounts WHERE name = $1", &a.name).await?;
        let roles = rows::roles_list(&a.roles);
        let clearances = serde_json::to_string(&a.clearances).unwrap_or_else(|_| "[]".into());
        let args: [&(dyn ToSql + Sync); 5] = [
            &a.name,
            &a.organization,
            &roles,
            &a.password_hash,
            &clearances,
        ];
        if a.password_hash.is_some() {
            // A new password ends the sessions the old one opened.
            db.execute(
                "DELETE FROM tokens WHERE account = $1 AND label = 'session' AND EXISTS
                   (SELECT 1 FROM accounts WHERE name = $1 AND password_hash IS DISTINCT FROM $2::text)",
                &[&a.name, &a.password_hash],
            )
            .await?;
        }
        let changed = if existed {
            db.execute(
                "UPDATE accounts SET organization = $2, roles = $3,
                   password_hash = COALESCE($4::text, password_hash), clearances = $5, enabled = TRUE
                 WHERE name = $1 AND (organization IS DISTINCT FROM $2 OR roles IS DISTINCT FROM $3
                   OR ($4::text IS NOT NULL AND password_hash IS DISTINCT FROM $4::text)
                   OR clearances IS DISTINCT FROM $5 OR NOT enabled)",
                &args,
            )
            .await?
        } else {
            db.execute(
                "INSERT INTO accounts (name, organization, roles, password_hash, clearances, enabled, builtin)
                 VALUES ($1, $2, $3, $4, $5, TRUE, FALSE)",
                &args,
            )
            .await?
        };
        tally(&mut s, existed, changed);
        // The realm's token is the one it names now: a rotated or removed one stops working.
        let sha = a.token_sha256.as_ref().map(|s| s.to_vec());
        db.execute(
            "DELETE FROM tokens WHERE account = $1 AND label = 'realm' AND sha256 IS DISTINCT FROM $2::bytea",
            &[&a.name, &sha],
        )
        .await?;
        if let Some(sha) = &sha {
            db.execute(
                "INSERT INTO tokens (sha256, account, label, created_us, expires_us)
                 VALUES ($1, $2, 'realm', 0, NULL) ON CONFLICT (sha256) DO NOTHING",
                &[sha, &a.name],
            )
            .await?;
        }
    }
    for c in &plan.collections {
        let existed = exists(db, "SELECT 1 FROM collections WHERE id = $1", &c.id).await?;
        let (readers, writers) = (json_list(&c.readers), json_list(&c.writers));
        let args: [&(dyn ToSql + Sync); 7] = [
            &c.id,
            &c.api_root,
            &c.title,
            &c.description,
            &c.alias,
            &readers,
            &writers,
        ];
        let changed = if existed {
            db.execute(
                "UPDATE collections SET api_root = $2, title = $3, description = $4, alias = $5,
                   readers = $6, writers = $7, enabled = TRUE
                 WHERE id = $1 AND (api_root IS DISTINCT FROM $2 OR title IS DISTINCT FROM $3
                   OR description IS DISTINCT FROM $4 OR alias IS DISTINCT FROM $5
                   OR readers IS DISTINCT FROM $6 OR writers IS DISTINCT FROM $7 OR NOT enabled)",
                &args,
            )
            .await?
        } else {
            db.execute(
                "INSERT INTO collections (id, api_root, title, description, alias, readers, writers, enabled)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE)",
                &args,
            )
            .await?
        };
        tally(&mut s, existed, changed);
    }
    let roots = plan.api_roots.iter().map(|r| r.path.as_str()).collect();
    let orgs = plan.organizations.iter().map(|o| o.slug.as_str()).collect();
    let accounts = plan.accounts.iter().map(|a| a.name.as_str()).collect();
    let colls = plan.collections.iter().map(|c| c.id.as_str()).collect();
    s.disabled += disable_missing(db, "collections", "id", colls).await?;
    s.disabled += disable_missing(db, "accounts", "name", accounts).await?;
    s.disabled += disable_missing(db, "organizations", "slug", orgs).await?;
    s.disabled += disable_missing(db, "api_roots", "path", roots).await?;
    let rules = serde_json::to_string(&plan.release_rules)
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    db.execute(
        "UPDATE hub_state SET release_rules = $1, release_generation = release_generation + 1",
        &[&rules],
    )
    .await?;
    Ok(s)
}

/// The versions of one id, in version order, with their creators: those stored before the
/// batch, then also those the batch adds.
#[derive(Default)]
struct Versions {
    all: Vec<(i64, String)>,
    /// The first and last version stored before the batch.
    stored: Option<(i64, i64)>,
}

/// An object of the batch that will be stored.
struct Pending<'o> {
    obj: &'o NewObject,
    version: i64,
    date_added: i64,
    label_key: String,
}

/// Adds a batch in a fixed number of statements, whatever its size. Each object is decided
/// (added, duplicate, refused; its date_added and version) in order, as if the ones before it
/// were already stored, exactly as the SQLite store does object by object; then what was
/// decided is written in bulk.
async fn add_batch(
    db: Tx<'_>,
    collection: i64,
    objects: &[NewObject],
    now_us: i64,
) -> R<Vec<AddOutcome>> {
    // Object writers take turns from here to commit (see the crate's doc).
    let start: i64 = db
        .query_one("SELECT last_date_added FROM hub_clock FOR UPDATE", &[])
        .await?
        .try_get(0)?;
    // Versions already stored for the batch's ids (usually none or a few), with their creators.
    // One index probe per id, whatever the statistics say: during a bulk load they lag behind
    // the table, and the planner then filters the whole collection against the list of ids
    // (OFFSET 0 keeps it from flattening the per-id subquery into such a join).
    let mut ids: Vec<&str> = objects.iter().map(|o| o.stix_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut known: HashMap<String, Versions> = HashMap::new();
    for r in db
        .query(
            "SELECT o.stix_id, o.version, o.originator FROM unnest($2::text[]) AS i(id)
             CROSS JOIN LATERAL (SELECT stix_id, version, originator FROM objects
                                 WHERE collection = $1 AND stix_id = i.id OFFSET 0) o",
            &[&collection, &ids],
        )
        .await?
    {
        let v: &mut Versions = known.entry(r.try_get(0)?).or_default();
        v.all.push((r.try_get(1)?, r.try_get(2)?));
    }
    for v in known.values_mut() {
        v.all.sort_unstable_by_key(|(version, _)| *version);
        v.stored = v.all.first().zip(v.all.last()).map(|(f, l)| (f.0, l.0));
    }

    let mut last = start;
    let mut out = Vec::with_capacity(objects.len());
    let mut pending: Vec<Pending> = Vec::new();
    for obj in objects {
        let vs = known.entry(obj.stix_id.clone()).or_default();
        let date_added = last.saturating_add(1).max(now_us);
        let version = match admit_version(&vs.all, &obj.release.originator, obj.version, date_added)
        {
            Admission::Add { version } => version,
            Admission::Duplicate { version } => {
                out.push(AddOutcome::Duplicate { version });
                continue;
            }
            Admission::Refused(why) => {
                out.push(AddOutcome::Refused(why));
                continue;
            }
        };
        let at = vs.all.partition_point(|(v, _)| *v < version);
        vs.all.insert(at, (version, obj.release.originator.clone()));
        last = date_added;
        pending.push(Pending {
            obj,
            version,
            date_added,
            label_key: obj.release.label_set.key(),
        });
        out.push(AddOutcome::Added {
            date_added,
            version,
        });
    }
    if pending.is_empty() {
        return Ok(out);
    }

    // First and last are by version: stored versions that no longer are lose the flag.
    let (mut lose_last, mut lose_first) = (Vec::new(), Vec::new());
    for (id, vs) in &known {
        if let (Some((first, last)), Some(lo), Some(hi)) =
            (vs.stored, vs.all.first(), vs.all.last())
        {
            if hi.0 > last {
                lose_last.push(id.as_str());
            }
            if lo.0 < first {
                lose_first.push(id.as_str());
            }
        }
    }
    if !lose_last.is_empty() {
        db.execute(
            "UPDATE objects SET is_last = FALSE
             WHERE collection = $1 AND stix_id = ANY($2::text[]) AND is_last",
            &[&collection, &lose_last],
        )
        .await?;
    }
    if !lose_first.is_empty() {
        db.execute(
            "UPDATE objects SET is_first = FALSE
             WHERE collection = $1 AND stix_id = ANY($2::text[]) AND is_first",
            &[&collection, &lose_first],
        )
        .await?;
    }

    // Label sets, created in the order of first use; each new one changes the generation.
    let mut bumps: i64 = 0;
    let keys: Vec<&str> = pending.iter().map(|p| p.label_key.as_str()).collect();
    let mut set_ids: HashMap<String, i64> = HashMap::new();
    for r in db
        .query(
            "SELECT key, id FROM label_sets WHERE key = ANY($1::text[])",
            &[&keys],
        )
        .await?
    {
        set_ids.insert(r.try_get(0)?, r.try_get(1)?);
    }
    for p in &pending {
        if set_ids.contains_key(&p.label_key) {
            continue;
        }
        let set = &p.obj.release.label_set;
        let id: i64 = db
            .query_one(
                "INSERT INTO label_sets (key, markings, default_nation) VALUES ($1, $2, $3)
                 RETURNING id",
                &[&p.label_key, &json_list(&set.markings), &set.default_nation],
            )
            .await?
            .try_get(0)?;
        set_ids.insert(p.label_key.clone(), id);
        bumps += 1;
    }

    // Row ids taken up front (ascending, in the batch's order), so that the rows and their
    // references go in with one statement each.
    let mut rows: Vec<i64> = db
        .query(
            "SELECT nextval(pg_get_serial_sequence('objects', 'row_id'))
             FROM generate_series(1, $1::bigint)",
            &[&(pending.len() as i64)],
        )
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect::<R<_>>()?;
    rows.sort_unstable();

    let col =
        |f: fn(&NewObject) -> &str| -> Vec<&str> { pending.iter().map(|p| f(p.obj)).collect() };
    let (stix_ids, types, specs, raws, originators) = (
        col(|o| &o.stix_id),
        col(|o| &o.object_type),
        col(|o| &o.spec_version),
        col(|o| &o.raw),
        col(|o| &o.release.originator),
    );
    let versions: Vec<i64> = pending.iter().map(|p| p.version).collect();
    let dates: Vec<i64> = pending.iter().map(|p| p.date_added).collect();
    let (mut firsts, mut lasts, mut sets) = (Vec::new(), Vec::new(), Vec::new());
    for p in &pending {
        let all = known.get(&p.obj.stix_id).map_or(&[][..], |v| &v.all[..]);
        firsts.push(all.first().is_some_and(|f| f.0 == p.version));
        lasts.push(all.last().is_some_and(|l| l.0 == p.version));
        sets.push(set_ids.get(&p.label_key).copied().unwrap_or_default());
    }
    let endpoint = |i: usize| -> Vec<Option<&str>> {
        pending
            .iter()
            .map(|p| p.obj.release.endpoints.get(i).map(String::as_str))
            .collect()
    };
    let (ref_a, ref_b) = (endpoint(0), endpoint(1));
    let has_refs: Vec<bool> = pending
        .iter()
        .map(|p| !p.obj.release.object_refs.is_empty())
        .collect();
    db.execute(
        "INSERT INTO objects (row_id, collection, stix_id, type, spec_version, version, date_added,
                              is_first, is_last, raw, originator, label_set, ref_a, ref_b, has_object_refs)
         OVERRIDING SYSTEM VALUE
         SELECT t.row_id, $1, t.stix_id, t.type, t.spec_version, t.version, t.date_added,
                t.is_first, t.is_last, t.raw, t.originator, t.label_set, t.ref_a, t.ref_b, t.has_refs
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                     $8::boolean[], $9::boolean[], $10::text[], $11::text[], $12::bigint[],
                     $13::text[], $14::text[], $15::boolean[])
           AS t(row_id, stix_id, type, spec_version, version, date_added, is_first, is_last, raw,
                originator, label_set, ref_a, ref_b, has_refs)",
        &[
            &collection,
            &rows,
            &stix_ids,
            &types,
            &specs,
            &versions,
            &dates,
            &firsts,
            &lasts,
            &raws,
            &originators,
            &sets,
            &ref_a,
            &ref_b,
            &has_refs,
        ],
    )
    .await?;

    let (mut ref_rows, mut ref_idx, mut refs) = (Vec::new(), Vec::new(), Vec::new());
    for (p, row) in pending.iter().zip(&rows) {
        for (i, r) in p.obj.release.object_refs.iter().enumerate() {
            ref_rows.push(*row);
            ref_idx.push(i as i32);
            refs.push(r.as_str());
        }
    }
    if !refs.is_empty() {
        db.execute(
            "INSERT INTO object_refs (row_id, idx, ref)
             SELECT * FROM unnest($1::bigint[], $2::integer[], $3::text[])",
            &[&ref_rows, &ref_idx, &refs],
        )
        .await?;
    }

    // Marking-definitions posted to the hub; the first posted of an id is kept, and each new
    // one changes the generation.
    let (mut marking_ids, mut marking_raws) = (Vec::new(), Vec::new());
    for p in pending
        .iter()
        .filter(|p| p.obj.object_type == "marking-definition")
    {
        marking_ids.push(p.obj.stix_id.as_str());
        marking_raws.push(p.obj.raw.as_str());
    }
    if !marking_ids.is_empty() {
        bumps += db
            .execute(
                "INSERT INTO markings (id, raw) SELECT * FROM unnest($1::text[], $2::text[])
                 ON CONFLICT (id) DO NOTHING",
                &[&marking_ids, &marking_raws],
            )
            .await? as i64;
    }
    if bumps > 0 {
        db.execute(
            "UPDATE hub_state SET release_generation = release_generation + $1",
            &[&bumps],
        )
        .await?;
    }
    if out.iter().any(|o| matches!(o, AddOutcome::Added { .. })) {
        bump_collection(&db, collection).await?;
    }
    db.execute("UPDATE hub_clock SET last_date_added = $1", &[&last])
        .await?;
    Ok(out)
}

/// Counts a write to the collection (see `Page::generation`).
async fn bump_collection(db: &Tx<'_>, collection: i64) -> R<()> {
    db.execute(
        "UPDATE collections SET generation = generation + 1 WHERE pk = $1",
        &[&collection],
    )
    .await?;
    Ok(())
}

/// A statement under construction with its parameters, numbered as they are bound.
struct Sql<'p> {
    text: String,
    params: Vec<&'p (dyn ToSql + Sync)>,
}

impl<'p> Sql<'p> {
    fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter; returns its placeholder.
    fn bind(&mut self, v: &'p (dyn ToSql + Sync)) -> String {
        self.params.push(v);
        format!("${}", self.params.len())
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }
}

/// A reader filter in the form the SQL takes: the organization and the label sets are each
/// bound once (as text and as one bigint[]) and referred to wherever the predicate needs them,
/// so a statement's text depends only on the query's shape and stays prepared.
struct ReaderSql {
    org: String,
    sets: String,
}

impl ReaderSql {
    fn bind<'p>(sql: &mut Sql<'p>, f: &'p ReaderFilter) -> Self {
        Self {
            org: format!("{}::text", sql.bind(&f.organization)),
            sets: format!("{}::bigint[]", sql.bind(&f.label_sets)),
        }
    }

    /// `alias` passes the reader's labels or was created by its organization (one level).
    fn visible(&self, alias: &str) -> String {
        format!(
            "({alias}.originator = {} OR {alias}.label_set = ANY({}))",
            self.org, self.sets
        )
    }

    /// The endpoint `col` of `alias` is absent or its latest version (looked up as `inner`)
    /// is visible.
    fn endpoint(&self, alias: &str, inner: &str, col: &str) -> String {
        format!(
            "({alias}.{col} IS NULL OR EXISTS (SELECT 1 FROM objects {inner} \
             WHERE {inner}.collection = {alias}.collection AND {inner}.stix_id = {alias}.{col} \
             AND {inner}.is_last AND {}))",
            self.visible(inner)
        )
    }

    /// The reader sees the object `alias` as it would be served: visible, and (unless its own)
    /// the endpoints it stands on visible too. Used for references (object_refs), whose own
    /// object_refs are not followed further.
    fn sees(&self, alias: &str) -> String {
        format!(
            "({alias}.originator = {} OR ({} AND {} AND {}))",
            self.org,
            self.visible(alias),
            self.endpoint(alias, "x", "ref_a"),
            self.endpoint(alias, "x", "ref_b")
        )
    }

    /// The release predicate for rows of alias `o` (DESIGN §3): the reader's organization
    /// created it, or it passes the label set, its endpoints are visible and, if it has
    /// object_refs, the reader sees one of them. An older version is visible only while the
    /// object's latest version is (for a reader an object is the versions it may see, the
    /// same on every endpoint; a narrowed latest version hides the object).
    fn predicate(&self) -> String {
        format!(
            " AND {} AND (o.is_last OR EXISTS (SELECT 1 FROM objects l \
               WHERE l.collection = o.collection AND l.stix_id = o.stix_id AND l.is_last AND {}))",
            self.row_visible("o", "r", "e"),
            self.row_visible("l", "lr", "le"),
        )
    }

    /// The row `alias` is visible (its object_refs entries and their objects looked at as
    /// `refs` and `target`).
    fn row_visible(&self, alias: &str, refs: &str, target: &str) -> String {
        format!(
            "({alias}.originator = {} OR ({} AND {} AND {} \
              AND (NOT {alias}.has_object_refs OR EXISTS (SELECT 1 FROM object_refs {refs} \
                   JOIN objects {target} ON {target}.collection = {alias}.collection \
                     AND {target}.stix_id = {refs}.ref AND {target}.is_last \
                   WHERE {refs}.row_id = {alias}.row_id AND {}))))",
            self.org,
            self.visible(alias),
            self.endpoint(alias, &format!("{alias}x"), "ref_a"),
            self.endpoint(alias, &format!("{alias}x"), "ref_b"),
            self.sees(target),
        )
    }
}

/// Appends ` AND col = …` for one value, ` AND col = ANY(…)` for several (none for none).
/// One value is the common case (one type, one id) and an equality lets the index on
/// (collection, type, date_added, row_id) return rows in page order, so a page stops after
/// `limit` rows; with ANY the index cannot keep that order and every match is read and sorted.
fn push_in<'p>(sql: &mut Sql<'p>, col: &str, values: &'p Vec<String>) {
    match values.as_slice() {
        [] => {}
        [one] => {
            let p = sql.bind(one);
            sql.push(&format!(" AND {col} = {p}::text"));
        }
        _ => {
            let p = sql.bind(values);
            sql.push(&format!(" AND {col} = ANY({p}::text[])"));
        }
    }
}

/// Appends the `match[version]` condition (nothing for `all`).
fn push_versions<'p>(sql: &mut Sql<'p>, v: &'p VersionFilter, prefix: &str) {
    if v.all {
        return;
    }
    let mut parts: Vec<String> = Vec::new();
    if v.last {
        parts.push(format!("{prefix}is_last"));
    }
    if v.first {
        parts.push(format!("{prefix}is_first"));
    }
    if !v.exact.is_empty() {
        let p = sql.bind(&v.exact);
        parts.push(format!("{prefix}version = ANY({p}::bigint[])"));
    }
    if parts.is_empty() {
        sql.push(" AND FALSE");
    } else {
        sql.push(&format!(" AND ({})", parts.join(" OR ")));
    }
}

/// Drops filter values holding NUL (they match nothing stored); false when that empties a
/// list that was not empty, so that nothing can match.
fn can_match<'a>(lists: impl IntoIterator<Item = &'a mut Vec<String>>) -> bool {
    lists.into_iter().all(|l| {
        let had = !l.is_empty();
        l.retain(|s| !has_nul(s));
        !had || !l.is_empty()
    })
}

async fn run_query<C: GenericClient + Sync>(db: Db<'_, C>, q: &ObjectQuery) -> R<Page> {
    let fetch = (q.limit as i64).saturating_add(1);
    let sql = query_sql(q, &fetch);
    let rows = db.query(&sql.text, &sql.params).await?;
    let mut items = rows
        .iter()
        .map(|r| {
            Ok(StoredObject {
                row: r.try_get(0)?,
                stix_id: r.try_get(1)?,
                date_added: r.try_get(2)?,
                version: r.try_get(3)?,
                spec_version: r.try_get(4)?,
                raw: r.try_get(5)?,
                originator: r.try_get(6)?,
            })
        })
        .collect::<R<Vec<_>>>()?;
    // Read by the same statement, so from the same snapshot as the rows.
    let generation = rows.first().map(|r| r.try_get(7)).transpose()?;
    let more = items.len() > q.limit;
    items.truncate(q.limit);
    Ok(Page {
        items,
        more,
        generation,
    })
}

/// The statement of one page of `q`, of `fetch` rows (its limit + 1, to know whether there
/// are more).
fn query_sql<'p>(q: &'p ObjectQuery, fetch: &'p i64) -> Sql<'p> {
    const COLS: &str = "o.row_id, o.stix_id, o.date_added, o.version, o.spec_version, o.raw, \
                        o.originator, o.generation";
    let raw = if q.with_raw {
        "o.raw"
    } else {
        "''::text AS raw"
    };
    let mut sql = Sql::new("");
    let p = sql.bind(&q.collection);
    sql.push(&format!(
        "SELECT o.row_id, o.stix_id, o.date_added, o.version, o.spec_version, {raw}, o.originator,
                (SELECT c.generation FROM collections c WHERE c.pk = {p}) AS generation
         FROM objects o WHERE o.collection = {p}"
    ));
    if let Some(f) = &q.reader {
        let r = ReaderSql::bind(&mut sql, f);
        sql.push(&r.predicate());
    }
    push_in(&mut sql, "o.stix_id", &q.ids);
    // Several types: the page is taken from each type's own first rows (see below).
    let per_type = q.types.len() > 1;
    if per_type {
        sql.push(" AND o.type = t.type");
    } else {
        push_in(&mut sql, "o.type", &q.types);
    }
    push_in(&mut sql, "o.spec_version", &q.spec_versions);
    push_versions(&mut sql, &q.versions, "o.");
    if let Some(a) = &q.added_after {
        let p = sql.bind(a);
        sql.push(&format!(" AND o.date_added > {p}"));
    }
    if let Some(c) = &q.after {
        let (d, r) = (sql.bind(&c.date_added), sql.bind(&c.row));
        sql.push(&format!(" AND (o.date_added, o.row_id) > ({d}, {r})"));
    }
    let p = sql.bind(fetch);
    let order = format!(" ORDER BY o.date_added, o.row_id LIMIT {p}");
    sql.push(&order);
    if per_type {
        // The first rows of the page are among the first rows of each type: read that many
        // of each (in order, from the type index, with the release predicate evaluated only
        // on those) and merge, instead of evaluating every object of those types and sorting.
        let t = sql.bind(&q.types);
        sql.text = format!(
            "SELECT {COLS} FROM (SELECT DISTINCT unnest({t}::text[]) AS type) t
             CROSS JOIN LATERAL ({}) o{order}",
            sql.text
        );
    }
    sql
}

async fn delete_versions(
    db: Tx<'_>,
    collection: i64,
    id: &str,
    versions: &VersionFilter,
    spec_versions: &Vec<String>,
) -> R<usize> {
    // Object writers take turns (see the crate's doc): a concurrent add must not compute
    // first/last against versions this removes.
    db.execute("SELECT 1 FROM hub_clock FOR UPDATE", &[])
        .await?;
    let mut sql = Sql::new("DELETE FROM objects WHERE collection = ");
    let (c, i) = (sql.bind(&collection), sql.bind(&id));
    sql.push(&format!("{c} AND stix_id = {i}"));
    push_in(&mut sql, "spec_version", spec_versions);
    push_versions(&mut sql, versions, "");
    let n = db.execute(&sql.text, &sql.params).await?;
    if n > 0 {
        db.execute(
            "UPDATE objects SET
               is_first = (version = (SELECT MIN(version) FROM objects o WHERE o.collection = $1 AND o.stix_id = $2)),
               is_last = (version = (SELECT MAX(version) FROM objects o WHERE o.collection = $1 AND o.stix_id = $2))
             WHERE collection = $1 AND stix_id = $2",
            &[&collection, &id],
        )
        .await?;
        bump_collection(&db, collection).await?;
    }
    Ok(n as usize)
}

async fn read_release_state(db: Tx<'_>) -> R<ReleaseState> {
    let row = db
        .query_one(
            "SELECT release_generation, release_rules FROM hub_state",
            &[],
        )
        .await?;
    let generation: i64 = row.try_get(0)?;
    let rules = match row.try_get::<_, Option<String>>(1)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Internal(format!("release rules: {e}")))?,
        None => relto_policy::ReleaseRules::default(),
    };
    let markings = db
        .query("SELECT id, raw FROM markings ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<R<Vec<_>>>()?;
    let label_sets = db
        .query(
            "SELECT id, markings, default_nation FROM label_sets ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(StoredLabelSet {
                id: r.try_get(0)?,
                set: LabelSet {
                    markings: parse_list(r.try_get(1)?),
                    default_nation: r.try_get(2)?,
                },
            })
        })
        .collect::<R<Vec<_>>>()?;
    Ok(ReleaseState {
        generation,
        rules,
        markings,
        label_sets,
    })
}

async fn append_events(db: Tx<'_>, events: &[audit::AuditEvent]) -> R<()> {
    // One chain for all nodes: the lock (held to commit) makes appends take turns, and the
    // SELECT below, a statement after the wait, sees the record the one before appended.
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .await?;
    let mut last: Option<(i64, String)> = match db
        .query_opt("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])
        .await?
    {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
        None => None,
    };
    let records: Vec<audit::AuditRecord> = events
        .iter()
        .map(|e| {
            let r = audit::chain(last.as_ref().map(|(s, h)| (*s, h.as_str())), e.clone());
            last = Some((r.seq, r.hash.clone()));
            r
        })
        .collect();
    let col = |f: fn(&audit::AuditEvent) -> &String| -> Vec<&[u8]> {
        records.iter().map(|r| f(&r.event).as_bytes()).collect()
    };
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    let ts: Vec<i64> = records.iter().map(|r| r.event.ts_us).collect();
    let (kind, actor, org, source) = (
        col(|e| &e.kind),
        col(|e| &e.actor),
        col(|e| &e.organization),
        col(|e| &e.source),
    );
    let (object_id, object_version, outcome, detail) = (
        col(|e| &e.object_id),
        col(|e| &e.object_version),
        col(|e| &e.outcome),
        col(|e| &e.detail),
    );
    let prev: Vec<&str> = records.iter().map(|r| r.prev_hash.as_str()).collect();
    let hash: Vec<&str> = records.iter().map(|r| r.hash.as_str()).collect();
    // The whole batch in one statement: parallel arrays, unnested together.
    db.execute(
        "INSERT INTO audit (seq, ts_us, kind, actor, organization, source, object_id,
                            object_version, outcome, detail, prev_hash, hash)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[],
                              $6::bytea[], $7::bytea[], $8::bytea[], $9::bytea[], $10::bytea[],
                              $11::text[], $12::text[])",
        &[
            &seqs,
            &ts,
            &kind,
            &actor,
            &org,
            &source,
            &object_id,
            &object_version,
            &outcome,
            &detail,
            &prev,
            &hash,
        ],
    )
    .await?;
    Ok(())
}

fn audit_text(r: &Row, i: usize) -> R<String> {
    // Lossy: bytes altered outside relto still come back, and the chain's hashes name them.
    Ok(String::from_utf8_lossy(r.try_get::<_, &[u8]>(i)?).into_owned())
}

fn audit_from_row(r: &Row) -> R<audit::AuditRecord> {
    Ok(audit::AuditRecord {
        seq: r.try_get(0)?,
        event: audit::AuditEvent {
            ts_us: r.try_get(1)?,
            kind: audit_text(r, 2)?,
            actor: audit_text(r, 3)?,
            organization: audit_text(r, 4)?,
            source: audit_text(r, 5)?,
            object_id: audit_text(r, 6)?,
            object_version: audit_text(r, 7)?,
            outcome: audit_text(r, 8)?,
            detail: audit_text(r, 9)?,
        },
        prev_hash: r.try_get(10)?,
        hash: r.try_get(11)?,
    })
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
                    &[&hub.organization, &hub.nation, &hub.identity],
                )
                .await?;
                let created = db
                    .execute(
                        "INSERT INTO accounts (name, organization, roles, password_hash, enabled, builtin)
                         VALUES ('admin', $1, '[\"admin\"]', $2, TRUE, TRUE) ON CONFLICT (name) DO NOTHING",
                        &[&hub.organization, hash],
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

    async fn hidden_refs(
        &self,
        collection: i64,
        rows: &[i64],
        reader: &ReaderFilter,
    ) -> StoreResult<HiddenRefs> {
        if rows.is_empty() {
            return Ok(HiddenRefs::default());
        }
        self.read(
            &(collection, rows, reader),
            |db, (collection, rows, reader)| {
                Box::pin(async move {
                    let mut sql = Sql::new("");
                    let (rows_p, coll_p) = (sql.bind(rows), sql.bind(collection));
                    let f = ReaderSql::bind(&mut sql, reader);
                    // One statement, so the generation is of the snapshot the references were
                    // read in; the collection's row comes back even when nothing is hidden.
                    sql.push(&format!(
                        "SELECT c.generation, h.row_id, h.idx, h.ref FROM collections c
                     LEFT JOIN LATERAL (
                       SELECT r.row_id, r.idx, r.ref FROM object_refs r
                       WHERE r.row_id = ANY({rows_p}::bigint[])
                         AND NOT EXISTS (SELECT 1 FROM objects e
                           WHERE e.collection = {coll_p} AND e.stix_id = r.ref AND e.is_last AND {})
                     ) h ON TRUE
                     WHERE c.pk = {coll_p}
                     ORDER BY h.row_id, h.idx",
                        f.sees("e")
                    ));
                    let rows = db.query(&sql.text, &sql.params).await?;
                    let mut out = HiddenRefs {
                        generation: rows.first().map(|r| r.try_get(0)).transpose()?,
                        refs: Vec::new(),
                    };
                    for r in &rows {
                        if let Some(row) = r.try_get::<_, Option<i64>>(1)? {
                            out.refs.push(HiddenRef {
                                row,
                                index: r.try_get::<_, i32>(2)? as usize,
                                id: r.try_get(3)?,
                            });
                        }
                    }
                    Ok(out)
                })
            },
        )
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
                    "SELECT seq, ts_us, kind, actor, organization, source, object_id, object_version,
                            outcome, detail, prev_hash, hash
                     FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
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
