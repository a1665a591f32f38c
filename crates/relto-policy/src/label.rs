//! The relto confidentiality label (DESIGN §2): a STIX marking-definition carrying the
//! extension below, in the shape of NATO's STANAG 4774 label.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::nation::Nation;

pub const LABEL_EXTENSION: &str = "extension-definition--e40c05f5-cb0e-4b28-8c2a-db52ed2bc0e2";
const LABEL_NAMESPACE: Uuid = Uuid::from_u128(0x527f489e_1047_4bbf_9971_f03d5d0137fc);

/// TLP marking-definition ids (2.0 and 1.0). Inside the hub TLP does not narrow who may read.
pub const TLP_IDS: [&str; 9] = [
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
];

/// The name of a TLP marking-definition id (2.0, then 1.0, in the order of [`TLP_IDS`]).
pub fn tlp_name(id: &str) -> Option<&'static str> {
    const NAMES: [&str; 9] = [
        "TLP:CLEAR",
        "TLP:GREEN",
        "TLP:AMBER",
        "TLP:AMBER+STRICT",
        "TLP:RED",
        "TLP:WHITE",
        "TLP:GREEN",
        "TLP:AMBER",
        "TLP:RED",
    ];
    TLP_IDS.iter().position(|t| *t == id).map(|i| NAMES[i])
}

/// Whether an object's markings keep it from being sent to a peer hub automatically (DESIGN
/// §11): TLP AMBER, AMBER+STRICT or RED (2.0 or 1.0), on the whole object or any part of it,
/// ask a person to decide each disclosure.
pub fn withheld_from_peers(object: &Value) -> bool {
    let whole = object["object_marking_refs"]
        .as_array()
        .into_iter()
        .flatten();
    let parts = object["granular_markings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| &g["marking_ref"]);
    whole.chain(parts).any(|m| {
        matches!(
            m.as_str().and_then(tlp_name),
            Some("TLP:AMBER" | "TLP:AMBER+STRICT" | "TLP:RED")
        )
    })
}

/// [`withheld_from_peers`] of an object's JSON text; text that is not JSON is withheld (fail
/// closed).
pub fn raw_withheld_from_peers(raw: &str) -> bool {
    serde_json::from_str(raw).map_or(true, |v| withheld_from_peers(&v))
}

/// A confidentiality label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Label {
    pub policy: String,
    pub classification: String,
    /// None: no releasability restriction. Nations, community ids or organization slugs.
    pub releasable_to: Option<Vec<String>>,
    /// Restrictive categories: the reader must hold all.
    pub sensitivity: Vec<String>,
}

#[derive(Serialize)]
struct Canonical<'a> {
    classification: &'a str,
    policy: &'a str,
    releasable_to: &'a [String],
    sensitivity: &'a [String],
}

fn normalize_list(items: &[String], nations: bool) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .map(|s| {
            if nations {
                Nation::parse(s).map_or_else(|| s.trim().to_string(), String::from)
            } else {
                s.trim().to_string()
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

impl Label {
    pub fn new(
        policy: &str,
        classification: &str,
        releasable_to: Option<&[&str]>,
        sensitivity: &[&str],
    ) -> Self {
        Self {
            policy: policy.to_string(),
            classification: classification.to_string(),
            releasable_to: releasable_to.map(|r| r.iter().map(|s| s.to_string()).collect()),
            sensitivity: sensitivity.iter().map(|s| s.to_string()).collect(),
        }
        .normalized()
    }

    /// Lists de-duplicated and sorted, nation aliases resolved.
    pub fn normalized(mut self) -> Self {
        self.releasable_to = self.releasable_to.map(|r| normalize_list(&r, true));
        self.sensitivity = normalize_list(&self.sensitivity, false);
        self
    }

    /// The canonical text: compact JSON with sorted keys; absent lists as `[]`.
    pub fn canonical(&self) -> String {
        let empty = Vec::new();
        let c = Canonical {
            classification: &self.classification,
            policy: &self.policy,
            releasable_to: self.releasable_to.as_ref().unwrap_or(&empty),
            sensitivity: &self.sensitivity,
        };
        serde_json::to_string(&c).unwrap_or_default()
    }

    /// The deterministic marking-definition id of this label.
    pub fn id(&self) -> String {
        format!(
            "marking-definition--{}",
            Uuid::new_v5(&LABEL_NAMESPACE, self.canonical().as_bytes())
        )
    }

    /// A human-readable name: `NATO:NS // REL TO KOR, NATO // ATOMAL`.
    pub fn display_name(&self) -> String {
        let mut s = format!("{}:{}", self.policy, self.classification);
        if let Some(r) = &self.releasable_to {
            s.push_str(" // REL TO ");
            // Empty only in a label relto reads from an ACS marking that permits no one.
            s.push_str(&if r.is_empty() {
                "no one".to_string()
            } else {
                r.join(", ")
            });
        }
        if !self.sensitivity.is_empty() {
            s.push_str(" // ");
            s.push_str(&self.sensitivity.join(", "));
        }
        s
    }

    /// The label as a STIX marking-definition (the form relto creates). A definition relto
    /// carries for a label the hub may not hold yet (a draft's, a MISP event's) is created at
    /// [`CARRIED_DEFINITION_CREATED`], so that every copy is the same bytes.
    pub fn to_marking_definition(&self, created: &str) -> Value {
        let mut ext = serde_json::json!({
            "extension_type": "property-extension",
            "policy": self.policy,
            "classification": self.classification,
        });
        if let Some(r) = &self.releasable_to {
            ext["releasable_to"] = serde_json::json!(r);
        }
        if !self.sensitivity.is_empty() {
            ext["sensitivity"] = serde_json::json!(self.sensitivity);
        }
        serde_json::json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.id(),
            "created": created,
            "name": self.display_name(),
            "extensions": { LABEL_EXTENSION: ext },
        })
    }
}

/// The `created` of a label definition relto carries with what it converts or drafts.
pub const CARRIED_DEFINITION_CREATED: &str = "2024-10-25T00:00:00.000Z";

/// What a marking-definition is, for the release decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marking {
    /// A relto confidentiality label.
    Label(Label),
    /// TLP, a statement or another marking that does not restrict readers inside the hub.
    NonRestrictive,
    /// An ACS 3.0 marking: its extension as posted. What it restricts depends on the realm
    /// (`ReleasePolicy::read_acs`).
    Acs(Value),
}

/// Reads a marking-definition object. Ok(None) when `value` is not a marking-definition;
/// Err when it carries the relto extension in a malformed way.
pub fn parse_marking(value: &Value) -> Result<Option<(String, Marking)>, crate::PolicyError> {
    read_marking(value).map_err(crate::PolicyError::Label)
}

fn read_marking(value: &Value) -> Result<Option<(String, Marking)>, String> {
    if value.get("type").and_then(Value::as_str) != Some("marking-definition") {
        return Ok(None);
    }
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .ok_or("marking-definition without id")?
        .to_string();
    let extensions = value.get("extensions");
    let Some(ext) = extensions.and_then(|e| e.get(LABEL_EXTENSION)) else {
        let acs = extensions.and_then(|e| e.get(crate::acs::ACS_EXTENSION));
        return Ok(Some((
            id,
            acs.map_or(Marking::NonRestrictive, |a| Marking::Acs(a.clone())),
        )));
    };
    let text = |k: &str| -> Result<String, String> {
        ext.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("{id}: label property '{k}' must be a string"))
    };
    let list = |k: &str| -> Result<Option<Vec<String>>, String> {
        match ext.get(k) {
            None => Ok(None),
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("{id}: '{k}' must list strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(format!("{id}: '{k}' must be a non-empty list of strings")),
        }
    };
    let label = Label {
        policy: text("policy")?,
        classification: text("classification")?,
        releasable_to: list("releasable_to")?,
        sensitivity: list("sensitivity")?.unwrap_or_default(),
    }
    .normalized();
    Ok(Some((id, Marking::Label(label))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlp_ids_have_their_names() {
        // The ids of the STIX 2.1 specification's TLP 2.0 and 1.0 marking-definitions.
        let named = |uuid: &str| tlp_name(&format!("marking-definition--{uuid}"));
        assert_eq!(
            named("94868c89-83c2-464b-929b-a1a8aa3c8487"),
            Some("TLP:CLEAR")
        );
        assert_eq!(
            named("939a9414-2ddd-4d32-a0cd-375ea402b003"),
            Some("TLP:AMBER+STRICT")
        );
        assert_eq!(
            named("e828b379-4e03-4974-9ac4-e53a884c97c1"),
            Some("TLP:RED")
        );
        assert_eq!(
            named("613f2e26-407d-48c7-9eca-b8e91df99dc9"),
            Some("TLP:WHITE")
        );
        assert_eq!(
            named("5e57c739-391a-4eb3-b6be-7d15ca92d5ed"),
            Some("TLP:RED")
        );
        assert_eq!(named("00000000-0000-4000-8000-000000000000"), None);
    }

    #[test]
    fn canonical_form_and_id_are_deterministic() {
        let a = Label::new("NATO", "NS", Some(&["NATO", "kor", "KOR"]), &["ATOMAL"]);
        let b = Label::new("NATO", "NS", Some(&["KOR", "NATO"]), &["ATOMAL", "ATOMAL"]);
        assert_eq!(a, b);
        assert_eq!(
            a.canonical(),
            r#"{"classification":"NS","policy":"NATO","releasable_to":["KOR","NATO"],"sensitivity":["ATOMAL"]}"#
        );
        assert_eq!(a.id(), b.id());
        let open = Label::new("NATO", "NS", None, &[]);
        assert_eq!(
            open.canonical(),
            r#"{"classification":"NS","policy":"NATO","releasable_to":[],"sensitivity":[]}"#
        );
        assert_ne!(open.id(), a.id());
        assert!(a.id().starts_with("marking-definition--"));
        let blg = Label::new("NATO", "NC", Some(&["BLG"]), &[]);
        assert_eq!(blg.releasable_to, Some(vec!["BGR".to_string()]));
    }

    #[test]
    fn parses_marking_definitions() {
        let label = Label::new("EU", "EU-C", Some(&["EU"]), &[]);
        let md = label.to_marking_definition("2024-10-25T00:00:00.000Z");
        let (id, m) = parse_marking(&md).unwrap().unwrap();
        assert_eq!(id, label.id());
        assert_eq!(m, Marking::Label(label));
        let tlp = serde_json::json!({"type": "marking-definition", "id": TLP_IDS[0]});
        assert_eq!(
            parse_marking(&tlp).unwrap().unwrap().1,
            Marking::NonRestrictive
        );
        let bad = serde_json::json!({"type": "marking-definition", "id": "marking-definition--x",
            "extensions": {LABEL_EXTENSION: {"policy": "NATO", "classification": "NS", "releasable_to": []}}});
        assert!(parse_marking(&bad).is_err());
        assert_eq!(
            parse_marking(&serde_json::json!({"type": "note"})).unwrap(),
            None
        );
    }

    #[test]
    fn tlp_amber_and_red_are_withheld_from_peers_whole_or_in_part() {
        let with = |refs: &str| -> Value { serde_json::from_str(refs).unwrap() };
        for (i, name) in TLP_IDS.iter().map(|id| (id, tlp_name(id).unwrap())) {
            let whole = with(&format!(r#"{{"object_marking_refs":["{i}"]}}"#));
            let part = with(&format!(
                r#"{{"granular_markings":[{{"marking_ref":"{i}","selectors":["name"]}}]}}"#
            ));
            let held = matches!(name, "TLP:AMBER" | "TLP:AMBER+STRICT" | "TLP:RED");
            assert_eq!(withheld_from_peers(&whole), held, "{name}");
            assert_eq!(withheld_from_peers(&part), held, "{name} in part");
        }
        assert!(!withheld_from_peers(&with(
            r#"{"object_marking_refs":"x"}"#
        )));
    }
}
