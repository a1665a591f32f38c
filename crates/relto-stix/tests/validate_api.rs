//! Targeted tests of `validate_object` and `ObjectMeta`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use relto_stix::{validate_object, GranularMarking, ObjectMeta, ValidationError};
use serde_json::{json, Value};

const NIS: &str = "identity--2f9148c0-bdb8-4961-854d-4d03229951bc";
const TLP_AMBER: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
const REL_MARKING: &str = "marking-definition--0d9ab0e4-8f55-4a8f-bb8e-0e6ea9e1b7a4";

fn indicator() -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--3452c986-33d7-42cd-bd56-68778f6c61ff",
        "created_by_ref": NIS,
        "created": "2024-03-02T09:00:00.000Z",
        "modified": "2024-03-05T14:30:00.123456Z",
        "name": "FEB-7 relay address",
        "description": "Relay used by the FEB-7 signals detachment",
        "pattern": "[ipv4-addr:value = '203.0.113.47']",
        "pattern_type": "stix",
        "valid_from": "2024-03-05T00:00:00Z",
        "object_marking_refs": [TLP_AMBER],
        "granular_markings": [
            {"marking_ref": REL_MARKING, "selectors": ["description"]},
            {"lang": "ko", "selectors": ["name"]}
        ]
    })
}

fn ok(v: &Value) -> ObjectMeta {
    match validate_object(&v.to_string()) {
        Ok(m) => m,
        Err(e) => panic!("should be valid: {e}\n{v:#}"),
    }
}

fn err(v: &Value) -> ValidationError {
    match validate_object(&v.to_string()) {
        Ok(_) => panic!("should be invalid:\n{v:#}"),
        Err(e) => e,
    }
}

fn with(mut v: Value, key: &str, val: Value) -> Value {
    v[key] = val;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove(key);
    }
    v
}

#[test]
fn meta_of_an_sdo() {
    let m = ok(&indicator());
    assert_eq!(m.id, "indicator--3452c986-33d7-42cd-bd56-68778f6c61ff");
    assert_eq!(m.object_type, "indicator");
    assert_eq!(m.spec_version, "2.1");
    assert_eq!(
        m.created.as_ref().map(|t| t.text.as_str()),
        Some("2024-03-02T09:00:00.000Z")
    );
    assert_eq!(
        m.modified.as_ref().map(|t| t.text.as_str()),
        Some("2024-03-05T14:30:00.123456Z")
    );
    assert_eq!(m.version(), m.modified.as_ref());
    assert_eq!(m.version().map(|t| t.micros % 1_000_000), Some(123_456));
    assert_eq!(m.created_by_ref.as_deref(), Some(NIS));
    assert_eq!(m.object_marking_refs, vec![TLP_AMBER.to_owned()]);
    assert_eq!(
        m.granular_markings,
        vec![
            GranularMarking {
                marking_ref: Some(REL_MARKING.to_owned()),
                lang: None,
                selectors: vec!["description".to_owned()]
            },
            GranularMarking {
                marking_ref: None,
                lang: Some("ko".to_owned()),
                selectors: vec!["name".to_owned()]
            },
        ]
    );
}

#[test]
fn meta_of_an_sco_and_a_marking() {
    let sco = json!({
        "type": "ipv4-addr",
        "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
        "value": "203.0.113.47"
    });
    let m = ok(&sco);
    assert_eq!(m.spec_version, "2.1", "SCO default spec_version");
    assert_eq!(m.created, None);
    assert_eq!(m.modified, None);
    assert_eq!(m.version(), None);
    assert!(m.object_marking_refs.is_empty());

    let marking = json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP_AMBER,
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": "TLP:AMBER",
        "definition": {"tlp": "amber"}
    });
    let m = ok(&marking);
    assert_eq!(m.modified, None);
    assert_eq!(
        m.version().map(|t| t.text.as_str()),
        Some("2017-01-20T00:00:00.000Z")
    );
}

#[test]
fn error_carries_id_and_names_the_property() {
    let e = err(&without(indicator(), "pattern"));
    assert_eq!(
        e.id.as_deref(),
        Some("indicator--3452c986-33d7-42cd-bd56-68778f6c61ff")
    );
    assert_eq!(
        e.message,
        "indicator: required property 'pattern' is missing"
    );
    assert!(e.to_string().starts_with("indicator--3452c986"));

    let e = err(&with(indicator(), "confidence", json!(150)));
    assert!(e.message.contains("'confidence'"), "{}", e.message);

    let e = err(&json!({"id": 5}));
    assert_eq!(e.id, None);
    assert!(e.message.contains("'type'"), "{}", e.message);

    for raw in [
        "",
        "not json",
        "[1,2]",
        "\"indicator\"",
        "null",
        "{\"type\":\"indicator\"",
    ] {
        let e = validate_object(raw).unwrap_err();
        assert_eq!(e.id, None);
        assert!(!e.message.is_empty());
    }
}

#[test]
fn duplicate_member_names_are_rejected() {
    let raw = indicator().to_string();
    let dup = raw.replacen('{', "{\"name\":\"shadow\",", 1);
    let e = validate_object(&dup).unwrap_err();
    assert!(
        e.message.contains("duplicate member name \"name\""),
        "{}",
        e.message
    );
    let nested = raw.replacen(
        "\"selectors\":[\"description\"]",
        "\"selectors\":[\"description\"],\"selectors\":[\"name\"]",
        1,
    );
    assert_ne!(nested, raw);
    assert!(validate_object(&nested)
        .unwrap_err()
        .message
        .contains("duplicate"));
    // Absurd nesting is a clean error, not a stack overflow.
    let deep = format!(
        "{{\"x_kor\":{}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(validate_object(&deep).is_err());
    // Trailing garbage is not JSON.
    assert!(validate_object(&format!("{raw} x")).is_err());
    // Whitespace around the object is fine.
    ok(&indicator());
    validate_object(&format!("\n  {raw}  \n")).expect("whitespace is fine");
}

#[test]
fn pattern_type_other_than_stix_is_not_parsed() {
    let v = with(indicator(), "pattern", json!("rule x { condition: true }"));
    let v = with(v, "pattern_type", json!("yara"));
    ok(&v);
    let v = with(indicator(), "pattern", json!("rule x { condition: true }"));
    let e = err(&v);
    assert!(e.message.contains("pattern error"), "{}", e.message);
}

#[test]
fn timestamps() {
    // Sub-millisecond created is fine; `.1Z` is too coarse for created.
    ok(&with(
        indicator(),
        "created",
        json!("2024-03-02T09:00:00.0001234Z"),
    ));
    let e = err(&with(
        indicator(),
        "created",
        json!("2024-03-02T09:00:00.1Z"),
    ));
    assert!(e.message.contains("milliseconds"), "{}", e.message);
    // Other timestamps may be coarser.
    ok(&with(
        indicator(),
        "valid_from",
        json!("2024-03-05T00:00:00.1Z"),
    ));
    // Earlier by less than a microsecond is earlier too.
    let e = err(&with(
        with(
            indicator(),
            "created",
            json!("2024-03-02T09:00:00.0000005Z"),
        ),
        "modified",
        json!("2024-03-02T09:00:00.0000001Z"),
    ));
    assert!(e.message.contains("must be later"), "{}", e.message);
    // modified == created is allowed, earlier is not.
    ok(&with(
        indicator(),
        "modified",
        json!("2024-03-02T09:00:00.000Z"),
    ));
    err(&with(
        indicator(),
        "modified",
        json!("2024-03-02T08:59:59.999Z"),
    ));
    // Comparison is by instant, not by text.
    ok(&with(
        with(indicator(), "created", json!("2024-03-02T09:00:00.100Z")),
        "modified",
        json!("2024-03-02T09:00:00.10000Z"),
    ));
    err(&with(
        indicator(),
        "valid_until",
        json!("2024-03-05T00:00:00.000Z"),
    ));
    ok(&with(
        indicator(),
        "valid_until",
        json!("2024-03-05T00:00:00.001Z"),
    ));
    // Leap seconds are rejected.
    err(&with(
        indicator(),
        "valid_from",
        json!("2016-12-31T23:59:60Z"),
    ));
    // Leap day.
    ok(&with(
        indicator(),
        "valid_from",
        json!("2024-02-29T00:00:00Z"),
    ));
    err(&with(
        indicator(),
        "valid_from",
        json!("2023-02-29T00:00:00Z"),
    ));
}

#[test]
fn identifiers_and_references() {
    err(&with(
        indicator(),
        "id",
        json!("indicator--3452C986-33D7-42CD-7D56-68778F6C61FF"),
    ));
    ok(&with(
        indicator(),
        "id",
        json!("indicator--3452C986-33D7-42CD-BD56-68778F6C61FF"),
    ));
    err(&with(
        indicator(),
        "id",
        json!("indicator--3452c986-33d7-72cd-bd56-68778f6c61ff"),
    ));
    err(&with(
        indicator(),
        "created_by_ref",
        json!("threat-actor--3452c986-33d7-42cd-bd56-68778f6c61ff"),
    ));
    err(&with(
        indicator(),
        "object_marking_refs",
        json!(["identity--3452c986-33d7-42cd-bd56-68778f6c61ff"]),
    ));
    // Custom *_ref / *_refs properties must hold identifiers.
    ok(&with(indicator(), "x_kor_source_ref", json!(NIS)));
    err(&with(indicator(), "x_kor_source_ref", json!("KOR-NIS")));
    err(&with(indicator(), "x_kor_source_refs", json!([])));
    err(&with(indicator(), "x_kor_source_refs", json!([NIS, 3])));
}

#[test]
fn property_names_and_values() {
    ok(&with(
        indicator(),
        "x_kor_assessment",
        json!({"Nested Key": [], "n": null}),
    ));
    err(&with(indicator(), "x_korAssessment", json!("x")));
    err(&with(indicator(), "x_kor", json!(null)));
    err(&with(indicator(), "phone_number", json!("+82-2-0000-0000")));
    ok(&with(
        indicator(),
        "phone_numbers",
        json!(["+82-2-0000-0000"]),
    ));
    err(&with(indicator(), "x_kor_digest_hex", json!("ABCD")));
    ok(&with(indicator(), "x_kor_digest_hex", json!("abcd")));
    err(&with(indicator(), "x_kor_blob_bin", json!("###")));
    ok(&with(indicator(), "x_kor_blob_bin", json!("AAEC")));
    err(&with(indicator(), "defanged", json!(true)));
    ok(&with(indicator(), "confidence", json!(100.0)));
    err(&with(indicator(), "confidence", json!(99.5)));
}

#[test]
fn granular_markings() {
    let gm = |g: Value| with(indicator(), "granular_markings", g);
    ok(&gm(
        json!([{"marking_ref": REL_MARKING, "selectors": ["object_marking_refs.[0]"]}]),
    ));
    ok(&gm(
        json!([{"marking_ref": REL_MARKING, "selectors": ["id"]}]),
    ));
    err(&gm(
        json!([{"marking_ref": REL_MARKING, "selectors": ["object_marking_refs.[1]"]}]),
    ));
    err(&gm(
        json!([{"marking_ref": REL_MARKING, "selectors": ["description.[0]"]}]),
    ));
    err(&gm(
        json!([{"marking_ref": REL_MARKING, "selectors": ["object_marking_refs.name"]}]),
    ));
    err(&gm(
        json!([{"marking_ref": REL_MARKING, "lang": "en", "selectors": ["name"]}]),
    ));
    err(&gm(
        json!([{"lang": "english language", "selectors": ["name"]}]),
    ));
    err(&gm(json!([{"marking_ref": REL_MARKING}])));
    err(&gm(json!([])));
    err(&gm(json!({})));
}

#[test]
fn marking_definitions() {
    let tlp2 = json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "created": "2022-10-01T00:00:00.000Z",
        "name": "TLP:CLEAR",
        "extensions": {
            "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                "extension_type": "property-extension",
                "tlp_2_0": "clear"
            }
        }
    });
    ok(&tlp2);
    let mut custom_ext = tlp2.clone();
    custom_ext["extensions"] = json!({"x-kor-ext": {"level": "x"}});
    err(&custom_ext);
    let mut no_type = tlp2.clone();
    no_type["extensions"]["extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"] =
        json!({"tlp_2_0": "clear"});
    err(&no_type);
    // Classic TLP objects must be the exact ones from the specification.
    let amber = json!({
        "type": "marking-definition", "spec_version": "2.1", "id": TLP_AMBER,
        "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp",
        "name": "TLP:AMBER", "definition": {"tlp": "amber"}
    });
    ok(&amber);
    err(&with(amber.clone(), "definition", json!({"tlp": "red"})));
    err(&with(
        amber.clone(),
        "created",
        json!("2017-01-21T00:00:00.000Z"),
    ));
    // A custom definition_type is allowed (open vocabulary).
    ok(&json!({
        "type": "marking-definition", "spec_version": "2.1",
        "id": REL_MARKING, "created": "2024-03-02T09:00:00.000Z",
        "definition_type": "x-kor-caveat", "definition": {"caveat": "REL TO NATO, EU"}
    }));
}

#[test]
fn custom_objects() {
    ok(&json!({
        "type": "x-kor-troop-deployment",
        "spec_version": "2.1",
        "id": "x-kor-troop-deployment--5b1a5c34-2a0e-4a0e-8d1e-1d6f6d0a4f10",
        "created": "2024-03-02T09:00:00.000Z",
        "modified": "2024-03-02T09:00:00.000Z",
        "estimated_strength": 4200
    }));
    // SDO-like custom objects need spec_version and modified.
    err(&json!({
        "type": "x-kor-troop-deployment",
        "id": "x-kor-troop-deployment--5b1a5c34-2a0e-4a0e-8d1e-1d6f6d0a4f10",
        "created": "2024-03-02T09:00:00.000Z",
        "modified": "2024-03-02T09:00:00.000Z"
    }));
    // "x-" is not required in 2.1.
    ok(&json!({
        "type": "kor-emitter",
        "id": "kor-emitter--5b1a5c34-2a0e-4a0e-8d1e-1d6f6d0a4f10",
        "frequency_khz": 243000
    }));
    err(&json!({
        "type": "kor--emitter",
        "id": "kor--emitter--5b1a5c34-2a0e-4a0e-8d1e-1d6f6d0a4f10"
    }));
    err(&json!({
        "type": "bundle",
        "id": "bundle--5b1a5c34-2a0e-4a0e-8d1e-1d6f6d0a4f10",
        "objects": []
    }));
}

#[test]
fn scos() {
    let nt = json!({
        "type": "network-traffic",
        "id": "network-traffic--214662a9-aa1b-5bd4-9f5e-9c8b8d7333de",
        "dst_ref": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
        "protocols": ["tcp"]
    });
    ok(&nt);
    err(&with(
        nt.clone(),
        "src_ref",
        json!("file--17fde74c-90f7-553c-959d-3318dc058003"),
    ));
    err(&with(
        nt.clone(),
        "extensions",
        json!({"ntfs-ext": {"sid": "1"}}),
    ));
    ok(&with(
        nt.clone(),
        "extensions",
        json!({"x-kor-radio-ext": {"band": "uhf"}}),
    ));
    err(&with(
        nt.clone(),
        "extensions",
        json!({"x-kor-radio-ext": {}}),
    ));
    err(&with(nt.clone(), "protocols", json!("tcp")));
    let artifact = json!({
        "type": "artifact",
        "id": "artifact--2a216321-46e6-529e-8af7-a78884e1a1b6",
        "payload_bin": "UEsDBBQAAAAIAA==",
        "mime_type": "application/x-kor-custom-thing"
    });
    ok(&artifact);
    let grouping = json!({
        "type": "grouping", "spec_version": "2.1",
        "id": "grouping--5b1a5c34-2a0e-4a0e-8d1e-1d6f6d0a4f10",
        "created": "2024-03-02T09:00:00.000Z", "modified": "2024-03-02T09:00:00.000Z",
        "context": "suspicious-activity", "object_refs": [NIS]
    });
    ok(&grouping);
    let email = json!({
        "type": "email-message",
        "id": "email-message--5b1a5c34-2a0e-4a0e-8d1e-1d6f6d0a4f10",
        "is_multipart": false,
        "subject": "x"
    });
    ok(&with(
        email.clone(),
        "additional_header_fields",
        json!({"X-Mailer": ["Outlook"]}),
    ));
    err(&with(
        email.clone(),
        "additional_header_fields",
        json!({"X-Mailer": "Outlook"}),
    ));
    err(&with(
        email.clone(),
        "additional_header_fields",
        json!({"X Mailer": ["Outlook"]}),
    ));
}

#[test]
fn every_validation_path_survives_hostile_values() {
    // Replace each property of a rich object with a variety of wrong JSON
    // values: validation must return an error or Ok, never panic.
    let base = indicator();
    let junk = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e308),
        json!(""),
        json!("x"),
        json!([]),
        json!([null]),
        json!({}),
        json!({"a": null}),
        json!([[[]]]),
    ];
    let keys: Vec<String> = base
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for k in keys {
        for j in &junk {
            let _ = validate_object(&with(base.clone(), &k, j.clone()).to_string());
        }
    }
}
