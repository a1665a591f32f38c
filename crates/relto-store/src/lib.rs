//! The storage interface of relto. The server only ever talks to `dyn Store`; each backend
//! (`relto-store-sqlite`, later `relto-store-postgres`) implements it and passes the same
//! conformance suite (`conformance` module).
#![forbid(unsafe_code)]

pub mod audit;
#[cfg(feature = "testing")]
pub mod conformance;
mod model;
pub mod rows;

pub use model::*;

use async_trait::async_trait;
use relto_taxii::VersionFilter;

/// A storage failure. Request paths map every variant to a TAXII error without details.
#[derive(Debug)]
pub enum StoreError {
    /// A constraint of the data was violated (the message says which).
    Invalid(String),
    /// The backend could not serve the request now (busy, connection lost); may be retried.
    Unavailable(String),
    /// Anything else: a bug or a broken database.
    Internal(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Invalid(m) => write!(f, "invalid: {m}"),
            StoreError::Unavailable(m) => write!(f, "storage unavailable: {m}"),
            StoreError::Internal(m) => write!(f, "storage error: {m}"),
        }
    }
}
impl std::error::Error for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a store does with a new object, given the versions it holds of that id (version,
/// originator): the domain rule both backends share (DESIGN §3, writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Store it at this version.
    Add { version: i64 },
    /// This (id, version) is already stored, by the same organization: nothing changes.
    Duplicate { version: i64 },
    /// Not stored: the id is another organization's.
    Refused(String),
}

/// Only the creator organization adds versions; a re-post of a stored version changes
/// nothing; an object without created/modified has one version, its first date_added. The
/// creator check comes first and its message names neither the creator nor anything else of
/// the stored object: the poster may not be allowed to see it (DESIGN §3 residual: that an
/// id is taken can still be learnt by posting under it; such refusals are audited).
pub fn admit_version(
    existing: &[(i64, String)],
    poster: &str,
    posted_version: Option<i64>,
    date_added: i64,
) -> Admission {
    if existing.iter().any(|(_, o)| o != poster) {
        return Admission::Refused(
            "this id belongs to an object of another organization: only the organization that \
             created an object may add versions of it; post under a new id"
                .into(),
        );
    }
    let version = match (posted_version, existing.first()) {
        (Some(v), _) => v,
        (None, Some((v, _))) => return Admission::Duplicate { version: *v },
        (None, None) => date_added,
    };
    if existing.iter().any(|(v, _)| *v == version) {
        Admission::Duplicate { version }
    } else {
        Admission::Add { version }
    }
}

/// Whether a stage's approvals make it active (DESIGN §9): two distinct accounts approved
/// the snapshot `current`. Approvals of other snapshots are stale and do not count.
pub fn activation_due(approvals: &[Approval], current: &str) -> bool {
    let mut accounts: Vec<&str> = approvals
        .iter()
        .filter(|a| a.snapshot == current)
        .map(|a| a.account.as_str())
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    accounts.len() >= 2
}

/// Everything relto keeps. Implementations are cheap to share (`Arc<dyn Store>`) and safe to
/// call from many tasks at once.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The secret that signs `next` cursors, created on first use and then stable, so that
    /// cursors survive restarts and are valid on every node sharing the store.
    async fn cursor_key(&self) -> StoreResult<[u8; 32]>;

    /// Creates the hub's own organization and the `admin` account when they do not exist.
    /// Returns true when the admin account was created now.
    async fn bootstrap(&self, hub: &HubIdentity, admin_password_hash: &str) -> StoreResult<bool>;

    /// Applies a realm plan idempotently: creates or updates what it names and disables (never
    /// deletes) what it no longer names.
    async fn apply_realm(&self, plan: &RealmPlan) -> StoreResult<ApplySummary>;

    async fn api_roots(&self) -> StoreResult<Vec<ApiRoot>>;
    async fn api_root(&self, path: &str) -> StoreResult<Option<ApiRoot>>;
    /// The enabled collections of an API root.
    async fn collections(&self, api_root: &str) -> StoreResult<Vec<Collection>>;
    /// An enabled collection with its (enabled) API root, in one lookup: every request on a
    /// collection needs both.
    async fn collection(
        &self,
        api_root: &str,
        id: &str,
    ) -> StoreResult<Option<(ApiRoot, Collection)>>;

    /// Every enabled account with its organization (for release previews).
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    /// Every peer the realm has named (those it no longer names disabled), by name.
    async fn peers(&self) -> StoreResult<Vec<Peer>>;

    /// Takes peer `name`'s lease for `holder` until `until_us` when it is free, expired by
    /// `now_us`, or `holder`'s already; true when `holder` holds it now. Only the holder
    /// exchanges with the peer, so two nodes never push the same objects.
    async fn lease_peer(
        &self,
        name: &str,
        holder: &str,
        now_us: i64,
        until_us: i64,
    ) -> StoreResult<bool>;
    /// Records an exchange with peer `name`; nothing is recorded, and false returned, when
    /// `holder` no longer holds its lease (another node took over: its cursor stands).
    async fn record_peer_run(&self, name: &str, holder: &str, run: &PeerRun) -> StoreResult<bool>;
    /// The copies a push has sent peer `name` and not withdrawn since (DESIGN §11): what the
    /// peer holds of this hub, so that a push sends each copy once, replaces one that
    /// changed and withdraws one its organization no longer receives.
    async fn peer_sent(&self, name: &str) -> StoreResult<Vec<SentCopy>>;
    /// Records copies sent to peer `name` (replacing those of the same versions) and forgets
    /// the versions withdrawn from it.
    async fn record_peer_sent(
        &self,
        name: &str,
        sent: &[SentCopy],
        withdrawn: &[(String, i64)],
    ) -> StoreResult<()>;
    /// An enabled organization, by slug.
    async fn organization(&self, slug: &str) -> StoreResult<Option<Organization>>;

    /// An enabled account with its organization, by name.
    async fn account(&self, name: &str) -> StoreResult<Option<Account>>;
    /// The enabled account owning an unexpired API token, by the token's SHA-256.
    async fn account_by_token(
        &self,
        token_sha256: &[u8; 32],
        now_us: i64,
    ) -> StoreResult<Option<Account>>;
    async fn add_token(&self, token: &NewToken) -> StoreResult<()>;
    /// Sets (or replaces) an account's password hash; ends the account's sessions (tokens of
    /// POST /management/auth) and changes the release generation, so servers drop cached
    /// credentials.
    async fn set_password(&self, account: &str, password_hash: &str) -> StoreResult<()>;
    /// Revokes an account's API tokens: the one with this SHA-256, or all of them. Changes
    /// the release generation, so servers drop cached credentials. Returns how many.
    async fn revoke_tokens(&self, account: &str, token: Option<&[u8; 32]>) -> StoreResult<usize>;

    /// Stores validated objects in one transaction; each gets a strictly increasing
    /// `date_added`. An object whose (id, version) is already present is not stored again.
    async fn add_objects(
        &self,
        collection: i64,
        objects: Vec<NewObject>,
        now_us: i64,
    ) -> StoreResult<Vec<AddOutcome>>;

    /// One page of objects in ascending (date_added, row) order, with `more` exact.
    async fn query_objects(&self, query: &ObjectQuery) -> StoreResult<Page>;

    /// Deletes the versions of one object that match the filters; returns how many.
    async fn delete_object(
        &self,
        collection: i64,
        id: &str,
        versions: &VersionFilter,
        spec_versions: &[String],
    ) -> StoreResult<usize>;

    /// A number that changes whenever anything the release decision depends on changes (the
    /// realm's rules, a new marking, a new label set): readers' views are cached against it.
    async fn release_generation(&self) -> StoreResult<i64>;

    /// Everything the release decision needs from the store, as of one generation.
    async fn release_state(&self) -> StoreResult<ReleaseState>;

    /// Of `ids`, those whose latest version in the collection the reader does not see (absent
    /// ones included): seeing is as for an object_refs entry (its organization created it, or
    /// it passes the labels and stands on what the reader sees). For the references a
    /// reader's copy loses (DESIGN §3 rule 5).
    async fn hidden_ids(
        &self,
        collection: i64,
        ids: &[String],
        reader: &ReaderFilter,
    ) -> StoreResult<HiddenIds>;

    /// Appends events to the audit chain, in order, in one transaction (each record gets the
    /// next number and the hash of the one before).
    async fn append_audit(&self, events: Vec<audit::AuditEvent>) -> StoreResult<()>;

    /// Audit records with numbers above `after_seq`, in order, at most `limit`.
    async fn audit_records(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<audit::AuditRecord>>;

    /// The chain's last record as a checkpoint (None while the chain is empty): what a hub
    /// gives its peers to keep, as witnesses that its chain is not rebuilt later.
    async fn audit_head(&self) -> StoreResult<Option<audit::Checkpoint>>;

    /// The audit records naming one object, newest first, at most `limit` (an index keeps
    /// this independent of the chain's length: the console shows an object's ledger).
    async fn object_audit(
        &self,
        object_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<audit::AuditRecord>>;

    /// Creates a situation with its stages (all proposed).
    async fn create_situation(&self, situation: &NewSituation) -> StoreResult<Situation>;
    async fn situation(&self, id: &str) -> StoreResult<Option<Situation>>;
    /// Every situation, newest first.
    async fn situations(&self) -> StoreResult<Vec<Situation>>;
    /// Records `approval` of a proposed or active stage. When two distinct accounts have then
    /// approved it under `approval.snapshot` ([`activation_due`]), the stage is active from
    /// the same transaction on and covers `cover` (the rows the approvers were shown; an
    /// active stage approved again under a new snapshot covers what is new, such as a later
    /// version of a holding). Returns the stage's state after; Invalid when it is withdrawn
    /// or the account already approved this snapshot.
    async fn approve_stage(
        &self,
        stage: i64,
        approval: &Approval,
        cover: &[CoveredRow],
    ) -> StoreResult<StageState>;
    /// Withdraws an active stage: its rows are no longer covered from the next read on.
    /// Returns false when it was not active.
    async fn withdraw_stage(&self, stage: i64, at_us: i64) -> StoreResult<bool>;
    /// The STIX ids of the rows a stage covers, or covered before it was withdrawn.
    async fn covered_ids(&self, stage: i64) -> StoreResult<Vec<String>>;

    async fn put_status(&self, status: &StatusRow) -> StoreResult<()>;
    /// A status resource of an API root.
    async fn status(&self, api_root: &str, id: &str) -> StoreResult<Option<StatusRow>>;
    /// Removes status resources created before `before_us`; returns how many.
    async fn purge_statuses(&self, before_us: i64) -> StoreResult<usize>;
}
