//! The draft against a corpus of reports written for the suite (tests/fixtures/drafts/),
//! each with the extractions a careful analyst expects (expected.json): precision and
//! recall are printed by kind, precision must be at least 0.95, the seed report must give
//! exactly its expected set, and every object drafted must be valid STIX 2.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use relto_draft::{draft, Known, Options};
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/drafts")
}

/// The threat actors and intrusion sets the corpus's collection holds.
fn known() -> Vec<Known> {
    let k = |n: u32, t: &str, name: &str, aliases: &[&str]| Known {
        id: format!("{t}--00000000-0000-4000-8000-{n:012}"),
        object_type: t.into(),
        name: name.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
    };
    vec![
        k(1, "threat-actor", "Storm Corps", &[]),
        k(2, "threat-actor", "KPA expeditionary force", &[]),
        k(
            3,
            "intrusion-set",
            "Lazarus Group",
            &["Lazarus", "Hidden Cobra"],
        ),
        k(
            4,
            "intrusion-set",
            "Kimsuky",
            &["Velvet Chollima", "Thallium"],
        ),
        k(5, "intrusion-set", "Andariel", &[]),
        k(
            6,
            "intrusion-set",
            "APT28",
            &["Fancy Bear", "Forest Blizzard"],
        ),
        k(
            7,
            "intrusion-set",
            "Sandworm Team",
            &["Sandworm", "Seashell Blizzard"],
        ),
    ]
}

pub fn options() -> Options {
    Options {
        labels: vec!["marking-definition--e05703d3-be5e-5bed-bdf9-c661e519c617".into()],
        now: "2026-12-06T00:00:00.000Z".into(),
        known: known(),
        organizations: Vec::new(),
        definitions: Vec::new(),
    }
}

#[derive(Default)]
struct Tally {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Tally {
    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
}

/// An extraction's kind for the figures: `country`, `city`, `identity`, `ipv4-addr`, `file`…
fn kind(key: &str) -> String {
    key.split(':').next().unwrap_or("").to_string()
}

#[test]
fn the_corpus_drafts_with_high_precision_and_every_object_is_valid_stix() {
    let expected: BTreeMap<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(corpus_dir().join("expected.json")).unwrap())
            .unwrap();
    assert!(expected.len() >= 30, "{} reports", expected.len());
    let options = options();
    let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
    let mut all = Tally::default();
    let mut relations = Tally::default();
    let mut dates = Tally::default();
    let mut wrong: Vec<String> = Vec::new();
    for (file, want) in &expected {
        let text = std::fs::read_to_string(corpus_dir().join(file)).unwrap();
        let d = draft(&text, &options).unwrap_or_else(|e| panic!("{file}: {e}"));
        // Deterministic: the same text gives the same bundle.
        assert_eq!(draft(&text, &options).unwrap().bundle, d.bundle, "{file}");
        for o in d.bundle["objects"].as_array().unwrap() {
            relto_stix::validate_object(&o.to_string())
                .unwrap_or_else(|e| panic!("{file}: {} is not valid STIX: {}", o["id"], e.message));
        }
        let got: BTreeSet<String> = d.extractions.iter().map(|e| e.key.clone()).collect();
        let want_set: BTreeSet<String> = want["extract"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        for k in got.union(&want_set) {
            let t = by_kind.entry(kind(k)).or_default();
            match (got.contains(k), want_set.contains(k)) {
                (true, true) => {
                    t.tp += 1;
                    all.tp += 1;
                }
                (true, false) => {
                    t.fp += 1;
                    all.fp += 1;
                    wrong.push(format!("{file}: spurious {k}"));
                }
                _ => {
                    t.fn_ += 1;
                    all.fn_ += 1;
                    wrong.push(format!("{file}: missed {k}"));
                }
            }
        }
        let got_rel: BTreeSet<String> = d.relationships.iter().cloned().collect();
        let want_rel: BTreeSet<String> = want["relationships"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        relations.tp += got_rel.intersection(&want_rel).count();
        relations.fp += got_rel.difference(&want_rel).count();
        relations.fn_ += want_rel.difference(&got_rel).count();
        for r in got_rel.symmetric_difference(&want_rel) {
            wrong.push(format!(
                "{file}: relationship {r} ({})",
                if got_rel.contains(r) {
                    "spurious"
                } else {
                    "missed"
                }
            ));
        }
        match (want["published"].as_str(), d.published.as_deref()) {
            (Some(w), Some(g)) if w == g => dates.tp += 1,
            (None, None) => {}
            (w, g) => {
                if g.is_some() {
                    dates.fp += 1;
                }
                if w.is_some() {
                    dates.fn_ += 1;
                }
                wrong.push(format!("{file}: published {g:?}, expected {w:?}"));
            }
        }
    }
    println!("draft corpus: {} reports", expected.len());
    println!(
        "{:<16} {:>5} {:>5} {:>5} {:>9} {:>7}",
        "kind", "tp", "fp", "fn", "precision", "recall"
    );
    let row = |name: &str, t: &Tally| {
        println!(
            "{name:<16} {:>5} {:>5} {:>5} {:>9.3} {:>7.3}",
            t.tp,
            t.fp,
            t.fn_,
            t.precision(),
            t.recall()
        )
    };
    for (k, t) in &by_kind {
        row(k, t);
    }
    row("all extractions", &all);
    row("relationships", &relations);
    row("published", &dates);
    for w in &wrong {
        println!("  {w}");
    }
    assert!(
        all.precision() >= 0.95,
        "precision {:.3} < 0.95: {wrong:#?}",
        all.precision()
    );
    assert!(
        all.recall() >= 0.9,
        "recall {:.3} < 0.9: {wrong:#?}",
        all.recall()
    );
    assert!(relations.precision() >= 0.9, "relationships: {wrong:#?}");
    assert!(dates.fp + dates.fn_ == 0, "dates: {wrong:#?}");
}

/// The running example's report names exactly these, and nothing from its common words
/// ("will", "May", "the team", "step-by-step").
#[test]
fn the_seed_report_drafts_to_exactly_what_it_names() {
    let text = std::fs::read_to_string(corpus_dir().join("00-situation-report.txt")).unwrap();
    let d = draft(&text, &options()).unwrap();
    let got: BTreeSet<&str> = d.extractions.iter().map(|e| e.key.as_str()).collect();
    let want: BTreeSet<&str> = [
        "identity:National Intelligence Service",
        "identity:Joint Chiefs of Staff",
        "identity:Ministry of Foreign Affairs",
        "identity:Russian Ministry of Defence",
        "identity:Korean People's Army",
        "identity:North Atlantic Council",
        "identity:Political and Security Committee",
        "identity:European External Action Service",
        "identity:European Union",
        "identity:NATO",
        "country:KR",
        "country:KP",
        "country:RU",
        "city:Seoul",
        "city:Vladivostok",
        "city:Khabarovsk",
        "city:Kursk",
        "city:Brussels",
        "threat-actor:Storm Corps",
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    assert_eq!(d.published.as_deref(), Some("2026-11-25"));
    // Each span is the text of a name the extraction stands for.
    let chars: Vec<char> = text.chars().collect();
    for e in &d.extractions {
        for (s, t) in &e.spans {
            let named: String = chars[*s..*t].iter().collect();
            assert!(
                !named.trim().is_empty() && named.len() < 80,
                "{}: {named:?}",
                e.key
            );
        }
    }
    let report = d.bundle["objects"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(report["type"], "report");
    assert_eq!(
        report["name"],
        "SITREP 1: North Korean troop deployment to the Russian Federation"
    );
    assert_eq!(report["published"], "2026-11-25T00:00:00Z");
    assert_eq!(report["description"], text.as_str());
    for o in d.bundle["objects"].as_array().unwrap() {
        assert_eq!(
            o["object_marking_refs"],
            serde_json::json!(["marking-definition--e05703d3-be5e-5bed-bdf9-c661e519c617"]),
            "{}",
            o["id"]
        );
    }
}

/// "The activity is linked to …" speaks of the actor named just before it, and only then.
#[test]
fn a_sentence_about_the_activity_links_the_actor_named_just_before() {
    let links = |text: &str| -> Vec<String> {
        relto_draft::draft(text, &options())
            .unwrap()
            .relationships
            .into_iter()
            .filter(|r| r.starts_with("attributed-to:"))
            .collect()
    };
    let apt28 = "attributed-to:intrusion-set:APT28->identity:GRU";
    assert_eq!(
        links("APT28 phished ministries in Poland. The activity is linked to the GRU."),
        [apt28]
    );
    assert_eq!(
        links("APT28 phished ministries. The campaign was attributed to the GRU by CERT-EU."),
        [apt28]
    );
    // No actor before: nothing to refer to.
    assert!(
        links("Ministries in Poland were phished. The activity is linked to the GRU.").is_empty()
    );
    // Too far back (three sentences).
    assert!(links(
        "APT28 phished ministries. Poland reported it. Germany did too. Czechia followed. The activity is linked to the GRU."
    )
    .is_empty());
    // The sentence names its own subject: that one is linked, not the earlier actor.
    assert_eq!(
        links("Sandworm hit the grid. The activity of APT28 is linked to the GRU."),
        [apt28]
    );
}
