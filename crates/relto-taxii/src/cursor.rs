//! Opaque, encrypted, authenticated, stateless `next` cursors: the keyset position
//! (date_added µs, row id) of the last item served, bound to the query it was issued for,
//! under the hub's key (kept in the store, so a cursor stays valid after a restart and on
//! every node). The position is encrypted, not only signed: a row id in plain text would tell
//! a reader how many objects it was not shown.
//!
//! Construction (deterministic authenticated encryption in the SIV manner, from HMAC-SHA256
//! alone): tag = HMAC(k_mac, version ‖ position ‖ query tag)[..16]; the position is XORed
//! with HMAC(k_enc, tag)[..16]; k_mac and k_enc are derived from the hub's key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 2;
/// version ‖ encrypted (date_added, row) ‖ query tag.
const PAYLOAD_LEN: usize = 1 + 16 + 8;
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

fn prf(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

impl CursorKey {
    fn mac_key(&self) -> [u8; 32] {
        prf(&self.0, &[b"relto cursor mac"])
    }
    fn enc_key(&self) -> [u8; 32] {
        prf(&self.0, &[b"relto cursor enc"])
    }

    /// The tag of a plain position for a query.
    fn tag(&self, plain: &[u8; 16], query: &[u8; 8]) -> [u8; TAG_LEN] {
        let full = prf(&self.mac_key(), &[&[VERSION], plain, query]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// XORs `data` with the keystream of `tag` (its own inverse).
    fn crypt(&self, tag: &[u8; TAG_LEN], data: &mut [u8; 16]) {
        let stream = prf(&self.enc_key(), &[tag]);
        for (d, k) in data.iter_mut().zip(stream) {
            *d ^= k;
        }
    }
}

impl Cursor {
    /// Encodes the cursor for the query with `fingerprint`.
    pub fn encode(&self, key: &CursorKey, fingerprint: &str) -> String {
        let mut plain = [0u8; 16];
        plain[..8].copy_from_slice(&self.date_added.to_be_bytes());
        plain[8..].copy_from_slice(&self.row.to_be_bytes());
        let query = query_tag(fingerprint);
        let tag = key.tag(&plain, &query);
        key.crypt(&tag, &mut plain);
        let mut buf = [0u8; PAYLOAD_LEN + TAG_LEN];
        buf[0] = VERSION;
        buf[1..17].copy_from_slice(&plain);
        buf[17..25].copy_from_slice(&query);
        buf[PAYLOAD_LEN..].copy_from_slice(&tag);
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
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&bytes[PAYLOAD_LEN..]);
        let mut query = [0u8; 8];
        query.copy_from_slice(&bytes[17..25]);
        let mut plain = [0u8; 16];
        plain.copy_from_slice(&bytes[1..17]);
        key.crypt(&tag, &mut plain);
        let expected = key.tag(&plain, &query);
        // Constant time: the comparison must not tell how much of a forged tag was right.
        let diff = expected.iter().zip(&tag).fold(0u8, |d, (a, b)| d | (a ^ b));
        if diff != 0 {
            return Err(CursorError::BadSignature);
        }
        if query != query_tag(fingerprint) {
            return Err(CursorError::OtherQuery);
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(&plain[..8]);
        let mut r = [0u8; 8];
        r.copy_from_slice(&plain[8..]);
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
        // The position is not in the cursor's bytes: neighbouring rows give unrelated text.
        let bytes = URL_SAFE_NO_PAD.decode(&s).unwrap();
        let plain_row = 42i64.to_be_bytes();
        assert!(!bytes.windows(8).any(|w| w == plain_row));
        let next = Cursor { row: 43, ..c }.encode(&key, "q");
        let other = URL_SAFE_NO_PAD.decode(&next).unwrap();
        let same = bytes[1..17]
            .iter()
            .zip(&other[1..17])
            .filter(|(a, b)| a == b)
            .count();
        assert!(same < 8, "{same} of 16 bytes alike");
    }
}
