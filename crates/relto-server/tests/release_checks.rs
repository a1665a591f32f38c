//! One test per finding of the independent release checks (leaks, bypasses, access,
//! unparseable copies): each builds the exact case that was found, on one small realm.
//! The randomized leak test (leak.rs) covers the same rules over generated realms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use relto_policy::label::{Label, LABEL_EXTENSION};
use relto_policy::{Clearance, Role};
use relto_server::ServerConfig;
use relto_store::{ApiRoot, Organization, PlannedAccount, PlannedCollection, RealmPlan};
use serde_json::{json, Value};

const COLL: &str = "9c1d2e3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5";
const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const PASSWORD: &str = "pw-user-correct-horse-battery";

fn token(account: &str) -> String {
    format!("release-checks-token-for-{account}-0123456789abcdef")
}

fn clearance(policy: &str, level: &str, sensitivity: &[&str]) -> Clearance {
    Clearance {
        policy: policy.into(),
        level: level.into(),
        sensitivity: sensitivity.iter().map(|s| s.to_string()).collect(),
    }
}

fn label(policy: &str, level: &str, rel: &[&str]) -> Label {
    Label {
        policy: policy.into(),
        classification: level.into(),
        releasable_to: Some(rel.iter().map(|s| s.to_string()).collect()),
        sensitivity: vec![],
    }
    .normalized()
}

fn kor_only() -> Label {
    label("KOR", "II", &["KOR"])
}
fn nato_ns() -> Label {
    label("NATO", "NS", &["NATO", "KOR"])
}
fn nato_nu() -> Label {
    label("NATO", "NU", &["NATO", "KOR"])
}

/// KOR-NIS (cleared for everything), Germany's BND (NATO SECRET) and Norway's FIS (NATO
/// CONFIDENTIAL), each reading and writing the one collection.
fn realm() -> RealmPlan {
    let org = |slug: &str, nation: &str, n: u32| Organization {
        slug: slug.parse().unwrap(),
        name: slug.into(),
        nation: nation.parse().unwrap(),
        identity: format!("identity--00000000-0000-4000-8000-{n:012}"),
        accredited: if nation == "KOR" {
            vec![]
        } else {
            vec!["NATO".into()]
        },
    };
    let top = vec![
        clearance("KOR", "I", &[]),
        clearance("NATO", "CTS", &["ATOMAL"]),
        clearance("EU", "EU-TS", &[]),
    ];
    let account = |name: &str, org: &str, role: Role, clearances: Vec<Clearance>| PlannedAccount {
        name: name.into(),
        organization: org.parse().unwrap(),
        roles: vec![role],
        password_hash: None,
        token_sha256: Some(relto_server::token_sha256(&token(name))),
        clearances,
        public_key: None,
    };
    let mut pw_user = account(
        "pw-user",
        "deu-bnd",
        Role::Reader,
        vec![clearance("NATO", "NS", &[])],
    );
    pw_user.password_hash = Some(relto_server::hash_password(PASSWORD).expect("hash"));
    RealmPlan {
        api_roots: vec![ApiRoot {
            path: "checks".into(),
            title: "Release checks".into(),
            description: None,
            max_content_length: 1 << 20,
        }],
        organizations: vec![
            org("kor-nis", "KOR", 1),
            org("deu-bnd", "DEU", 2),
            org("nor-fis", "NOR", 3),
        ],
        accounts: vec![
            account("nis", "kor-nis", Role::Analyst, top.clone()),
            account("nis-officer", "kor-nis", Role::Releaser, top),
            account(
                "bnd",
                "deu-bnd",
                Role::Analyst,
                vec![clearance("NATO", "NS", &[])],
            ),
            account(
                "bnd-officer",
                "deu-bnd",
                Role::Releaser,
                vec![clearance("NATO", "NS", &[])],
            ),
            account(
                "fis",
                "nor-fis",
                Role::Analyst,
                vec![clearance("NATO", "NC", &[])],
            ),
            pw_user,
        ],
        collections: vec![PlannedCollection {
            id: COLL.into(),
            api_root: "checks".into(),
            title: "Checks".into(),
            description: None,
            alias: None,
            readers: vec![
                "org:kor-nis".into(),
                "org:deu-bnd".into(),
                "org:nor-fis".into(),
            ],
            writers: vec![
                "org:kor-nis".into(),
                "org:deu-bnd".into(),
                "org:nor-fis".into(),
            ],
        }],
        ..Default::default()
    }
}

struct Hub {
    app: common::TestApp,
    http: reqwest::Client,
}

impl Hub {
    async fn start() -> Self {
        Self::start_with(ServerConfig::default()).await
    }

    async fn start_with(config: ServerConfig) -> Self {
        let hub = Self {
            app: common::spawn_realm_with(&realm(), config).await,
            // A connection per request: none left open between them (the connection cap test
            // counts what is open).
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
        };
        let labels: Vec<Value> = [kor_only(), nato_ns(), nato_nu()]
            .iter()
            .map(|l| l.to_marking_definition("2024-01-01T00:00:00.000Z"))
            .collect();
        let st = hub.post("nis", &labels).await;
        assert_eq!(st["success_count"], 3, "{st}");
        hub
    }

    fn url(&self, path: &str) -> String {
        format!("{}/checks/collections/{COLL}/{path}", self.app.base)
    }

    async fn post_text(&self, account: &str, texts: &[String]) -> Value {
        common::post_objects(&self.http, &self.url("objects/"), &token(account), texts).await
    }

    async fn post(&self, account: &str, objects: &[Value]) -> Value {
        let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
        self.post_text(account, &texts).await
    }

    async fn get(&self, account: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token(account))
            .send()
            .await
            .expect("get")
    }

    /// The object `id` as `account` receives it by id (None: 404).
    async fn object(&self, account: &str, id: &str) -> Option<Value> {
        let resp = self.get(account, &format!("objects/{id}/")).await;
        if resp.status() == 404 {
            return None;
        }
        assert_eq!(resp.status(), 200);
        let env: Value = resp.json().await.expect("json");
        Some(env["objects"][0].clone())
    }
}

fn uuid(n: u32) -> String {
    format!("7a6b5c4d-3e2f-4a1b-8c9d-{n:012}")
}

fn sdo(ty: &str, n: u32, marking: &str, extra: Value) -> Value {
    let mut v = json!({"type": ty, "spec_version": "2.1", "id": format!("{ty}--{}", uuid(n)),
        "created": "2024-03-01T00:00:00.000Z", "modified": "2024-03-01T00:00:00.000Z",
        "object_marking_refs": [marking]});
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

fn indicator(n: u32, marking: &str) -> Value {
    sdo(
        "indicator",
        n,
        marking,
        json!({"name": format!("Signal {n}"), "pattern": "[ipv4-addr:value = '198.51.100.1']",
            "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
            "description": "troop movement", "external_references": [{"source_name": "src", "url": "https://x.example/1"}]}),
    )
}

fn identity(n: u32, marking: &str) -> Value {
    sdo(
        "identity",
        n,
        marking,
        json!({"name": format!("Unit {n}"), "identity_class": "organization"}),
    )
}

fn ipv4(value: &str, marking: &str) -> Value {
    // The id of an SCO follows from its value (STIX §2.9): UUIDv5 over {"value": …}.
    let ns = uuid::Uuid::parse_str("00abedb4-aa42-466c-9c01-fed23315a9b7").expect("ns");
    let id = uuid::Uuid::new_v5(&ns, json!({"value": value}).to_string().as_bytes());
    json!({"type": "ipv4-addr", "spec_version": "2.1", "id": format!("ipv4-addr--{id}"),
        "value": value, "object_marking_refs": [marking]})
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn a_label_id_cannot_be_taken_over() {
    let hub = Hub::start().await;
    // A label the joint team has not posted yet: anyone can compute its id.
    let secret = label("KOR", "I", &["KOR"]);
    let statement = json!({"type": "marking-definition", "spec_version": "2.1", "id": secret.id(),
        "created": "2024-01-01T00:00:00.000Z", "definition_type": "statement",
        "definition": {"statement": "releasable to all"}});
    let st = hub.post("fis", &[statement]).await;
    assert_eq!(st["failure_count"], 1, "{st}");
    // A malformed relto label (classification 5) is refused, not stored.
    let malformed = json!({"type": "marking-definition", "spec_version": "2.1",
        "id": "marking-definition--3f2e1d0c-9b8a-4765-8432-10fedcba9876",
        "created": "2024-01-01T00:00:00.000Z", "name": "broken",
        "extensions": {LABEL_EXTENSION: {"extension_type": "property-extension",
            "policy": "NATO", "classification": 5}}});
    let st = hub.post("nis", &[malformed]).await;
    assert_eq!(st["failure_count"], 1, "{st}");
    // TLP's ids cannot be redefined as a label either.
    let mut tlp = nato_ns().to_marking_definition("2024-01-01T00:00:00.000Z");
    tlp["id"] = json!(TLP_GREEN);
    let st = hub.post("nis", &[tlp]).await;
    assert_eq!(st["failure_count"], 1, "{st}");
    // The team posts the real label and an object marked with it: KOR only.
    let marked = indicator(1, &secret.id());
    let st = hub
        .post(
            "nis",
            &[
                secret.to_marking_definition("2024-01-01T00:00:00.000Z"),
                marked.clone(),
            ],
        )
        .await;
    assert_eq!(st["success_count"], 2, "{st}");
    for partner in ["bnd", "fis"] {
        assert_eq!(
            hub.object(partner, &id_of(&marked)).await,
            None,
            "{partner}"
        );
    }
    assert!(hub.object("nis", &id_of(&marked)).await.is_some());
}

#[tokio::test]
async fn a_refused_redefinition_does_not_pass_the_clearance_check() {
    let hub = Hub::start().await;
    // FIS (NATO CONFIDENTIAL) redefines the stored NATO SECRET label in its envelope.
    let mut redefinition = json!({"type": "marking-definition", "spec_version": "2.1",
        "id": nato_ns().id(), "created": "2024-01-01T00:00:00.000Z",
        "definition_type": "statement", "definition": {"statement": "nothing"}});
    let marked = indicator(2, &nato_ns().id());
    let st = hub
        .post("fis", &[redefinition.clone(), marked.clone()])
        .await;
    assert_eq!(st["success_count"], 0, "{st}");
    // The same with a label it is cleared for, under the other label's id.
    redefinition = nato_nu().to_marking_definition("2024-01-01T00:00:00.000Z");
    redefinition["id"] = json!(nato_ns().id());
    let st = hub.post("fis", &[redefinition, marked.clone()]).await;
    assert_eq!(st["success_count"], 0, "{st}");
    assert_eq!(hub.object("nis", &id_of(&marked)).await, None);
    // A new id defined twice, differently, in one envelope: neither definition, nor the object
    // marked with it, is taken (the store would keep one, the check would judge by another).
    let id = "marking-definition--6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e";
    let mut as_label =
        label("KOR", "I", &["KOR"]).to_marking_definition("2024-01-01T00:00:00.000Z");
    as_label["id"] = json!(id);
    let as_statement = json!({"type": "marking-definition", "spec_version": "2.1", "id": id,
        "created": "2024-01-01T00:00:00.000Z", "definition_type": "statement",
        "definition": {"statement": "open"}});
    let twice = indicator(4, id);
    let st = hub
        .post("nis", &[as_statement, as_label, twice.clone()])
        .await;
    assert_eq!(st["success_count"], 0, "{st}");
    assert_eq!(hub.object("nis", &id_of(&twice)).await, None);
}

#[tokio::test]
async fn an_escaped_key_still_redacts() {
    let hub = Hub::start().await;
    let mut v = indicator(3, TLP_GREEN);
    v["granular_markings"] = json!([{"marking_ref": nato_ns().id(), "selectors": ["description"]}]);
    let text = v
        .to_string()
        .replace("\"granular_markings\"", "\"granular_marking\\u0073\"");
    let st = hub.post_text("nis", &[text]).await;
    assert_eq!(st["success_count"], 1, "{st}");
    let fis = hub.object("fis", &id_of(&v)).await.expect("served");
    assert!(fis.get("description").is_none(), "{fis}");
    let bnd = hub.object("bnd", &id_of(&v)).await.expect("served");
    assert_eq!(bnd["description"], "troop movement");
}

/// Objects the partners may and may not see, for the reference tests.
struct Fixture {
    hidden_identity: Value,
    visible_identity: Value,
    hidden_ip: Value,
    visible_ip: Value,
    hidden_observation: Value,
    visible_indicator: Value,
}

async fn fixture(hub: &Hub) -> Fixture {
    let hidden_ip = ipv4("203.0.113.7", &kor_only().id());
    let f = Fixture {
        hidden_identity: identity(10, &kor_only().id()),
        visible_identity: identity(11, TLP_GREEN),
        visible_ip: ipv4("203.0.113.8", TLP_GREEN),
        hidden_observation: sdo(
            "observed-data",
            12,
            &kor_only().id(),
            json!({"first_observed": "2024-03-01T00:00:00Z", "last_observed": "2024-03-01T00:00:00Z",
                "number_observed": 1, "object_refs": [id_of(&hidden_ip)]}),
        ),
        hidden_ip,
        visible_indicator: indicator(13, TLP_GREEN),
    };
    let st = hub
        .post(
            "nis",
            &[
                f.hidden_identity.clone(),
                f.visible_identity.clone(),
                f.hidden_ip.clone(),
                f.visible_ip.clone(),
                f.hidden_observation.clone(),
                f.visible_indicator.clone(),
            ],
        )
        .await;
    assert_eq!(st["success_count"], 6, "{st}");
    f
}

#[tokio::test]
async fn every_reference_to_what_a_reader_cannot_see_is_pruned() {
    let hub = Hub::start().await;
    let f = fixture(&hub).await;
    let observation = |n: u32, refs: Vec<String>| {
        sdo(
            "observed-data",
            n,
            TLP_GREEN,
            json!({"first_observed": "2024-03-01T00:00:00Z", "last_observed": "2024-03-01T00:00:00Z",
                "number_observed": 1, "object_refs": refs}),
        )
    };
    let mixed = observation(20, vec![id_of(&f.hidden_ip), id_of(&f.visible_ip)]);
    let all_hidden = observation(21, vec![id_of(&f.hidden_ip)]);
    let sighting = sdo(
        "sighting",
        22,
        TLP_GREEN,
        json!({"sighting_of_ref": id_of(&f.visible_indicator),
            "observed_data_refs": [id_of(&f.hidden_observation), id_of(&mixed)],
            "where_sighted_refs": [id_of(&f.hidden_identity), id_of(&f.visible_identity)]}),
    );
    let mut custom = indicator(23, TLP_GREEN);
    custom["x_source_ref"] = json!(id_of(&f.hidden_identity));
    let st = hub
        .post(
            "nis",
            &[
                mixed.clone(),
                all_hidden.clone(),
                sighting.clone(),
                custom.clone(),
            ],
        )
        .await;
    assert_eq!(st["success_count"], 4, "{st}");
    let got = hub.object("bnd", &id_of(&mixed)).await.expect("mixed");
    assert_eq!(got["object_refs"], json!([id_of(&f.visible_ip)]));
    assert_eq!(hub.object("bnd", &id_of(&all_hidden)).await, None);
    let got = hub
        .object("bnd", &id_of(&sighting))
        .await
        .expect("sighting");
    assert_eq!(got["observed_data_refs"], json!([id_of(&mixed)]));
    assert_eq!(
        got["where_sighted_refs"],
        json!([id_of(&f.visible_identity)])
    );
    let got = hub.object("bnd", &id_of(&custom)).await.expect("custom");
    assert!(got.get("x_source_ref").is_none(), "{got}");
    // The originator receives every reference.
    let own = hub.object("nis", &id_of(&sighting)).await.expect("own");
    assert_eq!(own, sighting);
}

#[tokio::test]
async fn containers_whose_references_are_all_hidden_are_denied_everywhere() {
    let hub = Hub::start().await;
    let f = fixture(&hub).await;
    let refs = json!([id_of(&f.hidden_identity)]);
    let opinion = sdo(
        "opinion",
        30,
        TLP_GREEN,
        json!({"opinion": "agree", "object_refs": refs}),
    );
    let note = sdo(
        "note",
        31,
        TLP_GREEN,
        json!({"content": "n", "object_refs": refs}),
    );
    let grouping = sdo(
        "grouping",
        32,
        TLP_GREEN,
        json!({"context": "suspicious-activity", "object_refs": refs}),
    );
    let st = hub
        .post("nis", &[opinion.clone(), note.clone(), grouping.clone()])
        .await;
    assert_eq!(st["success_count"], 3, "{st}");
    for v in [&opinion, &note, &grouping] {
        let id = id_of(v);
        assert_eq!(hub.object("bnd", &id).await, None, "{id}");
        let versions = hub.get("bnd", &format!("objects/{id}/versions/")).await;
        assert_eq!(versions.status(), 404, "{id}");
        let manifest: Value = hub
            .get("bnd", &format!("manifest/?match[id]={id}"))
            .await
            .json()
            .await
            .expect("json");
        assert!(manifest.get("objects").is_none(), "{manifest}");
    }
}

#[tokio::test]
async fn a_denied_object_is_indistinguishable_from_one_that_never_existed() {
    let hub = Hub::start().await;
    let f = fixture(&hub).await;
    // A report the store's predicate lets through, but whose only reference a granular
    // marking removes: the redaction withholds it.
    let mut withheld = sdo(
        "report",
        40,
        TLP_GREEN,
        json!({"name": "r", "published": "2024-03-01T00:00:00Z",
            "object_refs": [id_of(&f.visible_identity)]}),
    );
    withheld["granular_markings"] =
        json!([{"marking_ref": kor_only().id(), "selectors": ["object_refs.[0]"]}]);
    // An object whose latest version was narrowed to KOR.
    let v1 = indicator(41, TLP_GREEN);
    let mut v2 = indicator(41, &kor_only().id());
    v2["modified"] = json!("2024-03-02T00:00:00.000Z");
    // Two visible objects after them, so that a page holding a withheld object has more.
    let st = hub
        .post(
            "nis",
            &[
                withheld.clone(),
                v1.clone(),
                v2,
                indicator(42, TLP_GREEN),
                indicator(43, TLP_GREEN),
            ],
        )
        .await;
    assert_eq!(st["success_count"], 5, "{st}");
    let never = format!("indicator--{}", uuid(99));
    for id in [
        id_of(&f.hidden_identity),
        id_of(&withheld),
        id_of(&v1),
        id_of(&f.hidden_ip),
    ] {
        for path in ["objects/{}/", "objects/{}/versions/"] {
            let denied = hub.get("bnd", &path.replace("{}", &id)).await;
            let missing = hub.get("bnd", &path.replace("{}", &never)).await;
            assert_eq!(denied.status(), missing.status(), "{id} {path}");
            for h in ["x-taxii-date-added-first", "x-taxii-date-added-last"] {
                assert!(!denied.headers().contains_key(h), "{id} {path}: {h}");
            }
            let (d, m) = (
                denied.text().await.expect("b"),
                missing.text().await.expect("b"),
            );
            assert_eq!(d, m.replace(&never, &id), "{id} {path}");
        }
    }
    let all: Value = hub
        .get(
            "bnd",
            &format!("objects/?match[version]=all&match[id]={}", id_of(&v1)),
        )
        .await
        .json()
        .await
        .expect("json");
    assert!(all.get("objects").is_none(), "{all}");
    // One object per page: no page says there is more without holding an object.
    let mut next: Option<String> = None;
    let mut served = 0;
    loop {
        let q = match &next {
            Some(n) => format!("manifest/?limit=1&next={n}"),
            None => "manifest/?limit=1".into(),
        };
        let page: Value = hub.get("bnd", &q).await.json().await.expect("json");
        let n = page["objects"].as_array().map_or(0, Vec::len);
        if page["more"] == true {
            assert_eq!(n, 1, "{page}");
        }
        served += n;
        match page["next"].as_str() {
            Some(c) => next = Some(c.to_string()),
            None => break,
        }
    }
    // The three labels, the visible identity, IP and indicator, the two after.
    assert_eq!(served, 8);
    // POST answers: another organization's id is refused alike, seen or not, naming no one.
    let mut messages = Vec::new();
    for (mut v, stored) in [
        (f.hidden_identity.clone(), "hidden"),
        (f.visible_identity.clone(), "visible"),
    ] {
        v["modified"] = json!("2024-04-01T00:00:00.000Z");
        v["object_marking_refs"] = json!([TLP_GREEN]);
        let st = hub.post("bnd", &[v]).await;
        assert_eq!(st["failure_count"], 1, "{stored}: {st}");
        assert!(!st.to_string().contains("kor-nis"), "{st}");
        messages.push(st["failures"][0]["message"].clone());
    }
    assert_eq!(messages[0], messages[1]);
    // The same IP address, posted by a partner: its computed id is taken, nothing more said.
    let mut probe = f.hidden_ip.clone();
    probe["object_marking_refs"] = json!([TLP_GREEN]);
    let st = hub.post("bnd", &[probe]).await;
    assert_eq!(st["failure_count"], 1, "{st}");
    assert!(st.get("successes").is_none(), "{st}");
    assert_eq!(st["failures"][0]["message"], messages[0]);
}

#[tokio::test]
async fn redacted_copies_keep_only_granular_markings_true_of_them() {
    let hub = Hub::start().await;
    let mut v = indicator(50, TLP_GREEN);
    v["granular_markings"] = json!([
        {"marking_ref": nato_ns().id(), "selectors": ["description"]},
        {"marking_ref": nato_nu().id(), "selectors": ["external_references.[0].url", "description"]}
    ]);
    let st = hub.post("nis", &[v.clone()]).await;
    assert_eq!(st["success_count"], 1, "{st}");
    let fis = hub.object("fis", &id_of(&v)).await.expect("served");
    assert!(fis.get("description").is_none());
    assert_eq!(
        fis["granular_markings"],
        json!([{"marking_ref": nato_nu().id(), "selectors": ["external_references.[0].url"]}])
    );
    let bnd = hub.object("bnd", &id_of(&v)).await.expect("served");
    assert_eq!(
        bnd, v,
        "nothing removed for a reader who passes every label"
    );
}

#[tokio::test]
async fn release_previews_are_for_the_originators_officers_and_audited() {
    let hub = Hub::start().await;
    let v = indicator(60, TLP_GREEN);
    hub.post("nis", std::slice::from_ref(&v)).await;
    let path = format!("objects/{}/release-preview/", id_of(&v));
    for (account, status) in [("bnd-officer", 403), ("nis", 403), ("nis-officer", 200)] {
        let resp = hub.get(account, &path).await;
        assert_eq!(resp.status(), status, "{account}");
    }
    hub.app.state_flush().await;
    let records = hub.app.store.audit_records(0, 10_000).await.expect("audit");
    let previews: Vec<_> = records
        .iter()
        .filter(|r| r.event.kind == "release.preview")
        .map(|r| (r.event.actor.as_str(), r.event.outcome.as_str()))
        .collect();
    assert_eq!(
        previews,
        [
            ("bnd-officer", "refused"),
            ("nis", "refused"),
            ("nis-officer", "ok")
        ]
    );
}

async fn tokened(hub: &Hub, bearer: &str) -> reqwest::StatusCode {
    hub.http
        .get(hub.url(""))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("get")
        .status()
}

#[tokio::test]
async fn rotated_revoked_and_session_tokens_stop_working() {
    let hub = Hub::start().await;
    let wait = || tokio::time::sleep(std::time::Duration::from_millis(1_100));
    // The realm rotates bnd's token: the old one fails (even if cached), the new one works.
    assert_eq!(tokened(&hub, &token("bnd")).await, 200);
    let mut plan = realm();
    let rotated = format!("{}-rotated", token("bnd"));
    plan.accounts[2].token_sha256 = Some(relto_server::token_sha256(&rotated));
    hub.app.store.apply_realm(&plan).await.expect("apply");
    wait().await;
    assert_eq!(tokened(&hub, &token("bnd")).await, 401);
    assert_eq!(tokened(&hub, &rotated).await, 200);
    // A session token from POST /management/auth ends with a password change.
    let resp = hub
        .http
        .post(format!("{}/management/auth", hub.app.base))
        .json(&json!({"username": "pw-user", "password": PASSWORD}))
        .send()
        .await
        .expect("auth");
    assert_eq!(resp.status(), 200);
    let session = resp.json::<Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(tokened(&hub, &session).await, 200);
    let new_hash = relto_server::hash_password("another-password-entirely").expect("hash");
    hub.app
        .store
        .set_password("pw-user", &new_hash)
        .await
        .expect("set");
    wait().await;
    assert_eq!(tokened(&hub, &session).await, 401);
    // Revoked: one token, then all.
    assert_eq!(
        hub.app
            .store
            .revoke_tokens("bnd", Some(&relto_server::token_sha256(&rotated)))
            .await
            .expect("revoke"),
        1
    );
    assert_eq!(tokened(&hub, &token("fis")).await, 200);
    hub.app
        .store
        .revoke_tokens("fis", None)
        .await
        .expect("revoke");
    wait().await;
    assert_eq!(tokened(&hub, &rotated).await, 401);
    assert_eq!(tokened(&hub, &token("fis")).await, 401);
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_account_out_elsewhere() {
    let hub = Hub::start().await;
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .expect("client")
    };
    let (attacker, owner) = (from([127, 0, 0, 2]), from([127, 0, 0, 3]));
    let try_with = |client: &reqwest::Client, pw: &str| {
        client
            .get(hub.url(""))
            .basic_auth("pw-user", Some(pw))
            .send()
    };
    for _ in 0..20 {
        assert_eq!(
            try_with(&attacker, "wrong").await.expect("get").status(),
            401
        );
    }
    assert_eq!(
        try_with(&attacker, PASSWORD).await.expect("get").status(),
        429
    );
    assert_eq!(try_with(&owner, PASSWORD).await.expect("get").status(), 200);
    hub.app.state_flush().await;
    let records = hub.app.store.audit_records(0, 10_000).await.expect("audit");
    assert!(records
        .iter()
        .any(|r| r.event.kind == "auth.throttled" && r.event.source == "127.0.0.2"));
}

#[tokio::test]
async fn a_trickled_body_times_out_and_connections_are_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = ServerConfig {
        body_timeout: std::time::Duration::from_secs(1),
        max_connections: 2,
        ..ServerConfig::default()
    };
    let hub = Hub::start_with(config).await;
    let addr = hub.app.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /checks/collections/{COLL}/objects/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: {}\r\nContent-Length: 1000\r\n\r\n{{",
        token("nis"),
        common::TAXII
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let trickle = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            if slow.write_all(b" ").await.is_err() {
                break;
            }
            let mut buf = [0u8; 512];
            if let Ok(Ok(n)) =
                tokio::time::timeout(std::time::Duration::from_millis(10), slow.read(&mut buf))
                    .await
            {
                answer.extend_from_slice(&buf[..n]);
                if n == 0 || answer.len() > 12 {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), trickle)
        .await
        .expect("answered");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(slow);
    // Two idle connections hold both places; a third request waits until one closes.
    let idle_a = tokio::net::TcpStream::connect(&addr).await.expect("a");
    let idle_b = tokio::net::TcpStream::connect(&addr).await.expect("b");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let waiting = hub
        .http
        .get(hub.url(""))
        .bearer_auth(token("nis"))
        .timeout(std::time::Duration::from_millis(500))
        .send()
        .await;
    assert!(waiting.is_err(), "served beyond the connection cap");
    drop(idle_a);
    let served = hub
        .http
        .get(hub.url(""))
        .bearer_auth(token("nis"))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .expect("served once a place is free");
    assert_eq!(served.status(), 200);
    drop(idle_b);
}
