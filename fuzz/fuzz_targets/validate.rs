#![no_main]
//! The STIX 2.1 validator on arbitrary text.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(meta) = relto_stix::validate_object(text) {
            // What validated must name itself consistently.
            assert!(meta.id.starts_with(&meta.object_type));
        }
    }
});
