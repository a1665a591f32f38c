//! MISP galaxy clusters as misp-stix maps them: a threat actor, an ATT&CK attack pattern,
//! intrusion set, malware or tool, or a Malpedia family becomes that STIX object, its id the
//! cluster's uuid, its labels the galaxy's name and type and the cluster's tag; an
//! attribute's cluster is also `related-to` from the attribute's observed-data. Other
//! galaxies are listed as not converted.

use serde_json::{json, Map, Value};

use crate::text;

/// The galaxies relto converts, as misp-stix maps them: (galaxy type, its name in MISP, STIX
/// type, whether cluster values end in ` - <ATT&CK id>`). The export writes a STIX type as
/// the first galaxy of it.
pub(crate) const CLUSTER_TYPES: [(&str, &str, &str, bool); 6] = [
    ("threat-actor", "Threat Actor", "threat-actor", false),
    (
        "mitre-attack-pattern",
        "Attack Pattern",
        "attack-pattern",
        true,
    ),
    (
        "mitre-intrusion-set",
        "Intrusion Set",
        "intrusion-set",
        true,
    ),
    ("mitre-malware", "Malware", "malware", true),
    ("mitre-tool", "Tool", "tool", true),
    ("malpedia", "Malpedia", "malware", false),
];

/// The STIX type of a galaxy type, and whether its cluster values end in ` - <ATT&CK id>`.
fn stix_type(galaxy_type: &str) -> Option<(&'static str, bool)> {
    CLUSTER_TYPES
        .iter()
        .find(|(g, ..)| *g == galaxy_type)
        .map(|(_, _, stix, attack_ids)| (*stix, *attack_ids))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The STIX objects of a `Galaxy` entry (each cluster once: `seen` holds the ids made
/// already), or why it is not converted (then none of its clusters is).
pub fn convert(
    galaxy: &Value,
    created: &str,
    label_ids: &[String],
    seen: &mut Vec<String>,
) -> Result<Vec<Value>, String> {
    let galaxy_type = text(galaxy, "type").unwrap_or_default();
    let galaxy_name = text(galaxy, "name").unwrap_or(galaxy_type);
    let Some((object_type, attack_ids)) = stix_type(galaxy_type) else {
        return Err(format!(
            "galaxy '{galaxy_name}' ({galaxy_type}): relto converts threat actors, ATT&CK and Malpedia clusters"
        ));
    };
    let mut out = Vec::new();
    let mut made: Vec<String> = Vec::new();
    for cluster in galaxy
        .get("GalaxyCluster")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let uuid = crate::uuid_of(cluster, "a galaxy cluster").map_err(|e| e.0)?;
        let id = format!("{object_type}--{uuid}");
        if seen.contains(&id) || made.contains(&id) {
            continue;
        }
        let value = text(cluster, "value")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("galaxy '{galaxy_name}': cluster {uuid} has no value"))?;
        let meta = cluster.get("meta").and_then(Value::as_object);
        let field = |key: &str| strings(meta.and_then(|m| m.get(key)));
        let external_ids = field("external_id");
        let name = match value.rsplit_once(" - ") {
            Some((name, id)) if attack_ids && external_ids.iter().any(|e| e == id) => name,
            _ => value,
        };
        let mut o = Map::new();
        o.insert("type".into(), json!(object_type));
        o.insert("spec_version".into(), json!("2.1"));
        o.insert("id".into(), json!(id));
        o.insert("created".into(), json!(created));
        o.insert("modified".into(), json!(created));
        o.insert("name".into(), json!(name));
        if let Some(d) = text(cluster, "description").filter(|d| !d.is_empty()) {
            o.insert("description".into(), json!(d));
        }
        if object_type == "malware" {
            o.insert("is_family".into(), json!(false));
        }
        let aliases: Vec<String> = field("synonyms")
            .into_iter()
            .filter(|s| s != name)
            .collect();
        if !aliases.is_empty() && object_type != "attack-pattern" {
            o.insert("aliases".into(), json!(aliases));
        }
        let phases: Vec<Value> = field("kill_chain")
            .iter()
            .filter_map(|k| k.split_once(':'))
            .map(|(chain, phase)| json!({"kill_chain_name": chain, "phase_name": phase}))
            .collect();
        if !phases.is_empty() {
            o.insert("kill_chain_phases".into(), json!(phases));
        }
        let mut labels = vec![
            format!("misp:galaxy-name=\"{galaxy_name}\""),
            format!("misp:galaxy-type=\"{galaxy_type}\""),
        ];
        labels.extend(text(cluster, "tag_name").map(str::to_string));
        o.insert("labels".into(), json!(labels));
        if !external_ids.is_empty() {
            let refs: Vec<Value> = external_ids
                .iter()
                .map(|e| json!({"source_name": "mitre-attack", "external_id": e}))
                .collect();
            o.insert("external_references".into(), json!(refs));
        }
        // What the mapping does not name stays, as misp-stix keeps it, a custom property.
        for (key, v) in meta.into_iter().flatten() {
            if !["synonyms", "external_id", "kill_chain"].contains(&key.as_str()) {
                o.insert(format!("x_misp_{}", key.replace('-', "_")), v.clone());
            }
        }
        made.push(id);
        out.push(crate::marked(Value::Object(o), label_ids));
    }
    seen.extend(made);
    Ok(out)
}

/// The galaxies of an event or an attribute.
pub fn of(v: &Value) -> impl Iterator<Item = &Value> {
    v.get("Galaxy")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The ids made of `galaxy`'s clusters (those among `made`).
pub fn cluster_ids(galaxy: &Value, made: &[String]) -> Vec<String> {
    galaxy
        .get("GalaxyCluster")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| crate::uuid_of(c, "a galaxy cluster").ok())
        .filter_map(|u| {
            made.iter()
                .find(|id| id.ends_with(&format!("--{u}")))
                .cloned()
        })
        .collect()
}

/// An attribute's `related-to` its cluster, with an id derived from both.
pub fn related_to(source: &str, target: &str, created: &str, label_ids: &[String]) -> Value {
    let uuid = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("misp:related-to:{source}:{target}").as_bytes(),
    );
    let r = json!({
        "type": "relationship", "spec_version": "2.1",
        "id": format!("relationship--{uuid}"),
        "created": created, "modified": created,
        "relationship_type": "related-to",
        "source_ref": source, "target_ref": target,
    });
    crate::marked(r, label_ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_become_their_stix_objects_once() {
        let galaxy = json!({"name": "Intrusion Set", "type": "mitre-intrusion-set",
            "GalaxyCluster": [{"uuid": "7a3d4e00-0002-4c8d-9e0f-1a2b3c4d5e6f",
                "value": "APT37 - G0067", "tag_name": "misp-galaxy:mitre-intrusion-set=\"APT37 - G0067\"",
                "meta": {"synonyms": ["APT37", "ScarCruft"], "external_id": ["G0067"], "country": ["KP"]}}]});
        let mut seen = Vec::new();
        let out = convert(&galaxy, "2025-11-25T19:46:40.000Z", &[], &mut seen).unwrap();
        assert_eq!(out.len(), 1);
        let o = &out[0];
        assert_eq!(
            o["id"],
            "intrusion-set--7a3d4e00-0002-4c8d-9e0f-1a2b3c4d5e6f"
        );
        assert_eq!(o["name"], "APT37");
        assert_eq!(o["aliases"], json!(["ScarCruft"]));
        assert_eq!(o["x_misp_country"], json!(["KP"]));
        assert_eq!(
            o["external_references"],
            json!([{"source_name": "mitre-attack", "external_id": "G0067"}])
        );
        assert!(convert(&galaxy, "2025-11-25T19:46:40.000Z", &[], &mut seen)
            .unwrap()
            .is_empty());
        assert_eq!(cluster_ids(&galaxy, &seen), seen);
        // A galaxy with a bad cluster converts none of them and makes nothing "seen".
        let half = json!({"name": "Tool", "type": "mitre-tool", "GalaxyCluster": [
            {"uuid": "7a3d4e00-0009-4c8d-9e0f-1a2b3c4d5e6f", "value": "Cobalt Strike"},
            {"uuid": "not a uuid", "value": "x"}]});
        let before = seen.clone();
        assert!(convert(&half, "2025-11-25T19:46:40.000Z", &[], &mut seen).is_err());
        assert_eq!(seen, before);
        let country = json!({"name": "Country", "type": "country", "GalaxyCluster": []});
        assert!(
            convert(&country, "2025-11-25T19:46:40.000Z", &[], &mut seen)
                .unwrap_err()
                .contains("galaxy 'Country' (country)")
        );
    }
}
