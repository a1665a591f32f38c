//! Reading request bodies within a size and a time.

use super::*;

/// Most bytes read and thrown away after a body went over its limit, and for how long, so that
/// the client can read the 413 instead of a reset connection (a lingering close).
pub(super) const DRAIN_MAX: u64 = 64 * 1024 * 1024;
pub(super) const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads a request body of at most `limit` bytes; more is a 413.
pub(super) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    timeout: std::time::Duration,
) -> ApiResult<Vec<u8>> {
    tokio::time::timeout(timeout, read_body_within(headers, body, limit))
        .await
        .map_err(|_| {
            ApiError(TaxiiError::new(
                408,
                "Request Timeout",
                format!(
                    "the request body did not arrive within {} s",
                    timeout.as_secs()
                ),
            ))
        })?
}

pub(super) async fn read_body_within(
    headers: &HeaderMap,
    mut body: Body,
    limit: u64,
) -> ApiResult<Vec<u8>> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut buf: Vec<u8> = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    let mut seen: u64 = 0;
    let mut over = declared.is_some_and(|n| n > limit);
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        let next = if over {
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Ok(f) => f,
                Err(_) => break,
            }
        } else {
            body.frame().await
        };
        let Some(frame) = next else { break };
        let frame = frame.map_err(|_| {
            ApiError(TaxiiError::bad_request(
                "the request body could not be read",
            ))
        })?;
        if let Ok(data) = frame.into_data() {
            seen += data.len() as u64;
            if seen > limit {
                over = true;
            }
            if over {
                if seen > limit.saturating_add(DRAIN_MAX) {
                    break;
                }
            } else {
                buf.extend_from_slice(&data);
            }
        }
    }
    if over {
        return Err(ApiError(TaxiiError::payload_too_large(limit)));
    }
    Ok(buf)
}
