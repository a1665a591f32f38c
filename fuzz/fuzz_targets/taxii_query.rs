#![no_main]
//! TAXII query strings and `next` cursors from clients.
use libfuzzer_sys::fuzz_target;
use relto_taxii::query::{parse_query, Endpoint};
use relto_taxii::{Cursor, CursorKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for e in [Endpoint::Objects, Endpoint::Object, Endpoint::DeleteObject, Endpoint::Versions] {
            if let Ok(f) = parse_query(Some(text), e) {
                let _ = f.fingerprint("fuzz");
            }
        }
        let key = CursorKey::new([3; 32]);
        let _ = Cursor::decode(text, &key, "fuzz");
    }
});
