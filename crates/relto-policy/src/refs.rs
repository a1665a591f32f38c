//! Rule 5 of DESIGN §3 over every embedded reference of STIX 2.1: which references an object
//! stands on (the reader must see them, or the object is denied), which lists need one entry
//! the reader sees, and which references are pruned from the reader's copy when it cannot see
//! what they name.
//!
//! STIX 2.1 (§3.1, "Property names ending in _ref / _refs") makes every property whose name
//! ends in `_ref` an identifier and every one ending in `_refs` a list of identifiers, at any
//! depth (extensions, `body_multipart`, custom properties). So the rule is written over names,
//! not over a table of types that would miss a custom `x_…_ref` or an extension's
//! `contains_refs`.

use serde_json::Value;

/// References that are never pruned: `created_by_ref` names the poster's own organization (the
/// write rules hold it to that), marking references name marking-definitions, which every
/// reader receives, and whose failing granular markings are dropped with what they select.
const EXEMPT: [&str; 3] = ["created_by_ref", "object_marking_refs", "marking_ref"];

/// The single references of `object_type` that the object stands on (DESIGN §3 rule 5: a
/// relationship or sighting whose endpoints the reader cannot see is denied; a
/// language-content without the object it translates says nothing).
pub fn endpoint_properties(object_type: &str) -> &'static [&'static str] {
    match object_type {
        "relationship" => &["source_ref", "target_ref"],
        "sighting" => &["sighting_of_ref"],
        "language-content" => &["object_ref"],
        _ => &[],
    }
}

/// Whether `object_refs` of `object_type` is a list of which the reader must see one entry
/// (STIX requires it, so an emptied list denies the object).
pub fn has_required_object_refs(object_type: &str) -> bool {
    matches!(
        object_type,
        "report" | "grouping" | "note" | "opinion" | "observed-data"
    )
}

/// Whether `property` of `object_type` is one of the references the store's release predicate
/// holds (endpoints and required `object_refs`): those are not pruned one by one here.
fn held_by_predicate(object_type: &str, property: &str) -> bool {
    endpoint_properties(object_type).contains(&property)
        || (property == "object_refs" && has_required_object_refs(object_type))
}

/// One reference a reader's copy loses when the reader cannot see what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunableRef {
    /// The selector (STIX §7.2.3.1 syntax) that removes it.
    pub selector: String,
    pub id: String,
}

/// Every reference of `object` that is pruned from a copy whose reader cannot see what it
/// names: each `*_ref` / `*_refs` property at any depth, except the exempt ones, the ones the
/// store's predicate holds, and the object-local keys of observed-data's deprecated `objects`.
/// Err when a reference sits under a key no selector can name (a key with `.` or `[`): such an
/// object cannot be pruned and must not be served to a reader who fails a reference.
pub fn prunable_refs(object: &Value) -> Result<Vec<PrunableRef>, crate::PolicyError> {
    let ty = object.get("type").and_then(Value::as_str).unwrap_or("");
    let mut out = Vec::new();
    let Value::Object(map) = object else {
        return Ok(out);
    };
    for (key, value) in map {
        if key == "granular_markings" || (ty == "observed-data" && key == "objects") {
            continue;
        }
        if held_by_predicate(ty, key) {
            continue;
        }
        walk(key, value, key, &mut out).map_err(crate::PolicyError::References)?;
    }
    Ok(out)
}

fn walk(key: &str, value: &Value, path: &str, out: &mut Vec<PrunableRef>) -> Result<(), String> {
    if EXEMPT.contains(&key) {
        return Ok(());
    }
    let selectable = |k: &str| !k.is_empty() && !k.contains('.') && !k.contains('[');
    if key.ends_with("_ref") {
        if let Value::String(id) = value {
            if !selectable(key) {
                return Err(format!("reference under the unselectable key '{key}'"));
            }
            out.push(PrunableRef {
                selector: path.to_string(),
                id: id.clone(),
            });
            return Ok(());
        }
    }
    if key.ends_with("_refs") {
        if let Value::Array(items) = value {
            if items.iter().all(Value::is_string) {
                if !selectable(key) {
                    return Err(format!("references under the unselectable key '{key}'"));
                }
                for (i, item) in items.iter().enumerate() {
                    if let Value::String(id) = item {
                        out.push(PrunableRef {
                            selector: format!("{path}.[{i}]"),
                            id: id.clone(),
                        });
                    }
                }
                return Ok(());
            }
        }
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if !selectable(k) {
                    if mentions_refs(v) || k.ends_with("_ref") || k.ends_with("_refs") {
                        return Err(format!("references under the unselectable key '{k}'"));
                    }
                    continue;
                }
                walk(k, v, &format!("{path}.{k}"), out)?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk("", v, &format!("{path}.[{i}]"), out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether a value holds a property named like a reference anywhere inside.
fn mentions_refs(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.ends_with("_ref") || k.ends_with("_refs") || mentions_refs(v)),
        Value::Array(items) => items.iter().any(mentions_refs),
        _ => false,
    }
}

/// What release work may find in the stored text of an object, read off its bytes in one
/// pass, so that most objects are served without being parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextFacts {
    /// A `granular_markings` key may be present.
    pub granular_markings: bool,
    /// A reference to prune may be present: a key ending in `_ref` / `_refs` other than the
    /// exempt ones (each of the type's predicate-held references counts once).
    pub prunable_refs: bool,
}

impl TextFacts {
    const ALL: Self = Self {
        granular_markings: true,
        prunable_refs: true,
    };

    /// Whether the object needs parsing for either.
    pub fn any(self) -> bool {
        self.granular_markings || self.prunable_refs
    }
}

/// The [`TextFacts`] of the stored JSON text `raw` of an object of `object_type`: every string
/// is read (keys and values alike: a value `"see x_ref"` only costs a parse), with the depth
/// it is at, so that only the type's own top-level references count as held. A `\u` escape
/// could spell any key, so it makes every fact true; a string with another escape (`\"`)
/// that ends like a reference counts as one.
pub fn text_facts(object_type: &str, raw: &str) -> TextFacts {
    let bytes = raw.as_bytes();
    let held = |text: &[u8]| {
        endpoint_properties(object_type)
            .iter()
            .any(|p| p.as_bytes() == text)
            || (text == b"object_refs" && has_required_object_refs(object_type))
    };
    let mut facts = TextFacts::default();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                // The string runs to the next unescaped quote (memchr skips its text).
                let start = i + 1;
                let mut escaped = false;
                let mut from = start;
                let end = loop {
                    let Some(k) = memchr::memchr2(b'"', b'\\', &bytes[from..]) else {
                        return TextFacts::ALL;
                    };
                    let at = from + k;
                    if bytes[at] == b'"' {
                        break at;
                    }
                    if matches!(bytes.get(at + 1), Some(b'u') | None) {
                        return TextFacts::ALL;
                    }
                    escaped = true;
                    from = at + 2;
                };
                let text = &bytes[start..end];
                if text == b"granular_markings" {
                    facts.granular_markings = true;
                } else if (text.ends_with(b"_ref") || text.ends_with(b"_refs"))
                    && (escaped
                        || !(EXEMPT.iter().any(|e| e.as_bytes() == text)
                            || (depth == 1 && held(text))))
                {
                    facts.prunable_refs = true;
                }
                if facts.granular_markings && facts.prunable_refs {
                    return facts;
                }
                i = end + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn selectors(v: &Value) -> Vec<String> {
        prunable_refs(v)
            .unwrap()
            .into_iter()
            .map(|r| r.selector)
            .collect()
    }

    #[test]
    fn finds_references_at_every_depth_except_exempt_and_held_ones() {
        let sighting = json!({"type": "sighting", "id": "sighting--1",
            "created_by_ref": "identity--c", "sighting_of_ref": "indicator--1",
            "observed_data_refs": ["observed-data--1", "observed-data--2"],
            "where_sighted_refs": ["identity--w"],
            "object_marking_refs": ["marking-definition--m"],
            "granular_markings": [{"marking_ref": "marking-definition--m", "selectors": ["count"]}]});
        assert_eq!(
            selectors(&sighting),
            [
                "observed_data_refs.[0]",
                "observed_data_refs.[1]",
                "where_sighted_refs.[0]"
            ]
        );
        let email = json!({"type": "email-message", "id": "email-message--1",
            "from_ref": "email-addr--1", "x_source_ref": "identity--s",
            "body_multipart": [{"body": "x"}, {"body_raw_ref": "artifact--1"}],
            "extensions": {"x-ext": {"contains_refs": ["file--1"]}}});
        assert_eq!(
            selectors(&email),
            [
                "body_multipart.[1].body_raw_ref",
                "extensions.x-ext.contains_refs.[0]",
                "from_ref",
                "x_source_ref"
            ]
        );
        let observed = json!({"type": "observed-data", "object_refs": ["ipv4-addr--1"],
            "objects": {"0": {"type": "file", "parent_directory_ref": "1"}}});
        assert!(selectors(&observed).is_empty());
        let odd = json!({"type": "x-thing", "extensions": {"a.b": {"x_ref": "identity--1"}}});
        assert!(prunable_refs(&odd).is_err());
    }

    #[test]
    fn the_scan_finds_what_the_walk_finds() {
        let cases = [
            (
                "relationship",
                r#"{"source_ref":"a--1","target_ref":"b--1","created_by_ref":"identity--1"}"#,
                false,
            ),
            (
                "relationship",
                r#"{"source_ref":"a--1","target_ref":"b--1","x_more_ref":"c--1"}"#,
                true,
            ),
            ("report", r#"{"object_refs":["a--1"]}"#, false),
            ("indicator", r#"{"object_refs":["a--1"]}"#, true),
            ("sighting", r#"{"sighting_of_ref":"a--1"}"#, false),
            (
                "sighting",
                r#"{"sighting_of_ref":"a--1","where_sighted_refs":[]}"#,
                true,
            ),
            ("indicator", r#"{"x_\u0072ef":"a--1"}"#, true),
            (
                "indicator",
                r#"{"description":"see the _ref below"}"#,
                false,
            ),
        ];
        for (ty, raw, expected) in cases {
            assert_eq!(text_facts(ty, raw).prunable_refs, expected, "{ty} {raw}");
        }
    }
}
