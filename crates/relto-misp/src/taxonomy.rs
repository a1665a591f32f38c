//! MISP taxonomies (tags) as what relto and STIX say: TLP as TLP 2.0 markings, the NATO and
//! EU classification taxonomies as a relto label, a sharing group as its releasability,
//! admiralty-scale information credibility as confidence. Other tags stay STIX `labels`.

use relto_policy::label::Label;
use serde_json::Value;

use crate::{text, Context};

pub const TLP_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
pub const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const TLP_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
const TLP_AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
const TLP_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

/// The TLP 2.0 marking of a `tlp:` tag (`tlp:white` is TLP 1.0 for `clear`).
pub fn tlp_marking(tag: &str) -> Option<&'static str> {
    let value = tag
        .strip_prefix("tlp:")?
        .trim_matches('"')
        .to_ascii_lowercase();
    Some(match value.as_str() {
        "clear" | "white" => TLP_CLEAR,
        "green" => TLP_GREEN,
        "amber" => TLP_AMBER,
        "amber+strict" => TLP_AMBER_STRICT,
        "red" => TLP_RED,
        _ => return None,
    })
}

/// An object's tags, read.
#[derive(Debug, Clone, Default)]
pub struct Tags {
    pub tlp: Vec<String>,
    /// (policy, level) of a classification tag, the highest when several.
    pub classification: Option<(&'static str, &'static str)>,
    pub confidence: Option<u8>,
    /// Every tag but TLP, kept as STIX labels.
    pub other: Vec<String>,
}

/// NATO levels, lowest first, with the names the `nato` taxonomy gives them.
const NATO: &[(&str, &[&str])] = &[
    ("NU", &["NU", "NATO UNCLASSIFIED", "NATO_UNCLASSIFIED"]),
    ("NR", &["NR", "NATO RESTRICTED", "NATO_RESTRICTED"]),
    ("NC", &["NC", "NATO CONFIDENTIAL", "NATO_CONFIDENTIAL"]),
    ("NS", &["NS", "NATO SECRET", "NATO_SECRET"]),
    ("CTS", &["CTS", "COSMIC TOP SECRET", "COSMIC_TOP_SECRET"]),
];
/// EU levels, lowest first, with the `euci` taxonomy's predicates.
const EU: &[(&str, &[&str])] = &[
    (
        "EU-R",
        &[
            "RESTREINT-UE-EU-RESTRICTED",
            "RESTREINT UE/EU RESTRICTED",
            "EU-R",
        ],
    ),
    (
        "EU-C",
        &[
            "CONFIDENTIEL-UE-EU-CONFIDENTIAL",
            "CONFIDENTIEL UE/EU CONFIDENTIAL",
            "EU-C",
        ],
    ),
    (
        "EU-S",
        &["SECRET-UE-EU-SECRET", "SECRET UE/EU SECRET", "EU-S"],
    ),
    (
        "EU-TS",
        &[
            "TRES-SECRET-UE-EU-TOP-SECRET",
            "TRÈS SECRET UE/EU TOP SECRET",
            "EU-TS",
        ],
    ),
];
/// Admiralty information credibility 1–5 as STIX confidence (STIX 2.1 Appendix A); 6
/// ("cannot be judged") gives none.
const CREDIBILITY: [(&str, u8); 5] = [("1", 90), ("2", 70), ("3", 50), ("4", 30), ("5", 10)];

fn level(
    table: &'static [(&'static str, &'static [&'static str])],
    value: &str,
) -> Option<(usize, &'static str)> {
    let v = value.trim_matches('"').to_ascii_uppercase();
    table
        .iter()
        .enumerate()
        .find(|(_, (_, names))| names.iter().any(|n| n.to_ascii_uppercase() == v))
        .map(|(i, (code, _))| (i, *code))
}

impl Tags {
    /// The tags of an event or an attribute (`Tag: [{"name": …}]`).
    pub fn of(v: &Value) -> Self {
        let mut t = Tags::default();
        let mut rank: Option<(u8, usize)> = None;
        for name in v
            .get("Tag")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|tag| text(tag, "name"))
        {
            if let Some(m) = tlp_marking(name) {
                if !t.tlp.iter().any(|x| x == m) {
                    t.tlp.push(m.to_string());
                }
                continue;
            }
            let classified = if let Some(v) = name.strip_prefix("nato:classification=") {
                level(NATO, v).map(|(i, code)| (0u8, i, ("NATO", code)))
            } else if let Some(v) = name.strip_prefix("euci:") {
                level(EU, v).map(|(i, code)| (1u8, i, ("EU", code)))
            } else {
                None
            };
            if let Some((policy, i, c)) = classified {
                // NATO wins over the EU, a higher level over a lower one.
                if rank.is_none_or(|(p, r)| policy < p || (policy == p && i > r)) {
                    rank = Some((policy, i));
                    t.classification = Some(c);
                }
            }
            if let Some(v) = name.strip_prefix("admiralty-scale:information-credibility=") {
                if let Some((_, c)) = CREDIBILITY.iter().find(|(k, _)| *k == v.trim_matches('"')) {
                    t.confidence = Some(*c);
                }
            }
            // Kept as a STIX label as well, as misp-stix keeps every tag but TLP.
            t.other.push(name.to_string());
        }
        t
    }
}

/// The label of an event's objects, and why: its classification tag (else the realm's
/// default label's), releasable to the nations of its sharing group when the realm knows
/// every organization in it (with the hub's nation), else to what the realm's default
/// label allows (never wider); no label when neither a classification tag nor a default
/// label gives one.
pub fn label(tags: &Tags, event: &Value, ctx: &Context) -> (Option<Label>, String) {
    let default = ctx.default_label.as_ref();
    let (policy, level, mut reason) = match (tags.classification, default) {
        (Some((p, l)), _) => (
            p.to_string(),
            l.to_string(),
            format!("classification tag {p}:{l}"),
        ),
        (None, Some(d)) => (
            d.policy.clone(),
            d.classification.clone(),
            "the realm's default label".to_string(),
        ),
        (None, None) => {
            return (
                None,
                "no classification tag and no default label: the hub's default applies".into(),
            )
        }
    };
    let default_reach: Vec<String> = default
        .and_then(|d| d.releasable_to.clone())
        .unwrap_or_else(|| vec![ctx.hub_nation.clone()]);
    let sharing_group = event.get("SharingGroup").filter(|_| {
        matches!(text(event, "distribution"), Some("4"))
            || event.get("distribution") == Some(&Value::from(4))
    });
    let reach = match sharing_group.map(|sg| sharing_group_nations(sg, ctx)) {
        Some(Ok(mut nations)) => {
            nations.push(ctx.hub_nation.clone());
            reason.push_str(", releasable to its sharing group's nations");
            nations
        }
        Some(Err(unknown)) => {
            reason.push_str(&format!(
                ", releasable as the default label allows: the realm does not know {unknown} of its sharing group"
            ));
            default_reach
        }
        None => {
            reason.push_str(", releasable as the default label allows (no sharing group)");
            default_reach
        }
    };
    let reach: Vec<&str> = reach.iter().map(String::as_str).collect();
    let sensitivity: Vec<&str> = default
        .filter(|_| tags.classification.is_none())
        .map(|d| d.sensitivity.iter().map(String::as_str).collect())
        .unwrap_or_default();
    (
        Some(Label::new(&policy, &level, Some(&reach), &sensitivity)),
        reason,
    )
}

/// The nations of a sharing group's organizations, or the first one the realm does not know.
fn sharing_group_nations(sg: &Value, ctx: &Context) -> Result<Vec<String>, String> {
    let orgs: Vec<&str> = sg
        .get("SharingGroupOrg")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("Organisation").and_then(|org| text(org, "name")))
        .collect();
    if orgs.is_empty() {
        return Err("any organization".into());
    }
    orgs.iter()
        .map(|name| {
            ctx.organizations
                .iter()
                .find(|k| k.name.eq_ignore_ascii_case(name) || k.slug.eq_ignore_ascii_case(name))
                .map(|k| k.nation.clone())
                .ok_or_else(|| format!("'{name}'"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        Context {
            default_label: Some(Label::new("KOR", "II", Some(&["KOR"]), &[])),
            hub_nation: "KOR".into(),
            organizations: vec![crate::KnownOrganization {
                slug: "deu-bnd".into(),
                name: "BND".into(),
                nation: "DEU".into(),
            }],
        }
    }

    #[test]
    fn taxonomies_become_markings_labels_and_confidence() {
        let t = Tags::of(&json!({"Tag": [
            {"name": "tlp:amber"}, {"name": "tlp:white"},
            {"name": "nato:classification=\"NR\""}, {"name": "nato:classification=\"NS\""},
            {"name": "euci:CONFIDENTIEL-UE-EU-CONFIDENTIAL"},
            {"name": "admiralty-scale:information-credibility=\"2\""},
            {"name": "PAP:AMBER"}, {"name": "misp-galaxy:threat-actor=\"Kimsuky\""}
        ]}));
        assert_eq!(t.tlp, vec![TLP_AMBER.to_string(), TLP_CLEAR.to_string()]);
        assert_eq!(t.classification, Some(("NATO", "NS")));
        assert_eq!(t.confidence, Some(70));
        assert_eq!(t.other.len(), 6, "{:?}", t.other);
        assert!(t.other.contains(&"PAP:AMBER".to_string()));
    }

    #[test]
    fn a_sharing_group_the_realm_knows_widens_and_one_it_does_not_never_does() {
        let tags = Tags::of(&json!({"Tag": [{"name": "nato:classification=\"NS\""}]}));
        let sg = |org: &str| {
            json!({"distribution": "4", "SharingGroup": {"name": "g",
            "SharingGroupOrg": [{"Organisation": {"name": org}}]}})
        };
        let (l, why) = label(&tags, &sg("BND"), &ctx());
        assert_eq!(
            l.unwrap().display_name(),
            "NATO:NS // REL TO DEU, KOR",
            "{why}"
        );
        let (l, why) = label(&tags, &sg("Unknown CERT"), &ctx());
        assert_eq!(l.unwrap().display_name(), "NATO:NS // REL TO KOR");
        assert!(why.contains("'Unknown CERT'"), "{why}");
        // Without a classification tag: the default label's policy and level.
        let (l, _) = label(&Tags::default(), &json!({"distribution": "3"}), &ctx());
        assert_eq!(l.unwrap().display_name(), "KOR:II // REL TO KOR");
        let none = Context {
            default_label: None,
            ..ctx()
        };
        assert!(label(&Tags::default(), &json!({}), &none).0.is_none());
    }
}
