//! Feeding the audit chain without slowing requests: handlers hand events to a queue, one
//! task appends them in batches (one transaction per batch). The queue is bounded: when the
//! store cannot keep up, requests wait rather than records being dropped, and when the
//! store fails the task retries; nothing is ever discarded.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Metrics;

use relto_store::audit::AuditEvent;
use relto_store::{Store, StoreError};

pub use relto_hub::audit::{event, release_events};
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
    metrics: Arc<Metrics>,
}

impl Auditor {
    /// Starts the appending task.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(append_loop(store, rx, metrics.clone()));
        Self {
            tx: Some(tx),
            metrics,
        }
    }

    pub fn disabled(metrics: Arc<Metrics>) -> Self {
        Self { tx: None, metrics }
    }

    pub async fn record(&self, event: AuditEvent) {
        self.record_all(vec![event]).await;
    }

    /// Queues the events of one request together (one hand-over per page, not per object).
    pub async fn record_all(&self, events: Vec<AuditEvent>) {
        if events.is_empty() {
            return;
        }
        self.metrics.audited(&events);
        if let Some(tx) = &self.tx {
            self.metrics
                .audit_queue
                .fetch_add(events.len() as i64, Ordering::Relaxed);
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

async fn append_loop(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Msg>, metrics: Arc<Metrics>) {
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
                Ok(()) => {
                    metrics
                        .audit_queue
                        .fetch_sub(events.len() as i64, Ordering::Relaxed);
                    break;
                }
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
