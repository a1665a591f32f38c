//! Tests against a real server; each skips itself when `RELTO_TEST_POSTGRES_URL` is not set.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use relto_store::audit::{AuditKind, AuditOutcome};
use relto_store::conformance::{self, Rng};

async fn test_db() -> Option<(String, TestDatabaseGuard)> {
    let admin = test_url()?;
    Some(fresh_database(&admin).await.expect("fresh database"))
}

async fn raw_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn event(n: i64, actor: &str) -> audit::AuditEvent {
    audit::AuditEvent {
        ts_us: n,
        kind: AuditKind::ObjectRelease.into(),
        actor: actor.into(),
        organization: "kor-nis".into(),
        source: "127.0.0.1".into(),
        object_id: format!("indicator--{n}"),
        object_version: String::new(),
        outcome: AuditOutcome::Allow.into(),
        detail: String::new(),
    }
}

#[test]
fn postgres_urls_are_recognised() {
    assert!(is_postgres_url("postgres://u@h/db"));
    assert!(is_postgres_url("postgresql://h"));
    assert!(!is_postgres_url("/var/lib/relto"));
    assert!(!is_postgres_url("sqlite://x"));
}

#[tokio::test(flavor = "current_thread")]
async fn conformance_suite() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let store = PostgresStore::connect(&url).await.expect("connect");
    conformance::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let (a, b, c) = tokio::join!(
        PostgresStore::connect(&url),
        PostgresStore::connect(&url),
        PostgresStore::connect(&url)
    );
    let (a, b, _c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    let applied: i64 = raw_client(&url)
        .await
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .await
        .expect("count")
        .get(0);
    // Each migration once, whichever node ran it.
    assert_eq!(applied, crate::migrations::COUNT as i64);
    // Both nodes see the same cursor key, whichever created it.
    let (ka, kb) = tokio::join!(a.cursor_key(), b.cursor_key());
    assert_eq!(ka.expect("a"), kb.expect("b"));
}

#[tokio::test(flavor = "current_thread")]
async fn audit_is_append_only_and_holds_any_text() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let store = PostgresStore::connect(&url).await.expect("connect");
    // A claimed account name is the client's to choose, NUL included.
    let mut odd = event(2, "x\0y");
    odd.detail = "ünïcödé \u{1}".into();
    store
        .append_audit(vec![event(1, "a"), odd.clone()])
        .await
        .expect("append");
    let records = store.audit_records(0, 10).await.expect("records");
    assert_eq!(records[1].event, odd);
    assert_eq!(audit::verify_chain(&records, &[]), Ok(2));
    let raw = raw_client(&url).await;
    for sql in [
        "UPDATE audit SET ts_us = 5",
        "DELETE FROM audit",
        "TRUNCATE audit",
    ] {
        let err = raw.batch_execute(sql).await.expect_err(sql);
        assert!(format!("{err:?}").contains("append-only"), "{sql}: {err:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn keys_with_nul_find_nothing() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let store = PostgresStore::connect(&url).await.expect("connect");
    let pk = conformance::seed_collection(&store).await;
    store
        .add_objects(pk, vec![conformance::object("indicator", 1, 1)], 1)
        .await
        .expect("add");
    assert!(store.account("a\0").await.expect("account").is_none());
    assert!(store.api_root("r\0").await.expect("root").is_none());
    assert!(store
        .collection(conformance::ROOT, "\0")
        .await
        .expect("collection")
        .is_none());
    assert!(store.status("r", "\0").await.expect("status").is_none());
    let mut q = ObjectQuery::new(pk, 10);
    q.ids = vec!["indicator--\0".into()];
    assert!(store.query_objects(&q).await.expect("q").items.is_empty());
    q.ids.push(conformance::object("indicator", 1, 1).stix_id);
    assert_eq!(store.query_objects(&q).await.expect("q").items.len(), 1);
    assert_eq!(
        store
            .delete_object(pk, "x\0", &VersionFilter::all(), &[])
            .await
            .expect("delete"),
        0
    );
    assert!(matches!(
        store.set_password("a\0", "h").await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn date_added_never_goes_back() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let added = |out: Vec<AddOutcome>| match out[0] {
        AddOutcome::Added { date_added, .. } => date_added,
        ref o => panic!("not added: {o:?}"),
    };
    let first = {
        let store = PostgresStore::connect(&url).await.expect("connect");
        let pk = conformance::seed_collection(&store).await;
        let d = added(
            store
                .add_objects(
                    pk,
                    vec![conformance::object("indicator", 1, 1)],
                    i64::MAX / 2,
                )
                .await
                .expect("add"),
        );
        // Even when the newest object is deleted, its date_added is not handed out again.
        store
            .delete_object(
                pk,
                &conformance::object("indicator", 1, 1).stix_id,
                &VersionFilter::all(),
                &[],
            )
            .await
            .expect("delete");
        d
    };
    let store = PostgresStore::connect(&url).await.expect("reconnect");
    let pk = conformance::seed_collection(&store).await;
    let second = added(
        store
            .add_objects(pk, vec![conformance::object("indicator", 2, 1)], 0)
            .await
            .expect("add"),
    );
    assert_eq!(second, first + 1);
}

/// A write that fails as a serialization failure would, `fail` times, then succeeds; returns
/// its result and how often it ran.
async fn conflicting_write(store: &PostgresStore, fail: u32) -> (StoreResult<()>, u32) {
    use std::sync::atomic::AtomicU32;
    let runs = AtomicU32::new(0);
    let out = store
        .write(&runs, |db, runs| {
            Box::pin(async move {
                db.execute(
                    "UPDATE hub_state SET release_generation = release_generation + 1",
                    &[],
                )
                .await?;
                if runs.fetch_add(1, Ordering::SeqCst) < fail {
                    db.execute(
                        "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$",
                        &[],
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await;
    (out, runs.load(Ordering::SeqCst))
}

#[tokio::test(flavor = "current_thread")]
async fn conflicting_transactions_are_run_again() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let store = PostgresStore::connect(&url).await.expect("connect");
    let before = store.release_generation().await.expect("g");
    let (out, runs) = conflicting_write(&store, 2).await;
    assert!(out.is_ok() && runs == 3, "{out:?} after {runs} runs");
    // Only the attempt that committed left its write.
    assert_eq!(store.release_generation().await.expect("g"), before + 1);
    let (out, runs) = conflicting_write(&store, u32::MAX).await;
    assert!(matches!(out, Err(StoreError::Unavailable(_))), "{out:?}");
    assert_eq!(runs, MAX_ATTEMPTS);
    assert_eq!(store.release_generation().await.expect("g"), before + 1);
}

#[tokio::test(flavor = "current_thread")]
async fn connections_lost_are_replaced() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let store = PostgresStore::connect(&url).await.expect("connect");
    let pk = conformance::seed_collection(&store).await;
    let raw = raw_client(&url).await;
    let killed: i64 = raw
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .expect("terminate")
        .get(0);
    assert!(killed >= 1);
    // The pool notices the closed connections and opens new ones; at most the first request
    // that raced the closing fails, as unavailable.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let first = store.query_objects(&ObjectQuery::new(pk, 10)).await;
    if let Err(e) = &first {
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    }
    store
        .query_objects(&ObjectQuery::new(pk, 10))
        .await
        .expect("a fresh connection");
    store
        .add_objects(pk, vec![conformance::object("note", 1, 1)], 1)
        .await
        .expect("write after reconnect");
}

/// The pool of a fresh database with `max` connections, waiting `wait` for one.
async fn small_pool(url: &str, max: usize, wait: Duration) -> pool::Pool {
    let config: Config = url.parse().expect("url");
    let options = PoolOptions {
        max_connections: max,
        acquire_timeout: wait,
    };
    pool::Pool::new(config, None, &options).expect("pool")
}

async fn backend_pid(p: &pool::Pooled) -> i32 {
    Db::new(p.conn().expect("conn"))
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0)
}

#[tokio::test(flavor = "current_thread")]
async fn connections_go_back_only_after_work_that_ended() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let pool = small_pool(&url, 1, Duration::from_secs(5)).await;
    assert_eq!(pool.status().max_size, 1);
    // Work that ended (even with an SQL error) hands the connection back.
    let p = pool.get().await.expect("get");
    let first = backend_pid(&p).await;
    let failed = Db::new(p.conn().expect("conn"))
        .query_one("SELECT 1/0", &[])
        .await
        .map(|_| ());
    assert!(failed.is_err());
    let _ = p.done(failed);
    let p = pool.get().await.expect("get");
    assert_eq!(backend_pid(&p).await, first, "reused after ended work");
    let _ = p.done(Ok(()));
    // Work abandoned mid-statement (a request cancelled inside a transaction): the
    // connection is closed, never handed to the next request.
    let abandoned = async {
        let mut p = pool.get().await.expect("get");
        let tx = p
            .conn_mut()
            .expect("conn")
            .transaction()
            .await
            .expect("begin");
        let _ = Db::new(&tx).query("SELECT pg_sleep(5)", &[]).await;
    };
    assert!(tokio::time::timeout(Duration::from_millis(300), abandoned)
        .await
        .is_err());
    let p = pool.get().await.expect("get");
    let next = backend_pid(&p).await;
    assert_ne!(
        next, first,
        "a connection whose work was abandoned was reused"
    );
    let alive: i64 = Db::new(p.conn().expect("conn"))
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state <> 'idle'",
            &[&first],
        )
        .await
        .expect("activity")
        .get(0);
    // The abandoned backend is gone or going (its client closed the socket).
    assert!(alive <= 1);
    let _ = p.done(Ok(()));
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_waits_for_a_connection_then_is_told_the_store_is_busy() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let pool = small_pool(&url, 1, Duration::from_millis(200)).await;
    let held = pool.get().await.expect("get");
    let started = std::time::Instant::now();
    let busy = pool.get().await.err().expect("the only connection is held");
    let waited = started.elapsed();
    assert!(
        matches!(StoreError::from(busy), StoreError::Unavailable(ref m) if m.contains("busy")),
        "busy"
    );
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    drop(held);
    pool.get().await.expect("free again");
}

#[tokio::test(flavor = "current_thread")]
async fn sessions_carry_relto_settings_and_the_pool_size_is_configured() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let options = PoolOptions {
        max_connections: 3,
        acquire_timeout: Duration::from_secs(1),
    };
    let store = PostgresStore::connect_with(&url, &options)
        .await
        .expect("connect");
    assert_eq!(store.pool.status().max_size, 3);
    let p = store.pool.get().await.expect("get");
    for (setting, want) in [
        ("statement_timeout", "30s"),
        ("idle_in_transaction_session_timeout", "1min"),
        ("jit", "off"),
        ("application_name", "relto"),
    ] {
        let got: String = Db::new(p.conn().expect("conn"))
            .query_one(&format!("SHOW {setting}"), &[])
            .await
            .expect("show")
            .get(0);
        assert_eq!(got, want, "{setting}");
    }
    let _ = p.done(Ok(()));
}

#[tokio::test(flavor = "current_thread")]
async fn unreachable_or_malformed_urls_are_told_apart() {
    let err = PostgresStore::connect("postgres://relto:secret@127.0.0.1:1/relto")
        .await
        .err()
        .expect("nothing listens on port 1");
    assert!(matches!(&err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("secret"));
    let err = PostgresStore::connect("postgres://relto:secret@127.0.0.1:notaport/x")
        .await
        .err()
        .expect("malformed");
    assert!(matches!(&err, StoreError::Invalid(_)), "{err:?}");
    assert!(!err.to_string().contains("secret"));
}

async fn page_all(store: &dyn Store, pk: i64, limit: usize) -> Vec<StoredObject> {
    let mut q = ObjectQuery::new(pk, limit);
    q.versions = VersionFilter::all();
    let mut out = Vec::new();
    loop {
        let page = store.query_objects(&q).await.expect("page");
        assert!(page.items.len() <= limit);
        q.after = page.items.last().map(StoredObject::cursor);
        out.extend(page.items);
        if !page.more {
            return out;
        }
    }
}

/// Two nodes on one database add objects and append audit events at the same time, while a
/// follower pages through the collection with a cursor: it must see every object exactly
/// once (no object committed after its position is skipped), and the audit chain must be one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_order_and_one_chain() {
    const NODES: u32 = 2;
    const BATCHES: u32 = 20;
    const PER_BATCH: u32 = 10;
    const EVENTS_PER_BATCH: i64 = 3;
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let a = Arc::new(PostgresStore::connect(&url).await.expect("node a"));
    let b = Arc::new(PostgresStore::connect(&url).await.expect("node b"));
    let pk = conformance::seed_collection(&*a).await;
    let writers_done = Arc::new(AtomicBool::new(false));

    let follower = {
        let (store, done) = (b.clone(), writers_done.clone());
        tokio::spawn(async move {
            let mut q = ObjectQuery::new(pk, 7);
            q.versions = VersionFilter::all();
            let mut seen = Vec::new();
            loop {
                // Read before querying: a query that starts after the writers finished sees
                // all they wrote.
                let finished = done.load(Ordering::SeqCst);
                let page = store.query_objects(&q).await.expect("follow");
                if let Some(last) = page.items.last() {
                    q.after = Some(last.cursor());
                }
                let empty = page.items.is_empty();
                seen.extend(page.items);
                if empty {
                    if finished {
                        return seen;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        })
    };

    let writers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(node, store)| {
            tokio::spawn(async move {
                for batch in 0..BATCHES {
                    let objects: Vec<NewObject> = (0..PER_BATCH)
                        .map(|i| {
                            let n = 100_000 + node as u32 * 10_000 + batch * PER_BATCH + i;
                            conformance::object("indicator", n, 1_000)
                        })
                        .collect();
                    let out = store.add_objects(pk, objects, now_us()).await.expect("add");
                    assert!(out.iter().all(|o| matches!(o, AddOutcome::Added { .. })));
                    let events = (0..EVENTS_PER_BATCH)
                        .map(|i| event(i64::from(batch) * 10 + i, &format!("node-{node}")))
                        .collect();
                    store.append_audit(events).await.expect("audit");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    writers_done.store(true, Ordering::SeqCst);
    let followed = follower.await.expect("follower");

    let total = (NODES * BATCHES * PER_BATCH) as usize;
    let everything = page_all(&*a, pk, 1000).await;
    assert_eq!(everything.len(), total);
    let ids: HashSet<&str> = everything.iter().map(|o| o.stix_id.as_str()).collect();
    assert_eq!(ids.len(), total, "each object once");
    // date_added is unique and follows the rows' commit order.
    assert!(everything
        .windows(2)
        .all(|w| w[0].date_added < w[1].date_added && w[0].row < w[1].row));
    assert_eq!(
        followed, everything,
        "the follower missed or repeated objects"
    );
    assert_eq!(page_all(&*b, pk, 7).await, everything);

    let records = a.audit_records(0, 10_000).await.expect("audit");
    let expected = i64::from(NODES * BATCHES) * EVENTS_PER_BATCH;
    assert_eq!(audit::verify_chain(&records, &[]), Ok(expected as u64));
    // Each node's events are in the chain in the order it appended them.
    for node in 0..NODES {
        let actor = format!("node-{node}");
        let ts: Vec<i64> = records
            .iter()
            .filter(|r| r.event.actor == actor)
            .map(|r| r.event.ts_us)
            .collect();
        assert_eq!(ts.len() as i64, expected / i64::from(NODES));
        assert!(ts.windows(2).all(|w| w[0] < w[1]), "{actor}");
    }
}

const TYPES: [&str; 5] = [
    "indicator",
    "report",
    "relationship",
    "marking-definition",
    "note",
];
const MARKINGS: [&str; 3] = [
    "marking-definition--11111111-1111-4111-8111-111111111111",
    "marking-definition--22222222-2222-4222-8222-222222222222",
    "marking-definition--33333333-3333-4333-8333-333333333333",
];
const ORGS: [&str; 3] = ["kor-nis", "deu-bnd", "fra-dgse"];

fn id_of(rng: &mut Rng) -> String {
    let t = rng.pick(&TYPES);
    conformance::object(t, rng.below(12) as u32, 0).stix_id
}

fn random_object(rng: &mut Rng, step: u64) -> NewObject {
    let t = *rng.pick(&TYPES);
    let mut o = conformance::object(t, rng.below(12) as u32, 1_000 * (1 + rng.below(4) as i64));
    o.raw = format!("{{\"step\":{step},\"r\":{}}}", rng.next_u64());
    if rng.chance(0.10) {
        o.version = None;
    }
    if rng.chance(0.10) {
        o.spec_version = "2.0".into();
    }
    o.release.originator = if rng.chance(0.80) {
        "kor-nis"
    } else {
        "deu-bnd"
    }
    .into();
    let markings: Vec<String> = MARKINGS
        .iter()
        .filter(|_| rng.chance(0.40))
        .map(|m| m.to_string())
        .collect();
    o.release.label_set = LabelSet {
        default_nation: markings.is_empty().then(|| "KOR".to_string()),
        markings,
        ..LabelSet::default()
    };
    if t == "relationship" {
        o.release.endpoints = vec![id_of(rng), id_of(rng)];
    }
    if t == "report" || t == "note" {
        o.release.object_refs = (0..rng.below(4)).map(|_| id_of(rng)).collect();
    }
    o
}

fn random_versions(rng: &mut Rng) -> VersionFilter {
    match rng.below(5) {
        0 => VersionFilter::all(),
        1 => VersionFilter::last(),
        2 => VersionFilter {
            first: true,
            ..Default::default()
        },
        3 => VersionFilter {
            exact: vec![1_000 * (1 + rng.below(4) as i64)],
            last: rng.chance(0.50),
            ..Default::default()
        },
        _ => VersionFilter::default(),
    }
}

/// A page's items without their row ids: SQLite reuses the row id of a deleted newest row,
/// PostgreSQL's identity never goes back (rows only break ties of date_added, which is unique).
fn rowless(items: &[StoredObject]) -> Vec<(String, i64, i64, String, String, String)> {
    items
        .iter()
        .map(|o| {
            (
                o.stix_id.clone(),
                o.date_added,
                o.version,
                o.spec_version.clone(),
                o.raw.clone(),
                o.originator.clone(),
            )
        })
        .collect()
}

/// A page's hidden object_refs entries with their rows named by (id, version) instead.
fn hidden_by_id(page: &Page) -> Vec<(String, i64, usize)> {
    page.hidden_refs
        .iter()
        .map(|h| {
            let o = page
                .items
                .iter()
                .find(|o| o.row == h.row)
                .expect("row of the page");
            (o.stix_id.clone(), o.version, h.index)
        })
        .collect()
}

async fn same_release_state(lite: &dyn Store, pg: &dyn Store) {
    let (mut a, mut b) = (
        lite.release_state().await.expect("lite state"),
        pg.release_state().await.expect("pg state"),
    );
    assert_eq!(a.generation, b.generation);
    assert_eq!(
        lite.release_generation().await.expect("g"),
        pg.release_generation().await.expect("g")
    );
    a.markings.sort();
    b.markings.sort();
    assert_eq!(a.markings, b.markings);
    assert_eq!(a.label_sets, b.label_sets);
    assert_eq!(a.rules.equivalences, b.rules.equivalences);
}

/// Runs the same random operations (adds with duplicates, new versions and refusals;
/// deletes; filtered and reader-restricted paging; hidden references; audit appends) on the
/// SQLite store and this one, and compares every answer.
#[tokio::test(flavor = "current_thread")]
async fn behaves_like_the_sqlite_store() {
    for seed in SEEDS {
        let Some((url, _guard)) = test_db().await else {
            return;
        };
        same_as_sqlite(&url, seed).await;
    }
}

const SEEDS: [u64; 3] = [0x9e37_79b9_7f4a_7c15, 7, 0x5eed];

async fn same_as_sqlite(url: &str, seed: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let lite = relto_store_sqlite::SqliteStore::open_in_dir(dir.path()).expect("sqlite");
    let pg = PostgresStore::connect(url).await.expect("connect");
    let (lite, pg): (&dyn Store, &dyn Store) = (&lite, &pg);
    let (lpk, ppk) = (
        conformance::seed_collection(lite).await,
        conformance::seed_collection(pg).await,
    );
    let mut rng = Rng(seed);
    let mut dates: Vec<i64> = Vec::new();
    let (mut added, mut refused, mut duplicates, mut deleted, mut pages) = (0, 0, 0, 0, 0);
    for step in 0..400u64 {
        match rng.below(100) {
            0..=44 => {
                let batch: Vec<NewObject> = (0..1 + rng.below(8))
                    .map(|_| random_object(&mut rng, step))
                    .collect();
                // Sometimes behind the clock already handed out.
                let now = (step as i64 * 10 - rng.below(40) as i64).max(0);
                let a = lite
                    .add_objects(lpk, batch.clone(), now)
                    .await
                    .expect("lite add");
                let b = pg.add_objects(ppk, batch, now).await.expect("pg add");
                assert_eq!(a, b, "seed {seed} step {step}");
                for o in &a {
                    match o {
                        AddOutcome::Added { date_added, .. } => {
                            added += 1;
                            dates.push(*date_added);
                        }
                        AddOutcome::Refused(_) => refused += 1,
                        AddOutcome::Duplicate { .. } => duplicates += 1,
                    }
                }
            }
            45..=54 => {
                let id = id_of(&mut rng);
                let versions = random_versions(&mut rng);
                let specs: Vec<String> = if rng.chance(0.20) {
                    vec!["2.0".into()]
                } else {
                    vec![]
                };
                let a = lite.delete_object(lpk, &id, &versions, &specs).await;
                let b = pg.delete_object(ppk, &id, &versions, &specs).await;
                assert_eq!(
                    a.expect("lite delete"),
                    b.expect("pg delete"),
                    "seed {seed} step {step}"
                );
                deleted += 1;
            }
            55..=59 => {
                let events: Vec<audit::AuditEvent> = (0..1 + rng.below(4) as i64)
                    .map(|i| {
                        let who = *rng.pick(&ORGS);
                        event(step as i64 * 10 + i, who)
                    })
                    .collect();
                lite.append_audit(events.clone()).await.expect("lite audit");
                pg.append_audit(events).await.expect("pg audit");
            }
            _ => {
                let mut q = ObjectQuery::new(lpk, 1 + rng.below(10));
                q.ids = (0..rng.below(3)).map(|_| id_of(&mut rng)).collect();
                q.types = (0..rng.below(3))
                    .map(|_| rng.pick(&TYPES).to_string())
                    .collect();
                q.versions = random_versions(&mut rng);
                if rng.chance(0.15) {
                    q.spec_versions = vec![if rng.chance(0.50) { "2.0" } else { "2.1" }.into()];
                }
                if rng.chance(0.30) && !dates.is_empty() {
                    q.added_after = Some(*rng.pick(&dates));
                }
                q.with_raw = rng.chance(0.70);
                if rng.chance(0.70) {
                    let sets = lite.release_state().await.expect("state").label_sets;
                    q.reader = Some(ReaderFilter {
                        organization: rng.pick(&ORGS).to_string(),
                        label_sets: sets
                            .iter()
                            .filter(|_| rng.chance(0.50))
                            .map(|s| s.id)
                            .collect(),
                    });
                }
                let mut pq = q.clone();
                pq.collection = ppk;
                loop {
                    let a = lite.query_objects(&q).await.expect("lite query");
                    let b = pg.query_objects(&pq).await.expect("pg query");
                    assert_eq!(
                        rowless(&a.items),
                        rowless(&b.items),
                        "seed {seed} step {step}: {q:?}"
                    );
                    assert_eq!(a.more, b.more, "seed {seed} step {step}");
                    pages += 1;
                    assert_eq!(
                        hidden_by_id(&a),
                        hidden_by_id(&b),
                        "seed {seed} step {step}"
                    );
                    if !a.more {
                        break;
                    }
                    q.after = a.items.last().map(StoredObject::cursor);
                    pq.after = b.items.last().map(StoredObject::cursor);
                }
            }
        }
        if step % 50 == 0 {
            same_release_state(lite, pg).await;
        }
    }
    same_release_state(lite, pg).await;
    let everything = |pk| {
        let mut q = ObjectQuery::new(pk, 10_000);
        q.versions = VersionFilter::all();
        q
    };
    let (a, b) = (
        lite.query_objects(&everything(lpk))
            .await
            .expect("lite all"),
        pg.query_objects(&everything(ppk)).await.expect("pg all"),
    );
    assert_eq!(rowless(&a.items), rowless(&b.items));
    for first_last in [
        VersionFilter::last(),
        VersionFilter {
            first: true,
            ..Default::default()
        },
    ] {
        let (mut qa, mut qb) = (everything(lpk), everything(ppk));
        qa.versions = first_last.clone();
        qb.versions = first_last;
        assert_eq!(
            rowless(&lite.query_objects(&qa).await.expect("a").items),
            rowless(&pg.query_objects(&qb).await.expect("b").items)
        );
    }
    assert_eq!(
        lite.audit_records(0, 10_000).await.expect("lite audit"),
        pg.audit_records(0, 10_000).await.expect("pg audit")
    );
    eprintln!(
        "compared: {added} added, {duplicates} duplicates, {refused} refused, {deleted} deletes, \
         {pages} pages; {} objects at the end",
        a.items.len()
    );
    assert!(added > 100 && duplicates > 10 && refused > 5 && pages > 100);
}

/// The local cluster's own certificate (Debian's snakeoil, issued to `localhost`) as the CA.
const LOCAL_CA: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

/// The test database's URL by the name its certificate carries, with TLS parameters.
fn tls_url(url: &str, params: &str) -> String {
    format!("{}?{params}", url.replace("@127.0.0.1", "@localhost"))
}

#[tokio::test(flavor = "current_thread")]
async fn connects_with_verify_full_and_refuses_a_wrong_ca() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let verified = PostgresStore::connect(&tls_url(
        &url,
        &format!("sslmode=verify-full&sslrootcert={LOCAL_CA}"),
    ))
    .await
    .expect("verify-full against the cluster's own certificate");
    let encrypted: bool = verified
        .read(&(), |db, _| {
            Box::pin(async move {
                Ok(db
                    .query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .await?
                    .try_get(0)?)
            })
        })
        .await
        .expect("query");
    assert!(encrypted, "the session is not encrypted");
    // Another CA (a public root that did not issue the cluster's certificate): refused,
    // saying why.
    let wrong = PostgresStore::connect(&tls_url(
        &url,
        "sslmode=verify-full&sslrootcert=/etc/ssl/certs/ISRG_Root_X1.pem",
    ))
    .await;
    match wrong {
        Err(StoreError::Unavailable(why)) => assert!(
            why.contains("certificate") || why.contains("UnknownIssuer"),
            "{why}"
        ),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("connected with a CA that did not issue the server's certificate"),
    }
    // verify-full without a CA is a configuration error naming what to add.
    match PostgresStore::connect(&tls_url(&url, "sslmode=verify-full")).await {
        Err(StoreError::Invalid(why)) => assert!(why.contains("sslrootcert"), "{why}"),
        _ => panic!("verify-full without sslrootcert was accepted"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_load_commits_whole_or_not_at_all() {
    let Some((url, _guard)) = test_db().await else {
        return;
    };
    let store = PostgresStore::connect(&url).await.expect("connect");
    let api_root = |path: &str| {
        vec![
            Column::Text(vec![Some(path.into())]),
            Column::Text(vec![Some("Coalition".into())]),
            Column::Text(vec![Some(String::new())]),
            Column::Int(vec![Some(1 << 20)]),
            Column::Bool(vec![Some(true)]),
        ]
    };
    // A chunk whose columns are not the table's is refused before anything is sent.
    let mut load = store.begin_load().await.expect("begin");
    let wrong = load.insert(LoadTable::ApiRoots, &api_root("a")[1..]).await;
    assert!(matches!(wrong, Err(StoreError::Internal(_))), "{wrong:?}");
    // Dropped half-way: nothing was committed, so the database still counts as empty.
    load.insert(LoadTable::ApiRoots, &api_root("coalition"))
        .await
        .expect("insert");
    drop(load);
    assert!(store.api_roots().await.expect("roots").is_empty());
    let mut load = store.begin_load().await.expect("still empty");
    load.insert(LoadTable::ApiRoots, &api_root("coalition"))
        .await
        .expect("insert");
    let rows = load.finish(HubState::default()).await.expect("finish");
    assert!(rows.contains(&("api_roots", 1)), "{rows:?}");
    assert_eq!(store.api_roots().await.expect("roots").len(), 1);
    let again = store.begin_load().await.err().expect("holds a hub now");
    assert!(again.to_string().contains("already holds a hub"), "{again}");
}
