//! The records the store keeps and returns.

use relto_taxii::{Cursor, VersionFilter};

/// The hub's own organization, created at first start.
#[derive(Debug, Clone)]
pub struct HubIdentity {
    pub nation: String,
    /// Slug of the hub's organization (owner of the `admin` account).
    pub organization: String,
    pub identity: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoot {
    pub path: String,
    pub title: String,
    pub description: Option<String>,
    pub max_content_length: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// The store's key for the collection (objects refer to it).
    pub pk: i64,
    pub id: String,
    pub api_root: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
    /// Principals that may read: `org:SLUG`, `account:NAME` (later issues add communities).
    pub readers: Vec<String>,
    pub writers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub slug: String,
    pub name: String,
    pub nation: String,
    pub identity: String,
    pub accredited: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub organization: Organization,
    pub roles: Vec<String>,
    /// PHC string (`$argon2id$…`); None for token-only accounts.
    pub password_hash: Option<String>,
}

impl Account {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub account: String,
    pub sha256: [u8; 32],
    pub label: String,
    pub created_us: i64,
    pub expires_us: Option<i64>,
}

/// What a realm file asks for, resolved (passwords already hashed) and checked.
#[derive(Debug, Clone, Default)]
pub struct RealmPlan {
    pub api_roots: Vec<ApiRoot>,
    pub organizations: Vec<Organization>,
    pub accounts: Vec<PlannedAccount>,
    pub collections: Vec<PlannedCollection>,
}

#[derive(Debug, Clone)]
pub struct PlannedAccount {
    pub name: String,
    pub organization: String,
    pub roles: Vec<String>,
    /// None keeps the stored hash (an account whose password is set elsewhere).
    pub password_hash: Option<String>,
    pub token_sha256: Option<[u8; 32]>,
}

#[derive(Debug, Clone)]
pub struct PlannedCollection {
    pub id: String,
    pub api_root: String,
    pub title: String,
    pub description: Option<String>,
    pub alias: Option<String>,
    pub readers: Vec<String>,
    pub writers: Vec<String>,
}

/// Counts of what `apply_realm` changed, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplySummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub disabled: usize,
}

/// A validated object ready to store.
#[derive(Debug, Clone)]
pub struct NewObject {
    pub stix_id: String,
    pub object_type: String,
    pub spec_version: String,
    /// The object's version (µs): `modified`, else `created`; None when it has neither (the
    /// store then uses `date_added`, and a re-post of the same id is a duplicate).
    pub version: Option<i64>,
    /// The exact bytes that were posted.
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    Added {
        date_added: i64,
        version: i64,
    },
    /// This (id, version) was already stored; nothing changed.
    Duplicate {
        version: i64,
    },
}

/// One page request over a collection's objects.
#[derive(Debug, Clone)]
pub struct ObjectQuery {
    pub collection: i64,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: VersionFilter,
    /// Empty: every spec version.
    pub spec_versions: Vec<String>,
    pub added_after: Option<i64>,
    pub after: Option<Cursor>,
    pub limit: usize,
    /// Whether the page needs the objects' bytes (not for manifests and versions).
    pub with_raw: bool,
}

impl ObjectQuery {
    pub fn new(collection: i64, limit: usize) -> Self {
        Self {
            collection,
            ids: Vec::new(),
            types: Vec::new(),
            versions: VersionFilter::last(),
            spec_versions: Vec::new(),
            added_after: None,
            after: None,
            limit,
            with_raw: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub row: i64,
    pub stix_id: String,
    pub date_added: i64,
    pub version: i64,
    pub spec_version: String,
    /// Empty unless the query asked for bytes.
    pub raw: String,
}

impl StoredObject {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            date_added: self.date_added,
            row: self.row,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<StoredObject>,
    pub more: bool,
}

/// A status resource as stored: its JSON plus what is needed to find and purge it.
#[derive(Debug, Clone)]
pub struct StatusRow {
    pub id: String,
    pub api_root: String,
    /// The account whose request it reports on: only it (and admins) may read it.
    pub account: String,
    pub created_us: i64,
    pub json: String,
}
