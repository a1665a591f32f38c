//! Property tests: realm files and labels from outside never panic the parsers; a label's
//! canonical form, and so its id, does not depend on list order, duplicates or aliases.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use relto_policy::decide::DefaultLabel;
use relto_policy::label::{parse_marking, Label};
use relto_policy::plan::StageCover;
use relto_policy::{
    parse_realm, Clearance, Decision, ObjectFacts, Reader, ReleasePolicy, ReleaseRules,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn realm_parser_never_panics(s in "[\\[\\]a-z_=\"\\n ,{}0-9:-]{0,300}") {
        let _ = parse_realm(&s);
        let _ = parse_realm(&format!("[hub]\nnation = \"KOR\"\n{s}"));
    }

    #[test]
    fn marking_parser_never_panics(policy in "\\PC{0,10}", level in "\\PC{0,6}", rel in proptest::collection::vec("\\PC{0,5}", 0..4)) {
        let v = serde_json::json!({"type": "marking-definition", "id": "marking-definition--x",
            "extensions": {"extension-definition--e40c05f5-cb0e-4b28-8c2a-db52ed2bc0e2":
                {"policy": policy, "classification": level, "releasable_to": rel}}});
        let _ = parse_marking(&v);
    }

    /// ACS markings from outside never panic the reading, and a reading is never wider than
    /// the nations the marking lists: every nation (or token of one) it releases to is among
    /// the nationalities every finite list permits (access_privilege's when what it does not
    /// list is denied, privdefault=deny), and NOFORN keeps it to the USA.
    #[test]
    fn acs_reading_never_panics_and_is_never_wider(
        level in prop::sample::select(vec!["U", "C", "S", "TS", "X"]),
        access in proptest::collection::vec(prop::sample::select(vec!["USA", "KOR", "DEU", "FIN", "ALL", "ZZZ"]), 0..4),
        control in proptest::collection::vec(prop::sample::select(vec!["USA", "KOR", "FRA", "ALL"]), 0..3),
        sharing in proptest::collection::vec(prop::sample::select(vec!["USA.USG", "FOREIGNGOV", "KOR.NIS", "FIN", "FIN.MOD", "CIKR", "ALL", "bad token"]), 0..3),
        noforn in any::<bool>(),
        deny in proptest::collection::vec(prop::sample::select(vec!["DEU", "USA", "ALL"]), 0..2),
        permit_default in any::<bool>(),
    ) {
        let policy = {
            let mut rules = ReleaseRules::default();
            rules.policies.push(relto_policy::Policy { id: "USA".into(), levels: vec!["U".into(), "C".into(), "S".into(), "TS".into()] });
            ReleasePolicy::from_rules(&rules).unwrap()
        };
        let default = if permit_default { "permit" } else { "deny" };
        let mut rules = vec![];
        if !access.is_empty() {
            rules.push(serde_json::json!({"privilege_action": "DSPLY", "rule_effect": "permit",
                "privilege_scope": {"permitted_nationalities": access}}));
        }
        if !deny.is_empty() {
            rules.push(serde_json::json!({"privilege_action": "ALL", "rule_effect": "deny",
                "privilege_scope": {"permitted_nationalities": deny}}));
        }
        let mut control_set = serde_json::json!({"classification": level});
        if !control.is_empty() {
            control_set["permitted_nationalities"] = serde_json::json!(control);
        }
        if noforn {
            control_set["formal_determination"] = serde_json::json!(["NF"]);
        }
        let mut ext = serde_json::json!({"extension_type": "property-extension",
            "responsible_entity_custodian": "USA.DHS",
            "policy_reference": format!("urn:isa:policy:acs:ns:v3.0?privdefault={default}&sharedefault={default}"),
            "control_set": control_set});
        if !rules.is_empty() {
            ext["access_privilege"] = serde_json::json!(rules);
        }
        if !sharing.is_empty() {
            ext["further_sharing"] = serde_json::json!([{"rule_effect": "permit", "sharing_scope": sharing}]);
        }
        if let Ok(label) = relto_policy::acs::to_label(&ext, &policy) {
            prop_assert_eq!(&label.policy, "USA");
            let nation_of = |entry: &str| entry.split('.').next().unwrap_or_default().to_string();
            let finite = |l: &[&str]| !l.is_empty() && !l.contains(&"ALL");
            for entry in label.releasable_to.iter().flatten() {
                let n = nation_of(entry);
                if let Some(sector) = entry.strip_prefix("ACS:") {
                    // A sector is no nation's: a finite list of nations leaves none.
                    prop_assert!(!noforn && !finite(&control) && (permit_default || !finite(&access)), "{} with {:?} {:?}", entry, access, control);
                    prop_assert!(sharing.contains(&sector), "{} not shared", entry);
                    continue;
                }
                if !permit_default && !access.is_empty() && !access.contains(&"ALL") {
                    prop_assert!(access.contains(&n.as_str()), "{} not in {:?}", entry, access);
                }
                if !control.is_empty() && !control.contains(&"ALL") {
                    prop_assert!(control.contains(&n.as_str()), "{} not in {:?}", entry, control);
                }
                if noforn {
                    prop_assert_eq!(n.as_str(), "USA");
                }
                prop_assert!(!deny.contains(&n.as_str()) || deny.contains(&"ALL"), "{} denied", entry);
            }
            if noforn || (!permit_default && finite(&access)) || finite(&control) {
                prop_assert!(label.releasable_to.is_some(), "a finite list gave no restriction");
            }
        }
        let _ = relto_policy::acs::to_label(&serde_json::json!({"control_set": level, "access_privilege": access}), &policy);
    }

    #[test]
    fn label_id_ignores_order_duplicates_and_aliases(mut rel in proptest::collection::vec(prop::sample::select(vec!["KOR", "NATO", "EU", "DEU", "BGR", "MKD"]), 1..6), seed in any::<u64>()) {
        let a = Label::new("NATO", "NS", Some(&rel), &["ATOMAL"]);
        // Shuffle, duplicate, and spell Bulgaria and North Macedonia by their aliases.
        let n = rel.len();
        rel.rotate_left((seed as usize) % n);
        rel.push(rel[0]);
        let aliased: Vec<&str> = rel.iter().map(|r| match *r { "BGR" => "BLG", "MKD" => "FYR", x => x }).collect();
        let b = Label::new("NATO", "NS", Some(&aliased), &["ATOMAL", "ATOMAL"]);
        prop_assert_eq!(a.id(), b.id());
        prop_assert_eq!(a.canonical(), b.canonical());
    }
}

const NATIONS: [&str; 5] = ["KOR", "DEU", "NOR", "AUT", "USA"];
const LEVELS: [(&str, &[&str]); 3] = [
    ("NATO", &["NU", "NR", "NC", "NS", "CTS"]),
    ("EU", &["EU-R", "EU-C", "EU-S", "EU-TS"]),
    ("KOR", &["III", "II", "I"]),
];

/// A label from small numbers: policy, level, releasability entries, ATOMAL.
fn label_of(p: usize, l: usize, rel: &[usize], atomal: bool) -> Label {
    let (policy, levels) = LEVELS[p % 3];
    let entries = ["KOR", "DEU", "NOR", "AUT", "USA", "NATO", "EU", "org-x"];
    let rel: Vec<&str> = rel.iter().map(|i| entries[i % entries.len()]).collect();
    Label::new(
        policy,
        levels[l % levels.len()],
        (!rel.is_empty()).then_some(&rel[..]),
        if atomal { &["ATOMAL"] } else { &[] },
    )
}

fn reader_of(nation: usize, communities: u8, clearances: &[(usize, usize, bool)]) -> Reader {
    Reader {
        organization: "org-x".parse().unwrap(),
        nation: NATIONS[nation % NATIONS.len()].parse().unwrap(),
        accredited: ["NATO", "EU"]
            .iter()
            .enumerate()
            .filter(|(i, _)| communities & (1 << i) != 0)
            .map(|(_, c)| c.to_string())
            .collect(),
        clearances: clearances
            .iter()
            .map(|&(p, l, atomal)| {
                let (policy, levels) = LEVELS[p % 3];
                Clearance {
                    policy: policy.into(),
                    level: levels[l % levels.len()].into(),
                    sensitivity: if atomal {
                        vec!["ATOMAL".into()]
                    } else {
                        vec![]
                    },
                }
            })
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The compiled form (which stored label sets a reader passes, what the store's predicate
    /// holds) agrees with decide() on every object a set stands for, rule by rule: labels of
    /// every policy, level, releasability and sensitivity, none (the default label, both
    /// kinds), TLP, unknown markings, equivalences.
    #[test]
    fn the_compiled_form_agrees_with_decide(
        labels in proptest::collection::vec((0usize..3, 0usize..5, proptest::collection::vec(0usize..8, 0..3), any::<bool>()), 0..3),
        extra in 0u8..3,
        nation in 0usize..5,
        originator_nation in 0usize..5,
        communities in 0u8..4,
        clearances in proptest::collection::vec((0usize..3, 0usize..5, any::<bool>()), 0..3),
        equivalence in any::<bool>(),
        default_label in proptest::option::of((0usize..3, 0usize..5, proptest::collection::vec(0usize..8, 0..3), any::<bool>())),
    ) {
        let mut rules = ReleaseRules::default();
        if equivalence {
            rules.equivalences.push(("KOR:II".into(), "NATO:NS".into()));
        }
        rules.default_label = default_label.map(|(p, l, r, a)| label_of(p, l, &r, a));
        let mut policy = ReleasePolicy::from_rules(&rules).expect("rules");
        let mut markings: Vec<String> = labels
            .iter()
            .map(|(p, l, r, a)| policy.add_label(label_of(*p, *l, r, *a)))
            .collect();
        match extra {
            1 => markings.push("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb".into()),
            2 => markings.push("marking-definition--00000000-0000-4000-8000-00000000dead".into()),
            _ => {}
        }
        let reader = reader_of(nation, communities, &clearances);
        let originator_nation = NATIONS[originator_nation];
        let facts = ObjectFacts {
            object_type: "indicator",
            originator: "org-y",
            originator_nation,
            marking_refs: &markings,
            granular: &[],
        };
        let decided = !matches!(policy.decide(&facts, &reader, required), Decision::Deny(_));
        let default_nation = markings.is_empty().then_some(originator_nation);
        prop_assert_eq!(policy.passes_label_set(&markings, default_nation, &reader), decided);
        if let DefaultLabel::Label(_) = policy.default_label {
            prop_assert!(markings.is_empty() || decided == policy.passes_label_set(&markings, None, &reader));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Rule 7's compiled form (a stored label set that active stages cover: its own markings,
    /// the stages' alternative labels and its granular markings on required properties)
    /// agrees with decide_staged() on whether the reader receives the object at all.
    #[test]
    fn the_compiled_form_of_rule_7_agrees_with_decide_staged(
        own in proptest::collection::vec((0usize..3, 0usize..5, proptest::collection::vec(0usize..8, 0..3), any::<bool>()), 0..3),
        on_required in proptest::option::of((0usize..3, 0usize..5, proptest::collection::vec(0usize..8, 0..3), any::<bool>())),
        stages in proptest::collection::vec((0usize..3, 0usize..5, proptest::collection::vec(0usize..8, 0..3), any::<bool>()), 0..3),
        nation in 0usize..5,
        communities in 0u8..4,
        clearances in proptest::collection::vec((0usize..3, 0usize..5, any::<bool>()), 0..3),
    ) {
        let mut policy = ReleasePolicy::from_rules(&ReleaseRules::default()).expect("rules");
        let object_level: Vec<String> = own
            .iter()
            .map(|(p, l, r, a)| policy.add_label(label_of(*p, *l, r, *a)))
            .collect();
        let required_markings: Vec<String> = on_required
            .iter()
            .map(|(p, l, r, a)| policy.add_label(label_of(*p, *l, r, *a)))
            .collect();
        let granular: Vec<(String, Vec<String>)> = required_markings
            .iter()
            .map(|m| (m.clone(), vec!["id".to_string()]))
            .collect();
        let alternatives: Vec<Label> = stages.iter().map(|(p, l, r, a)| label_of(*p, *l, r, *a)).collect();
        let covers: Vec<StageCover> = alternatives.iter().map(|label| StageCover { label, withhold: &[] }).collect();
        let reader = reader_of(nation, communities, &clearances);
        let facts = ObjectFacts {
            object_type: "indicator",
            originator: "org-y",
            originator_nation: "KOR",
            marking_refs: &object_level,
            granular: &granular,
        };
        let staged = policy.decide_staged(&facts, &covers, &reader, required, &|_| true);
        let received = !matches!(staged.decision, Decision::Deny(_));
        let mut set = object_level.clone();
        set.extend(required_markings.iter().cloned());
        let default_nation = object_level.is_empty().then_some("KOR");
        let alternative_refs: Vec<&Label> = alternatives.iter().collect();
        prop_assert_eq!(
            policy.passes_covered_set(&set, default_nation, &alternative_refs, &required_markings, &reader),
            received
        );
        // Without covers, rule 7 changes nothing.
        prop_assert_eq!(
            policy.decide_staged(&facts, &[], &reader, required, &|_| true).decision,
            policy.decide(&facts, &reader, required)
        );
    }
}

fn required(t: &str, p: &str) -> bool {
    ["id", "type"].contains(&p) || (t == "report" && p == "object_refs")
}

/// A STIX-like object: a few scalar, list and nested properties (no empty lists: STIX has none).
fn object() -> impl Strategy<Value = serde_json::Value> {
    let scalar = prop_oneof![
        "[a-z \"\\\\é{}\\[\\],:]{0,8}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        Just(serde_json::json!(-1.5e-7)),
        any::<i32>().prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
    ];
    let nested = proptest::collection::btree_map("[a-c]", scalar.clone(), 1..3)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()));
    let list = proptest::collection::vec(prop_oneof![scalar.clone(), nested.clone()], 1..5)
        .prop_map(serde_json::Value::Array);
    (
        prop::sample::select(vec!["report", "note", "indicator"]),
        proptest::collection::btree_map(
            "[a-f]|object_refs|x\"y",
            prop_oneof![scalar, nested, list],
            0..6,
        ),
    )
        .prop_map(|(ty, props)| {
            let mut m: serde_json::Map<String, serde_json::Value> = props.into_iter().collect();
            m.insert("type".into(), ty.into());
            m.insert("id".into(), format!("{ty}--1").into());
            serde_json::Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The text path of redaction gives the same object as the value path, for every kind
    /// of selector (top-level, list item, nested), or refuses for the same reason.
    #[test]
    fn redact_raw_agrees_with_redact(
        obj in object(),
        sels in proptest::collection::vec(
            prop_oneof![
                "[a-f]|object_refs|id|type",
                "([a-f]|object_refs)\\.\\[[0-5]\\]",
                "[a-f]\\.\\[[0-3]\\]\\.[a-c]",
                "[a-f]\\.[a-c]",
            ],
            0..4,
        ),
        pretty in any::<bool>(),
    ) {
        use relto_policy::redact::{redact, redact_raw};
        let raw = if pretty { serde_json::to_string_pretty(&obj).unwrap() } else { obj.to_string() };
        let by_value = redact(&obj, &sels, required);
        let by_text = redact_raw(&raw, &sels, required)
            .map(|t| serde_json::from_str::<serde_json::Value>(&t).expect("redact_raw wrote JSON"));
        prop_assert_eq!(by_value, by_text);
    }
}

/// JSON objects whose keys (at any depth) are drawn from names that are, are not, or only look
/// like references, some with escapes (`"`, `\`, control characters written as `\u00XX`).
fn keyed_object() -> impl Strategy<Value = serde_json::Value> {
    let key = prop::sample::select(vec![
        "name",
        "x_ref",
        "x_refs",
        "source_ref",
        "object_refs",
        "created_by_ref",
        "marking_ref",
        "object_marking_refs",
        "granular_markings",
        "a\"created_by_ref",
        "a\\source_ref",
        "\u{1}x_ref",
        "granular_markings\u{1f}",
        "see _ref",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::json!("indicator--1")),
        Just(serde_json::json!(["indicator--1"])),
        Just(serde_json::json!("a \"quoted\" x_ref\\")),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            proptest::collection::btree_map(key.clone(), inner.clone(), 0..4).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
            proptest::collection::vec(inner, 0..3).prop_map(serde_json::Value::Array),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The byte scan that spares most objects a parse never says "nothing here" of an object
    /// in which the parsed walk finds a reference to prune or granular markings.
    #[test]
    fn the_text_scan_misses_nothing_the_parse_finds(
        body in keyed_object(),
        ty in prop::sample::select(vec!["indicator", "relationship", "report", "sighting"]),
    ) {
        let mut object = match body {
            serde_json::Value::Object(m) => m,
            other => [("x_value".to_string(), other)].into_iter().collect(),
        };
        object.insert("type".into(), serde_json::json!(ty));
        let object = serde_json::Value::Object(object);
        let raw = serde_json::to_string(&object).unwrap();
        let facts = relto_policy::refs::text_facts(ty, &raw);
        let refs = relto_policy::refs::prunable_refs(&object);
        if refs.as_ref().map_or(true, |r| !r.is_empty()) {
            prop_assert!(facts.prunable_refs, "{raw}: {refs:?}");
        }
        if object.get("granular_markings").is_some() {
            prop_assert!(facts.granular_markings, "{raw}");
        }
    }
}
