//! A small connection pool: at most `MAX_CONNECTIONS` open, each with its own cache of
//! prepared statements. A connection is handed back only when the work on it ended normally;
//! one that failed at the connection level, or whose work was abandoned mid-way (a cancelled
//! request), is closed instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use relto_store::StoreError;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, GenericClient, NoTls, Row, Statement};

const MAX_CONNECTIONS: usize = 16;
/// How long a request waits for a free connection before it is told the store is busy.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Used when the URL sets no `connect_timeout`: an unreachable server fails fast instead of
/// after the operating system's TCP timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// No statement of relto runs long; one that does is stuck (or waits on a lock a stalled node
/// holds), and failing it frees the connection and the locks it holds.
const STATEMENT_TIMEOUT: &str = "30s";
/// A transaction left open by a node that stopped responding would hold the object writers'
/// lock (`hub_clock`) for everyone; the server ends such sessions.
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";
/// Prepared statements kept per connection; query shapes vary with the filters given.
const STATEMENT_CACHE: usize = 256;

/// A failure inside the store: a database error (kept whole so that the retry and pool logic
/// can look at it) or one of the store's own.
#[derive(Debug)]
pub(crate) enum Error {
    Pg(tokio_postgres::Error),
    Store(StoreError),
}

pub(crate) type R<T> = Result<T, Error>;

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Pg(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl Error {
    /// A conflict with a concurrent transaction: running the whole transaction again succeeds.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(self, Error::Pg(e) if e.code().is_some_and(|c|
            *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED))
    }

    /// The connection is unusable (lost, or the server is going away).
    pub(crate) fn is_connection_lost(&self) -> bool {
        let Error::Pg(e) = self else { return false };
        if let Some(c) = e.code() {
            return c.code().starts_with("08") || c.code().starts_with("57P");
        }
        e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        let lost = e.is_connection_lost();
        let pg = match e {
            Error::Store(s) => return s,
            Error::Pg(pg) => pg,
        };
        // Not the error's Display: a database error's DETAIL quotes the row's values.
        let (code, msg) = match pg.as_db_error() {
            Some(d) => (
                d.code().code(),
                format!("{} (SQLSTATE {})", d.message(), d.code().code()),
            ),
            None => ("", pg.to_string()),
        };
        if lost {
            return StoreError::Unavailable(msg);
        }
        match code {
            // The caller asked to create something that already exists.
            "23505" => StoreError::Invalid(match pg.as_db_error().and_then(|d| d.constraint()) {
                Some(c) => format!("already exists ({c})"),
                None => "already exists".into(),
            }),
            // Text the database cannot hold (a NUL character).
            "22021" | "22P05" => StoreError::Invalid(msg),
            // Conflicts left after the retries, statement or lock timeout, too many
            // connections: the database is busy.
            "40001" | "40P01" | "57014" | "55P03" | "53300" => StoreError::Unavailable(msg),
            _ => StoreError::Internal(msg),
        }
    }
}

pub(crate) struct Conn {
    client: Client,
    stmts: Mutex<HashMap<String, Statement>>,
}

pub(crate) struct Pool {
    config: Config,
    /// TLS to the database as the URL asked (None: plain TCP).
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
}

impl Pool {
    pub(crate) fn new(
        mut config: Config,
        tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    ) -> Self {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("relto");
        }
        Self {
            config,
            tls,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(MAX_CONNECTIONS),
        }
    }

    /// A connection of its own, outside the pool (migrations hold a session lock on it).
    pub(crate) async fn open(&self) -> R<Conn> {
        let refused = |e: tokio_postgres::Error| {
            // The cause, not the error's Display, which may quote the URL's password.
            let why = match (e.as_db_error(), std::error::Error::source(&e)) {
                (Some(d), _) => d.message().to_string(),
                (None, Some(s)) => s.to_string(),
                (None, None) => e.to_string(),
            };
            StoreError::Unavailable(format!("cannot connect to the database: {why}"))
        };
        // The connection's I/O runs as its own task; it ends when the client is dropped.
        let client = match &self.tls {
            Some(tls) => {
                let (client, connection) =
                    self.config.connect(tls.clone()).await.map_err(refused)?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                client
            }
            None => {
                let (client, connection) = self.config.connect(NoTls).await.map_err(refused)?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                client
            }
        };
        // JIT off: relto's statements run in well under a millisecond, but while statistics
        // lag behind a bulk load the planner's cost estimates pass the JIT threshold and
        // compiling took 150 ms (measured) for a page served in 0.2 ms.
        client
            .batch_execute(&format!(
                "SET statement_timeout = '{STATEMENT_TIMEOUT}';
                 SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}';
                 SET jit = off;"
            ))
            .await?;
        Ok(Conn {
            client,
            stmts: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) async fn get(&self) -> R<Pooled<'_>> {
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.acquire())
            .await
            .map_err(|_| StoreError::Unavailable("every database connection is busy".into()))?
            .map_err(|_| StoreError::Internal("the connection pool is closed".into()))?;
        let reused = loop {
            let next = lock(&self.idle).pop();
            match next {
                Some(c) if c.client.is_closed() => continue,
                other => break other,
            }
        };
        let conn = match reused {
            Some(c) => c,
            None => self.open().await?,
        };
        Ok(Pooled {
            pool: self,
            conn: Some(conn),
            reusable: false,
            _permit: permit,
        })
    }
}

/// A connection taken from the pool; goes back on drop if `done` said it may.
pub(crate) struct Pooled<'p> {
    pool: &'p Pool,
    conn: Option<Conn>,
    reusable: bool,
    _permit: SemaphorePermit<'p>,
}

impl Pooled<'_> {
    pub(crate) fn conn(&self) -> R<&Conn> {
        self.conn.as_ref().ok_or_else(returned)
    }

    pub(crate) fn conn_mut(&mut self) -> R<&mut Conn> {
        self.conn.as_mut().ok_or_else(returned)
    }

    /// Records how the work on the connection ended: it is reused unless the connection broke.
    pub(crate) fn done<T>(mut self, out: R<T>) -> R<T> {
        self.reusable = !matches!(&out, Err(e) if e.is_connection_lost());
        out
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if self.reusable && !c.client.is_closed() {
                lock(&self.pool.idle).push(c);
            }
        }
    }
}

fn returned() -> Error {
    StoreError::Internal("connection already returned".into()).into()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded data (idle connections, prepared statements) stays valid after a panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Conn {
    pub(crate) fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Statements outside a transaction, through this connection's statement cache.
    pub(crate) fn plain(&self) -> Db<'_, Client> {
        Db::new(&self.client, &self.stmts)
    }

    /// The client (to start a transaction on) and the statement cache.
    pub(crate) fn split(&mut self) -> (&mut Client, &Mutex<HashMap<String, Statement>>) {
        (&mut self.client, &self.stmts)
    }
}

/// Runs statements on a client or transaction, preparing each SQL text once per connection.
pub(crate) struct Db<'a, C> {
    c: &'a C,
    stmts: &'a Mutex<HashMap<String, Statement>>,
}

impl<C> Clone for Db<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for Db<'_, C> {}

pub(crate) type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<'a, C: GenericClient + Sync> Db<'a, C> {
    pub(crate) fn new(c: &'a C, stmts: &'a Mutex<HashMap<String, Statement>>) -> Self {
        Self { c, stmts }
    }

    async fn prepare(&self, sql: &str) -> R<Statement> {
        let cached = lock(self.stmts).get(sql).cloned();
        if let Some(s) = cached {
            return Ok(s);
        }
        let s = self.c.prepare(sql).await?;
        let mut cache = lock(self.stmts);
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub(crate) async fn query(&self, sql: &str, params: &Params<'_>) -> R<Vec<Row>> {
        let s = self.prepare(sql).await?;
        Ok(self.c.query(&s, params).await?)
    }

    pub(crate) async fn query_opt(&self, sql: &str, params: &Params<'_>) -> R<Option<Row>> {
        let s = self.prepare(sql).await?;
        Ok(self.c.query_opt(&s, params).await?)
    }

    pub(crate) async fn query_one(&self, sql: &str, params: &Params<'_>) -> R<Row> {
        let s = self.prepare(sql).await?;
        Ok(self.c.query_one(&s, params).await?)
    }

    pub(crate) async fn execute(&self, sql: &str, params: &Params<'_>) -> R<u64> {
        let s = self.prepare(sql).await?;
        Ok(self.c.execute(&s, params).await?)
    }
}
