//! Validates STIX objects stored one per file and prints a verdict per file,
//! then the validation throughput.
//!
//! ```text
//! cargo run --release -p relto-stix --example validate_files -- tests/stix-corpus/valid/*.json
//! ```

use std::time::Instant;

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let mut texts = Vec::with_capacity(files.len());
    for f in &files {
        match std::fs::read_to_string(f) {
            Ok(t) => texts.push((f.as_str(), t)),
            Err(e) => eprintln!("{f}: cannot read: {e}"),
        }
    }
    for (name, text) in &texts {
        match relto_stix::validate_object(text) {
            Ok(meta) => println!("{name}\tvalid\t{}", meta.id),
            Err(e) => println!("{name}\tinvalid\t{}", e.message),
        }
    }
    if texts.is_empty() {
        return;
    }
    let rounds = (200_000 / texts.len()).max(1);
    let start = Instant::now();
    let mut n = 0u64;
    for _ in 0..rounds {
        for (_, text) in &texts {
            let _ = std::hint::black_box(relto_stix::validate_object(text));
            n += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    eprintln!(
        "{n} validations in {secs:.2}s: {:.0} objects/s (average object {} bytes)",
        n as f64 / secs,
        bytes / texts.len()
    );
}
