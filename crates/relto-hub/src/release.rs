//! The release decision on the server's paths: which label sets a reader passes (compiled
//! into every store query), the redaction of each served page, the write rules, and the
//! release preview. The decision itself is `relto_policy::ReleasePolicy::decide`.

use relto_policy::PolicyError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use relto_policy::label::parse_marking;
use relto_policy::plan::StagePlan;
use relto_policy::redact::release_copy;
use relto_policy::refs::{
    has_required_object_refs, prunable_refs, text_facts, PrunableRef, TextFacts,
};
use relto_policy::{AcsReading, Decision, Marking, ObjectFacts, Reader, ReleasePolicy};
use relto_stix::{is_required_for_release, ObjectMeta};
use relto_store::{
    Account, ActiveStage, LabelSet, Page, ReaderFilter, ReleaseFacts, Store, StoreResult,
    StoredLabelSet,
};
use serde_json::{json, Value};

/// The release rules at one store generation.
pub struct ReleaseView {
    pub generation: i64,
    pub policy: ReleasePolicy,
    label_sets: Vec<StoredLabelSet>,
    /// The label sets that release-plan stages cover (DESIGN §9), by id.
    covered: HashMap<i64, LabelSet>,
    /// The stages in effect, by key order: they name the stage that admitted a reader.
    active: Vec<ActiveStage>,
}

/// How rule 7 admitted a row to a reader: the plan whose alternative label it passes (its
/// tearline applies), and the stage in effect under that plan that the audit names (the
/// first, when several stages share one plan).
#[derive(Clone, Debug)]
pub struct Admission {
    pub plan: StagePlan,
    pub situation: String,
    pub n: u32,
}

impl ReleaseView {
    pub fn new(
        generation: i64,
        policy: ReleasePolicy,
        label_sets: Vec<StoredLabelSet>,
        mut active: Vec<ActiveStage>,
    ) -> Self {
        let covered = label_sets
            .iter()
            .filter(|s| !s.set.alternatives.is_empty())
            .map(|s| (s.id, s.set.clone()))
            .collect();
        active.sort_by_key(|s| s.pk);
        Self {
            generation,
            policy,
            label_sets,
            covered,
            active,
        }
    }

    /// The plans covering rows of `set` that are in effect at `now_us` (inside their window),
    /// in the order rule 7 tries them.
    fn alternatives_of(set: &LabelSet, now_us: i64) -> impl Iterator<Item = &StagePlan> {
        set.alternatives.iter().filter(move |a| a.in_window(now_us))
    }

    /// The plans in effect at `now_us` that cover rows of label set `set`.
    pub fn plans_covering(&self, set: i64, now_us: i64) -> Vec<&StagePlan> {
        match self.covered.get(&set) {
            Some(s) => Self::alternatives_of(s, now_us).collect(),
            None => Vec::new(),
        }
    }

    /// Whether `reader` passes a label set at `now_us`: every marking of it (and the default
    /// label, for objects that carry no object-level marking), or, for a set that stages
    /// cover, one stage's alternative label (rule 7, compiled).
    fn passes(&self, set: &LabelSet, reader: &Reader, now_us: i64) -> bool {
        if set.alternatives.is_empty() {
            return self.policy.passes_label_set(
                &set.markings,
                set.default_nation.as_deref(),
                reader,
            );
        }
        let alternatives: Vec<&relto_policy::Label> = Self::alternatives_of(set, now_us)
            .map(|a| &a.label)
            .collect();
        self.policy.passes_covered_set(
            &set.markings,
            set.default_nation.as_deref(),
            &alternatives,
            &set.required_markings,
            reader,
        )
    }

    /// The store-side filter for `reader` at `now_us`.
    pub fn filter(&self, reader: &Reader, now_us: i64) -> ReaderFilter {
        ReaderFilter {
            organization: reader.organization.to_string(),
            label_sets: self
                .label_sets
                .iter()
                .filter(|s| self.passes(&s.set, reader, now_us))
                .map(|s| s.id)
                .collect(),
        }
    }

    /// The keys of the stages in effect at `now_us` (active, inside their window).
    pub fn stages_in_effect(&self, now_us: i64) -> std::collections::HashSet<i64> {
        self.active
            .iter()
            .filter(|s| s.plan.in_window(now_us))
            .map(|s| s.pk)
            .collect()
    }

    /// Until when a filter made at `now_us` holds: the next start or end of a window of a
    /// plan that covers rows.
    pub fn filter_valid_until(&self, now_us: i64) -> i64 {
        self.covered
            .values()
            .flat_map(|s| &s.alternatives)
            .flat_map(|a| [a.not_before_us, a.expires_us])
            .flatten()
            .filter(|&t| t > now_us)
            .min()
            .unwrap_or(i64::MAX)
    }

    /// How a row of label set `set` is admitted to `reader` by rule 7, when its own labels
    /// do not admit it: the first plan in effect whose alternative label the reader passes.
    pub fn admitting_stage(&self, set: i64, reader: &Reader, now_us: i64) -> Option<Admission> {
        let set = self.covered.get(&set)?;
        if self
            .policy
            .passes_label_set(&set.markings, set.default_nation.as_deref(), reader)
        {
            return None;
        }
        let plan = Self::alternatives_of(set, now_us).find(|a| {
            self.policy.label_denial(&a.label, reader).is_none()
                && set
                    .required_markings
                    .iter()
                    .all(|m| self.policy.marking_denial(m, reader).is_none())
        })?;
        let named = self.active.iter().find(|s| &s.plan == plan);
        Some(Admission {
            plan: plan.clone(),
            situation: named.map_or_else(String::new, |s| s.situation.clone()),
            n: named.map_or(0, |s| s.n),
        })
    }
}

/// An account's filter, made at a view generation and holding until a stage's window opens
/// or closes.
struct CachedFilter {
    generation: i64,
    valid_until: i64,
    filter: Arc<ReaderFilter>,
}

/// The reader an account is.
pub fn reader_of(account: &Account) -> Reader {
    Reader {
        organization: account.organization.slug.clone(),
        nation: account.organization.nation.clone(),
        accredited: account.organization.accredited.clone(),
        clearances: account.clearances.clone(),
    }
}

/// How long a view is used before the store's generation is asked again. Writes through
/// this node invalidate it at once; changes made elsewhere (another node, `relto apply`)
/// take effect within this time, like a credential's cache.
const REFRESH: Duration = Duration::from_secs(1);

/// Caches the view per store generation, each reader's filter per generation, and what
/// readers received of rows that needed release work.
#[derive(Default)]
pub struct ReleaseCache {
    /// The view and when the store's generation was last compared with it.
    view: RwLock<Option<(Arc<ReleaseView>, Instant)>>,
    filters: Mutex<HashMap<String, CachedFilter>>,
    pub copies: CopyCache,
}

impl ReleaseCache {
    /// With a cache of released copies of at most about `copies_budget` bytes.
    pub fn new(copies_budget: usize) -> Self {
        Self {
            copies: CopyCache::new(copies_budget),
            ..Self::default()
        }
    }

    /// Makes the next request compare the generation (after a write on this node, which
    /// may have added a label set or a marking).
    pub fn invalidate(&self) {
        if let Ok(mut slot) = self.view.write() {
            if let Some((_, checked)) = slot.as_mut() {
                *checked = Instant::now() - REFRESH;
            }
        }
    }

    /// The view at the store's current generation (rebuilt when it changed).
    pub async fn view(&self, store: &dyn Store) -> StoreResult<Arc<ReleaseView>> {
        let cached = self.view.read().ok().and_then(|v| v.clone());
        if let Some((v, checked)) = &cached {
            if checked.elapsed() < REFRESH {
                return Ok(v.clone());
            }
        }
        let generation = store.release_generation().await?;
        if let Some((v, _)) = cached {
            if v.generation == generation {
                if let Ok(mut slot) = self.view.write() {
                    *slot = Some((v.clone(), Instant::now()));
                }
                return Ok(v);
            }
        }
        let state = store.release_state().await?;
        let mut policy = ReleasePolicy::from_rules(&state.rules)
            .map_err(|e| relto_store::StoreError::Internal(format!("stored release rules: {e}")))?;
        for (id, raw) in &state.markings {
            let marking = serde_json::from_str::<Value>(raw)
                .ok()
                .and_then(|v| parse_marking(&v).ok().flatten());
            // A malformed label is unknown, and unknown markings deny: fail closed.
            if let Some((_, m)) = marking {
                policy.add_marking(id, m);
            }
        }
        let view = Arc::new(ReleaseView::new(
            state.generation,
            policy,
            state.label_sets,
            state.active_stages,
        ));
        if let Ok(mut slot) = self.view.write() {
            *slot = Some((view.clone(), Instant::now()));
        }
        Ok(view)
    }

    /// The filter of an account at the view's generation.
    pub fn filter(&self, view: &ReleaseView, account: &Account) -> Arc<ReaderFilter> {
        let now = crate::audit::now_us();
        if let Ok(cache) = self.filters.lock() {
            if let Some(c) = cache.get(&account.name) {
                if c.generation == view.generation && now < c.valid_until {
                    return c.filter.clone();
                }
            }
        }
        let f = Arc::new(view.filter(&reader_of(account), now));
        if let Ok(mut cache) = self.filters.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            let cached = CachedFilter {
                generation: view.generation,
                valid_until: view.filter_valid_until(now),
                filter: f.clone(),
            };
            cache.insert(account.name.clone(), cached);
        }
        f
    }
}

pub(crate) fn required(ty: &str, prop: &str) -> bool {
    is_required_for_release(ty, prop)
}

/// The granular markings of an object as (marking_ref, selectors).
fn granular_of(value: &Value) -> Vec<(String, Vec<String>)> {
    granular_list(value.get("granular_markings"))
}

fn granular_list(list: Option<&Value>) -> Vec<(String, Vec<String>)> {
    list.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|g| {
                    let m = g.get("marking_ref")?.as_str()?.to_string();
                    let sels = g
                        .get("selectors")?
                        .as_array()?
                        .iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect();
                    Some((m, sels))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn marking_refs_of(value: &Value) -> Vec<String> {
    value
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What release work a stored object needs for a reader of another organization, read off
/// its text: None when it needs none (no required object_refs, granular markings or
/// references to prune).
fn release_work(o: &relto_store::StoredObject) -> Option<TextFacts> {
    let ty = o.object_type();
    let facts = text_facts(ty, &o.raw);
    (has_required_object_refs(ty) || facts.any()).then_some(facts)
}

/// Redacts a page for `reader` in place (DESIGN §3 rules 4 and 5): granular markings the
/// reader fails remove what they select, and every reference to what the reader cannot see
/// is pruned (required object_refs entries, and each other `*_ref`/`*_refs`). Objects of the
/// reader's own organization, and objects without either, keep their stored bytes. An object
/// the redaction would leave invalid is withheld. What a reader receives of a row is kept in
/// `copies` for the collection's write generation, so a page read again before the next
/// write costs no reference look-ups and no redaction.
pub async fn redact_page(
    store: &dyn Store,
    view: &ReleaseView,
    copies: &CopyCache,
    collection: i64,
    to: &Recipient<'_>,
    page: &mut Page,
) -> StoreResult<Redactions> {
    let Recipient {
        account,
        reader,
        filter,
    } = *to;
    let account: Arc<str> = account.into();
    let now = crate::audit::now_us();
    let window = view.filter_valid_until(now);
    let key = |o: &relto_store::StoredObject| CopyKey {
        row: o.row,
        date_added: o.date_added,
        account: account.clone(),
        view: view.generation,
        window,
    };
    let mut releases: Vec<(usize, Release)> = Vec::new();
    let mut misses: Vec<(usize, TextFacts)> = Vec::new();
    let mut out = Redactions::default();
    for (i, o) in page.items.iter().enumerate() {
        if o.originator == reader.organization {
            continue;
        }
        // Rule 7: a row its own labels deny, admitted through a stage, loses the stage's
        // withheld properties.
        let stage = view.admitting_stage(o.label_set, reader, now);
        let withholds = stage
            .as_ref()
            .is_some_and(|st| !st.plan.withhold.is_empty());
        if let Some(st) = stage {
            out.admissions.insert(o.row, st);
        }
        let Some(facts) =
            release_work(o).or_else(|| withholds.then(|| text_facts(o.object_type(), &o.raw)))
        else {
            continue;
        };
        match page.generation.and_then(|g| copies.get(&key(o), g)) {
            Some(r) => releases.push((i, r)),
            None => misses.push((i, facts)),
        }
    }
    if !misses.is_empty() {
        let pending: Vec<(usize, Parsed)> = misses
            .iter()
            .map(|&(i, facts)| (i, Parsed::of(&page.items[i], facts)))
            .collect();
        let mut ref_ids: Vec<String> = pending
            .iter()
            .filter_map(|(_, p)| p.prunable.as_ref().ok())
            .flatten()
            .map(|r| r.id.clone())
            .collect();
        ref_ids.sort();
        ref_ids.dedup();
        let mut hidden_ids = store.hidden_ids(collection, &ref_ids, filter).await?;
        hidden_ids.ids.sort();
        // What was read with the page holds at its generation only if the ids were read at it.
        let generation = match (ref_ids.is_empty(), hidden_ids.generation) {
            (true, _) => page.generation,
            (false, read) if read == page.generation => read,
            (false, _) => None,
        };
        let mut by_row: HashMap<i64, Vec<usize>> = HashMap::new();
        for h in &page.hidden_refs {
            by_row.entry(h.row).or_default().push(h.index);
        }
        for (i, parsed) in pending {
            let o = &page.items[i];
            let gone = by_row.get(&o.row).map_or(&[][..], Vec::as_slice);
            let withhold = out
                .admissions
                .get(&o.row)
                .map_or(&[][..], |s| &s.plan.withhold[..]);
            let r = release_of(view, reader, o, parsed, gone, &hidden_ids.ids, withhold);
            if let Some(g) = generation {
                copies.insert(key(o), g, r.clone());
            }
            releases.push((i, r));
        }
    }
    let mut drop = Vec::new();
    for (i, r) in releases {
        match r {
            Release::Whole => {}
            Release::Redacted(copy, selectors) => {
                // Moved when this page made it and no cache holds it; copied otherwise.
                page.items[i].raw = Arc::try_unwrap(copy).unwrap_or_else(|kept| (*kept).clone());
                out.redacted.insert(page.items[i].row, selectors);
            }
            Release::Withheld(why) => drop.push((i, why.to_string())),
        }
    }
    drop.sort_by_key(|(i, _)| *i);
    for (i, why) in drop.into_iter().rev() {
        let o = page.items.remove(i);
        out.dropped.push((o, why));
    }
    Ok(out)
}

/// The account a page is released to, as a reader and as the store's filter.
#[derive(Clone, Copy)]
pub struct Recipient<'a> {
    pub account: &'a str,
    pub reader: &'a Reader,
    pub filter: &'a ReaderFilter,
}

/// What release work needs of a stored object's JSON, read once: its granular markings and
/// the references to prune if hidden (Err: the object cannot be pruned).
struct Parsed {
    /// What the scan of the text found.
    facts: TextFacts,
    granular: Vec<(String, Vec<String>)>,
    prunable: Result<Vec<PrunableRef>, PolicyError>,
}

impl Parsed {
    fn of(o: &relto_store::StoredObject, facts: TextFacts) -> Self {
        if !facts.any() {
            return Self {
                facts,
                granular: Vec::new(),
                prunable: Ok(Vec::new()),
            };
        }
        if !facts.prunable_refs {
            // Only the granular markings are needed: the rest of the text is skipped, not
            // built into a value (a tenth of a partner's page, in the benchmark's workload).
            #[derive(serde::Deserialize)]
            struct Granular {
                granular_markings: Option<Value>,
            }
            return match serde_json::from_str::<Granular>(&o.raw) {
                Ok(g) => Self {
                    facts,
                    granular: granular_list(g.granular_markings.as_ref()),
                    prunable: Ok(Vec::new()),
                },
                Err(_) => Self {
                    facts,
                    granular: Vec::new(),
                    prunable: Err(PolicyError::Copy(
                        "stored object could not be read for release".into(),
                    )),
                },
            };
        }
        match serde_json::from_str::<Value>(&o.raw) {
            Ok(v) => Self {
                facts,
                granular: granular_of(&v),
                prunable: prunable_refs(&v),
            },
            // Stored objects were validated; one that no longer parses is not served.
            Err(_) => Self {
                facts,
                granular: Vec::new(),
                prunable: Err(PolicyError::Copy(
                    "stored object could not be read for release".into(),
                )),
            },
        }
    }
}

/// What a reader receives of a stored object it may see (the store's predicate has decided
/// rules 1-3, 5's endpoints and required lists, and 6): rule 4's granular redaction, the
/// required object_refs entries at positions `hidden_refs` and every other reference naming
/// one of `hidden_ids` pruned.
fn release_of(
    view: &ReleaseView,
    reader: &Reader,
    o: &relto_store::StoredObject,
    parsed: Parsed,
    hidden_refs: &[usize],
    hidden_ids: &[String],
    withhold: &[String],
) -> Release {
    let prunable = match parsed.prunable {
        Ok(p) => p,
        Err(why) => return Release::Withheld(why.to_string().into()),
    };
    let mut selectors =
        match view
            .policy
            .granular_decision(o.object_type(), &parsed.granular, reader, required)
        {
            Decision::Redact(s) => s,
            Decision::Allow => Vec::new(),
            // A granular marking on a required property: the label set holds it, so the store
            // does not return such an object; fail closed if it ever did.
            Decision::Deny(why) => return Release::Withheld(why.into()),
        };
    if !withhold.is_empty() {
        // The stage's tearline: the withheld top-level properties the object has.
        let Ok(top) = serde_json::from_str::<serde_json::Map<String, Value>>(&o.raw) else {
            return Release::Withheld("stored object could not be read for release".into());
        };
        for w in withhold {
            if top.contains_key(w) && !selectors.contains(w) {
                selectors.push(w.clone());
            }
        }
    }
    selectors.extend(hidden_refs.iter().map(|n| format!("object_refs.[{n}]")));
    selectors.extend(
        prunable
            .into_iter()
            .filter(|r| hidden_ids.binary_search(&r.id).is_ok())
            .map(|r| r.selector),
    );
    if selectors.is_empty() {
        return Release::Whole;
    }
    let failed: Vec<String> = parsed
        .granular
        .iter()
        .map(|(m, _)| m)
        .filter(|m| view.policy.marking_denial(m, reader).is_some())
        .cloned()
        .collect();
    match release_copy(&o.raw, parsed.facts, &selectors, &failed, required) {
        Ok(copy) => Release::Redacted(Arc::new(copy), selectors.into()),
        Err(why) => Release::Withheld(why.to_string().into()),
    }
}

/// What a reader receives of one stored row that needed release work.
#[derive(Clone, Debug)]
enum Release {
    /// The stored bytes.
    Whole,
    /// This copy, with these selectors removed.
    Redacted(Arc<String>, Arc<[String]>),
    /// Nothing, for this reason.
    Withheld(Arc<str>),
}

impl Release {
    fn bytes(&self) -> usize {
        match self {
            Release::Whole => 0,
            Release::Redacted(copy, selectors) => {
                copy.len() + selectors.iter().map(String::len).sum::<usize>()
            }
            Release::Withheld(why) => why.len(),
        }
    }
}

/// A stored row (by row and date_added, which no two rows share) as one account receives it
/// under one release view.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CopyKey {
    row: i64,
    date_added: i64,
    account: Arc<str>,
    view: i64,
    /// The end of the release-plan windows in force when it was made: when a stage's window
    /// opens or closes, another stage's tearline may apply to the row (DESIGN §9).
    window: i64,
}

/// Released copies, each valid for the collection write generation it was computed at.
/// Bounded by bytes: two maps, and when the newer holds half the budget the older is
/// dropped (entries read from the older move to the newer), an LRU approximation without
/// per-entry bookkeeping.
pub struct CopyCache {
    budget: usize,
    maps: Mutex<CopyMaps>,
}

#[derive(Default)]
struct CopyMaps {
    newer: HashMap<CopyKey, (i64, Release)>,
    older: HashMap<CopyKey, (i64, Release)>,
    newer_bytes: usize,
}

/// Per entry beyond its bytes: the key, the map's slot, the Arcs.
const ENTRY_OVERHEAD: usize = 128;

impl Default for CopyCache {
    fn default() -> Self {
        Self::new(0)
    }
}

impl CopyCache {
    /// A cache of at most about `budget` bytes (0: keeps nothing).
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            maps: Mutex::default(),
        }
    }

    fn get(&self, key: &CopyKey, generation: i64) -> Option<Release> {
        if self.budget == 0 {
            return None;
        }
        let mut maps = self.maps.lock().ok()?;
        if let Some((g, r)) = maps.newer.get(key) {
            return (*g == generation).then(|| r.clone());
        }
        let (g, r) = maps.older.remove(key)?;
        if g != generation {
            return None;
        }
        maps.put(key.clone(), g, r.clone(), self.budget);
        Some(r)
    }

    fn insert(&self, key: CopyKey, generation: i64, release: Release) {
        if self.budget == 0 {
            return;
        }
        if let Ok(mut maps) = self.maps.lock() {
            maps.put(key, generation, release, self.budget);
        }
    }
}

impl CopyMaps {
    fn put(&mut self, key: CopyKey, generation: i64, release: Release, budget: usize) {
        self.newer_bytes += release.bytes() + ENTRY_OVERHEAD;
        self.newer.insert(key, (generation, release));
        if self.newer_bytes > budget / 2 {
            self.older = std::mem::take(&mut self.newer);
            self.newer_bytes = 0;
        }
    }
}

/// What `redact_page` did: the rows it redacted (with the selectors removed) and the objects
/// it withheld after all (with why). Every served page's release is audited from it.
#[must_use]
#[derive(Debug, Default)]
pub struct Redactions {
    pub redacted: HashMap<i64, Arc<[String]>>,
    /// Rows admitted through a release-plan stage (rule 7), with how.
    pub admissions: HashMap<i64, Admission>,
    pub dropped: Vec<(relto_store::StoredObject, String)>,
}

/// Why a poster may not write an object (or define a marking): told to the poster as that
/// object's failure, and audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRefused(pub String);

impl std::fmt::Display for WriteRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an object may not be written by `poster`, or the release facts to store with it.
/// `envelope_markings` are the markings defined in the same envelope that passed their own
/// checks (see `ingest`).
pub fn write_rules(
    view: &ReleaseView,
    poster: &Account,
    meta: &ObjectMeta,
    envelope_markings: &HashMap<String, Marking>,
) -> Result<ReleaseFacts, WriteRefused> {
    write_checks(view, poster, meta, envelope_markings).map_err(WriteRefused)
}

fn write_checks(
    view: &ReleaseView,
    poster: &Account,
    meta: &ObjectMeta,
    envelope_markings: &HashMap<String, Marking>,
) -> Result<ReleaseFacts, String> {
    let reader = reader_of(poster);
    let relay = poster.has_role(relto_policy::Role::Relay);
    if let Some(creator) = &meta.created_by_ref {
        if !relay && creator != &poster.organization.identity {
            return Err(format!(
                "created_by_ref {creator} is not your organization's identity ({})",
                poster.organization.identity
            ));
        }
    }
    let check = |m: &str| -> Result<(), String> {
        // The hub's definition first: an envelope cannot redefine what a known id means.
        let marking = match view.policy.marking(m) {
            Some(known) => known,
            None => envelope_markings.get(m).ok_or_else(|| {
                format!("marking {m} is neither known to the hub nor defined in this envelope")
            })?,
        };
        // An ACS marking defined in this envelope is not read yet: read here.
        let envelope_reading;
        let applied = match marking {
            Marking::Label(l) => Some(l),
            // The poster applies what the ACS marking says; a default label relto falls
            // back to is relto's choice, not the poster's.
            Marking::Acs(ext) => {
                let reading = match view.policy.acs_reading(m) {
                    Some(known) => known,
                    None => {
                        envelope_reading = view.policy.read_acs(ext);
                        &envelope_reading
                    }
                };
                match reading {
                    AcsReading::Mapped(l) => Some(l),
                    AcsReading::Default { .. } => None,
                }
            }
            Marking::NonRestrictive => None,
        };
        match applied.and_then(|l| view.policy.clearance_denial(l, &reader)) {
            Some(d) => Err(format!("you may not apply marking {m}: {d}")),
            None => Ok(()),
        }
    };
    for m in &meta.object_marking_refs {
        check(m)?;
    }
    for g in &meta.granular_markings {
        if let Some(m) = &g.marking_ref {
            check(m)?;
        }
    }
    Ok(release_facts(
        meta,
        poster.organization.slug.as_str(),
        poster.organization.nation.as_str(),
    ))
}

/// The release facts of an object created by `originator` (of `nation`): its label set is
/// its object-level markings plus granular ones on required properties, with the default
/// label when it has no object-level marking.
pub fn release_facts(meta: &ObjectMeta, originator: &str, nation: &str) -> ReleaseFacts {
    let mut set: Vec<String> = meta.object_marking_refs.clone();
    set.extend(markings_on_required(meta));
    set.sort();
    set.dedup();
    ReleaseFacts {
        originator: originator.to_string(),
        label_set: LabelSet {
            markings: set,
            // As in decide(): marking-definitions are not under the default label.
            default_nation: (meta.object_marking_refs.is_empty()
                && meta.object_type != "marking-definition")
                .then(|| nation.to_string()),
            ..LabelSet::default()
        },
        endpoints: meta.endpoints.clone(),
        object_refs: meta.object_refs.clone(),
    }
}

/// The markings of an object's granular markings that select a property its type requires
/// (rule 4: a reader failing one is denied the whole object, so they count as its labels).
pub(crate) fn markings_on_required(meta: &ObjectMeta) -> Vec<String> {
    meta.granular_markings
        .iter()
        .filter(|g| {
            g.selectors
                .iter()
                .any(|s| !s.contains('.') && required(&meta.object_type, s))
        })
        .filter_map(|g| g.marking_ref.clone())
        .collect()
}

fn decision_json(d: &Decision) -> Value {
    match d {
        Decision::Allow => json!({"decision": "allow"}),
        Decision::Redact(s) => json!({"decision": "redact", "removed": s}),
        Decision::Deny(why) => json!({"decision": "deny", "reason": why}),
    }
}

/// What `reader` would receive of the stored object `row` (its JSON `value`): the store's
/// query under the reader's filter (rules 1-3, 5, 6, exactly as served), then the granular
/// markings and the object_refs it would lose.
async fn decision_for(
    store: &dyn Store,
    view: &ReleaseView,
    collection: i64,
    obj: &relto_store::StoredObject,
    value: &Value,
    originator_nation: &str,
    reader: &Reader,
) -> StoreResult<Decision> {
    let filter = view.filter(reader, crate::audit::now_us());
    let mut q = relto_store::ObjectQuery::new(collection, 1);
    q.ids = vec![obj.stix_id.clone()];
    q.reader = Some(filter.clone());
    let mut page = store.query_objects(&q).await?;
    if page.items.is_empty() {
        // Say why: a label, else the references (rule 5).
        let markings = marking_refs_of(value);
        let granular = granular_of(value);
        let facts = ObjectFacts {
            object_type: obj.object_type(),
            originator: &obj.originator,
            originator_nation,
            marking_refs: &markings,
            granular: &granular,
        };
        return Ok(match view.policy.decide(&facts, reader, required) {
            Decision::Deny(why) => Decision::Deny(why),
            _ => Decision::Deny(
                "references: an object it stands on or refers to is not visible".into(),
            ),
        });
    }
    // Exactly what a read would serve: the same redaction of a page, here of one object.
    let to = Recipient {
        account: "",
        reader,
        filter: &filter,
    };
    let r = redact_page(
        store,
        view,
        &CopyCache::default(),
        collection,
        &to,
        &mut page,
    )
    .await?;
    if let Some((_, why)) = r.dropped.into_iter().next() {
        return Ok(Decision::Deny(why));
    }
    Ok(match r.redacted.into_values().next() {
        Some(removed) => {
            let mut removed = removed.to_vec();
            removed.sort();
            Decision::Redact(removed)
        }
        None => Decision::Allow,
    })
}

/// The release preview of the latest version of `oid` in a collection: for every
/// organization (through its most permissive account; the hub's own admin aside) and every
/// community (a member accredited to it and cleared for everything: its releasability
/// alone), Allow, Redact (which properties and list items) or Deny (why). Returns the
/// object's originator with it; None when the collection holds no such object.
pub async fn preview_object(
    store: &dyn Store,
    view: &ReleaseView,
    collection: i64,
    oid: &str,
) -> StoreResult<Option<(String, Value)>> {
    let mut q = relto_store::ObjectQuery::new(collection, 1);
    q.ids = vec![oid.to_string()];
    let Some(obj) = store.query_objects(&q).await?.items.into_iter().next() else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(&obj.raw)
        .map_err(|e| relto_store::StoreError::Internal(format!("stored object: {e}")))?;
    let rank = |d: &Decision| match d {
        Decision::Allow => 0,
        Decision::Redact(_) => 1,
        Decision::Deny(_) => 2,
    };
    let accounts = store.accounts().await?;
    let nation = accounts
        .iter()
        .find(|a| a.organization.slug == obj.originator)
        .map(|a| a.organization.nation.to_string())
        .unwrap_or_default();
    let mut by_org: Vec<(String, String, Decision)> = Vec::new();
    for a in accounts
        .iter()
        .filter(|a| !a.has_role(relto_policy::Role::Admin))
    {
        let reader = reader_of(a);
        let d = decision_for(store, view, collection, &obj, &value, &nation, &reader).await?;
        match by_org
            .iter_mut()
            .find(|(o, _, _)| o == &a.organization.slug)
        {
            Some(entry) if rank(&d) < rank(&entry.2) => {
                entry.1 = a.name.clone();
                entry.2 = d;
            }
            Some(_) => {}
            None => by_org.push((a.organization.slug.to_string(), a.name.clone(), d)),
        }
    }
    let organizations: Vec<Value> = by_org
        .iter()
        .map(|(org, account, d)| {
            let mut v = decision_json(d);
            v["organization"] = json!(org);
            v["account"] = json!(account);
            v
        })
        .collect();
    let sensitivities = view.policy.sensitivities();
    let top_clearances: Vec<relto_policy::Clearance> = view
        .policy
        .policy_ids()
        .into_iter()
        .filter_map(|p| {
            let level = view.policy.policy_levels(&p)?.last()?.clone();
            Some(relto_policy::Clearance {
                policy: p,
                level,
                sensitivity: sensitivities.clone(),
            })
        })
        .collect();
    let mut communities = Vec::new();
    for c in view.policy.community_ids() {
        let member = Reader::community_member(c.clone(), top_clearances.clone());
        let mut v = decision_json(
            &decision_for(store, view, collection, &obj, &value, &nation, &member).await?,
        );
        v["community"] = json!(c);
        communities.push(v);
    }
    let out = json!({
        "id": obj.stix_id,
        "version": relto_stix::timestamp::format_micros(obj.version),
        "originator": obj.originator,
        "organizations": organizations,
        "communities": communities,
    });
    Ok(Some((obj.originator, out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(row: i64) -> CopyKey {
        CopyKey {
            row,
            date_added: row * 10,
            account: "bnd".into(),
            view: 1,
            window: i64::MAX,
        }
    }

    fn copy(text: &str) -> Release {
        Release::Redacted(
            Arc::new(text.to_string()),
            vec!["object_refs.[0]".to_string()].into(),
        )
    }

    fn text(r: Option<Release>) -> Option<String> {
        match r {
            Some(Release::Redacted(t, _)) => Some(t.to_string()),
            _ => None,
        }
    }

    #[test]
    fn copies_hold_for_their_generation_only() {
        let c = CopyCache::new(1 << 20);
        c.insert(key(1), 7, copy("seven"));
        assert_eq!(text(c.get(&key(1), 7)).as_deref(), Some("seven"));
        assert!(c.get(&key(1), 8).is_none(), "another generation");
        assert!(c.get(&key(2), 7).is_none(), "another row");
        let other = CopyKey {
            account: "nis".into(),
            ..key(1)
        };
        assert!(c.get(&other, 7).is_none(), "another account");
        c.insert(key(1), 8, copy("eight"));
        assert_eq!(text(c.get(&key(1), 8)).as_deref(), Some("eight"));
        assert!(c.get(&key(1), 7).is_none());
    }

    #[test]
    fn copies_stay_within_the_budget_and_keep_what_is_read() {
        assert!(CopyCache::new(0).get(&key(1), 1).is_none());
        let none = CopyCache::new(0);
        none.insert(key(1), 1, copy("x"));
        assert!(
            none.get(&key(1), 1).is_none(),
            "a budget of 0 keeps nothing"
        );
        // Each entry counts 128 + 1 + 15 bytes: about 7 fit in half of 2,000.
        let c = CopyCache::new(2_000);
        for row in 0..100 {
            c.insert(key(row), 1, copy("x"));
            if row == 3 {
                assert!(c.get(&key(0), 1).is_some());
            }
            // Row 0 is read on every insert: it moves to the newer map and stays.
            assert!(c.get(&key(0), 1).is_some(), "row 0 after {row}");
        }
        let kept = (0..100).filter(|&r| c.get(&key(r), 1).is_some()).count();
        assert!((2..=16).contains(&kept), "{kept} kept");
        assert!(c.get(&key(50), 1).is_none(), "an old entry is gone");
    }
}
