//! MISP event reports as misp-stix maps them: a `note--<report uuid>` by the event's
//! creator, `abstract` its name, `content` its Markdown, referring to the attributes and
//! objects it mentions (`@[attribute](uuid)`, `@[object](uuid)`) as converted, else to the
//! event's report. A deleted event report is not converted.

use serde_json::{json, Map, Value};

use crate::{text, times, uuid_of};

/// The uuids `content` mentions as `@[kind](uuid)`, each with its kind, in order.
fn mentions(content: &str) -> Vec<(&str, &str)> {
    content
        .split("@[")
        .skip(1)
        .filter_map(|part| {
            let (kind, rest) = part.split_once("](")?;
            let (uuid, _) = rest.split_once(')')?;
            Some((kind, uuid))
        })
        .collect()
}

/// The ids `made` holds for a mentioned attribute (its observed-data and indicator) or
/// object (its observables too, first), as misp-stix lists them.
fn mentioned_ids(kind: &str, uuid: &str, made: &[Value]) -> Vec<String> {
    let suffix = format!("--{uuid}");
    let of = |types: &[&str]| -> Vec<String> {
        made.iter()
            .filter_map(|o| o["id"].as_str())
            .filter(|id| id.ends_with(&suffix))
            .filter(|id| types.iter().any(|t| id.starts_with(&format!("{t}--"))))
            .map(str::to_string)
            .collect()
    };
    let sdos = ["observed-data", "indicator"];
    match kind {
        "attribute" => sdos.iter().flat_map(|t| of(&[t])).collect(),
        "object" => {
            let mut ids: Vec<String> = made
                .iter()
                .filter_map(|o| o["id"].as_str())
                .filter(|id| id.ends_with(&suffix))
                .filter(|id| !sdos.iter().any(|t| id.starts_with(&format!("{t}--"))))
                .filter(|id| !id.starts_with("relationship--"))
                .map(str::to_string)
                .collect();
            ids.extend(sdos.iter().flat_map(|t| of(&[t])));
            ids
        }
        _ => Vec::new(),
    }
}

/// The notes of the event's reports, and those not converted (with why).
pub fn convert(
    event: &Value,
    identity: &str,
    report_id: &str,
    label_ids: &[String],
    made: &[Value],
) -> (Vec<Value>, Vec<String>) {
    let (mut notes, mut skipped) = (Vec::new(), Vec::new());
    for r in event
        .get("EventReport")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = text(r, "name").unwrap_or("(unnamed)");
        let uuid = match uuid_of(r, "an event report") {
            Ok(u) => u,
            Err(e) => {
                skipped.push(format!("event report '{name}': {}", e.0));
                continue;
            }
        };
        if crate::deleted(r) {
            skipped.push(format!(
                "event report '{name}' {uuid}: deleted in MISP, so not shared"
            ));
            continue;
        }
        let Some((created, _)) = times(r, "timestamp") else {
            skipped.push(format!("event report '{name}' {uuid}: no valid timestamp"));
            continue;
        };
        let content = text(r, "content").unwrap_or_default();
        let mut refs: Vec<String> = Vec::new();
        for (kind, mentioned) in mentions(content) {
            for id in mentioned_ids(kind, &mentioned.to_ascii_lowercase(), made) {
                if !refs.contains(&id) {
                    refs.push(id);
                }
            }
        }
        if refs.is_empty() {
            refs.push(report_id.to_string());
        }
        let mut note = Map::new();
        note.insert("type".into(), json!("note"));
        note.insert("spec_version".into(), json!("2.1"));
        note.insert("id".into(), json!(format!("note--{uuid}")));
        note.insert("created_by_ref".into(), json!(identity));
        note.insert("created".into(), json!(created));
        note.insert("modified".into(), json!(created));
        note.insert("abstract".into(), json!(name));
        note.insert("content".into(), json!(content));
        note.insert("object_refs".into(), json!(refs));
        note.insert("labels".into(), json!(["misp:data-layer=\"Event Report\""]));
        notes.push(crate::marked(Value::Object(note), label_ids));
    }
    (notes, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_read_in_order() {
        assert_eq!(
            mentions("a @[attribute](u1) b @[object](u2) @[tag](tlp:green) @[broken"),
            vec![("attribute", "u1"), ("object", "u2"), ("tag", "tlp:green")]
        );
        let made = vec![
            json!({"id": "observed-data--u1"}),
            json!({"id": "domain-name--u1"}),
            json!({"id": "indicator--u1"}),
            json!({"id": "relationship--u1"}),
        ];
        assert_eq!(
            mentioned_ids("attribute", "u1", &made),
            ["observed-data--u1", "indicator--u1"]
        );
        assert_eq!(
            mentioned_ids("object", "u1", &made),
            ["domain-name--u1", "observed-data--u1", "indicator--u1"]
        );
    }
}
