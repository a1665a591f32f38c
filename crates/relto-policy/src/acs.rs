//! The ACS 3.0 marking (the Access Control Specification that CISA's AIS uses, carried as the
//! STIX extension [`ACS_EXTENSION`]) read as a relto label, and a relto label written as one.
//!
//! Reading follows the table in `docs/interop.md`: the classification becomes a level of the
//! realm's `USA` policy; who may read is what `access_privilege`, `further_sharing` and the
//! control set all allow (their intersection: every read through the hub is a further
//! sharing); `sensitivity`, `caveat` and `sci_controls` become restrictive categories. What
//! relto cannot express exactly (an unknown nation or property, a limit by shareability or
//! entity, a denial out of "everyone") is not guessed at: [`to_label`] says why, and the
//! realm's default label applies instead.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::decide::ReleasePolicy;
use crate::label::Label;
use crate::nation::Nation;

pub const ACS_EXTENSION: &str = "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce";

/// The realm policy whose levels ACS classifications are (declared in the realm file).
pub const ACS_POLICY: &str = "USA";

const CLASSIFICATIONS: [&str; 4] = ["U", "C", "S", "TS"];

/// Organization tokens without a nation: US sectors, and (in `further_sharing`) foreign
/// governments.
const SECTORS: [&str; 8] = [
    "CDC",
    "CIKR",
    "DIB",
    "FIN",
    "ISAC",
    "NONFED",
    "PRIVATESECTOR",
    "SECTOR",
];

/// ACS's `control_set.sensitivity` and `caveat` values: the categories a label can carry into
/// an ACS marking.
const ACS_SENSITIVITIES: [&str; 7] = [
    "NTOC_DHS_ECYBER_SVC_SHARE.NSA.NSA",
    "PCII",
    "LES",
    "INT",
    "PII",
    "PR",
    "TEI",
];
const ACS_CAVEATS: [&str; 3] = ["FISA", "POSSIBLEPII", "CISAPROPRIETARY"];

/// The top-level properties ACS 3.0 defines (its schema allows no others).
const KNOWN: [&str; 17] = [
    "extension_type",
    "identifier",
    "name",
    "create_date_time",
    "responsible_entity_custodian",
    "responsible_entity_originator",
    "authority_reference",
    "policy_reference",
    "original_classification",
    "derivative_classification",
    "declassification",
    "resource_disposition",
    "public_release",
    "access_privilege",
    "further_sharing",
    "control_set",
    "extensions",
];

const CONTROL_SET: [&str; 10] = [
    "classification",
    "formal_determination",
    "caveat",
    "sensitivity",
    "shareability",
    "entity",
    "sci_controls",
    "logical_authority_category",
    "permitted_nationalities",
    "permitted_organizations",
];

/// One entry of who may read: a nation, an ACS organization token under a nation
/// (`USA.DHS`, its nation prefix canonical), or a sector (`CIKR`, `FIN`: no nation's, and
/// never the nation of the same letters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Entry {
    Nation(String),
    Organization(String),
    Sector(String),
}

impl Entry {
    /// Whether everything `self` names is within `outer` (`USA.DHS.US-CERT` is within `USA.DHS`
    /// and within `USA`); a sector is within itself only.
    fn within(&self, outer: &Entry) -> bool {
        let under = |inner: &str, outer: &str| {
            inner == outer
                || inner
                    .strip_prefix(outer)
                    .is_some_and(|rest| rest.starts_with('.'))
        };
        match (self, outer) {
            (Entry::Nation(a), Entry::Nation(b)) | (Entry::Sector(a), Entry::Sector(b)) => a == b,
            (Entry::Organization(t), Entry::Nation(n) | Entry::Organization(n)) => under(t, n),
            _ => false,
        }
    }

    /// Whether the two may share a reader without one lying within the other: a sector and
    /// anything but itself (a sector's members have nations and units relto cannot see).
    fn may_overlap(&self, other: &Entry) -> bool {
        match (self, other) {
            (Entry::Sector(a), Entry::Sector(b)) => a == b,
            (Entry::Sector(_), _) | (_, Entry::Sector(_)) => true,
            _ => self.within(other) || other.within(self),
        }
    }

    /// The entry as a `releasable_to` value: a nation code, a token as it is (`USA.USG`, a
    /// community the realm may declare), a sector as `ACS:FIN`.
    fn releasable_to(&self) -> String {
        match self {
            Entry::Nation(n) | Entry::Organization(n) => n.clone(),
            Entry::Sector(t) => format!("ACS:{t}"),
        }
    }
}

/// Who may read, as a scope narrows it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reach {
    All,
    Only(BTreeSet<Entry>),
}

impl Reach {
    fn nobody() -> Reach {
        Reach::Only(BTreeSet::new())
    }

    /// Readers both allow: the narrower of each pair of entries that nest.
    fn and(self, other: Reach) -> Reach {
        match (self, other) {
            (Reach::All, r) | (r, Reach::All) => r,
            (Reach::Only(a), Reach::Only(b)) => Reach::Only(
                a.iter()
                    .flat_map(|x| b.iter().map(move |y| (x, y)))
                    .filter_map(|(x, y)| {
                        if x.within(y) {
                            Some(x.clone())
                        } else if y.within(x) {
                            Some(y.clone())
                        } else {
                            None
                        }
                    })
                    .collect(),
            ),
        }
    }

    /// Readers either allows.
    fn or(self, other: Reach) -> Reach {
        match (self, other) {
            (Reach::All, _) | (_, Reach::All) => Reach::All,
            (Reach::Only(mut a), Reach::Only(b)) => {
                a.extend(b);
                Reach::Only(a)
            }
        }
    }

    /// `self` without what `denied` names; Err when that cannot be listed (a part of "all",
    /// or of a nation).
    fn without(self, denied: Reach, what: &str) -> Result<Reach, String> {
        let Reach::Only(denied) = denied else {
            return Ok(Reach::nobody());
        };
        let Reach::Only(allowed) = self else {
            return Err(format!(
                "{what} denies {} out of everyone: relto labels list who may read, not who may not",
                names(&denied)
            ));
        };
        let mut kept = BTreeSet::new();
        for x in allowed {
            if denied.iter().any(|d| x.within(d)) {
                continue;
            }
            if let Some(d) = denied.iter().find(|d| d.may_overlap(&x)) {
                return Err(format!(
                    "{what} denies {} within {}: relto cannot take part of it away",
                    d.releasable_to(),
                    x.releasable_to()
                ));
            }
            kept.insert(x);
        }
        Ok(Reach::Only(kept))
    }
}

fn names(entries: &BTreeSet<Entry>) -> String {
    entries
        .iter()
        .map(Entry::releasable_to)
        .collect::<Vec<_>>()
        .join(", ")
}

fn strings<'a>(value: &'a Value, what: &str) -> Result<Vec<&'a str>, String> {
    value
        .as_array()
        .filter(|items| !items.is_empty())
        .and_then(|items| items.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
        .ok_or_else(|| format!("{what} must be a non-empty list of strings"))
}

fn is_all(items: &[&str]) -> bool {
    items == ["ALL"]
}

/// A shareability or entity list (law enforcement, military …): relto cannot tell which
/// readers are what, so it must be `ALL`.
fn unchecked_limit(value: &Value, what: &str) -> Result<(), String> {
    let items = strings(value, what)?;
    if is_all(&items) {
        Ok(())
    } else {
        Err(format!(
            "{what} limits readers to {}, which relto cannot check",
            items.join(", ")
        ))
    }
}

fn nationalities(value: &Value, what: &str) -> Result<Reach, String> {
    let items = strings(value, what)?;
    if is_all(&items) {
        return Ok(Reach::All);
    }
    items
        .iter()
        .map(|code| {
            Nation::assigned(code)
                .map(|n| Entry::Nation(n.as_str().to_string()))
                .ok_or_else(|| format!("{what} names an unknown nation {code}"))
        })
        .collect::<Result<BTreeSet<_>, _>>()
        .map(Reach::Only)
}

/// An organization token: `NATION.UNIT[.SUBUNIT…]` or a sector; `foreign_gov` admits
/// `FOREIGNGOV` (any government, in `further_sharing`).
fn organizations(value: &Value, what: &str, foreign_gov: bool) -> Result<Reach, String> {
    let items = strings(value, what)?;
    if is_all(&items) {
        return Ok(Reach::All);
    }
    let mut out = BTreeSet::new();
    for token in items {
        if foreign_gov && token == "FOREIGNGOV" {
            return Ok(Reach::All);
        }
        let well_formed = token.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        });
        if !well_formed {
            return Err(format!(
                "{what}: '{token}' is not an ACS organization token"
            ));
        }
        let entry = match token.split_once('.') {
            // The nation prefix canonical (`BLG.MOD` is Bulgaria's `BGR.MOD`).
            Some((nation, unit)) => match Nation::assigned(nation) {
                Some(n) => Entry::Organization(format!("{}.{unit}", n.as_str())),
                None => {
                    return Err(format!("{what} names an unknown nation {nation} ({token})"));
                }
            },
            None if SECTORS.contains(&token) => Entry::Sector(token.to_string()),
            None => {
                return Err(format!(
                    "{what}: '{token}' is neither NATION.UNIT nor a sector"
                ));
            }
        };
        out.insert(entry);
    }
    Ok(Reach::Only(out))
}

/// A `privilege_scope`: each dimension narrows (an accessor must match all); relto checks
/// nations and organizations, so shareability and entity must be `ALL`. A denial's scope
/// must name one dimension: "deny GBR's private sector" is no list relto can take away.
fn privilege_scope(scope: &Value, what: &str, denial: bool) -> Result<Reach, String> {
    let Some(fields) = scope.as_object().filter(|f| !f.is_empty()) else {
        return Err(format!("{what}.privilege_scope must be a non-empty object"));
    };
    let narrowing = fields
        .values()
        .filter(|v| v.as_array().is_none_or(|a| a.len() != 1 || a[0] != "ALL"))
        .count();
    if denial && narrowing > 1 {
        return Err(format!(
            "{what} denies by more than one of nations, organizations, shareability and \
             entity, which relto cannot take away exactly"
        ));
    }
    let mut reach = Reach::All;
    for (key, value) in fields {
        let at = format!("{what}.privilege_scope.{key}");
        reach = match key.as_str() {
            "permitted_nationalities" => reach.and(nationalities(value, &at)?),
            "permitted_organizations" => reach.and(organizations(value, &at, false)?),
            "shareability" | "entity" => {
                unchecked_limit(value, &at)?;
                reach
            }
            other => {
                return Err(format!(
                    "{what}.privilege_scope: unknown property '{other}'"
                ))
            }
        };
    }
    Ok(reach)
}

/// `privdefault` and `sharedefault` of a `policy_reference`
/// (`urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=permit`): true for permit.
fn defaults(ext: &Value) -> Result<(bool, bool), String> {
    let text = ext["policy_reference"]
        .as_str()
        .ok_or("policy_reference is missing")?;
    let query = text
        .trim()
        .strip_prefix("urn:isa:policy:acs:ns:v3.0?")
        .ok_or_else(|| format!("policy_reference '{text}' is not an ACS 3.0 policy"))?;
    let value = |key: &str| -> Result<bool, String> {
        let mut found = query
            .split(['&', ' '])
            .filter_map(|pair| pair.strip_prefix(key)?.strip_prefix('='));
        match (found.next(), found.next()) {
            (Some("permit"), None) => Ok(true),
            (Some("deny"), None) => Ok(false),
            (Some(_), Some(_)) => Err(format!(
                "policy_reference '{text}' gives {key} more than once"
            )),
            _ => Err(format!(
                "policy_reference '{text}' gives no {key} of permit or deny"
            )),
        }
    };
    Ok((value("privdefault")?, value("sharedefault")?))
}

/// The rules of one list (`access_privilege` or `further_sharing`): the default, what the
/// permits add, what the denials take away.
fn rules(
    ext: &Value,
    key: &str,
    default_permit: bool,
    scope_of: impl Fn(&Value, &str) -> Result<Reach, String>,
) -> Result<Reach, String> {
    let mut permitted = if default_permit {
        Reach::All
    } else {
        Reach::nobody()
    };
    let Some(list) = ext.get(key) else {
        return Ok(permitted);
    };
    let Some(list) = list.as_array().filter(|l| !l.is_empty()) else {
        return Err(format!("{key} must be a non-empty list"));
    };
    // Reading is displaying: when the marking permits display (`DSPLY` or `ALL`) to some,
    // only those permits say who may read; a marking that permits no display at all (AIS's
    // usual, `CISAUSES` alone) lets its permits of any action say it.
    let displays =
        |rule: &Value| matches!(rule["privilege_action"].as_str(), Some("DSPLY" | "ALL"));
    let display_named = list
        .iter()
        .any(|rule| rule["rule_effect"] == "permit" && displays(rule));
    let mut denied = Vec::new();
    for (i, rule) in list.iter().enumerate() {
        let what = format!("{key}[{i}]");
        let scope = scope_of(rule, &what)?;
        match rule["rule_effect"].as_str() {
            Some("permit") if display_named && !displays(rule) => {}
            Some("permit") => permitted = permitted.or(scope),
            Some("deny") => denied.push(scope),
            _ => return Err(format!("{what}.rule_effect must be permit or deny")),
        }
    }
    for scope in denied {
        permitted = permitted.without(scope, key)?;
    }
    Ok(permitted)
}

fn access_scope(rule: &Value, what: &str) -> Result<Reach, String> {
    if !rule["privilege_action"].is_string() {
        return Err(format!("{what}.privilege_action must be a string"));
    }
    let denial = rule["rule_effect"] == "deny";
    privilege_scope(&rule["privilege_scope"], what, denial)
}

fn sharing_scope(rule: &Value, what: &str) -> Result<Reach, String> {
    let scope = &rule["sharing_scope"];
    // Producers write one token as a string as often as a list.
    let scope = match scope {
        Value::String(s) => json!([s]),
        other => other.clone(),
    };
    organizations(&scope, &format!("{what}.sharing_scope"), true)
}

/// What an ACS marking means as a relto label under `policy`'s rules, or why it cannot be
/// read as one (then the realm's default label applies; see the module's notes).
pub fn to_label(ext: &Value, policy: &ReleasePolicy) -> Result<Label, String> {
    let Some(fields) = ext.as_object() else {
        return Err("the ACS extension is not an object".into());
    };
    if let Some(unknown) = fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "carries '{unknown}', which ACS 3.0 does not define"
        ));
    }
    if ext["extension_type"] != "property-extension" {
        return Err("extension_type must be property-extension".into());
    }
    if !ext["responsible_entity_custodian"].is_string() {
        return Err("responsible_entity_custodian is missing".into());
    }
    let Some(control) = ext["control_set"].as_object() else {
        return Err("control_set is missing".into());
    };
    if let Some(unknown) = control.keys().find(|k| !CONTROL_SET.contains(&k.as_str())) {
        return Err(format!(
            "control_set carries '{unknown}', which ACS 3.0 does not define"
        ));
    }
    let classification = control
        .get("classification")
        .and_then(Value::as_str)
        .filter(|c| CLASSIFICATIONS.contains(c))
        .ok_or("control_set.classification must be U, C, S or TS")?;
    let known_level = policy
        .policy_levels(ACS_POLICY)
        .is_some_and(|levels| levels.iter().any(|l| l == classification));
    if !known_level {
        return Err(format!(
            "the realm declares no level {ACS_POLICY}:{classification} (a [[policy]] with id \
             \"{ACS_POLICY}\" and levels [\"U\", \"C\", \"S\", \"TS\"])"
        ));
    }

    let (privilege_default, share_default) = defaults(ext)?;
    let mut reach = rules(ext, "access_privilege", privilege_default, access_scope)?.and(rules(
        ext,
        "further_sharing",
        share_default,
        sharing_scope,
    )?);
    let mut sensitivity = Vec::new();
    for (key, value) in control {
        let at = format!("control_set.{key}");
        match key.as_str() {
            "classification" | "logical_authority_category" => {}
            "permitted_nationalities" => reach = reach.and(nationalities(value, &at)?),
            "permitted_organizations" => reach = reach.and(organizations(value, &at, false)?),
            "formal_determination" => {
                // NOFORN: no foreign nationals, US readers only.
                if strings(value, &at)?.contains(&"NF") {
                    reach = reach.and(Reach::Only(BTreeSet::from([Entry::Nation("USA".into())])));
                }
            }
            "shareability" | "entity" => unchecked_limit(value, &at)?,
            _ => sensitivity.extend(strings(value, &at)?.into_iter().map(str::to_string)),
        }
    }
    let releasable_to = match reach {
        Reach::All => None,
        // Empty when no one may read: it covers no reader (the originator still sees its
        // own objects). Such a label is never written out as STIX, which forbids empty lists.
        Reach::Only(entries) => Some(entries.iter().map(Entry::releasable_to).collect()),
    };
    Ok(Label {
        policy: ACS_POLICY.into(),
        classification: classification.into(),
        releasable_to,
        sensitivity,
    }
    .normalized())
}

/// `label` as an ACS 3.0 marking-definition (for partners whose tools read ACS), or why ACS
/// cannot say it without saying more: a level with no `USA` level declared equal, a
/// releasability to an organization or a community of organizations, a category ACS does not
/// have. Its id is derived from the label's, so that every export gives the same bytes, in
/// the form of a random (version 4) UUID: name-based ids are relto labels' own.
pub fn to_marking_definition(
    label: &Label,
    policy: &ReleasePolicy,
    custodian_nation: &str,
    created: &str,
) -> Result<Value, String> {
    let name = label.display_name();
    let classification = if label.policy == ACS_POLICY {
        label.classification.clone()
    } else {
        policy
            .equivalent_level(&label.policy, &label.classification, ACS_POLICY)
            .ok_or_else(|| {
                format!(
                    "{name}: no {ACS_POLICY} level is declared equal to {}:{}",
                    label.policy, label.classification
                )
            })?
    };
    if !CLASSIFICATIONS.contains(&classification.as_str()) {
        return Err(format!(
            "{name}: {ACS_POLICY}:{classification} is not an ACS classification"
        ));
    }
    let mut nations = BTreeSet::new();
    for entry in label.releasable_to.iter().flatten() {
        if policy.community(entry).is_some() {
            // A community covers the organizations accredited to it or named in it, not
            // every organization of its nations: as nations ACS would say more.
            return Err(format!(
                "{name}: REL TO {entry}, a community of accredited organizations, which ACS \
                 cannot list"
            ));
        } else if let Some(n) = Nation::assigned(entry) {
            nations.insert(n.as_str().to_string());
        } else {
            return Err(format!(
                "{name}: REL TO {entry} names an organization, which ACS cannot list"
            ));
        }
    }
    let mut control = json!({"classification": classification});
    for s in &label.sensitivity {
        let key = if ACS_SENSITIVITIES.contains(&s.as_str()) {
            "sensitivity"
        } else if ACS_CAVEATS.contains(&s.as_str()) {
            "caveat"
        } else {
            return Err(format!("{name}: ACS has no category {s}"));
        };
        match control[key].as_array_mut() {
            Some(list) => list.push(json!(s)),
            None => control[key] = json!([s]),
        }
    }
    let nationalities: Vec<String> = if label.releasable_to.is_none() {
        vec!["ALL".into()]
    } else {
        nations.into_iter().collect()
    };
    let derived = Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("acs:{}", label.id()).as_bytes(),
    );
    let mut bytes = *derived.as_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    let uuid = Uuid::from_bytes(bytes);
    Ok(json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": format!("marking-definition--{uuid}"),
        "created": created,
        "extensions": {ACS_EXTENSION: {
            "extension_type": "property-extension",
            "identifier": format!("isa:guide.19001.ACS3-{uuid}"),
            "name": name,
            "create_date_time": created,
            "responsible_entity_custodian": format!("{custodian_nation}.RELTO"),
            // Every reader must pass access_privilege; recipients may pass it on to those
            // who do.
            "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=permit",
            "access_privilege": [{
                "privilege_action": "ALL",
                "privilege_scope": {"permitted_nationalities": nationalities},
                "rule_effect": "permit",
            }],
            "control_set": control,
        }},
    }))
}

/// Adds, to each object of an export, the ACS marking of each relto label it carries (whole
/// or in part), beside the label; collects the definitions to send with them and the labels
/// ACS cannot say.
pub struct AcsMarker<'a> {
    policy: &'a ReleasePolicy,
    custodian_nation: String,
    created: String,
    /// By label id: the ACS marking-definition, or why there is none.
    by_label: std::collections::BTreeMap<String, Result<Value, String>>,
}

impl<'a> AcsMarker<'a> {
    pub fn new(policy: &'a ReleasePolicy, custodian_nation: &str, created: &str) -> Self {
        Self {
            policy,
            custodian_nation: custodian_nation.to_string(),
            created: created.to_string(),
            by_label: Default::default(),
        }
    }

    fn acs_id(&mut self, label_id: &str) -> Option<String> {
        let Some(crate::Marking::Label(label)) = self.policy.marking(label_id) else {
            return None;
        };
        let (policy, nation, created) = (self.policy, &self.custodian_nation, &self.created);
        let entry = self
            .by_label
            .entry(label_id.to_string())
            .or_insert_with(|| to_marking_definition(label, policy, nation, created));
        entry
            .as_ref()
            .ok()
            .and_then(|md| md["id"].as_str().map(str::to_string))
    }

    /// Marks `object`; true when it changed.
    pub fn mark(&mut self, object: &mut Value) -> bool {
        let mut changed = false;
        if let Some(refs) = object
            .get_mut("object_marking_refs")
            .and_then(Value::as_array_mut)
        {
            let labels: Vec<String> = refs
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect();
            for id in labels.iter().filter_map(|l| self.acs_id(l)) {
                if !refs.iter().any(|r| r == id.as_str()) {
                    refs.push(json!(id));
                    changed = true;
                }
            }
        }
        if let Some(granular) = object
            .get_mut("granular_markings")
            .and_then(Value::as_array_mut)
        {
            let mut added = Vec::new();
            for g in granular.iter() {
                let Some(label) = g["marking_ref"].as_str() else {
                    continue;
                };
                if let Some(id) = self.acs_id(label) {
                    added.push(json!({"marking_ref": id, "selectors": g["selectors"].clone()}));
                }
            }
            changed |= !added.is_empty();
            granular.extend(added);
        }
        changed
    }

    /// The ACS marking-definitions the marked objects name, and each label without one
    /// (its name and why).
    pub fn finish(self) -> (Vec<Value>, Vec<String>) {
        let (mut definitions, mut refused) = (Vec::new(), Vec::new());
        for (_, entry) in self.by_label {
            match entry {
                Ok(md) => definitions.push(md),
                Err(why) => refused.push(why),
            }
        }
        (definitions, refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{Clearance, DefaultLabel, Policy, Reader, ReleaseRules};
    use crate::label::Marking;

    fn realm(with_usa: bool) -> ReleasePolicy {
        let mut rules = ReleaseRules::default();
        if with_usa {
            rules.policies.push(Policy {
                id: "USA".into(),
                levels: CLASSIFICATIONS.iter().map(|l| l.to_string()).collect(),
            });
            rules.equivalences = vec![
                ("USA:S".into(), "KOR:II".into()),
                ("USA:S".into(), "NATO:NS".into()),
            ];
        }
        rules.default_label = Some(Label::new("KOR", "II", Some(&["KOR"]), &[]));
        ReleasePolicy::from_rules(&rules).unwrap()
    }

    /// An AIS-style marking (the shape of the OASIS stix-elevator's AIS samples) with
    /// `changes` merged into its top level, or into `control_set` for keys under it.
    fn acs(changes: Value) -> Value {
        let mut ext = json!({
            "extension_type": "property-extension",
            "identifier": "isa:guide.19001.40af97be-00bf-4648-9e70-296a6a8eda01",
            "create_date_time": "2014-09-30T19:00:00.000000Z",
            "responsible_entity_custodian": "USA.NSA",
            "responsible_entity_originator": "USA.USG",
            "authority_reference": ["urn:isa:authority:misa"],
            "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=deny",
            "access_privilege": [{"privilege_action": "CISAUSES",
                "privilege_scope": {"entity": ["ALL"], "permitted_nationalities": ["ALL"],
                    "permitted_organizations": ["ALL"], "shareability": ["ALL"]},
                "rule_effect": "permit"}],
            "further_sharing": [{"rule_effect": "permit", "sharing_scope": ["USA.USG"]}],
            "control_set": {"classification": "U", "formal_determination": ["AIS", "FOUO"]}
        });
        for (k, v) in changes.as_object().unwrap() {
            if CONTROL_SET.contains(&k.as_str()) && !KNOWN.contains(&k.as_str()) {
                ext["control_set"][k] = v.clone();
            } else if v.is_null() {
                ext.as_object_mut().unwrap().remove(k);
            } else {
                ext[k] = v.clone();
            }
        }
        ext
    }

    fn read(changes: Value) -> Result<String, String> {
        to_label(&acs(changes), &realm(true)).map(|l| l.display_name())
    }

    fn nations_permit(nations: &[&str]) -> Value {
        json!([{"privilege_action": "DSPLY", "rule_effect": "permit",
                "privilege_scope": {"permitted_nationalities": nations}}])
    }

    #[test]
    fn reads_the_table() {
        // The AIS default: everyone may use it, recipients may share it within the US
        // government: readers in the realm's community USA.USG.
        assert_eq!(read(json!({})).unwrap(), "USA:U // REL TO USA.USG");
        let foreign =
            json!([{"rule_effect": "permit", "sharing_scope": ["USA.USG", "FOREIGNGOV"]}]);
        assert_eq!(
            read(json!({"further_sharing": foreign.clone(),
                "access_privilege": nations_permit(&["USA", "GBR", "CAN", "AUS", "NZL"])}))
            .unwrap(),
            "USA:U // REL TO AUS, CAN, GBR, NZL, USA"
        );
        // Public release: no restriction but the level.
        assert_eq!(
            read(json!({"access_privilege": null, "further_sharing": null,
                "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=permit&sharedefault=permit",
                "formal_determination": ["PUBREL"]}))
            .unwrap(),
            "USA:U"
        );
        // NOFORN, the level, and the categories (sensitivity and caveats must be held).
        assert_eq!(
            read(
                json!({"further_sharing": foreign.clone(), "classification": "S",
                "formal_determination": ["NF"], "sensitivity": ["PII"], "caveat": ["FISA"]})
            )
            .unwrap(),
            "USA:S // REL TO USA // FISA, PII"
        );
        // Nations meet organization tokens: the narrower stays.
        assert_eq!(
            read(json!({"access_privilege": nations_permit(&["GBR", "USA"])})).unwrap(),
            "USA:U // REL TO USA.USG"
        );
        // Display permitted to the USA alone: a permit of another action (legal action) to
        // others does not let them read.
        let mut legal = nations_permit(&["USA"]);
        legal.as_array_mut().unwrap().push(json!({"privilege_action": "LEGAL",
            "rule_effect": "permit", "privilege_scope": {"permitted_nationalities": ["GBR", "FRA"]}}));
        assert_eq!(
            read(json!({"access_privilege": legal, "further_sharing": foreign.clone()})).unwrap(),
            "USA:U // REL TO USA"
        );
        // A denial out of a list is taken away; GENC's Kosovo is a nation.
        let mut rules = nations_permit(&["DEU", "FRA", "XKS"]);
        rules
            .as_array_mut()
            .unwrap()
            .push(json!({"privilege_action": "ALL",
            "rule_effect": "deny", "privilege_scope": {"permitted_nationalities": ["DEU"]}}));
        assert_eq!(
            read(json!({"access_privilege": rules, "further_sharing": foreign.clone()})).unwrap(),
            "USA:U // REL TO FRA, XKS"
        );
        // Sectors are communities, never the nation of the same letters (FIN).
        assert_eq!(
            read(json!({"further_sharing": [{"rule_effect": "permit", "sharing_scope": "FIN"}]}))
                .unwrap(),
            "USA:U // REL TO ACS:FIN"
        );
        // No one may read.
        let nobody = to_label(&acs(json!({"access_privilege": null})), &realm(true)).unwrap();
        assert_eq!(nobody.releasable_to, Some(vec![]));
        assert_eq!(nobody.display_name(), "USA:U // REL TO no one");
        // The sector FIN is not Finland, nor is a Finnish unit within it.
        let fin = json!([{"rule_effect": "permit", "sharing_scope": ["FIN"]}]);
        assert_eq!(
            read(json!({"access_privilege": nations_permit(&["FIN"]), "further_sharing": fin}))
                .unwrap(),
            "USA:U // REL TO no one"
        );
        assert_eq!(
            read(json!({"further_sharing": [{"rule_effect": "permit", "sharing_scope": ["FIN", "FIN.MOD"]}],
                "access_privilege": nations_permit(&["FIN"])}))
            .unwrap(),
            "USA:U // REL TO FIN.MOD"
        );
        // A token's nation by its alias is the nation (Bulgaria's BLG).
        assert_eq!(
            read(json!({"further_sharing": [{"rule_effect": "permit", "sharing_scope": ["BLG.MOD"]}]}))
                .unwrap(),
            "USA:U // REL TO BGR.MOD"
        );
    }

    #[test]
    fn what_relto_cannot_say_is_refused_with_the_reason() {
        let cases = [
            (
                json!({"access_privilege": nations_permit(&["USA", "XXX"])}),
                "unknown nation XXX",
            ),
            (
                json!({"further_sharing": [{"rule_effect": "permit", "sharing_scope": ["QQQ.GOV"]}]}),
                "unknown nation QQQ",
            ),
            (
                json!({"access_privilege": [{"privilege_action": "DSPLY", "rule_effect": "permit",
                    "privilege_scope": {"permitted_nationalities": ["USA"], "shareability": ["LE"]}}]}),
                "limits readers to LE",
            ),
            (json!({"entity": ["MIL"]}), "limits readers to MIL"),
            (
                json!({"access_privilege": [{"privilege_action": "DSPLY", "rule_effect": "deny",
                    "privilege_scope": {"permitted_nationalities": ["RUS"]}}],
                    "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=permit&sharedefault=permit"}),
                "denies RUS out of everyone",
            ),
            (
                json!({"further_sharing": [{"rule_effect": "permit", "sharing_scope": ["USA.DHS"]},
                    {"rule_effect": "deny", "sharing_scope": ["USA.DHS.US-CERT"]}]}),
                "denies USA.DHS.US-CERT within USA.DHS",
            ),
            (json!({"classification": "NS"}), "must be U, C, S or TS"),
            (json!({"x_extra": 1}), "carries 'x_extra'"),
            (
                json!({"policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=deny&privdefault=permit"}),
                "gives privdefault more than once",
            ),
            // A denial of GBR's private sector is no list relto can take away.
            (
                json!({"access_privilege": [
                    {"privilege_action": "DSPLY", "rule_effect": "permit",
                        "privilege_scope": {"permitted_nationalities": ["GBR", "USA"]}},
                    {"privilege_action": "DSPLY", "rule_effect": "deny",
                        "privilege_scope": {"permitted_nationalities": ["GBR"], "permitted_organizations": ["PRIVATESECTOR"]}}]}),
                "denies by more than one of",
            ),
            // A sector denied out of a list with a token: its members may be among them.
            (
                json!({"further_sharing": [{"rule_effect": "permit", "sharing_scope": ["USA.USG"]},
                    {"rule_effect": "deny", "sharing_scope": ["CIKR"]}]}),
                "denies ACS:CIKR within USA.USG",
            ),
            (
                json!({"policy_reference": "urn:other"}),
                "is not an ACS 3.0 policy",
            ),
            (json!({"control_set": null}), "control_set is missing"),
            (
                json!({"further_sharing": [{"rule_effect": "maybe", "sharing_scope": ["USA.USG"]}]}),
                "permit or deny",
            ),
        ];
        for (changes, why) in cases {
            let err = read(changes.clone()).unwrap_err();
            assert!(err.contains(why), "{changes}: {err}");
        }
        let err = to_label(&acs(json!({})), &realm(false)).unwrap_err();
        assert!(err.contains("no level USA:U"), "{err}");
        assert!(to_label(&json!("ACS"), &realm(true)).is_err());
    }

    fn reader(nation: &str, policy: &str, level: &str) -> Reader {
        Reader {
            organization: format!("{}-org", nation.to_lowercase()).parse().unwrap(),
            nation: Nation::parse(nation).unwrap(),
            accredited: vec![],
            clearances: vec![Clearance {
                policy: policy.into(),
                level: level.into(),
                sensitivity: vec![],
            }],
        }
    }

    #[test]
    fn decisions_follow_the_reading_or_the_default_label() {
        let mut policy = realm(true);
        let mapped = acs(json!({"further_sharing": null,
            "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=permit",
            "access_privilege": nations_permit(&["KOR", "USA"]), "classification": "S"}));
        let unknown = acs(json!({"access_privilege": nations_permit(&["KOR", "ZZZ"])}));
        policy.add_marking("marking-definition--mapped", Marking::Acs(mapped));
        policy.add_marking("marking-definition--unknown", Marking::Acs(unknown.clone()));
        let kor = reader("KOR", "KOR", "II");
        let kor_low = reader("KOR", "KOR", "III");
        let gbr = reader("GBR", "NATO", "NS");
        // USA:S // REL TO KOR, USA: KOR:II ≡ USA:S passes; KOR:III does not; GBR is not
        // among the nations.
        assert_eq!(
            policy.marking_denial("marking-definition--mapped", &kor),
            None
        );
        assert!(policy
            .marking_denial("marking-definition--mapped", &kor_low)
            .is_some());
        assert!(policy
            .marking_denial("marking-definition--mapped", &gbr)
            .unwrap()
            .contains("releasability"));
        // Not mapped: the default label KOR:II // REL TO KOR decides.
        assert_eq!(
            policy.marking_denial("marking-definition--unknown", &kor),
            None
        );
        assert!(policy
            .marking_denial("marking-definition--unknown", &gbr)
            .is_some());
        let note = policy.read_acs(&unknown).note();
        assert!(note.contains("unknown nation ZZZ") && note.contains("KOR:II // REL TO KOR"));
        // No default label: it denies everyone.
        let mut bare = realm(true);
        bare.default_label = DefaultLabel::OriginatorNation;
        bare.add_marking("marking-definition--unknown", Marking::Acs(unknown));
        assert!(bare
            .marking_denial("marking-definition--unknown", &kor)
            .is_some());
    }

    #[test]
    fn labels_written_as_acs_read_back_the_same() {
        let policy = realm(true);
        for (label, back) in [
            (
                Label::new("USA", "S", Some(&["KOR", "GBR"]), &["PII"]),
                "USA:S // REL TO GBR, KOR // PII",
            ),
            (Label::new("USA", "U", None, &[]), "USA:U"),
            (
                Label::new("NATO", "NS", Some(&["KOR"]), &[]),
                "USA:S // REL TO KOR",
            ),
        ] {
            let md =
                to_marking_definition(&label, &policy, "KOR", "2026-12-06T00:00:00.000Z").unwrap();
            let again =
                to_marking_definition(&label, &policy, "KOR", "2026-12-06T00:00:00.000Z").unwrap();
            assert_eq!(md, again, "deterministic");
            let id = md["id"].as_str().unwrap();
            assert_eq!(id.chars().nth(34), Some('4'), "{id} is version 4 in form");
            assert!(
                md.get("name").is_none(),
                "misp-stix reads ACS only without a top-level name"
            );
            let read = to_label(&md["extensions"][ACS_EXTENSION], &policy).unwrap();
            assert_eq!(read.display_name(), back);
        }
        for (label, why) in [
            // REL TO NATO covers NATO-accredited organizations, not every organization of
            // the 32 nations: as nations ACS would say more.
            (
                Label::new("NATO", "NS", Some(&["NATO"]), &[]),
                "a community of accredited",
            ),
            (
                Label::new("NATO", "NS", Some(&["kor-nis"]), &[]),
                "organization",
            ),
            (
                Label::new("NATO", "NS", None, &["ATOMAL"]),
                "no category ATOMAL",
            ),
            (Label::new("NATO", "NC", None, &[]), "no USA level"),
        ] {
            let err = to_marking_definition(&label, &policy, "KOR", "2026-12-06T00:00:00.000Z")
                .unwrap_err();
            assert!(err.contains(why), "{err}");
        }
    }
}
