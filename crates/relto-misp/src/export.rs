//! STIX 2.1 out as MISP events (issue 17), for `relto export --format misp`: each report an
//! event, each observed-data it refers to an attribute (its `misp:type` and `misp:category`
//! labels, else the type its observables give), `to_ids` when an indicator of the same
//! uuid is referred to; a bare indicator with a simple pattern an attribute for detection;
//! TLP 2.0 markings and NATO/EU relto labels as MISP taxonomy tags. MISP's own importer
//! (misp-stix) reads it back to the same objects; what has no MISP attribute form is listed.

use std::collections::HashMap;

use relto_policy::label::{parse_marking, Marking};
use serde_json::{json, Value};

use crate::{export_parts, text};

/// The events of the reports among `objects`, and what was not exported, with why.
pub fn to_misp(objects: &[Value]) -> (Vec<Value>, Vec<String>) {
    let by_id: HashMap<&str, &Value> = objects
        .iter()
        .filter_map(|o| Some((text(o, "id")?, o)))
        .collect();
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    for report in objects.iter().filter(|o| text(o, "type") == Some("report")) {
        let (event, mut not) = event_of(report, &by_id);
        events.push(json!({ "Event": event }));
        skipped.append(&mut not);
    }
    (events, skipped)
}

pub(crate) fn uuid_part(id: &str) -> &str {
    id.split_once("--").map_or("", |(_, u)| u)
}

/// Seconds since the epoch of a STIX timestamp, as MISP writes them (a string).
fn seconds(stamp: Option<&str>) -> String {
    stamp
        .and_then(|s| relto_stix::timestamp::parse_micros(s).ok())
        .map_or_else(|| "0".into(), |us| (us.div_euclid(1_000_000)).to_string())
}

/// The MISP tags of an object's markings: TLP 2.0 colours, NATO and EU relto labels.
fn marking_tags(o: &Value, by_id: &HashMap<&str, &Value>) -> Vec<Value> {
    let mut tags = Vec::new();
    for m in o
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(tlp) = relto_policy::label::tlp_name(m) {
            let colour = tlp.trim_start_matches("TLP:").to_ascii_lowercase();
            tags.push(json!({"name": format!("tlp:{colour}")}));
            continue;
        }
        let Some(Ok(Some((_, Marking::Label(label))))) = by_id.get(m).map(|d| parse_marking(d))
        else {
            continue;
        };
        let tag = match label.policy.as_str() {
            "NATO" => format!("nato:classification=\"{}\"", label.classification),
            "EU" => match label.classification.as_str() {
                "EU-R" => "euci:RESTREINT-UE-EU-RESTRICTED".into(),
                "EU-C" => "euci:CONFIDENTIEL-UE-EU-CONFIDENTIAL".into(),
                "EU-S" => "euci:SECRET-UE-EU-SECRET".into(),
                _ => "euci:TRES-SECRET-UE-EU-TOP-SECRET".into(),
            },
            _ => continue,
        };
        if !tags.iter().any(|t| t["name"] == tag.as_str()) {
            tags.push(json!({ "name": tag }));
        }
    }
    tags
}

/// `misp:type="ip-dst"` → `ip-dst`.
pub(crate) fn misp_label<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.get("labels")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|l| l.strip_prefix(key)?.strip_prefix("=\"")?.strip_suffix('"'))
}

fn event_of(report: &Value, by_id: &HashMap<&str, &Value>) -> (Value, Vec<String>) {
    let refs: Vec<&str> = report
        .get("object_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let has = |id: &str| refs.contains(&id);
    let creator = text(report, "created_by_ref").and_then(|c| by_id.get(c));
    let mut tags: Vec<Value> = report
        .get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|l| *l != "Threat-Report" && !l.starts_with("misp:tool="))
        .map(|l| json!({ "name": l }))
        .collect();
    for t in marking_tags(report, by_id) {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    let mut attributes = Vec::new();
    let mut misp_objects = Vec::new();
    let mut galaxies = Vec::new();
    let mut event_reports = Vec::new();
    let mut skipped = Vec::new();
    let attached = export_parts::attached(&refs, by_id);
    let on_attributes: Vec<&str> = attached
        .values()
        .flatten()
        .filter_map(|c| text(c, "id"))
        .collect();
    // Clusters placed on an attribute; the others go on the event.
    let mut placed: Vec<&str> = Vec::new();
    // Markings a note or a cluster may carry: the report's (neither has tags of its own).
    let covered = |o: &Value| marking_tags(o, by_id).iter().all(|t| tags.contains(t));
    for r in &refs {
        let Some(o) = by_id.get(r) else { continue };
        let kind = text(o, "type").unwrap_or_default();
        let u = uuid_part(r);
        if kind == "observed-data" && misp_label(o, "misp:name").is_some() {
            let indicator = format!("indicator--{u}");
            let indicator = by_id.get(indicator.as_str()).filter(|_| has(&indicator));
            match export_parts::misp_object(
                o,
                by_id,
                indicator.copied(),
                seconds(text(o, "modified")),
            ) {
                Some(mut object) => {
                    // The object's markings on each of its attributes, as an attribute's.
                    let own: Vec<Value> = marking_tags(o, by_id)
                        .into_iter()
                        .filter(|t| !tags.contains(t))
                        .collect();
                    if !own.is_empty() {
                        for a in object["Attribute"].as_array_mut().into_iter().flatten() {
                            a["Tag"] = json!(own);
                        }
                    }
                    misp_objects.push(object)
                }
                None => skipped.push(format!(
                    "{r}: a MISP object relto does not write (it writes file and url objects)"
                )),
            }
            continue;
        }
        if (kind == "note" || export_parts::is_cluster(o)) && !covered(o) {
            skipped.push(format!(
                "{r}: its markings are stricter than its report's, and a MISP {} carries none of its own",
                if kind == "note" { "event report" } else { "galaxy" }
            ));
            continue;
        }
        if kind == "note" {
            // An event report: MISP resolves its mentions (`@[attribute](uuid)`) itself.
            event_reports.push(json!({
                "uuid": u, "name": text(o, "abstract").unwrap_or("Note"),
                "content": text(o, "content").unwrap_or_default(),
                "timestamp": seconds(text(o, "modified")), "distribution": "5", "deleted": false,
            }));
            continue;
        }
        if export_parts::is_cluster(o) {
            if !on_attributes.contains(r) {
                galaxies.extend(export_parts::galaxy(o));
            }
            continue;
        }
        let attribute = match kind {
            "observed-data" => observed_attribute(o, by_id).map(|(t, v)| {
                let indicator = format!("indicator--{u}");
                let comment = by_id
                    .get(indicator.as_str())
                    .and_then(|i| text(i, "description"))
                    .unwrap_or_default();
                (
                    t,
                    v,
                    misp_label(o, "misp:category"),
                    has(&indicator),
                    comment,
                )
            }),
            "indicator" if !has(&format!("observed-data--{u}")) => {
                simple_pattern(text(o, "pattern").unwrap_or_default())
                    .map(|(t, v)| (t, v, None, true, text(o, "description").unwrap_or_default()))
            }
            "vulnerability" => text(o, "name").map(|n| {
                (
                    "vulnerability".to_string(),
                    n.to_string(),
                    Some("External analysis"),
                    false,
                    "",
                )
            }),
            // Observables, and the based-on relationships and indicators of attributes,
            // travel inside the attribute.
            "indicator" | "relationship" | "identity" if attribute_part(o, &refs) => continue,
            _ => None,
        };
        let Some((t, value, category, to_ids, comment)) = attribute else {
            if !is_observable(kind) {
                skipped.push(format!("{r}: a {kind} has no MISP attribute form"));
            }
            continue;
        };
        let mut a = json!({
            "uuid": u, "type": t, "value": value, "to_ids": to_ids,
            "category": category.unwrap_or_else(|| default_category(&t)),
            "timestamp": seconds(text(o, "modified")), "distribution": "5",
        });
        if !comment.is_empty() {
            a["comment"] = json!(comment);
        }
        let attribute_tags = marking_tags(o, by_id);
        let own: Vec<Value> = o
            .get("labels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|l| !l.starts_with("misp:type=") && !l.starts_with("misp:category="))
            .map(|l| json!({ "name": l }))
            .chain(attribute_tags.into_iter().filter(|t| !tags.contains(t)))
            .collect();
        if !own.is_empty() {
            a["Tag"] = json!(own);
        }
        if let Some(clusters) = attached.get(*r) {
            let on: Vec<&Value> = clusters.iter().copied().filter(|c| covered(c)).collect();
            placed.extend(on.iter().filter_map(|c| text(c, "id")));
            a["Galaxy"] = json!(on
                .into_iter()
                .filter_map(export_parts::galaxy)
                .collect::<Vec<_>>());
        }
        attributes.push(a);
    }
    // A cluster related to an observed-data that became no attribute stays on the event.
    for r in on_attributes.iter().filter(|r| !placed.contains(r)) {
        if let Some(c) = by_id.get(r).filter(|c| covered(c)) {
            galaxies.extend(export_parts::galaxy(c));
        }
    }
    let org = json!({
        "name": creator.and_then(|c| text(c, "name")).unwrap_or("relto"),
        "uuid": creator.and_then(|c| text(c, "id")).map_or("00000000-0000-4000-8000-000000000000", uuid_part),
    });
    let published = text(report, "published");
    let event = json!({
        "uuid": uuid_part(text(report, "id").unwrap_or_default()),
        "info": text(report, "name").unwrap_or("relto report"),
        "date": published.map_or("", |p| p.get(..10).unwrap_or_default()),
        "timestamp": seconds(text(report, "modified")),
        "publish_timestamp": seconds(published),
        "published": true,
        "threat_level_id": "4",
        "analysis": "2",
        "distribution": "0",
        "Orgc": org, "Org": org,
        "Tag": tags,
        "Attribute": attributes,
        "Object": misp_objects, "Galaxy": galaxies, "EventReport": event_reports,
    });
    (event, skipped)
}

/// Objects that travel as part of an attribute: its identity (the event's Orgc), the
/// indicator and based-on relationship of an observed-data the report refers to.
fn attribute_part(o: &Value, refs: &[&str]) -> bool {
    let u = uuid_part(text(o, "id").unwrap_or_default());
    match text(o, "type") {
        Some("identity") => true,
        Some("indicator") => refs.contains(&format!("observed-data--{u}").as_str()),
        Some("relationship") => matches!(
            text(o, "relationship_type"),
            Some("based-on" | "related-to")
        ),
        _ => false,
    }
}

fn is_observable(kind: &str) -> bool {
    matches!(
        kind,
        "network-traffic"
            | "ipv4-addr"
            | "ipv6-addr"
            | "domain-name"
            | "url"
            | "file"
            | "email-addr"
            | "email-message"
            | "mac-addr"
            | "autonomous-system"
            | "mutex"
            | "windows-registry-key"
    )
}

fn default_category(kind: &str) -> &'static str {
    match kind {
        "md5" | "sha1" | "sha256" | "filename" | "email-src" | "email-dst" | "email-subject" => {
            "Payload delivery"
        }
        _ => "Network activity",
    }
}

/// The MISP type and value of an observed-data: its `misp:type` label with its observables'
/// values, else what its observables are.
fn observed_attribute(o: &Value, by_id: &HashMap<&str, &Value>) -> Option<(String, String)> {
    let scos: Vec<&Value> = o
        .get("object_refs")?
        .as_array()?
        .iter()
        .filter_map(|r| by_id.get(r.as_str()?).copied())
        .collect();
    let of = |t: &str| scos.iter().copied().find(|s| text(s, "type") == Some(t));
    let ip = || {
        of("ipv4-addr")
            .or_else(|| of("ipv6-addr"))
            .and_then(|s| text(s, "value"))
    };
    let hash = |name: &str| of("file")?.get("hashes")?.get(name)?.as_str();
    let value = |t: &str| of(t).and_then(|s| text(s, "value"));
    let kind = misp_label(o, "misp:type").map(str::to_string).or_else(|| {
        Some(
            match scos.first().and_then(|s| text(s, "type"))? {
                "ipv4-addr" | "ipv6-addr" | "network-traffic" => "ip-dst",
                "domain-name" => "domain",
                "url" => "url",
                "email-addr" => "email",
                "file" if hash("SHA-256").is_some() => "sha256",
                "file" if hash("SHA-1").is_some() => "sha1",
                "file" if hash("MD5").is_some() => "md5",
                "file" => "filename",
                _ => return None,
            }
            .to_string(),
        )
    })?;
    let v = match kind.as_str() {
        "ip-src" | "ip-dst" => ip()?.to_string(),
        "domain" | "hostname" => value("domain-name")?.to_string(),
        "url" | "link" => value("url")?.to_string(),
        "md5" => hash("MD5")?.to_string(),
        "sha1" => hash("SHA-1")?.to_string(),
        "sha256" => hash("SHA-256")?.to_string(),
        "filename" => text(of("file")?, "name")?.to_string(),
        "filename|md5" | "filename|sha1" | "filename|sha256" => {
            let name = match kind.as_str() {
                "filename|md5" => "MD5",
                "filename|sha1" => "SHA-1",
                _ => "SHA-256",
            };
            format!("{}|{}", text(of("file")?, "name")?, hash(name)?)
        }
        "email" | "email-src" | "email-dst" => value("email-addr")?.to_string(),
        "email-subject" => text(of("email-message")?, "subject")?.to_string(),
        "domain|ip" => format!("{}|{}", value("domain-name")?, ip()?),
        "mac-address" => value("mac-addr")?.to_string(),
        "AS" => format!("AS{}", of("autonomous-system")?.get("number")?.as_u64()?),
        "mutex" => text(of("mutex")?, "name")?.to_string(),
        "regkey" => text(of("windows-registry-key")?, "key")?.to_string(),
        _ => return None,
    };
    Some((kind, v))
}

/// `[T:value = 'v']` (and the hash forms) as a MISP type and value.
fn simple_pattern(pattern: &str) -> Option<(String, String)> {
    let inner = pattern.strip_prefix('[')?.strip_suffix(']')?;
    let (path, quoted) = inner.split_once(" = ")?;
    if quoted.contains(" AND ") || quoted.contains(" OR ") {
        return None;
    }
    let value = quoted
        .strip_prefix('\'')?
        .strip_suffix('\'')?
        .replace("\\'", "'")
        .replace("\\\\", "\\");
    let kind = match path {
        "ipv4-addr:value" | "ipv6-addr:value" => "ip-dst",
        "domain-name:value" => "domain",
        "url:value" => "url",
        "email-addr:value" => "email",
        "file:hashes.MD5" => "md5",
        "file:hashes.'SHA-1'" => "sha1",
        "file:hashes.'SHA-256'" => "sha256",
        _ => return None,
    };
    Some((kind.to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_patterns_are_attributes_and_compound_ones_are_not() {
        assert_eq!(
            simple_pattern("[file:hashes.'SHA-256' = 'ab']"),
            Some(("sha256".into(), "ab".into()))
        );
        assert_eq!(
            simple_pattern("[url:value = 'http://x/it\\'s']"),
            Some(("url".into(), "http://x/it's".into()))
        );
        assert_eq!(simple_pattern("[a:b = 'x' AND c:d = 'y']"), None);
        assert_eq!(simple_pattern("[process:name = 'x']"), None);
    }
}
