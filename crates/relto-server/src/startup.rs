//! Start-up, one way for `relto serve` and for every test: the application state over a store,
//! the listener, the background upkeep, then the accept loop until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use relto_store::Store;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::routes::metrics_router;
use crate::{audit::Auditor, now_us, router, serve, AppState, ServerConfig, Timeouts};

/// Status resources are kept this long (TAXII asks for at least 24 hours), then go.
const STATUS_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
const STATUS_PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Why the server could not start.
#[derive(Debug)]
pub enum StartupError {
    /// The store did not answer what the state needs (the cursor key).
    Store(relto_store::StoreError),
    /// The address could not be bound.
    Listen(SocketAddr, std::io::Error),
}

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartupError::Store(e) => write!(f, "cannot read the cursor key: {e}"),
            StartupError::Listen(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
        }
    }
}
impl std::error::Error for StartupError {}

/// A bound, ready server: `address` is known before it runs (port 0 picks one).
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    /// The metrics listener (`--metrics-listen`), when asked for.
    metrics: Option<(TcpListener, SocketAddr)>,
    state: AppState,
    tls: Option<TlsAcceptor>,
}

impl Application {
    pub async fn build(
        store: Arc<dyn Store>,
        config: ServerConfig,
        listen: SocketAddr,
        tls: Option<TlsAcceptor>,
    ) -> Result<Self, StartupError> {
        let state = AppState::new(store, config).await?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| StartupError::Listen(listen, e))?;
        let address = listener
            .local_addr()
            .map_err(|e| StartupError::Listen(listen, e))?;
        let metrics = match state.config.metrics_listen {
            Some(at) => {
                let l = TcpListener::bind(at)
                    .await
                    .map_err(|e| StartupError::Listen(at, e))?;
                let bound = l.local_addr().map_err(|e| StartupError::Listen(at, e))?;
                Some((l, bound))
            }
            None => None,
        };
        Ok(Self {
            listener,
            address,
            metrics,
            state,
            tls,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `https://ADDR` or `http://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// Where `GET /metrics` is served, when it is.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, a)| *a)
    }

    pub fn serves_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The audit writer, to wait for the records of requests served so far.
    pub fn audit(&self) -> Auditor {
        self.state.audit.clone()
    }

    /// Serves until `shutdown` completes, then writes out the pending audit records.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let store = self.state.store.clone();
        let purge = tokio::spawn(async move {
            let mut tick = tokio::time::interval(STATUS_PURGE_EVERY);
            loop {
                tick.tick().await;
                let before = now_us() - STATUS_RETENTION.as_micros() as i64;
                if let Err(e) = store.purge_statuses(before).await {
                    tracing::warn!(error = %e, "could not purge old status resources");
                }
            }
        });
        // Writes on other nodes (or by the CLI on the same files) wake no stream here: one
        // tick a second wakes them all together, so that the idle streams of one account
        // share one read of the store instead of each polling on its own.
        let hub = self.state.hub.clone();
        let tick = tokio::spawn(async move {
            let mut every = tokio::time::interval(crate::routes::STREAM_POLL);
            loop {
                every.tick().await;
                hub.changes.announce();
            }
        });
        // Peer hubs (DESIGN §11): each exchanged with by the node holding its lease.
        let federation = tokio::spawn(crate::federation::run(self.state.clone(), self.address));
        let audit = self.state.audit.clone();
        let timeouts: Timeouts = self.state.config.timeouts();
        // Metrics on a listener of their own (plain HTTP, no credentials: bind it where only
        // the monitoring system reaches), ended with the API's.
        let metrics = self.metrics.map(|(listener, _)| {
            let app = metrics_router(self.state.metrics.clone());
            tokio::spawn(serve(listener, app, None, timeouts, std::future::pending()))
        });
        let served = serve(
            self.listener,
            router(self.state),
            self.tls,
            timeouts,
            shutdown,
        )
        .await;
        purge.abort();
        tick.abort();
        federation.abort();
        if let Some(m) = metrics {
            m.abort();
        }
        audit.flush().await;
        served
    }
}
