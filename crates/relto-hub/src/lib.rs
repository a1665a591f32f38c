//! The application: every operation of the hub over a `Store`, with no HTTP and no
//! terminal. Every way in (TAXII, the CLI, and later release plans, the stream, federation
//! and the console) calls these operations and nothing below them, so each kind of work has
//! one path and every way out goes through the one release code.
#![forbid(unsafe_code)]

pub mod audit;
pub mod ingest;
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
    /// stage activated or withdrawn. Writes on other nodes are found by the streams' polling.
    pub changes: tokio::sync::Notify,
}

impl Hub {
    /// A hub over `store` keeping at most about `copies_budget` bytes of redacted copies.
    pub fn new(store: Arc<dyn Store>, copies_budget: usize) -> Self {
        Self {
            store,
            release: ReleaseCache::new(copies_budget),
            changes: tokio::sync::Notify::new(),
        }
    }

    /// The release rules in force now.
    pub async fn view(&self) -> StoreResult<Arc<ReleaseView>> {
        self.release.view(self.store.as_ref()).await
    }
}
