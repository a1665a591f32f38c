//! Property tests: realm files and labels from outside never panic the parsers; a label's
//! canonical form, and so its id, does not depend on list order, duplicates or aliases.

use proptest::prelude::*;
use relto_policy::label::{parse_marking, Label};
use relto_policy::parse_realm;

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
