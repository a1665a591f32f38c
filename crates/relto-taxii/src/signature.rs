//! HTTP Message Signatures (RFC 9421) with Ed25519, as relto hubs sign what they send each
//! other (DESIGN §11): the signature base built from the request's components, the
//! `Signature-Input` and `Signature` fields, and the check of a signed request. Pure: the
//! caller hands in the request's parts.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

/// The signature's label in `Signature-Input` and `Signature`.
const LABEL: &str = "relto";
/// What a relto signature covers: the request's target and its body (through its digest).
pub const COVERED: [&str; 5] = ["@method", "@authority", "@path", "@query", "content-digest"];
/// How far a signature's `created` may lie from the receiver's clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// The parts of a request a signature covers.
pub struct Request<'a> {
    pub method: &'a str,
    /// `host[:port]` as the client addressed it (the Host header).
    pub authority: &'a str,
    pub path: &'a str,
    /// Without the `?`; None or empty when there is none.
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    /// `Relto-Origin` and `Relto-Hops` (DESIGN §11), covered whenever the request has them.
    pub origin: Option<&'a str>,
    pub hops: Option<&'a str>,
}

impl Request<'_> {
    /// What this request's signature covers: [`COVERED`], and the hop path when it has one.
    fn covered(&self) -> Vec<&'static str> {
        let mut names = COVERED.to_vec();
        if self.origin.is_some() {
            names.push(crate::hops::ORIGIN_HEADER);
        }
        if self.hops.is_some() {
            names.push(crate::hops::HOPS_HEADER);
        }
        names
    }
}

/// The fields a signed request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub content_digest: String,
    pub signature_input: String,
    pub signature: String,
}

/// `sha-256=:BASE64:` (RFC 9530) of a body.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// An Ed25519 key's public half as relto names it in a realm: standard base64 of its 32 bytes.
pub fn public_key_text(key: &Ed25519KeyPair) -> String {
    STANDARD.encode(key.public_key().as_ref())
}

/// The key id a signature names: the first 16 hex digits of the public key's SHA-256.
pub fn key_id(public_key: &[u8]) -> String {
    Sha256::digest(public_key)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The value of one covered component.
fn component(name: &str, r: &Request<'_>, digest: &str) -> Option<String> {
    Some(match name {
        "@method" => r.method.to_ascii_uppercase(),
        "@authority" => r.authority.to_ascii_lowercase(),
        "@path" => r.path.to_string(),
        "@query" => format!("?{}", r.query.unwrap_or("")),
        "content-digest" => digest.to_string(),
        crate::hops::ORIGIN_HEADER => r.origin?.trim().to_string(),
        crate::hops::HOPS_HEADER => r.hops?.trim().to_string(),
        _ => return None,
    })
}

/// The signature base (RFC 9421 §2.5) over `components`, given each one's value, ending with
/// the `@signature-params` line (no trailing line feed).
pub fn signature_base(components: &[(&str, String)], params: &str) -> String {
    let mut base = String::new();
    for (name, value) in components {
        base.push_str(&format!("\"{name}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {params}"));
    base
}

/// The inner list and parameters of a signature's `Signature-Input` member.
fn params(names: &[&str], created: i64, key_id: &str) -> String {
    let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "({});created={created};keyid=\"{key_id}\";alg=\"ed25519\"",
        list.join(" ")
    )
}

/// Signs a request at `created` (seconds since the epoch).
pub fn sign(key: &Ed25519KeyPair, r: &Request<'_>, created: i64) -> Signed {
    let digest = content_digest(r.body);
    let names = r.covered();
    let values: Vec<(&str, String)> = names
        .iter()
        .filter_map(|n| component(n, r, &digest).map(|v| (*n, v)))
        .collect();
    let p = params(&names, created, &key_id(key.public_key().as_ref()));
    let sig = key.sign(signature_base(&values, &p).as_bytes());
    Signed {
        content_digest: digest,
        signature_input: format!("{LABEL}={p}"),
        signature: format!("{LABEL}=:{}:", STANDARD.encode(sig.as_ref())),
    }
}

/// Checks that a request carries a valid relto signature by `public_key` (base64 of 32
/// bytes), covering every component of [`COVERED`] and the hop path if the request names
/// one, created within [`MAX_SKEW_SECS`] of
/// `now`, over a body whose digest matches. The error says what is wrong.
pub fn verify(
    public_key: &str,
    r: &Request<'_>,
    fields: (Option<&str>, Option<&str>, Option<&str>),
    now: i64,
) -> Result<(), String> {
    let (digest, input, signature) = match fields {
        (Some(d), Some(i), Some(s)) => (d, i, s),
        _ => {
            return Err(
                "the request is not signed: Content-Digest, Signature-Input and Signature are required (RFC 9421)"
                    .into(),
            )
        }
    };
    if digest != content_digest(r.body) {
        return Err("Content-Digest does not match the body".into());
    }
    let p = input
        .strip_prefix(LABEL)
        .and_then(|s| s.strip_prefix('='))
        .ok_or("Signature-Input has no 'relto' signature")?;
    let (list, rest) = p
        .strip_prefix('(')
        .and_then(|s| s.split_once(')'))
        .ok_or("Signature-Input: no component list")?;
    let names: Vec<&str> = list
        .split(' ')
        .filter(|n| !n.is_empty())
        .map(|n| n.trim_matches('"'))
        .collect();
    if let Some(missing) = r.covered().into_iter().find(|c| !names.contains(c)) {
        return Err(format!("the signature does not cover {missing}"));
    }
    let mut created = None;
    let mut alg = None;
    for param in rest.split(';').filter(|s| !s.is_empty()) {
        match param.split_once('=') {
            Some(("created", v)) => created = v.parse::<i64>().ok(),
            Some(("alg", v)) => alg = Some(v.trim_matches('"')),
            _ => {}
        }
    }
    if alg.is_some_and(|a| a != "ed25519") {
        return Err("the signature's alg is not ed25519".into());
    }
    let created = created.ok_or("Signature-Input: no created time")?;
    if (now - created).abs() > MAX_SKEW_SECS {
        return Err(format!(
            "the signature was created {} s from now (at most {MAX_SKEW_SECS})",
            now - created
        ));
    }
    let values = names
        .iter()
        .map(|n| {
            component(n, r, digest).map(|v| (*n, v)).ok_or(format!(
                "the signature covers {n}, which relto does not sign"
            ))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sig = signature
        .strip_prefix(LABEL)
        .and_then(|s| s.strip_prefix("=:"))
        .and_then(|s| s.strip_suffix(':'))
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or("Signature has no 'relto' signature in base64")?;
    let key = STANDARD
        .decode(public_key)
        .map_err(|_| "the account's public key is not base64".to_string())?;
    UnparsedPublicKey::new(&ED25519, key)
        .verify(signature_base(&values, p).as_bytes(), &sig)
        .map_err(|_| "the signature does not match (wrong key, or the request was changed)".into())
}

/// Whether `text` is an Ed25519 public key as a realm names it (base64 of 32 bytes).
pub fn is_public_key(text: &str) -> bool {
    STANDARD.decode(text).is_ok_and(|k| k.len() == 32)
}

/// The key type servers hold to sign what they send.
pub type SigningKey = Ed25519KeyPair;

/// PKCS#8 DER as a PEM `PRIVATE KEY` block.
pub fn key_to_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// A key from a PEM `PRIVATE KEY` block (as `relto key create` or OpenSSL writes it).
pub fn key_from_pem(pem: &str) -> Result<Ed25519KeyPair, String> {
    let body: String = pem
        .lines()
        .skip_while(|l| l.trim() != "-----BEGIN PRIVATE KEY-----")
        .skip(1)
        .take_while(|l| l.trim() != "-----END PRIVATE KEY-----")
        .map(str::trim)
        .collect();
    let der = STANDARD
        .decode(body)
        .map_err(|_| "no PEM PRIVATE KEY block".to_string())?;
    key_from_pkcs8(&der)
}

/// A new Ed25519 key as PKCS#8 (DER).
pub fn generate_key() -> Result<Vec<u8>, String> {
    let rng = ring::rand::SystemRandom::new();
    Ed25519KeyPair::generate_pkcs8(&rng)
        .map(|d| d.as_ref().to_vec())
        .map_err(|_| "cannot generate a key".into())
}

/// A key from PKCS#8 (DER; v1, as OpenSSL writes it, or v2).
pub fn key_from_pkcs8(der: &[u8]) -> Result<Ed25519KeyPair, String> {
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| format!("not an Ed25519 key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9421 Appendix B.2.6 (and B.1.4's test-key-ed25519): Ed25519 is deterministic, so
    /// the base relto builds must give the RFC's signature byte for byte.
    #[test]
    fn rfc_9421_b_2_6() {
        let der = STANDARD
            .decode("MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF")
            .unwrap();
        let key = key_from_pkcs8(&der).unwrap();
        let components = [
            ("date", "Tue, 20 Apr 2021 02:07:55 GMT".to_string()),
            ("@method", "POST".to_string()),
            ("@path", "/foo".to_string()),
            ("@authority", "example.com".to_string()),
            ("content-type", "application/json".to_string()),
            ("content-length", "18".to_string()),
        ];
        let params = "(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"";
        let sig = key.sign(signature_base(&components, params).as_bytes());
        assert_eq!(
            STANDARD.encode(sig.as_ref()),
            "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
        );
    }

    #[test]
    fn a_signed_request_verifies_and_any_change_fails() {
        let key = key_from_pem(&key_to_pem(&generate_key().unwrap())).unwrap();
        let public = public_key_text(&key);
        let r = Request {
            method: "POST",
            authority: "127.0.0.1:9102",
            path: "/nato/collections/4b0c8a1e-2f3d-4e5a-9b6c-7d8e9f0a1b2c/objects/",
            query: None,
            body: br#"{"objects":[]}"#,
            origin: Some("kor"),
            hops: Some("kor"),
        };
        let s = sign(&key, &r, 1_000_000);
        let fields = (
            Some(s.content_digest.as_str()),
            Some(s.signature_input.as_str()),
            Some(s.signature.as_str()),
        );
        assert_eq!(verify(&public, &r, fields, 1_000_100), Ok(()));
        let changed = |f: &dyn Fn(&mut Request<'_>)| {
            let mut r2 = Request { ..r };
            f(&mut r2);
            verify(&public, &r2, fields, 1_000_100)
        };
        assert!(changed(&|r| r.body = b"{}")
            .unwrap_err()
            .contains("Content-Digest"));
        assert!(changed(&|r| r.path = "/nato/other/")
            .unwrap_err()
            .contains("does not match"));
        assert!(changed(&|r| r.method = "DELETE").is_err());
        assert!(changed(&|r| r.query = Some("x=1")).is_err());
        assert!(changed(&|r| r.authority = "evil:1").is_err());
        assert!(changed(&|r| r.hops = Some("kor,eu"))
            .unwrap_err()
            .contains("does not match"));
        assert!(changed(&|r| r.origin = Some("eu")).is_err());
        // A path added to a request signed without one is not covered.
        let bare = Request {
            origin: None,
            hops: None,
            ..r
        };
        let s2 = sign(&key, &bare, 1_000_000);
        let f2 = (
            Some(s2.content_digest.as_str()),
            Some(s2.signature_input.as_str()),
            Some(s2.signature.as_str()),
        );
        assert_eq!(verify(&public, &bare, f2, 1_000_100), Ok(()));
        assert!(verify(&public, &r, f2, 1_000_100)
            .unwrap_err()
            .contains("does not cover relto-origin"));
        assert!(verify(&public, &r, fields, 1_000_000 + 301)
            .unwrap_err()
            .contains("created"));
        let other = public_key_text(&key_from_pkcs8(&generate_key().unwrap()).unwrap());
        assert!(verify(&other, &r, fields, 1_000_100)
            .unwrap_err()
            .contains("does not match"));
        assert!(verify(&public, &r, (None, None, None), 1_000_100)
            .unwrap_err()
            .contains("not signed"));
        let fewer = s.signature_input.replace(" \"@query\"", "");
        assert!(
            verify(&public, &r, (fields.0, Some(&fewer), fields.2), 1_000_100)
                .unwrap_err()
                .contains("does not cover @query")
        );
    }
}
