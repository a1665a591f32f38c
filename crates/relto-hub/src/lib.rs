//! The application: every operation of the hub over a `Store`, with no HTTP and no
//! terminal. Every way in (TAXII, the CLI, and later release plans, the stream, federation
//! and the console) calls these operations and nothing below them, so each kind of work has
//! one path and every way out goes through the one release code.
#![forbid(unsafe_code)]

pub mod audit;
pub mod draft;
pub mod federation;
pub mod ingest;
pub mod misp;
pub mod plans;
pub mod read;
pub mod release;

pub use audit::now_us;

use std::sync::Arc;

use relto_store::{Store, StoreResult};

use crate::release::{ReleaseCache, ReleaseView};

/// The hub: the store and what is kept of the release rules between requests (the rules of
/// the current realm, readers' filters, copies of redacted objects). One per process; the
/// server and the CLI each build one.
pub struct Hub {
    pub store: Arc<dyn Store>,
    pub release: ReleaseCache,
    /// Wakes the live streams (DESIGN §10) after a write on this node: objects stored, a
    /// stage activated or withdrawn. Writes on other nodes are found by the server's poll
    /// tick, which announces here too.
    pub changes: Changes,
    /// This hub's name on hop paths between hubs (DESIGN §11): what passed through it is
    /// never taken back. None: the hub is not named on paths.
    pub name: Option<String>,
}

/// The writes on this node (and the server's poll ticks), counted and announced: a stream
/// that saw count `n` before reading has read everything written up to the `n`th
/// announcement, and is woken by any later one.
#[derive(Default)]
pub struct Changes {
    notify: tokio::sync::Notify,
    count: std::sync::atomic::AtomicU64,
}

impl Changes {
    /// After a write has committed: counts it and wakes every stream that is watching.
    pub fn announce(&self) {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// A future that completes at the next announced write, and the writes counted so far
    /// (read after the future is registered, so a write not counted wakes it).
    pub fn watch(&self) -> (tokio::sync::futures::Notified<'_>, u64) {
        let next = self.notify.notified();
        (next, self.count.load(std::sync::atomic::Ordering::SeqCst))
    }
}

impl Hub {
    /// A hub over `store` keeping at most about `copies_budget` bytes of redacted copies.
    pub fn new(store: Arc<dyn Store>, copies_budget: usize) -> Self {
        Self {
            store,
            release: ReleaseCache::new(copies_budget),
            changes: Changes::default(),
            name: None,
        }
    }

    /// The same hub, going by `name` on hop paths.
    pub fn named(self, name: Option<String>) -> Self {
        Self { name, ..self }
    }

    /// The organizations the realm's accounts belong to, each once (the hub's own
    /// included).
    pub async fn account_organizations(&self) -> StoreResult<Vec<relto_store::Organization>> {
        let mut organizations: Vec<relto_store::Organization> = Vec::new();
        for a in self.store.accounts().await? {
            if !organizations.iter().any(|o| o.slug == a.organization.slug) {
                organizations.push(a.organization);
            }
        }
        Ok(organizations)
    }

    /// The release rules in force now.
    pub async fn view(&self) -> StoreResult<Arc<ReleaseView>> {
        self.release.view(self.store.as_ref()).await
    }
}
