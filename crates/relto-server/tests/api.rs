//! The TAXII 2.1 API over a real server on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn discovery_root_and_collections() {
    let app = spawn_app().await;
    let resp = app
        .get(&format!("{}/taxii2/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], TAXII);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let d: Value = resp.json().await.unwrap();
    // Plain HTTP: relative URLs (TAXII 2.1 §4.1.1 allows only HTTPS absolute ones).
    assert_eq!(d["api_roots"][0], "/r1/");
    assert_eq!(d["default"], "/r1/");

    let r: Value = app
        .get(&app.root)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["versions"][0], TAXII);
    assert_eq!(r["max_content_length"], 1 << 20);

    // The analyst's organization reads and writes all three; the reader sees only one.
    let c: Value = app
        .get(&format!("{}collections/", app.root))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c["collections"].as_array().unwrap().len(), 3);
    let c: Value = app
        .client
        .get(format!("{}collections/", app.root))
        .basic_auth("bnd-reader", Some(READER_PW))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = c["collections"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], READ_ONLY);
    assert_eq!(list[0]["can_read"], true);
    assert_eq!(list[0]["can_write"], false);
    assert_eq!(
        list[0]["media_types"][0],
        "application/stix+json;version=2.1"
    );
}

#[tokio::test]
async fn authentication_failures_are_401_with_taxii_body() {
    let app = spawn_app().await;
    let url = format!("{}/taxii2/", app.base);
    let none = app.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(none.headers()["content-type"], TAXII);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["http_status"], "401");
    assert!(body["title"].is_string());
    for (user, pw) in [("nis-analyst", "wrong"), ("nobody", "x")] {
        let r = app
            .client
            .get(&url)
            .basic_auth(user, Some(pw))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{user}");
    }
    let r = app
        .client
        .get(&url)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn tokens_from_management_auth_work() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(format!("{}/management/auth", app.base))
        .json(&serde_json::json!({"username": "nis-analyst", "password": ANALYST_PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.len() >= 40);
    let r = app
        .client
        .get(format!("{}/taxii2/", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bad = app
        .client
        .post(format!("{}/management/auth", app.base))
        .json(&serde_json::json!({"username": "nis-analyst", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
}

#[tokio::test]
async fn round_trip_is_byte_identical() {
    let app = spawn_app().await;
    // Odd key order, a one-digit fraction and spacing inside: all must come back as posted.
    // (STIX requires millisecond precision in created/modified, so the short fraction is in
    // first_seen.)
    let odd = r#"{"name": "KPA 2nd Corps",  "id":"threat-actor--4c1f7a3e-2b5d-4e6f-8a9b-0c1d2e3f4a5b","type":"threat-actor","spec_version":"2.1","created":"2024-10-25T00:00:00.100Z","modified":"2024-10-25T00:00:00.1000Z","first_seen":"2024-10-01T00:00:00.1Z"}"#;
    let status = app.add(&[odd.to_string()]).await;
    assert_eq!(status["success_count"], 1, "{status}");
    assert_eq!(
        status["successes"][0]["version"],
        "2024-10-25T00:00:00.1000Z"
    );
    let text = app
        .get(&format!("{}objects/", app.main_coll()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(odd), "{text}");
    let one = app
        .get(&format!(
            "{}objects/threat-actor--4c1f7a3e-2b5d-4e6f-8a9b-0c1d2e3f4a5b/",
            app.main_coll()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(one.contains(odd));
}

#[tokio::test]
async fn one_bad_object_fails_alone() {
    let app = spawn_app().await;
    let bad = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}"#;
    let status = app
        .add(&[indicator(1, 1), bad.to_string(), indicator(2, 1)])
        .await;
    assert_eq!(status["status"], "complete");
    assert_eq!(status["total_count"], 3);
    assert_eq!(status["success_count"], 2);
    assert_eq!(status["failure_count"], 1);
    assert_eq!(status["pending_count"], 0);
    let f = &status["failures"][0];
    assert_eq!(f["id"], "indicator--1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e");
    assert!(f["message"].as_str().unwrap().contains("pattern"), "{f}");
    // The status resource is readable afterwards, by its owner only.
    let url = format!("{}status/{}/", app.root, status["id"].as_str().unwrap());
    let again: Value = app.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(again, status);
    let other = app
        .client
        .get(&url)
        .basic_auth("bnd-reader", Some(READER_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    // Both good objects are stored.
    let env: Value = app
        .get(&format!("{}objects/", app.main_coll()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(env["objects"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn pagination_headers_and_cursors() {
    let app = spawn_app().await;
    let objects: Vec<String> = (0..25).map(|n| indicator(n, 1)).collect();
    app.add(&objects).await;
    let url = format!("{}objects/", app.main_coll());
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut last_added = String::new();
    for _ in 0..10 {
        let mut req = app.get(&url).query(&[("limit", "10")]);
        if let Some(n) = &next {
            req = req.query(&[("next", n.as_str())]);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let first = resp.headers()["x-taxii-date-added-first"]
            .to_str()
            .unwrap()
            .to_string();
        let last = resp.headers()["x-taxii-date-added-last"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(first.len(), "2024-01-01T00:00:00.000000Z".len(), "{first}");
        assert!(first > last_added, "ascending across pages");
        assert!(last >= first);
        last_added = last;
        let env: Value = resp.json().await.unwrap();
        let objs = env["objects"].as_array().unwrap();
        seen.extend(objs.iter().map(|o| o["id"].as_str().unwrap().to_string()));
        if env["more"] == true {
            assert_eq!(objs.len(), 10);
            next = Some(env["next"].as_str().unwrap().to_string());
        } else {
            assert!(env.get("next").is_none());
            break;
        }
    }
    assert_eq!(seen.len(), 25);
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 25);

    // A cursor for another query, or forged, is refused.
    let first: Value = app
        .get(&url)
        .query(&[("limit", "5")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let n = first["next"].as_str().unwrap();
    let other = app
        .get(&url)
        .query(&[("limit", "5"), ("next", n), ("match[type]", "report")])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 400);
    let forged = app
        .get(&url)
        .query(&[(
            "next",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
}

#[tokio::test]
async fn versions_manifest_filters_and_delete() {
    let app = spawn_app().await;
    app.add(&[
        indicator(7, 1),
        indicator(7, 2),
        indicator(7, 3),
        indicator(8, 1),
    ])
    .await;
    let coll = app.main_coll();
    let id7 = "indicator--8e2e2d2b-17d4-4cbf-938f-000000000007";
    let env: Value = app
        .get(&format!("{coll}objects/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(env["objects"].as_array().unwrap().len(), 2, "latest only");
    let versions: Value = app
        .get(&format!("{coll}objects/{id7}/versions/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        versions["versions"],
        serde_json::json!([
            "2024-01-01T00:00:01.000Z",
            "2024-01-01T00:00:02.000Z",
            "2024-01-01T00:00:03.000Z"
        ])
    );
    let count = |v: &Value| v["objects"].as_array().map(Vec::len).unwrap_or(0);
    for (filter, expected) in [
        ("first", 2),
        ("last", 2),
        ("all", 4),
        ("2024-01-01T00:00:02Z", 1),
        ("first,last", 3),
    ] {
        let m: Value = app
            .get(&format!("{coll}manifest/"))
            .query(&[("match[version]", filter)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(count(&m), expected, "{filter}: {m}");
    }
    let m: Value = app
        .get(&format!("{coll}manifest/"))
        .query(&[("match[id]", id7)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["objects"][0]["version"], "2024-01-01T00:00:03.000Z");
    assert_eq!(
        m["objects"][0]["media_type"],
        "application/stix+json;version=2.1"
    );
    let none: Value = app
        .get(&format!("{coll}objects/"))
        .query(&[("match[type]", "report"), ("match[spec_version]", "2.1")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none, serde_json::json!({"more": false}));

    // Delete one version, then the rest; then the object is gone.
    let del = app
        .client
        .delete(format!("{coll}objects/{id7}/"))
        .basic_auth("nis-analyst", Some(ANALYST_PW))
        .query(&[("match[version]", "last")])
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let one: Value = app
        .get(&format!("{coll}objects/{id7}/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["objects"][0]["modified"], "2024-01-01T00:00:02.000Z");
    let del = app
        .client
        .delete(format!("{coll}objects/{id7}/"))
        .basic_auth("nis-analyst", Some(ANALYST_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    for url in [
        format!("{coll}objects/{id7}/"),
        format!("{coll}objects/{id7}/versions/"),
    ] {
        let r = app.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 404, "{url}");
        assert_eq!(r.json::<Value>().await.unwrap()["http_status"], "404");
    }
}

#[tokio::test]
async fn bad_requests_get_taxii_errors_and_lose_nothing() {
    let app = spawn_app().await;
    app.add(&[indicator(1, 1)]).await;
    let coll = app.main_coll();
    let objects = format!("{coll}objects/");
    let check = |status: u16| {
        move |r: reqwest::Response| async move {
            assert_eq!(r.status(), status, "{}", r.url());
            assert_eq!(r.headers()["content-type"], TAXII);
            let b: Value = r.json().await.unwrap();
            assert_eq!(b["http_status"], status.to_string());
            assert!(b["title"].is_string());
        }
    };
    check(400)(app.post(&objects, "{not json".into()).send().await.unwrap()).await;
    check(400)(
        app.post(&objects, "{\"objects\":[]}".into())
            .send()
            .await
            .unwrap(),
    )
    .await;
    check(400)(app.post(&objects, "[1,2]".into()).send().await.unwrap()).await;
    check(415)(
        app.client
            .post(&objects)
            .basic_auth("nis-analyst", Some(ANALYST_PW))
            .header("content-type", "application/json")
            .body(format!("{{\"objects\":[{}]}}", indicator(9, 1)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    check(406)(
        app.client
            .get(&objects)
            .basic_auth("nis-analyst", Some(ANALYST_PW))
            .header("accept", "application/taxii+json;version=2.0")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let huge = format!("{{\"objects\":[{}]}}", "1,".repeat(600_000));
    check(413)(app.post(&objects, huge).send().await.unwrap()).await;
    for q in [
        "limit=0",
        "limit=abc",
        "added_after=yesterday",
        "next=%21%21",
    ] {
        check(400)(app.get(&format!("{objects}?{q}")).send().await.unwrap()).await;
    }
    check(404)(
        app.get(&format!("{}/nowhere/", app.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    check(404)(
        app.get(&format!(
            "{}collections/00000000-0000-4000-8000-000000000000/",
            app.root
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    check(404)(
        app.get(&format!(
            "{objects}indicator--00000000-0000-4000-8000-000000000000/"
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    check(405)(
        app.client
            .put(&objects)
            .basic_auth("nis-analyst", Some(ANALYST_PW))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // The reader may read READ_ONLY but not write it, and may not see HIDDEN at all.
    let reader_post = app
        .client
        .post(format!("{}objects/", app.coll(READ_ONLY)))
        .basic_auth("bnd-reader", Some(READER_PW))
        .header("content-type", TAXII)
        .body(format!("{{\"objects\":[{}]}}", indicator(2, 1)))
        .send()
        .await
        .unwrap();
    check(403)(reader_post).await;
    let hidden = app
        .client
        .get(format!("{}objects/", app.coll(HIDDEN)))
        .basic_auth("bnd-reader", Some(READER_PW))
        .send()
        .await
        .unwrap();
    check(404)(hidden).await;
    // Nothing stored was lost.
    let env: Value = app
        .get(&objects)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(env["objects"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn duplicate_posts_are_idempotent() {
    let app = spawn_app().await;
    app.add(&[indicator(3, 1)]).await;
    let s = app.add(&[indicator(3, 1)]).await;
    assert_eq!(s["success_count"], 1);
    assert!(s["successes"][0]["message"]
        .as_str()
        .unwrap()
        .contains("already"));
    let m: Value = app
        .get(&format!("{}manifest/", app.main_coll()))
        .query(&[("match[version]", "all")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["objects"].as_array().unwrap().len(), 1);
}

/// Waits (a little) for the audit task to append what the requests queued.
async fn audit_of(app: &TestApp, want: usize) -> Vec<relto_store::audit::AuditRecord> {
    for _ in 0..100 {
        let records = app.store.audit_records(0, 10_000).await.unwrap();
        if records.len() >= want {
            return records;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.store.audit_records(0, 10_000).await.unwrap()
}

#[tokio::test]
async fn every_release_write_and_failure_is_audited() {
    let app = spawn_app().await;
    app.add(&[indicator(1, 1), indicator(2, 1)]).await;
    let coll = app.main_coll();
    app.get(&format!("{coll}objects/")).send().await.unwrap();
    let id = "indicator--8e2e2d2b-17d4-4cbf-938f-000000000001";
    app.get(&format!("{coll}objects/{id}/"))
        .send()
        .await
        .unwrap();
    app.get(&format!("{coll}manifest/")).send().await.unwrap();
    app.get(&format!("{coll}objects/{id}/versions/"))
        .send()
        .await
        .unwrap();
    app.client
        .get(format!("{}/taxii2/", app.base))
        .basic_auth("nis-analyst", Some("wrong"))
        .send()
        .await
        .unwrap();
    // 2 writes + 2 (objects) + 1 (object) + 2 (manifest) + 1 (versions) + 1 failure.
    let records = audit_of(&app, 9).await;
    let count = |kind: &str, detail: &str| {
        records
            .iter()
            .filter(|r| r.event.kind == kind && r.event.detail.starts_with(detail))
            .count()
    };
    assert_eq!(count("object.write", ""), 2);
    assert_eq!(count("object.release", "objects"), 2);
    assert_eq!(count("object.release", "object"), 3, "objects + object");
    assert_eq!(count("object.release", "manifest"), 2);
    assert_eq!(count("object.release", "versions"), 1);
    assert_eq!(count("auth.failure", ""), 1);
    let release = records
        .iter()
        .find(|r| r.event.kind == "object.release" && r.event.object_id == id)
        .unwrap();
    assert_eq!(release.event.actor, "nis-analyst");
    assert_eq!(release.event.organization, "kor-nis");
    assert_eq!(release.event.outcome, "allow");
    assert_eq!(release.event.object_version, "2024-01-01T00:00:01.000000Z");
    assert_eq!(
        relto_store::audit::verify_chain(&records, &[]),
        Ok(records.len() as u64)
    );
}
