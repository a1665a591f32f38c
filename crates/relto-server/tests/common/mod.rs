//! `spawn_app`: a real relto server on 127.0.0.1:0 over a fresh store: SQLite, or a fresh
//! PostgreSQL database when `RELTO_TEST_BACKEND=postgres` (with `RELTO_TEST_POSTGRES_URL`).
//! scripts/test.sh runs these suites once per backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code)]

pub mod console;

use std::sync::Arc;

use relto_server::{Application, ServerConfig};
use relto_store::conformance::{plan, COLLECTION, ROOT};
use relto_store::{HubIdentity, Store};
use relto_store_postgres::{fresh_database, PostgresStore, TestDatabaseGuard};
use relto_store_sqlite::SqliteStore;

/// A clearance at `level` of `policy`, with no sensitivity categories.
pub fn clearance(policy: &str, level: &str) -> relto_policy::Clearance {
    relto_policy::Clearance {
        policy: policy.into(),
        level: level.into(),
        sensitivity: vec![],
    }
}

pub const ADMIN_PW: &str = "admin-test-password";
pub const ANALYST_PW: &str = "analyst-test-password";
pub const READER_PW: &str = "reader-test-password";
pub const TAXII: &str = "application/taxii+json;version=2.1";
/// A collection the reader may read but not write.
pub const READ_ONLY: &str = "5f0c7e0e-9d1b-4c55-8a0e-3d2b1c0a9f8e";
/// A collection the reader may not see.
pub const HIDDEN: &str = "0e1d2c3b-4a59-4687-9a5b-6c7d8e9f0a1b";

pub struct TestApp {
    pub base: String,
    pub root: String,
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    pub audit: relto_server::audit::Auditor,
    _backing: Backing,
    server: tokio::task::JoinHandle<()>,
}

/// What keeps a test's store alive: its directory (SQLite) or its database (PostgreSQL).
pub struct Backing {
    _dir: tempfile::TempDir,
    _database: Option<TestDatabaseGuard>,
}

impl Backing {
    /// Nothing to keep: the store lives elsewhere (a second node over another's database).
    pub fn none() -> Self {
        Backing {
            _dir: tempfile::tempdir().expect("tempdir"),
            _database: None,
        }
    }

    pub fn database(guard: TestDatabaseGuard) -> Self {
        Backing {
            _dir: tempfile::tempdir().expect("tempdir"),
            _database: Some(guard),
        }
    }
}

/// A fresh, empty store of the backend under test.
pub async fn fresh_store() -> (Arc<dyn Store>, Backing) {
    let dir = tempfile::tempdir().expect("tempdir");
    if std::env::var("RELTO_TEST_BACKEND").as_deref() == Ok("postgres") {
        let admin = std::env::var("RELTO_TEST_POSTGRES_URL")
            .expect("RELTO_TEST_BACKEND=postgres needs RELTO_TEST_POSTGRES_URL");
        let (url, guard) = fresh_database(&admin).await.expect("fresh database");
        let store = PostgresStore::connect(&url).await.expect("connect");
        let backing = Backing {
            _dir: dir,
            _database: Some(guard),
        };
        return (Arc::new(store), backing);
    }
    let store = SqliteStore::open_in_dir(dir.path()).expect("open");
    let backing = Backing {
        _dir: dir,
        _database: None,
    };
    (Arc::new(store), backing)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServerConfig::default()).await
}

pub async fn spawn_app_with(config: ServerConfig) -> TestApp {
    let (store, backing) = fresh_store().await;
    spawn_app_on(store, backing, config).await
}

/// The standard test hub (admin, analyst, a partner reader, three collections) on `store`.
pub async fn spawn_app_on(
    store: Arc<dyn Store>,
    backing: Backing,
    config: ServerConfig,
) -> TestApp {
    let hub = HubIdentity {
        nation: "KOR".parse().unwrap(),
        organization: "hub".parse().unwrap(),
        identity: "identity--00000000-0000-5000-8000-000000000001".into(),
    };
    store
        .bootstrap(&hub, &relto_server::hash_password(ADMIN_PW).expect("hash"))
        .await
        .expect("bootstrap");
    let mut realm = plan();
    realm.accounts[0].password_hash = Some(relto_server::hash_password(ANALYST_PW).expect("hash"));
    realm.organizations.push(relto_store::Organization {
        slug: "deu-bnd".parse().unwrap(),
        name: "Bundesnachrichtendienst".into(),
        nation: "DEU".parse().unwrap(),
        identity: "identity--1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f".into(),
        accredited: vec![],
    });
    realm.accounts.push(relto_store::PlannedAccount {
        name: "bnd-reader".into(),
        organization: "deu-bnd".parse().unwrap(),
        roles: vec![relto_policy::Role::Reader],
        password_hash: Some(relto_server::hash_password(READER_PW).expect("hash")),
        token_sha256: None,
        clearances: vec![],
        public_key: None,
    });
    let mut read_only = realm.collections[0].clone();
    read_only.id = READ_ONLY.into();
    read_only.title = "Briefings for partners".into();
    read_only.readers.push("account:bnd-reader".into());
    let mut hidden = realm.collections[0].clone();
    hidden.id = HIDDEN.into();
    hidden.title = "National only".into();
    realm.collections.push(read_only);
    realm.collections.push(hidden);
    serve_realm(backing, store, &realm, config).await
}

/// A server over a fresh store holding `realm` (and the hub's admin).
pub async fn spawn_realm(realm: &relto_store::RealmPlan) -> TestApp {
    spawn_realm_with(realm, ServerConfig::default()).await
}

/// `spawn_realm` with a server configuration of the test's own.
pub async fn spawn_realm_with(realm: &relto_store::RealmPlan, config: ServerConfig) -> TestApp {
    let (store, backing) = fresh_store().await;
    serve_realm(backing, store, realm, config).await
}

async fn serve_realm(
    backing: Backing,
    store: Arc<dyn Store>,
    realm: &relto_store::RealmPlan,
    config: ServerConfig,
) -> TestApp {
    store.apply_realm(realm).await.expect("realm");
    serve_store(backing, store, config).await
}

/// A server over a store that already holds its realm: another node of the same hub.
pub async fn serve_store(backing: Backing, store: Arc<dyn Store>, config: ServerConfig) -> TestApp {
    let app = Application::build(store.clone(), config, ([127, 0, 0, 1], 0).into(), None)
        .await
        .expect("start");
    let base = app.url();
    let audit = app.audit();
    let server = tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    TestApp {
        root: format!("{base}/{ROOT}/"),
        base,
        store,
        client: reqwest::Client::new(),
        audit,
        _backing: backing,
        server,
    }
}

impl TestApp {
    pub fn coll(&self, id: &str) -> String {
        format!("{}collections/{id}/", self.root)
    }

    pub fn main_coll(&self) -> String {
        self.coll(COLLECTION)
    }

    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.client
            .get(url)
            .basic_auth("nis-analyst", Some(ANALYST_PW))
            .header("accept", TAXII)
    }

    pub fn post(&self, url: &str, body: String) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .basic_auth("nis-analyst", Some(ANALYST_PW))
            .header("accept", TAXII)
            .header("content-type", TAXII)
            .body(body)
    }

    /// Waits until the audit records of this node's requests so far are stored.
    pub async fn state_flush(&self) {
        self.audit.flush().await;
    }

    /// `add` as a task of its own (for concurrent posts).
    pub fn add_owned(
        &self,
        objects: Vec<String>,
    ) -> impl std::future::Future<Output = serde_json::Value> + Send + 'static {
        let request = self.post(
            &format!("{}objects/", self.main_coll()),
            format!("{{\"objects\":[{}]}}", objects.join(",")),
        );
        async move {
            let resp = request.send().await.expect("post");
            assert_eq!(resp.status(), 202);
            resp.json().await.expect("status json")
        }
    }

    /// Posts an envelope and returns the status resource.
    pub async fn add(&self, objects: &[String]) -> serde_json::Value {
        let body = format!("{{\"objects\":[{}]}}", objects.join(","));
        let resp = self
            .post(&format!("{}objects/", self.main_coll()), body)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), 202);
        resp.json().await.expect("status json")
    }
}

/// An indicator with a given id suffix and modified time (seconds into 2024-01-01).
pub fn indicator(n: u32, modified_s: u32) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-{n:012}","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:{:02}:{:02}.000Z","name":"Troop movement signal {n}","pattern":"[ipv4-addr:value = '198.51.100.{}']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}}"#,
        modified_s / 60,
        modified_s % 60,
        n % 250
    )
}

/// Posts an envelope of objects (their JSON texts) with a bearer token; returns the status
/// resource (the answer must be 202).
pub async fn post_objects(
    http: &reqwest::Client,
    url: &str,
    bearer: &str,
    texts: &[String],
) -> serde_json::Value {
    let resp = http
        .post(url)
        .bearer_auth(bearer)
        .header("content-type", TAXII)
        .body(format!("{{\"objects\":[{}]}}", texts.join(",")))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 202);
    resp.json().await.expect("status")
}

/// Reads server-sent events from `resp` until `n` have come (or `wait_ms` passes): (event
/// type, event id, data) of each.
pub async fn sse_events(
    resp: &mut reqwest::Response,
    n: usize,
    wait_ms: u64,
) -> Vec<(String, String, serde_json::Value)> {
    let mut text = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(wait_ms);
    while out.len() < n {
        let chunk = match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(c))) => c,
            _ => break,
        };
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let (mut id, mut data, mut kind) = (String::new(), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    // Data lines are joined with line feeds, as an EventSource joins them.
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                } else if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim().to_string();
                }
            }
            if !kind.is_empty() {
                out.push((kind, id, serde_json::from_str(&data).expect("JSON data")));
            }
        }
    }
    out
}
