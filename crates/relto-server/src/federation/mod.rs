//! Federation (DESIGN §11): every enabled `[[peer]]` of the realm is exchanged with by one
//! worker on the node that holds its lease: a push sends the peer organization's view of the
//! local collection, a pull takes the remote collection in through the one ingest path.
//! Where each exchange stands is in the store, so it resumes after a crash or an outage, on
//! this node or another.

mod pull;
mod push;
mod remote;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;

use relto_policy::realm::{PeerDirection, PeerEntry};
use relto_store::audit::AuditEvent;
use relto_store::{Account, Collection, PeerRun};

use crate::{now_us, AppState};
pub use remote::PeerError;
use remote::Remote;

/// How often the realm's peers are looked at (new, changed, dropped).
const PEERS_CHECK: Duration = Duration::from_secs(5);
/// How long a lease lasts unless renewed: longer than any one step of a run (a request's
/// time limit, a status followed to completion), renewed before each.
const LEASE: Duration = Duration::from_secs(180);
/// How often chain heads are exchanged with a relto peer (each exchange is a record in both
/// chains): after the first successful run, then at most this often.
const WITNESS_EVERY: Duration = Duration::from_secs(300);
/// The longest wait after failures, however many.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Runs the peers' workers until dropped: one per enabled peer, restarted when its
/// declaration changes.
pub(crate) async fn run(st: AppState, listening: std::net::SocketAddr) {
    let node = node_name(listening);
    let mut workers: HashMap<String, (PeerEntry, AbortOnDrop)> = HashMap::new();
    let mut every = tokio::time::interval(PEERS_CHECK);
    loop {
        every.tick().await;
        let peers = match st.store.peers().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the peers");
                continue;
            }
        };
        let wanted: HashMap<String, PeerEntry> = peers
            .into_iter()
            .filter(|p| p.enabled)
            .map(|p| (p.plan.name.clone(), p.plan))
            .collect();
        workers.retain(|name, (plan, _)| wanted.get(name) == Some(plan));
        for (name, plan) in wanted {
            workers.entry(name).or_insert_with(|| {
                let task = tokio::spawn(exchange(st.clone(), plan.clone(), node.clone()));
                (plan, AbortOnDrop(task))
            });
        }
    }
}

/// This node's name for the peers' leases: its host and API address, the same after a
/// restart (so that a node that crashed resumes its peers at once, not when its leases run
/// out) and different for every node serving at once.
fn node_name(listening: std::net::SocketAddr) -> Arc<str> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}/{listening}").into()
}

/// A task that ends when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One peer's worker: a run every `interval_secs` while this node holds the peer's lease,
/// backing off after failures.
async fn exchange(st: AppState, plan: PeerEntry, node: Arc<str>) {
    let interval = Duration::from_secs(plan.interval_secs);
    let mut failures: u32 = 0;
    // When to exchange audit chain heads next; None once the peer shows it is no relto hub.
    let mut next_witness = Some(std::time::Instant::now());
    loop {
        match take_lease(&st, &plan, &node).await {
            Ok(true) => {
                let (failed, caught_up) = run_once(&st, &plan, &node, &mut next_witness).await;
                st.metrics.peer_run(&plan.name, failed, caught_up, now_us());
                failures = if failed {
                    failures.saturating_add(1)
                } else {
                    0
                };
            }
            Ok(false) => failures = 0,
            Err(e) => tracing::warn!(peer = %plan.name, error = %e, "cannot take the peer's lease"),
        }
        let wait = interval
            .saturating_mul(1 << failures.min(10))
            .min(MAX_BACKOFF.max(interval));
        tokio::time::sleep(wait).await;
    }
}

/// Takes or renews the peer's lease for this node, for `LEASE` from now.
async fn take_lease(st: &AppState, plan: &PeerEntry, node: &str) -> relto_store::StoreResult<bool> {
    let now = now_us();
    let until = now + LEASE.as_micros() as i64;
    st.store.lease_peer(&plan.name, node, now, until).await
}

/// One run: returns whether it failed, and whether it left nothing to exchange.
async fn run_once(
    st: &AppState,
    plan: &PeerEntry,
    node: &str,
    next_witness: &mut Option<std::time::Instant>,
) -> (bool, bool) {
    let mut run = match Run::start(st, plan, node).await {
        Ok(r) => r,
        Err(e) => {
            fail(st, plan, node, &e, 0, 0).await;
            return (true, false);
        }
    };
    let outcome = match plan.direction {
        PeerDirection::Push => push::push(&mut run).await,
        PeerDirection::Pull => pull::pull(&mut run).await,
    };
    match outcome {
        Ok(caught_up) => {
            if next_witness.is_some_and(|at| at <= std::time::Instant::now()) {
                *next_witness = exchange_witnesses(&run)
                    .await
                    .then(|| std::time::Instant::now() + WITNESS_EVERY);
            }
            (false, caught_up)
        }
        Err(e) => {
            let (moved, withheld) = run.unrecorded();
            fail(st, plan, node, &e, moved, withheld).await;
            (true, false)
        }
    }
}

/// Exchanges audit chain heads with a relto peer (POST /api/v1/witness): this hub's head
/// is kept there, the peer's is kept here as a `peer.witness` record. False when the peer
/// is no relto hub, so that it is not asked again; a failure is logged and retried next run.
async fn exchange_witnesses(run: &Run<'_>) -> bool {
    let Ok(Some(ours)) = run.st.store.audit_head().await else {
        return true;
    };
    let body = serde_json::to_vec(&ours).unwrap_or_default();
    let answer = match run.remote.post_json("/api/v1/witness", body).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(peer = %run.plan.name, error = %e, "cannot exchange audit chain heads");
            return true;
        }
    };
    if matches!(
        answer.status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) {
        tracing::info!(peer = %run.plan.name, "the peer is no relto hub: no audit chain heads exchanged");
        return false;
    }
    let theirs = answer
        .expect(StatusCode::OK, "POST /api/v1/witness")
        .and_then(|a| {
            serde_json::from_slice::<Option<relto_store::audit::Checkpoint>>(&a.body)
                .map_err(|e| PeerError(format!("the peer's chain head is not a checkpoint: {e}")))
        });
    match theirs {
        Ok(Some(cp)) if cp.is_well_formed() => {
            run.st
                .audit
                .record(relto_hub::federation::witness_event(
                    &run.account.name,
                    run.account.organization.slug.as_str(),
                    &run.plan.url,
                    &cp,
                ))
                .await
        }
        Ok(Some(_)) => tracing::warn!(peer = %run.plan.name, "the peer's chain head is malformed"),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(peer = %run.plan.name, error = %e, "cannot exchange audit chain heads")
        }
    }
    true
}

/// Records a failed run (what it moved before failing included) and says why in the log.
async fn fail(
    st: &AppState,
    plan: &PeerEntry,
    node: &str,
    e: &PeerError,
    moved: i64,
    withheld: i64,
) {
    tracing::warn!(peer = %plan.name, direction = plan.direction.as_str(), error = %e, "exchange with peer failed");
    let run = PeerRun {
        at_us: now_us(),
        cursor: None,
        transferred: moved,
        withheld,
        error: Some(e.0.clone()),
    };
    if let Err(e) = st.store.record_peer_run(&plan.name, node, &run).await {
        tracing::warn!(peer = %plan.name, error = %e, "cannot record the exchange");
    }
}

/// What one run works with, and what it moved since its last checkpoint.
pub(super) struct Run<'a> {
    st: &'a AppState,
    plan: &'a PeerEntry,
    node: &'a str,
    remote: Remote,
    /// The peer as an account of this hub (DESIGN §11).
    account: Account,
    collection: Collection,
    /// The stored cursor when the run started.
    cursor: Option<String>,
    moved: i64,
    withheld: i64,
}

impl<'a> Run<'a> {
    async fn start(
        st: &'a AppState,
        plan: &'a PeerEntry,
        node: &'a str,
    ) -> Result<Self, PeerError> {
        let remote = Remote::new(
            plan,
            st.config.signing_key.clone(),
            st.config.hub_name.clone(),
        )?;
        let organization = st
            .store
            .organization(&plan.organization)
            .await?
            .ok_or_else(|| {
                PeerError(format!(
                    "organization '{}' is disabled or unknown",
                    plan.organization
                ))
            })?;
        let (_, collection) = st
            .hub
            .collection_by_id(&plan.collection)
            .await?
            .ok_or_else(|| {
                PeerError(format!(
                    "collection {} is disabled or unknown",
                    plan.collection
                ))
            })?;
        let cursor = st
            .store
            .peers()
            .await?
            .into_iter()
            .find(|p| p.plan.name == plan.name)
            .and_then(|p| p.cursor);
        Ok(Self {
            st,
            plan,
            node,
            remote,
            account: relto_hub::federation::peer_account(plan, organization),
            collection,
            cursor,
            moved: 0,
            withheld: 0,
        })
    }

    /// Renews the lease before a step; fails when another node has taken the peer over.
    async fn renew(&self) -> Result<(), PeerError> {
        match take_lease(self.st, self.plan, self.node).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(PeerError("another node has taken over this peer".into())),
            Err(e) => Err(PeerError(format!("cannot renew the lease: {e}"))),
        }
    }

    /// Counts objects moved and withheld since the last checkpoint.
    fn count(&mut self, moved: usize, withheld: usize) {
        self.moved += moved as i64;
        self.withheld += withheld as i64;
        self.st
            .metrics
            .peer_moved(&self.plan.name, moved as u64, withheld as u64);
    }

    fn unrecorded(&self) -> (i64, i64) {
        (self.moved, self.withheld)
    }

    /// Records where the exchange stands (after the peer acknowledged what precedes it).
    async fn checkpoint(&mut self, cursor: Option<String>) -> Result<(), PeerError> {
        let run = PeerRun {
            at_us: now_us(),
            cursor: cursor.clone(),
            transferred: self.moved,
            withheld: self.withheld,
            error: None,
        };
        match self
            .st
            .store
            .record_peer_run(&self.plan.name, self.node, &run)
            .await
        {
            Ok(true) => {
                self.moved = 0;
                self.withheld = 0;
                if cursor.is_some() {
                    self.cursor = cursor;
                }
                Ok(())
            }
            Ok(false) => Err(PeerError("another node has taken over this peer".into())),
            Err(e) => Err(PeerError(format!("cannot record the exchange: {e}"))),
        }
    }

    /// The audit record every event of this run copies: the peer, its organization and URL.
    fn audit_base(&self, kind: relto_store::audit::AuditKind) -> AuditEvent {
        relto_hub::audit::event(
            kind,
            &self.account.name,
            self.account.organization.slug.as_str(),
            &self.plan.url,
        )
    }
}
