//! Prometheus metrics (text exposition format 0.0.4), served on a listener of their own
//! (`relto serve --metrics-listen`), never beside the API: requests by route and status and
//! their latency, the objects the audit records (ingested, released whole or redacted,
//! withheld, refused), the audit queue's depth and the open live streams.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use relto_store::audit::AuditEvent;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    /// Observations at most each bucket's bound (not cumulative; summed when rendered).
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The counters of one server; cheap to update from every request.
#[derive(Default)]
pub struct Metrics {
    /// (route template, method, status) → requests.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// (audit kind, outcome) → records.
    audited: Mutex<BTreeMap<(String, String), u64>>,
    /// Audit records handed to the queue and not yet in the store.
    pub audit_queue: AtomicI64,
    /// Live streams open now.
    pub streams: AtomicI64,
    /// Each peer's exchange on this node, by peer name.
    peers: Mutex<BTreeMap<String, PeerFigures>>,
}

/// What this node has done with one peer since it started.
#[derive(Default, Clone, Copy)]
struct PeerFigures {
    sent: u64,
    withheld: u64,
    failures: u64,
    /// When a run last ended with nothing left to exchange, and when one last succeeded
    /// (µs; 0: never).
    caught_up_us: i64,
    success_us: i64,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the object records of the audit count as, for `relto_objects_total`.
fn object_event(kind: &str, outcome: &str) -> Option<&'static str> {
    Some(match (kind, outcome) {
        ("object.write", "ok") => "ingested",
        ("object.write", "duplicate") => "duplicate",
        ("object.write", _) => "refused",
        ("object.release", "allow") => "released",
        ("object.release", "redact") => "redacted",
        ("object.release", "deny") => "denied",
        _ => return None,
    })
}

/// A label value in the exposition format: backslash, quote and line feed escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// One request served: its route's template (`/{root}/collections/{cid}/objects/`, or
    /// `unmatched`), method, status and time.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        *locked(&self.requests)
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let mut latency = locked(&self.latency);
        let h = latency.entry(route.to_string()).or_default();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            h.buckets[i] += 1;
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Audit records handed to the queue.
    pub fn audited(&self, events: &[AuditEvent]) {
        let mut audited = locked(&self.audited);
        for e in events {
            *audited
                .entry((e.kind.clone(), e.outcome.clone()))
                .or_default() += 1;
        }
    }

    /// Objects a run with `peer` moved and withheld.
    pub fn peer_moved(&self, peer: &str, moved: u64, withheld: u64) {
        let mut peers = locked(&self.peers);
        let f = peers.entry(peer.to_string()).or_default();
        f.sent += moved;
        f.withheld += withheld;
    }

    /// How a run with `peer` ended: failed, or succeeded (and whether it left nothing to do).
    pub fn peer_run(&self, peer: &str, failed: bool, caught_up: bool, now_us: i64) {
        let mut peers = locked(&self.peers);
        let f = peers.entry(peer.to_string()).or_default();
        if failed {
            f.failures += 1;
        } else {
            f.success_us = now_us;
            if caught_up {
                f.caught_up_us = now_us;
            }
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP relto_build_info The running relto's version.");
        let _ = writeln!(out, "# TYPE relto_build_info gauge");
        let _ = writeln!(
            out,
            "relto_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(out, "# HELP relto_http_requests_total Requests served, by route template, method and status.");
        let _ = writeln!(out, "# TYPE relto_http_requests_total counter");
        for ((route, method, status), n) in locked(&self.requests).iter() {
            let _ = writeln!(
                out,
                "relto_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                label(route),
                label(method)
            );
        }
        let _ = writeln!(out, "# HELP relto_http_request_duration_seconds Time to answer a request (to its response head; a stream's body is not counted), by route template.");
        let _ = writeln!(out, "# TYPE relto_http_request_duration_seconds histogram");
        for (route, h) in locked(&self.latency).iter() {
            let route = label(route);
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "relto_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "relto_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "relto_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "relto_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let audited = locked(&self.audited);
        let mut objects: BTreeMap<&str, u64> = BTreeMap::new();
        for ((kind, outcome), n) in audited.iter() {
            if let Some(event) = object_event(kind, outcome) {
                *objects.entry(event).or_default() += n;
            }
        }
        let _ = writeln!(out, "# HELP relto_objects_total Objects by what happened to them, as the audit records it: ingested, duplicate, refused (writes); released, redacted, denied (releases to readers).");
        let _ = writeln!(out, "# TYPE relto_objects_total counter");
        for event in [
            "ingested",
            "duplicate",
            "refused",
            "released",
            "redacted",
            "denied",
        ] {
            let n = objects.get(event).copied().unwrap_or(0);
            let _ = writeln!(out, "relto_objects_total{{event=\"{event}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP relto_audit_records_total Audit records, by kind and outcome."
        );
        let _ = writeln!(out, "# TYPE relto_audit_records_total counter");
        for ((kind, outcome), n) in audited.iter() {
            let _ = writeln!(
                out,
                "relto_audit_records_total{{kind=\"{}\",outcome=\"{}\"}} {n}",
                label(kind),
                label(outcome)
            );
        }
        let _ = writeln!(
            out,
            "# HELP relto_audit_queue_records Audit records waiting to be appended to the chain."
        );
        let _ = writeln!(out, "# TYPE relto_audit_queue_records gauge");
        let _ = writeln!(
            out,
            "relto_audit_queue_records {}",
            self.audit_queue.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP relto_stream_connections Live streams open.");
        let _ = writeln!(out, "# TYPE relto_stream_connections gauge");
        let _ = writeln!(
            out,
            "relto_stream_connections {}",
            self.streams.load(Ordering::Relaxed)
        );
        self.render_peers(&mut out);
        out
    }

    fn render_peers(&self, out: &mut String) {
        let peers = locked(&self.peers);
        let now = relto_hub::now_us();
        type Figure = fn(&PeerFigures, i64) -> Option<f64>;
        let families: [(&str, &str, &str, Figure); 5] = [
            ("relto_peer_objects_sent_total", "counter", "Objects sent to (push) or taken from (pull) the peer by this node.", |f, _| Some(f.sent as f64)),
            ("relto_peer_objects_withheld_total", "counter", "Objects passed over by this node's exchanges with the peer: withheld by the redaction (a reference the peer may not see) or by TLP AMBER/RED (objects its labels deny never reach a push).", |f, _| Some(f.withheld as f64)),
            ("relto_peer_failures_total", "counter", "Failed exchanges with the peer on this node.", |f, _| Some(f.failures as f64)),
            ("relto_peer_last_success_timestamp_seconds", "gauge", "When an exchange with the peer last succeeded on this node.", |f, _| (f.success_us > 0).then(|| f.success_us as f64 / 1e6)),
            ("relto_peer_lag_seconds", "gauge", "Seconds since an exchange with the peer last ended with nothing left to send or take.", |f, now| (f.caught_up_us > 0).then(|| (now - f.caught_up_us) as f64 / 1e6)),
        ];
        for (name, kind, help, figure) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (peer, f) in peers.iter() {
                if let Some(v) = figure(f, now) {
                    let _ = writeln!(out, "{name}{{peer=\"{}\"}} {v}", label(peer));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_cumulative_buckets_and_object_events() {
        let m = Metrics::default();
        m.request("/{root}/", "GET", 200, Duration::from_millis(3));
        m.request("/{root}/", "GET", 200, Duration::from_millis(30));
        m.request("unmatched", "GET", 404, Duration::from_secs(20));
        let event = |kind: &str, outcome: &str| AuditEvent {
            kind: kind.into(),
            outcome: outcome.into(),
            ..relto_store::audit::AuditEvent::default()
        };
        m.audited(&[
            event("object.write", "ok"),
            event("object.write", "rejected"),
            event("object.release", "redact"),
            event("object.release", "allow"),
            event("object.release", "allow"),
        ]);
        let text = m.render();
        for line in [
            "relto_http_requests_total{route=\"/{root}/\",method=\"GET\",status=\"200\"} 2",
            "relto_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1",
            "relto_http_request_duration_seconds_bucket{route=\"/{root}/\",le=\"0.0025\"} 0",
            "relto_http_request_duration_seconds_bucket{route=\"/{root}/\",le=\"0.005\"} 1",
            "relto_http_request_duration_seconds_bucket{route=\"/{root}/\",le=\"0.05\"} 2",
            "relto_http_request_duration_seconds_bucket{route=\"unmatched\",le=\"10\"} 0",
            "relto_http_request_duration_seconds_bucket{route=\"unmatched\",le=\"+Inf\"} 1",
            "relto_http_request_duration_seconds_count{route=\"/{root}/\"} 2",
            "relto_objects_total{event=\"ingested\"} 1",
            "relto_objects_total{event=\"refused\"} 1",
            "relto_objects_total{event=\"released\"} 2",
            "relto_objects_total{event=\"redacted\"} 1",
            "relto_objects_total{event=\"denied\"} 0",
            "relto_audit_records_total{kind=\"object.release\",outcome=\"allow\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
