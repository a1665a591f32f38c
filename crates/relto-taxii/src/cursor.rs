//! Opaque, signed, stateless `next` cursors: the keyset position (date_added µs, row id) of
//! the last item served, bound to the query it was issued for and signed with the hub's key
//! (kept in the store, so a cursor stays valid after a restart and on every node).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 1 + 8 + 8 + 8;
const TAG_LEN: usize = 16;

/// The secret that signs cursors.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(…)")
    }
}

/// A keyset position: continue after this (date_added, row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub date_added: i64,
    pub row: i64,
}

/// Why a `next` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorError {
    Malformed,
    BadSignature,
    OtherQuery,
}

impl std::fmt::Display for CursorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CursorError::Malformed => "next is not a cursor this server issued",
            CursorError::BadSignature => "next is not a cursor this server issued",
            CursorError::OtherQuery => {
                "next belongs to a different query: repeat the filters of the request that returned it"
            }
        })
    }
}
impl std::error::Error for CursorError {}

fn query_tag(fingerprint: &str) -> [u8; 8] {
    let digest = Sha256::digest(fingerprint.as_bytes());
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

fn mac(key: &CursorKey, payload: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
    let mut m = <HmacSha256 as Mac>::new_from_slice(&key.0).unwrap_or_else(|_| unreachable!());
    m.update(payload);
    m
}

impl Cursor {
    /// Encodes the cursor for the query with `fingerprint`.
    pub fn encode(&self, key: &CursorKey, fingerprint: &str) -> String {
        let mut buf = [0u8; PAYLOAD_LEN + TAG_LEN];
        buf[0] = VERSION;
        buf[1..9].copy_from_slice(&self.date_added.to_be_bytes());
        buf[9..17].copy_from_slice(&self.row.to_be_bytes());
        buf[17..25].copy_from_slice(&query_tag(fingerprint));
        let tag = mac(key, &buf[..PAYLOAD_LEN]).finalize().into_bytes();
        buf[PAYLOAD_LEN..].copy_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// Decodes and checks a cursor received as `next` for the query with `fingerprint`.
    pub fn decode(text: &str, key: &CursorKey, fingerprint: &str) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| CursorError::Malformed)?;
        if bytes.len() != PAYLOAD_LEN + TAG_LEN || bytes[0] != VERSION {
            return Err(CursorError::Malformed);
        }
        mac(key, &bytes[..PAYLOAD_LEN])
            .verify_truncated_left(&bytes[PAYLOAD_LEN..])
            .map_err(|_| CursorError::BadSignature)?;
        if bytes[17..25] != query_tag(fingerprint) {
            return Err(CursorError::OtherQuery);
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(&bytes[1..9]);
        let mut r = [0u8; 8];
        r.copy_from_slice(&bytes[9..17]);
        Ok(Self {
            date_added: i64::from_be_bytes(a),
            row: i64::from_be_bytes(r),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = CursorKey::new([7; 32]);
        let c = Cursor {
            date_added: 1_700_000_000_123_456,
            row: 42,
        };
        let s = c.encode(&key, "q");
        assert_eq!(Cursor::decode(&s, &key, "q"), Ok(c));
        assert_eq!(
            Cursor::decode(&s, &key, "other"),
            Err(CursorError::OtherQuery)
        );
        assert_eq!(
            Cursor::decode(&s, &CursorKey::new([8; 32]), "q"),
            Err(CursorError::BadSignature)
        );
        let mut chars: Vec<char> = s.chars().collect();
        chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(Cursor::decode(&tampered, &key, "q").is_err());
        assert_eq!(Cursor::decode("!!", &key, "q"), Err(CursorError::Malformed));
    }
}
