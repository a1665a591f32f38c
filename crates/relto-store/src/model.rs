//! The records the store keeps and returns.

use relto_policy::nation::{Nation, OrgSlug};
use relto_policy::plan::StagePlan;
use relto_taxii::{Cursor, VersionFilter};

/// The hub's own organization, created at first start.
#[derive(Debug, Clone)]
pub struct HubIdentity {
    pub nation: Nation,
    /// Slug of the hub's organization (owner of the `admin` account).
    pub organization: OrgSlug,
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
    pub slug: OrgSlug,
    pub name: String,
    pub nation: Nation,
    pub identity: String,
    pub accredited: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub organization: Organization,
    pub roles: Vec<relto_policy::Role>,
    /// PHC string (`$argon2id$…`); None for token-only accounts.
    pub password_hash: Option<String>,
    pub clearances: Vec<relto_policy::Clearance>,
    /// For a peer hub's account: the Ed25519 public key (base64) that must sign its writes.
    pub public_key: Option<String>,
}

impl Account {
    pub fn has_role(&self, role: relto_policy::Role) -> bool {
        self.roles.contains(&role)
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
    /// The realm's release rules (policies, equivalences, communities, default label).
    pub release_rules: relto_policy::ReleaseRules,
    pub api_roots: Vec<ApiRoot>,
    pub organizations: Vec<Organization>,
    pub accounts: Vec<PlannedAccount>,
    pub collections: Vec<PlannedCollection>,
    pub peers: Vec<PlannedPeer>,
}

#[derive(Debug, Clone)]
pub struct PlannedAccount {
    pub name: String,
    pub organization: OrgSlug,
    pub roles: Vec<relto_policy::Role>,
    /// None keeps the stored hash (an account whose password is set elsewhere).
    pub password_hash: Option<String>,
    pub token_sha256: Option<[u8; 32]>,
    pub clearances: Vec<relto_policy::Clearance>,
    /// A peer hub's Ed25519 public key (base64): the account's writes must be signed by it.
    pub public_key: Option<String>,
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

/// A peer hub as the realm declares it (DESIGN §11).
pub use relto_policy::realm::PeerEntry as PlannedPeer;

/// A peer and where its exchange stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub plan: PlannedPeer,
    /// False once the realm no longer names it (its state is kept).
    pub enabled: bool,
    /// Where the exchange resumes: for a push, the local cursor acknowledged up to; for a
    /// pull, the remote `date_added` taken up to.
    pub cursor: Option<String>,
    pub last_attempt_us: Option<i64>,
    pub last_success_us: Option<i64>,
    /// Failed attempts since the last success.
    pub failures: i64,
    pub last_error: Option<String>,
    /// Objects sent (push) or taken (pull), and withheld from a push, over the peer's life.
    pub transferred: i64,
    pub withheld: i64,
}

/// One exchange with a peer, as the node holding its lease records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerRun {
    pub at_us: i64,
    /// Where the exchange now resumes, when it moved.
    pub cursor: Option<String>,
    /// Objects sent or taken, and withheld, by this run (a failed run may have moved some).
    pub transferred: i64,
    pub withheld: i64,
    /// Why the run failed; None when it succeeded.
    pub error: Option<String>,
}

/// One copy a push has sent a peer: the object version and a digest of the bytes sent
/// (a redacted copy differs from the whole object of the same version).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SentCopy {
    pub stix_id: String,
    pub version: i64,
    pub digest: String,
}

/// Counts of what `apply_realm` changed, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplySummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub disabled: usize,
}

/// The markings a reader must pass to see an object at all: its object-level markings plus
/// granular ones on required properties. An object without object-level markings carries
/// the realm's default, which depends on the originator's nation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSet {
    /// Sorted, without duplicates.
    pub markings: Vec<String>,
    /// Set when `markings` holds no object-level marking: the originator's nation.
    pub default_nation: Option<String>,
    /// The plans of the release-plan stages in effect that cover the rows under this set
    /// (DESIGN §9 rule 7), in [`StagePlan::order_key`] order without repeats: stages with
    /// the same plan share one set, so many stages over overlapping holdings make few sets.
    /// Empty for a set of an object's own labels.
    pub alternatives: Vec<StagePlan>,
    /// With `alternatives`: the object's granular markings on required properties, which a
    /// reader admitted through a stage must still pass.
    pub required_markings: Vec<String>,
}

impl LabelSet {
    /// The text that identifies the set in the store.
    pub fn key(&self) -> String {
        let mut k = self.markings.join(",");
        if let Some(n) = &self.default_nation {
            k.push_str("|default:");
            k.push_str(n);
        }
        if !self.alternatives.is_empty() {
            k.push_str("|alternatives:");
            k.push_str(&serde_json::to_string(&self.alternatives).unwrap_or_default());
            k.push_str("|required:");
            k.push_str(&self.required_markings.join(","));
        }
        k
    }

    /// The set of the same object's own labels, covered by stages of these plans as well
    /// (none: the object's own set again).
    pub fn covered_by(
        &self,
        mut alternatives: Vec<StagePlan>,
        required_markings: &[String],
    ) -> LabelSet {
        alternatives.sort_by_key(StagePlan::order_key);
        alternatives.dedup();
        LabelSet {
            markings: self.markings.clone(),
            default_nation: self.default_nation.clone(),
            required_markings: if alternatives.is_empty() {
                Vec::new()
            } else {
                required_markings.to_vec()
            },
            alternatives,
        }
    }
}

/// What the release predicate needs of an object, computed at ingest.
#[derive(Debug, Clone, Default)]
pub struct ReleaseFacts {
    /// Slug of the organization that created the object (sees it whole; alone may version it).
    pub originator: String,
    pub label_set: LabelSet,
    /// Ids the reader must see for the object to be visible: a relationship's source and
    /// target, a sighting's sighting_of_ref.
    pub endpoints: Vec<String>,
    /// object_refs of reports, groupings, notes and opinions: at least one must be visible.
    pub object_refs: Vec<String>,
}

/// The store's side of the release decision at one generation.
#[derive(Debug, Clone, Default)]
pub struct ReleaseState {
    pub generation: i64,
    pub rules: relto_policy::ReleaseRules,
    /// Marking-definitions posted to the hub: (id, JSON).
    pub markings: Vec<(String, String)>,
    pub label_sets: Vec<StoredLabelSet>,
    /// The release-plan stages in effect (state active; their windows are checked per read).
    pub active_stages: Vec<ActiveStage>,
}

/// A stage in effect, as the release view needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveStage {
    pub pk: i64,
    pub situation: String,
    pub n: u32,
    pub plan: StagePlan,
}

/// A situation to create (DESIGN §9): its stages are numbered 1.. in order.
#[derive(Debug, Clone)]
pub struct NewSituation {
    pub id: String,
    pub title: String,
    pub collection: i64,
    pub originator: OrgSlug,
    pub proposer: String,
    pub holdings: Vec<String>,
    pub stages: Vec<StagePlan>,
    pub created_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Situation {
    pub id: String,
    pub title: String,
    pub collection: i64,
    pub originator: OrgSlug,
    pub proposer: String,
    pub holdings: Vec<String>,
    pub created_us: i64,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The store's key of the stage (label sets name it).
    pub pk: i64,
    pub n: u32,
    pub plan: StagePlan,
    pub state: StageState,
    /// When it became active, or was withdrawn.
    pub changed_us: Option<i64>,
    pub approvals: Vec<Approval>,
}

/// What the store keeps of a stage's state; `expired` is read off its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageState {
    Proposed,
    Active,
    Withdrawn,
}

impl StageState {
    pub fn as_str(self) -> &'static str {
        match self {
            StageState::Proposed => "proposed",
            StageState::Active => "active",
            StageState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<StageState> {
        [
            StageState::Proposed,
            StageState::Active,
            StageState::Withdrawn,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub account: String,
    pub snapshot: String,
    pub at_us: i64,
}

/// An object version a stage covers once active: its row and the markings of its granular
/// markings on required properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoveredRow {
    pub row: i64,
    pub required_markings: Vec<String>,
}

/// A stored label set with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLabelSet {
    pub id: i64,
    pub set: LabelSet,
}

/// Restricts a query to what one reader may see (DESIGN §3, compiled into the query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderFilter {
    /// The reader's organization: it sees its own objects whole.
    pub organization: String,
    /// The label sets whose every marking the reader passes.
    pub label_sets: Vec<i64>,
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
    pub release: ReleaseFacts,
    /// The hubs it passed through before it arrived, its origin first (`kor,nato`); None
    /// for what began here.
    pub hops: Option<String>,
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
    /// Not stored, for the reason given (another organization created the object).
    Refused(String),
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
    /// None: everything (the operator's own tools); Some: what that reader may see.
    pub reader: Option<ReaderFilter>,
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
            reader: None,
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
    pub originator: String,
    /// The row's label set (one that stages cover, when a release plan admits it).
    pub label_set: i64,
    /// As [`NewObject::hops`].
    pub hops: Option<String>,
}

impl StoredObject {
    /// The STIX type (the id's prefix).
    pub fn object_type(&self) -> &str {
        self.stix_id.split("--").next().unwrap_or("")
    }
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
    /// The collection's write generation in the snapshot the page was read from: it changes
    /// with every write to the collection, so what is derived from a page at one generation
    /// (a reader's redacted copies) holds until the next. None: the store does not say, and
    /// nothing derived from the page is kept.
    pub generation: Option<i64>,
    /// With a reader: the object_refs entries of the page's rows whose latest version in the
    /// collection the reader may not see (labels, originator and endpoints only: the references
    /// of the referenced objects are not followed), ordered by row and position; read by the
    /// page's own statement, so from its snapshot. Not for the reader's own organization's
    /// rows, which it receives as stored.
    pub hidden_refs: Vec<HiddenRef>,
}

/// Ids a reader does not see, read in one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HiddenIds {
    /// The collection's write generation in that snapshot (see [`Page::generation`]).
    pub generation: Option<i64>,
    pub ids: Vec<String>,
}

/// One object_refs entry of a page's row that the page's reader does not see: the row and the
/// entry's position in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HiddenRef {
    pub row: i64,
    pub index: usize,
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
