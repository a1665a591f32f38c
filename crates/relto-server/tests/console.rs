//! The console (DESIGN §12) over HTTP, on the store the suite runs on: sign-in and sessions,
//! CSRF, escaping, throttling shared with the API, what each reader's pages show beside its
//! TAXII read, the release matrix and a partner's copy, and the two-person rule in forms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::clearance;

use relto_policy::label::Label;
use relto_policy::{Clearance, Role};
use relto_server::ServerConfig;
use relto_store::{ApiRoot, Organization, PlannedAccount, PlannedCollection, RealmPlan};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const COLL: &str = "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d";
const REPORT: &str = "report--1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
const TAXII: &str = "application/taxii+json;version=2.1";

fn token(account: &str) -> String {
    format!("console-test-token-for-{account}-0123456789abcdef")
}

fn password(account: &str) -> String {
    format!("{account}-password")
}

fn kor_only() -> Label {
    Label::new("KOR", "II", Some(&["KOR"]), &[])
}

fn nato() -> Label {
    Label::new("NATO", "NR", Some(&["KOR", "NATO"]), &[])
}

fn eu() -> Label {
    Label::new("EU", "EU-R", Some(&["KOR", "EU"]), &[])
}

/// The joint team (an analyst, two releasing officers), Germany's BND (NATO and EU) and
/// Austria's BNV (EU only). Everyone has a password and a token.
fn realm(without: &[&str]) -> RealmPlan {
    let org = |slug: &str, nation: &str, n: u32, accredited: &[&str]| Organization {
        slug: slug.parse().unwrap(),
        name: slug.into(),
        nation: nation.parse().unwrap(),
        identity: format!("identity--00000000-0000-4000-8000-{n:012}"),
        accredited: accredited.iter().map(|s| s.to_string()).collect(),
    };
    let account = |name: &str, org: &str, role: Role, clearances: Vec<Clearance>| PlannedAccount {
        name: name.into(),
        organization: org.parse().unwrap(),
        roles: vec![role],
        password_hash: Some(relto_server::hash_password(&password(name)).unwrap()),
        token_sha256: Some(relto_server::token_sha256(&token(name))),
        clearances,
        public_key: None,
    };
    let top = vec![
        clearance("KOR", "I"),
        clearance("NATO", "CTS"),
        clearance("EU", "EU-TS"),
    ];
    let all: Vec<String> = ["kor-nis", "deu-bnd", "aut-bnv"]
        .iter()
        .map(|o| format!("org:{o}"))
        .collect();
    RealmPlan {
        api_roots: vec![ApiRoot {
            path: "console".into(),
            title: "Console".into(),
            description: None,
            max_content_length: 1 << 20,
        }],
        organizations: vec![
            org("kor-nis", "KOR", 1, &[]),
            org("deu-bnd", "DEU", 2, &["NATO", "EU"]),
            org("aut-bnv", "AUT", 3, &["EU"]),
        ],
        accounts: vec![
            account("nis", "kor-nis", Role::Analyst, top.clone()),
            account("officer-a", "kor-nis", Role::Releaser, top.clone()),
            account("officer-b", "kor-nis", Role::Releaser, top),
            account(
                "bnd",
                "deu-bnd",
                Role::Analyst,
                vec![clearance("NATO", "NS"), clearance("EU", "EU-S")],
            ),
            account(
                "bnv",
                "aut-bnv",
                Role::Analyst,
                vec![clearance("EU", "EU-S")],
            ),
        ]
        .into_iter()
        .filter(|a| !without.contains(&a.name.as_str()))
        .collect(),
        collections: vec![PlannedCollection {
            id: COLL.into(),
            api_root: "console".into(),
            title: "Joint workspace".into(),
            description: None,
            alias: None,
            readers: all.clone(),
            writers: all,
        }],
        ..Default::default()
    }
}

const HOSTILE_NAME: &str = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";

fn indicator(n: u32, name: &str, label: &Label) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
        "name": name, "pattern": format!("[ipv4-addr:value = '198.51.100.{}']", n % 250),
        "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z",
        "object_marking_refs": [label.id()]
    })
}

/// A NATO report whose sources are EU-marked: BND receives it whole, BNV not at all.
fn report() -> Value {
    json!({
        "type": "report", "spec_version": "2.1", "id": REPORT,
        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
        "name": "Storm Corps deployment", "published": "2026-11-01T00:00:00Z",
        "object_refs": [indicator(1, "", &nato())["id"]],
        "external_references": [{"source_name": "EU INTCEN", "description": "assessment 7"}],
        "granular_markings": [{"marking_ref": eu().id(), "selectors": ["external_references"]}],
        "object_marking_refs": [nato().id()]
    })
}

struct Hub {
    app: common::TestApp,
    /// Follows no redirects: the tests look at them.
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Hub {
    async fn start_with(config: ServerConfig) -> Self {
        let hub = Self {
            app: common::spawn_realm_with(&realm(&[]), config).await,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        let mut objects: Vec<Value> = [kor_only(), nato(), eu()]
            .iter()
            .map(|l| l.to_marking_definition("2026-01-01T00:00:00.000Z"))
            .collect();
        objects.push(indicator(1, "Staging area beacon", &nato()));
        objects.push(indicator(2, "Kor-only relay", &kor_only()));
        objects.push(indicator(3, HOSTILE_NAME, &nato()));
        objects.push(indicator(4, "EU courier", &eu()));
        objects.push(report());
        hub.post("nis", &objects).await;
        hub
    }

    async fn start() -> Self {
        Self::start_with(ServerConfig::default()).await
    }

    async fn post(&self, account: &str, objects: &[Value]) {
        let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
        let url = format!("{}/console/collections/{COLL}/objects/", self.app.base);
        let st = common::post_objects(&self.http, &url, &token(account), &texts).await;
        assert_eq!(st["failure_count"], 0, "{st}");
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.expect("send");
        Answer {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.expect("body"),
        }
    }

    /// A console page with a session cookie (None: without).
    async fn page(&self, path: &str, session: Option<&str>) -> Answer {
        let mut req = self.http.get(format!("{}{path}", self.app.base));
        if let Some(s) = session {
            req = req.header("cookie", format!("relto_session={s}"));
        }
        self.send(req).await
    }

    async fn form(&self, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded_pairs(fields);
        self.send(
            self.http
                .post(format!("{}{path}", self.app.base))
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// Signs in through the form as a browser does; returns the session cookie's value.
    async fn sign_in(&self, account: &str, pw: &str) -> Result<String, Answer> {
        let first = self.page("/ui/", None).await;
        assert_eq!(first.status, 200);
        let login = cookie_value(&first.headers, "relto_login").expect("login cookie");
        let csrf =
            common::console::attr(&first.body, "name=\"csrf\" value=\"").expect("csrf field");
        assert_eq!(
            login, csrf,
            "the sign-in form sends back its cookie's value"
        );
        let a = self
            .form(
                "/ui/login",
                &format!("relto_login={login}"),
                &[("username", account), ("password", pw), ("csrf", &csrf)],
            )
            .await;
        match cookie_value(&a.headers, "relto_session") {
            Some(s) if a.status == 303 => Ok(s),
            _ => Err(a),
        }
    }

    /// What `account` receives over TAXII: id → object.
    async fn taxii(&self, account: &str) -> Vec<Value> {
        let resp = self
            .http
            .get(format!(
                "{}/console/collections/{COLL}/objects/",
                self.app.base
            ))
            .bearer_auth(token(account))
            .header("accept", TAXII)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let env: Value = resp.json().await.unwrap();
        env["objects"].as_array().cloned().unwrap_or_default()
    }
}

fn serde_urlencoded_pairs(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn cookie_value(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_string())
        })
}

fn set_cookie_line(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_default()
        .to_string()
}

fn bare(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("granular_markings");
    }
    v
}

#[tokio::test]
async fn signing_in_sets_a_strict_cookie_and_signing_out_ends_the_session() {
    let hub = Hub::start().await;
    // The sign-in page: labelled fields, a login CSRF value, no session.
    let first = hub.page("/ui/", None).await;
    assert_eq!(first.status, 200);
    assert!(first
        .body
        .contains("<label for=\"username\">Username</label>"));
    assert!(first
        .body
        .contains("<label for=\"password\">Password</label>"));
    let csp = first.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    // A sign-in without the form's value (another site's form) is refused.
    let forged = hub
        .form(
            "/ui/login",
            "",
            &[
                ("username", "nis"),
                ("password", &password("nis")),
                ("csrf", "x"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(cookie_value(&forged.headers, "relto_session").is_none());
    // A wrong password: 401, the sign-in page again, no session.
    let wrong = hub.sign_in("nis", "not-it").await.expect_err("refused");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong username or password"));
    // The right one: a session cookie, HttpOnly and SameSite=Strict, for the console only.
    let first = hub.page("/ui/", None).await;
    let login = cookie_value(&first.headers, "relto_login").unwrap();
    let ok = hub
        .form(
            "/ui/login",
            &format!("relto_login={login}"),
            &[
                ("username", "nis"),
                ("password", &password("nis")),
                ("csrf", &login),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    let line = set_cookie_line(&ok.headers, "relto_session");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(line.contains(part), "{line}");
    }
    assert!(!line.contains("Secure"), "plain HTTP on loopback: {line}");
    let session = cookie_value(&ok.headers, "relto_session").unwrap();
    let home = hub.page("/ui/", Some(&session)).await;
    assert!(home.body.contains("nis · kor-nis"), "{}", home.body);
    assert!(home.body.contains(&format!("/ui/collections/{COLL}")));
    // Signing out needs the session's CSRF token; without it nothing changes.
    let cookie = format!("relto_session={session}");
    let no_token = hub.form("/ui/logout", &cookie, &[]).await;
    assert_eq!(no_token.status, 403);
    assert!(hub
        .page("/ui/", Some(&session))
        .await
        .body
        .contains("nis · kor-nis"));
    let csrf = common::console::attr(&home.body, "name=\"csrf\" value=\"").unwrap();
    let out = hub.form("/ui/logout", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    // The token is revoked: the old cookie signs in no one, on any page.
    let after = hub.page("/ui/", Some(&session)).await;
    assert!(after.body.contains("Sign in to relto"));
    let coll = hub
        .page(&format!("/ui/collections/{COLL}"), Some(&session))
        .await;
    assert_eq!(coll.status, 303, "back to the sign-in page");
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_with_the_api_and_disabled_accounts_lose_sessions() {
    let mut config = ServerConfig::default();
    config.failure_limits.per_account = 3;
    let hub = Hub::start_with(config).await;
    let session = hub.sign_in("bnv", &password("bnv")).await.ok().unwrap();
    for _ in 0..3 {
        assert_eq!(
            hub.sign_in("officer-a", "wrong")
                .await
                .err()
                .unwrap()
                .status,
            401
        );
    }
    // The console's failures count for the API as well, and the reverse.
    let limited = hub
        .sign_in("officer-a", &password("officer-a"))
        .await
        .err()
        .unwrap();
    assert_eq!(limited.status, 429);
    let api = hub
        .http
        .get(format!("{}/taxii2/", hub.app.base))
        .basic_auth("officer-a", Some(password("officer-a")))
        .header("accept", TAXII)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 429);
    // `relto apply` without bnv: its open session ends (the realm is re-read within seconds).
    assert!(hub
        .page("/ui/", Some(&session))
        .await
        .body
        .contains("bnv · aut-bnv"));
    hub.app.store.apply_realm(&realm(&["bnv"])).await.unwrap();
    let mut ended = false;
    for _ in 0..40 {
        if hub
            .page("/ui/", Some(&session))
            .await
            .body
            .contains("Sign in to relto")
        {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ended, "a disabled account's session must end");
}

#[tokio::test]
async fn partner_values_render_as_text() {
    let hub = Hub::start().await;
    let id = indicator(3, HOSTILE_NAME, &nato())["id"]
        .as_str()
        .unwrap()
        .to_string();
    let list = hub
        .page(&format!("/ui/collections/{COLL}"), Some(&token("bnd")))
        .await;
    let object = hub
        .page(&format!("/ui/objects/{id}"), Some(&token("bnd")))
        .await;
    for page in [&list, &object] {
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
        assert!(!page.body.contains("<img src=x"), "{}", page.body);
        assert!(page.body.contains("&lt;script&gt;alert("));
        assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
        // The only script is the console's own file.
        assert_eq!(page.body.matches("<script").count(), 1);
        assert!(page.body.contains("<script src=\"/ui/static/console.js\""));
    }
    assert_eq!(
        common::console::shown_json(&object.body)["name"],
        HOSTILE_NAME
    );
}

#[tokio::test]
async fn each_reader_s_console_shows_exactly_its_taxii_read() {
    let hub = Hub::start().await;
    for account in ["nis", "bnd", "bnv", "officer-a"] {
        let taxii = hub.taxii(account).await;
        let want: BTreeSet<String> = taxii
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect();
        let list = hub
            .page(&format!("/ui/collections/{COLL}"), Some(&token(account)))
            .await;
        assert_eq!(list.status, 200);
        let got: BTreeSet<String> = common::console::listed_ids(&list.body)
            .into_iter()
            .collect();
        assert_eq!(got, want, "{account}'s list");
        for o in &taxii {
            let id = o["id"].as_str().unwrap();
            let page = hub
                .page(&format!("/ui/objects/{id}"), Some(&token(account)))
                .await;
            assert_eq!(page.status, 200, "{account} {id}");
            assert_eq!(
                bare(common::console::shown_json(&page.body)),
                bare(o.clone()),
                "{account} {id}"
            );
            // The matrix is the originator's releasing officers' alone.
            assert_eq!(
                page.body.contains("Release matrix"),
                account == "officer-a",
                "{account} {id}"
            );
        }
    }
    // BNV (EU only) does not receive the NATO report: its page answers as for no object.
    let denied = hub
        .page(&format!("/ui/objects/{REPORT}"), Some(&token("bnv")))
        .await;
    let unknown_id = "report--99999999-9999-4999-8999-999999999999";
    let unknown = hub
        .page(&format!("/ui/objects/{unknown_id}"), Some(&token("bnv")))
        .await;
    assert_eq!((denied.status, unknown.status), (404, 404));
    assert_eq!(
        denied.body.replace(REPORT, "ID"),
        unknown.body.replace(unknown_id, "ID")
    );
    // The officer's matrix: BND whole (NATO, and cleared for the EU sources), BNV denied;
    // the copy shown for BND is BND's own TAXII read.
    let page = hub
        .page(
            &format!("/ui/objects/{REPORT}?as=deu-bnd"),
            Some(&token("officer-a")),
        )
        .await;
    let row = |org: &str| {
        let start = page
            .body
            .find(&format!("<th scope=\"row\">{org}</th>"))
            .unwrap();
        let end = start + page.body[start..].find("</tr>").unwrap();
        page.body[start..end].to_string()
    };
    assert!(row("deu-bnd").contains(">Allow<"), "{}", row("deu-bnd"));
    assert!(row("aut-bnv").contains(">Deny<"), "{}", row("aut-bnv"));
    let copy_start = page.body.find("id=\"copy\"").unwrap();
    let bnd_report = hub
        .taxii("bnd")
        .await
        .into_iter()
        .find(|o| o["id"] == REPORT)
        .unwrap();
    assert_eq!(
        common::console::shown_json(&page.body[copy_start..]),
        bnd_report
    );
    // The ledger names the reads of the object, BND's included.
    assert!(page.body.contains("Audit ledger"));
    assert!(page.body.contains("object.write"));
}

#[tokio::test]
async fn lists_filter_and_page_by_key() {
    let hub = Hub::start().await;
    let many: Vec<Value> = (10..130)
        .map(|n| indicator(n, &format!("Signal {n}"), &nato()))
        .collect();
    hub.post("nis", &many).await;
    let session = token("bnd");
    // Every page by its next link: each object once, in order, as TAXII serves them.
    let mut path = format!("/ui/collections/{COLL}");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = hub.page(&path, Some(&session)).await;
        assert_eq!(page.status, 200);
        let ids = common::console::listed_ids(&page.body);
        assert!(ids.len() <= 50);
        seen.extend(ids);
        pages += 1;
        match common::console::next_link(&page.body) {
            Some(next) => path = next,
            None => break,
        }
    }
    let taxii: Vec<String> = hub
        .taxii("bnd")
        .await
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, taxii);
    assert_eq!(pages, taxii.len().div_ceil(50));
    // Filters: type in the store, text and label on the served copies.
    let by_type = hub
        .page(
            &format!("/ui/collections/{COLL}?type=report"),
            Some(&session),
        )
        .await;
    assert_eq!(
        common::console::listed_ids(&by_type.body),
        vec![REPORT.to_string()]
    );
    let by_text = hub
        .page(
            &format!("/ui/collections/{COLL}?text=signal+12"),
            Some(&session),
        )
        .await;
    assert_eq!(
        common::console::listed_ids(&by_text.body).len(),
        11,
        "Signal 12 and 120..129"
    );
    let by_label = hub
        .page(
            &format!("/ui/collections/{COLL}?label=EU-R"),
            Some(&session),
        )
        .await;
    assert_eq!(
        common::console::listed_ids(&by_label.body),
        vec![indicator(4, "", &eu())["id"].as_str().unwrap().to_string()]
    );
    // Text the reader does not receive finds nothing: BNV, EU only, searches NATO's names.
    let hidden = hub
        .page(
            &format!("/ui/collections/{COLL}?text=staging"),
            Some(&token("bnv")),
        )
        .await;
    assert!(common::console::listed_ids(&hidden.body).is_empty());
    let bad = hub
        .page(
            &format!("/ui/collections/{COLL}?added_after=yesterday"),
            Some(&session),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("is not a time"));
}

#[tokio::test]
async fn two_officers_approve_a_stage_in_forms_that_carry_the_snapshot_shown() {
    let hub = Hub::start().await;
    // A KOR-only report widened to the EU by a stage.
    let secret = json!({
        "type": "report", "spec_version": "2.1",
        "id": "report--2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
        "created": "2026-11-02T00:00:00.000Z", "modified": "2026-11-02T00:00:00.000Z",
        "name": "SITREP 2", "published": "2026-11-02T00:00:00Z",
        "object_refs": [indicator(2, "", &kor_only())["id"]],
        "object_marking_refs": [kor_only().id()]
    });
    hub.post("nis", std::slice::from_ref(&secret)).await;
    let plan = json!({"title": "Widening", "collection": COLL, "holdings": [secret["id"]],
        "stages": [{"label": {"policy": "EU", "classification": "EU-R", "releasable_to": ["EU"]}}]});
    let resp = hub
        .http
        .post(format!("{}/api/v1/situations", hub.app.base))
        .bearer_auth(token("nis"))
        .header("content-type", "application/json")
        .body(plan.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let receives = |objects: Vec<Value>| objects.iter().any(|o| o["id"] == secret["id"]);
    assert!(!receives(hub.taxii("bnv").await));
    // An analyst sees the situation but no preview.
    let analyst = hub
        .page(&format!("/ui/situations/{id}"), Some(&token("nis")))
        .await;
    assert_eq!(analyst.status, 200);
    assert!(!analyst.body.contains("Preview stage"));
    assert_eq!(
        hub.page(
            &format!("/ui/situations/{id}?preview=1"),
            Some(&token("nis"))
        )
        .await
        .status,
        403
    );
    // Another organization does not see it at all.
    assert_eq!(
        hub.page(&format!("/ui/situations/{id}"), Some(&token("bnd")))
            .await
            .status,
        404
    );
    let mut snapshots = Vec::new();
    for officer in ["officer-a", "officer-b"] {
        let page = hub
            .page(
                &format!("/ui/situations/{id}?preview=1"),
                Some(&token(officer)),
            )
            .await;
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("aut-bnv"),
            "the preview names who gains: {}",
            page.body
        );
        let snapshot = common::console::attr(&page.body, "name=\"snapshot\" value=\"").unwrap();
        let csrf = common::console::attr(&page.body, "name=\"csrf\" value=\"").unwrap();
        let cookie = format!("relto_session={}", token(officer));
        let action = format!("/ui/situations/{id}/stages/1/approve");
        // Without the CSRF token: refused, and nothing is signed.
        let forged = hub.form(&action, &cookie, &[("snapshot", &snapshot)]).await;
        assert_eq!(forged.status, 403);
        let signed = hub
            .form(
                &action,
                &cookie,
                &[("snapshot", &snapshot), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(signed.status, 303, "{}", signed.body);
        snapshots.push(snapshot);
        if officer == "officer-a" {
            assert!(
                !receives(hub.taxii("bnv").await),
                "one signature releases nothing"
            );
        }
    }
    assert_eq!(snapshots[0], snapshots[1]);
    assert!(
        receives(hub.taxii("bnv").await),
        "two signatures release it"
    );
    // A stale snapshot is refused with the hub's reason; withdrawal takes it away again.
    let page = hub
        .page(&format!("/ui/situations/{id}"), Some(&token("officer-a")))
        .await;
    assert!(page.body.contains("data-state=\"active\""));
    let csrf = common::console::attr(&page.body, "name=\"csrf\" value=\"").unwrap();
    let cookie = format!("relto_session={}", token("officer-a"));
    let stale = hub
        .form(
            &format!("/ui/situations/{id}/stages/1/approve"),
            &cookie,
            &[("snapshot", &"0".repeat(64)), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    let withdrawn = hub
        .form(
            &format!("/ui/situations/{id}/stages/1/withdraw"),
            &cookie,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(withdrawn.status, 303);
    assert!(!receives(hub.taxii("bnv").await));
}

#[tokio::test]
async fn the_console_stream_is_the_readers_stream() {
    let hub = Hub::start().await;
    let mut resp = hub
        .http
        .get(format!("{}/ui/collections/{COLL}/stream", hub.app.base))
        .header("cookie", format!("relto_session={}", token("bnv")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // A NATO object (BNV does not receive it), then an EU one (it does).
    hub.post(
        "nis",
        &[
            indicator(200, "NATO only", &nato()),
            indicator(201, "For the EU", &eu()),
        ],
    )
    .await;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !text.contains("For the EU") {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("in time");
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("open")));
    }
    assert!(!text.contains("NATO only"), "{text}");
    // The API's stream answers an EventSource's Accept, as relto's JSON resources answer
    // application/json: only the TAXII endpoints insist on TAXII's media type.
    let api = hub
        .http
        .get(format!("{}/api/v1/collections/{COLL}/stream", hub.app.base))
        .bearer_auth(token("bnv"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    let taxii_only = hub
        .http
        .get(format!(
            "{}/console/collections/{COLL}/objects/",
            hub.app.base
        ))
        .bearer_auth(token("bnv"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(taxii_only.status(), 406);
    // Without a session: no stream.
    let anonymous = hub
        .page(&format!("/ui/collections/{COLL}/stream"), None)
        .await;
    assert_eq!(anonymous.status, 303);
}

/// Releasing officers (and administrators) see where each exchange with a peer hub stands on
/// the console's front page, failures and their reason included; other users do not.
#[tokio::test]
async fn officers_see_the_peer_hubs_state_and_readers_do_not() {
    std::env::set_var("RELTO_CONSOLE_TEST_PEER_TOKEN", "t");
    let mut plan = realm(&[]);
    plan.peers.push(relto_store::PlannedPeer {
        name: "bnd-hub".into(),
        organization: "deu-bnd".into(),
        // Nothing listens on the discard port: every run fails, and says why.
        url: "http://127.0.0.1:9/coalition/collections/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e/"
            .into(),
        direction: relto_policy::realm::PeerDirection::Push,
        collection: COLL.into(),
        account_env: None,
        password_env: None,
        token_env: Some("RELTO_CONSOLE_TEST_PEER_TOKEN".into()),
        ca_file: None,
        interval_secs: 1,
        clearances: vec![clearance("NATO", "NS")],
    });
    let hub = Hub {
        app: common::spawn_realm(&plan).await,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    // Something BND's organization receives, so that the push has something to send.
    hub.post(
        "nis",
        &[
            nato().to_marking_definition("2026-01-01T00:00:00.000Z"),
            indicator(1, "Staging area beacon", &nato()),
        ],
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while hub.app.store.peers().await.unwrap()[0].failures == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the peer was never tried"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let officer = hub
        .sign_in("officer-a", &password("officer-a"))
        .await
        .ok()
        .unwrap();
    let front = hub.page("/ui/", Some(&officer)).await;
    assert!(
        front.body.contains("Peer hubs") && front.body.contains("bnd-hub"),
        "{}",
        front.body
    );
    assert!(
        front.body.contains("cannot connect to 127.0.0.1:9"),
        "{}",
        front.body
    );
    let reader = hub.sign_in("bnd", &password("bnd")).await.ok().unwrap();
    let front = hub.page("/ui/", Some(&reader)).await;
    assert_eq!(front.status, 200);
    assert!(!front.body.contains("Peer hubs") && !front.body.contains("bnd-hub"));
}
