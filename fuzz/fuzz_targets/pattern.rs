#![no_main]
//! The STIX patterning parser on arbitrary text.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = relto_stix::pattern::validate_pattern(text);
    }
});
