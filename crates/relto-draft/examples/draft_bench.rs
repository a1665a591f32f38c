//! How long a draft takes: the corpus's reports repeated to 1 MiB and to the largest report
//! drafted (8 MiB), each drafted 5 times; prints the best and median times and the rate.
//! `cargo run --release -p relto-draft --example draft_bench` (the target: 1 MB under 1 s).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/drafts");
    let mut corpus = String::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    for f in files {
        corpus.push_str(&std::fs::read_to_string(f).unwrap());
        corpus.push_str("\n\n");
    }
    let options = relto_draft::Options {
        labels: vec!["marking-definition--e05703d3-be5e-5bed-bdf9-c661e519c617".into()],
        now: "2026-12-06T00:00:00.000Z".into(),
        ..Default::default()
    };
    for size in [1 << 20, relto_draft::MAX_TEXT] {
        let mut text = String::with_capacity(size + corpus.len());
        while text.len() + corpus.len() <= size {
            text.push_str(&corpus);
        }
        let mut times = Vec::new();
        let mut objects = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let d = relto_draft::draft(&text, &options).unwrap();
            times.push(t.elapsed().as_secs_f64());
            objects = d.bundle["objects"].as_array().map_or(0, Vec::len);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "draft of {:.2} MiB: best {:.0} ms, median {:.0} ms ({:.1} MiB/s), {objects} objects",
            text.len() as f64 / (1 << 20) as f64,
            times[0] * 1e3,
            times[2] * 1e3,
            text.len() as f64 / (1 << 20) as f64 / times[2],
        );
    }
}
