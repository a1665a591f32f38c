//! Producing a redacted copy of an object: STIX granular-marking selectors (§7.2.3.1,
//! `description`, `external_references.[0].url`, `object_refs.[2]`) name what to remove.

use crate::PolicyError;
use serde_json::Value;

use crate::decide::RequiredCheck;
use crate::refs::TextFacts;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn parse_selector(sel: &str) -> Option<Vec<Step>> {
    sel.split('.')
        .map(|part| {
            if let Some(n) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
                n.parse().ok().map(Step::Index)
            } else if part.is_empty() {
                None
            } else {
                Some(Step::Key(part.to_string()))
            }
        })
        .collect()
}

/// A value no STIX object holds: marks what to remove before the sweep.
const MARK: &str = "\u{0}relto:redacted\u{0}";

fn mark(value: &mut Value, path: &[Step]) {
    let Some((first, rest)) = path.split_first() else {
        *value = Value::String(MARK.to_string());
        return;
    };
    let next = match (first, value) {
        (Step::Key(k), Value::Object(map)) => map.get_mut(k),
        (Step::Index(i), Value::Array(items)) => items.get_mut(*i),
        _ => None,
    };
    if let Some(v) = next {
        mark(v, rest);
    }
}

fn is_mark(v: &Value) -> bool {
    v.as_str() == Some(MARK)
}

/// Removes marked values; a list left empty is removed too (STIX forbids empty lists).
fn sweep(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !is_mark(v));
            for v in map.values_mut() {
                sweep(v);
            }
            map.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()));
        }
        Value::Array(items) => {
            items.retain(|v| !is_mark(v));
            for v in items.iter_mut() {
                sweep(v);
            }
        }
        _ => {}
    }
}

/// Removes what `selectors` name from `object`. Err (the reason to deny) when a property
/// STIX requires would be removed or emptied.
pub fn redact(
    object: &Value,
    selectors: &[String],
    required: RequiredCheck,
) -> Result<Value, PolicyError> {
    let ty = object.get("type").and_then(Value::as_str).unwrap_or("");
    let mut copy = object.clone();
    for sel in selectors {
        match parse_selector(sel) {
            Some(path) => mark(&mut copy, &path),
            None => return Err(PolicyError::Copy(format!("malformed selector '{sel}'"))),
        }
    }
    sweep(&mut copy);
    if let (Value::Object(before), Value::Object(after)) = (object, &copy) {
        for key in before.keys() {
            if !after.contains_key(key) && required(ty, key) {
                return Err(PolicyError::Copy(format!(
                    "required property {key} would be removed"
                )));
            }
        }
    }
    Ok(copy)
}

/// `redact` on an object's stored JSON text, returning the redacted copy's text. Selectors
/// that name a top-level property or an item of a top-level list (the common cases: a
/// marked description, hidden object_refs) are applied by copying the other properties'
/// text as it is; anything deeper goes through `redact`. Same result, as a value.
pub fn redact_raw(
    raw: &str,
    selectors: &[String],
    required: RequiredCheck,
) -> Result<String, PolicyError> {
    let mut drop_keys: Vec<&str> = Vec::new();
    let mut drop_items: Vec<(&str, usize)> = Vec::new();
    for sel in selectors {
        // `key` or `key.[n]`, read without building the selector's steps.
        let item = sel.split_once(".[").and_then(|(key, rest)| {
            let n = rest.strip_suffix(']')?.parse().ok()?;
            (!key.is_empty() && !key.contains(['.', '['])).then_some((key, n))
        });
        match item {
            Some(item) => drop_items.push(item),
            None if !sel.is_empty() && !sel.contains(['.', '[']) => drop_keys.push(sel),
            None => return redact_via_value(raw, selectors, required),
        }
    }
    let Some(fields) = top_level(raw) else {
        return redact_via_value(raw, selectors, required);
    };
    let ty = fields
        .iter()
        .find(|(k, _)| *k == "type")
        .and_then(|(_, v)| serde_json::from_str::<&str>(v).ok())
        .unwrap_or("");
    let mut out = String::with_capacity(raw.len());
    out.push('{');
    let mut first = true;
    for (key, value) in &fields {
        let mut kept_list = None;
        if drop_keys.contains(key) {
            if required(ty, key) {
                return Err(PolicyError::Copy(format!(
                    "required property {key} would be removed"
                )));
            }
            continue;
        }
        let gone: Vec<usize> = drop_items
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, i)| *i)
            .collect();
        if !gone.is_empty() {
            if let Some(items) = list_items(value) {
                let kept: Vec<&str> = items
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !gone.contains(i))
                    .map(|(_, v)| *v)
                    .collect();
                if kept.is_empty() {
                    if required(ty, key) {
                        return Err(PolicyError::Copy(format!(
                            "required property {key} would be removed"
                        )));
                    }
                    continue;
                }
                kept_list = Some(kept);
            }
        }
        if !first {
            out.push(',');
        }
        first = false;
        // The key has no escape (see top_level): its text is itself in quotes.
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        match kept_list {
            Some(kept) => {
                out.push('[');
                for (i, v) in kept.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(v);
                }
                out.push(']');
            }
            None => out.push_str(value),
        }
    }
    out.push('}');
    Ok(out)
}

/// The copy of a stored object that a reader receives: `selectors` removed (as `redact`),
/// and the copy's own `granular_markings` made true of it, so that STIX tools accept it
/// (stix2 refuses a selector naming a property that is not there): entries whose marking is
/// in `failed` are dropped (what they select is gone, and the reader is not told which label
/// it failed), selectors naming what was removed are dropped, list-item selectors are
/// re-pointed to the items' new positions, and entries left without selectors are dropped.
/// Objects without granular markings keep every other property's text as stored. `facts` are
/// the text's (see [`text_facts`](crate::refs::text_facts)).
pub fn release_copy(
    raw: &str,
    facts: TextFacts,
    selectors: &[String],
    failed: &[String],
    required: RequiredCheck,
) -> Result<String, PolicyError> {
    // No granular markings (the text's scan found neither the key nor an escape that could
    // spell it): the other properties' text is copied without reading the object at all.
    if !facts.granular_markings {
        return redact_raw(raw, selectors, required);
    }
    /// The one property this needs to decide how to copy; the rest is skipped.
    #[derive(serde::Deserialize)]
    struct Granular {
        granular_markings: Option<Value>,
    }
    let granular: Granular = serde_json::from_str(raw)
        .map_err(|e| PolicyError::Copy(format!("stored object is not JSON: {e}")))?;
    let Some(granular) = granular.granular_markings else {
        return redact_raw(raw, selectors, required);
    };
    // The common case: every granular marking is one the reader fails (its selections are
    // among `selectors`): the copy loses them all, and the other properties' text is copied.
    let entries = granular.as_array().map(Vec::as_slice).unwrap_or_default();
    let all_failed = entries.iter().all(|e| {
        e.get("marking_ref")
            .and_then(Value::as_str)
            .is_some_and(|m| failed.iter().any(|f| f == m))
    });
    if all_failed {
        let mut without = selectors.to_vec();
        without.push("granular_markings".into());
        return redact_raw(raw, &without, required);
    }
    release_copy_value(raw, selectors, failed, required, granular)
}

/// `release_copy` through the object's value, for copies that keep some granular markings.
fn release_copy_value(
    raw: &str,
    selectors: &[String],
    failed: &[String],
    required: RequiredCheck,
    granular: Value,
) -> Result<String, PolicyError> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| PolicyError::Copy(format!("stored object is not JSON: {e}")))?;
    let mut copy = redact(&value, selectors, required)?;
    let removed: Vec<Vec<Step>> = selectors.iter().filter_map(|s| parse_selector(s)).collect();
    let mut kept_entries = Vec::new();
    for entry in granular.as_array().into_iter().flatten() {
        let marking = entry.get("marking_ref").and_then(Value::as_str);
        if marking.is_some_and(|m| failed.iter().any(|f| f == m)) {
            continue;
        }
        let mut entry = entry.clone();
        let kept: Vec<Value> = entry
            .get("selectors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|s| repoint(s, &removed))
            .filter(|s| parse_selector(s).is_some_and(|p| resolves(&copy, &p)))
            .map(Value::String)
            .collect();
        if kept.is_empty() {
            continue;
        }
        entry["selectors"] = Value::Array(kept);
        kept_entries.push(entry);
    }
    if let Value::Object(map) = &mut copy {
        if kept_entries.is_empty() {
            map.remove("granular_markings");
        } else {
            map.insert("granular_markings".into(), Value::Array(kept_entries));
        }
    }
    Ok(copy.to_string())
}

/// `selector` as it reads after `removed` were taken out: None when it or a property or item
/// it lies in was removed; list indices shifted down past removed items of the same list.
fn repoint(selector: &str, removed: &[Vec<Step>]) -> Option<String> {
    let path = parse_selector(selector)?;
    if removed
        .iter()
        .any(|r| r.len() <= path.len() && path[..r.len()] == r[..])
    {
        return None;
    }
    let mut out: Vec<String> = Vec::with_capacity(path.len());
    for (k, step) in path.iter().enumerate() {
        match step {
            Step::Key(key) => out.push(key.clone()),
            Step::Index(i) => {
                let before = removed
                    .iter()
                    .filter(|r| r.len() == k + 1 && r[..k] == path[..k])
                    .filter(|r| matches!(r[k], Step::Index(j) if j < *i))
                    .count();
                out.push(format!("[{}]", i - before));
            }
        }
    }
    Some(out.join("."))
}

/// Whether `path` names something in `value`.
fn resolves(value: &Value, path: &[Step]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    let next = match (first, value) {
        (Step::Key(k), Value::Object(map)) => map.get(k),
        (Step::Index(i), Value::Array(items)) => items.get(*i),
        _ => None,
    };
    next.is_some_and(|v| resolves(v, rest))
}

fn redact_via_value(
    raw: &str,
    selectors: &[String],
    required: RequiredCheck,
) -> Result<String, PolicyError> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| PolicyError::Copy(format!("stored object is not JSON: {e}")))?;
    redact(&value, selectors, required).map(|v| v.to_string())
}

/// An object's top-level properties in their stored order: each key (as a string) and its
/// value's JSON text. Read by a scan of the structure (strings skipped with memchr), not by a
/// JSON parser: the text is a stored object, validated at ingest, and this runs for every
/// object a reader's copy is made of. None for anything unexpected (a key with an escape,
/// text that is not one JSON object): the caller then goes through the parsed value.
fn top_level(raw: &str) -> Option<Vec<(&str, &str)>> {
    let b = raw.as_bytes();
    let mut at = skip_ws(b, 0);
    if b.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_ws(b, at + 1);
    let mut out = Vec::with_capacity(16);
    if b.get(at) == Some(&b'}') {
        return (skip_ws(b, at + 1) == b.len()).then_some(out);
    }
    loop {
        let key_end = string_end(b, at)?;
        let key = &raw[at + 1..key_end - 1];
        if key.contains('\\') {
            return None;
        }
        at = skip_ws(b, key_end);
        if b.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, at + 1);
        let end = value_end(b, start)?;
        out.push((key, &raw[start..end]));
        at = skip_ws(b, end);
        match b.get(at) {
            Some(b',') => at = skip_ws(b, at + 1),
            Some(b'}') => return (skip_ws(b, at + 1) == b.len()).then_some(out),
            _ => return None,
        }
    }
}

/// The items of a JSON list's text, each as its JSON text (None: not a list).
fn list_items(list: &str) -> Option<Vec<&str>> {
    let b = list.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let mut at = skip_ws(b, 1);
    let mut out = Vec::with_capacity(16);
    if b.get(at) == Some(&b']') {
        return Some(out);
    }
    loop {
        let end = value_end(b, at)?;
        out.push(&list[at..end]);
        at = skip_ws(b, end);
        match b.get(at) {
            Some(b',') => at = skip_ws(b, at + 1),
            Some(b']') => return Some(out),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut at: usize) -> usize {
    while b
        .get(at)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// Where the string starting at `at` (its opening quote) ends, after its closing quote.
fn string_end(b: &[u8], at: usize) -> Option<usize> {
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let mut from = at + 1;
    loop {
        let k = from + memchr::memchr2(b'"', b'\\', b.get(from..)?)?;
        if b[k] == b'"' {
            return Some(k + 1);
        }
        from = k + 2;
    }
}

/// Where the JSON value starting at `at` ends.
fn value_end(b: &[u8], at: usize) -> Option<usize> {
    match b.get(at)? {
        b'"' => string_end(b, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match b.get(i)? {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let len = b[at..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - at);
            (len > 0).then_some(at + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Facts that spare nothing: the copy is made as if the scan found everything.
    fn all_facts() -> TextFacts {
        TextFacts {
            granular_markings: true,
            prunable_refs: true,
        }
    }

    #[test]
    fn the_structure_scan_skips_strings_and_finds_every_member() {
        let raw = r#" { "a" : ["x]\",{", "}" ] ,"b":{"c":"}\\"},"d":-1.5e3, "e":null }  "#;
        assert_eq!(
            top_level(raw),
            Some(vec![
                ("a", r#"["x]\",{", "}" ]"#),
                ("b", r#"{"c":"}\\"}"#),
                ("d", "-1.5e3"),
                ("e", "null"),
            ])
        );
        assert_eq!(
            list_items(r#"["x]\",{", "}" ]"#),
            Some(vec![r#""x]\",{""#, r#""}""#])
        );
        // Keys with escapes, and what is not one object, are left to the parser.
        for other in [
            r#"{"a\"b":1}"#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            "[1]",
            r#"{"a":"1}"#,
        ] {
            assert_eq!(top_level(other), None, "{other}");
        }
    }
    use serde_json::json;

    fn required(t: &str, p: &str) -> bool {
        ["id", "type"].contains(&p) || (t == "report" && p == "object_refs")
    }

    #[test]
    fn removes_properties_list_items_and_nested_values() {
        let obj = json!({"type": "report", "id": "report--1", "description": "secret",
            "object_refs": ["a", "b", "c"],
            "external_references": [{"source_name": "x", "url": "https://x"}, {"source_name": "y"}]});
        let sels: Vec<String> = [
            "description",
            "object_refs.[0]",
            "object_refs.[2]",
            "external_references.[0].url",
            "nope.[3]",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = redact(&obj, &sels, required).unwrap();
        assert_eq!(
            out,
            json!({"type": "report", "id": "report--1", "object_refs": ["b"],
            "external_references": [{"source_name": "x"}, {"source_name": "y"}]})
        );
    }

    #[test]
    fn a_released_copy_keeps_only_granular_markings_true_of_it() {
        let raw = json!({"type": "report", "id": "report--1", "description": "secret",
            "object_refs": ["a", "b", "c", "d"], "labels": ["x"],
            "granular_markings": [
                {"marking_ref": "m-failed", "selectors": ["description", "object_refs.[1]"]},
                {"marking_ref": "m-ok", "selectors": ["object_refs.[0]", "object_refs.[3]", "labels.[0]"]},
                {"lang": "en", "selectors": ["description"]}]})
        .to_string();
        let sels: Vec<String> = [
            "description",
            "object_refs.[1]",
            "object_refs.[2]",
            "labels.[0]",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out: Value = serde_json::from_str(
            &release_copy(&raw, all_facts(), &sels, &["m-failed".into()], required).unwrap(),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"type": "report", "id": "report--1", "object_refs": ["a", "d"],
                "granular_markings": [{"marking_ref": "m-ok", "selectors": ["object_refs.[0]", "object_refs.[1]"]}]})
        );
        // Without granular markings the fast path gives the same object.
        let plain =
            json!({"type": "report", "id": "report--1", "object_refs": ["a", "b"]}).to_string();
        assert_eq!(
            release_copy(
                &plain,
                all_facts(),
                &["object_refs.[0]".into()],
                &[],
                required
            )
            .unwrap(),
            redact_raw(&plain, &["object_refs.[0]".into()], required).unwrap()
        );
    }

    #[test]
    fn a_copy_that_loses_every_granular_marking_is_the_same_by_text_and_by_value() {
        let obj = json!({"type": "report", "id": "report--1", "description": "secret",
            "object_refs": ["a", "b", "c"], "name": "n",
            "granular_markings": [
                {"marking_ref": "m1", "selectors": ["description"]},
                {"marking_ref": "m2", "selectors": ["object_refs.[1]", "name"]}]});
        let raw = serde_json::to_string_pretty(&obj).unwrap();
        let sels: Vec<String> = ["description", "object_refs.[1]", "name"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let failed = vec!["m1".to_string(), "m2".to_string()];
        let fast: Value = serde_json::from_str(
            &release_copy(&raw, all_facts(), &sels, &failed, required).unwrap(),
        )
        .unwrap();
        let slow: Value = serde_json::from_str(
            &release_copy_value(
                &raw,
                &sels,
                &failed,
                required,
                obj["granular_markings"].clone(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(fast, slow);
        assert_eq!(
            fast,
            json!({"type": "report", "id": "report--1", "object_refs": ["a", "c"]})
        );
    }

    #[test]
    fn refuses_to_remove_required_properties() {
        let obj =
            json!({"type": "report", "id": "report--1", "object_refs": ["a"], "labels": ["x"]});
        assert!(redact(&obj, &["object_refs.[0]".into()], required).is_err());
        assert!(redact(&obj, &["id".into()], required).is_err());
        // An optional list emptied goes away entirely.
        let out = redact(&obj, &["labels.[0]".into()], required).unwrap();
        assert!(out.get("labels").is_none());
        assert!(redact(&obj, &["a..b".into()], required).is_err());
    }
}
