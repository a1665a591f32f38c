//! Property tests: the parsers of untrusted input never panic, whatever they are given, and
//! what they accept keeps its meaning.

use proptest::prelude::*;
use relto_stix::pattern::validate_pattern;
use relto_stix::timestamp::{format_micros, parse_timestamp};
use relto_stix::{parse_envelope, validate_object};

const VALID: &str = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-10-25T00:00:00.000Z","modified":"2024-10-25T00:00:00.000Z","name":"Troop movement","pattern":"[ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'x.example']","pattern_type":"stix","valid_from":"2024-10-25T00:00:00Z"}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn envelope_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_envelope(&bytes);
    }

    #[test]
    fn envelope_of_json_like_text_never_panics(s in r#"[\[\]{}",:0-9a-z \\]{0,200}"#) {
        let _ = parse_envelope(s.as_bytes());
        let _ = parse_envelope(format!("{{\"objects\":[{s}]}}").as_bytes());
    }

    #[test]
    fn validator_never_panics(s in "\\PC{0,300}") {
        let _ = validate_object(&s);
    }

    #[test]
    fn validator_never_panics_on_mutated_objects(cut in 0usize..VALID.len(), insert in "[\"{}\\[\\],:a-z0-9-]{0,8}") {
        let mut s = VALID.to_string();
        if s.is_char_boundary(cut) {
            s.insert_str(cut, &insert);
        }
        let _ = validate_object(&s);
        let _ = validate_object(&VALID[..cut]);
    }

    #[test]
    fn pattern_parser_never_panics(s in "[\\[\\]()':=<>!a-z0-9_. -]{0,120}") {
        let _ = validate_pattern(&s);
    }

    #[test]
    fn timestamps_round_trip(micros in 0i64..253_402_300_799_999_999) {
        let text = format_micros(micros);
        let parsed = parse_timestamp(&text).expect("a formatted timestamp parses");
        prop_assert_eq!(parsed.micros, micros);
        prop_assert_eq!(parsed.text, text);
    }

    #[test]
    fn timestamp_parser_never_panics(s in "[0-9TZ:.+-]{0,40}") {
        let _ = parse_timestamp(&s);
    }
}

#[test]
fn the_sample_is_valid() {
    assert!(validate_object(VALID).is_ok());
}
