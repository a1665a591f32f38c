//! `spawn_app`: a real relto server on 127.0.0.1:0 over a fresh SQLite store.
#![allow(dead_code)]

use std::sync::Arc;

use relto_server::{AppState, ServerConfig};
use relto_store::conformance::{plan, COLLECTION, ROOT};
use relto_store::{HubIdentity, Store};
use relto_store_sqlite::SqliteStore;

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
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
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
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_dir(dir.path()).expect("open"));
    let hub = HubIdentity {
        nation: "KOR".into(),
        organization: "hub".into(),
        identity: "identity--00000000-0000-5000-8000-000000000001".into(),
    };
    store
        .bootstrap(&hub, &relto_server::hash_password(ADMIN_PW).expect("hash"))
        .await
        .expect("bootstrap");
    let mut realm = plan();
    realm.accounts[0].password_hash = Some(relto_server::hash_password(ANALYST_PW).expect("hash"));
    realm.organizations.push(relto_store::Organization {
        slug: "deu-bnd".into(),
        name: "Bundesnachrichtendienst".into(),
        nation: "DEU".into(),
        identity: "identity--1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f".into(),
        accredited: vec![],
    });
    realm.accounts.push(relto_store::PlannedAccount {
        name: "bnd-reader".into(),
        organization: "deu-bnd".into(),
        roles: vec!["reader".into()],
        password_hash: Some(relto_server::hash_password(READER_PW).expect("hash")),
        token_sha256: None,
        clearances: vec![],
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
    serve_realm(dir, store, &realm, config).await
}

/// A server over a fresh store holding `realm` (and the hub's admin).
pub async fn spawn_realm(realm: &relto_store::RealmPlan) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_dir(dir.path()).expect("open"));
    serve_realm(dir, store, realm, ServerConfig::default()).await
}

async fn serve_realm(
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    realm: &relto_store::RealmPlan,
    config: ServerConfig,
) -> TestApp {
    store.apply_realm(realm).await.expect("realm");
    let timeouts = config.timeouts();
    let state = AppState::new(store.clone(), config).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = relto_server::router(state);
    let server = tokio::spawn(async move {
        let _ = relto_server::serve(listener, app, None, timeouts, std::future::pending()).await;
    });
    let base = format!("http://{addr}");
    TestApp {
        root: format!("{base}/{ROOT}/"),
        base,
        store,
        client: reqwest::Client::new(),
        _dir: dir,
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
