//! What federation (DESIGN §11) decides apart from moving bytes: as whom a peer reads and
//! writes (so that a push is exactly the peer organization's view, and a pull goes through
//! the write rules as its relay), where a push stands between runs, and how a peer's chain
//! head is kept.

use relto_policy::realm::{PeerDirection, PeerEntry};
use relto_policy::Role;
use relto_store::audit::{AuditEvent, AuditKind, AuditOutcome, Checkpoint};
use relto_store::{Account, ApiRoot, Collection, Organization, Peer, StoreResult};
use relto_taxii::Cursor;
use serde::{Deserialize, Serialize};

/// The account a peer acts as: a reader of its organization, with the peer's clearances,
/// for a push; its organization's relay for a pull.
pub fn peer_account(peer: &PeerEntry, organization: Organization) -> Account {
    Account {
        name: format!("peer:{}", peer.name),
        organization,
        roles: vec![match peer.direction {
            PeerDirection::Push => Role::Reader,
            PeerDirection::Pull => Role::Relay,
        }],
        password_hash: None,
        clearances: peer.clearances.clone(),
        public_key: None,
    }
}

/// Where a push stands: the last object of the collection the peer acknowledged (or chose
/// not to send it), and what the view was when it last ran (the stages in effect, the
/// realm's generation): when they change, what the peer receives behind the cursor may have
/// changed, and its copies are reconciled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushPosition {
    /// None before the first run.
    pub after: Option<(i64, i64)>,
    #[serde(default)]
    pub stages: Vec<i64>,
    /// The realm's generation at the last run, and when the peer's copies were last
    /// reconciled with its view (µs).
    #[serde(default)]
    pub generation: i64,
    #[serde(default)]
    pub reconciled_us: i64,
}

impl PushPosition {
    /// The position a peer's stored cursor holds (none or unreadable: from the start).
    pub fn parse(stored: Option<&str>) -> Self {
        stored
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn cursor(&self) -> Option<Cursor> {
        self.after
            .map(|(date_added, row)| Cursor { date_added, row })
    }

    /// Moves the cursor to `c` when it is later.
    pub fn advance(&mut self, c: Cursor) {
        let c = (c.date_added, c.row);
        if self.after.is_none_or(|a| c > a) {
            self.after = Some(c);
        }
    }
}

/// The record that keeps a peer hub's chain head (DESIGN §11): a witness, in this hub's own
/// chain, that the peer's chain held that record; the peer's operator can later check their
/// chain against it (`relto audit witnesses`, then `relto audit verify --checkpoints`).
pub fn witness_event(
    peer: &str,
    organization: &str,
    source: &str,
    theirs: &Checkpoint,
) -> AuditEvent {
    let mut e = crate::audit::event(AuditKind::PeerWitness, peer, organization, source);
    e.outcome = AuditOutcome::Ok.into();
    e.detail = serde_json::to_string(theirs).unwrap_or_default();
    e
}

/// Where a peer's exchange stands, in words (for `relto peers` and the console).
pub fn peer_state(p: &Peer) -> String {
    use relto_stix::timestamp::format_micros;
    let mut parts = vec![if p.enabled {
        "enabled".to_string()
    } else {
        "disabled (no longer in the realm)".to_string()
    }];
    match (p.last_attempt_us, p.last_success_us) {
        (None, _) => parts.push("never run".into()),
        (Some(_), Some(ok)) => parts.push(format!("last success {}", format_micros(ok))),
        (Some(_), None) => parts.push("never succeeded".into()),
    }
    if p.failures > 0 {
        parts.push(format!("{} failures since", p.failures));
    }
    if let Some(e) = &p.last_error {
        parts.push(format!("last error: {e}"));
    }
    parts.push(format!(
        "{} objects {}, {} withheld",
        p.transferred,
        match p.plan.direction {
            PeerDirection::Pull => "taken",
            PeerDirection::Push => "sent",
        },
        p.withheld
    ));
    parts.join("; ")
}

impl crate::Hub {
    /// An enabled collection by id, with its API root, whichever root it is in.
    pub async fn collection_by_id(&self, id: &str) -> StoreResult<Option<(ApiRoot, Collection)>> {
        for root in self.store.api_roots().await? {
            if let Some(found) = self.store.collection(&root.path, id).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_position_survives_its_text_and_only_moves_forward() {
        let mut p = PushPosition::parse(None);
        assert_eq!(p, PushPosition::default());
        p.advance(Cursor {
            date_added: 5,
            row: 2,
        });
        p.advance(Cursor {
            date_added: 4,
            row: 9,
        });
        p.stages = vec![3];
        assert_eq!(PushPosition::parse(Some(&p.to_text())), p);
        assert_eq!(p.after, Some((5, 2)));
        assert_eq!(
            PushPosition::parse(Some("garbage")),
            PushPosition::default()
        );
    }
}
