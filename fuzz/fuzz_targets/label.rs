#![no_main]
//! Marking-definitions (labels) from posted JSON; a parsed label's canonical form is stable.
use libfuzzer_sys::fuzz_target;
use relto_policy::label::{parse_marking, Marking};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(Some((_, Marking::Label(label)))) = parse_marking(&value) {
            let again = label.clone().normalized();
            assert_eq!(again.canonical(), label.canonical());
            let _ = label.id();
        }
    }
});
