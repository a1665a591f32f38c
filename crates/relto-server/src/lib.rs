//! relto's HTTP server: the TAXII 2.1 API over a `dyn Store`, with authentication, TLS and
//! one error type that always answers with a TAXII error body.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
mod error;
mod federation;
pub mod metrics;
mod routes;
mod serve;
mod startup;

use std::sync::Arc;

use relto_store::Store;
use relto_taxii::CursorKey;

pub use auth::{
    hash_password, new_token, token_sha256, verify_password, Authenticator, ConnInfo,
    CredentialError,
};
pub use error::ApiError;
pub use relto_hub::now_us;
pub use routes::router;
pub use serve::{load_tls, serve, Timeouts, TlsError};
pub use startup::{Application, StartupError};

/// What the operator configures about the served API.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    /// Page size when a request gives no `limit`, and the most a page ever holds.
    pub default_page: u32,
    pub max_page: u32,
    /// Most objects one envelope may carry.
    pub max_objects_per_envelope: usize,
    /// Deepest nesting of arrays and objects a request body may have (at most 128).
    pub max_json_depth: usize,
    pub query_limits: relto_taxii::query::QueryLimits,
    /// Time a client has to send a request's headers, and to finish a TLS handshake.
    pub header_timeout: std::time::Duration,
    pub handshake_timeout: std::time::Duration,
    /// Where Prometheus metrics are served (`GET /metrics`), apart from the API; None: not.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Time a response may wait for its client to read (a live stream's client that stops
    /// reading): then the connection is closed.
    pub write_stall_timeout: std::time::Duration,
    /// Time a client has to send a whole request body (a body trickled a byte at a time
    /// would otherwise hold its connection and buffer for ever): then 408.
    pub body_timeout: std::time::Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Allow credentials over plain HTTP from non-loopback peers (behind a TLS proxy).
    pub insecure_http: bool,
    /// Record the audit chain (off only to measure what auditing costs).
    pub audit: bool,
    /// Bytes kept of what readers received of rows that needed redaction (0: none kept).
    pub release_cache_bytes: usize,
    pub failure_limits: auth::FailureLimits,
    /// The hub's Ed25519 key: what it sends its peers is signed with it (RFC 9421).
    pub signing_key: Option<Arc<relto_taxii::signature::SigningKey>>,
    /// The hub's name on hop paths between hubs (DESIGN §11), the same on every node; None:
    /// it names no path to its peers and takes back nothing by its path.
    pub hub_name: Option<String>,
}

impl ServerConfig {
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            header: self.header_timeout,
            handshake: self.handshake_timeout,
            write_stall: self.write_stall_timeout,
            max_connections: self.max_connections,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            title: "relto".into(),
            description: Some("Coalition intelligence-sharing hub (TAXII 2.1)".into()),
            contact: None,
            default_page: 1000,
            max_page: 1000,
            max_objects_per_envelope: 10_000,
            max_json_depth: relto_stix::envelope::MAX_DEPTH,
            query_limits: relto_taxii::query::QueryLimits::default(),
            header_timeout: std::time::Duration::from_secs(30),
            handshake_timeout: std::time::Duration::from_secs(15),
            write_stall_timeout: std::time::Duration::from_secs(30),
            metrics_listen: None,
            body_timeout: std::time::Duration::from_secs(120),
            max_connections: 1024,
            insecure_http: false,
            audit: true,
            release_cache_bytes: 64 << 20,
            failure_limits: auth::FailureLimits::default(),
            signing_key: None,
            hub_name: None,
        }
    }
}

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub auth: Arc<Authenticator>,
    pub cursor_key: Arc<CursorKey>,
    pub config: Arc<ServerConfig>,
    /// The application: every operation the handlers call.
    pub hub: Arc<relto_hub::Hub>,
    pub audit: audit::Auditor,
    /// The live streams' reads running now, shared by the streams of one account.
    pub streams: Arc<routes::StreamReads>,
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// Builds the state: loads the cursor key from the store.
    pub async fn new(store: Arc<dyn Store>, config: ServerConfig) -> Result<Self, StartupError> {
        let key = store.cursor_key().await.map_err(StartupError::Store)?;
        let auth = Authenticator::new(store.clone(), config.insecure_http, config.failure_limits);
        let metrics = Arc::new(metrics::Metrics::default());
        let audit = if config.audit {
            audit::Auditor::start(store.clone(), metrics.clone())
        } else {
            audit::Auditor::disabled(metrics.clone())
        };
        let hub = Arc::new(
            relto_hub::Hub::new(store.clone(), config.release_cache_bytes)
                .named(config.hub_name.clone()),
        );
        Ok(Self {
            store,
            auth: Arc::new(auth),
            cursor_key: Arc::new(CursorKey::new(key)),
            config: Arc::new(config),
            hub,
            audit,
            streams: Arc::default(),
            metrics,
        })
    }
}
