//! One MISP attribute as misp-stix maps it: an `observed-data` and its cyber-observables
//! (ids `type--<attribute uuid>`), and, for detection (`to_ids`), an `indicator` with the
//! same pattern misp-stix writes, `based-on` the observed-data; a vulnerability as a
//! `vulnerability`. Types without a STIX object in that mapping are reported, not guessed.

use serde_json::{json, Map, Value};

use crate::taxonomy::Tags;
use crate::{text, times, uuid_of};

/// The event's own attributes (a MISP object's are converted with their object).
pub fn all(event: &Value) -> Vec<&Value> {
    event
        .get("Attribute")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect()
}

/// How many attributes the event holds, its objects' included.
pub fn count(event: &Value) -> usize {
    let objects = event
        .get("Object")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|o| {
            o.get("Attribute")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        });
    all(event).len() + objects.sum::<usize>()
}

/// A pattern's quoted value.
fn quoted(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn ip_type(v: &str) -> &'static str {
    if v.contains(':') {
        "ipv6-addr"
    } else {
        "ipv4-addr"
    }
}

fn sco(object_type: &str, uuid: &str, props: Value) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), json!(object_type));
    o.insert("spec_version".into(), json!("2.1"));
    o.insert("id".into(), json!(format!("{object_type}--{uuid}")));
    if let Value::Object(p) = props {
        o.extend(p);
    }
    Value::Object(o)
}

/// The observables and the pattern of a type misp-stix maps to observed-data.
fn observables(kind: &str, value: &str, u: &str) -> Option<(Vec<Value>, String)> {
    let hash = |h: &str| match h {
        "md5" => Some("MD5"),
        "sha1" => Some("SHA-1"),
        "sha256" => Some("SHA-256"),
        _ => None,
    };
    let hash_path = |name: &str| {
        if name == "MD5" {
            "file:hashes.MD5".to_string()
        } else {
            format!("file:hashes.'{name}'")
        }
    };
    Some(match kind {
        "ip-src" | "ip-dst" => {
            let side = if kind == "ip-src" {
                "src_ref"
            } else {
                "dst_ref"
            };
            let t = ip_type(value);
            let addr = format!("{t}--{u}");
            (
                vec![
                    sco(
                        "network-traffic",
                        u,
                        json!({ side: addr, "protocols": ["tcp"] }),
                    ),
                    sco(t, u, json!({"value": value})),
                ],
                format!(
                    "[network-traffic:{side}.type = '{t}' AND network-traffic:{side}.value = {}]",
                    quoted(value)
                ),
            )
        }
        "domain" | "hostname" => (
            vec![sco("domain-name", u, json!({"value": value}))],
            format!("[domain-name:value = {}]", quoted(value)),
        ),
        "url" | "link" => (
            vec![sco("url", u, json!({"value": value}))],
            format!("[url:value = {}]", quoted(value)),
        ),
        "md5" | "sha1" | "sha256" => {
            let name = hash(kind)?;
            (
                vec![sco("file", u, json!({"hashes": { name: value }}))],
                format!("[{} = {}]", hash_path(name), quoted(value)),
            )
        }
        "filename" => (
            vec![sco("file", u, json!({"name": value}))],
            format!("[file:name = {}]", quoted(value)),
        ),
        "email" => (
            vec![sco("email-addr", u, json!({"value": value}))],
            format!("[email-addr:value = {}]", quoted(value)),
        ),
        "email-src" => (
            vec![
                sco(
                    "email-message",
                    u,
                    json!({"is_multipart": false, "from_ref": format!("email-addr--{u}")}),
                ),
                sco("email-addr", u, json!({"value": value})),
            ],
            format!("[email-message:from_ref.value = {}]", quoted(value)),
        ),
        "email-dst" => (
            vec![
                sco(
                    "email-message",
                    u,
                    json!({"is_multipart": false, "to_refs": [format!("email-addr--{u}")]}),
                ),
                sco("email-addr", u, json!({"value": value})),
            ],
            format!("[email-message:to_refs[*].value = {}]", quoted(value)),
        ),
        "email-subject" => (
            vec![sco(
                "email-message",
                u,
                json!({"is_multipart": false, "subject": value}),
            )],
            format!("[email-message:subject = {}]", quoted(value)),
        ),
        "domain|ip" => {
            let (domain, ip) = value.split_once('|')?;
            let t = ip_type(ip);
            (
                vec![
                    sco(
                        "domain-name",
                        u,
                        json!({"value": domain, "resolves_to_refs": [format!("{t}--{u}")]}),
                    ),
                    sco(t, u, json!({"value": ip})),
                ],
                format!(
                    "[domain-name:value = {} AND domain-name:resolves_to_refs[*].value = {}]",
                    quoted(domain),
                    quoted(ip)
                ),
            )
        }
        "filename|md5" | "filename|sha1" | "filename|sha256" => {
            let (file, h) = value.split_once('|')?;
            let name = hash(kind.split_once('|')?.1)?;
            (
                vec![sco("file", u, json!({"hashes": { name: h }, "name": file}))],
                format!(
                    "[file:name = {} AND {} = {}]",
                    quoted(file),
                    hash_path(name),
                    quoted(h)
                ),
            )
        }
        "mac-address" => (
            vec![sco("mac-addr", u, json!({"value": value}))],
            format!("[mac-addr:value = {}]", quoted(value)),
        ),
        "AS" => {
            let n: u64 = value.trim_start_matches("AS").parse().ok()?;
            (
                vec![sco("autonomous-system", u, json!({"number": n}))],
                format!("[autonomous-system:number = '{n}']"),
            )
        }
        "mutex" => (
            vec![sco("mutex", u, json!({"name": value}))],
            format!("[mutex:name = {}]", quoted(value)),
        ),
        "regkey" => (
            vec![sco("windows-registry-key", u, json!({"key": value}))],
            format!("[windows-registry-key:key = {}]", quoted(value)),
        ),
        _ => return None,
    })
}

/// One attribute's objects, each carrying `labels` (relto's) and the attribute's TLP.
pub fn convert(a: &Value, identity: &str, label_ids: &[String]) -> Result<Vec<Value>, String> {
    let u = uuid_of(a, "an attribute").map_err(|e| e.0)?;
    let kind = text(a, "type").unwrap_or_default();
    let value = text(a, "value").unwrap_or_default();
    let category = text(a, "category").unwrap_or_default();
    let (created, observed) =
        times(a, "timestamp").ok_or_else(|| format!("attribute {u}: no valid timestamp"))?;
    let tags = Tags::of(a);
    let mut markings: Vec<String> = label_ids.to_vec();
    markings.extend(tags.tlp.iter().cloned());
    let mut labels = vec![
        format!("misp:type=\"{kind}\""),
        format!("misp:category=\"{category}\""),
    ];
    labels.extend(tags.other.iter().cloned());
    let sdo = |object_type: &str| {
        let mut o = Map::new();
        o.insert("type".into(), json!(object_type));
        o.insert("spec_version".into(), json!("2.1"));
        o.insert("id".into(), json!(format!("{object_type}--{u}")));
        o.insert("created_by_ref".into(), json!(identity));
        o.insert("created".into(), json!(created));
        o.insert("modified".into(), json!(created));
        o
    };
    let marked = |o: Map<String, Value>, with: &[String]| crate::marked(Value::Object(o), with);
    if kind == "vulnerability" {
        let mut v = sdo("vulnerability");
        v.insert("name".into(), json!(value));
        v.insert(
            "external_references".into(),
            json!([{"source_name": "cve", "external_id": value}]),
        );
        v.insert("labels".into(), json!(labels));
        return Ok(vec![marked(v, &markings)]);
    }
    let Some((scos, pattern)) = observables(kind, value, &u) else {
        return Err(format!(
            "attribute {u} of type '{kind}': no STIX object for it in misp-stix's mapping that relto takes (misp-stix writes a custom object or a bare pattern)"
        ));
    };
    let mut observed_data = sdo("observed-data");
    observed_data.insert("first_observed".into(), json!(observed));
    observed_data.insert("last_observed".into(), json!(observed));
    observed_data.insert("number_observed".into(), json!(1));
    observed_data.insert(
        "object_refs".into(),
        json!(scos
            .iter()
            .filter_map(|s| s["id"].as_str())
            .collect::<Vec<_>>()),
    );
    observed_data.insert("labels".into(), json!(labels));
    let mut out = vec![marked(observed_data, &markings)];
    for s in scos {
        let Value::Object(o) = s else { continue };
        out.push(marked(o, label_ids));
    }
    let for_detection = matches!(a.get("to_ids"), Some(Value::Bool(true)))
        || matches!(text(a, "to_ids"), Some("1" | "true"));
    if for_detection {
        let mut i = sdo("indicator");
        if let Some(c) = text(a, "comment").filter(|c| !c.is_empty()) {
            i.insert("description".into(), json!(c));
        }
        i.insert("pattern".into(), json!(pattern));
        i.insert("pattern_type".into(), json!("stix"));
        i.insert("pattern_version".into(), json!("2.1"));
        i.insert("valid_from".into(), json!(observed));
        i.insert(
            "kill_chain_phases".into(),
            json!([{"kill_chain_name": "misp-category", "phase_name": category}]),
        );
        i.insert("labels".into(), json!(labels));
        out.push(marked(i, &markings));
        out.push(based_on(&u, &created, label_ids));
    }
    Ok(out)
}

/// `indicator--<uuid>` `based-on` `observed-data--<uuid>` (an attribute's or an object's),
/// named `relationship--<uuid>`.
pub fn based_on(u: &str, created: &str, label_ids: &[String]) -> Value {
    let r = json!({
        "type": "relationship", "spec_version": "2.1",
        "id": format!("relationship--{u}"),
        "created": created, "modified": created,
        "relationship_type": "based-on",
        "source_ref": format!("indicator--{u}"),
        "target_ref": format!("observed-data--{u}"),
    });
    crate::marked(r, label_ids)
}
