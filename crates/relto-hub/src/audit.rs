//! Audit records of the hub's operations: built here, once, for every way in; the caller
//! appends them (the server through its queue, the CLI directly).

use relto_store::audit::{AuditEvent, AuditKind, AuditOutcome};
use relto_store::Page;

use crate::release::Redactions;

/// Microseconds since the Unix epoch (0 if the clock is before it).
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// An event stamped now.
pub fn event(kind: AuditKind, actor: &str, organization: &str, source: &str) -> AuditEvent {
    AuditEvent {
        ts_us: now_us(),
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
    let stamped =
        |o: &relto_store::StoredObject, outcome: AuditOutcome, detail: String| AuditEvent {
            kind: AuditKind::ObjectRelease.into(),
            object_id: o.stix_id.clone(),
            object_version: relto_stix::timestamp::format_micros(o.version),
            outcome: outcome.into(),
            detail,
            ..base.clone()
        };
    let served = page.items.iter().map(|o| {
        let mut detail = path.to_string();
        if let Some(st) = r.admissions.get(&o.row) {
            detail.push_str(&format!(
                "; admitted by stage {} of situation {}",
                st.n, st.situation
            ));
        }
        match r.redacted.get(&o.row) {
            Some(removed) => stamped(
                o,
                AuditOutcome::Redact,
                format!("{detail}; removed {}", removed.join(", ")),
            ),
            None => stamped(o, AuditOutcome::Allow, detail),
        }
    });
    let withheld = r
        .dropped
        .iter()
        .map(|(o, why)| stamped(o, AuditOutcome::Deny, format!("{path}; {why}")));
    served.chain(withheld).collect()
}
