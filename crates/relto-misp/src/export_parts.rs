//! The parts of a MISP event that are not single attributes, written so that misp-stix reads
//! them back to the same STIX objects: an observed-data labelled `misp:name="file"` or
//! `"url"` as a MISP object of that template, and threat actors, attack patterns, intrusion
//! sets, malware and tools as galaxy clusters (on the attribute whose observed-data is
//! `related-to` them, else on the event).

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::export::{misp_label as label_value, uuid_part};
use crate::text;

/// A uuid for something MISP needs one for and STIX does not keep (an object's attribute).
fn derived_uuid(parts: &str) -> String {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("relto:misp:{parts}").as_bytes(),
    )
    .to_string()
}

/// The MISP object of an observed-data made from one (`misp:name` label), or None when it is
/// no object relto writes. `indicator` is its indicator, if the report refers to it.
pub fn misp_object(
    observed: &Value,
    by_id: &HashMap<&str, &Value>,
    indicator: Option<&Value>,
    timestamp: String,
) -> Option<Value> {
    let name = label_value(observed, "misp:name")?;
    let u = uuid_part(text(observed, "id")?);
    let sco_id = observed.get("object_refs")?.as_array()?.first()?.as_str()?;
    let sco = by_id.get(sco_id)?;
    let pattern = indicator
        .and_then(|i| text(i, "pattern"))
        .unwrap_or_default();
    // (relation, which is also the MISP type; category; value; pattern path)
    let mut fields: Vec<(&str, &str, String, &str)> = Vec::new();
    match (name, text(sco, "type")?) {
        ("file", "file") => {
            for (relation, key, path) in crate::objects::FILE_FIELDS {
                let value = match key {
                    "name" => text(sco, "name").map(str::to_string),
                    "size" => sco
                        .get("size")
                        .and_then(Value::as_u64)
                        .map(|n| n.to_string()),
                    hash => sco
                        .get("hashes")
                        .and_then(|h| h.get(hash)?.as_str())
                        .map(str::to_string),
                };
                let category = if key == "size" {
                    "Other"
                } else {
                    "Payload delivery"
                };
                fields.extend(value.map(|v| (relation, category, v, path)));
            }
        }
        ("url", "url") => {
            let v = text(sco, "value")?.to_string();
            fields.push(("url", "Network activity", v, "url:value"));
        }
        _ => return None,
    }
    let attributes: Vec<Value> = fields
        .into_iter()
        .map(|(relation, category, value, path)| {
            json!({
                "uuid": derived_uuid(&format!("{u}:{relation}")),
                "type": relation, "object_relation": relation, "category": category,
                "to_ids": pattern.contains(&format!("{path} = ")),
                "value": value, "timestamp": timestamp, "distribution": "5",
            })
        })
        .collect();
    Some(json!({
        "name": name,
        "meta-category": label_value(observed, "misp:meta-category").unwrap_or(name),
        "uuid": u, "timestamp": timestamp, "distribution": "5",
        "Attribute": attributes,
    }))
}

/// The galaxy type and name of a STIX object misp-stix makes of a cluster.
fn galaxy_kind(o: &Value) -> Option<(&str, &str)> {
    let stix = text(o, "type")?;
    let (kind, name, ..) = crate::galaxies::CLUSTER_TYPES
        .iter()
        .find(|(_, _, t, _)| *t == stix)?;
    Some((
        label_value(o, "misp:galaxy-type").unwrap_or(kind),
        label_value(o, "misp:galaxy-name").unwrap_or(name),
    ))
}

pub fn is_cluster(o: &Value) -> bool {
    galaxy_kind(o).is_some()
}

/// A galaxy holding the one cluster `o` is.
pub fn galaxy(o: &Value) -> Option<Value> {
    let (kind, galaxy_name) = galaxy_kind(o)?;
    let name = text(o, "name")?;
    let strings = |key: &str| -> Vec<Value> {
        o.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let external_ids: Vec<Value> = strings("external_references")
        .iter()
        .filter(|r| text(r, "source_name") == Some("mitre-attack"))
        .filter_map(|r| r.get("external_id").cloned())
        .collect();
    let value = label_value(o, &format!("misp-galaxy:{kind}"))
        .map(str::to_string)
        .unwrap_or_else(|| match external_ids.first().and_then(Value::as_str) {
            Some(id) if kind.starts_with("mitre-") => format!("{name} - {id}"),
            _ => name.to_string(),
        });
    let mut meta = Map::new();
    let aliases = strings("aliases");
    if !aliases.is_empty() {
        meta.insert("synonyms".into(), json!(aliases));
    }
    if !external_ids.is_empty() {
        meta.insert("external_id".into(), json!(external_ids));
    }
    let phases: Vec<String> = strings("kill_chain_phases")
        .iter()
        .filter_map(|p| {
            Some(format!(
                "{}:{}",
                text(p, "kill_chain_name")?,
                text(p, "phase_name")?
            ))
        })
        .collect();
    if !phases.is_empty() {
        meta.insert("kill_chain".into(), json!(phases));
    }
    for (key, v) in o.as_object()? {
        if let Some(k) = key.strip_prefix("x_misp_") {
            meta.insert(k.to_string(), v.clone());
        }
    }
    let mut cluster = json!({
        "uuid": uuid_part(text(o, "id")?), "type": kind, "value": value,
        "tag_name": format!("misp-galaxy:{kind}=\"{value}\""),
        "meta": meta,
    });
    if let Some(d) = text(o, "description") {
        cluster["description"] = json!(d);
    }
    Some(json!({
        "uuid": derived_uuid(&format!("galaxy:{kind}")),
        "name": galaxy_name, "type": kind, "description": galaxy_name,
        "namespace": if kind.starts_with("mitre-") { "mitre-attack" } else { "misp" },
        "GalaxyCluster": [cluster],
    }))
}

/// By observed-data id, the clusters it is `related-to` (among `refs`).
pub fn attached<'a>(
    refs: &[&str],
    by_id: &HashMap<&str, &'a Value>,
) -> HashMap<String, Vec<&'a Value>> {
    let mut out: HashMap<String, Vec<&Value>> = HashMap::new();
    for r in refs {
        let Some(rel) = by_id.get(r) else { continue };
        if text(rel, "type") != Some("relationship")
            || text(rel, "relationship_type") != Some("related-to")
        {
            continue;
        }
        let (Some(source), Some(target)) = (text(rel, "source_ref"), text(rel, "target_ref"))
        else {
            continue;
        };
        let Some(cluster) = by_id.get(target).filter(|t| is_cluster(t)) else {
            continue;
        };
        if source.starts_with("observed-data--") && refs.contains(&source) {
            out.entry(source.to_string()).or_default().push(cluster);
        }
    }
    out
}
