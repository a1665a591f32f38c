#![no_main]
//! Any bytes as a report: a draft is refused with a reason or is valid STIX 2.1 throughout,
//! with every span inside the text.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = relto_draft::Options {
        now: "2026-12-06T00:00:00.000Z".into(),
        ..Default::default()
    };
    if let Ok(draft) = relto_draft::draft_bytes(data, &options) {
        let chars = std::str::from_utf8(data).map_or(0, |t| t.chars().count());
        for e in &draft.extractions {
            assert!(e.spans.iter().all(|(s, t)| s < t && *t <= chars), "{e:?}");
        }
        for o in draft.bundle["objects"].as_array().into_iter().flatten() {
            if let Err(e) = relto_stix::validate_object(&o.to_string()) {
                panic!("{}: {}", o["id"], e.message);
            }
        }
    }
});
