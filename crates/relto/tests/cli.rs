//! The `relto` command line as a user runs it: apply, import, export, validate, token, serve
//! (plain and TLS).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

mod common;

use common::{command, relto, spawn_server, text, Server};

const COLL: &str = "2f6e6c5e-3d43-4a0e-9c7d-0a1b2c3d4e5f";

fn quickstart() -> String {
    format!(
        "{}/../../examples/quickstart.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn bundle(n: usize) -> String {
    let objs: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"type":"note","spec_version":"2.1","id":"note--0b9c8d7e-6f5a-4b3c-9d2e-{i:012}","created":"2024-10-25T00:00:00.000Z","modified":"2024-10-25T00:00:00.000Z","content":"Convoy {i} observed","object_refs":["threat-actor--6d1b9e8f-3c2a-4f5e-9a7b-1c2d3e4f5a6b"]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"type":"bundle","id":"bundle--5d0b4c3a-2e1f-4a9b-8c7d-6e5f4a3b2c1d","objects":[{}]}}"#,
        objs.join(",")
    )
}

#[test]
fn apply_is_idempotent_and_explains_errors() {
    let dir = tempfile::tempdir().unwrap();
    let first = relto(dir.path(), &["apply", &quickstart()]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("10 created"),
        "{}",
        text(&first.stdout)
    );
    let again = relto(dir.path(), &["apply", &quickstart()]);
    assert!(text(&again.stdout).contains("0 created, 0 updated, 10 unchanged"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(quickstart())
            .unwrap()
            .replace("organization = \"deu-bnd\"", "organization = \"deu-xxx\""),
    )
    .unwrap();
    let out = relto(dir.path(), &["apply", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("nothing changed"), "{err}");
    assert!(
        err.contains("organization 'deu-xxx' is not declared"),
        "{err}"
    );

    let out = command(dir.path())
        .args(["apply", &quickstart()])
        .env_remove("RELTO_PW_NIS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("RELTO_PW_NIS"));

    // A pool of no connections is refused before anything is opened, naming the option.
    let out = relto(
        dir.path(),
        &["apply", "--database-pool-size", "0", &quickstart()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--database-pool-size"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn import_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    assert!(relto(dir.path(), &["apply", &quickstart()])
        .status
        .success());
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, bundle(2500)).unwrap();
    let out = relto(
        dir.path(),
        &["import", "--collection", COLL, file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("imported 2500 objects"),
        "{}",
        text(&out.stdout)
    );
    let again = relto(
        dir.path(),
        &["import", "--collection", COLL, file.to_str().unwrap()],
    );
    assert!(text(&again.stdout)
        .contains("imported 0 objects into 'Situation reports' (2500 already present"));

    let exported = dir.path().join("out.json");
    let out = relto(
        dir.path(),
        &[
            "export",
            "--collection",
            COLL,
            "-o",
            exported.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert_eq!(v["type"], "bundle");
    assert_eq!(v["objects"].as_array().unwrap().len(), 2500);
    // The bytes of each object are the bytes that were imported.
    let original = bundle(2500);
    let exported_text = std::fs::read_to_string(&exported).unwrap();
    let first = &v["objects"][0]["id"];
    assert!(original.contains(first.as_str().unwrap()));
    assert!(exported_text.contains(r#""content":"Convoy 0 observed""#));

    // An invalid object is rejected by name, the rest imported; exit status 1.
    let mixed = dir.path().join("mixed.json");
    std::fs::write(
        &mixed,
        r#"{"objects":[{"type":"note","spec_version":"2.1","id":"note--11111111-2222-4333-8444-555555555555","created":"2024-10-25T00:00:00Z","modified":"2024-10-25T00:00:00Z","object_refs":["threat-actor--6d1b9e8f-3c2a-4f5e-9a7b-1c2d3e4f5a6b"]}]}"#,
    )
    .unwrap();
    let out = relto(
        dir.path(),
        &["import", "--collection", COLL, mixed.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("note--11111111-2222-4333-8444-555555555555"));

    let out = relto(
        dir.path(),
        &["import", "--collection", "nope", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no collection 'nope'"));
}

#[test]
fn validate_reports_each_object() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, bundle(3)).unwrap();
    let out = relto(dir.path(), &["validate", good.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).lines().count(), 3);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"type":"indicator","id":"indicator--x"}"#).unwrap();
    let out = relto(dir.path(), &["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(line["valid"], false);
    assert!(line["error"].as_str().unwrap().len() > 5);
}

fn serve(dir: &Path, extra: &[&str]) -> Server {
    let mut c = command(dir);
    c.args(["serve", "--listen", "127.0.0.1:0", "--log", "warn"])
        .args(extra)
        .env("RELTO_ADMIN_PASSWORD", "admin-secret");
    spawn_server(c)
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let t = text(&out.stdout);
    let (body, code) = t.rsplit_once('\n').unwrap_or(("", ""));
    (body.to_string(), code.to_string())
}

#[test]
fn serve_creates_admin_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &[]);
    let (body, code) = curl(&["-u", "admin:admin-secret", &format!("{}/taxii2/", s.1)]);
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("\"title\":\"relto\""));
    let (_, code) = curl(&["-u", "admin:wrong", &format!("{}/taxii2/", s.1)]);
    assert_eq!(code, "401");
}

#[test]
fn serve_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(ok.success());
    assert!(relto(dir.path(), &["apply", &quickstart()])
        .status
        .success());
    let s = serve(
        dir.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(s.1.starts_with("https://"), "{}", s.1);
    let (body, code) = curl(&[
        "--cacert",
        cert.to_str().unwrap(),
        "-u",
        "admin:admin-secret",
        &format!("{}/taxii2/", s.1),
    ]);
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("api_roots") || body.contains("title"));
    // The live stream over TLS answers as an event stream; the console's cookies are Secure.
    let (headers, code) = curl(&[
        "--cacert",
        cert.to_str().unwrap(),
        "--max-time",
        "2",
        "-D",
        "-",
        "-u",
        "nis-analyst:nis-secret",
        "-H",
        "Accept: text/event-stream",
        &format!("{}/api/v1/collections/{COLL}/stream", s.1),
    ]);
    assert_eq!(code, "200", "{headers}");
    assert!(
        headers
            .to_lowercase()
            .contains("content-type: text/event-stream"),
        "{headers}"
    );
    let (headers, code) = curl(&[
        "--cacert",
        cert.to_str().unwrap(),
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("{}/ui/", s.1),
    ]);
    assert_eq!(code, "200", "{headers}");
    let cookie = headers
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie: relto_login="))
        .unwrap_or_default();
    for part in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(part), "{headers}");
    }

    let out = relto(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            key.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no certificate"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn token_create_prints_a_working_token() {
    let dir = tempfile::tempdir().unwrap();
    assert!(relto(dir.path(), &["apply", &quickstart()])
        .status
        .success());
    let out = relto(dir.path(), &["token", "create", "--account", "bnd-reader"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    assert!(token.len() >= 40);
    let s = serve(dir.path(), &[]);
    let (_, code) = curl(&[
        "-H",
        &format!("Authorization: Bearer {token}"),
        &format!("{}/coalition/collections/", s.1),
    ]);
    assert_eq!(code, "200");
    let out = relto(dir.path(), &["token", "create", "--account", "ghost"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("ghost"));
    let _ = std::io::stdout().flush();
}

#[test]
fn limits_come_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    assert!(relto(dir.path(), &["apply", &quickstart()])
        .status
        .success());
    let cfg = dir.path().join("relto.toml");
    std::fs::write(
        &cfg,
        "[limits]\nmax_objects_per_envelope = 2\nmax_json_depth = 6\nmax_query_params = 3\n",
    )
    .unwrap();
    let s = serve(dir.path(), &["--config", cfg.to_str().unwrap()]);
    let url = format!("{}/coalition/collections/{COLL}/objects/", s.1);
    let post = |body: String| {
        curl(&[
            "-u",
            "nis-analyst:nis-secret",
            "-H",
            "Content-Type: application/taxii+json;version=2.1",
            "--data-binary",
            &body,
            &url,
        ])
    };
    let three = bundle(3);
    let (_, code) = post(three);
    assert_eq!(code, "413");
    let deep = format!("{{\"objects\":[{}1{}]}}", "[".repeat(8), "]".repeat(8));
    let (body, code) = post(deep);
    assert_eq!(code, "400", "{body}");
    assert!(body.contains("6 levels"), "{body}");
    let (_, code) = curl(&[
        "-u",
        "nis-analyst:nis-secret",
        &format!("{url}?limit=1&added_after=2024-01-01T00:00:00Z&match[type]=note&next=x"),
        "-g",
    ]);
    assert_eq!(code, "400");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[limits]\nmax_json_dept = 6\n").unwrap();
    let out = relto(dir.path(), &["serve", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("max_json_dept"));
}

/// `--metrics-listen` serves Prometheus metrics on a listener of their own (never beside the
/// API), `/healthz` and `/readyz` answer without credentials, and `--log-format json` writes
/// each log line as a JSON object.
#[test]
fn serve_with_metrics_probes_and_json_logs() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--log", "info"])
        .args(["--log-format", "json", "--metrics-listen", "127.0.0.1:0"])
        .env("RELTO_ADMIN_PASSWORD", "admin-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_with = |prefix: &str| loop {
        let line = lines.next().expect("serve printed less").unwrap();
        if let Some(rest) = line.strip_prefix(prefix) {
            break rest.to_string();
        }
    };
    let api = next_with("relto listening on ");
    let metrics = next_with("relto metrics on ");

    let (_, code) = curl(&["-u", "admin:admin-secret", &format!("{api}/taxii2/")]);
    assert_eq!(code, "200");
    let (_, code) = curl(&[&format!("{api}/no/such/thing/")]);
    assert_eq!(code, "404");
    let (body, code) = curl(&[&format!("{api}/healthz")]);
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", r#"{"status":"ok"}"#)
    );
    let (body, code) = curl(&[&format!("{api}/readyz")]);
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", r#"{"status":"ready"}"#)
    );
    let (_, code) = curl(&[&format!("{api}/metrics")]);
    assert_eq!(code, "404", "metrics are not served beside the API");

    let (body, code) = curl(&[&metrics]);
    assert_eq!(code, "200");
    for line in [
        r#"relto_http_requests_total{route="/taxii2/",method="GET",status="200"} 1"#,
        r#"relto_http_requests_total{route="unmatched",method="GET",status="404"} 2"#,
        r#"relto_http_requests_total{route="/healthz",method="GET",status="200"} 1"#,
        r#"relto_http_request_duration_seconds_count{route="/taxii2/"} 1"#,
        "relto_stream_connections 0",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "{line} missing from\n{body}"
        );
    }

    child.kill().unwrap();
    child.wait().unwrap();
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let parsed: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        parsed
            .iter()
            .any(|l| l["level"] == "info" && l["message"] == "created account 'admin'"),
        "{logs}"
    );
}

/// `[[peer]]` entries are applied with the realm and listed by `relto peers`; a peer the
/// realm drops is disabled, and a bad one is refused by name with what to fix.
#[test]
fn peers_are_applied_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let out = relto(dir.path(), &["peers"]);
    assert!(
        text(&out.stdout).contains("no peers"),
        "{}",
        text(&out.stdout)
    );
    let peer = common::BND_PEER;
    let base = std::fs::read_to_string(quickstart()).unwrap();
    let realm = dir.path().join("realm.toml");
    std::fs::write(&realm, format!("{base}{peer}")).unwrap();
    let out = relto(dir.path(), &["apply", realm.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&relto(dir.path(), &["peers"]).stdout);
    assert!(
        listed.contains("bnd-hub  push every 60s  organization deu-bnd  collection 2f6e6c5e-3d43-4a0e-9c7d-0a1b2c3d4e5f  https://bnd-hub.example/"),
        "{listed}"
    );
    assert!(
        listed.contains("enabled; never run; 0 objects sent, 0 withheld"),
        "{listed}"
    );

    std::fs::write(&realm, &base).unwrap();
    assert!(relto(dir.path(), &["apply", realm.to_str().unwrap()])
        .status
        .success());
    let listed = text(&relto(dir.path(), &["peers"]).stdout);
    assert!(
        listed.contains("disabled (no longer in the realm)"),
        "{listed}"
    );

    let plain = peer.replace("https://bnd-hub.example", "http://bnd-hub.example");
    std::fs::write(&realm, format!("{base}{plain}")).unwrap();
    let out = relto(dir.path(), &["apply", realm.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("peer 'bnd-hub': url 'http://bnd-hub.example/")
            && err.contains("use https://"),
        "{err}"
    );
}

/// `relto key create` writes a key only its owner may read, never over another, and prints
/// the public half as a realm line; `serve --signing-key` names what is wrong with a key.
#[test]
fn key_create_and_a_bad_signing_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("hub.key");
    let out = relto(
        dir.path(),
        &["key", "create", "--out", key.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(
        line.starts_with("public_key = \"") && line.trim_end().ends_with('"'),
        "{line}"
    );
    assert_eq!(
        line.split('"').nth(1).unwrap().len(),
        44,
        "base64 of 32 bytes"
    );
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(std::fs::read_to_string(&key)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    let again = relto(
        dir.path(),
        &["key", "create", "--out", key.to_str().unwrap()],
    );
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("never overwrites"));

    // A realm's public_key must be one.
    let realm = dir.path().join("realm.toml");
    let base = std::fs::read_to_string(quickstart()).unwrap();
    std::fs::write(
        &realm,
        base.replace(
            "name = \"bnd-reader\"\n",
            "name = \"bnd-reader\"\npublic_key = \"bm9wZQ==\"\n",
        ),
    )
    .unwrap();
    let out = relto(dir.path(), &["apply", realm.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("account 'bnd-reader': public_key must be an Ed25519 public key"),
        "{}",
        text(&out.stderr)
    );
    let signed = base.replace(
        "name = \"bnd-reader\"\n",
        &format!("name = \"bnd-reader\"\n{line}"),
    );
    std::fs::write(&realm, signed).unwrap();
    let out = relto(dir.path(), &["apply", realm.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not a key").unwrap();
    for (file, says) in [
        (bad.to_str().unwrap(), "make one with relto key create"),
        ("/nonexistent/relto.key", "cannot read the signing key"),
    ] {
        let out = command(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--signing-key", file])
            .env("RELTO_ADMIN_PASSWORD", "admin-secret")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
    // A hub name goes on hop paths between hubs: one that could not is refused by name.
    let out = command(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--hub-name", "KOR Hub"])
        .env("RELTO_ADMIN_PASSWORD", "admin-secret")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("hub name 'KOR Hub': use lower-case letters"),
        "{}",
        text(&out.stderr)
    );
}
