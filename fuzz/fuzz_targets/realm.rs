#![no_main]
//! The realm file (TOML) an administrator applies.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = relto_policy::parse_realm(text);
    }
});
