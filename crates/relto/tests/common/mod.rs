//! What the CLI suites share: a relto command on the store of a data directory, which is a
//! PostgreSQL database of its own under RELTO_TEST_BACKEND=postgres.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_relto");

pub fn postgres() -> bool {
    std::env::var("RELTO_TEST_BACKEND").as_deref() == Ok("postgres")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// RELTO_DATABASE for a data directory: under RELTO_TEST_BACKEND=postgres, a PostgreSQL
/// database of its own (created with psql on first use; scripts/test.sh drops the test
/// databases of earlier runs); otherwise none, and the SQLite store in the directory.
pub fn database_for(dir: &Path) -> Option<String> {
    if !postgres() {
        return None;
    }
    let admin = std::env::var("RELTO_TEST_POSTGRES_URL")
        .expect("RELTO_TEST_BACKEND=postgres needs RELTO_TEST_POSTGRES_URL");
    let name: String = format!("relto_test_cli_{}", dir.display())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let exists = Command::new("psql")
        .args(["-q", "-X", "-At", &admin, "-c"])
        .arg(format!(
            "SELECT 1 FROM pg_database WHERE datname = '{name}'"
        ))
        .output()
        .expect("psql");
    if text(&exists.stdout).trim() != "1" {
        let created = Command::new("psql")
            .args(["-q", "-X", &admin, "-c"])
            .arg(format!("CREATE DATABASE {name}"))
            .output()
            .expect("psql");
        assert!(created.status.success(), "{}", text(&created.stderr));
    }
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}

/// A relto command on the store of `dir` (see `database_for`).
pub fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("RELTO_DATA_DIR", dir);
    match database_for(dir) {
        Some(url) => c.env("RELTO_DATABASE", url),
        None => c.env_remove("RELTO_DATABASE"),
    };
    c
}
