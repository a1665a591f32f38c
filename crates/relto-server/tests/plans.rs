//! Release plans over the API (DESIGN §9), on the store the suite runs on: every state
//! transition and every refusal, what each partner reads before and after, and the audit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{clearance, sse_events};

use relto_policy::label::Label;
use relto_policy::{Clearance, Role};
use relto_store::{ApiRoot, Organization, PlannedAccount, PlannedCollection, RealmPlan};
use serde_json::{json, Value};

const COLL: &str = "5d4c3b2a-1908-4f7e-8d6c-5b4a39281706";
const REPORT: &str = "report--0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const INDICATOR: &str = "indicator--1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e";

fn token(account: &str) -> String {
    format!("plans-test-token-for-{account}-0123456789abcdef")
}

fn kor_only() -> Label {
    Label::new("KOR", "II", Some(&["KOR"]), &[])
}

/// The joint team (KOR-NIS: an analyst and two releasing officers; the army: one officer),
/// Germany's BND (NATO SECRET, EU SECRET), Norway's FIS (NATO CONFIDENTIAL) and Austria's
/// BNV (EU SECRET, not in NATO).
fn realm() -> RealmPlan {
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
        password_hash: None,
        token_sha256: Some(relto_server::token_sha256(&token(name))),
        clearances,
        public_key: None,
    };
    let top = vec![
        clearance("KOR", "I"),
        clearance("NATO", "CTS"),
        clearance("EU", "EU-TS"),
    ];
    let all: Vec<String> = ["kor-nis", "kor-army", "deu-bnd", "nor-fis", "aut-bnv"]
        .iter()
        .map(|o| format!("org:{o}"))
        .collect();
    RealmPlan {
        api_roots: vec![ApiRoot {
            path: "plans".into(),
            title: "Plans".into(),
            description: None,
            max_content_length: 1 << 20,
        }],
        organizations: vec![
            org("kor-nis", "KOR", 1, &[]),
            org("kor-army", "KOR", 2, &[]),
            org("deu-bnd", "DEU", 3, &["NATO", "EU"]),
            org("nor-fis", "NOR", 4, &["NATO"]),
            org("aut-bnv", "AUT", 5, &["EU"]),
        ],
        accounts: vec![
            account("nis", "kor-nis", Role::Analyst, top.clone()),
            account("officer-a", "kor-nis", Role::Releaser, top.clone()),
            account("officer-b", "kor-nis", Role::Releaser, top.clone()),
            account("army-officer", "kor-army", Role::Releaser, top),
            account(
                "bnd",
                "deu-bnd",
                Role::Analyst,
                vec![clearance("NATO", "NS"), clearance("EU", "EU-S")],
            ),
            account(
                "bnd-officer",
                "deu-bnd",
                Role::Releaser,
                vec![clearance("NATO", "NS")],
            ),
            account(
                "fis",
                "nor-fis",
                Role::Analyst,
                vec![clearance("NATO", "NC")],
            ),
            account(
                "bnv",
                "aut-bnv",
                Role::Analyst,
                vec![clearance("EU", "EU-S")],
            ),
        ],
        collections: vec![PlannedCollection {
            id: COLL.into(),
            api_root: "plans".into(),
            title: "Joint workspace".into(),
            description: None,
            alias: None,
            readers: all.clone(),
            writers: all,
        }],
        ..Default::default()
    }
}

struct Hub {
    app: common::TestApp,
    http: reqwest::Client,
}

fn report(modified: &str) -> Value {
    json!({
        "type": "report", "spec_version": "2.1", "id": REPORT,
        "created": "2026-11-01T00:00:00.000Z", "modified": modified,
        "name": "Storm Corps deployment", "published": "2026-11-01T00:00:00Z",
        "object_refs": [INDICATOR],
        "external_references": [{"source_name": "HUMINT", "description": "source 7, field report"}],
        "object_marking_refs": [kor_only().id()]
    })
}

fn indicator() -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": INDICATOR,
        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
        "name": "Staging area beacon", "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z",
        "object_marking_refs": [kor_only().id()]
    })
}

fn plan(stages: Value) -> Value {
    json!({"title": "Storm Corps", "collection": COLL, "holdings": [REPORT], "stages": stages})
}

fn nato_stage() -> Value {
    json!({"label": {"policy": "NATO", "classification": "NS", "releasable_to": ["NATO"]}})
}

fn eu_stage() -> Value {
    json!({"label": {"policy": "EU", "classification": "EU-S", "releasable_to": ["EU"]},
           "withhold": ["external_references"]})
}

impl Hub {
    async fn start() -> Self {
        let hub = Self {
            app: common::spawn_realm(&realm()).await,
            http: reqwest::Client::new(),
        };
        let objects = [
            kor_only().to_marking_definition("2026-01-01T00:00:00.000Z"),
            indicator(),
            report("2026-11-01T00:00:00.000Z"),
        ];
        let st = hub.post_objects("nis", &objects).await;
        assert_eq!(st["success_count"], 3, "{st}");
        hub
    }

    /// `account`'s live stream of the collection, resumed after event `resume` when given.
    async fn stream(&self, account: &str, resume: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!(
                "{}/api/v1/collections/{COLL}/stream",
                self.app.base
            ))
            .bearer_auth(token(account));
        if let Some(r) = resume {
            req = req.header("last-event-id", r);
        }
        req.send().await.expect("stream")
    }

    async fn post_objects(&self, account: &str, objects: &[Value]) -> Value {
        let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
        let url = format!("{}/plans/collections/{COLL}/objects/", self.app.base);
        common::post_objects(&self.http, &url, &token(account), &texts).await
    }

    /// The object as `account` receives it by id (None: 404).
    async fn object(&self, account: &str, id: &str) -> Option<Value> {
        let url = format!("{}/plans/collections/{COLL}/objects/{id}/", self.app.base);
        let resp = self
            .http
            .get(url)
            .bearer_auth(token(account))
            .send()
            .await
            .expect("get");
        if resp.status() == 404 {
            return None;
        }
        assert_eq!(resp.status(), 200);
        let env: Value = resp.json().await.expect("json");
        Some(env["objects"][0].clone())
    }

    async fn api(
        &self,
        account: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}/api/v1/{path}", self.app.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        }
        .bearer_auth(token(account));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn propose(&self, stages: Value) -> String {
        let (status, body) = self
            .api("nis", "POST", "situations", Some(plan(stages)))
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_string()
    }

    async fn preview(&self, account: &str, id: &str, n: u32) -> Value {
        let (status, body) = self
            .api(
                account,
                "GET",
                &format!("situations/{id}/stages/{n}/preview"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The snapshot stage `n` would sign now, as officer-a is shown it.
    async fn snapshot(&self, id: &str, n: u32) -> String {
        self.preview("officer-a", id, n).await["snapshot"]
            .as_str()
            .expect("snapshot")
            .to_string()
    }

    /// Both KOR-NIS officers sign stage `n` as previewed now: it is then active.
    async fn sign_both(&self, id: &str, n: u32) {
        let snapshot = self.snapshot(id, n).await;
        assert_eq!(self.approve("officer-a", id, n, &snapshot).await.0, 200);
        assert_eq!(self.approve("officer-b", id, n, &snapshot).await.0, 200);
    }

    async fn approve(&self, account: &str, id: &str, n: u32, snapshot: &str) -> (u16, Value) {
        self.api(
            account,
            "POST",
            &format!("situations/{id}/stages/{n}/approve"),
            Some(json!({"snapshot": snapshot})),
        )
        .await
    }
}

fn entries(preview: &Value) -> Vec<(String, String, String)> {
    preview["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["audience"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn stages_release_only_after_two_officers_sign_what_they_were_shown() {
    let hub = Hub::start().await;
    let id = hub.propose(json!([nato_stage(), eu_stage()])).await;
    let (status, shown) = hub
        .api("nis", "GET", &format!("situations/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["originator"], "kor-nis");
    assert_eq!(shown["collection"], COLL);
    assert_eq!(shown["stages"][0]["state"], "proposed");
    assert_eq!(
        shown["stages"][1]["withhold"],
        json!(["external_references"])
    );
    // Another organization does not learn that the situation exists.
    let (status, _) = hub
        .api("bnd", "GET", &format!("situations/{id}"), None)
        .await;
    assert_eq!(status, 404);

    assert!(hub.object("bnd", REPORT).await.is_none());
    let preview = hub.preview("officer-a", &id, 1).await;
    // The report and what it references, to BND (NATO SECRET); not to FIS (CONFIDENTIAL).
    assert_eq!(
        entries(&preview),
        vec![
            (INDICATOR.into(), "deu-bnd".into(), "allow".into()),
            (REPORT.into(), "deu-bnd".into(), "allow".into()),
        ]
    );
    let snapshot = preview["snapshot"].as_str().unwrap().to_string();
    assert_eq!(snapshot.len(), 64);
    // The snapshot does not depend on who looks.
    assert_eq!(
        hub.preview("officer-b", &id, 1).await["snapshot"],
        snapshot.as_str()
    );
    let (status, _) = hub
        .api(
            "nis",
            "GET",
            &format!("situations/{id}/stages/1/preview"),
            None,
        )
        .await;
    assert_eq!(status, 403, "an analyst does not preview");

    // Refusals: not a releaser, a releaser of another organization (of the same nation, and
    // of a partner), a later stage first, a snapshot of the wrong shape, a stale one.
    for (account, n, snap, want) in [
        ("nis", 1, snapshot.as_str(), 403),
        ("army-officer", 1, snapshot.as_str(), 403),
        ("bnd-officer", 1, snapshot.as_str(), 403),
        ("officer-a", 2, snapshot.as_str(), 409),
        ("officer-a", 1, "not-a-snapshot", 400),
        ("officer-a", 1, &"0".repeat(64), 409),
        ("officer-a", 3, snapshot.as_str(), 404),
    ] {
        let (status, body) = hub.approve(account, &id, n, snap).await;
        assert_eq!(status, want, "{account} stage {n} {snap}: {body}");
        assert!(
            body["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
    }
    let (status, body) = hub.approve("officer-a", &id, 1, &snapshot).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stages"][0]["state"], "proposed");
    let (status, body) = hub.approve("officer-a", &id, 1, &snapshot).await;
    assert_eq!(status, 409, "the same officer twice: {body}");
    assert!(
        hub.object("bnd", REPORT).await.is_none(),
        "one signature releases nothing"
    );

    let (status, body) = hub.approve("officer-b", &id, 1, &snapshot).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stages"][0]["state"], "active");
    assert_eq!(body["stages"][0]["snapshot"], snapshot.as_str());
    let released = hub.object("bnd", REPORT).await.expect("released to BND");
    assert_eq!(
        released,
        report("2026-11-01T00:00:00.000Z"),
        "stage 1 withholds nothing"
    );
    assert!(hub.object("bnd", INDICATOR).await.is_some());
    assert!(
        hub.object("fis", REPORT).await.is_none(),
        "NATO CONFIDENTIAL is not enough"
    );
    assert!(hub.object("bnv", REPORT).await.is_none(), "not yet the EU");

    // Stage 2: the EU, without the sources.
    let preview = hub.preview("officer-a", &id, 2).await;
    assert_eq!(
        entries(&preview),
        vec![
            (INDICATOR.into(), "aut-bnv".into(), "allow".into()),
            (REPORT.into(), "aut-bnv".into(), "redact".into()),
        ]
    );
    assert_eq!(
        preview["changes"][1]["withheld"],
        json!(["external_references"])
    );
    let snapshot2 = preview["snapshot"].as_str().unwrap().to_string();
    assert_eq!(hub.approve("officer-a", &id, 2, &snapshot2).await.0, 200);
    assert_eq!(hub.approve("officer-b", &id, 2, &snapshot2).await.0, 200);
    let for_eu = hub.object("bnv", REPORT).await.expect("released to the EU");
    assert!(for_eu.get("external_references").is_none(), "{for_eu}");
    assert_eq!(for_eu["name"], "Storm Corps deployment");
    // BND is admitted by stage 1 (no tearline) and keeps the whole report.
    assert!(hub
        .object("bnd", REPORT)
        .await
        .unwrap()
        .get("external_references")
        .is_some());

    // The audit: proposal, four approvals, two activations; releases name their stage.
    hub.app.state_flush().await;
    let records = hub.app.store.audit_records(0, 10_000).await.expect("audit");
    let kinds = |k: &str| records.iter().filter(|r| r.event.kind == k).count();
    assert_eq!(
        (
            kinds("plan.propose"),
            kinds("plan.approve"),
            kinds("plan.activate")
        ),
        (1, 4, 2)
    );
    assert!(records.iter().any(|r| r.event.kind == "object.release"
        && r.event.actor == "bnv"
        && r.event
            .detail
            .contains(&format!("admitted by stage 2 of situation {id}"))
        && r.event.detail.contains("removed external_references")));

    // A new version of a holding is not covered until a stage is approved again: for the
    // partners the report is gone (an older version is served only while the latest is).
    let st = hub
        .post_objects("nis", &[report("2026-11-02T00:00:00.000Z")])
        .await;
    assert_eq!(st["success_count"], 1, "{st}");
    assert!(hub.object("bnd", REPORT).await.is_none());
    assert!(hub.object("bnv", REPORT).await.is_none());
    assert!(
        hub.object("bnd", INDICATOR).await.is_some(),
        "the indicator's version is covered"
    );
    // Approved again, stage 1 covers the new version too; the officers sign the new preview.
    let preview = hub.preview("officer-a", &id, 1).await;
    assert!(preview["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == REPORT
            && c["audience"] == "deu-bnd"
            && c["version"] == "2026-11-02T00:00:00.000Z"));
    let renewed = preview["snapshot"].as_str().unwrap().to_string();
    assert_ne!(renewed, snapshot);
    assert_eq!(hub.approve("officer-a", &id, 1, &renewed).await.0, 200);
    assert!(
        hub.object("bnd", REPORT).await.is_none(),
        "one signature covers nothing new"
    );
    let (status, body) = hub.approve("officer-b", &id, 1, &renewed).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stages"][0]["state"], "active");
    let again = hub
        .object("bnd", REPORT)
        .await
        .expect("the new version, released");
    assert_eq!(again["modified"], "2026-11-02T00:00:00.000Z");
    let (status, body) = hub.approve("officer-a", &id, 1, &renewed).await;
    assert_eq!(status, 409, "nothing new to approve: {body}");

    // Withdrawal: one officer, at once.
    let (status, body) = hub
        .api(
            "officer-b",
            "POST",
            &format!("situations/{id}/stages/1/withdraw"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stages"][0]["state"], "withdrawn");
    assert!(
        hub.object("bnd", INDICATOR).await.is_some(),
        "stage 2 still admits BND (EU SECRET)"
    );
    let (status, _) = hub
        .api(
            "officer-b",
            "POST",
            &format!("situations/{id}/stages/2/withdraw"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(hub.object("bnd", INDICATOR).await.is_none());
    assert!(hub.object("bnv", INDICATOR).await.is_none());
    let (status, body) = hub
        .api(
            "officer-b",
            "POST",
            &format!("situations/{id}/stages/2/withdraw"),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = hub
        .api(
            "bnd-officer",
            "POST",
            &format!("situations/{id}/stages/1/withdraw"),
            None,
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_stage_ends_when_it_expires_without_a_restart() {
    let hub = Hub::start().await;
    let expires = relto_stix::timestamp::format_micros(relto_server::now_us() + 3_000_000);
    let mut stage = nato_stage();
    stage["expires"] = json!(expires);
    let id = hub.propose(json!([stage])).await;
    hub.sign_both(&id, 1).await;
    assert!(hub.object("bnd", REPORT).await.is_some());
    tokio::time::sleep(std::time::Duration::from_millis(3_200)).await;
    assert!(
        hub.object("bnd", REPORT).await.is_none(),
        "expired: admits nobody"
    );
    let (_, body) = hub
        .api("nis", "GET", &format!("situations/{id}"), None)
        .await;
    assert_eq!(body["stages"][0]["state"], "expired");

    // An expired proposed stage takes no approvals.
    let mut stage = nato_stage();
    stage["expires"] = json!("2026-01-01T00:00:00Z");
    let id = hub.propose(json!([stage])).await;
    let (status, body) = hub.approve("officer-a", &id, 1, &"0".repeat(64)).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["description"].as_str().unwrap().contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_plans_are_refused_and_change_nothing() {
    let hub = Hub::start().await;
    let cases = [
        (json!("not an object"), 400),
        (json!({"title": "t"}), 400),
        (
            plan(json!([{"label": {"policy": "NAT0", "classification": "NS"}}])),
            400,
        ),
        (
            plan(
                json!([{"label": {"policy": "NATO", "classification": "NS"}, "withhold": ["id"]}]),
            ),
            400,
        ),
        (
            plan(json!([{"label": {"policy": "NATO", "classification": "NS"}, "expires": "soon"}])),
            400,
        ),
        (plan(json!([])), 400),
        (
            plan(
                json!([{"label": {"policy": "NATO", "classification": "NS", "releasable_to": ["NATOO"]}}]),
            ),
            400,
        ),
        (
            json!({"title": "t", "collection": COLL, "holdings": ["report--not-an-id"], "stages": [nato_stage()]}),
            400,
        ),
        (
            json!({"title": "t", "collection": "00000000-0000-4000-8000-000000000000", "holdings": [REPORT], "stages": [nato_stage()]}),
            404,
        ),
    ];
    for (body, want) in cases {
        let (status, answer) = hub
            .api("nis", "POST", "situations", Some(body.clone()))
            .await;
        assert_eq!(status, want, "{body}: {answer}");
        assert!(
            answer["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{answer}"
        );
    }
    // A holding of another organization (BND's own indicator), or one that does not exist:
    // the same refusal, naming the ids.
    let bnd_indicator = json!({
        "type": "indicator", "spec_version": "2.1", "id": "indicator--2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '203.0.113.9']", "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z"
    });
    assert_eq!(
        hub.post_objects("bnd", &[bnd_indicator]).await["success_count"],
        1
    );
    for holding in [
        "indicator--2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
        "indicator--9c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
    ] {
        let body = json!({"title": "t", "collection": COLL, "holdings": [holding], "stages": [nato_stage()]});
        let (status, answer) = hub.api("nis", "POST", "situations", Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["description"].as_str().unwrap().contains(holding),
            "{answer}"
        );
    }
    assert!(hub.app.store.situations().await.expect("list").is_empty());
    // An approval body of the wrong shape.
    let id = hub.propose(json!([nato_stage()])).await;
    let (status, _) = hub
        .api(
            "officer-a",
            "POST",
            &format!("situations/{id}/stages/1/approve"),
            Some(json!({"snap": 1})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_realm_change_that_moves_an_outcome_makes_approvals_stale() {
    let hub = Hub::start().await;
    let id = hub.propose(json!([nato_stage()])).await;
    let shown = hub.snapshot(&id, 1).await;
    assert_eq!(hub.approve("officer-a", &id, 1, &shown).await.0, 200);
    // Norway's FIS is cleared for NATO SECRET: stage 1 would now release to it too.
    let mut realm = realm();
    for a in &mut realm.accounts {
        if a.name == "fis" {
            a.clearances = vec![clearance("NATO", "NS")];
        }
    }
    hub.app.store.apply_realm(&realm).await.expect("apply");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (status, body) = hub.approve("officer-b", &id, 1, &shown).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["description"].as_str().unwrap().contains("stale"),
        "{body}"
    );
    let preview = hub.preview("officer-b", &id, 1).await;
    assert!(entries(&preview).contains(&(REPORT.into(), "nor-fis".into(), "allow".into())));
    assert!(
        hub.object("fis", REPORT).await.is_none(),
        "the first approval is stale"
    );
}

/// Two stages cover the report for BND: one whole that expires, one with a tearline. Before
/// the expiry BND receives the fullest copy; after it, the tearline applies at once, even to a
/// page it read before (no copy kept from before the window closed is served).
#[tokio::test]
async fn when_one_of_two_stages_expires_the_other_ones_tearline_applies() {
    let hub = Hub::start().await;
    let expires = relto_stix::timestamp::format_micros(relto_server::now_us() + 3_000_000);
    let mut whole = nato_stage();
    whole["expires"] = json!(expires);
    let mut torn = nato_stage();
    torn["withhold"] = json!(["external_references"]);
    for stage in [whole, torn] {
        let id = hub.propose(json!([stage])).await;
        hub.sign_both(&id, 1).await;
    }
    for _ in 0..2 {
        let got = hub.object("bnd", REPORT).await.expect("released");
        assert!(got.get("external_references").is_some(), "{got}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(3_200)).await;
    let got = hub.object("bnd", REPORT).await.expect("still released");
    assert!(got.get("external_references").is_none(), "{got}");
}

/// The next `n` events as (event type, the id their data names), sorted by id.
async fn kinds_and_ids(resp: &mut reqwest::Response, n: usize) -> Vec<(&'static str, Value)> {
    let mut out: Vec<(&'static str, Value)> = sse_events(resp, n, 5_000)
        .await
        .into_iter()
        .map(|(kind, _, d)| {
            let kind = if kind == "object" {
                "object"
            } else {
                "withdrawn"
            };
            (kind, d["id"].clone())
        })
        .collect();
    out.sort_by_key(|(_, id)| id.to_string());
    out
}

/// The objects among the next `n` events: (event id, object) of each.
async fn stream_events(
    resp: &mut reqwest::Response,
    n: usize,
    wait_ms: u64,
) -> Vec<(String, Value)> {
    sse_events(resp, n, wait_ms)
        .await
        .into_iter()
        .filter(|(kind, _, _)| kind == "object")
        .map(|(_, id, o)| (id, o))
        .collect()
}

fn open_indicator(n: u32) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-11-03T00:00:00.000Z", "modified": "2026-11-03T00:00:00.000Z",
        "pattern": format!("[ipv4-addr:value = '203.0.113.{n}']"), "pattern_type": "stix",
        "valid_from": "2026-11-03T00:00:00Z",
        "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]
    })
}

/// The live stream (DESIGN §10) goes through the same release path as TAXII reads: each
/// reader receives its own view of what is added, never a denied object, and resumes exactly
/// after the last event it received.
#[tokio::test]
async fn the_stream_sends_each_reader_its_view_and_resumes_by_cursor() {
    let hub = Hub::start().await;
    let mut bnd = hub.stream("bnd", None).await;
    assert_eq!(bnd.status(), 200);
    assert!(bnd.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut nis = hub.stream("nis", None).await;
    // What was there before the stream started is not sent; what comes after is, as each
    // reader's view: BND never receives the KOR-only indicator.
    let kor_only = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a",
        "created": "2026-11-03T00:00:00.000Z", "modified": "2026-11-03T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '198.51.100.9']", "pattern_type": "stix",
        "valid_from": "2026-11-03T00:00:00Z", "object_marking_refs": [kor_only().id()]
    });
    let st = hub
        .post_objects("nis", &[kor_only.clone(), open_indicator(1)])
        .await;
    assert_eq!(st["success_count"], 2, "{st}");
    let got = stream_events(&mut nis, 2, 5_000).await;
    assert_eq!(got.len(), 2, "the originator receives both");
    assert_eq!(got[0].1, kor_only);
    let first = stream_events(&mut bnd, 2, 1_500).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].1, open_indicator(1));
    drop(bnd);
    // Resumed after its last event, BND receives exactly what came since, in order.
    let st = hub
        .post_objects("nis", &[open_indicator(2), kor_only_2(), open_indicator(3)])
        .await;
    assert_eq!(st["success_count"], 3, "{st}");
    let mut bnd = hub.stream("bnd", Some(&first[0].0)).await;
    let again = stream_events(&mut bnd, 3, 1_500).await;
    let ids: Vec<&Value> = again.iter().map(|(_, o)| &o["id"]).collect();
    assert_eq!(
        ids,
        vec![&open_indicator(2)["id"], &open_indicator(3)["id"]]
    );
    // Stored bytes with CRLF line breaks (a pretty-printed post) arrive as one whole event.
    let crlf = serde_json::to_string_pretty(&open_indicator(4))
        .unwrap()
        .replace('\n', "\r\n");
    let url = format!("{}/plans/collections/{COLL}/objects/", hub.app.base);
    let st = common::post_objects(&hub.http, &url, &token("nis"), &[crlf]).await;
    assert_eq!(st["success_count"], 1, "{st}");
    let got = stream_events(&mut bnd, 1, 5_000).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, open_indicator(4));
    // On the record: each stream opened (who, from where), and each object it sent.
    hub.app.state_flush().await;
    let records = hub.app.store.audit_records(0, 10_000).await.expect("audit");
    let by_bnd = |kind: &str| {
        records
            .iter()
            .filter(|r| r.event.actor == "bnd" && r.event.kind == kind)
            .map(|r| r.event.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(by_bnd("stream.open").len(), 2, "two streams opened");
    for n in 1..=4 {
        let id = open_indicator(n)["id"].as_str().unwrap().to_string();
        assert!(
            by_bnd("object.release").iter().any(|e| e.object_id == id
                && e.detail.starts_with("stream")
                && e.outcome == "allow"),
            "the stream's release of {id} is audited"
        );
    }
    assert!(
        !by_bnd("object.release")
            .iter()
            .any(|e| e.object_id == kor_only_2()["id"]),
        "nothing is recorded as released that was not"
    );
    // A cursor the stream did not give is refused.
    let resp = hub.stream("bnd", Some("not-a-cursor")).await;
    assert_eq!(resp.status(), 400);
    // A reader of no collection grant sees no stream of it.
    let resp = hub
        .http
        .get(format!(
            "{}/api/v1/collections/00000000-0000-4000-8000-000000000000/stream",
            hub.app.base
        ))
        .bearer_auth(token("bnd"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 404);
}

fn kor_only_2() -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--4e5f6a7b-8c9d-4e0f-8a1b-2c3d4e5f6a7b",
        "created": "2026-11-03T00:00:00.000Z", "modified": "2026-11-03T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '198.51.100.10']", "pattern_type": "stix",
        "valid_from": "2026-11-03T00:00:00Z", "object_marking_refs": [kor_only().id()]
    })
}

/// A stage that comes into effect sends what it releases to a reader's open stream; its
/// withdrawal sends `withdrawn` for what the reader no longer receives.
#[tokio::test]
async fn the_stream_follows_stages_coming_into_effect_and_withdrawn() {
    let hub = Hub::start().await;
    let mut bnd = hub.stream("bnd", None).await;
    let id = hub.propose(json!([nato_stage()])).await;
    let snapshot = hub.snapshot(&id, 1).await;
    assert_eq!(hub.approve("officer-a", &id, 1, &snapshot).await.0, 200);
    assert!(
        sse_events(&mut bnd, 1, 1_500).await.is_empty(),
        "one signature sends nothing"
    );
    assert_eq!(hub.approve("officer-b", &id, 1, &snapshot).await.0, 200);
    assert_eq!(
        kinds_and_ids(&mut bnd, 2).await,
        vec![("object", json!(INDICATOR)), ("object", json!(REPORT))]
    );
    let (status, _) = hub
        .api(
            "officer-b",
            "POST",
            &format!("situations/{id}/stages/1/withdraw"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        kinds_and_ids(&mut bnd, 2).await,
        vec![
            ("withdrawn", json!(INDICATOR)),
            ("withdrawn", json!(REPORT))
        ]
    );
}

/// Reads a raw HTTP/1.1 response until the connection ends or `wait` passes without a byte:
/// (whether the server closed it, the bytes read).
async fn drain(conn: &mut tokio::net::TcpStream, wait: std::time::Duration) -> (bool, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(wait, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (true, out),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (false, out),
        }
    }
}

/// The body of a chunked HTTP/1.1 response (its head skipped), as far as it arrived.
fn dechunk(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut rest = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let take = n.min(after.len());
        body.push_str(&after[..take]);
        rest = after.get(n + 2..).unwrap_or("");
        if take < n || n == 0 {
            break;
        }
    }
    body
}

/// A client that stops reading its stream is disconnected after the write-stall limit, so
/// what the server holds for it stays bounded (less than was written for it), and it
/// resumes from its last whole event: nothing lost, nothing repeated (DESIGN §10).
#[tokio::test]
async fn a_stream_client_that_stops_reading_is_disconnected_and_resumes() {
    use tokio::io::AsyncWriteExt;
    let config = relto_server::ServerConfig {
        write_stall_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let hub = Hub {
        app: common::spawn_realm_with(&realm(), config).await,
        http: reqwest::Client::new(),
    };
    let addr: std::net::SocketAddr = hub.app.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut conn = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /api/v1/collections/{COLL}/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
        token("bnd")
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    // The response head arrives; then the client reads nothing more.
    let (closed, head) = drain(&mut conn, std::time::Duration::from_millis(500)).await;
    assert!(!closed && String::from_utf8_lossy(&head).starts_with("HTTP/1.1 200"));
    // About 12 MB for BND while it does not read: 3,000 objects of 4 KB.
    let filler = "x".repeat(4000);
    let big = |n: u32| {
        let mut o = open_indicator(n);
        o["description"] = json!(filler);
        o
    };
    let mut written = 0;
    let mut posted = Vec::new();
    for batch in 0..30u32 {
        let objects: Vec<Value> = (0..100).map(|i| big(1000 + batch * 100 + i)).collect();
        written += objects.iter().map(|o| o.to_string().len()).sum::<usize>();
        posted.extend(objects.iter().map(|o| o["id"].clone()));
        let st = hub.post_objects("nis", &objects).await;
        assert_eq!(st["success_count"], 100, "{st}");
    }
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let (closed, raw) = drain(&mut conn, std::time::Duration::from_secs(10)).await;
    assert!(
        closed,
        "the server must close a stream its client stopped reading"
    );
    assert!(
        raw.len() < written / 2,
        "the server held {} of {written} bytes for a client that did not read",
        raw.len()
    );
    // The events that arrived whole, then the rest after the last of them.
    let body = dechunk(&[head, raw].concat());
    let mut received: Vec<Value> = Vec::new();
    let mut last_id = None;
    for block in body
        .split("\n\n")
        .filter(|b| b.ends_with('}') || b.contains("}\n"))
    {
        let id = block.lines().find_map(|l| l.strip_prefix("id: "));
        let data: String = block
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect::<Vec<_>>()
            .join("\n");
        if let (Some(id), Ok(o)) = (id, serde_json::from_str::<Value>(&data)) {
            last_id = Some(id.to_string());
            received.push(o["id"].clone());
        }
    }
    let last_id = last_id.expect("some events arrived before the stall");
    let mut resumed = hub.stream("bnd", Some(&last_id)).await;
    let rest = stream_events(&mut resumed, posted.len() - received.len(), 10_000).await;
    received.extend(rest.into_iter().map(|(_, o)| o["id"].clone()));
    assert_eq!(received, posted, "resumed: every object once, in order");
}

fn nato_secret() -> Label {
    Label::new("NATO", "NS", Some(&["NATO"]), &[])
}

fn nato_secret_indicator(n: u32) -> Value {
    let mut o = open_indicator(n);
    o["object_marking_refs"] = json!([nato_secret().id()]);
    o
}

/// An open stream follows the realm: when `relto apply` lowers its account's clearance it
/// receives no more of what the account may no longer read, and when the account is
/// disabled the stream ends.
#[tokio::test]
async fn an_open_stream_follows_its_accounts_clearance_and_ends_when_it_is_disabled() {
    let hub = Hub::start().await;
    let marking = nato_secret().to_marking_definition("2026-01-01T00:00:00.000Z");
    assert_eq!(
        hub.post_objects("nis", &[marking]).await["success_count"],
        1
    );
    let mut bnd = hub.stream("bnd", None).await;
    let st = hub.post_objects("nis", &[nato_secret_indicator(1)]).await;
    assert_eq!(st["success_count"], 1, "{st}");
    let got = stream_events(&mut bnd, 1, 5_000).await;
    assert_eq!(got.len(), 1, "BND holds NATO SECRET: {got:?}");
    // BND's clearance lowered to NATO CONFIDENTIAL.
    let mut lowered = realm();
    for a in &mut lowered.accounts {
        if a.name == "bnd" {
            a.clearances = vec![clearance("NATO", "NC")];
        }
    }
    hub.app.store.apply_realm(&lowered).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let st = hub
        .post_objects("nis", &[nato_secret_indicator(2), open_indicator(3)])
        .await;
    assert_eq!(st["success_count"], 2, "{st}");
    let got = stream_events(&mut bnd, 2, 3_000).await;
    let ids: Vec<&Value> = got.iter().map(|(_, o)| &o["id"]).collect();
    assert_eq!(ids, vec![&open_indicator(3)["id"]], "only what NC may read");
    // BND disabled: its open stream ends.
    lowered.accounts.retain(|a| a.name != "bnd");
    hub.app.store.apply_realm(&lowered).await.unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match bnd.chunk().await {
                Ok(Some(_)) => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "a disabled account's stream must end");
}
