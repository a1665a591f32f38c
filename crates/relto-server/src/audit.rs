//! Feeding the audit chain without slowing requests: handlers hand events to a queue, one
//! task appends them in batches (one transaction per batch). The queue is bounded: when the
//! store cannot keep up, requests wait rather than records being dropped, and when the
//! store fails the task retries; nothing is ever discarded.

use std::sync::Arc;
use std::time::Duration;

use relto_store::audit::AuditEvent;
use relto_store::{Page, Store, StoreError};

use crate::release::Redactions;
use tokio::sync::{mpsc, oneshot};

/// Requests' batches waiting to be appended (each holds one request's events).
const QUEUE: usize = 4_096;
const BATCH: usize = 4_096;

enum Msg {
    Events(Vec<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

/// A handle to the audit queue; cheap to clone. A disabled auditor records nothing (for
/// measuring the cost of auditing only).
#[derive(Clone)]
pub struct Auditor {
    tx: Option<mpsc::Sender<Msg>>,
}

impl Auditor {
    /// Starts the appending task.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(append_loop(store, rx));
        Self { tx: Some(tx) }
    }

    pub fn disabled() -> Self {
        Self { tx: None }
    }

    pub async fn record(&self, event: AuditEvent) {
        self.record_all(vec![event]).await;
    }

    /// Queues the events of one request together (one hand-over per page, not per object).
    pub async fn record_all(&self, events: Vec<AuditEvent>) {
        if events.is_empty() {
            return;
        }
        if let Some(tx) = &self.tx {
            if tx.send(Msg::Events(events)).await.is_err() {
                tracing::error!("the audit task has stopped; audit events were not recorded");
            }
        }
    }

    /// Waits until everything recorded so far is in the store.
    pub async fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (done, wait) = oneshot::channel();
            if tx.send(Msg::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }
}

async fn append_loop(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Msg>) {
    while let Some(first) = rx.recv().await {
        let mut events = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(m) = next {
            match m {
                Msg::Events(mut e) => events.append(&mut e),
                Msg::Flush(f) => flushes.push(f),
            }
            next = if events.len() < BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        let mut delay = Duration::from_millis(10);
        loop {
            match store.append_audit(events.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    let level_error = !matches!(e, StoreError::Unavailable(_));
                    if level_error {
                        tracing::error!(error = %e, pending = events.len(), "cannot append to the audit chain; retrying");
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

/// An event stamped now.
pub fn event(kind: &str, actor: &str, organization: &str, source: &str) -> AuditEvent {
    AuditEvent {
        ts_us: crate::auth::now_us(),
        kind: kind.into(),
        actor: actor.into(),
        organization: organization.into(),
        source: source.into(),
        ..AuditEvent::default()
    }
}

/// One `object.release` record per object of a served page (allow, or redact with what was
/// removed) and per object the redaction withheld (deny, with why), each a copy of `base`
/// (who, from where, when) naming the read path in its detail.
pub fn release_events(
    base: &AuditEvent,
    path: &str,
    page: &Page,
    r: &Redactions,
) -> Vec<AuditEvent> {
    let stamped = |o: &relto_store::StoredObject, outcome: &str, detail: String| AuditEvent {
        kind: "object.release".into(),
        object_id: o.stix_id.clone(),
        object_version: relto_stix::timestamp::format_micros(o.version),
        outcome: outcome.into(),
        detail,
        ..base.clone()
    };
    let served = page.items.iter().map(|o| match r.redacted.get(&o.row) {
        Some(removed) => stamped(
            o,
            "redact",
            format!("{path}; removed {}", removed.join(", ")),
        ),
        None => stamped(o, "allow", path.to_string()),
    });
    let withheld = r
        .dropped
        .iter()
        .map(|(o, why)| stamped(o, "deny", format!("{path}; {why}")));
    served.chain(withheld).collect()
}
