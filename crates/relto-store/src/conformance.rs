//! The storage conformance suite: every backend runs `run_all` on a fresh store and must pass.
//! It panics (as tests do) on the first behaviour that differs from the contract of `Store`.
//! Built only with the `testing` feature, for tests.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use crate::audit::{AuditKind, AuditOutcome};
use crate::*;
use relto_policy::realm::PeerDirection;
use relto_taxii::{Cursor, VersionFilter};

pub const ROOT: &str = "r1";
pub const COLLECTION: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";

/// A minimal realm: one API root, organization, account and collection.
pub fn plan() -> RealmPlan {
    RealmPlan {
        release_rules: relto_policy::ReleaseRules::default(),
        api_roots: vec![ApiRoot {
            path: ROOT.into(),
            title: "Root one".into(),
            description: None,
            max_content_length: 1 << 20,
        }],
        organizations: vec![Organization {
            slug: "kor-nis".parse().expect("a valid name"),
            name: "National Intelligence Service".into(),
            nation: "KOR".parse().expect("a valid name"),
            identity: "identity--7b1e2a51-5d9c-4b8e-9f0a-3c2d1e0f9a8b".into(),
            accredited: vec![],
        }],
        accounts: vec![PlannedAccount {
            name: "nis-analyst".into(),
            organization: "kor-nis".parse().expect("a valid name"),
            roles: vec![relto_policy::Role::Analyst],
            password_hash: Some("$argon2id$placeholder".into()),
            token_sha256: Some([9; 32]),
            clearances: vec![relto_policy::Clearance {
                policy: "NATO".into(),
                level: "NS".into(),
                sensitivity: vec!["ATOMAL".into()],
            }],
            public_key: None,
        }],
        collections: vec![PlannedCollection {
            id: COLLECTION.into(),
            api_root: ROOT.into(),
            title: "Situation reports".into(),
            description: None,
            alias: None,
            readers: vec!["org:kor-nis".into()],
            writers: vec!["org:kor-nis".into()],
        }],
        peers: vec![],
    }
}

/// xorshift64*: a fixed sequence, so that a randomized test's failure can be replayed; for
/// the stores' and the server's randomized tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() % 10_000) as f64 / 10_000.0 < p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Applies [`plan`] and returns the collection's key.
pub async fn seed_collection(store: &dyn Store) -> i64 {
    store.apply_realm(&plan()).await.expect("apply realm");
    store
        .collection(ROOT, COLLECTION)
        .await
        .expect("collection lookup")
        .expect("collection exists")
        .1
        .pk
}

/// An object of `object_type` numbered `n` at version `version_us`.
pub fn object(object_type: &str, n: u32, version_us: i64) -> NewObject {
    let id = format!("{object_type}--00000000-0000-4000-8000-{n:012}");
    NewObject {
        raw: format!(
            "{{\"type\":\"{object_type}\",\"id\":\"{id}\",\"spec_version\":\"2.1\",\"v\":{version_us}}}"
        ),
        stix_id: id,
        object_type: object_type.into(),
        spec_version: "2.1".into(),
        version: Some(version_us),
        release: ReleaseFacts {
            originator: "kor-nis".into(),
            label_set: LabelSet {
                markings: vec![],
                default_nation: Some("KOR".into()),
                ..LabelSet::default()
            },
            endpoints: vec![],
            object_refs: vec![],
        },
        hops: None,
    }
}

/// An object created by `originator` under label set `markings`.
pub fn labelled(object_type: &str, n: u32, originator: &str, markings: &[&str]) -> NewObject {
    let mut o = object(object_type, n, 1_000);
    o.release.originator = originator.into();
    o.release.label_set = LabelSet {
        markings: markings.iter().map(|m| m.to_string()).collect(),
        default_nation: None,
        ..LabelSet::default()
    };
    o
}

pub async fn run_all(store: &dyn Store) {
    bootstrap_once(store).await;
    realm_is_idempotent(store).await;
    peers_follow_the_realm(store).await;
    let pk = seed_collection(store).await;
    tokens(store).await;
    add_and_duplicates(store, pk).await;
    hop_paths_are_kept(store, pk).await;
    pagination_is_exact(store, pk).await;
    version_filters(store, pk).await;
    other_filters(store, pk).await;
    delete_recomputes_versions(store, pk).await;
    statuses(store).await;
    release_predicate(store).await;
    release_plans(store).await;
    audit_chain(store).await;
    cursor_key_is_stable(store).await;
    disabled_entries_vanish(store).await;
}

async fn bootstrap_once(store: &dyn Store) {
    let hub = HubIdentity {
        nation: "KOR".parse().expect("a valid name"),
        organization: "hub".parse().expect("a valid name"),
        identity: "identity--0b4c1d2e-3f4a-4b5c-8d6e-7f8091a2b3c4".into(),
    };
    assert!(store
        .bootstrap(&hub, "$argon2id$x")
        .await
        .expect("bootstrap"));
    assert!(!store.bootstrap(&hub, "$argon2id$y").await.expect("again"));
    let admin = store
        .account("admin")
        .await
        .expect("lookup")
        .expect("admin");
    assert!(admin.has_role(relto_policy::Role::Admin));
    assert_eq!(admin.password_hash.as_deref(), Some("$argon2id$x"));
    assert_eq!(admin.organization.slug, "hub");
}

async fn realm_is_idempotent(store: &dyn Store) {
    let first = store.apply_realm(&plan()).await.expect("apply");
    assert_eq!(first.created, 4);
    let names: Vec<String> = store
        .accounts()
        .await
        .expect("accounts")
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, vec!["admin", "nis-analyst"]);
    let again = store.apply_realm(&plan()).await.expect("apply again");
    assert_eq!(
        again,
        ApplySummary {
            unchanged: 4,
            ..Default::default()
        }
    );
    let mut changed = plan();
    changed.collections[0].title = "Renamed".into();
    let third = store.apply_realm(&changed).await.expect("apply changed");
    assert_eq!((third.updated, third.unchanged), (1, 3));
    // The hub's own organization and admin are not part of the realm and stay enabled.
    assert!(store.account("admin").await.expect("lookup").is_some());
}

/// Peers are stored as the realm declares them, updated when it changes them and disabled
/// (their state kept) when it no longer names them.
async fn peers_follow_the_realm(store: &dyn Store) {
    let peer = |name: &str, direction| PlannedPeer {
        name: name.into(),
        organization: "kor-nis".into(),
        url: format!(
            "https://{name}.example/root/collections/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e/"
        ),
        direction,
        collection: COLLECTION.into(),
        account_env: None,
        password_env: None,
        token_env: Some(format!("TOKEN_{name}")),
        ca_file: None,
        interval_secs: 30,
        clearances: vec![relto_policy::Clearance {
            policy: "NATO".into(),
            level: "NS".into(),
            sensitivity: vec![],
        }],
    };
    let (nato, eu) = (
        peer("nato-hub", PeerDirection::Push),
        peer("eu-hub", PeerDirection::Pull),
    );
    let listed = |peers: Vec<Peer>| -> Vec<(PlannedPeer, bool)> {
        peers.into_iter().map(|p| (p.plan, p.enabled)).collect()
    };
    let mut with_peers = plan();
    with_peers.peers = vec![nato.clone(), eu.clone()];
    let s = store.apply_realm(&with_peers).await.expect("apply");
    assert_eq!(s.created, 2);
    let stored = store.peers().await.expect("peers");
    assert!(stored
        .iter()
        .all(|p| p.cursor.is_none() && p.failures == 0 && p.last_success_us.is_none()));
    assert_eq!(
        listed(stored),
        vec![(eu.clone(), true), (nato.clone(), true)]
    );
    let again = store.apply_realm(&with_peers).await.expect("apply again");
    assert_eq!((again.created, again.updated, again.disabled), (0, 0, 0));
    let mut slower = nato.clone();
    slower.interval_secs = 60;
    let mut changed = plan();
    changed.peers = vec![slower.clone()];
    let s = store.apply_realm(&changed).await.expect("apply changed");
    assert_eq!((s.updated, s.disabled), (1, 1));
    assert_eq!(
        listed(store.peers().await.expect("peers")),
        vec![(eu, false), (slower, true)]
    );

    // One node at a time holds a peer's lease; only the holder's runs are recorded.
    let lease =
        |holder: &'static str, now: i64| store.lease_peer("nato-hub", holder, now, now + 10);
    assert!(lease("node-a", 100).await.expect("lease"));
    assert!(!lease("node-b", 105).await.expect("lease held"));
    assert!(lease("node-a", 105).await.expect("renewed"));
    assert!(!store
        .lease_peer("eu-hub", "node-a", 100, 110)
        .await
        .expect("disabled peer"));
    let failed = PeerRun {
        at_us: 106,
        cursor: None,
        transferred: 3,
        withheld: 1,
        error: Some("connection refused".into()),
    };
    assert!(store
        .record_peer_run("nato-hub", "node-a", &failed)
        .await
        .expect("run"));
    assert!(!store
        .record_peer_run("nato-hub", "node-b", &failed)
        .await
        .expect("not the holder"));
    let ok = PeerRun {
        at_us: 107,
        cursor: Some("cursor-1".into()),
        transferred: 2,
        ..PeerRun::default()
    };
    assert!(store
        .record_peer_run("nato-hub", "node-a", &ok)
        .await
        .expect("run"));
    let state = |peers: Vec<Peer>| {
        let p = peers
            .into_iter()
            .find(|p| p.plan.name == "nato-hub")
            .expect("nato-hub");
        (
            p.cursor,
            p.last_attempt_us,
            p.last_success_us,
            p.failures,
            p.last_error,
            p.transferred,
            p.withheld,
        )
    };
    assert_eq!(
        state(store.peers().await.expect("peers")),
        (Some("cursor-1".into()), Some(107), Some(107), 0, None, 5, 1)
    );
    assert!(store
        .record_peer_run("nato-hub", "node-a", &failed)
        .await
        .expect("run"));
    assert_eq!(
        state(store.peers().await.expect("peers")),
        (
            Some("cursor-1".into()),
            Some(106),
            Some(107),
            1,
            Some("connection refused".into()),
            8,
            2
        )
    );
    // Expired: another node takes over, and the first one's records stop counting.
    assert!(lease("node-b", 116).await.expect("expired lease taken"));
    assert!(!store
        .record_peer_run("nato-hub", "node-a", &ok)
        .await
        .expect("fenced"));
    // What a push has sent: copies replaced by version, withdrawn ones forgotten.
    let copy = |id: &str, version: i64, digest: &str| SentCopy {
        stix_id: id.into(),
        version,
        digest: digest.into(),
    };
    store
        .record_peer_sent(
            "nato-hub",
            &[copy("indicator--1", 1, "a"), copy("indicator--1", 2, "b")],
            &[],
        )
        .await
        .expect("sent");
    store
        .record_peer_sent(
            "nato-hub",
            &[copy("indicator--1", 2, "c")],
            &[("indicator--1".into(), 1)],
        )
        .await
        .expect("sent again");
    assert_eq!(
        store.peer_sent("nato-hub").await.expect("sent"),
        vec![copy("indicator--1", 2, "c")]
    );
    assert!(store.peer_sent("eu-hub").await.expect("sent").is_empty());
    let kor = store
        .organization("kor-nis")
        .await
        .expect("organization")
        .expect("kor-nis");
    assert_eq!(kor.nation, "KOR");
    assert!(store
        .organization("nobody")
        .await
        .expect("organization")
        .is_none());
}

async fn tokens(store: &dyn Store) {
    let acct = store
        .account_by_token(&[9; 32], 0)
        .await
        .expect("token lookup")
        .expect("realm token");
    assert_eq!(acct.name, "nis-analyst");
    assert_eq!(acct.clearances, plan().accounts[0].clearances);
    assert_eq!(acct.organization.nation, "KOR");
    store
        .add_token(&NewToken {
            account: "nis-analyst".into(),
            sha256: [3; 32],
            label: "short".into(),
            created_us: 0,
            expires_us: Some(100),
        })
        .await
        .expect("add token");
    assert!(store
        .account_by_token(&[3; 32], 99)
        .await
        .expect("l")
        .is_some());
    assert!(store
        .account_by_token(&[3; 32], 100)
        .await
        .expect("l")
        .is_none());
    assert!(store
        .account_by_token(&[4; 32], 0)
        .await
        .expect("l")
        .is_none());
    let bad = NewToken {
        account: "nobody".into(),
        sha256: [5; 32],
        label: "x".into(),
        created_us: 0,
        expires_us: None,
    };
    assert!(matches!(
        store.add_token(&bad).await,
        Err(StoreError::Invalid(_))
    ));
    // A session ends with a password change; revocation ends one token or all; the realm's
    // token is the one it names now. Each changes the release generation.
    let session = |sha: [u8; 32]| NewToken {
        account: "nis-analyst".into(),
        sha256: sha,
        label: "session".into(),
        created_us: 0,
        expires_us: None,
    };
    store.add_token(&session([6; 32])).await.expect("session");
    let g = store.release_generation().await.expect("g");
    store
        .set_password("nis-analyst", "$argon2id$changed")
        .await
        .expect("set");
    assert!(store.release_generation().await.expect("g") > g);
    let lookup = |sha: [u8; 32]| async move {
        store
            .account_by_token(&sha, 0)
            .await
            .expect("lookup")
            .is_some()
    };
    assert!(
        !lookup([6; 32]).await,
        "a session outlived a password change"
    );
    assert!(lookup([9; 32]).await, "the realm token is not a session");
    store.add_token(&session([7; 32])).await.expect("session");
    store.add_token(&session([8; 32])).await.expect("session");
    assert_eq!(
        store
            .revoke_tokens("nis-analyst", Some(&[7; 32]))
            .await
            .expect("revoke"),
        1
    );
    assert!(!lookup([7; 32]).await && lookup([8; 32]).await);
    let mut rotated = plan();
    rotated.accounts[0].token_sha256 = Some([10; 32]);
    store.apply_realm(&rotated).await.expect("rotate");
    assert!(!lookup([9; 32]).await, "a rotated realm token still works");
    assert!(lookup([10; 32]).await);
    assert!(store.revoke_tokens("nis-analyst", None).await.expect("all") >= 2);
    assert!(!lookup([8; 32]).await && !lookup([10; 32]).await);
    // Back to the plan's token and password for the rest of the suite.
    store.apply_realm(&plan()).await.expect("restore");
    assert!(lookup([9; 32]).await);
}

/// A version's hop path (DESIGN §11) is kept with it and read back with it, also without
/// its bytes; versions that began here have none.
async fn hop_paths_are_kept(store: &dyn Store, pk: i64) {
    let mut relayed = object("campaign", 40, 1_000);
    relayed.hops = Some("kor,nato".into());
    let local = object("campaign", 41, 1_000);
    store
        .add_objects(pk, vec![relayed, local], 10)
        .await
        .expect("add");
    for with_raw in [true, false] {
        let mut q = ObjectQuery::new(pk, 10);
        q.ids = vec![
            object("campaign", 40, 0).stix_id,
            object("campaign", 41, 0).stix_id,
        ];
        q.with_raw = with_raw;
        let page = store.query_objects(&q).await.expect("query");
        let hops: Vec<Option<&str>> = page.items.iter().map(|o| o.hops.as_deref()).collect();
        assert_eq!(hops, vec![Some("kor,nato"), None], "with_raw {with_raw}");
    }
    for n in [40, 41] {
        let id = object("campaign", n, 0).stix_id;
        store
            .delete_object(pk, &id, &VersionFilter::all(), &[])
            .await
            .expect("delete");
    }
}

async fn add_and_duplicates(store: &dyn Store, pk: i64) {
    let objs = vec![
        object("indicator", 1, 1_000),
        object("indicator", 1, 2_000),
        object("report", 2, 1_000),
        object("indicator", 1, 1_000), // duplicate in the same batch
    ];
    let out = store.add_objects(pk, objs, 10).await.expect("add");
    let added: Vec<i64> = out
        .iter()
        .filter_map(|o| match o {
            AddOutcome::Added { date_added, .. } => Some(*date_added),
            _ => None,
        })
        .collect();
    assert_eq!(added.len(), 3);
    assert!(added.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
    assert_eq!(out[3], AddOutcome::Duplicate { version: 1_000 });
    let again = store
        .add_objects(pk, vec![object("report", 2, 1_000)], 10)
        .await
        .expect("add again");
    assert_eq!(again, vec![AddOutcome::Duplicate { version: 1_000 }]);
    // An object without a version has one version only.
    let mut sco = object("ipv4-addr", 3, 0);
    sco.version = None;
    let first = store
        .add_objects(pk, vec![sco.clone()], 10)
        .await
        .expect("sco");
    let AddOutcome::Added {
        date_added,
        version,
    } = first[0]
    else {
        panic!("sco not added")
    };
    assert_eq!(version, date_added);
    let second = store
        .add_objects(pk, vec![sco], 10)
        .await
        .expect("sco again");
    assert_eq!(second, vec![AddOutcome::Duplicate { version }]);
}

async fn collect_all(store: &dyn Store, base: &ObjectQuery) -> Vec<StoredObject> {
    let mut q = base.clone();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = store.query_objects(&q).await.expect("query");
        assert!(page.items.len() <= q.limit);
        if page.more {
            assert_eq!(page.items.len(), q.limit, "a page with more must be full");
        }
        let last = page.items.last().map(StoredObject::cursor);
        out.extend(page.items);
        match (page.more, last) {
            (true, Some(c)) => q.after = Some(c),
            _ => return out,
        }
    }
    panic!("pagination did not end")
}

async fn pagination_is_exact(store: &dyn Store, pk: i64) {
    let batch: Vec<NewObject> = (10..60).map(|n| object("note", n, 5_000)).collect();
    store.add_objects(pk, batch, 20).await.expect("add batch");
    let mut all = ObjectQuery::new(pk, 1000);
    all.versions = VersionFilter::all();
    let everything = store.query_objects(&all).await.expect("all").items;
    assert_eq!(everything.len(), 54);
    assert!(everything
        .windows(2)
        .all(|w| (w[0].date_added, w[0].row) < (w[1].date_added, w[1].row)));
    for limit in [1, 7, 53, 54, 55] {
        let mut q = all.clone();
        q.limit = limit;
        let paged = collect_all(store, &q).await;
        assert_eq!(paged, everything, "limit {limit}");
    }
    let mut q = all.clone();
    q.with_raw = false;
    let manifest = store.query_objects(&q).await.expect("manifest");
    assert!(manifest.items.iter().all(|o| o.raw.is_empty()));
    assert!(everything.iter().all(|o| o.raw.starts_with('{')));
    // A cursor past the end yields an empty final page.
    let mut q = all.clone();
    q.after = everything.last().map(StoredObject::cursor);
    let tail = store.query_objects(&q).await.expect("tail");
    assert!(tail.items.is_empty() && !tail.more);
}

async fn version_filters(store: &dyn Store, pk: i64) {
    let id = "indicator--00000000-0000-4000-8000-000000000001";
    let versions = |v: VersionFilter| {
        let mut q = ObjectQuery::new(pk, 100);
        q.ids = vec![id.into()];
        q.versions = v;
        q
    };
    let get = |q: ObjectQuery| async move {
        store
            .query_objects(&q)
            .await
            .expect("q")
            .items
            .iter()
            .map(|o| o.version)
            .collect::<Vec<_>>()
    };
    // Add an older version after the newer ones: order is by date_added, first/last by version.
    store
        .add_objects(pk, vec![object("indicator", 1, 500)], 30)
        .await
        .expect("older");
    assert_eq!(get(versions(VersionFilter::last())).await, vec![2_000]);
    let first = VersionFilter {
        first: true,
        ..Default::default()
    };
    assert_eq!(get(versions(first)).await, vec![500]);
    assert_eq!(
        get(versions(VersionFilter::all())).await,
        vec![1_000, 2_000, 500]
    );
    let exact = VersionFilter {
        exact: vec![1_000, 7],
        last: true,
        ..Default::default()
    };
    assert_eq!(get(versions(exact)).await, vec![1_000, 2_000]);
    assert!(get(versions(VersionFilter::default())).await.is_empty());
}

async fn other_filters(store: &dyn Store, pk: i64) {
    let mut q = ObjectQuery::new(pk, 1000);
    q.types = vec!["report".into(), "ipv4-addr".into()];
    let page = store.query_objects(&q).await.expect("types");
    assert_eq!(page.items.len(), 2);
    let mut q = ObjectQuery::new(pk, 1000);
    q.spec_versions = vec!["2.0".into()];
    assert!(store
        .query_objects(&q)
        .await
        .expect("spec")
        .items
        .is_empty());
    let everything = store
        .query_objects(&ObjectQuery::new(pk, 1000))
        .await
        .expect("all")
        .items;
    let mid = everything[everything.len() / 2].date_added;
    let mut q = ObjectQuery::new(pk, 1000);
    q.added_after = Some(mid);
    let after = store.query_objects(&q).await.expect("added_after").items;
    assert!(!after.is_empty() && after.iter().all(|o| o.date_added > mid));
    assert_eq!(
        after.len(),
        everything.iter().filter(|o| o.date_added > mid).count()
    );
    // Another collection's key sees nothing.
    let q = ObjectQuery::new(pk + 1000, 10);
    assert!(store
        .query_objects(&q)
        .await
        .expect("other")
        .items
        .is_empty());
    // A cursor built by hand for a position works like a served one.
    let mut q = ObjectQuery::new(pk, 1000);
    q.after = Some(Cursor {
        date_added: mid,
        row: i64::MAX,
    });
    assert_eq!(
        store.query_objects(&q).await.expect("c").items.len(),
        after.len()
    );
}

async fn delete_recomputes_versions(store: &dyn Store, pk: i64) {
    let id = "indicator--00000000-0000-4000-8000-000000000001";
    let last_only = VersionFilter {
        exact: vec![2_000],
        ..Default::default()
    };
    assert_eq!(
        store
            .delete_object(pk, id, &last_only, &[])
            .await
            .expect("del"),
        1
    );
    let mut q = ObjectQuery::new(pk, 10);
    q.ids = vec![id.into()];
    let now_last: Vec<i64> = store
        .query_objects(&q)
        .await
        .expect("q")
        .items
        .iter()
        .map(|o| o.version)
        .collect();
    assert_eq!(now_last, vec![1_000], "the next newest becomes last");
    assert_eq!(
        store
            .delete_object(pk, id, &VersionFilter::all(), &["2.0".into()])
            .await
            .expect("del spec"),
        0
    );
    assert_eq!(
        store
            .delete_object(pk, id, &VersionFilter::all(), &[])
            .await
            .expect("del all"),
        2
    );
    q.versions = VersionFilter::all();
    assert!(store.query_objects(&q).await.expect("q").items.is_empty());
}

async fn statuses(store: &dyn Store) {
    let row = StatusRow {
        id: "status-1".into(),
        api_root: ROOT.into(),
        account: "nis-analyst".into(),
        created_us: 100,
        json: "{\"id\":\"status-1\"}".into(),
    };
    store.put_status(&row).await.expect("put");
    let got = store
        .status(ROOT, "status-1")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(got.json, "{\"id\":\"status-1\"}");
    assert_eq!((got.account.as_str(), got.created_us), ("nis-analyst", 100));
    assert!(store
        .status("other", "status-1")
        .await
        .expect("get")
        .is_none());
    assert_eq!(store.purge_statuses(100).await.expect("purge"), 0);
    assert_eq!(store.purge_statuses(101).await.expect("purge"), 1);
    assert!(store.status(ROOT, "status-1").await.expect("get").is_none());
}

async fn cursor_key_is_stable(store: &dyn Store) {
    let a = store.cursor_key().await.expect("key");
    let b = store.cursor_key().await.expect("key");
    assert_eq!(a, b);
    assert_ne!(a, [0; 32]);
}

async fn disabled_entries_vanish(store: &dyn Store) {
    let mut shrunk = plan();
    shrunk.collections.clear();
    shrunk.accounts.clear();
    let s = store.apply_realm(&shrunk).await.expect("apply");
    // Both collections (the release suite added one) and the account.
    assert_eq!(s.disabled, 3);
    assert!(store
        .collection(ROOT, COLLECTION)
        .await
        .expect("l")
        .is_none());
    assert!(store.account("nis-analyst").await.expect("l").is_none());
    assert!(store
        .account_by_token(&[9; 32], 0)
        .await
        .expect("l")
        .is_none());
    // Re-applying the full realm brings them back with their data.
    store.apply_realm(&plan()).await.expect("apply");
    let pk = store
        .collection(ROOT, COLLECTION)
        .await
        .expect("l")
        .expect("back")
        .1
        .pk;
    assert!(!store
        .query_objects(&ObjectQuery::new(pk, 10))
        .await
        .expect("q")
        .items
        .is_empty());
}

async fn release_predicate(store: &dyn Store) {
    // A fresh collection of its own, so the counts below are exact.
    let mut p = plan();
    p.collections.push(PlannedCollection {
        id: "7c6b5a49-3827-4615-9a0b-1c2d3e4f5a6b".into(),
        api_root: ROOT.into(),
        title: "Release".into(),
        description: None,
        alias: None,
        readers: vec![],
        writers: vec![],
    });
    p.release_rules.equivalences = vec![("KOR:II".into(), "NATO:NS".into())];
    let before = store.release_generation().await.expect("generation");
    store.apply_realm(&p).await.expect("apply");
    let after_apply = store.release_generation().await.expect("generation");
    assert!(
        after_apply > before,
        "applying a realm changes the generation"
    );
    let pk = store
        .collection(ROOT, "7c6b5a49-3827-4615-9a0b-1c2d3e4f5a6b")
        .await
        .expect("l")
        .expect("c")
        .1
        .pk;
    let md = "marking-definition--11111111-1111-4111-8111-111111111111";
    let mut marking = labelled("marking-definition", 900, "kor-nis", &[]);
    marking.stix_id = md.into();
    marking.raw = format!("{{\"type\":\"marking-definition\",\"id\":\"{md}\"}}");
    let ns = "marking-definition--22222222-2222-4222-8222-222222222222";
    let secret = labelled("indicator", 901, "kor-nis", &[ns]);
    let open_a = labelled("identity", 902, "kor-nis", &[md]);
    let open_b = labelled("identity", 903, "kor-nis", &[md]);
    let mut rel_ok = labelled("relationship", 904, "kor-nis", &[md]);
    rel_ok.release.endpoints = vec![open_a.stix_id.clone(), open_b.stix_id.clone()];
    let mut rel_hidden = labelled("relationship", 905, "kor-nis", &[md]);
    rel_hidden.release.endpoints = vec![open_a.stix_id.clone(), secret.stix_id.clone()];
    let mut report_ok = labelled("report", 906, "kor-nis", &[md]);
    report_ok.release.object_refs = vec![secret.stix_id.clone(), open_a.stix_id.clone()];
    let mut report_hidden = labelled("report", 907, "kor-nis", &[md]);
    report_hidden.release.object_refs = vec![secret.stix_id.clone()];
    let mine = labelled("note", 908, "deu-bnd", &[ns]);
    let all = vec![
        marking,
        secret.clone(),
        open_a.clone(),
        open_b,
        rel_ok.clone(),
        rel_hidden.clone(),
        report_ok.clone(),
        report_hidden.clone(),
        mine.clone(),
    ];
    let out = store.add_objects(pk, all, 40).await.expect("add");
    assert!(
        out.iter().all(|o| matches!(o, AddOutcome::Added { .. })),
        "{out:?}"
    );
    let state = store.release_state().await.expect("state");
    assert!(
        state.generation > after_apply,
        "new label sets and markings change it"
    );
    assert_eq!(state.markings.len(), 1);
    assert_eq!(state.markings[0].0, md);
    assert_eq!(
        state.rules.equivalences,
        vec![("KOR:II".to_string(), "NATO:NS".to_string())]
    );
    let set_of = |markings: &[&str]| {
        state
            .label_sets
            .iter()
            .find(|s| s.set.markings == markings.iter().map(|m| m.to_string()).collect::<Vec<_>>())
            .map(|s| s.id)
            .expect("label set stored")
    };
    let open_set = set_of(&[md]);
    // A DEU reader passing only the open label set.
    let reader = ReaderFilter {
        organization: "deu-bnd".into(),
        label_sets: vec![open_set],
    };
    let mut q = ObjectQuery::new(pk, 100);
    q.reader = Some(reader.clone());
    let seen: Vec<String> = store
        .query_objects(&q)
        .await
        .expect("q")
        .items
        .into_iter()
        .map(|o| o.stix_id)
        .collect();
    assert!(seen.contains(&open_a.stix_id) && seen.contains(&rel_ok.stix_id));
    assert!(
        seen.contains(&report_ok.stix_id),
        "one visible object_ref is enough"
    );
    assert!(
        seen.contains(&mine.stix_id),
        "the originator sees its own objects"
    );
    assert!(!seen.contains(&secret.stix_id));
    assert!(!seen.contains(&rel_hidden.stix_id), "an endpoint is hidden");
    assert!(
        !seen.contains(&report_hidden.stix_id),
        "no visible object_ref"
    );
    // open_a, open_b, rel_ok, report_ok, mine; not the marking (its label set is not passed).
    assert_eq!(seen.len(), 5, "{seen:?}");
    // Pages stay exact under the filter.
    for limit in [1, 2, 3] {
        let mut pq = q.clone();
        pq.limit = limit;
        let paged: Vec<String> = collect_all(store, &pq)
            .await
            .into_iter()
            .map(|o| o.stix_id)
            .collect();
        assert_eq!(paged, seen, "limit {limit}");
    }
    // The originator of the secret objects sees them all; an empty filter sees its own only.
    let mut oq = q.clone();
    oq.reader = Some(ReaderFilter {
        organization: "kor-nis".into(),
        label_sets: vec![],
    });
    assert_eq!(store.query_objects(&oq).await.expect("q").items.len(), 8);
    // Which object_refs of a served report the reader cannot see: read with the page (the
    // report whose every reference is hidden is not served at all).
    let mut reports = q.clone();
    reports.ids = vec![report_ok.stix_id.clone(), report_hidden.stix_id.clone()];
    reports.reader = Some(reader.clone());
    let served = store.query_objects(&reports).await.expect("q");
    let ok_row = match &served.items[..] {
        [o] if o.stix_id == report_ok.stix_id => o.row,
        other => panic!("{other:?}"),
    };
    let expect = vec![HiddenRef {
        row: ok_row,
        index: 0,
    }];
    assert_eq!(served.hidden_refs, expect);
    // Without a reader nothing is hidden.
    reports.reader = None;
    assert_eq!(
        store.query_objects(&reports).await.expect("q").hidden_refs,
        vec![]
    );
    // Which of some ids the reader does not see: a denied one, one standing on a denied
    // one, one the collection does not hold; not a visible one nor the reader's own.
    let absent = "identity--99999999-9999-4999-8999-999999999999".to_string();
    let hidden_ids = store
        .hidden_ids(
            pk,
            &[
                open_a.stix_id.clone(),
                secret.stix_id.clone(),
                rel_hidden.stix_id.clone(),
                absent.clone(),
                mine.stix_id.clone(),
                secret.stix_id.clone(),
            ],
            &reader,
        )
        .await
        .expect("hidden ids");
    let mut want = vec![secret.stix_id.clone(), rel_hidden.stix_id.clone(), absent];
    want.sort();
    let mut got = hidden_ids.ids.clone();
    got.sort();
    assert_eq!(got, want);
    // The generation: the same for a page and the hidden ids while nothing is written,
    // another after each write to the collection (when the store reports one).
    let page = store.query_objects(&oq).await.expect("q");
    assert_eq!(page.generation, hidden_ids.generation);
    if let Some(before) = page.generation {
        store
            .add_objects(pk, vec![labelled("indicator", 950, "kor-nis", &[ns])], 40)
            .await
            .expect("add");
        let after = store.query_objects(&oq).await.expect("q").generation;
        assert!(
            after.is_some_and(|a| a != before),
            "{before} then {after:?}"
        );
        let n = store
            .delete_object(
                pk,
                &labelled("indicator", 950, "kor-nis", &[]).stix_id,
                &VersionFilter {
                    all: true,
                    ..VersionFilter::default()
                },
                &[],
            )
            .await
            .expect("delete");
        assert_eq!(n, 1);
        let deleted = store.query_objects(&oq).await.expect("q").generation;
        assert!(
            deleted.is_some_and(|d| Some(d) != after),
            "{after:?} then {deleted:?}"
        );
        reports.reader = Some(reader.clone());
        let again = store.query_objects(&reports).await.expect("q");
        assert_eq!(again.generation, deleted);
        assert_eq!(again.hidden_refs, expect);
    }
    // Only the creating organization may add versions.
    let mut other = labelled("indicator", 901, "deu-bnd", &[ns]);
    other.version = Some(2_000);
    let out = store.add_objects(pk, vec![other], 50).await.expect("add");
    // The refusal names nobody: the poster may not be allowed to see the object.
    assert!(
        matches!(&out[0], AddOutcome::Refused(m) if !m.contains("kor-nis")),
        "{out:?}"
    );
    // The same id at a version already stored: refused too, not "already present".
    let mut same = labelled("indicator", 901, "deu-bnd", &[ns]);
    same.version = secret.version;
    let out = store.add_objects(pk, vec![same], 50).await.expect("add");
    assert!(matches!(&out[0], AddOutcome::Refused(_)), "{out:?}");
    let mut own = labelled("indicator", 901, "kor-nis", &[ns]);
    own.version = Some(2_000);
    let out = store.add_objects(pk, vec![own], 50).await.expect("add");
    assert!(matches!(out[0], AddOutcome::Added { .. }));
    // A re-posted marking does not change the generation.
    let g = store.release_generation().await.expect("g");
    let mut again = labelled("marking-definition", 900, "kor-nis", &[]);
    again.stix_id = md.into();
    again.version = Some(9_999);
    store.add_objects(pk, vec![again], 60).await.expect("add");
    assert_eq!(store.release_generation().await.expect("g"), g);
}

/// Situations, stages and approvals as kept, and a stage's cover of exact rows: two distinct
/// accounts approving one snapshot activate it, stale and repeated approvals do not; the
/// covered row moves to a label set that names the stage (so a reader passing that set sees
/// it) and back to its own when the stage is withdrawn.
async fn release_plans(store: &dyn Store) {
    let mut p = plan();
    let coll = "0f1e2d3c-4b5a-4697-8a7b-6c5d4e3f2a1b";
    p.collections.push(PlannedCollection {
        id: coll.into(),
        api_root: ROOT.into(),
        title: "Plans".into(),
        description: None,
        alias: None,
        readers: vec![],
        writers: vec![],
    });
    store.apply_realm(&p).await.expect("apply");
    let pk = store
        .collection(ROOT, coll)
        .await
        .expect("l")
        .expect("c")
        .1
        .pk;
    let own = "marking-definition--33333333-3333-4333-8333-333333333333";
    let report = labelled("report", 950, "kor-nis", &[own]);
    store
        .add_objects(pk, vec![report.clone()], 50)
        .await
        .expect("add");
    let stage_plan = |c: &str| relto_policy::plan::StagePlan {
        label: relto_policy::Label::new("NATO", c, Some(&["NATO"]), &[]),
        withhold: vec!["external_references".into()],
        not_before_us: None,
        expires_us: Some(4_000_000_000_000_000),
    };
    let new = NewSituation {
        id: "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e".into(),
        title: "Storm Corps".into(),
        collection: pk,
        originator: "kor-nis".parse().expect("a valid name"),
        proposer: "nis-analyst".into(),
        holdings: vec![report.stix_id.clone()],
        stages: vec![stage_plan("NS"), stage_plan("CTS")],
        created_us: 77,
    };
    let created = store.create_situation(&new).await.expect("create");
    let read_back = || async {
        store
            .situation(&new.id)
            .await
            .expect("read")
            .expect("found")
    };
    assert_eq!(created.title, "Storm Corps");
    assert_eq!(created.holdings, new.holdings);
    assert_eq!(
        created
            .stages
            .iter()
            .map(|s| (s.n, s.state))
            .collect::<Vec<_>>(),
        vec![(1, StageState::Proposed), (2, StageState::Proposed)]
    );
    assert_eq!(created.stages[0].plan, stage_plan("NS"));
    assert_eq!(
        store.situation(&new.id).await.expect("read"),
        Some(created.clone())
    );
    assert!(store.situation("nope").await.expect("read").is_none());
    assert!(store
        .situations()
        .await
        .expect("list")
        .iter()
        .any(|s| s.id == new.id));
    // A second situation with the same id is refused.
    assert!(store.create_situation(&new).await.is_err());

    let stage = created.stages[0].pk;
    let row = collect_all(store, &ObjectQuery::new(pk, 10)).await[0].row;
    let cover = [CoveredRow {
        row,
        required_markings: vec![],
    }];
    let approval = |account: &str, snapshot: &str, at_us: i64| Approval {
        account: account.into(),
        snapshot: snapshot.into(),
        at_us,
    };
    let first = approval("officer-a", "s1", 100);
    assert_eq!(
        store
            .approve_stage(stage, &first, &cover)
            .await
            .expect("approve"),
        StageState::Proposed
    );
    assert!(
        store.approve_stage(stage, &first, &cover).await.is_err(),
        "the same account twice"
    );
    // An approval of another snapshot: the first is stale beside it, nothing activates.
    assert_eq!(
        store
            .approve_stage(stage, &approval("officer-b", "s2", 101), &cover)
            .await
            .expect("approve"),
        StageState::Proposed
    );
    let generation = store.release_generation().await.expect("generation");
    assert_eq!(
        store
            .approve_stage(stage, &approval("officer-a", "s2", 102), &cover)
            .await
            .expect("approve"),
        StageState::Active
    );
    assert!(store.release_generation().await.expect("generation") > generation);
    // Approved again under a new snapshot (a later version to cover): one approval changes
    // nothing, the second covers again; the stage stays active throughout.
    assert_eq!(
        store
            .approve_stage(stage, &approval("officer-c", "s3", 103), &cover)
            .await
            .expect("approve"),
        StageState::Active
    );
    let read = read_back().await;
    assert_eq!(read.stages[0].state, StageState::Active);
    assert_eq!(read.stages[0].changed_us, Some(102));
    assert_eq!(read.stages[0].approvals.len(), 4);
    assert_eq!(
        store
            .approve_stage(stage, &approval("officer-a", "s3", 104), &cover)
            .await
            .expect("approve"),
        StageState::Active
    );
    let read = read_back().await;
    assert_eq!(read.stages[0].changed_us, Some(104));
    assert_eq!(read.stages[1].state, StageState::Proposed);

    let state = store.release_state().await.expect("state");
    assert_eq!(
        state
            .active_stages
            .iter()
            .map(|a| (a.pk, a.n, a.situation.as_str()))
            .collect::<Vec<_>>(),
        vec![(stage, 1, new.id.as_str())]
    );
    let own_set = state
        .label_sets
        .iter()
        .find(|s| s.set.markings == [own.to_string()] && s.set.alternatives.is_empty())
        .expect("own set")
        .id;
    let covered_set = state
        .label_sets
        .iter()
        .find(|s| s.set.markings == [own.to_string()] && s.set.alternatives == [stage_plan("NS")])
        .expect("covered set")
        .id;
    let rows_under = |set: i64| {
        let mut q = ObjectQuery::new(pk, 10);
        q.reader = Some(ReaderFilter {
            organization: "deu-bnd".into(),
            label_sets: vec![set],
        });
        async move { collect_all(store, &q).await }
    };
    let seen = rows_under(covered_set).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].label_set, covered_set);
    assert!(rows_under(own_set).await.is_empty());

    // Another situation's stage of the same plan over the same report shares the set; when
    // one of the two is withdrawn, the other still covers the row.
    let other = store
        .create_situation(&NewSituation {
            id: "c4d5e6f7-a8b9-4c0d-8e1f-2a3b4c5d6e7f".into(),
            stages: vec![stage_plan("NS")],
            ..new.clone()
        })
        .await
        .expect("create");
    let other_stage = other.stages[0].pk;
    for (who, at) in [("officer-a", 110), ("officer-b", 111)] {
        store
            .approve_stage(other_stage, &approval(who, "o1", at), &cover)
            .await
            .expect("approve");
    }
    let sets = store.release_state().await.expect("state").label_sets.len();
    assert_eq!(rows_under(covered_set).await.len(), 1);
    assert!(store
        .withdraw_stage(other_stage, 150)
        .await
        .expect("withdraw"));
    assert_eq!(
        rows_under(covered_set).await.len(),
        1,
        "still covered by the first"
    );
    assert_eq!(
        store.release_state().await.expect("state").label_sets.len(),
        sets,
        "one plan, one set"
    );

    assert_eq!(
        store.covered_ids(stage).await.expect("covered"),
        vec![report.stix_id.clone()]
    );
    assert!(store.withdraw_stage(stage, 200).await.expect("withdraw"));
    assert_eq!(
        store.covered_ids(stage).await.expect("covered"),
        vec![report.stix_id.clone()],
        "what a withdrawn stage covered stays known"
    );
    assert!(!store
        .withdraw_stage(stage, 201)
        .await
        .expect("withdraw again"));
    assert!(!store
        .withdraw_stage(created.stages[1].pk, 202)
        .await
        .expect("withdraw a proposed stage"));
    assert!(rows_under(covered_set).await.is_empty());
    assert_eq!(rows_under(own_set).await.len(), 1);
    let read = read_back().await;
    assert_eq!(
        (read.stages[0].state, read.stages[0].changed_us),
        (StageState::Withdrawn, Some(200))
    );
    assert!(store
        .release_state()
        .await
        .expect("state")
        .active_stages
        .is_empty());
    assert!(
        store
            .approve_stage(stage, &approval("officer-d", "s4", 300), &cover)
            .await
            .is_err(),
        "a withdrawn stage takes no approvals"
    );
}

async fn audit_chain(store: &dyn Store) {
    let event = |n: i64| audit::AuditEvent {
        ts_us: n,
        kind: AuditKind::ObjectRelease.into(),
        actor: "nis-analyst".into(),
        organization: "kor-nis".into(),
        source: "127.0.0.1".into(),
        object_id: format!("indicator--{n}"),
        object_version: String::new(),
        outcome: AuditOutcome::Allow.into(),
        detail: String::new(),
    };
    assert_eq!(store.audit_head().await.expect("head"), None);
    store
        .append_audit((1..=5).map(event).collect())
        .await
        .expect("append");
    store
        .append_audit((6..=7).map(event).collect())
        .await
        .expect("append");
    let records = store.audit_records(0, 100).await.expect("records");
    assert_eq!(records.len(), 7);
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    assert_eq!(records[6].event, event(7));
    assert_eq!(audit::verify_chain(&records, &[]), Ok(7));
    assert_eq!(
        store.audit_head().await.expect("head"),
        Some(audit::Checkpoint {
            seq: 7,
            hash: records[6].hash.clone()
        })
    );
    let tail = store.audit_records(5, 100).await.expect("tail");
    assert_eq!(tail.len(), 2);
    assert_eq!(tail[0].prev_hash, records[4].hash);
    store
        .append_audit(vec![event(3), event(8)])
        .await
        .expect("append");
    let ledger = store
        .object_audit("indicator--3", 10)
        .await
        .expect("ledger");
    assert_eq!(
        ledger.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [8, 3],
        "an object's records, newest first"
    );
    assert!(ledger.iter().all(|r| r.event.object_id == "indicator--3"));
    let newest = store.object_audit("indicator--3", 1).await.expect("ledger");
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].seq, 8);
    assert!(store
        .object_audit("indicator--9", 10)
        .await
        .expect("ledger")
        .is_empty());
}
