//! Writes by a peer relto hub (DESIGN §11): an account that names a public key in the realm
//! is a hub, and each of its writes must carry an RFC 9421 signature by that key, so that a
//! stolen password or token alone cannot write in its name. A hub's relay names the hubs what
//! it posts passed through (`Relto-Origin`, `Relto-Hops`), covered by the signature.

use super::*;
use relto_store::audit::{AuditKind, AuditOutcome};
use relto_taxii::hops::{request_path, HopPath, HOPS_HEADER, ORIGIN_HEADER};

/// The hop path a request names, if any: only a peer hub's relay account may name one.
pub(super) fn hop_path(p: &Principal, headers: &HeaderMap) -> ApiResult<Option<HopPath>> {
    let field = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().map_err(|_| format!("{name} is not ASCII")))
            .transpose()
    };
    let path = field(ORIGIN_HEADER)
        .and_then(|origin| request_path(origin, field(HOPS_HEADER)?))
        .map_err(|why| ApiError(TaxiiError::bad_request(why)))?;
    if path.is_some() && !p.account.has_role(relto_policy::Role::Relay) {
        return Err(ApiError(TaxiiError::forbidden(
            "only a peer hub's relay account may name a hop path (Relto-Origin, Relto-Hops)",
        )));
    }
    Ok(path)
}

/// Refuses (401, audited) a write of a peer hub's account that is not signed by its key;
/// any other account passes.
pub(super) async fn require_signature(
    st: &AppState,
    p: &Principal,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<()> {
    let Some(key) = &p.account.public_key else {
        return Ok(());
    };
    let field = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let request = relto_taxii::signature::Request {
        method: method.as_str(),
        authority: field("host").unwrap_or(""),
        path: uri.path(),
        query: uri.query(),
        body,
        origin: field(ORIGIN_HEADER),
        hops: field(HOPS_HEADER),
    };
    let fields = (
        field("content-digest"),
        field("signature-input"),
        field("signature"),
    );
    let Err(why) = relto_taxii::signature::verify(key, &request, fields, now_us() / 1_000_000)
    else {
        return Ok(());
    };
    let mut e = event(
        AuditKind::AuthFailure,
        &p.account.name,
        p.account.organization.slug.as_str(),
        &p.source,
    );
    e.outcome = AuditOutcome::Refused.into();
    e.detail = format!("unsigned or badly signed write of a peer hub: {why}");
    st.audit.record(e).await;
    tracing::warn!(account = %p.account.name, source = %p.source, reason = %why, "refused a peer hub's write that is not signed by its key");
    Err(ApiError(TaxiiError::new(
        401,
        "Signature required",
        format!(
            "account {} is a peer hub: its writes must be signed with its key (RFC 9421): {why}",
            p.account.name
        ),
    )))
}
