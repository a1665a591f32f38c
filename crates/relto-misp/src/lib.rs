//! MISP events into STIX 2.1 (issue 17), following MISP's own mapping (the `misp-stix`
//! library: an event is a `report` by its creator's `identity`; each attribute an
//! `observed-data` with its cyber-observables, and, when it is for detection (`to_ids`), an
//! `indicator` `based-on` it; ids are the MISP uuids), with MISP taxonomies as relto labels:
//! `tlp:*` as TLP 2.0 markings, `nato:classification` and `euci:*` as a relto label under
//! the NATO or EU policy, a sharing group whose organizations the realm knows as the label's
//! releasability (else the realm's default, never wider), `admiralty-scale` information
//! credibility as STIX `confidence`. docs/interop.md has the table. Pure: bytes in, objects
//! out, and each attribute not converted with the reason.
#![forbid(unsafe_code)]

mod attributes;
mod export;
mod export_parts;
mod galaxies;
mod objects;
mod reports;
mod taxonomy;

use relto_policy::label::Label;
use serde_json::{json, Map, Value};

pub use export::to_misp;
pub use taxonomy::tlp_marking;

/// Most attributes (objects' included) one event may hold.
pub const MAX_ATTRIBUTES: usize = 100_000;

/// What the realm says that the conversion needs.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The realm's default label, if it has one.
    pub default_label: Option<Label>,
    /// The hub's nation (ISO alpha-3): always among a label's releasability.
    pub hub_nation: String,
    /// The realm's organizations a MISP organization may be (by name or slug): their nation.
    pub organizations: Vec<KnownOrganization>,
}

#[derive(Debug, Clone)]
pub struct KnownOrganization {
    pub slug: String,
    pub name: String,
    pub nation: String,
}

/// An event converted: its STIX objects (label definitions first), the label they carry
/// (if any), and what was not converted, with why.
#[derive(Debug, Clone)]
pub struct Converted {
    pub objects: Vec<Value>,
    pub label: Option<Label>,
    pub skipped: Vec<String>,
    /// How the label was chosen, in words (for the operator).
    pub label_reason: String,
}

/// Why an event cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MispError(pub String);

impl std::fmt::Display for MispError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MispError {}

/// The events of a MISP export: `{"Event": …}`, `{"response": [{"Event": …}, …]}`, a list
/// of those, or a bare event.
pub fn events(bytes: &[u8]) -> Result<Vec<Value>, MispError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| MispError(format!("not MISP JSON (an event export): {e}")))?;
    let items = match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("response") {
            Some(Value::Array(a)) => a,
            Some(_) => return Err(MispError("'response' must be a list of events".into())),
            None => vec![Value::Object(o)],
        },
        _ => {
            return Err(MispError(
                "not a MISP event: expected {\"Event\": {…}}".into(),
            ))
        }
    };
    items
        .into_iter()
        .map(|mut item| match item.get_mut("Event").map(Value::take) {
            Some(e @ Value::Object(_)) => Ok(e),
            Some(_) => Err(MispError("'Event' must be an object".into())),
            None if item.get("uuid").is_some() && item.get("info").is_some() => Ok(item),
            None => Err(MispError(
                "not a MISP event: expected {\"Event\": {…}}".into(),
            )),
        })
        .collect()
}

/// Whether MISP marks an attribute, object or event report deleted (its author withdrew it:
/// relto does not share it).
fn deleted(v: &Value) -> bool {
    matches!(v.get("deleted"), Some(Value::Bool(true)))
        || matches!(text(v, "deleted"), Some("1" | "true"))
}

/// `o` (a STIX object) with `markings` as its `object_marking_refs`, when there are any (STIX
/// forbids an empty list).
fn marked(mut o: Value, markings: &[String]) -> Value {
    if !markings.is_empty() {
        o["object_marking_refs"] = json!(markings);
    }
    o
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A MISP uuid, checked: it becomes part of STIX ids.
fn uuid_of(v: &Value, what: &str) -> Result<String, MispError> {
    let u = text(v, "uuid").unwrap_or_default().to_ascii_lowercase();
    let ok = u.len() == 36
        && u.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    ok.then_some(u)
        .ok_or_else(|| MispError(format!("{what} has no valid uuid")))
}

/// A MISP timestamp (seconds, as a string or a number) as STIX `created` (ms) and as an
/// observation time (s).
fn times(v: &Value, key: &str) -> Option<(String, String)> {
    let secs: i64 = match v.get(key)? {
        Value::String(s) => s.parse().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    if !(0..253_402_300_800).contains(&secs) {
        return None;
    }
    // Whole seconds: the text ends in `.000000Z`.
    let stamp = relto_stix::timestamp::format_micros(secs * 1_000_000);
    let base = stamp.strip_suffix(".000000Z")?;
    Some((format!("{base}.000Z"), format!("{base}Z")))
}

/// Converts one event (the value of `Event`).
pub fn convert(event: &Value, ctx: &Context) -> Result<Converted, MispError> {
    let event_uuid = uuid_of(event, "the event")?;
    let orgc = event
        .get("Orgc")
        .ok_or_else(|| MispError("the event has no Orgc (its creator organization)".into()))?;
    let org_uuid = uuid_of(orgc, "the event's Orgc")?;
    let (created, _) = times(event, "timestamp")
        .ok_or_else(|| MispError("the event has no valid timestamp".into()))?;
    let published = times(event, "publish_timestamp")
        .filter(|(c, _)| !c.starts_with("1970"))
        .map_or_else(|| created.replace(".000Z", "Z"), |(_, s)| s);
    let identity_id = format!("identity--{org_uuid}");
    let tags = taxonomy::Tags::of(event);
    let (label, label_reason) = taxonomy::label(&tags, event, ctx);
    let label_ids: Vec<String> = label.iter().map(Label::id).collect();
    let mut markings = label_ids.clone();
    markings.extend(tags.tlp.iter().cloned());

    let attribute_count = attributes::count(event);
    if attribute_count > MAX_ATTRIBUTES {
        return Err(MispError(format!(
            "the event holds {attribute_count} attributes; at most {MAX_ATTRIBUTES} are converted: split it"
        )));
    }
    let mut objects: Vec<Value> = Vec::new();
    if let Some(l) = &label {
        objects.push(l.to_marking_definition(relto_policy::label::CARRIED_DEFINITION_CREATED));
    }
    let mut identity = Map::new();
    identity.insert("type".into(), json!("identity"));
    identity.insert("spec_version".into(), json!("2.1"));
    identity.insert("id".into(), json!(identity_id));
    identity.insert("created".into(), json!(created));
    identity.insert("modified".into(), json!(created));
    identity.insert(
        "name".into(),
        json!(text(orgc, "name").unwrap_or("MISP organization")),
    );
    identity.insert("identity_class".into(), json!("organization"));
    objects.push(marked(Value::Object(identity), &label_ids));
    let mut refs: Vec<String> = Vec::new();
    let mut skipped = Vec::new();
    let mut add = |converted: Vec<Value>, objects: &mut Vec<Value>| {
        for o in converted {
            if let Some(id) = o["id"].as_str() {
                refs.push(id.to_string());
            }
            objects.push(o);
        }
    };
    // Each galaxy cluster once, whether the event or its attributes name it.
    let mut clusters: Vec<String> = Vec::new();
    let mut related = Vec::new();
    for a in attributes::all(event) {
        if deleted(a) {
            let u = text(a, "uuid").unwrap_or("without uuid");
            skipped.push(format!("attribute {u}: deleted in MISP, so not shared"));
            continue;
        }
        match attributes::convert(a, &identity_id, &label_ids) {
            Ok(converted) => {
                let source = converted
                    .first()
                    .and_then(|o| o["id"].as_str())
                    .unwrap_or_default()
                    .to_string();
                add(converted, &mut objects);
                // misp-stix dates an attribute's clusters and their relationships as the
                // attribute (it converted, so its timestamp is valid).
                let (dated, _) =
                    times(a, "timestamp").unwrap_or_else(|| (created.clone(), String::new()));
                for g in galaxies::of(a) {
                    match galaxies::convert(g, &dated, &label_ids, &mut clusters) {
                        Ok(sdos) => add(sdos, &mut objects),
                        Err(why) => skipped.push(why),
                    }
                    // Every cluster the attribute names, made here or before.
                    let named = galaxies::cluster_ids(g, &clusters);
                    related.extend(
                        named
                            .into_iter()
                            .map(|t| (source.clone(), t, dated.clone())),
                    );
                }
            }
            Err(why) => skipped.push(why),
        }
    }
    for o in event
        .get("Object")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if deleted(o) {
            let u = text(o, "uuid").unwrap_or("without uuid");
            skipped.push(format!("MISP object {u}: deleted in MISP, so not shared"));
            continue;
        }
        match crate::objects::convert(o, &identity_id, &label_ids) {
            Ok(converted) => add(converted, &mut objects),
            Err(why) => skipped.push(why),
        }
    }
    for g in galaxies::of(event) {
        match galaxies::convert(g, &created, &label_ids, &mut clusters) {
            Ok(sdos) => add(sdos, &mut objects),
            Err(why) => skipped.push(why),
        }
    }
    let related: Vec<Value> = related
        .into_iter()
        .map(|(source, target, dated)| galaxies::related_to(&source, &target, &dated, &label_ids))
        .collect();
    add(related, &mut objects);
    let report_id = format!("report--{event_uuid}");
    let (notes, not_converted) =
        reports::convert(event, &identity_id, &report_id, &label_ids, &objects);
    skipped.extend(not_converted);
    add(notes, &mut objects);
    let mut report = Map::new();
    report.insert("type".into(), json!("report"));
    report.insert("spec_version".into(), json!("2.1"));
    report.insert("id".into(), json!(report_id));
    report.insert("created_by_ref".into(), json!(identity_id));
    report.insert("created".into(), json!(created));
    report.insert("modified".into(), json!(created));
    report.insert(
        "name".into(),
        json!(text(event, "info").unwrap_or("MISP event")),
    );
    report.insert("published".into(), json!(published));
    if refs.is_empty() {
        // A report refers to at least one object: its creator, when nothing else converted.
        refs.push(identity_id.clone());
    }
    report.insert("object_refs".into(), json!(refs));
    let mut labels = vec!["Threat-Report".to_string()];
    labels.extend(tags.other.iter().cloned());
    report.insert("labels".into(), json!(labels));
    if let Some(c) = tags.confidence {
        report.insert("confidence".into(), json!(c));
    }
    // Last, after what it refers to: the store resolves a reference once, when the object
    // referred to arrives before it.
    objects.push(marked(Value::Object(report), &markings));
    Ok(Converted {
        objects,
        label,
        skipped,
        label_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_misp_writes_them() {
        assert_eq!(
            times(&json!({"t": "1764000000"}), "t"),
            Some((
                "2025-11-24T16:00:00.000Z".into(),
                "2025-11-24T16:00:00Z".into()
            ))
        );
        assert_eq!(
            times(&json!({"t": 0}), "t").map(|t| t.1),
            Some("1970-01-01T00:00:00Z".into())
        );
        assert_eq!(times(&json!({"t": "-5"}), "t"), None);
        assert_eq!(times(&json!({"t": "soon"}), "t"), None);
    }

    #[test]
    fn exports_in_every_shape_give_their_events() {
        let e = json!({"uuid": "5e1b6c7a-1234-4abc-9def-0123456789ab", "info": "x"});
        for doc in [
            json!({"Event": e.clone()}),
            json!({"response": [{"Event": e.clone()}]}),
            json!([{"Event": e.clone()}]),
            e.clone(),
        ] {
            assert_eq!(events(doc.to_string().as_bytes()).unwrap(), vec![e.clone()]);
        }
        for bad in [
            "[1]",
            "{\"x\": 1}",
            "\"text\"",
            "{\"Event\": 3}",
            "not json",
        ] {
            assert!(events(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
