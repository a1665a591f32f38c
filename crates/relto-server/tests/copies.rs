//! A partner's redacted copy of a report follows every write that changes what it may see of
//! the report's references: an object the report names arriving later, a new version of a
//! named object under another label, a named object deleted and posted again. Each write keeps the label
//! sets the hub already has, so only the collection's write generation tells the server
//! that a copy it keeps is out of date; the originator always receives the stored bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use relto_policy::label::Label;
use relto_policy::{Clearance, ReleaseRules};
use relto_store::{ApiRoot, Organization, PlannedAccount, PlannedCollection, RealmPlan};
use serde_json::{json, Value};

const COLL: &str = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d";

fn token(account: &str) -> String {
    format!("copies-test-token-for-{account}-0123456789abcdef")
}

fn realm() -> RealmPlan {
    let org = |slug: &str, nation: &str, accredited: &[&str]| Organization {
        slug: slug.parse().unwrap(),
        name: slug.into(),
        nation: nation.parse().unwrap(),
        identity: format!("identity--00000000-0000-4000-8000-{:012}", slug.len()),
        accredited: accredited.iter().map(|s| s.to_string()).collect(),
    };
    let account = |name: &str, org: &str, clearances: Vec<Clearance>| PlannedAccount {
        name: name.into(),
        organization: org.parse().unwrap(),
        roles: vec![relto_policy::Role::Analyst],
        password_hash: None,
        token_sha256: Some(relto_server::token_sha256(&token(name))),
        clearances,
        public_key: None,
    };
    let clearance = |policy: &str, level: &str| Clearance {
        policy: policy.into(),
        level: level.into(),
        sensitivity: vec![],
    };
    RealmPlan {
        peers: vec![],
        release_rules: ReleaseRules::default(),
        api_roots: vec![ApiRoot {
            path: "copies".into(),
            title: "Copies".into(),
            description: None,
            max_content_length: 1 << 20,
        }],
        organizations: vec![org("kor-nis", "KOR", &[]), org("deu-bnd", "DEU", &["NATO"])],
        accounts: vec![
            account(
                "nis",
                "kor-nis",
                vec![clearance("KOR", "I"), clearance("NATO", "CTS")],
            ),
            account("bnd", "deu-bnd", vec![clearance("NATO", "NS")]),
        ],
        collections: vec![PlannedCollection {
            id: COLL.into(),
            api_root: "copies".into(),
            title: "Reports".into(),
            description: None,
            alias: None,
            readers: vec!["org:kor-nis".into(), "org:deu-bnd".into()],
            writers: vec!["org:kor-nis".into()],
        }],
    }
}

fn label(policy: &str, level: &str, to: &str) -> Label {
    Label {
        policy: policy.into(),
        classification: level.into(),
        releasable_to: Some(vec![to.into()]),
        sensitivity: vec![],
    }
    .normalized()
}

fn indicator(n: u32, modified: &str, marking: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2024-01-01T00:00:00.000Z", "modified": modified,
        "name": format!("Signal {n}"), "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
        "object_marking_refs": [marking],
    })
}

#[tokio::test]
async fn a_partners_copy_follows_every_write() {
    let app = common::spawn_realm(&realm()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/copies/collections/{COLL}/objects/", app.base);
    let (nato, kor) = (label("NATO", "NS", "NATO"), label("KOR", "II", "KOR"));
    let (nato_id, kor_id) = (nato.id(), kor.id());
    let post = |objects: Vec<Value>| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let resp = http
                .post(url)
                .bearer_auth(token("nis"))
                .header("content-type", common::TAXII)
                .body(json!({ "objects": objects }).to_string())
                .send()
                .await
                .expect("post");
            assert_eq!(resp.status(), 202);
            let status: Value = resp.json().await.expect("status");
            assert_eq!(status["failure_count"], 0, "{status}");
        }
    };
    let id = |n: u32| format!("indicator--00000000-0000-4000-8000-{n:012}");
    let report_id = "report--00000000-0000-4000-8000-000000000099";
    post(vec![
        nato.to_marking_definition("2024-01-01T00:00:00.000Z"),
        kor.to_marking_definition("2024-01-01T00:00:00.000Z"),
        indicator(1, "2024-01-01T00:00:00.000Z", &nato_id),
        indicator(2, "2024-01-01T00:00:00.000Z", &kor_id),
        json!({
            "type": "report", "spec_version": "2.1", "id": report_id,
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "name": "Sitrep", "published": "2024-01-01T00:00:00Z",
            "object_refs": [id(1), id(2), id(3)],
            "object_marking_refs": [nato_id],
        }),
    ])
    .await;
    // The report's object_refs as `account` receives them: by page, and by id.
    let refs_of = |account: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let mut seen = Vec::new();
            for target in [
                format!("{url}?match[type]=report"),
                format!("{url}{report_id}/"),
            ] {
                let env: Value = http
                    .get(&target)
                    .bearer_auth(token(account))
                    .header("accept", common::TAXII)
                    .send()
                    .await
                    .expect("get")
                    .json()
                    .await
                    .expect("envelope");
                seen.push(env["objects"][0]["object_refs"].clone());
            }
            assert_eq!(seen[0], seen[1], "{account}: page and object differ");
            seen.remove(0)
        }
    };
    let all = json!([id(1), id(2), id(3)]);
    // Read twice each time: the second read is served from what the server kept.
    for _ in 0..2 {
        assert_eq!(refs_of("bnd").await, json!([id(1)]));
        assert_eq!(refs_of("nis").await, all);
    }
    // The third object the report names arrives (a label set the hub already has).
    post(vec![indicator(3, "2024-01-01T00:00:00.000Z", &nato_id)]).await;
    for _ in 0..2 {
        assert_eq!(refs_of("bnd").await, json!([id(1), id(3)]));
    }
    // The KOR-only indicator gets a new version releasable to NATO.
    post(vec![indicator(2, "2024-02-01T00:00:00.000Z", &nato_id)]).await;
    for _ in 0..2 {
        assert_eq!(refs_of("bnd").await, all);
    }
    // The first indicator is deleted.
    let resp = http
        .delete(format!("{url}{}/", id(1)))
        .bearer_auth(token("nis"))
        .query(&[("match[version]", "all")])
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 200);
    for _ in 0..2 {
        assert_eq!(refs_of("bnd").await, json!([id(2), id(3)]));
        assert_eq!(refs_of("nis").await, all);
    }
    // And posted again.
    post(vec![indicator(1, "2024-01-01T00:00:00.000Z", &nato_id)]).await;
    for _ in 0..2 {
        assert_eq!(refs_of("bnd").await, all);
    }
}
