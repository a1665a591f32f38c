//! Authentication: HTTP Basic (argon2id) and bearer API tokens (random, stored as SHA-256).
//!
//! A password hash costs ~50 ms and ~19 MiB, so a verified credential is cached for a short
//! while, keyed by the SHA-256 of the credential (never the credential itself), and at most
//! one hash runs at a time (a flood of wrong passwords cannot exhaust memory).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderMap;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use relto_policy::ReleasePolicy;
use relto_store::{Account, Collection, Store};

use relto_hub::release::reader_of;
use relto_taxii::TaxiiError;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// How long a verified credential is trusted without checking again. Disabling an account
/// or changing its password takes effect within this time.
const CACHE_TTL: Duration = Duration::from_secs(120);
const CACHE_MAX: usize = 10_000;

/// Who is asking, once authenticated, and from where.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account: Arc<Account>,
    /// The peer's address, for the audit.
    pub source: String,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.account.has_role(relto_policy::Role::Admin)
    }

    /// Whether a grant list names this principal: its account, its organization, or a
    /// community its organization belongs to.
    fn named_in(&self, list: &[String], policy: &ReleasePolicy) -> bool {
        list.iter().any(|p| match p.split_once(':') {
            Some(("org", slug)) => slug == self.account.organization.slug,
            Some(("account", name)) => name == self.account.name,
            Some(("community", id)) => policy.in_community(id, &reader_of(&self.account)),
            _ => false,
        })
    }

    /// Collection grants; what the principal then sees inside is the release decision's.
    pub fn can_read(&self, c: &Collection, policy: &ReleasePolicy) -> bool {
        self.is_admin() || self.named_in(&c.readers, policy)
    }

    pub fn can_write(&self, c: &Collection, policy: &ReleasePolicy) -> bool {
        self.is_admin() || self.named_in(&c.writers, policy)
    }
}

/// Facts about the connection a request came in on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub tls: bool,
}

impl ConnInfo {
    /// Credentials may travel over this connection: TLS, loopback, or explicitly allowed.
    pub fn credentials_ok(&self, insecure_http: bool) -> bool {
        self.tls || insecure_http || self.peer.ip().is_loopback()
    }
}

/// Verified credentials: hash of the credential → (account, when verified).
type CredentialCache = HashMap<[u8; 32], (Arc<Account>, Instant)>;

/// Failed authentications are counted per account name and per address over this window.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// How many failed authentications in a minute before 429.
#[derive(Debug, Clone, Copy)]
pub struct FailureLimits {
    pub per_account: u32,
    pub per_address: u32,
}

impl Default for FailureLimits {
    fn default() -> Self {
        Self {
            per_account: 20,
            per_address: 100,
        }
    }
}

pub struct Authenticator {
    store: Arc<dyn Store>,
    cache: Mutex<CredentialCache>,
    hashing: Semaphore,
    insecure_http: bool,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    limits: FailureLimits,
    /// A hash to verify against when the account does not exist, so that an unknown name
    /// costs the same time as a wrong password (made on first need).
    decoy_hash: std::sync::OnceLock<String>,
    /// The store's release generation the cache was filled under, and when it was last
    /// compared: a realm apply, a password change or a revoked token changes it, and the
    /// cache is emptied within `REALM_REFRESH` on every node.
    realm: Mutex<(Option<i64>, Option<Instant>)>,
}

/// How often the cache's realm generation is compared with the store's.
const REALM_REFRESH: Duration = Duration::from_secs(1);

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The credential cache's key of a bearer token (by the token's SHA-256).
fn bearer_key(token_sha: &[u8; 32]) -> [u8; 32] {
    sha256(&[b"bearer\0", token_sha])
}

pub fn token_sha256(token: &str) -> [u8; 32] {
    sha256(&[token.as_bytes()])
}

/// argon2id with 7 MiB and 5 passes: one of OWASP's equivalent settings, chosen for the
/// smallest memory (the hub's whole footprint is a few tens of MiB).
fn argon2() -> Argon2<'static> {
    match argon2::Params::new(7 * 1024, 5, 1, None) {
        Ok(params) => Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params),
        Err(_) => Argon2::default(),
    }
}

/// Why a credential could not be made: the system gave no randomness, or hashing failed.
#[derive(Debug, Clone)]
pub struct CredentialError(String);

impl std::fmt::Display for CredentialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot make a credential: {}", self.0)
    }
}

impl std::error::Error for CredentialError {}

/// Hashes a password as an argon2id PHC string.
pub fn hash_password(password: &str) -> Result<String, CredentialError> {
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(|e| CredentialError(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| CredentialError(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CredentialError(e.to_string()))
}

/// Whether `password` matches an argon2id PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A new random API token (256 bits, URL-safe text).
pub fn new_token() -> Result<String, CredentialError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| CredentialError(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub use relto_hub::now_us;

enum Credential {
    Basic { user: String, password: String },
    Bearer(String),
}

/// The user name a request claims (Basic), for throttling and the audit of failures.
pub fn claimed_user(headers: &HeaderMap) -> Option<String> {
    match parse_authorization(headers) {
        Ok(Some(Credential::Basic { user, .. })) => Some(user),
        _ => None,
    }
}

fn parse_authorization(headers: &HeaderMap) -> ApiResult<Option<Credential>> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || ApiError(TaxiiError::unauthorized("malformed Authorization header"));
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, rest) = value.trim().split_once(' ').ok_or_else(bad)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(rest).map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, password) = text.split_once(':').ok_or_else(bad)?;
        Ok(Some(Credential::Basic {
            user: user.to_string(),
            password: password.to_string(),
        }))
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Ok(Some(Credential::Bearer(rest.to_string())))
    } else {
        Err(bad())
    }
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, insecure_http: bool, limits: FailureLimits) -> Self {
        Self {
            store,
            cache: Mutex::new(HashMap::new()),
            hashing: Semaphore::new(1),
            insecure_http,
            failures: Mutex::new(HashMap::new()),
            limits,
            decoy_hash: std::sync::OnceLock::new(),
            realm: Mutex::new((None, None)),
        }
    }

    /// Empties the credential cache when the realm changed (accounts disabled, passwords
    /// changed, tokens rotated or revoked), looking at the store at most once per
    /// `REALM_REFRESH`.
    async fn follow_realm(&self) -> ApiResult<()> {
        let due = self
            .realm
            .lock()
            .map(|r| r.1.is_none_or(|at| at.elapsed() >= REALM_REFRESH))
            .unwrap_or(true);
        if !due {
            return Ok(());
        }
        let now = self.store.release_generation().await?;
        if let Ok(mut r) = self.realm.lock() {
            if r.0 != Some(now) {
                if let Ok(mut cache) = self.cache.lock() {
                    cache.clear();
                }
                r.0 = Some(now);
            }
            r.1 = Some(Instant::now());
        }
        Ok(())
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Arc<Account>> {
        let cache = self.cache.lock().ok()?;
        match cache.get(key) {
            Some((acct, at)) if at.elapsed() < CACHE_TTL => Some(acct.clone()),
            _ => None,
        }
    }

    fn remember(&self, key: [u8; 32], account: Arc<Account>) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX {
                cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(key, (account, Instant::now()));
        }
    }

    /// Authenticates a request from its headers; every failure is a 401.
    pub async fn authenticate(&self, headers: &HeaderMap, conn: &ConnInfo) -> ApiResult<Principal> {
        let cred = parse_authorization(headers)?.ok_or_else(|| {
            ApiError(TaxiiError::unauthorized(
                "authentication required: HTTP Basic or a bearer API token",
            ))
        })?;
        if !conn.credentials_ok(self.insecure_http) {
            return Err(ApiError(TaxiiError::unauthorized(
                "credentials over plain HTTP are refused: use TLS (relto serve --tls-cert/--tls-key) or, behind a TLS proxy, --insecure-http",
            )));
        }
        let account = match cred {
            Credential::Basic { user, password } => self.basic(&user, &password).await?,
            Credential::Bearer(token) => self.bearer(&token).await?,
        };
        Ok(Principal {
            account,
            source: conn.peer.ip().to_string(),
        })
    }

    /// Whether failed attempts for this account name or from this address are over the
    /// limit (answered 429 until the window passes).
    pub fn throttled(&self, keys: &[String]) -> bool {
        let Ok(map) = self.failures.lock() else {
            return false;
        };
        keys.iter().any(|k| {
            map.get(k).is_some_and(|(n, since)| {
                since.elapsed() < FAILURE_WINDOW && *n >= self.limit_for(k)
            })
        })
    }

    fn limit_for(&self, key: &str) -> u32 {
        if key.starts_with("ip:") {
            self.limits.per_address
        } else {
            self.limits.per_account
        }
    }

    /// Counts a failed attempt against each key.
    pub fn note_failure(&self, keys: &[String]) {
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > CACHE_MAX {
                map.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            }
            for k in keys {
                let entry = map.entry(k.clone()).or_insert((0, Instant::now()));
                if entry.1.elapsed() >= FAILURE_WINDOW {
                    *entry = (0, Instant::now());
                }
                entry.0 += 1;
            }
        }
    }

    /// Checks a user name and password (also used by the token endpoint).
    pub async fn basic(&self, user: &str, password: &str) -> ApiResult<Arc<Account>> {
        self.follow_realm().await?;
        let key = sha256(&[b"basic\0", user.as_bytes(), b"\0", password.as_bytes()]);
        if let Some(acct) = self.cached(&key) {
            return Ok(acct);
        }
        let account = self.store.account(user).await?;
        let phc = match account.as_ref().and_then(|a| a.password_hash.clone()) {
            Some(h) => h,
            None => self
                .decoy_hash
                .get_or_init(|| hash_password("relto decoy password").unwrap_or_default())
                .clone(),
        };
        let ok = {
            let _permit = self
                .hashing
                .acquire()
                .await
                .map_err(|_| ApiError(TaxiiError::internal()))?;
            let password = password.to_string();
            tokio::task::spawn_blocking(move || verify_password(&password, &phc))
                .await
                .map_err(|_| ApiError(TaxiiError::internal()))?
        };
        match account {
            Some(a) if ok && a.password_hash.is_some() => {
                let a = Arc::new(a);
                self.remember(key, a.clone());
                Ok(a)
            }
            _ => Err(ApiError(TaxiiError::unauthorized(
                "wrong user name or password",
            ))),
        }
    }

    async fn bearer(&self, token: &str) -> ApiResult<Arc<Account>> {
        self.follow_realm().await?;
        let sha = token_sha256(token);
        let key = bearer_key(&sha);
        if let Some(acct) = self.cached(&key) {
            return Ok(acct);
        }
        match self.store.account_by_token(&sha, now_us()).await? {
            Some(a) => {
                let a = Arc::new(a);
                self.remember(key, a.clone());
                Ok(a)
            }
            None => Err(ApiError(TaxiiError::unauthorized(
                "unknown or expired API token",
            ))),
        }
    }

    /// The account of a console session (its token, from the session cookie): the bearer
    /// path, so that an expired, revoked or disabled account's session ends as its tokens do.
    pub async fn session(&self, token: &str) -> ApiResult<Arc<Account>> {
        self.bearer(token).await
    }

    /// Forgets a signed-out session at once on this node (other nodes within
    /// `REALM_REFRESH`: revoking its token changes the realm generation).
    pub fn forget_session(&self, token: &str) {
        let key = bearer_key(&token_sha256(token));
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&key);
        }
    }

    pub fn insecure_http(&self) -> bool {
        self.insecure_http
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn parses_authorization() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Basic bmlzOnB3".parse().unwrap());
        match parse_authorization(&h).unwrap() {
            Some(Credential::Basic { user, password }) => {
                assert_eq!((user.as_str(), password.as_str()), ("nis", "pw"))
            }
            _ => panic!("not basic"),
        }
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert!(matches!(
            parse_authorization(&h).unwrap(),
            Some(Credential::Bearer(t)) if t == "abc"
        ));
        for bad in ["Basic !!!", "Digest x", "Basic", "Basic bm9jb2xvbg=="] {
            h.insert("authorization", bad.parse().unwrap());
            assert!(parse_authorization(&h).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_rule() {
        let lo = ConnInfo {
            peer: "127.0.0.1:5".parse().unwrap(),
            tls: false,
        };
        let remote = ConnInfo {
            peer: "192.0.2.1:5".parse().unwrap(),
            tls: false,
        };
        assert!(lo.credentials_ok(false));
        assert!(!remote.credentials_ok(false));
        assert!(remote.credentials_ok(true));
        assert!(ConnInfo {
            tls: true,
            ..remote
        }
        .credentials_ok(false));
    }
}
