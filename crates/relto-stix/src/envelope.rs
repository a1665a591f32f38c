//! TAXII 2.1 envelopes and STIX bundles: splitting a request body into the
//! raw bytes of its objects.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;

/// Maximum nesting depth of JSON arrays/objects accepted in a body.
pub const MAX_DEPTH: usize = 64;

/// Why a body is not a usable envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The body is not valid JSON (or not UTF-8).
    NotJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// The body is JSON but not a TAXII envelope or STIX bundle.
    NotAnEnvelope(String),
    /// The `objects` member is present but is not a JSON array.
    ObjectsNotList,
    /// The `objects` list is empty.
    EmptyObjects,
    /// Arrays/objects are nested deeper than [`MAX_DEPTH`].
    TooDeep(usize),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::NotJson {
                line,
                column,
                message,
            } => write!(
                f,
                "request body is not valid JSON (line {line}, column {column}): {message}"
            ),
            EnvelopeError::NotAnEnvelope(why) => write!(
                f,
                "request body is not a TAXII envelope or STIX bundle: {why}"
            ),
            EnvelopeError::ObjectsNotList => {
                f.write_str("the \"objects\" property of the envelope must be a list")
            }
            EnvelopeError::EmptyObjects => {
                f.write_str("the \"objects\" list of the envelope must not be empty")
            }
            EnvelopeError::TooDeep(limit) => write!(
                f,
                "request body nests arrays/objects more than {limit} levels deep"
            ),
        }
    }
}

impl std::error::Error for EnvelopeError {}

/// The members of the top-level object that matter; everything else is skipped.
struct Envelope<'a> {
    objects: Option<&'a RawValue>,
    ty: Option<&'a RawValue>,
}

enum Field {
    Objects,
    Type,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "objects" => Field::Objects,
                    "type" => Field::Type,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EnvelopeVisitor;
        impl<'de> Visitor<'de> for EnvelopeVisitor {
            type Value = Envelope<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'de>, A::Error> {
                let mut env = Envelope {
                    objects: None,
                    ty: None,
                };
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Objects => {
                            let v: &'de RawValue = map.next_value()?;
                            if env.objects.replace(v).is_some() {
                                return Err(de::Error::custom("duplicate \"objects\" member"));
                            }
                        }
                        Field::Type => {
                            let v: &'de RawValue = map.next_value()?;
                            if env.ty.replace(v).is_some() {
                                return Err(de::Error::custom("duplicate \"type\" member"));
                            }
                        }
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(env)
            }
        }
        d.deserialize_map(EnvelopeVisitor)
    }
}

/// Checks the nesting depth of `[`/`{` outside of strings.
fn check_depth(body: &[u8], max_depth: usize) -> Result<(), EnvelopeError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &c in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(EnvelopeError::TooDeep(max_depth));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn not_json(e: &serde_json::Error) -> EnvelopeError {
    let full = e.to_string();
    // serde_json appends " at line L column C"; keep only the description.
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_owned(),
        None => full,
    };
    EnvelopeError::NotJson {
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// Parses a TAXII 2.1 envelope `{"objects":[...]}` or a STIX bundle
/// `{"type":"bundle","id":"bundle--…","objects":[...]}` and returns each
/// object's ORIGINAL bytes (serde_json::value::RawValue slices of the input,
/// byte-identical), without validating the objects.
///
/// Other members (`more`, `next`, `id`, `spec_version`, …) are ignored. A
/// leading UTF-8 byte order mark is skipped.
pub fn parse_envelope(body: &[u8]) -> Result<Vec<&RawValue>, EnvelopeError> {
    parse_envelope_with_depth(body, MAX_DEPTH)
}

/// [`parse_envelope`] with another nesting limit (at most 128, serde_json's own).
pub fn parse_envelope_with_depth(
    body: &[u8],
    max_depth: usize,
) -> Result<Vec<&RawValue>, EnvelopeError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    check_depth(body, max_depth.clamp(1, 128))?;
    let top: &RawValue = serde_json::from_slice(body).map_err(|e| not_json(&e))?;
    if !top.get().starts_with('{') {
        return Err(EnvelopeError::NotAnEnvelope(
            "the top-level JSON value must be an object".to_owned(),
        ));
    }
    let env: Envelope<'_> = serde_json::from_str(top.get()).map_err(|e| {
        EnvelopeError::NotAnEnvelope(format!("unusable top-level members: {}", strip_pos(&e)))
    })?;
    if let Some(ty) = env.ty {
        if ty.get() != "\"bundle\"" {
            return Err(EnvelopeError::NotAnEnvelope(format!(
                "a body with a \"type\" must be a STIX bundle (type \"bundle\"), not {}",
                shorten(ty.get())
            )));
        }
    }
    let Some(objects) = env.objects else {
        return Err(EnvelopeError::NotAnEnvelope(
            "there is no \"objects\" list".to_owned(),
        ));
    };
    if !objects.get().starts_with('[') {
        return Err(EnvelopeError::ObjectsNotList);
    }
    let list: Vec<&RawValue> =
        serde_json::from_str(objects.get()).map_err(|_| EnvelopeError::ObjectsNotList)?;
    if list.is_empty() {
        return Err(EnvelopeError::EmptyObjects);
    }
    Ok(list)
}

fn strip_pos(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_owned(),
        None => full,
    }
}

fn shorten(s: &str) -> &str {
    if s.len() <= 60 {
        return s;
    }
    let mut end = 60;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(list: &[&RawValue]) -> Vec<String> {
        list.iter().map(|r| r.get().to_owned()).collect()
    }

    #[test]
    fn taxii_envelope_bytes_are_exact() {
        let body = br#"{"more": false, "objects": [ {"type":"indicator","created":"2024-01-01T00:00:00.1Z"} ,
            {  "type" : "identity",
               "name":"KOR-NIS \u00e9 \"q\"",   "x": [1, 2.50, 1e3]  }
        ]}"#;
        let got = parse_envelope(body).expect("valid envelope");
        assert_eq!(
            raw(&got),
            vec![
                r#"{"type":"indicator","created":"2024-01-01T00:00:00.1Z"}"#.to_owned(),
                "{  \"type\" : \"identity\",\n               \"name\":\"KOR-NIS \\u00e9 \\\"q\\\"\",   \"x\": [1, 2.50, 1e3]  }"
                    .to_owned(),
            ]
        );
        // The slices really point into the input buffer.
        let start = body.as_ptr() as usize;
        let end = start + body.len();
        for r in &got {
            let p = r.get().as_ptr() as usize;
            assert!(p >= start && p + r.get().len() <= end);
        }
    }

    #[test]
    fn bundle_is_accepted() {
        let body = br#"{"type":"bundle","id":"bundle--6f9d2e1b-7d4e-4a43-a4bd-63c8e2b2fb1c","objects":[{"a":1},{"b":[]}]}"#;
        assert_eq!(
            raw(&parse_envelope(body).expect("bundle")),
            vec![r#"{"a":1}"#, r#"{"b":[]}"#]
        );
    }

    #[test]
    fn objects_need_not_be_objects_here() {
        // Validation of each entry is the caller's job.
        let body = br#"{"objects":[1,"x",null]}"#;
        assert_eq!(
            raw(&parse_envelope(body).expect("parsed")),
            vec!["1", "\"x\"", "null"]
        );
    }

    #[test]
    fn bom_is_skipped() {
        let body = b"\xEF\xBB\xBF{\"objects\":[{}]}";
        assert_eq!(raw(&parse_envelope(body).expect("parsed")), vec!["{}"]);
    }

    #[test]
    fn not_json() {
        let e = parse_envelope(b"{\"objects\": [\n  {\"a\": }\n]}").unwrap_err();
        match &e {
            EnvelopeError::NotJson { line, column, .. } => {
                assert_eq!(*line, 2);
                assert!(*column > 0);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(e.to_string().contains("line 2"), "{e}");
        for body in [
            &b""[..],
            b"   ",
            b"{",
            b"nul",
            b"{\"objects\":[]} x",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(parse_envelope(body), Err(EnvelopeError::NotJson { .. })),
                "{body:?}"
            );
        }
        // Invalid UTF-8 inside a string.
        assert!(matches!(
            parse_envelope(b"{\"objects\":[\"\xff\"]}"),
            Err(EnvelopeError::NotJson { .. })
        ));
    }

    #[test]
    fn not_an_envelope() {
        for body in [
            &br#"[{"type":"indicator"}]"#[..],
            br#""objects""#,
            br#"42"#,
            br#"{}"#,
            br#"{"more":false}"#,
            br#"{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#,
            br#"{"type":"observed-data","objects":{"0":{"type":"file"}}}"#,
            br#"{"objects":[{}],"objects":[{}]}"#,
        ] {
            let e = parse_envelope(body).unwrap_err();
            assert!(
                matches!(e, EnvelopeError::NotAnEnvelope(_)),
                "{e:?} for {body:?}"
            );
        }
    }

    #[test]
    fn objects_not_list() {
        for body in [
            &br#"{"objects":{"a":1}}"#[..],
            br#"{"objects":"x"}"#,
            br#"{"objects":null}"#,
            br#"{"type":"bundle","objects":{}}"#,
        ] {
            assert_eq!(
                parse_envelope(body).unwrap_err(),
                EnvelopeError::ObjectsNotList
            );
        }
        assert!(EnvelopeError::ObjectsNotList.to_string().contains("list"));
    }

    #[test]
    fn empty_objects() {
        assert_eq!(
            parse_envelope(br#"{"objects":[]}"#).unwrap_err(),
            EnvelopeError::EmptyObjects
        );
        assert_eq!(
            parse_envelope(br#"{"objects":[ ] , "more": true}"#).unwrap_err(),
            EnvelopeError::EmptyObjects
        );
    }

    #[test]
    fn depth_limit() {
        // Envelope (1) + objects list (2) + object (3) + 61 more levels = 64: allowed.
        let inner = format!("{}1{}", "[".repeat(61), "]".repeat(61));
        let ok = format!(r#"{{"objects":[{{"x":{inner}}}]}}"#);
        assert!(parse_envelope(ok.as_bytes()).is_ok());
        let inner = format!("{}1{}", "[".repeat(62), "]".repeat(62));
        let deep = format!(r#"{{"objects":[{{"x":{inner}}}]}}"#);
        assert_eq!(
            parse_envelope(deep.as_bytes()).unwrap_err(),
            EnvelopeError::TooDeep(64)
        );
        // Brackets inside strings (with escapes) do not count.
        let s = format!(r#"{{"objects":[{{"x":"\"{}"}}]}}"#, "[{".repeat(500));
        assert!(parse_envelope(s.as_bytes()).is_ok());
        // Far beyond serde_json's own limit: still a clean error.
        let huge = "[".repeat(1_000_000);
        assert_eq!(
            parse_envelope(huge.as_bytes()).unwrap_err(),
            EnvelopeError::TooDeep(64)
        );
    }

    #[test]
    fn display_messages() {
        assert!(EnvelopeError::EmptyObjects.to_string().contains("empty"));
        assert!(EnvelopeError::TooDeep(64).to_string().contains("64"));
        let e = parse_envelope(br#"{"more":true}"#).unwrap_err();
        assert!(e.to_string().contains("objects"), "{e}");
    }
}
