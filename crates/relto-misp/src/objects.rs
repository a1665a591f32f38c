//! MISP objects (templates) as misp-stix maps them, for the templates whose every attribute
//! relto maps the same way: `file` (name, hashes, size) and `url`. An object is an
//! `observed-data` (id `observed-data--<object uuid>`) over one observable of the same uuid,
//! and, when some of its attributes are for detection, an `indicator` whose pattern holds
//! those attributes, `based-on` it. Other templates, and objects with other attributes
//! (misp-stix writes those as `x_misp_…` properties or custom objects), are listed as not
//! converted.

use serde_json::{json, Map, Value};

use crate::{text, times, uuid_of};

/// A `file` object's attributes as misp-stix maps them, in the order of its patterns (hashes
/// first): (object relation, which is also the MISP type; the STIX property, a hash's name
/// under `hashes`; the pattern path).
pub(crate) const FILE_FIELDS: [(&str, &str, &str); 5] = [
    ("md5", "MD5", "file:hashes.MD5"),
    ("sha1", "SHA-1", "file:hashes.'SHA-1'"),
    ("sha256", "SHA-256", "file:hashes.'SHA-256'"),
    ("filename", "name", "file:name"),
    ("size-in-bytes", "size", "file:size"),
];

/// A `file` attribute's place in patterns, STIX property and pattern path.
fn file_field(relation: &str) -> Option<(usize, &'static str, &'static str)> {
    let at = FILE_FIELDS.iter().position(|(r, ..)| *r == relation)?;
    let (_, key, path) = FILE_FIELDS[at];
    Some((at, key, path))
}

fn quoted(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn for_detection(a: &Value) -> bool {
    matches!(a.get("to_ids"), Some(Value::Bool(true)))
        || matches!(text(a, "to_ids"), Some("1" | "true"))
}

/// One MISP object's STIX objects, or why it is not converted.
pub fn convert(o: &Value, identity: &str, label_ids: &[String]) -> Result<Vec<Value>, String> {
    let name = text(o, "name").unwrap_or("?");
    let attributes: Vec<&Value> = o
        .get("Attribute")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| !crate::deleted(a))
        .collect();
    let not_taken = |why: &str| {
        format!(
            "MISP object '{name}' {} ({} attributes): {why}",
            text(o, "uuid").unwrap_or("without uuid"),
            attributes.len()
        )
    };
    let u = uuid_of(o, "a MISP object").map_err(|e| not_taken(&e.0))?;
    let (created, observed) =
        times(o, "timestamp").ok_or_else(|| not_taken("no valid timestamp"))?;
    let meta_category = text(o, "meta-category").unwrap_or(name);
    // The observable's properties and the detection pattern's terms, in misp-stix's order.
    let mut props = Map::new();
    let mut terms: Vec<(usize, String)> = Vec::new();
    let observable = match name {
        "file" => "file",
        "url" => "url",
        _ => return Err(not_taken("relto converts the templates file and url")),
    };
    for a in &attributes {
        let relation = text(a, "object_relation").unwrap_or_default();
        let value = text(a, "value").unwrap_or_default();
        let (order, key, path) = match (observable, relation) {
            ("file", r) => file_field(r)
                .ok_or_else(|| not_taken(&format!("its attribute '{r}' is not converted")))?,
            (_, "url") => (0, "value", "url:value"),
            (_, r) => return Err(not_taken(&format!("its attribute '{r}' is not converted"))),
        };
        match key {
            "size" => {
                let n: u64 = value
                    .parse()
                    .map_err(|_| not_taken(&format!("size-in-bytes '{value}' is not a number")))?;
                props.insert("size".into(), json!(n));
            }
            "MD5" | "SHA-1" | "SHA-256" => {
                let hashes = props.entry("hashes").or_insert_with(|| json!({}));
                hashes[key] = json!(value);
            }
            _ => {
                props.insert(key.into(), json!(value));
            }
        }
        if for_detection(a) {
            terms.push((order, format!("{path} = {}", quoted(value))));
        }
    }
    if props.is_empty() {
        return Err(not_taken("it has no attribute to convert"));
    }
    let labels = json!([
        format!("misp:name=\"{name}\""),
        format!("misp:meta-category=\"{meta_category}\"")
    ]);
    let marked = |m: Map<String, Value>| crate::marked(Value::Object(m), label_ids);
    let sdo = |object_type: &str| {
        let mut m = Map::new();
        m.insert("type".into(), json!(object_type));
        m.insert("spec_version".into(), json!("2.1"));
        m.insert("id".into(), json!(format!("{object_type}--{u}")));
        m.insert("created_by_ref".into(), json!(identity));
        m.insert("created".into(), json!(created));
        m.insert("modified".into(), json!(created));
        m
    };
    let sco_id = format!("{observable}--{u}");
    let mut observed_data = sdo("observed-data");
    observed_data.insert("first_observed".into(), json!(observed));
    observed_data.insert("last_observed".into(), json!(observed));
    observed_data.insert("number_observed".into(), json!(1));
    observed_data.insert("object_refs".into(), json!([sco_id]));
    observed_data.insert("labels".into(), labels.clone());
    let mut sco = Map::new();
    sco.insert("type".into(), json!(observable));
    sco.insert("spec_version".into(), json!("2.1"));
    sco.insert("id".into(), json!(sco_id));
    sco.extend(props);
    let mut out = vec![marked(observed_data), marked(sco)];
    if !terms.is_empty() {
        terms.sort_by_key(|(order, _)| *order);
        let pattern: Vec<String> = terms.into_iter().map(|(_, t)| t).collect();
        let mut indicator = sdo("indicator");
        indicator.insert(
            "pattern".into(),
            json!(format!("[{}]", pattern.join(" AND "))),
        );
        indicator.insert("pattern_type".into(), json!("stix"));
        indicator.insert("pattern_version".into(), json!("2.1"));
        indicator.insert("valid_from".into(), json!(observed));
        indicator.insert(
            "kill_chain_phases".into(),
            json!([{"kill_chain_name": "misp-category", "phase_name": meta_category}]),
        );
        indicator.insert("labels".into(), labels);
        out.push(marked(indicator));
        out.push(crate::attributes::based_on(&u, &created, label_ids));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str, attributes: Value) -> Value {
        json!({"name": name, "uuid": "6f2c3d00-0010-4b7c-8d9e-0f1a2b3c4d5e",
            "meta-category": "file", "timestamp": "1764095000", "Attribute": attributes})
    }

    fn attribute(relation: &str, value: &str, to_ids: bool) -> Value {
        json!({"object_relation": relation, "value": value, "to_ids": to_ids})
    }

    #[test]
    fn a_file_object_is_observed_data_and_an_indicator_of_what_is_for_detection() {
        let o = object(
            "file",
            json!([
                attribute("filename", "a.exe", true),
                attribute("sha256", "ab", true),
                attribute("md5", "cd", false),
                attribute("size-in-bytes", "77", false)
            ]),
        );
        let out = convert(&o, "identity--x", &[]).unwrap();
        let types: Vec<&str> = out.iter().filter_map(|o| o["type"].as_str()).collect();
        assert_eq!(
            types,
            ["observed-data", "file", "indicator", "relationship"]
        );
        assert_eq!(out[1]["hashes"], json!({"MD5": "cd", "SHA-256": "ab"}));
        assert_eq!(out[1]["size"], json!(77));
        // Hashes first, as misp-stix orders the pattern; only what is for detection.
        assert_eq!(
            out[2]["pattern"],
            "[file:hashes.'SHA-256' = 'ab' AND file:name = 'a.exe']"
        );
        let quiet = object("file", json!([attribute("filename", "a.exe", false)]));
        assert_eq!(convert(&quiet, "identity--x", &[]).unwrap().len(), 2);
    }

    #[test]
    fn objects_relto_does_not_map_are_listed_with_the_reason() {
        for (o, why) in [
            (
                object("domain-ip", json!([attribute("domain", "x.example", true)])),
                "templates file and url",
            ),
            (
                object("file", json!([attribute("mimetype", "text/plain", false)])),
                "'mimetype' is not converted",
            ),
            (
                object("file", json!([attribute("size-in-bytes", "big", false)])),
                "is not a number",
            ),
            (object("url", json!([])), "no attribute to convert"),
        ] {
            let err = convert(&o, "identity--x", &[]).unwrap_err();
            assert!(
                err.contains(why) && err.contains("6f2c3d00-0010-4b7c-8d9e-0f1a2b3c4d5e"),
                "{err}"
            );
        }
    }
}
