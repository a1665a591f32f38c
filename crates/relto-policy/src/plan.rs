//! Release plans (DESIGN §9): what a plan request must hold, rule 7 of the decision (an
//! active stage's alternative label admits a reader its own labels deny), its compiled form
//! for the store, and the snapshot two releasing officers sign. Pure: the hub resolves the
//! holdings, keeps the stages and asks here what they change.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decide::{Decision, ObjectFacts, Reader, ReleasePolicy, RequiredCheck};
use crate::label::Label;

/// Most holdings one situation names (each resolves to what it references as well).
pub const MAX_HOLDINGS: usize = 25_000;
/// Most stages of one situation.
pub const MAX_STAGES: usize = 16;

/// A plan as proposed, over the JSON API or from a TOML file (the same fields).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub title: String,
    pub collection: String,
    pub holdings: Vec<String>,
    pub stages: Vec<StageRequest>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRequest {
    pub label: LabelRequest,
    #[serde(default)]
    pub withhold: Vec<String>,
    pub not_before: Option<String>,
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelRequest {
    pub policy: String,
    pub classification: String,
    pub releasable_to: Option<Vec<String>>,
    #[serde(default)]
    pub sensitivity: Vec<String>,
}

/// A checked plan: every label is one the realm knows, every time a UTC instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub title: String,
    pub collection: String,
    pub holdings: Vec<String>,
    pub stages: Vec<StagePlan>,
}

/// One stage: the alternative label, the tearline and the time window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StagePlan {
    pub label: Label,
    pub withhold: Vec<String>,
    pub not_before_us: Option<i64>,
    pub expires_us: Option<i64>,
}

impl StagePlan {
    /// Whether the stage's window holds `now_us` (it may still be unapproved or withdrawn).
    pub fn in_window(&self, now_us: i64) -> bool {
        self.not_before_us.is_none_or(|t| t <= now_us) && self.expires_us.is_none_or(|t| now_us < t)
    }

    /// The order in which alternatives are tried ([`cover_order`]), then the window.
    pub fn order_key(&self) -> (usize, String, Vec<String>, Option<i64>, Option<i64>) {
        (
            self.withhold.len(),
            self.label.canonical(),
            self.withhold.clone(),
            self.not_before_us,
            self.expires_us,
        )
    }
}

/// The order in which rule 7 tries the stages that cover an object (the first that admits a
/// reader decides its tearline): the shortest tearline first, so that a reader several
/// stages admit receives the fullest copy one of them allows; then by alternative label
/// (canonical text) and tearline. Every path orders them so, whatever order they were
/// approved in.
pub fn cover_order(a: &StageCover<'_>, b: &StageCover<'_>) -> std::cmp::Ordering {
    (a.withhold.len(), a.label.canonical(), a.withhold).cmp(&(
        b.withhold.len(),
        b.label.canonical(),
        b.withhold,
    ))
}

/// Every problem of a plan, each naming the field and what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub Vec<String>);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

impl std::error::Error for PlanError {}

/// Properties a stage may not withhold: without them a copy is not a STIX object.
const NEVER_WITHHELD: [&str; 3] = ["id", "type", "spec_version"];

/// Checks a plan request against the realm's rules; every problem is reported at once.
pub fn check_plan(request: PlanRequest, policy: &ReleasePolicy) -> Result<Plan, PlanError> {
    let mut problems = Vec::new();
    let title = request.title.trim().to_string();
    if title.is_empty() || title.len() > 256 {
        problems.push("title: give 1 to 256 characters".to_string());
    }
    if request.collection.trim().is_empty() {
        problems.push("collection: give the collection's id".to_string());
    }
    if request.holdings.is_empty() || request.holdings.len() > MAX_HOLDINGS {
        problems.push(format!(
            "holdings: give 1 to {MAX_HOLDINGS} STIX ids (a report or grouping, typically)"
        ));
    }
    let mut holdings: Vec<String> = Vec::with_capacity(request.holdings.len());
    for id in &request.holdings {
        if let Err(e) = relto_stix::id::parse_id(id) {
            problems.push(format!("holdings: {e}"));
        } else if holdings.contains(id) {
            problems.push(format!("holdings: {id} is named twice"));
        } else {
            holdings.push(id.clone());
        }
    }
    if request.stages.is_empty() || request.stages.len() > MAX_STAGES {
        problems.push(format!(
            "stages: give 1 to {MAX_STAGES} stages, first to last"
        ));
    }
    let known_sensitivities = policy.sensitivities();
    let mut stages = Vec::new();
    for (i, st) in request.stages.into_iter().enumerate() {
        let n = i + 1;
        let l = st.label;
        match policy.policy_levels(&l.policy) {
            None => problems.push(format!("stage {n}: unknown policy '{}'", l.policy)),
            Some(levels) if !levels.contains(&l.classification) => problems.push(format!(
                "stage {n}: '{}' is not a level of {} (one of {})",
                l.classification,
                l.policy,
                levels.join(", ")
            )),
            Some(_) => {}
        }
        for s in &l.sensitivity {
            if !known_sensitivities.contains(s) {
                problems.push(format!("stage {n}: unknown sensitivity '{s}'"));
            }
        }
        if let Some(rel) = &l.releasable_to {
            if rel.is_empty() || rel.iter().any(|e| e.trim().is_empty()) {
                problems.push(format!(
                    "stage {n}: releasable_to lists nations, communities or organizations (omit it for no restriction)"
                ));
            }
        }
        for w in &st.withhold {
            if !relto_stix::id::is_valid_property_name(w) || NEVER_WITHHELD.contains(&w.as_str()) {
                problems.push(format!(
                    "stage {n}: withhold '{w}' is not a property that can be withheld"
                ));
            }
        }
        let mut time = |field: &str, text: &Option<String>| -> Option<i64> {
            let text = text.as_ref()?;
            match relto_stix::timestamp::parse_micros(text) {
                Ok(us) => Some(us),
                Err(e) => {
                    problems.push(format!("stage {n}: {field}: {e}"));
                    None
                }
            }
        };
        let not_before_us = time("not_before", &st.not_before);
        let expires_us = time("expires", &st.expires);
        if let (Some(a), Some(b)) = (not_before_us, expires_us) {
            if b <= a {
                problems.push(format!("stage {n}: expires must be after not_before"));
            }
        }
        let mut withhold = st.withhold;
        withhold.sort();
        withhold.dedup();
        stages.push(StagePlan {
            label: Label {
                policy: l.policy,
                classification: l.classification,
                releasable_to: l.releasable_to,
                sensitivity: l.sensitivity,
            }
            .normalized(),
            withhold,
            not_before_us,
            expires_us,
        });
    }
    if problems.is_empty() {
        Ok(Plan {
            title,
            collection: request.collection.trim().to_string(),
            holdings,
            stages,
        })
    } else {
        Err(PlanError(problems))
    }
}

/// An active stage that covers one object version: rule 7's alternative.
#[derive(Debug, Clone, Copy)]
pub struct StageCover<'a> {
    pub label: &'a Label,
    pub withhold: &'a [String],
}

/// A decision with rule 7: which of the covers admitted the object (None: its own labels
/// did, or nothing did).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedDecision {
    pub decision: Decision,
    pub stage: Option<usize>,
}

impl ReleasePolicy {
    /// Rules 1–4, 6 and 7 of DESIGN §3: when the object's own labels deny `reader`, the
    /// first cover (in [`cover_order`]) whose alternative label passes admits it; granular markings still apply
    /// and the stage's withheld properties (those the object has: `has`) are removed. A
    /// stage that withholds a property the object's type requires does not admit it (the hub
    /// does not let such a stage cover it).
    pub fn decide_staged(
        &self,
        object: &ObjectFacts<'_>,
        covers: &[StageCover<'_>],
        reader: &Reader,
        required: RequiredCheck,
        has: &dyn Fn(&str) -> bool,
    ) -> StagedDecision {
        let own = self.decide(object, reader, required);
        let admitted_by_own = object.originator == reader.organization
            || self.object_level_denial(object, reader).is_none();
        if admitted_by_own || covers.is_empty() {
            return StagedDecision {
                decision: own,
                stage: None,
            };
        }
        let mut order: Vec<usize> = (0..covers.len()).collect();
        order.sort_by(|&a, &b| cover_order(&covers[a], &covers[b]));
        for i in order {
            let cover = &covers[i];
            if !covers_object(cover, object.object_type, required)
                || self.label_denial(cover.label, reader).is_some()
            {
                continue;
            }
            let granular =
                self.granular_decision(object.object_type, object.granular, reader, required);
            let mut removed = match granular {
                Decision::Deny(_) => {
                    return StagedDecision {
                        decision: granular,
                        stage: None,
                    }
                }
                Decision::Allow => Vec::new(),
                Decision::Redact(r) => r,
            };
            for w in cover.withhold {
                if has(w) && !removed.contains(w) {
                    removed.push(w.clone());
                }
            }
            removed.sort();
            return StagedDecision {
                decision: if removed.is_empty() {
                    Decision::Allow
                } else {
                    Decision::Redact(removed)
                },
                stage: Some(i),
            };
        }
        StagedDecision {
            decision: own,
            stage: None,
        }
    }

    /// The compiled form of rule 7 for a stored label set that stages cover: the reader
    /// passes the set's own markings, or one cover's alternative label and the set's
    /// granular markings on required properties (`required_markings`). The store's query
    /// holds the sets a reader passes, as for sets without covers.
    pub fn passes_covered_set(
        &self,
        markings: &[String],
        default_nation: Option<&str>,
        alternatives: &[&Label],
        required_markings: &[String],
        reader: &Reader,
    ) -> bool {
        self.passes_label_set(markings, default_nation, reader)
            || alternatives.iter().any(|l| {
                self.label_denial(l, reader).is_none()
                    && required_markings
                        .iter()
                        .all(|m| self.marking_denial(m, reader).is_none())
            })
    }
}

/// Whether a stage may cover an object of `object_type`: it withholds nothing that type
/// requires.
pub fn covers_object(cover: &StageCover<'_>, object_type: &str, required: RequiredCheck) -> bool {
    !cover.withhold.iter().any(|w| required(object_type, w))
}

/// What a stage would change for one audience: the entry of the preview and the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: String,
    pub version: String,
    pub audience: String,
    /// `allow` or `redact`.
    pub outcome: &'static str,
    pub withheld: Vec<String>,
}

/// One holding as the preview sees it: its latest version's facts, the covers of the other
/// active stages, and which properties it has.
pub struct Holding<'a> {
    pub id: &'a str,
    /// Its `modified`, else `created`, as posted.
    pub version: &'a str,
    pub facts: ObjectFacts<'a>,
    pub active_covers: Vec<StageCover<'a>>,
    pub has: &'a dyn Fn(&str) -> bool,
}

/// An organization of the realm and its accounts as readers; its outcome for an object is
/// the best any of them receives.
pub struct Audience<'a> {
    pub organization: &'a str,
    pub readers: &'a [Reader],
}

fn rank(d: &Decision) -> u8 {
    match d {
        Decision::Allow => 0,
        Decision::Redact(_) => 1,
        Decision::Deny(_) => 2,
    }
}

/// The best decision any of the audience's readers receives.
fn audience_decision(
    policy: &ReleasePolicy,
    holding: &Holding<'_>,
    covers: &[StageCover<'_>],
    audience: &Audience<'_>,
    required: RequiredCheck,
) -> Decision {
    audience
        .readers
        .iter()
        .map(|r| {
            policy
                .decide_staged(&holding.facts, covers, r, required, holding.has)
                .decision
        })
        .min_by_key(|d| {
            (
                rank(d),
                match d {
                    Decision::Redact(r) => r.len(),
                    _ => 0,
                },
            )
        })
        .unwrap_or_else(|| Decision::Deny("no account".into()))
}

/// Every (holding, audience) whose outcome `stage` would change, were it active beside the
/// stages active now: the preview, sorted as the snapshot is.
pub fn stage_changes(
    policy: &ReleasePolicy,
    holdings: &[Holding<'_>],
    audiences: &[Audience<'_>],
    stage: &StagePlan,
    required: RequiredCheck,
) -> Vec<Change> {
    let cover = StageCover {
        label: &stage.label,
        withhold: &stage.withhold,
    };
    let mut changes = Vec::new();
    for h in holdings {
        let mut with_stage = h.active_covers.clone();
        with_stage.push(cover);
        for a in audiences {
            let before = audience_decision(policy, h, &h.active_covers, a, required);
            let after = audience_decision(policy, h, &with_stage, a, required);
            if before == after {
                continue;
            }
            let (outcome, removed) = match after {
                Decision::Allow => ("allow", Vec::new()),
                Decision::Redact(r) => ("redact", r),
                Decision::Deny(_) => continue,
            };
            changes.push(Change {
                id: h.id.to_string(),
                version: h.version.to_string(),
                audience: a.organization.to_string(),
                outcome,
                withheld: removed
                    .into_iter()
                    .filter(|p| stage.withhold.contains(p))
                    .collect(),
            });
        }
    }
    changes.sort_by(|a, b| (&a.id, &a.version, &a.audience).cmp(&(&b.id, &b.version, &b.audience)));
    changes
}

/// The snapshot of DESIGN §9: SHA-256 (lowercase hex) of the compact JSON array of
/// `[id, version, audience, outcome]`, sorted by id, version, audience.
pub fn snapshot(changes: &[Change]) -> String {
    let mut entries: Vec<[&str; 4]> = changes
        .iter()
        .map(|c| {
            [
                c.id.as_str(),
                c.version.as_str(),
                c.audience.as_str(),
                c.outcome,
            ]
        })
        .collect();
    entries.sort();
    let text = serde_json::to_string(&entries).unwrap_or_default();
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{Clearance, ReleaseRules};

    fn policy() -> ReleasePolicy {
        ReleasePolicy::from_rules(&ReleaseRules::default()).unwrap()
    }

    fn request(json: serde_json::Value) -> PlanRequest {
        serde_json::from_value(json).unwrap()
    }

    fn reader(org: &str, nation: &str, communities: &[&str], nato: &str) -> Reader {
        Reader {
            organization: org.parse().unwrap(),
            nation: nation.parse().unwrap(),
            accredited: communities.iter().map(|c| c.to_string()).collect(),
            clearances: vec![Clearance {
                policy: "NATO".into(),
                level: nato.into(),
                sensitivity: vec![],
            }],
        }
    }

    fn required(t: &str, p: &str) -> bool {
        ["id", "type", "created"].contains(&p) || (t == "report" && p == "object_refs")
    }

    const REPORT: &str = "report--6b6a3e1c-1f5a-4d8e-9c3b-2a1d0e9f8c7b";

    #[test]
    fn a_plan_request_is_checked_whole() {
        let err = check_plan(
            request(serde_json::json!({
                "title": " ", "collection": "c", "holdings": ["report--x", REPORT, REPORT],
                "stages": [
                    {"label": {"policy": "NAT0", "classification": "NS"}, "withhold": ["id", "Bad Name"]},
                    {"label": {"policy": "NATO", "classification": "SECRET", "sensitivity": ["NOPE"]},
                     "not_before": "2026-12-06T00:00:00Z", "expires": "2026-12-05T00:00:00Z"},
                    {"label": {"policy": "EU", "classification": "EU-S"}, "expires": "tomorrow"}
                ]
            })),
            &policy(),
        )
        .unwrap_err();
        let text = err.to_string();
        for expected in [
            "title",
            "holdings: ",
            "is named twice",
            "unknown policy 'NAT0'",
            "withhold 'id'",
            "withhold 'Bad Name'",
            "'SECRET' is not a level of NATO",
            "unknown sensitivity 'NOPE'",
            "expires must be after not_before",
            "stage 3: expires",
        ] {
            assert!(text.contains(expected), "{expected} not in {text}");
        }
        assert_eq!(err.0.len(), 10, "{err}");
    }

    #[test]
    fn a_good_plan_is_normalized() {
        let plan = check_plan(
            request(serde_json::json!({
                "title": "Storm Corps deployment", "collection": " c1 ", "holdings": [REPORT],
                "stages": [{"label": {"policy": "NATO", "classification": "NS", "releasable_to": ["NATO", "KOR", "KOR"]},
                            "withhold": ["external_references", "external_references"],
                            "expires": "2027-01-01T00:00:00Z"}]
            })),
            &policy(),
        )
        .unwrap();
        assert_eq!(plan.collection, "c1");
        let stage = &plan.stages[0];
        assert_eq!(
            stage.label.releasable_to,
            Some(vec!["KOR".into(), "NATO".into()])
        );
        assert_eq!(stage.withhold, vec!["external_references".to_string()]);
        assert!(stage.in_window(0));
        assert!(!stage.in_window(stage.expires_us.unwrap()));
        // Unknown fields are refused, not ignored.
        assert!(serde_json::from_value::<PlanRequest>(serde_json::json!({
            "title": "t", "collection": "c", "holdings": [], "stages": [], "stage": []
        }))
        .is_err());
    }

    #[test]
    fn rule_7_admits_through_the_alternative_label_only() {
        let policy = policy();
        let kor_only = Label::new("KOR", "II", Some(&["KOR"]), &[]);
        let mut policy = policy;
        let marking = policy.add_label(kor_only);
        let markings = vec![marking];
        let facts = ObjectFacts {
            object_type: "report",
            originator: "kor-nis",
            originator_nation: "KOR",
            marking_refs: &markings,
            granular: &[],
        };
        let nato_label = Label::new("NATO", "NS", Some(&["NATO"]), &[]);
        let withhold = vec!["external_references".to_string()];
        let covers = [StageCover {
            label: &nato_label,
            withhold: &withhold,
        }];
        let bnd = reader("deu-bnd", "DEU", &["NATO"], "NS");
        let fis = reader("nor-fis", "NOR", &["NATO"], "NC");
        let has_refs = |p: &str| p == "external_references";
        let d = policy.decide_staged(&facts, &covers, &bnd, required, &has_refs);
        assert_eq!(d.decision, Decision::Redact(withhold.clone()));
        assert_eq!(d.stage, Some(0));
        // Nothing to withhold when the object has no such property.
        let d = policy.decide_staged(&facts, &covers, &bnd, required, &|_| false);
        assert_eq!((d.decision, d.stage), (Decision::Allow, Some(0)));
        // The alternative label must pass: NATO CONFIDENTIAL is not enough.
        let d = policy.decide_staged(&facts, &covers, &fis, required, &has_refs);
        assert!(matches!(d.decision, Decision::Deny(_)) && d.stage.is_none());
        // The originator is admitted by its own rule, whole.
        let nis = reader("kor-nis", "KOR", &[], "CTS");
        let d = policy.decide_staged(&facts, &covers, &nis, required, &has_refs);
        assert_eq!((d.decision, d.stage), (Decision::Allow, None));
        // A stage that withholds a required property does not cover the object.
        let created = vec!["created".to_string()];
        let bad = [StageCover {
            label: &nato_label,
            withhold: &created,
        }];
        let d = policy.decide_staged(&facts, &bad, &bnd, required, &has_refs);
        assert!(matches!(d.decision, Decision::Deny(_)));
    }

    #[test]
    fn the_preview_lists_what_changes_and_the_snapshot_follows_it() {
        let mut policy = policy();
        let marking = policy.add_label(Label::new("KOR", "II", Some(&["KOR"]), &[]));
        let markings = vec![marking];
        let facts = ObjectFacts {
            object_type: "report",
            originator: "kor-nis",
            originator_nation: "KOR",
            marking_refs: &markings,
            granular: &[],
        };
        let has = |p: &str| p == "external_references";
        let holding = Holding {
            id: REPORT,
            version: "2026-12-01T00:00:00.000Z",
            facts,
            active_covers: vec![],
            has: &has,
        };
        let bnd = [reader("deu-bnd", "DEU", &["NATO"], "NS")];
        let fis = [reader("nor-fis", "NOR", &["NATO"], "NC")];
        let nis = [reader("kor-nis", "KOR", &[], "CTS")];
        let audiences = [
            Audience {
                organization: "deu-bnd",
                readers: &bnd,
            },
            Audience {
                organization: "nor-fis",
                readers: &fis,
            },
            Audience {
                organization: "kor-nis",
                readers: &nis,
            },
        ];
        let stage = StagePlan {
            label: Label::new("NATO", "NS", Some(&["NATO"]), &[]),
            withhold: vec!["external_references".into()],
            not_before_us: None,
            expires_us: None,
        };
        let changes = stage_changes(&policy, &[holding], &audiences, &stage, required);
        assert_eq!(
            changes,
            vec![Change {
                id: REPORT.into(),
                version: "2026-12-01T00:00:00.000Z".into(),
                audience: "deu-bnd".into(),
                outcome: "redact",
                withheld: vec!["external_references".into()],
            }]
        );
        let expected = Sha256::digest(
            format!(r#"[["{REPORT}","2026-12-01T00:00:00.000Z","deu-bnd","redact"]]"#).as_bytes(),
        )
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
        assert_eq!(snapshot(&changes), expected);
        assert_eq!(snapshot(&changes).len(), 64);
        // A different outcome is a different snapshot.
        let mut allowed = changes.clone();
        allowed[0].outcome = "allow";
        assert_ne!(snapshot(&allowed), snapshot(&changes));
    }
}
