//! The realm file (TOML, DESIGN §8): what an administrator declares, parsed and checked as a
//! whole, so that `relto apply` either applies a consistent realm or changes nothing.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decide::{Clearance, Community, Policy, ReleasePolicy, ReleaseRules};
use crate::label::Label;
use crate::nation::{is_slug, Nation};

/// The API root's `max_content_length` when the realm gives none: 10 MiB.
pub const DEFAULT_MAX_CONTENT_LENGTH: u64 = 10 * 1024 * 1024;
/// Namespace of the identity ids relto derives for organizations that name none.
const IDENTITY_NAMESPACE: Uuid = Uuid::from_u128(0x527f489e_1047_4bbf_9971_f03d5d0137fc);
/// Path segments the server uses itself, so no API root may take them.
const RESERVED_ROOTS: &[&str] = &[
    "taxii2",
    "management",
    "health",
    "healthz",
    "readyz",
    "metrics",
    "api",
    "ui",
];
pub const ROLES: &[&str] = &["admin", "releaser", "analyst", "reader", "relay"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Realm {
    pub hub: Hub,
    #[serde(default, rename = "api_root")]
    pub api_roots: Vec<ApiRootEntry>,
    #[serde(default, rename = "organization")]
    pub organizations: Vec<OrganizationEntry>,
    #[serde(default, rename = "account")]
    pub accounts: Vec<AccountEntry>,
    #[serde(default, rename = "collection")]
    pub collections: Vec<CollectionEntry>,
    #[serde(default, rename = "community")]
    pub communities: Vec<Community>,
    #[serde(default, rename = "policy")]
    pub policies: Vec<Policy>,
    #[serde(default, rename = "equivalence")]
    pub equivalences: Vec<EquivalenceEntry>,
    #[serde(default, rename = "peer")]
    pub peers: Vec<PeerEntry>,
    /// The label of objects that carry no marking; absent: the originator's nation only.
    pub default_label: Option<LabelEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EquivalenceEntry {
    pub a: String,
    pub b: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelEntry {
    pub policy: String,
    pub classification: String,
    pub releasable_to: Option<Vec<String>>,
    #[serde(default)]
    pub sensitivity: Vec<String>,
}

impl LabelEntry {
    pub fn label(&self) -> Label {
        Label {
            policy: self.policy.clone(),
            classification: self.classification.clone(),
            releasable_to: self.releasable_to.clone(),
            sensitivity: self.sensitivity.clone(),
        }
        .normalized()
    }
}

impl Realm {
    /// The release rules the realm declares (beyond the built-in ones).
    pub fn release_rules(&self) -> ReleaseRules {
        ReleaseRules {
            policies: self.policies.clone(),
            equivalences: self
                .equivalences
                .iter()
                .map(|e| (e.a.clone(), e.b.clone()))
                .collect(),
            communities: self.communities.clone(),
            default_label: self.default_label.as_ref().map(LabelEntry::label),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hub {
    pub nation: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub contact: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiRootEntry {
    pub path: String,
    pub title: String,
    pub description: Option<String>,
    pub max_content_length: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationEntry {
    pub slug: String,
    pub name: String,
    pub nation: String,
    #[serde(default)]
    pub accredited: Vec<String>,
    pub identity: Option<String>,
}

impl OrganizationEntry {
    /// The organization's STIX identity id: the declared one, or one derived from its slug
    /// (UUIDv5), so that re-applying the realm never changes it.
    pub fn identity_id(&self) -> String {
        self.identity.clone().unwrap_or_else(|| {
            format!(
                "identity--{}",
                Uuid::new_v5(&IDENTITY_NAMESPACE, format!("org:{}", self.slug).as_bytes())
            )
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub name: String,
    pub organization: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Name of the environment variable holding the password when `relto apply` runs.
    pub password_env: Option<String>,
    /// An argon2id PHC string, for realms kept in version control.
    pub password_hash: Option<String>,
    /// Name of the environment variable holding a bearer API token (at least 32 characters).
    pub token_env: Option<String>,
    #[serde(default)]
    pub clearances: Vec<Clearance>,
    /// For a peer relto hub's account: its Ed25519 public key (base64, from `relto key
    /// create`); every write of the account must then be signed by it (RFC 9421).
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionEntry {
    pub id: String,
    pub api_root: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
    #[serde(default)]
    pub readers: Vec<String>,
    #[serde(default)]
    pub writers: Vec<String>,
}

/// A hub this one exchanges with over TAXII 2.1 (DESIGN §11): it pushes to the remote
/// collection what a reader of `organization` with `clearances` receives, or pulls from it
/// as that organization's relay. The store keeps it as its JSON form; the names of the
/// environment variables that hold the remote's credentials are kept, never the secrets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    pub name: String,
    pub organization: String,
    /// The remote collection: `https://HOST[:PORT]/ROOT/collections/UUID/`.
    pub url: String,
    pub direction: PeerDirection,
    /// The local collection pushed from or pulled into.
    pub collection: String,
    /// Names of the environment variables holding the remote's credentials when `relto
    /// serve` runs: a user name and password (HTTP Basic), or a bearer token.
    pub account_env: Option<String>,
    pub password_env: Option<String>,
    pub token_env: Option<String>,
    /// PEM file of the certificate authorities that sign the remote's certificate (an
    /// `https` peer needs it: relto trusts no public roots for peers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default = "default_peer_interval")]
    pub interval_secs: u64,
    #[serde(default)]
    pub clearances: Vec<Clearance>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerDirection {
    Push,
    Pull,
}

impl PeerDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerDirection::Push => "push",
            PeerDirection::Pull => "pull",
        }
    }
}

impl TryFrom<String> for PeerEntry {
    type Error = serde_json::Error;
    fn try_from(stored: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&stored)
    }
}

fn default_peer_interval() -> u64 {
    30
}

/// The longest a peer may wait between exchanges: a day.
pub const MAX_PEER_INTERVAL_SECS: u64 = 86_400;

/// What is wrong with a peer's URL, if anything: it must name a TAXII collection over
/// HTTPS (plain HTTP only to this machine, whose traffic never leaves it), carry no
/// credentials, query or fragment.
pub fn peer_url_problem(url: &str) -> Option<&'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("it is not an https:// URL");
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, after)) => (h, after.strip_prefix(':')),
            None => return Some("its IPv6 address lacks a closing ']'"),
        },
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let segments: Vec<&str> = path.split('/').collect();
    let n = segments.len();
    let collection = n >= 5
        && segments[0].is_empty()
        && segments[n - 1].is_empty()
        && segments[n - 3] == "collections"
        && Uuid::parse_str(segments[n - 2]).is_ok();
    if authority.contains('@') {
        Some("it carries credentials (name them with account_env/password_env or token_env)")
    } else if url.contains('?') || url.contains('#') {
        Some("it has a query or a fragment")
    } else if host.is_empty() {
        Some("it names no host")
    } else if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        Some("its port is not a number")
    } else if scheme != "https" && !(scheme == "http" && loopback) {
        Some("use https:// (plain http:// only to a loopback address)")
    } else if !collection {
        Some("it must end in /collections/UUID/ (a TAXII collection)")
    } else {
        None
    }
}

/// Every problem found in a realm file, each naming the entry and what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmError(pub Vec<String>);

impl std::fmt::Display for RealmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(p)?;
        }
        Ok(())
    }
}
impl std::error::Error for RealmError {}

fn is_root_path(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && s != "."
        && s != ".."
}

/// Parses and checks a realm file; on success every reference inside it resolves.
pub fn parse_realm(text: &str) -> Result<Realm, RealmError> {
    let mut realm: Realm =
        toml::from_str(text).map_err(|e| RealmError(vec![format!("realm file: {e}")]))?;
    let mut problems = Vec::new();
    match Nation::parse(&realm.hub.nation).map(String::from) {
        Some(n) => realm.hub.nation = n,
        None => problems.push(format!(
            "[hub] nation '{}' is not an ISO 3166-1 alpha-3 code (e.g. KOR)",
            realm.hub.nation
        )),
    }

    let mut roots = HashSet::new();
    for r in &realm.api_roots {
        if !is_root_path(&r.path) || RESERVED_ROOTS.contains(&r.path.as_str()) {
            problems.push(format!(
                "api_root '{}': path must be letters, digits, '-', '_' or '.', and not one of {RESERVED_ROOTS:?}",
                r.path
            ));
        }
        if !roots.insert(r.path.as_str()) {
            problems.push(format!("api_root '{}' is declared twice", r.path));
        }
        if r.max_content_length == Some(0) {
            problems.push(format!(
                "api_root '{}': max_content_length must be > 0",
                r.path
            ));
        }
    }

    // Policies and communities first: the rest refers to them.
    let builtin = ReleasePolicy::builtin();
    for p in &realm.policies {
        if builtin.policy_levels(&p.id).is_some() {
            problems.push(format!("policy '{}' is built in; choose another id", p.id));
        }
        let unique: HashSet<&String> = p.levels.iter().collect();
        if p.levels.is_empty() || unique.len() != p.levels.len() {
            problems.push(format!(
                "policy '{}': levels must be a non-empty list of distinct names, lowest first",
                p.id
            ));
        }
    }
    let mut community_ids = HashSet::new();
    for c in &mut realm.communities {
        if builtin.community(&c.id).is_some() || !community_ids.insert(c.id.clone()) {
            problems.push(format!(
                "community '{}' is built in or declared twice",
                c.id
            ));
        }
        for n in &mut c.nations {
            match Nation::parse(n).map(String::from) {
                Some(code) => *n = code,
                None => problems.push(format!(
                    "community '{}': nation '{n}' is not an ISO 3166-1 alpha-3 code",
                    c.id
                )),
            }
        }
    }
    let rules = realm.release_rules();
    let release = match ReleasePolicy::from_rules(&ReleaseRules {
        default_label: None,
        ..rules.clone()
    }) {
        Ok(r) => Some(r),
        Err(e) => {
            problems.push(format!("equivalence: {e}"));
            None
        }
    };
    let known_community = |id: &str| community_ids.contains(id) || builtin.community(id).is_some();
    let realm_communities = realm.communities.clone();
    let level_known = |policy: &str, level: &str| {
        release
            .as_ref()
            .and_then(|r| r.policy_levels(policy))
            .is_some_and(|levels| levels.iter().any(|l| l == level))
    };
    if let Some(d) = &realm.default_label {
        if !level_known(&d.policy, &d.classification) {
            problems.push(format!(
                "default_label: {}:{} is not a known policy level",
                d.policy, d.classification
            ));
        }
    }

    let mut orgs = HashSet::new();
    for o in &mut realm.organizations {
        if !is_slug(&o.slug) {
            problems.push(format!(
                "organization '{}': slug must be lower-case letters, digits, '-' or '_'",
                o.slug
            ));
        }
        if !orgs.insert(o.slug.clone()) {
            problems.push(format!("organization '{}' is declared twice", o.slug));
        }
        match Nation::parse(&o.nation).map(String::from) {
            Some(n) => o.nation = n,
            None => problems.push(format!(
                "organization '{}': nation '{}' is not an ISO 3166-1 alpha-3 code",
                o.slug, o.nation
            )),
        }
        for c in &o.accredited {
            let members = builtin
                .community(c)
                .or_else(|| realm_communities.iter().find(|x| &x.id == c));
            match members {
                None => problems.push(format!(
                    "organization '{}': accredited to unknown community '{c}'",
                    o.slug
                )),
                // Accreditation grants what membership allows, never more.
                Some(m) if !m.nations.contains(&o.nation) && !m.organizations.contains(&o.slug) => {
                    problems.push(format!(
                        "organization '{}' ({}) is accredited to {c}, which names neither {} nor the organization",
                        o.slug, o.nation, o.nation
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some(id) = &o.identity {
            let ok = id
                .strip_prefix("identity--")
                .is_some_and(|u| Uuid::parse_str(u).is_ok());
            if !ok {
                problems.push(format!(
                    "organization '{}': identity '{id}' is not an identity--UUID id",
                    o.slug
                ));
            }
        }
    }

    let mut accounts = HashSet::new();
    for a in &realm.accounts {
        if !is_slug(&a.name) || a.name == "admin" {
            problems.push(format!(
                "account '{}': name must be lower-case letters, digits, '-' or '_' (and not 'admin', which relto creates)",
                a.name
            ));
        }
        if !accounts.insert(a.name.as_str()) {
            problems.push(format!("account '{}' is declared twice", a.name));
        }
        if !orgs.contains(&a.organization) {
            problems.push(format!(
                "account '{}': organization '{}' is not declared in this realm",
                a.name, a.organization
            ));
        }
        for role in &a.roles {
            if crate::Role::parse(role).is_none() {
                problems.push(format!(
                    "account '{}': unknown role '{role}' (roles: {ROLES:?})",
                    a.name
                ));
            }
        }
        if a.password_env.is_some() && a.password_hash.is_some() {
            problems.push(format!(
                "account '{}': give password_env or password_hash, not both",
                a.name
            ));
        }
        for c in &a.clearances {
            if !level_known(&c.policy, &c.level) {
                problems.push(format!(
                    "account '{}': clearance {}:{} is not a known policy level",
                    a.name, c.policy, c.level
                ));
            }
        }
        if let Some(h) = &a.password_hash {
            if !h.starts_with("$argon2id$") {
                problems.push(format!(
                    "account '{}': password_hash must be an argon2id PHC string ($argon2id$…)",
                    a.name
                ));
            }
        }
    }

    let mut collections = HashSet::new();
    for c in &realm.collections {
        if Uuid::parse_str(&c.id).is_err() || c.id.len() != 36 {
            problems.push(format!(
                "collection '{}': id must be a UUID such as 2f6e4a1c-…",
                c.id
            ));
        }
        if !collections.insert(c.id.to_ascii_lowercase()) {
            problems.push(format!("collection '{}' is declared twice", c.id));
        }
        if !roots.contains(c.api_root.as_str()) {
            problems.push(format!(
                "collection '{}': api_root '{}' is not declared in this realm",
                c.id, c.api_root
            ));
        }
        for p in c.readers.iter().chain(&c.writers) {
            let known = match p.split_once(':') {
                Some(("org", slug)) => orgs.contains(slug),
                Some(("account", name)) => accounts.contains(name) || name == "admin",
                Some(("community", id)) => known_community(id),
                _ => false,
            };
            if !known {
                problems.push(format!(
                    "collection '{}': '{p}' is not org:SLUG, account:NAME or community:ID of this realm",
                    c.id
                ));
            }
        }
    }

    let mut peers = HashSet::new();
    for p in &realm.peers {
        let name = &p.name;
        if !is_slug(name) {
            problems.push(format!(
                "peer '{name}': name must be lower-case letters, digits, '-' or '_'"
            ));
        }
        if !peers.insert(name.as_str()) {
            problems.push(format!("peer '{name}' is declared twice"));
        }
        if !orgs.contains(&p.organization) {
            problems.push(format!(
                "peer '{name}': organization '{}' is not declared in this realm (what the peer receives is decided for it)",
                p.organization
            ));
        }
        if let Some(why) = peer_url_problem(&p.url) {
            problems.push(format!("peer '{name}': url '{}': {why}", p.url));
        }
        let local = realm
            .collections
            .iter()
            .find(|c| c.id.eq_ignore_ascii_case(&p.collection));
        match local {
            None => problems.push(format!(
                "peer '{name}': collection '{}' is not declared in this realm",
                p.collection
            )),
            // Pulled objects are written as the peer's organization.
            Some(c)
                if p.direction == PeerDirection::Pull
                    && !c.writers.contains(&format!("org:{}", p.organization)) =>
            {
                problems.push(format!(
                    "peer '{name}' pulls into collection '{}': add \"org:{}\" to its writers",
                    c.id, p.organization
                ))
            }
            Some(_) => {}
        }
        let credentials = (&p.account_env, &p.password_env, &p.token_env);
        if !matches!(
            credentials,
            (Some(_), Some(_), None) | (None, None, Some(_))
        ) {
            problems.push(format!(
                "peer '{name}': give account_env and password_env (HTTP Basic), or token_env (a bearer token)"
            ));
        }
        if p.url.starts_with("https://") && p.ca_file.is_none() {
            problems.push(format!(
                "peer '{name}': an https peer needs ca_file, the PEM file of the authority that signs its certificate"
            ));
        }
        if p.interval_secs == 0 || p.interval_secs > MAX_PEER_INTERVAL_SECS {
            problems.push(format!(
                "peer '{name}': interval_secs must be 1 to {MAX_PEER_INTERVAL_SECS}"
            ));
        }
        for c in &p.clearances {
            if !level_known(&c.policy, &c.level) {
                problems.push(format!(
                    "peer '{name}': clearance {}:{} is not a known policy level",
                    c.policy, c.level
                ));
            }
        }
    }

    for p in &mut realm.peers {
        p.collection.make_ascii_lowercase();
    }

    if problems.is_empty() {
        Ok(realm)
    } else {
        Err(RealmError(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[hub]
nation = "kor"

[[api_root]]
path = "coalition"
title = "Coalition"

[[organization]]
slug = "kor-nis"
name = "National Intelligence Service"
nation = "KOR"

[[account]]
name = "nis-analyst"
organization = "kor-nis"
roles = ["analyst"]
password_env = "RELTO_PW_NIS"

[[collection]]
id = "2f6e6c5e-3d43-4a0e-9c7d-0a1b2c3d4e5f"
api_root = "coalition"
title = "Situation reports"
readers = ["org:kor-nis"]
writers = ["account:nis-analyst"]
"#;

    #[test]
    fn parses_a_good_realm() {
        let r = parse_realm(GOOD).unwrap();
        assert_eq!(r.hub.nation, "KOR");
        assert_eq!(r.collections[0].readers, vec!["org:kor-nis"]);
        let id = r.organizations[0].identity_id();
        assert!(id.starts_with("identity--"));
        assert_eq!(
            id,
            parse_realm(GOOD).unwrap().organizations[0].identity_id()
        );
    }

    #[test]
    fn names_every_problem() {
        let bad = GOOD
            .replace("organization = \"kor-nis\"", "organization = \"kor-xxx\"")
            .replace("[\"analyst\"]", "[\"wizard\"]")
            .replace("api_root = \"coalition\"", "api_root = \"nowhere\"");
        let err = parse_realm(&bad).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("organization 'kor-xxx' is not declared"),
            "{text}"
        );
        assert!(text.contains("unknown role 'wizard'"), "{text}");
        assert!(
            text.contains("api_root 'nowhere' is not declared"),
            "{text}"
        );
    }

    #[test]
    fn accreditation_needs_membership() {
        let aut = GOOD.replace(
            "nation = \"KOR\"\n\n[[account]]",
            "nation = \"AUT\"\naccredited = [\"NATO\"]\n\n[[account]]",
        );
        let text = parse_realm(&aut).unwrap_err().to_string();
        assert!(
            text.contains("'kor-nis' (AUT) is accredited to NATO"),
            "{text}"
        );
        let eu = aut.replace("[\"NATO\"]", "[\"EU\"]");
        assert!(parse_realm(&eu).is_ok());
        let group = format!("{GOOD}\n[[community]]\nid = \"SG1\"\norganizations = [\"kor-nis\"]\n")
            .replace(
                "nation = \"KOR\"\n\n[[account]]",
                "nation = \"KOR\"\naccredited = [\"SG1\"]\n\n[[account]]",
            );
        assert!(
            parse_realm(&group).is_ok(),
            "{:?}",
            parse_realm(&group).err()
        );
    }

    const PEER: &str = r#"
[[peer]]
name = "nato-hub"
organization = "kor-nis"
url = "https://nato-hub.example/coalition/collections/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e/"
direction = "push"
collection = "2f6e6c5e-3d43-4a0e-9c7d-0a1b2c3d4e5f"
token_env = "RELTO_PEER_NATO_TOKEN"
ca_file = "/etc/relto/nato-ca.pem"
clearances = [{ policy = "NATO", level = "NS" }]
"#;

    #[test]
    fn parses_peers_and_names_what_to_fix() {
        let r = parse_realm(&format!("{GOOD}{PEER}")).unwrap();
        assert_eq!(r.peers[0].direction, PeerDirection::Push);
        assert_eq!(r.peers[0].interval_secs, 30);
        let cases = [
            (
                "direction = \"push\"",
                "direction = \"pull\"",
                "add \"org:kor-nis\" to its writers",
            ),
            (
                "organization = \"kor-nis\"\nurl",
                "organization = \"nato-is\"\nurl",
                "organization 'nato-is' is not declared",
            ),
            (
                "collection = \"2f6e",
                "collection = \"9f6e",
                "is not declared in this realm",
            ),
            (
                "token_env = \"RELTO_PEER_NATO_TOKEN\"",
                "account_env = \"U\"",
                "give account_env and password_env",
            ),
            (
                "level = \"NS\"",
                "level = \"XX\"",
                "clearance NATO:XX is not a known policy level",
            ),
            (
                "direction = \"push\"",
                "direction = \"both\"",
                "unknown variant `both`",
            ),
            (
                "ca_file = \"/etc/relto/nato-ca.pem\"\n",
                "",
                "an https peer needs ca_file",
            ),
            (
                "\"push\"\n",
                "\"push\"\ninterval_secs = 0\n",
                "interval_secs must be 1 to 86400",
            ),
        ];
        for (from, to, problem) in cases {
            let text = format!("{GOOD}{}", PEER.replace(from, to));
            let err = parse_realm(&text).unwrap_err().to_string();
            assert!(err.contains(problem), "{to}: {err}");
        }
        let twice = format!("{GOOD}{PEER}{PEER}");
        assert!(parse_realm(&twice)
            .unwrap_err()
            .to_string()
            .contains("peer 'nato-hub' is declared twice"));
    }

    #[test]
    fn peer_urls_name_a_collection_over_https() {
        let id = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
        for ok in [
            format!("https://nato.example/coalition/collections/{id}/"),
            format!("https://nato.example:8443/a/b/collections/{id}/"),
            format!("http://127.0.0.1:9000/root/collections/{id}/"),
            format!("http://[::1]:9000/root/collections/{id}/"),
            format!("http://localhost/root/collections/{id}/"),
        ] {
            assert_eq!(peer_url_problem(&ok), None, "{ok}");
        }
        for (bad, why) in [
            (
                format!("http://nato.example/root/collections/{id}/"),
                "use https://",
            ),
            (
                format!("https://u:p@nato.example/root/collections/{id}/"),
                "carries credentials",
            ),
            (
                format!("https://nato.example/root/collections/{id}/?x=1"),
                "query",
            ),
            (
                format!("https://nato.example/root/collections/{id}"),
                "must end in /collections/UUID/",
            ),
            (
                "https://nato.example/root/".to_string(),
                "must end in /collections/UUID/",
            ),
            (
                format!("https://nato.example:http/root/collections/{id}/"),
                "port",
            ),
            (format!("https:///root/collections/{id}/"), "no host"),
            ("nato.example".to_string(), "not an https:// URL"),
        ] {
            let got = peer_url_problem(&bad).unwrap_or("accepted");
            assert!(got.contains(why), "{bad}: {got}");
        }
    }

    #[test]
    fn rejects_unknown_keys_and_bad_syntax() {
        let typo = GOOD.replace("title = \"Coalition\"", "titel = \"Coalition\"");
        assert!(parse_realm(&typo)
            .unwrap_err()
            .to_string()
            .contains("titel"));
        assert!(parse_realm("[hub").is_err());
        let reserved = GOOD.replace("path = \"coalition\"", "path = \"taxii2\"");
        assert!(parse_realm(&reserved).is_err());
    }
}
