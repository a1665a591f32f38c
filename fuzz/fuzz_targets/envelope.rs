#![no_main]
//! The STIX envelope/bundle parser on arbitrary bytes; what it returns is re-validated.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(objects) = relto_stix::parse_envelope(data) {
        for raw in objects {
            let _ = relto_stix::validate_object(raw.get());
        }
    }
});
