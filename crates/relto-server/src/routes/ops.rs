//! What operators and orchestrators ask of a running hub: whether the process answers
//! (`/healthz`), whether it can serve (`/readyz`: its store answers; the schema is migrated
//! before a node starts serving), and its metrics, on a listener of their own.

use super::*;
use crate::metrics::Metrics;
use axum::extract::MatchedPath;
use std::time::{Duration, Instant};

/// How long the store may take to answer a readiness probe.
const READY_WITHIN: Duration = Duration::from_secs(2);

/// GET /healthz: the process answers (no store access, no credentials).
pub(super) async fn healthz() -> Response {
    json_response(StatusCode::OK, json!({"status": "ok"}))
}

/// GET /readyz: 200 when the store answers within `READY_WITHIN`, else 503, so that a load
/// balancer takes a node whose database is unreachable out of rotation.
pub(super) async fn readyz(State(st): State<AppState>) -> Response {
    let reason = match tokio::time::timeout(READY_WITHIN, st.store.release_generation()).await {
        Ok(Ok(_)) => return json_response(StatusCode::OK, json!({"status": "ready"})),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the store failed");
            "the store failed"
        }
        Err(_) => {
            tracing::warn!("not ready: the store did not answer within 2 s");
            "the store did not answer in time"
        }
    };
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"status": "unavailable", "reason": reason}),
    )
}

/// Counts each request by its route's template (bounded: never the raw path) and status,
/// and times it to its response head.
pub(super) async fn track(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "DELETE" | "PUT" | "HEAD" | "OPTIONS" | "PATCH") => m,
        _ => "other",
    }
    .to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    st.metrics
        .request(&route, &method, resp.status().as_u16(), start.elapsed());
    resp
}

/// The metrics listener's routes: `GET /metrics` (Prometheus text format) and nothing else.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let text = metrics.render();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    text,
                )
            }
        }),
    )
}
