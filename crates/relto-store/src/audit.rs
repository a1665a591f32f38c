//! The audit chain: an append-only list of records, each carrying the SHA-256 of the one
//! before it, so that editing, removing, inserting or reordering any record is detected by
//! [`verify_chain`], which names the first record that does not fit.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Declares a closed vocabulary of audit words: the enum and its stored text.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// The text records carry.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_string()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }
    };
}

vocabulary! {
    /// What a record is about. Records are written with these; records read back keep the
    /// text stored, since verification must judge a record whatever its text says.
    AuditKind {
        AuthFailure = "auth.failure",
        AuthThrottled = "auth.throttled",
        ObjectWrite = "object.write",
        ObjectRelease = "object.release",
        ObjectDelete = "object.delete",
        RealmApply = "realm.apply",
        TokenCreate = "token.create",
        TokenRevoke = "token.revoke",
        AccountCreate = "account.create",
        ReleasePreview = "release.preview",
        /// A live stream opened (DESIGN §10): its object releases are `object.release`.
        StreamOpen = "stream.open",
        /// Release plans (DESIGN §9): a situation proposed, a stage approved (the detail
        /// names the snapshot), activated, withdrawn.
        PlanPropose = "plan.propose",
        PlanApprove = "plan.approve",
        PlanActivate = "plan.activate",
        PlanWithdraw = "plan.withdraw",
        /// Federation (DESIGN §11): a peer hub's audit chain head, kept as a witness (the
        /// detail is its checkpoint line, the actor the peer).
        PeerWitness = "peer.witness",
    }
}

vocabulary! {
    /// How it ended.
    AuditOutcome {
        /// Served whole, served redacted, withheld (object.release).
        Allow = "allow",
        Redact = "redact",
        Deny = "deny",
        /// Done; refused (not entitled); an object added again; an object refused.
        Ok = "ok",
        Refused = "refused",
        Duplicate = "duplicate",
        Rejected = "rejected",
        /// A login that failed; an operation that found nothing to do.
        Failure = "failure",
        Nothing = "none",
    }
}

/// What happened (before it is chained). `kind` and `outcome` hold an [`AuditKind`] and an
/// [`AuditOutcome`] as text: the chain hashes the text stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When, in µs since the Unix epoch.
    pub ts_us: i64,
    /// An [`AuditKind`].
    pub kind: String,
    /// The account that acted ("" when unknown, e.g. a failed login's claimed name).
    pub actor: String,
    pub organization: String,
    /// The peer address, or `cli`.
    pub source: String,
    pub object_id: String,
    pub object_version: String,
    /// An [`AuditOutcome`].
    pub outcome: String,
    /// The reason, the removed properties, or what changed.
    pub detail: String,
}

/// An event as stored: its place in the chain and the hashes that bind it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Hex SHA-256 of the previous record (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of this record's canonical encoding.
    pub hash: String,
}

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Lowercase hex of bytes (the chain's hashes, digests of copies sent to peers).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The hash of a record: SHA-256 over a JSON array of every field in a fixed order (JSON
/// escaping makes the encoding unambiguous), the previous hash included.
pub fn record_hash(seq: i64, e: &AuditEvent, prev_hash: &str) -> String {
    // Written out by hand (this runs for every record): the same text as serde_json's
    // compact array of these values.
    let mut text = String::with_capacity(256);
    text.push('[');
    text.push_str(&seq.to_string());
    text.push(',');
    text.push_str(&e.ts_us.to_string());
    for field in [
        &e.kind,
        &e.actor,
        &e.organization,
        &e.source,
        &e.object_id,
        &e.object_version,
        &e.outcome,
        &e.detail,
    ]
    .into_iter()
    .chain(std::iter::once(&prev_hash.to_string()))
    {
        text.push(',');
        text.push_str(&serde_json::to_string(field).unwrap_or_default());
    }
    text.push(']');
    hex(&Sha256::digest(text.as_bytes()))
}

/// Chains `event` after the record (`seq`, `hash`) of `last`.
pub fn chain(last: Option<(i64, &str)>, event: AuditEvent) -> AuditRecord {
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h.to_string()),
        None => (1, GENESIS.to_string()),
    };
    let hash = record_hash(seq, &event, &prev);
    AuditRecord {
        seq,
        event,
        prev_hash: prev,
        hash,
    }
}

/// A broken chain: the first record that does not fit, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The sequence number where the chain breaks.
    pub seq: i64,
    pub problem: String,
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit record {}: {}", self.seq, self.problem)
    }
}

/// A checkpoint kept elsewhere: the hash a record had when it was exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
}

impl Checkpoint {
    /// Whether a checkpoint received from elsewhere (a peer hub's chain head) is well formed:
    /// a record's number and a SHA-256 in lowercase hex.
    pub fn is_well_formed(&self) -> bool {
        self.seq >= 1
            && self.hash.len() == 64
            && self
                .hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

/// Checks a chain record by record, in stored order, holding only the last hash: numbering
/// without gaps from 1, each hash matching its content, each previous hash matching the
/// record before, and every checkpoint matching.
pub struct ChainVerifier<'c> {
    checkpoints: &'c [Checkpoint],
    prev: String,
    count: u64,
    last_seq: i64,
}

impl<'c> ChainVerifier<'c> {
    pub fn new(checkpoints: &'c [Checkpoint]) -> Self {
        Self {
            checkpoints,
            prev: GENESIS.to_string(),
            count: 0,
            last_seq: 0,
        }
    }

    /// Takes the next record; the first that does not fit is named.
    pub fn push(&mut self, r: &AuditRecord) -> Result<(), ChainBreak> {
        let expected_seq = self.last_seq + 1;
        if r.seq != expected_seq {
            let problem = if r.seq > expected_seq {
                format!(
                    "records {}..{} are missing (removed)",
                    expected_seq,
                    r.seq - 1
                )
            } else {
                format!(
                    "numbered {} where {} was due (inserted or reordered)",
                    r.seq, expected_seq
                )
            };
            return Err(ChainBreak {
                seq: expected_seq.min(r.seq),
                problem,
            });
        }
        if r.prev_hash != self.prev {
            return Err(ChainBreak {
                seq: r.seq,
                problem: "does not follow the record before it (inserted, reordered, or the record before was changed)".into(),
            });
        }
        if record_hash(r.seq, &r.event, &r.prev_hash) != r.hash {
            return Err(ChainBreak {
                seq: r.seq,
                problem: "its content does not match its hash (changed)".into(),
            });
        }
        if let Some(c) = self.checkpoints.iter().find(|c| c.seq == r.seq) {
            if c.hash != r.hash {
                return Err(ChainBreak {
                    seq: r.seq,
                    problem: "differs from the checkpoint kept for it (the chain was rewritten)"
                        .into(),
                });
            }
        }
        self.prev.clone_from(&r.hash);
        self.last_seq = r.seq;
        self.count += 1;
        Ok(())
    }

    /// Ends the check: a checkpoint beyond the last record means records were cut from the
    /// end. Returns how many records were verified.
    pub fn finish(self) -> Result<u64, ChainBreak> {
        if let Some(c) = self.checkpoints.iter().find(|c| c.seq > self.last_seq) {
            return Err(ChainBreak {
                seq: c.seq,
                problem: format!(
                    "is in a checkpoint but the chain ends at {} (records were removed from its end)",
                    self.last_seq
                ),
            });
        }
        Ok(self.count)
    }
}

/// Checks records given in stored order (see [`ChainVerifier`]); names the first record
/// that breaks the chain.
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    checkpoints: &[Checkpoint],
) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::new(checkpoints);
    for r in records {
        v.push(r)?;
    }
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: i64) -> AuditEvent {
        AuditEvent {
            ts_us: n,
            kind: AuditKind::ObjectRelease.into(),
            actor: "bnd-reader".into(),
            organization: "deu-bnd".into(),
            source: "127.0.0.1".into(),
            object_id: format!("report--{n}"),
            object_version: "2024-01-01T00:00:00.000Z".into(),
            outcome: AuditOutcome::Allow.into(),
            detail: String::new(),
        }
    }

    fn chain_of(n: i64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let last = out.last().map(|r| (r.seq, r.hash.as_str()));
            let r = chain(last, event(i));
            out.push(r);
        }
        out
    }

    #[test]
    fn hash_encoding_is_the_json_array() {
        let e = event(3);
        let expected = serde_json::json!([
            7,
            e.ts_us,
            e.kind,
            e.actor,
            e.organization,
            e.source,
            e.object_id,
            e.object_version,
            e.outcome,
            "quote \" and \u{1}",
            GENESIS
        ]);
        let mut e2 = e.clone();
        e2.detail = "quote \" and \u{1}".into();
        assert_eq!(
            record_hash(7, &e2, GENESIS),
            hex(&Sha256::digest(expected.to_string().as_bytes()))
        );
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain_of(10);
        assert_eq!(verify_chain(&c, &[]), Ok(10));
        let cp = Checkpoint {
            seq: 5,
            hash: c[4].hash.clone(),
        };
        assert_eq!(verify_chain(&c, &[cp]), Ok(10));
    }

    #[test]
    fn every_single_tampering_is_named() {
        let c = chain_of(8);
        for i in 0..8 {
            // Edit a field.
            let mut edited = c.clone();
            edited[i].event.outcome = AuditOutcome::Deny.into();
            assert_eq!(verify_chain(&edited, &[]).unwrap_err().seq, i as i64 + 1);
            // Edit and recompute its own hash: the next record no longer follows.
            let mut rehashed = c.clone();
            rehashed[i].event.detail = "x".into();
            rehashed[i].hash =
                record_hash(rehashed[i].seq, &rehashed[i].event, &rehashed[i].prev_hash);
            let err = verify_chain(&rehashed, &[]);
            if i < 7 {
                assert_eq!(err.unwrap_err().seq, i as i64 + 2);
            }
            // Remove one.
            let mut removed = c.clone();
            removed.remove(i);
            if i < 7 {
                assert_eq!(verify_chain(&removed, &[]).unwrap_err().seq, i as i64 + 1);
            }
            // Insert a forged one.
            let mut inserted = c.clone();
            inserted.insert(i, chain(None, event(99)));
            assert!(verify_chain(&inserted, &[]).is_err());
        }
        // Swap two neighbours.
        let mut swapped = c.clone();
        swapped.swap(2, 3);
        assert_eq!(verify_chain(&swapped, &[]).unwrap_err().seq, 3);
        // Removing the last record is seen against a checkpoint.
        let cp = Checkpoint {
            seq: 8,
            hash: c[7].hash.clone(),
        };
        assert_eq!(
            verify_chain(&c[..7], std::slice::from_ref(&cp))
                .unwrap_err()
                .seq,
            8
        );
        // A chain rebuilt from scratch after an edit is caught by the checkpoint.
        let mut rebuilt: Vec<AuditRecord> = Vec::new();
        for (i, r) in c.iter().enumerate() {
            let mut e = r.event.clone();
            if i == 3 {
                e.outcome = AuditOutcome::Deny.into();
            }
            let last = rebuilt.last().map(|r| (r.seq, r.hash.as_str()));
            rebuilt.push(chain(last, e));
        }
        assert_eq!(verify_chain(&rebuilt, &[]), Ok(8));
        assert_eq!(verify_chain(&rebuilt, &[cp]).unwrap_err().seq, 8);
    }
}
