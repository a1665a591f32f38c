//! What the CLI suites share: a relto command on the store of a data directory, which is a
//! PostgreSQL database of its own under RELTO_TEST_BACKEND=postgres.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

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
    let exists = psql(
        &admin,
        &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
    );
    if exists.expect("psql") != "1" {
        psql(&admin, &format!("CREATE DATABASE {name}")).expect("create database");
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

/// Runs `relto ARGS` over the hub in `dir` (see `command`), with the passwords of the
/// running example's accounts set, and waits for it.
pub fn relto(dir: &Path, args: &[&str]) -> std::process::Output {
    command(dir)
        .args(args)
        .env("RELTO_PW_NIS", "nis-secret")
        .env("RELTO_PW_ARMY", "army-secret")
        .env("RELTO_PW_BND", "bnd-secret")
        .output()
        .expect("run relto")
}

/// psql on a database: its output, or a failure with PostgreSQL's message.
pub fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args(["-q", "-X", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .expect("psql");
    if out.status.success() {
        Ok(text(&out.stdout).trim().to_string())
    } else {
        Err(text(&out.stderr))
    }
}

/// A running `relto serve` and its base URL; killed on drop.
pub struct Server(pub Child, pub String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` (the command holds the verb, its flags and environment) and waits for it
/// to print where it listens.
pub fn spawn_server(mut serve: Command) -> Server {
    let mut child = serve
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("serve printed nothing").expect("line");
        if let Some(rest) = line.strip_prefix("relto listening on ") {
            break rest.to_string();
        }
    };
    Server(child, url)
}

/// A peer hub for the quickstart realm: BND's hub, pushed the situation reports every 60 s.
/// Its CA file does not exist, so a server that tries the push fails before any traffic.
pub const BND_PEER: &str = r#"
[[peer]]
name = "bnd-hub"
organization = "deu-bnd"
url = "https://bnd-hub.example/coalition/collections/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e/"
direction = "push"
collection = "2f6e6c5e-3d43-4a0e-9c7d-0a1b2c3d4e5f"
token_env = "RELTO_PEER_BND_TOKEN"
ca_file = "/nonexistent/relto-test/bnd-ca.pem"
interval_secs = 60
clearances = [{ policy = "NATO", level = "NS" }]
"#;
