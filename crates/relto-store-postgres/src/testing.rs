//! Test support for every suite that runs against PostgreSQL: a fresh database per test,
//! dropped when its guard goes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use relto_store::StoreError;
use tokio_postgres::{Client, NoTls};

/// The environment variable naming the server tests run against, as a URL of a database the
/// tests may create databases from (e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
/// Tests that need PostgreSQL skip themselves when it is not set, but under CI.
pub const TEST_URL_VAR: &str = "RELTO_TEST_POSTGRES_URL";

/// The server the PostgreSQL tests use ([`TEST_URL_VAR`]), or None (the caller skips, saying
/// so). Under CI (`CI` set) a missing one is a failure, never a pass.
pub fn test_url() -> Option<String> {
    match std::env::var(TEST_URL_VAR) {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but {TEST_URL_VAR} is not: the PostgreSQL tests cannot run"
            );
            eprintln!("skipped: {TEST_URL_VAR} is not set (scripts/test.sh sets it)");
            None
        }
    }
}

const PREFIX: &str = "relto_test_";
/// A test database whose creating process is gone is dropped by the next run after this long
/// (the process may live on another machine sharing the server: give it time).
const ORPHAN_AFTER: Duration = Duration::from_secs(120);
/// Any test database is dropped by the next run after this long.
const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Drops its database (best effort, terminating any session still on it) when dropped.
pub struct TestDatabaseGuard {
    admin_url: String,
    name: String,
}

impl TestDatabaseGuard {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes the database unreachable (no new sessions; the open ones ended), as when its
    /// server goes away, or reachable again.
    pub async fn set_reachable(&self, reachable: bool) -> Result<(), StoreError> {
        let c = admin_client(&self.admin_url).await?;
        let name = &self.name;
        let sql = if reachable {
            format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true")
        } else {
            format!(
                "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
        };
        c.batch_execute(&sql)
            .await
            .map_err(|e| StoreError::Unavailable(format!("{name}: {e}")))
    }
}

impl Drop for TestDatabaseGuard {
    fn drop(&mut self) {
        // Drop cannot await, and may run inside a runtime (whose thread must not block on
        // its own tasks): a thread with a runtime of its own does the work.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let worker = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(c) = admin_client(&admin_url).await {
                    let _ = c.batch_execute(&drop_sql(&name)).await;
                }
            });
        });
        let _ = worker.join();
    }
}

/// Creates a database with a unique name on the server of `admin_url` and returns its URL
/// and a guard that drops it. Also drops test databases that earlier runs left behind.
/// Works from any tokio runtime (current-thread or multi-thread).
pub async fn fresh_database(admin_url: &str) -> Result<(String, TestDatabaseGuard), StoreError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let name = format!(
        "{PREFIX}{now}_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        random_u32()
    );
    let url = with_database(admin_url, &name)?;
    let client = admin_client(admin_url).await?;
    drop_leftovers(&client, now).await;
    let mut attempt = 0;
    loop {
        match client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
        {
            Ok(()) => break,
            // The template is briefly in use (another run connecting to it, say).
            Err(e) if e.code().is_some_and(|c| c.code() == "55006") && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(crate::pool::Error::from(e).into()),
        }
    }
    Ok((
        url,
        TestDatabaseGuard {
            admin_url: admin_url.to_string(),
            name,
        },
    ))
}

async fn admin_client(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot connect to the test server: {e}")))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn drop_sql(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
}

/// Drops the test databases of runs that are over (see `ORPHAN_AFTER`, `STALE_AFTER`).
async fn drop_leftovers(client: &Client, now: u64) {
    let Ok(rows) = client
        .query(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname::text, $1)",
            &[&PREFIX],
        )
        .await
    else {
        return;
    };
    let me = std::process::id();
    let can_see_processes = std::path::Path::new("/proc/self").exists();
    for row in rows {
        let Ok(name) = row.try_get::<_, String>(0) else {
            continue;
        };
        let mut parts = name[PREFIX.len()..].split('_');
        let (Some(Ok(created)), Some(Ok(pid))) = (
            parts.next().map(str::parse::<u64>),
            parts.next().map(str::parse::<u32>),
        ) else {
            continue;
        };
        let age = Duration::from_secs(now.saturating_sub(created));
        let orphaned = pid != me
            && can_see_processes
            && !std::path::Path::new(&format!("/proc/{pid}")).exists();
        if age > STALE_AFTER || (orphaned && age > ORPHAN_AFTER) {
            let _ = client.batch_execute(&drop_sql(&name)).await;
        }
    }
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> Result<String, StoreError> {
    let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
    let authority = base
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| StoreError::Invalid("the test database must be given as a URL".into()))?;
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    Ok(format!("{}/{db}{query}", &base[..path]))
}

fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS's randomness; enough to keep names apart.
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish() as u32
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_in_the_url() {
        let cases = [
            ("postgres://u@h:5432/postgres", "postgres://u@h:5432/x"),
            ("postgres://u@h", "postgres://u@h/x"),
            (
                "postgresql://u:p@h/db?sslmode=disable",
                "postgresql://u:p@h/x?sslmode=disable",
            ),
            (
                "postgres:///db?host=/run/postgresql",
                "postgres:///x?host=/run/postgresql",
            ),
        ];
        for (from, to) in cases {
            assert_eq!(with_database(from, "x").expect("url"), to);
        }
        assert!(with_database("host=h dbname=d", "x").is_err());
    }
}
