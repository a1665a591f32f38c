//! The release decision on the server's paths: which label sets a reader passes (compiled
//! into every store query), the redaction of each served page, the write rules, and the
//! release preview. The decision itself is `relto_policy::ReleasePolicy::decide`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use relto_policy::decide::DefaultLabel;
use relto_policy::label::parse_marking;
use relto_policy::redact::redact_raw;
use relto_policy::{Decision, Marking, ObjectFacts, Reader, ReleasePolicy};
use relto_stix::{is_required_property, ObjectMeta};
use relto_store::{
    Account, LabelSet, Page, ReaderFilter, ReleaseFacts, Store, StoreResult, StoredLabelSet,
};
use serde_json::{json, Value};

/// The release rules at one store generation.
pub struct ReleaseView {
    pub generation: i64,
    pub policy: ReleasePolicy,
    label_sets: Vec<StoredLabelSet>,
}

impl ReleaseView {
    /// Whether `reader` passes every marking of a label set (and the default label, for
    /// objects that carry no object-level marking).
    fn passes(&self, set: &LabelSet, reader: &Reader) -> bool {
        if let Some(nation) = &set.default_nation {
            let ok = match &self.policy.default_label {
                DefaultLabel::OriginatorNation => &reader.nation == nation,
                DefaultLabel::Label(l) => self.policy.label_denial(l, reader).is_none(),
            };
            if !ok {
                return false;
            }
        }
        set.markings
            .iter()
            .all(|m| self.policy.marking_denial(m, reader).is_none())
    }

    /// The store-side filter for `reader`.
    pub fn filter(&self, reader: &Reader) -> ReaderFilter {
        ReaderFilter {
            organization: reader.organization.clone(),
            label_sets: self
                .label_sets
                .iter()
                .filter(|s| self.passes(&s.set, reader))
                .map(|s| s.id)
                .collect(),
        }
    }
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

/// Caches the view per store generation and each reader's filter per generation.
#[derive(Default)]
pub struct ReleaseCache {
    /// The view and when the store's generation was last compared with it.
    view: RwLock<Option<(Arc<ReleaseView>, Instant)>>,
    filters: Mutex<HashMap<String, (i64, Arc<ReaderFilter>)>>,
}

impl ReleaseCache {
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
        let view = Arc::new(ReleaseView {
            generation: state.generation,
            policy,
            label_sets: state.label_sets,
        });
        if let Ok(mut slot) = self.view.write() {
            *slot = Some((view.clone(), Instant::now()));
        }
        Ok(view)
    }

    /// The filter of an account at the view's generation.
    pub fn filter(&self, view: &ReleaseView, account: &Account) -> Arc<ReaderFilter> {
        if let Ok(cache) = self.filters.lock() {
            if let Some((g, f)) = cache.get(&account.name) {
                if *g == view.generation {
                    return f.clone();
                }
            }
        }
        let f = Arc::new(view.filter(&reader_of(account)));
        if let Ok(mut cache) = self.filters.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(account.name.clone(), (view.generation, f.clone()));
        }
        f
    }
}

fn required(ty: &str, prop: &str) -> bool {
    is_required_property(ty, prop)
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

const REF_LIST_TYPES: [&str; 4] = ["report", "grouping", "note", "opinion"];

/// Redacts a page for `reader` in place: granular markings the reader fails remove what they
/// select, and object_refs lose the ids the reader cannot see. Objects of the reader's own
/// organization, and objects without either, keep their stored bytes. An object the
/// redaction would leave invalid is withheld.
pub async fn redact_page(
    store: &dyn Store,
    view: &ReleaseView,
    collection: i64,
    reader: &Reader,
    filter: &ReaderFilter,
    page: &mut Page,
) -> StoreResult<Redactions> {
    let mut out = Redactions::default();
    let own = |o: &relto_store::StoredObject| o.originator == reader.organization;
    let ref_rows: Vec<i64> = page
        .items
        .iter()
        .filter(|o| !own(o) && REF_LIST_TYPES.contains(&o.object_type()))
        .map(|o| o.row)
        .collect();
    let mut hidden: HashMap<i64, HashSet<String>> = HashMap::new();
    for (row, id) in store.hidden_refs(collection, &ref_rows, filter).await? {
        hidden.entry(row).or_default().insert(id);
    }
    // Only objects with a hidden reference or a granular marking are rewritten; of those,
    // only the two properties the release needs are parsed.
    let mut parsed: Vec<(usize, ReleaseFields)> = Vec::new();
    let mut drop = Vec::new();
    for (i, o) in page.items.iter().enumerate() {
        if own(o) || !(hidden.contains_key(&o.row) || o.raw.contains("\"granular_markings\"")) {
            continue;
        }
        match serde_json::from_str::<ReleaseFields>(&o.raw) {
            Ok(f) => parsed.push((i, f)),
            // Stored objects were validated; one that no longer parses is not served.
            Err(_) => drop.push((i, "stored object could not be read for release".to_string())),
        }
    }
    for (i, fields) in parsed {
        let ty = page.items[i].object_type().to_string();
        // The store's predicate has decided visibility (rules 1-3, 5, 6); what is left is
        // rule 4 and the pruning of object_refs.
        let granular = granular_list(fields.granular_markings.as_ref());
        let mut selectors = match view
            .policy
            .granular_decision(&ty, &granular, reader, required)
        {
            Decision::Redact(s) => s,
            Decision::Allow => Vec::new(),
            // A granular marking on a required property: the label set holds it, so the
            // store does not return such an object; fail closed if it ever did.
            Decision::Deny(why) => {
                drop.push((i, why));
                continue;
            }
        };
        if let Some(gone) = hidden.get(&page.items[i].row) {
            for (n, r) in fields.object_refs.iter().enumerate() {
                if r.as_str().is_none_or(|r| gone.contains(r)) {
                    selectors.push(format!("object_refs.[{n}]"));
                }
            }
        }
        if selectors.is_empty() {
            continue;
        }
        match redact_raw(&page.items[i].raw, &selectors, required) {
            Ok(copy) => {
                page.items[i].raw = copy;
                out.redacted.insert(page.items[i].row, selectors);
            }
            Err(why) => drop.push((i, why)),
        }
    }
    drop.sort_by_key(|(i, _)| *i);
    for (i, why) in drop.into_iter().rev() {
        let o = page.items.remove(i);
        out.dropped.push((o, why));
    }
    Ok(out)
}

/// The two properties of a stored object that its release needs; the rest is skipped.
#[derive(serde::Deserialize)]
struct ReleaseFields {
    granular_markings: Option<Value>,
    #[serde(default)]
    object_refs: Vec<Value>,
}

/// What `redact_page` did: the rows it redacted (with the selectors removed) and the objects
/// it withheld after all (with why). Every served page's release is audited from it.
#[must_use]
#[derive(Debug, Default)]
pub struct Redactions {
    pub redacted: HashMap<i64, Vec<String>>,
    pub dropped: Vec<(relto_store::StoredObject, String)>,
}

/// Why an object may not be written by `poster`, or the release facts to store with it.
/// `envelope_markings` are the markings defined in the same envelope.
pub fn write_rules(
    view: &ReleaseView,
    poster: &Account,
    meta: &ObjectMeta,
    envelope_markings: &HashMap<String, Marking>,
) -> Result<ReleaseFacts, String> {
    let reader = reader_of(poster);
    let relay = poster.has_role("relay");
    if let Some(creator) = &meta.created_by_ref {
        if !relay && creator != &poster.organization.identity {
            return Err(format!(
                "created_by_ref {creator} is not your organization's identity ({})",
                poster.organization.identity
            ));
        }
    }
    let check = |m: &str| -> Result<(), String> {
        let marking = match envelope_markings.get(m) {
            Some(found) => found,
            None => view.policy.marking(m).ok_or_else(|| {
                format!("marking {m} is neither known to the hub nor defined in this envelope")
            })?,
        };
        match marking {
            Marking::Label(l) => match view.policy.clearance_denial(l, &reader) {
                Some(d) => Err(format!("you may not apply marking {m}: {d}")),
                None => Ok(()),
            },
            Marking::NonRestrictive => Ok(()),
        }
    };
    if meta.object_type == "marking-definition" {
        check_label_definition(view, meta, envelope_markings)?;
    }
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
        &poster.organization.slug,
        &poster.organization.nation,
    ))
}

/// A label's id cannot be taken by another definition: STIX marking-definitions are never
/// versioned, so an id already known must define the same marking; and a name-based
/// (UUIDv5) id, which anyone can compute, must be the label's canonical id.
fn check_label_definition(
    view: &ReleaseView,
    meta: &ObjectMeta,
    envelope_markings: &HashMap<String, Marking>,
) -> Result<(), String> {
    let Some(posted) = envelope_markings.get(&meta.id) else {
        return Ok(());
    };
    if let Some(known) = view.policy.marking(&meta.id) {
        if known != posted {
            return Err(format!(
                "{} is already defined differently; marking-definitions cannot be changed",
                meta.id
            ));
        }
    }
    if let Marking::Label(label) = posted {
        let uuid = meta.id.trim_start_matches("marking-definition--");
        let name_based = uuid.chars().nth(14) == Some('5');
        if name_based && label.id() != meta.id {
            return Err(format!(
                "a label with a name-based (UUIDv5) id must carry its canonical id {}",
                label.id()
            ));
        }
    }
    Ok(())
}

/// The release facts of an object created by `originator` (of `nation`): its label set is
/// its object-level markings plus granular ones on required properties, with the default
/// label when it has no object-level marking.
pub fn release_facts(meta: &ObjectMeta, originator: &str, nation: &str) -> ReleaseFacts {
    let mut set: Vec<String> = meta.object_marking_refs.clone();
    for g in &meta.granular_markings {
        if let Some(m) = &g.marking_ref {
            let on_required = g
                .selectors
                .iter()
                .any(|s| !s.contains('.') && is_required_property(&meta.object_type, s));
            if on_required {
                set.push(m.clone());
            }
        }
    }
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
        },
        endpoints: meta.endpoints.clone(),
        object_refs: meta.object_refs.clone(),
    }
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
    let filter = view.filter(reader);
    let mut q = relto_store::ObjectQuery::new(collection, 1);
    q.ids = vec![obj.stix_id.clone()];
    q.with_raw = false;
    q.reader = Some(filter.clone());
    if store.query_objects(&q).await?.items.is_empty() {
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
    if obj.originator == reader.organization {
        return Ok(Decision::Allow);
    }
    let granular = granular_of(value);
    let mut removed =
        match view
            .policy
            .granular_decision(obj.object_type(), &granular, reader, required)
        {
            Decision::Redact(s) => s,
            Decision::Deny(why) => return Ok(Decision::Deny(why)),
            Decision::Allow => Vec::new(),
        };
    let hidden: HashSet<String> = store
        .hidden_refs(collection, &[obj.row], &filter)
        .await?
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    if let Some(refs) = value.get("object_refs").and_then(Value::as_array) {
        for (n, r) in refs.iter().enumerate() {
            if r.as_str().is_none_or(|r| hidden.contains(r)) {
                removed.push(format!("object_refs.[{n}]"));
            }
        }
    }
    Ok(if removed.is_empty() {
        Decision::Allow
    } else {
        Decision::Redact(removed)
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
        .map(|a| a.organization.nation.clone())
        .unwrap_or_default();
    let mut by_org: Vec<(String, String, Decision)> = Vec::new();
    for a in accounts.iter().filter(|a| !a.has_role("admin")) {
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
            None => by_org.push((a.organization.slug.clone(), a.name.clone(), d)),
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
        let member = Reader {
            organization: String::new(),
            nation: String::new(),
            accredited: vec![c.clone()],
            clearances: top_clearances.clone(),
        };
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
