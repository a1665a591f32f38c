//! The release decision of DESIGN §3: for one object and one reader, Allow, Redact (which
//! properties) or Deny (why). Pure and fail-closed: anything unknown denies.

use crate::PolicyError;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::label::{Label, Marking};
use crate::nation::{Nation, OrgSlug};

/// A classification scheme with ordered levels (lowest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub id: String,
    pub levels: Vec<String>,
}

/// A named set of nations and organizations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Community {
    pub id: String,
    #[serde(default)]
    pub nations: Vec<String>,
    #[serde(default)]
    pub organizations: Vec<String>,
}

/// What an account is cleared for in one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clearance {
    pub policy: String,
    pub level: String,
    #[serde(default)]
    pub sensitivity: Vec<String>,
}

/// Who reads: the account's organization, its nation and accreditations, and the account's
/// clearances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub organization: OrgSlug,
    pub nation: Nation,
    pub accredited: Vec<String>,
    pub clearances: Vec<Clearance>,
}

impl Reader {
    /// A reader that holds `clearances` and belongs to `community` and nothing else: no
    /// nation, no organization (empty text, which no releasability entry or originator
    /// equals). The preview's community rows.
    pub fn community_member(community: String, clearances: Vec<Clearance>) -> Reader {
        Reader {
            organization: OrgSlug::nobody(),
            nation: Nation::nowhere(),
            accredited: vec![community],
            clearances,
        }
    }
}

/// What the decision needs to know of one object.
#[derive(Debug, Clone, Copy)]
pub struct ObjectFacts<'a> {
    pub object_type: &'a str,
    /// Slug of the organization that created the object.
    pub originator: &'a str,
    pub originator_nation: &'a str,
    pub marking_refs: &'a [String],
    /// (marking_ref, selectors) of each granular marking that names a marking.
    pub granular: &'a [(String, Vec<String>)],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Allowed with these selectors removed.
    Redact(Vec<String>),
    Deny(String),
}

/// The label applied to objects that carry no object-level marking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultLabel {
    /// Releasable to the originator's nation only (the shipped default).
    OriginatorNation,
    Label(Label),
}

impl DefaultLabel {
    /// The realm's default label, when it declares one.
    pub fn label(&self) -> Option<&Label> {
        match self {
            DefaultLabel::Label(l) => Some(l),
            DefaultLabel::OriginatorNation => None,
        }
    }
}

/// What the realm declares of the release rules (beyond the built-in ones); kept by the store
/// as data and turned into a [`ReleasePolicy`] with the known markings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRules {
    pub policies: Vec<Policy>,
    /// Pairs of `POLICY:LEVEL` declared equal by agreement.
    pub equivalences: Vec<(String, String)>,
    pub communities: Vec<Community>,
    /// None: objects without markings are releasable to the originator's nation only.
    pub default_label: Option<Label>,
}

/// The realm's rules: policies, equivalences, communities, the known markings.
#[derive(Debug, Clone)]
pub struct ReleasePolicy {
    policies: HashMap<String, Vec<String>>,
    /// Each configured equivalence in both directions: (policy, level) ≡ (policy, level).
    equivalences: Vec<((String, String), (String, String))>,
    communities: HashMap<String, Community>,
    /// Every known marking as posted.
    markings: HashMap<String, Marking>,
    /// How each ACS marking reads under these rules (read once, when added).
    acs_readings: HashMap<String, AcsReading>,
    pub default_label: DefaultLabel,
}

/// How an ACS marking reads under a realm's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcsReading {
    Mapped(Label),
    /// It cannot be read as a label, for `reason`: the default label applies, if the realm
    /// declares one; else the marking denies every reader (its originator still sees its
    /// own objects).
    Default {
        reason: String,
        label: Option<Label>,
    },
}

impl AcsReading {
    /// The label the marking stands for in decisions.
    pub fn label(&self) -> Option<&Label> {
        match self {
            AcsReading::Mapped(l) => Some(l),
            AcsReading::Default { label, .. } => label.as_ref(),
        }
    }

    /// What relto made of it, in words for a status or a page.
    pub fn note(&self) -> String {
        match self {
            AcsReading::Mapped(l) => format!("ACS marking read as {}", l.display_name()),
            AcsReading::Default {
                reason,
                label: Some(l),
            } => format!(
                "ACS marking not mapped ({reason}): the default label {} applies",
                l.display_name()
            ),
            AcsReading::Default {
                reason,
                label: None,
            } => format!(
                "ACS marking not mapped ({reason}) and the realm declares no default label: \
                 only the originator's organization may read what it marks"
            ),
        }
    }
}

/// Is type `t` one whose selected required property denies the whole object?
pub type RequiredCheck = fn(&str, &str) -> bool;

impl ReleasePolicy {
    /// The built-in policies (NATO, EU, KOR) and communities (NATO, EU), plus TLP.
    pub fn builtin() -> Self {
        let mut p = Self {
            policies: HashMap::new(),
            equivalences: Vec::new(),
            communities: HashMap::new(),
            markings: HashMap::new(),
            acs_readings: HashMap::new(),
            default_label: DefaultLabel::OriginatorNation,
        };
        for (id, levels) in [
            ("NATO", &["NU", "NR", "NC", "NS", "CTS"][..]),
            ("EU", &["EU-R", "EU-C", "EU-S", "EU-TS"][..]),
            ("KOR", &["III", "II", "I"][..]),
        ] {
            p.add_policy(Policy {
                id: id.into(),
                levels: levels.iter().map(|s| s.to_string()).collect(),
            });
        }
        for (id, members) in [
            ("NATO", &crate::nation::NATO_MEMBERS[..]),
            ("EU", &crate::nation::EU_MEMBERS[..]),
        ] {
            p.add_community(Community {
                id: id.into(),
                nations: members.iter().map(|s| s.to_string()).collect(),
                organizations: Vec::new(),
            });
        }
        for id in crate::label::TLP_IDS {
            p.add_marking(id, Marking::NonRestrictive);
        }
        p
    }

    /// The built-in rules plus the realm's.
    pub fn from_rules(rules: &ReleaseRules) -> Result<Self, PolicyError> {
        let mut p = Self::builtin();
        for policy in &rules.policies {
            p.add_policy(policy.clone());
        }
        for c in &rules.communities {
            p.add_community(c.clone());
        }
        for (a, b) in &rules.equivalences {
            let split = |s: &str| -> Result<(String, String), PolicyError> {
                s.split_once(':')
                    .map(|(p, l)| (p.to_string(), l.to_string()))
                    .ok_or_else(|| {
                        PolicyError::Rules(format!("equivalence '{s}' is not POLICY:LEVEL"))
                    })
            };
            let (a, b) = (split(a)?, split(b)?);
            p.add_equivalence((&a.0, &a.1), (&b.0, &b.1))?;
        }
        if let Some(l) = &rules.default_label {
            p.default_label = DefaultLabel::Label(l.clone());
        }
        Ok(p)
    }

    /// Whether the reader's organization belongs to community `id` (accredited to it, or
    /// named in it).
    pub fn in_community(&self, id: &str, reader: &Reader) -> bool {
        reader.accredited.iter().any(|a| a == id)
            || self
                .communities
                .get(id)
                .is_some_and(|c| c.organizations.iter().any(|o| o == &reader.organization))
    }

    pub fn add_policy(&mut self, policy: Policy) {
        self.policies.insert(policy.id, policy.levels);
    }

    pub fn add_community(&mut self, community: Community) {
        self.communities.insert(community.id.clone(), community);
    }

    /// Configures `a ≡ b`, each `POLICY:LEVEL`; both must be known.
    pub fn add_equivalence(&mut self, a: (&str, &str), b: (&str, &str)) -> Result<(), PolicyError> {
        for (p, l) in [a, b] {
            if self.level_index(p, l).is_none() {
                return Err(PolicyError::Rules(format!(
                    "equivalence names unknown level {p}:{l}"
                )));
            }
        }
        let a = (a.0.to_string(), a.1.to_string());
        let b = (b.0.to_string(), b.1.to_string());
        self.equivalences.push((a.clone(), b.clone()));
        self.equivalences.push((b, a));
        Ok(())
    }

    /// Adds a known marking. An ACS marking is read under the rules as they stand: add
    /// markings after the policies, communities and default label.
    pub fn add_marking(&mut self, id: &str, marking: Marking) {
        if let Marking::Acs(ext) = &marking {
            let reading = self.read_acs(ext);
            self.acs_readings.insert(id.to_string(), reading);
        }
        self.markings.insert(id.to_string(), marking);
    }

    /// How the known ACS marking `id` reads under these rules.
    pub fn acs_reading(&self, id: &str) -> Option<&AcsReading> {
        self.acs_readings.get(id)
    }

    /// How the ACS marking extension `ext` reads under these rules.
    pub fn read_acs(&self, ext: &serde_json::Value) -> AcsReading {
        match crate::acs::to_label(ext, self) {
            Ok(l) => AcsReading::Mapped(l),
            Err(reason) => AcsReading::Default {
                reason,
                label: self.default_label.label().cloned(),
            },
        }
    }

    /// The level of `target` declared equal to `policy:level`, if one is.
    pub fn equivalent_level(&self, policy: &str, level: &str, target: &str) -> Option<String> {
        self.equivalences
            .iter()
            .find(|((p, l), (t, _))| p == policy && l == level && t == target)
            .map(|(_, (_, l))| l.clone())
    }

    /// Registers a label under its deterministic id and returns the id.
    pub fn add_label(&mut self, label: Label) -> String {
        let id = label.id();
        self.markings.insert(id.clone(), Marking::Label(label));
        id
    }

    pub fn marking(&self, id: &str) -> Option<&Marking> {
        self.markings.get(id)
    }

    /// Every relto label the realm knows, by marking-definition id.
    pub fn label_markings(&self) -> impl Iterator<Item = (&str, &Label)> {
        self.markings.iter().filter_map(|(id, m)| match m {
            Marking::Label(l) => Some((id.as_str(), l)),
            Marking::NonRestrictive | Marking::Acs(_) => None,
        })
    }

    pub fn community(&self, id: &str) -> Option<&Community> {
        self.communities.get(id)
    }

    /// Every policy id, sorted.
    pub fn policy_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.policies.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Every community id, sorted.
    pub fn community_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.communities.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Every sensitivity category that a known label names, sorted.
    pub fn sensitivities(&self) -> Vec<String> {
        let labels = self.markings.values().filter_map(|m| match m {
            Marking::Label(l) => Some(l),
            Marking::NonRestrictive | Marking::Acs(_) => None,
        });
        let mut all: Vec<String> = labels
            .chain(self.acs_readings.values().filter_map(AcsReading::label))
            .flat_map(|l| l.sensitivity.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }

    pub fn policy_levels(&self, id: &str) -> Option<&[String]> {
        self.policies.get(id).map(Vec::as_slice)
    }

    fn level_index(&self, policy: &str, level: &str) -> Option<usize> {
        self.policies.get(policy)?.iter().position(|l| l == level)
    }

    /// The clearance through which `reader` reaches `policy:level`, directly or through one
    /// configured equivalence (holding P:x ≥ P:a where P:a ≡ Q:b ≥ Q:level).
    fn clearance_for<'r>(
        &self,
        reader: &'r Reader,
        policy: &str,
        level: &str,
    ) -> Option<&'r Clearance> {
        let need = self.level_index(policy, level)?;
        let holds = |p: &str, at_least: usize| {
            reader.clearances.iter().find(|c| {
                c.policy == p
                    && self
                        .level_index(&c.policy, &c.level)
                        .is_some_and(|i| i >= at_least)
            })
        };
        if let Some(c) = holds(policy, need) {
            return Some(c);
        }
        self.equivalences.iter().find_map(|((p1, l1), (p2, l2))| {
            if p2 != policy || self.level_index(p2, l2)? < need {
                return None;
            }
            holds(p1, self.level_index(p1, l1)?)
        })
    }

    /// Whether one releasability entry (nation, community or organization) covers the reader.
    fn covers(&self, entry: &str, reader: &Reader) -> bool {
        entry == reader.nation || entry == reader.organization || self.in_community(entry, reader)
    }

    /// Why `reader` is not cleared for `label` (policy, level, sensitivity; releasability
    /// aside), or None. A poster may apply only labels it is cleared for; to whom it releases
    /// is its decision.
    pub fn clearance_denial(&self, label: &Label, reader: &Reader) -> Option<String> {
        let unrestricted = Label {
            releasable_to: None,
            ..label.clone()
        };
        self.label_denial(&unrestricted, reader)
    }

    /// Why `label` does not pass for `reader`, or None when it passes.
    pub fn label_denial(&self, label: &Label, reader: &Reader) -> Option<String> {
        let Some(levels) = self.policies.get(&label.policy) else {
            return Some(format!("unknown policy {}", label.policy));
        };
        if !levels.iter().any(|l| l == &label.classification) {
            return Some(format!(
                "unknown level {}:{}",
                label.policy, label.classification
            ));
        }
        let Some(clearance) = self.clearance_for(reader, &label.policy, &label.classification)
        else {
            return Some(format!(
                "level: not cleared for {}:{}",
                label.policy, label.classification
            ));
        };
        for s in &label.sensitivity {
            let held = reader
                .clearances
                .iter()
                .filter(|c| c.policy == label.policy || c.policy == clearance.policy)
                .any(|c| c.sensitivity.iter().any(|x| x == s));
            if !held {
                return Some(format!("sensitivity: {s} not held"));
            }
        }
        if let Some(rel) = &label.releasable_to {
            if !rel.iter().any(|e| self.covers(e, reader)) {
                return Some(format!("releasability: REL TO {}", rel.join(", ")));
            }
        }
        None
    }

    /// Why the marking `id` does not pass for `reader`, or None.
    pub fn marking_denial(&self, id: &str, reader: &Reader) -> Option<String> {
        match self.markings.get(id) {
            None => Some(format!("unknown marking {id}")),
            Some(Marking::NonRestrictive) => None,
            Some(Marking::Label(l)) => self.label_denial(l, reader),
            Some(Marking::Acs(_)) => match self.acs_reading(id).and_then(AcsReading::label) {
                Some(l) => self.label_denial(l, reader),
                None => Some(format!(
                    "ACS marking {id} is not mapped and the realm declares no default label"
                )),
            },
        }
    }

    /// The compiled form of rules 1–3 for the store, beside the decision it compiles: whether
    /// `reader` passes every marking of a stored label set, and the default label when the
    /// set stands for objects without object-level markings (`default_nation`: their
    /// originator's nation). The store's query holds the sets a reader passes, so the
    /// predicate runs in the database and pages stay exact; a property test holds it to
    /// `decide()` on generated labels and readers.
    pub fn passes_label_set(
        &self,
        markings: &[String],
        default_nation: Option<&str>,
        reader: &Reader,
    ) -> bool {
        if let Some(nation) = default_nation {
            let passes = match &self.default_label {
                DefaultLabel::OriginatorNation => reader.nation == nation,
                DefaultLabel::Label(l) => self.label_denial(l, reader).is_none(),
            };
            if !passes {
                return false;
            }
        }
        markings
            .iter()
            .all(|m| self.marking_denial(m, reader).is_none())
    }

    /// Rules 1–4 and 6 of DESIGN §3 for one object (references are `prune_refs`'s).
    pub fn decide(
        &self,
        object: &ObjectFacts<'_>,
        reader: &Reader,
        required: RequiredCheck,
    ) -> Decision {
        if object.originator == reader.organization {
            return Decision::Allow;
        }
        if let Some(d) = self.object_level_denial(object, reader) {
            return Decision::Deny(d);
        }
        self.granular_decision(object.object_type, object.granular, reader, required)
    }

    /// Rules 1–3: why the object's own object-level labels (or the default label) deny
    /// `reader`, or None when they pass.
    pub fn object_level_denial(&self, object: &ObjectFacts<'_>, reader: &Reader) -> Option<String> {
        // Marking-definitions carry no intelligence and readers need them to read the
        // markings of what they receive: the default label is not theirs.
        if object.marking_refs.is_empty() && object.object_type != "marking-definition" {
            let denial = match &self.default_label {
                DefaultLabel::OriginatorNation => (reader.nation != object.originator_nation)
                    .then(|| format!("releasability: default, {} only", object.originator_nation)),
                DefaultLabel::Label(l) => self.label_denial(l, reader),
            };
            if denial.is_some() {
                return denial;
            }
        }
        object
            .marking_refs
            .iter()
            .find_map(|m| self.marking_denial(m, reader))
    }

    /// Rule 4 alone: what the granular markings a reader fails remove (Redact), Deny when one
    /// selects a property STIX requires, else Allow. For objects already found visible.
    pub fn granular_decision(
        &self,
        object_type: &str,
        granular: &[(String, Vec<String>)],
        reader: &Reader,
        required: RequiredCheck,
    ) -> Decision {
        let mut removed = Vec::new();
        for (marking, selectors) in granular {
            if let Some(d) = self.marking_denial(marking, reader) {
                for sel in selectors {
                    let top = sel.split('.').next().unwrap_or(sel);
                    if !sel.contains('.') && required(object_type, top) {
                        return Decision::Deny(format!("{d} (on required property {top})"));
                    }
                    if !removed.contains(sel) {
                        removed.push(sel.clone());
                    }
                }
            }
        }
        if removed.is_empty() {
            Decision::Allow
        } else {
            removed.sort();
            Decision::Redact(removed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(nation: &str, communities: &[&str], clearances: &[(&str, &str, &[&str])]) -> Reader {
        Reader {
            organization: format!("{}-org", nation.to_lowercase()).parse().unwrap(),
            nation: nation.parse().unwrap(),
            accredited: communities.iter().map(|s| s.to_string()).collect(),
            clearances: clearances
                .iter()
                .map(|(p, l, s)| Clearance {
                    policy: p.to_string(),
                    level: l.to_string(),
                    sensitivity: s.iter().map(|x| x.to_string()).collect(),
                })
                .collect(),
        }
    }

    fn never_required(_: &str, _: &str) -> bool {
        false
    }

    fn required(t: &str, p: &str) -> bool {
        ["id", "type", "created", "modified"].contains(&p) || (t == "indicator" && p == "pattern")
    }

    /// DESIGN §7's public vectors, each through `decide`.
    #[test]
    fn design_vectors() {
        let mut policy = ReleasePolicy::builtin();
        policy
            .add_equivalence(("KOR", "III"), ("NATO", "NC"))
            .unwrap();
        let a = reader(
            "DEU",
            &["NATO", "EU"],
            &[("NATO", "NS", &[]), ("EU", "EU-S", &[])],
        );
        let b = reader("NOR", &["NATO"], &[("NATO", "NC", &[])]);
        let c = reader("AUT", &["EU"], &[("EU", "EU-C", &[])]);
        let d = reader("USA", &["NATO"], &[("NATO", "NS", &[])]);
        let e = reader("FRA", &["NATO"], &[("NATO", "NS", &[])]);
        let ns_nato = policy.add_label(Label::new("NATO", "NS", Some(&["NATO"]), &[]));
        let nc_nato = policy.add_label(Label::new("NATO", "NC", Some(&["NATO"]), &[]));
        let euc_eu = policy.add_label(Label::new("EU", "EU-C", Some(&["EU"]), &[]));
        let ns_usgb = policy.add_label(Label::new("NATO", "NS", Some(&["USA", "GBR"]), &[]));
        let atomal = policy.add_label(Label::new("NATO", "NS", Some(&["NATO"]), &["ATOMAL"]));
        let kor3 = policy.add_label(Label::new("KOR", "III", Some(&["KOR", "USA"]), &[]));
        let nu_nato = policy.add_label(Label::new("NATO", "NU", Some(&["NATO"]), &[]));
        let granular = vec![(ns_nato.clone(), vec!["description".to_string()])];
        let decide = |refs: Vec<String>, g: &[(String, Vec<String>)], r: &Reader| {
            policy.decide(
                &ObjectFacts {
                    object_type: "report",
                    originator: "kor-nis",
                    originator_nation: "KOR",
                    marking_refs: &refs,
                    granular: g,
                },
                r,
                never_required,
            )
        };
        assert_eq!(decide(vec![ns_nato.clone()], &[], &a), Decision::Allow);
        assert!(
            matches!(decide(vec![ns_nato.clone()], &[], &b), Decision::Deny(r) if r.starts_with("level"))
        );
        assert!(matches!(decide(vec![nc_nato], &[], &c), Decision::Deny(_)));
        assert_eq!(decide(vec![euc_eu], &[], &c), Decision::Allow);
        assert!(
            matches!(decide(vec![ns_usgb], &[], &a), Decision::Deny(r) if r.starts_with("releasability"))
        );
        assert!(
            matches!(decide(vec![atomal], &[], &e), Decision::Deny(r) if r.starts_with("sensitivity"))
        );
        assert_eq!(decide(vec![kor3], &[], &d), Decision::Allow);
        assert_eq!(
            decide(vec![nu_nato], &granular, &b),
            Decision::Redact(vec!["description".into()])
        );
    }

    #[test]
    fn defaults_unknowns_originator_and_required_properties() {
        let mut policy = ReleasePolicy::builtin();
        let a = reader("DEU", &["NATO"], &[("NATO", "CTS", &["ATOMAL"])]);
        let k = reader("KOR", &[], &[]);
        let facts = |refs: &'static [String], g: &'static [(String, Vec<String>)]| ObjectFacts {
            object_type: "indicator",
            originator: "kor-nis",
            originator_nation: "KOR",
            marking_refs: refs,
            granular: g,
        };
        // No marking: the originator's nation only.
        assert!(matches!(
            policy.decide(&facts(&[], &[]), &a, required),
            Decision::Deny(_)
        ));
        assert_eq!(
            policy.decide(&facts(&[], &[]), &k, required),
            Decision::Allow
        );
        // An unknown marking or policy fails.
        let unknown: &'static [String] =
            Box::leak(Box::new(["marking-definition--nope".to_string()]));
        assert!(
            matches!(policy.decide(&facts(unknown, &[]), &a, required), Decision::Deny(r) if r.contains("unknown marking"))
        );
        let jpn = policy.add_label(Label::new("JPN", "HI", None, &[]));
        let jpn: &'static [String] = Box::leak(Box::new([jpn]));
        assert!(
            matches!(policy.decide(&facts(jpn, &[]), &a, required), Decision::Deny(r) if r.contains("unknown policy"))
        );
        // The originator sees its own objects whole.
        let mut own = k.clone();
        own.organization = "kor-nis".parse().unwrap();
        assert_eq!(
            policy.decide(&facts(jpn, &[]), &own, required),
            Decision::Allow
        );
        // A failed granular marking on a required property denies the whole object.
        let ts = policy.add_label(Label::new("NATO", "CTS", Some(&["USA"]), &[]));
        let g: &'static [(String, Vec<String>)] =
            Box::leak(Box::new([(ts, vec!["pattern".to_string(), "name".into()])]));
        let tlp: &'static [String] = Box::leak(Box::new([crate::label::TLP_IDS[1].to_string()]));
        assert!(
            matches!(policy.decide(&facts(tlp, g), &a, required), Decision::Deny(r) if r.contains("required property pattern"))
        );
        // A nested selector is redacted, not denied.
        let ts2 = policy.add_label(Label::new("NATO", "CTS", Some(&["USA"]), &[]));
        let g2: &'static [(String, Vec<String>)] = Box::leak(Box::new([(
            ts2,
            vec!["external_references.[0].url".to_string()],
        )]));
        assert_eq!(
            policy.decide(&facts(tlp, g2), &a, required),
            Decision::Redact(vec!["external_references.[0].url".into()])
        );
    }

    #[test]
    fn multiple_labels_combine_by_and() {
        let mut policy = ReleasePolicy::builtin();
        let nato = policy.add_label(Label::new("NATO", "NC", Some(&["NATO"]), &[]));
        let eu = policy.add_label(Label::new("EU", "EU-R", Some(&["EU"]), &[]));
        let both = vec![nato.clone(), eu.clone()];
        let facts = ObjectFacts {
            object_type: "indicator",
            originator: "kor-nis",
            originator_nation: "KOR",
            marking_refs: &both,
            granular: &[],
        };
        let deu = reader(
            "DEU",
            &["NATO", "EU"],
            &[("NATO", "NS", &[]), ("EU", "EU-C", &[])],
        );
        let nor = reader("NOR", &["NATO"], &[("NATO", "NS", &[])]);
        let aut = reader("AUT", &["EU"], &[("EU", "EU-TS", &[])]);
        assert_eq!(policy.decide(&facts, &deu, never_required), Decision::Allow);
        assert!(matches!(
            policy.decide(&facts, &nor, never_required),
            Decision::Deny(_)
        ));
        assert!(matches!(
            policy.decide(&facts, &aut, never_required),
            Decision::Deny(_)
        ));
        // Two granular markings on different fields redact each independently.
        let g = vec![
            (nato, vec!["description".to_string()]),
            (
                eu,
                vec![
                    "kill_chain_phases.[1]".to_string(),
                    "labels.[0]".to_string(),
                ],
            ),
        ];
        let tlp = vec![crate::label::TLP_IDS[0].to_string()];
        let facts = ObjectFacts {
            granular: &g,
            marking_refs: &tlp,
            ..facts
        };
        assert_eq!(
            policy.decide(&facts, &nor, never_required),
            Decision::Redact(vec!["kill_chain_phases.[1]".into(), "labels.[0]".into()])
        );
        assert_eq!(
            policy.decide(&facts, &aut, never_required),
            Decision::Redact(vec!["description".into()])
        );
    }

    #[test]
    fn equivalences_are_configured_not_derived() {
        let mut policy = ReleasePolicy::builtin();
        let kor2 = Label::new("KOR", "II", None, &[]);
        let nato_ns = reader("USA", &["NATO"], &[("NATO", "NS", &[])]);
        assert!(
            policy.label_denial(&kor2, &nato_ns).is_some(),
            "no equivalence configured"
        );
        policy
            .add_equivalence(("KOR", "II"), ("NATO", "NS"))
            .unwrap();
        assert!(policy.label_denial(&kor2, &nato_ns).is_none());
        // KOR:I is above the equivalent level.
        assert!(policy
            .label_denial(&Label::new("KOR", "I", None, &[]), &nato_ns)
            .is_some());
        // KOR:III is below KOR:II ≡ NATO:NS, which the reader holds.
        assert!(policy
            .label_denial(&Label::new("KOR", "III", None, &[]), &nato_ns)
            .is_none());
        // A NATO:NC holder does not reach KOR:II.
        let nc = reader("USA", &["NATO"], &[("NATO", "NC", &[])]);
        assert!(policy.label_denial(&kor2, &nc).is_some());
        assert!(policy
            .add_equivalence(("KOR", "IV"), ("NATO", "NS"))
            .is_err());
    }

    #[test]
    fn communities_by_accreditation_or_named_organization() {
        let mut policy = ReleasePolicy::builtin();
        policy.add_community(Community {
            id: "FVEY-CTI".into(),
            nations: vec![],
            organizations: vec!["gbr-ncsc".into()],
        });
        let label = Label::new("NATO", "NU", Some(&["FVEY-CTI"]), &[]);
        let mut r = reader("GBR", &["NATO"], &[("NATO", "NU", &[])]);
        assert!(policy.label_denial(&label, &r).is_some());
        r.organization = "gbr-ncsc".parse().unwrap();
        assert!(policy.label_denial(&label, &r).is_none());
        // A NATO nation whose organization is not accredited to NATO does not pass REL TO NATO.
        let nato = Label::new("NATO", "NU", Some(&["NATO"]), &[]);
        let unaccredited = reader("ITA", &[], &[("NATO", "NU", &[])]);
        assert!(policy.label_denial(&nato, &unaccredited).is_some());
        // Organization slugs are releasability entries too.
        let to_org = Label::new("NATO", "NU", Some(&["ita-aise"]), &[]);
        let mut org = unaccredited.clone();
        org.organization = "ita-aise".parse().unwrap();
        assert!(policy.label_denial(&to_org, &org).is_none());
    }
}
