//! Two relto nodes over one PostgreSQL database, as behind a load balancer: what one node
//! writes the other serves, cursors and status resources work across them, and concurrent
//! writes through both lose nothing and leave one valid audit chain; a node whose database
//! goes away is taken out of rotation (`/readyz` 503) and back when it returns. Needs
//! RELTO_TEST_POSTGRES_URL (scripts/test.sh sets it); without it the tests say so and pass,
//! but under CI, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use relto_server::ServerConfig;
use relto_store::conformance::COLLECTION;
use relto_store::Store;
use relto_store_postgres::{fresh_database, PostgresStore};
use serde_json::Value;

async fn page(app: &TestApp, url: &str) -> Value {
    let r = app.get(url).send().await.expect("get");
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_share_one_hub() {
    let Some(admin) = relto_store_postgres::test_url() else {
        return;
    };
    let (url, guard) = fresh_database(&admin).await.expect("fresh database");
    let store_a: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await.expect("node A"));
    let a = spawn_app_on(store_a, Backing::database(guard), ServerConfig::default()).await;
    let store_b: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await.expect("node B"));
    let b = serve_store(Backing::none(), store_b, ServerConfig::default()).await;

    // Written through A, served by B; A's status resource is readable on B.
    let objects: Vec<String> = (1..=30).map(|n| indicator(n, n)).collect();
    let status = a.add(&objects).await;
    assert_eq!(status["success_count"], 30);
    let status_url = format!("{}status/{}/", b.root, status["id"].as_str().unwrap());
    assert_eq!(page(&b, &status_url).await["success_count"], 30);
    let first: Value = serde_json::from_str(&objects[0]).unwrap();
    let one = page(
        &b,
        &format!(
            "{}objects/{}/",
            b.main_coll(),
            first["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(one["objects"][0], first);

    // A `next` cursor from A continues on B, and back.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    for turn in 0.. {
        let node = if turn % 2 == 0 { &a } else { &b };
        let mut u = format!("{}objects/?limit=7", node.main_coll());
        if let Some(n) = &next {
            u.push_str(&format!("&next={n}"));
        }
        let p = page(node, &u).await;
        for o in p["objects"].as_array().unwrap() {
            seen.push(o["id"].as_str().unwrap().to_string());
        }
        if p["more"] != true {
            break;
        }
        next = Some(p["next"].as_str().unwrap().to_string());
    }
    assert_eq!(seen.len(), 30);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 30);

    // A live stream on B receives what is posted through A: B finds A's writes by polling.
    let mut stream = b
        .client
        .get(format!("{}/api/v1/collections/{COLLECTION}/stream", b.base))
        .basic_auth("nis-analyst", Some(ANALYST_PW))
        .send()
        .await
        .expect("stream on B");
    assert_eq!(stream.status(), 200);
    let through_a: Vec<String> = (31..=35).map(|n| indicator(n, n)).collect();
    assert_eq!(a.add(&through_a).await["success_count"], 5);
    let events = sse_events(&mut stream, 5, 10_000).await;
    let streamed: Vec<Value> = events.into_iter().map(|(_, _, o)| o).collect();
    let posted: Vec<Value> = through_a
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    assert_eq!(streamed, posted, "B's stream: what A stored, in order");

    // Concurrent writes through both nodes: 2 × 20 envelopes of 5 new objects.
    let post_many = |app: &TestApp, base: u32| {
        let futures: Vec<_> = (0..20u32)
            .map(|batch| {
                let objs: Vec<String> = (0..5u32)
                    .map(|i| indicator(base + batch * 5 + i, 1))
                    .collect();
                app.add_owned(objs)
            })
            .collect();
        futures
    };
    let mut tasks = Vec::new();
    for f in post_many(&a, 1000).into_iter().chain(post_many(&b, 2000)) {
        tasks.push(tokio::spawn(f));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task")["success_count"], 5);
    }

    // Every object exactly once, from either node, paging through with small pages.
    let mut ids = HashSet::new();
    let mut next: Option<String> = None;
    let mut turn = 0;
    loop {
        let node = if turn % 2 == 0 { &b } else { &a };
        turn += 1;
        let mut u = format!("{}objects/?limit=13", node.main_coll());
        if let Some(n) = &next {
            u.push_str(&format!("&next={n}"));
        }
        let p = page(node, &u).await;
        for o in p["objects"].as_array().unwrap() {
            assert!(
                ids.insert(o["id"].as_str().unwrap().to_string()),
                "served twice"
            );
        }
        if p["more"] != true {
            break;
        }
        next = Some(p["next"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 35 + 200);

    // One audit chain, written by both nodes, verifies; every write is in it.
    a.state_flush().await;
    b.state_flush().await;
    let records = a.store.audit_records(0, 100_000).await.expect("audit");
    let count = relto_store::audit::verify_chain(&records, &[]).expect("one valid chain");
    assert_eq!(count as usize, records.len());
    let writes = records
        .iter()
        .filter(|r| r.event.kind == "object.write")
        .count();
    assert_eq!(writes, 235, "every written object audited once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_database_is_unreachable_is_not_ready() {
    let Some(admin) = relto_store_postgres::test_url() else {
        return;
    };
    let (url, guard) = fresh_database(&admin).await.expect("fresh database");
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).await.expect("connect"));
    let app = serve_store(Backing::none(), store.clone(), ServerConfig::default()).await;
    let ready = |app: &TestApp| {
        let url = format!("{}/readyz", app.base);
        let client = app.client.clone();
        async move {
            let r = client.get(url).send().await.expect("readyz");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.expect("json"))
        }
    };
    assert_eq!(ready(&app).await.0, 200);
    guard.set_reachable(false).await.expect("unreachable");
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["reason"], "the store failed");
    // Liveness does not depend on the store.
    let live = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    guard.set_reachable(true).await.expect("reachable");
    let mut back = 0;
    for _ in 0..50 {
        back = ready(&app).await.0;
        if back == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(back, 200, "the node did not become ready again");
    drop(app);
    drop(store);
}
