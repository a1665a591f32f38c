//! relto-bench: figures for one relto hub at a given size, and the machine's floors.
//!
//!     cargo build --release && target/release/relto-bench --n 100000
//!
//! Starts `relto serve` (release build) on a fresh data directory, ingests a deterministic
//! workload over HTTP, reads it back, and measures single-object reads, filtered queries,
//! pages deep in the collection and concurrent readers (an async client, whose CPU is
//! reported beside the server's). Then, in the same run, the floors: the same rows
//! bulk-inserted into SQLite directly, and the same bytes read back without HTTP. Prints
//! JSON and a Markdown table. It is a program that prints figures, not a test.
#![forbid(unsafe_code)]

mod floor;
mod workload;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const TAXII: &str = "application/taxii+json;version=2.1";
/// The benchmarks' hub (shared with the scripts under bench/) and its collection.
const REALM: &str = include_str!("../../../bench/realm.toml");
const COLLECTION: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";
const TOKEN: &str = "relto-bench-token-0123456789abcdefghijklmnopq";
const BATCH: usize = 500;

struct Options {
    n: usize,
    seed: u64,
    page: usize,
    readers: usize,
    seconds: u64,
    relto: PathBuf,
    json_out: Option<PathBuf>,
    database: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        n: 10_000,
        seed: 42,
        page: 100,
        readers: 8,
        seconds: 10,
        relto: PathBuf::from("target/release/relto"),
        json_out: None,
        database: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--n" => {
                o.n = value()?
                    .replace('_', "")
                    .parse()
                    .map_err(|e| format!("--n: {e}"))?
            }
            "--seed" => o.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--page" => o.page = value()?.parse().map_err(|e| format!("--page: {e}"))?,
            "--readers" => o.readers = value()?.parse().map_err(|e| format!("--readers: {e}"))?,
            "--seconds" => o.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--relto" => o.relto = PathBuf::from(value()?),
            "--json" => o.json_out = Some(PathBuf::from(value()?)),
            "--database" => o.database = Some(value()?),
            "-h" | "--help" => {
                println!(
                    "relto-bench [--n 10000] [--seed 42] [--page 100] [--readers 8] [--seconds 10]\n\
                     \x20           [--relto target/release/relto] [--json FILE] [--database postgres://…]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other} (see --help)")),
        }
    }
    Ok(o)
}

/// A running `relto serve`, killed on drop.
struct Hub {
    child: Child,
    base: String,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_hub(o: &Options) -> Result<Hub, String> {
    // RELTO_BENCH_DIR: an empty directory of the caller's, kept afterwards for a look.
    let (temp, path) = match std::env::var_os("RELTO_BENCH_DIR") {
        Some(d) => (None, PathBuf::from(d)),
        None => {
            let t = tempfile::tempdir().map_err(|e| e.to_string())?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let realm = path.join("realm.toml");
    std::fs::write(&realm, REALM).map_err(|e| e.to_string())?;
    let relto = |args: &[&str]| {
        let mut c = Command::new(&o.relto);
        c.args(args)
            .env("RELTO_DATA_DIR", &path)
            .env("BENCH_TOKEN", TOKEN)
            .env("RELTO_ADMIN_PASSWORD", "bench-admin-password");
        if let Some(db) = &o.database {
            c.env("RELTO_DATABASE", db);
        }
        c
    };
    let applied = relto(&["apply", &realm.to_string_lossy()])
        .output()
        .map_err(|e| {
            format!(
                "cannot run {}: {e} (build it: cargo build --release)",
                o.relto.display()
            )
        })?;
    if !applied.status.success() {
        return Err(format!(
            "relto apply: {}",
            String::from_utf8_lossy(&applied.stderr)
        ));
    }
    let mut child = relto(&["serve", "--listen", "127.0.0.1:0", "--log", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("relto listening on ") {
                    break url.trim().to_string();
                }
            }
            _ => return Err("relto serve exited before listening".into()),
        }
    };
    Ok(Hub {
        child,
        base,
        _dir: temp,
    })
}

/// (user + system) CPU seconds of a process, from /proc (USER_HZ is 100 on Linux).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// Waits until the server is idle (under 5% of a core over a quarter second): the audit
/// records of a large read are appended after it, and would otherwise be measured as part of
/// the next phase.
async fn settle(pid: &str) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let before = cpu_seconds(pid);
        tokio::time::sleep(Duration::from_millis(250)).await;
        if cpu_seconds(pid) - before < 0.0125 {
            return;
        }
    }
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * sorted_ms.len() as f64).ceil() as usize;
    sorted_ms[i.clamp(1, sorted_ms.len()) - 1]
}

fn latency(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    json!({"p50_ms": round3(percentile(&ms, 50.0)), "p99_ms": round3(percentile(&ms, 99.0)), "n": ms.len()})
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

struct Client {
    http: reqwest::Client,
    objects: String,
}

impl Client {
    /// A GET as the bench account; an error unless it succeeded.
    async fn send(&self, url: &str, query: &[(&str, String)]) -> Result<reqwest::Response, String> {
        let r = self
            .http
            .get(url)
            .query(query)
            .bearer_auth(TOKEN)
            .header("accept", TAXII)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("GET {url}: {}", r.status()));
        }
        Ok(r)
    }

    async fn get(&self, url: &str, query: &[(&str, String)]) -> Result<Value, String> {
        self.send(url, query)
            .await?
            .json()
            .await
            .map_err(|e| e.to_string())
    }

    /// One request's latency: until the whole body has arrived (not parsed: that is the
    /// client's cost, not the server's).
    async fn timed(&self, url: &str, query: &[(&str, String)]) -> Result<f64, String> {
        let t = Instant::now();
        let r = self.send(url, query).await?;
        let body = r.bytes().await.map_err(|e| e.to_string())?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if body.len() < 2 {
            return Err(format!("GET {url}: empty body"));
        }
        Ok(ms)
    }
}

async fn run(o: &Options) -> Result<Value, String> {
    let objects = workload::generate(o.n, o.seed);
    let bytes: usize = objects.iter().map(|x| x.json.len()).sum();
    eprintln!("workload: {} objects, {:.1} MB", o.n, bytes as f64 / 1e6);
    let hub = start_hub(o)?;
    let pid = hub.child.id().to_string();
    let client = Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| e.to_string())?,
        objects: format!("{}/api1/collections/{COLLECTION}/objects/", hub.base),
    };
    let mut report = json!({"n": o.n, "seed": o.seed, "page": o.page, "workload_mb": round3(bytes as f64 / 1e6)});

    // Ingest: envelopes of BATCH objects, one after another.
    let t = Instant::now();
    for chunk in objects.chunks(BATCH) {
        let body = format!(
            "{{\"objects\":[{}]}}",
            chunk
                .iter()
                .map(|x| x.json.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        let r = client
            .http
            .post(&client.objects)
            .bearer_auth(TOKEN)
            .header("accept", TAXII)
            .header("content-type", TAXII)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status: Value = r.json().await.map_err(|e| e.to_string())?;
        if status["success_count"].as_u64() != Some(chunk.len() as u64) {
            return Err(format!("ingest refused objects: {status}"));
        }
    }
    let ingest_s = t.elapsed().as_secs_f64();
    report["ingest_objects_per_s"] = json!((o.n as f64 / ingest_s).round());
    eprintln!("ingest: {:.0} objects/s", o.n as f64 / ingest_s);

    // Full paginated read; keep every page's cursor for the deep-page reads below.
    settle(&pid).await;
    let t = Instant::now();
    let (mut read, mut cursors, mut next) = (0usize, Vec::new(), None::<String>);
    loop {
        let mut q = vec![("limit", o.page.to_string())];
        if let Some(n) = &next {
            q.push(("next", n.clone()));
            cursors.push(n.clone());
        }
        let env = client.get(&client.objects, &q).await?;
        let page = env["objects"].as_array().map_or(0, Vec::len);
        read += page;
        match env["next"].as_str() {
            Some(n) if env["more"] == true => next = Some(n.to_string()),
            _ => break,
        }
    }
    let read_s = t.elapsed().as_secs_f64();
    if read != o.n {
        return Err(format!("read back {read} of {} objects", o.n));
    }
    report["read_objects_per_s"] = json!((read as f64 / read_s).round());
    report["read_page_ms"] = json!(round3(read_s * 1000.0 / (cursors.len() + 1) as f64));
    eprintln!("read-back: {:.0} objects/s", read as f64 / read_s);

    // A page deep in the collection (a random cursor), the first page, one object by id.
    settle(&pid).await;
    let mut rng = workload::Rng::new(o.seed ^ 0xbeef);
    let mut deep = Vec::new();
    for _ in 0..300.min(cursors.len().max(1) * 3) {
        if cursors.is_empty() {
            break;
        }
        let c = cursors[rng.below(cursors.len())].clone();
        deep.push(
            client
                .timed(
                    &client.objects,
                    &[("limit", o.page.to_string()), ("next", c)],
                )
                .await?,
        );
    }
    report["page_deep"] = latency(deep);
    let mut first = Vec::new();
    for _ in 0..300 {
        first.push(
            client
                .timed(&client.objects, &[("limit", o.page.to_string())])
                .await?,
        );
    }
    report["page_first"] = latency(first);
    let mut by_id = Vec::new();
    for _ in 0..1000 {
        let id = &objects[rng.below(objects.len())].id;
        by_id.push(
            client
                .timed(&format!("{}{id}/", client.objects), &[])
                .await?,
        );
    }
    report["by_id"] = latency(by_id);

    // Filtered queries: the first page of a type, and of added_after the middle.
    let mut by_type = Vec::new();
    for _ in 0..300 {
        by_type.push(
            client
                .timed(
                    &client.objects,
                    &[
                        ("match[type]", "indicator".into()),
                        ("limit", o.page.to_string()),
                    ],
                )
                .await?,
        );
    }
    report["match_type"] = latency(by_type);
    // added_after the date_added of the collection's middle object.
    let added = client
        .send(
            &client.objects,
            &[("limit", (o.n / 2).clamp(1, 1000).to_string())],
        )
        .await?;
    let last_added = added
        .headers()
        .get("x-taxii-date-added-last")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or("no X-TAXII-Date-Added-Last header")?;
    let mut after = Vec::new();
    for _ in 0..300 {
        after.push(
            client
                .timed(
                    &client.objects,
                    &[
                        ("added_after", last_added.clone()),
                        ("limit", o.page.to_string()),
                    ],
                )
                .await?,
        );
    }
    report["added_after"] = latency(after);

    // Concurrent readers: `readers` tasks reading random objects by id for `seconds`.
    settle(&pid).await;
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let ids: Arc<Vec<String>> = Arc::new(objects.iter().map(|x| x.id.clone()).collect());
    let (server_cpu0, client_cpu0) = (cpu_seconds(&pid), cpu_seconds("self"));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for r in 0..o.readers {
        let (done, count, ids) = (done.clone(), count.clone(), ids.clone());
        let (http, url) = (client.http.clone(), client.objects.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = workload::Rng::new(r as u64 + 1);
            while !done.load(Ordering::Relaxed) {
                let id = &ids[rng.below(ids.len())];
                let ok = http
                    .get(format!("{url}{id}/"))
                    .bearer_auth(TOKEN)
                    .header("accept", TAXII)
                    .send()
                    .await
                    .map(|r| r.status().is_success());
                if let Ok(true) = ok {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(o.seconds)).await;
    done.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let wall = t.elapsed().as_secs_f64();
    report["readers"] = json!({
        "connections": o.readers,
        "requests_per_s": (count.load(Ordering::Relaxed) as f64 / wall).round(),
        "server_cpu": round3((cpu_seconds(&pid) - server_cpu0) / wall),
        "client_cpu": round3((cpu_seconds("self") - client_cpu0) / wall),
    });
    report["server_peak_rss_mib"] = json!(round3(peak_rss_mib(hub.child.id())));
    drop(hub);

    // The floors, same rows, same machine, same run.
    let floor = floor::measure(&objects, o.page)?;
    report["floor"] = floor.clone();
    let frac = |r: &Value, a: &str, b: &str| {
        round3(r[a].as_f64().unwrap_or(0.0) / floor[b].as_f64().unwrap_or(1.0).max(1.0))
    };
    report["ingest_of_floor"] = json!(frac(
        &report,
        "ingest_objects_per_s",
        "insert_objects_per_s"
    ));
    report["read_of_floor"] = json!(frac(&report, "read_objects_per_s", "read_objects_per_s"));
    Ok(report)
}

fn markdown(r: &Value) -> String {
    let l = |k: &str| format!("{} / {}", r[k]["p50_ms"], r[k]["p99_ms"]);
    format!(
        "| N | ingest obj/s (of floor) | read-back obj/s (of floor) | page p50 ms: first / deep | by id p50 / p99 ms | match[type] p50 / p99 ms | added_after p50 / p99 ms | {} readers req/s (server / client CPU) | peak RSS MiB |\n\
         |---|---|---|---|---|---|---|---|---|\n\
         | {} | {} ({}) | {} ({}) | {} / {} | {} | {} | {} | {} ({} / {}) | {} |\n",
        r["readers"]["connections"],
        r["n"],
        whole(&r["ingest_objects_per_s"]),
        r["ingest_of_floor"],
        whole(&r["read_objects_per_s"]),
        r["read_of_floor"],
        r["page_first"]["p50_ms"],
        r["page_deep"]["p50_ms"],
        l("by_id"),
        l("match_type"),
        l("added_after"),
        whole(&r["readers"]["requests_per_s"]),
        r["readers"]["server_cpu"],
        r["readers"]["client_cpu"],
        (r["server_peak_rss_mib"].as_f64().unwrap_or(0.0) * 10.0).round() / 10.0,
    )
}

/// 43271.0 → 43,271
fn whole(v: &Value) -> String {
    let digits = format!("{:.0}", v.as_f64().unwrap_or(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() -> std::process::ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("relto-bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("relto-bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match rt.block_on(run(&o)) {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            println!("\n{}", markdown(&report));
            if let Some(path) = &o.json_out {
                if let Err(e) = std::fs::write(path, report.to_string()) {
                    eprintln!("relto-bench: cannot write {}: {e}", path.display());
                }
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("relto-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_realm_declares_the_collection_the_bench_reads() {
        assert!(super::REALM.contains(&format!("id = \"{}\"", super::COLLECTION)));
    }
}
