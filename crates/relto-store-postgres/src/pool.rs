//! The connection pool (deadpool-postgres): at most `PoolOptions::max_connections` open, each
//! with its cache of prepared statements. A connection is handed back only when the work on it
//! ended normally; one that failed at the connection level, or whose work was abandoned
//! mid-way (a cancelled request), is closed instead, so no later request finds it in the middle
//! of someone else's transaction.

use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, PoolError, RecyclingMethod,
};
use relto_store::StoreError;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, NoTls, Row, Statement};

/// How many connections one process keeps to the database, and how long a request waits for
/// one of them.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    pub max_connections: usize,
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: ACQUIRE_TIMEOUT,
        }
    }
}

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
/// Prepared statements kept per connection; query shapes vary with the filters given, so the
/// cache is emptied when it reaches this size.
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

pub(crate) struct Pool {
    inner: deadpool_postgres::Pool,
}

impl Pool {
    pub(crate) fn new(
        mut config: Config,
        tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
        options: &PoolOptions,
    ) -> R<Self> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("relto");
        }
        // Session settings travel in the start-up packet: no round trip per new connection.
        // JIT off: relto's statements run in well under a millisecond, but while statistics
        // lag behind a bulk load the planner's cost estimates pass the JIT threshold and
        // compiling took 150 ms (measured) for a page served in 0.2 ms.
        let settings = format!(
            "-c statement_timeout={STATEMENT_TIMEOUT} \
             -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT} -c jit=off"
        );
        let options_given = config.get_options().map(str::to_owned);
        config.options(&match options_given {
            Some(o) if !o.trim().is_empty() => format!("{o} {settings}"),
            _ => settings,
        });
        // Fast: a connection is checked for being closed, not with a query; a connection that
        // might be in an unknown state never returns to the pool (see `Pooled`).
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls {
            Some(tls) => Manager::from_config(config, tls, manager_config),
            None => Manager::from_config(config, NoTls, manager_config),
        };
        let inner = deadpool_postgres::Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .wait_timeout(Some(options.acquire_timeout))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Internal(format!("connection pool: {e}")))?;
        Ok(Self { inner })
    }

    pub(crate) async fn get(&self) -> R<Pooled> {
        let conn = self.inner.get().await.map_err(|e| match e {
            PoolError::Timeout(_) => {
                StoreError::Unavailable("every database connection is busy".into()).into()
            }
            PoolError::Backend(e) => refused(e),
            other => StoreError::Internal(format!("connection pool: {other}")).into(),
        })?;
        if conn.statement_cache.size() >= STATEMENT_CACHE {
            conn.statement_cache.clear();
        }
        Ok(Pooled {
            conn: Some(conn),
            reusable: false,
        })
    }

    /// A connection of its own, taken out of the pool for good and closed when dropped
    /// (migrations hold a session lock on it and lift the statement timeout).
    pub(crate) async fn open(&self) -> R<deadpool_postgres::ClientWrapper> {
        let mut p = self.get().await?;
        let conn = p.conn.take().ok_or_else(returned)?;
        Ok(Object::take(conn))
    }

    #[cfg(test)]
    pub(crate) fn status(&self) -> deadpool_postgres::Status {
        self.inner.status()
    }
}

/// Why a connection could not be made. The cause, not the error's Display, which may quote
/// the URL's password.
fn refused(e: tokio_postgres::Error) -> Error {
    let why = match (e.as_db_error(), std::error::Error::source(&e)) {
        (Some(d), _) => d.message().to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => e.to_string(),
    };
    StoreError::Unavailable(format!("cannot connect to the database: {why}")).into()
}

/// A connection taken from the pool. On drop it goes back only if `done` said the work on it
/// ended with the connection in a known state; otherwise it is taken out of the pool and closed.
pub(crate) struct Pooled {
    conn: Option<Object>,
    reusable: bool,
}

impl Pooled {
    pub(crate) fn conn(&self) -> R<&Object> {
        self.conn.as_ref().ok_or_else(returned)
    }

    pub(crate) fn conn_mut(&mut self) -> R<&mut Object> {
        self.conn.as_mut().ok_or_else(returned)
    }

    /// Records how the work on the connection ended: it is reused unless the connection broke.
    pub(crate) fn done<T>(mut self, out: R<T>) -> R<T> {
        self.reusable = !matches!(&out, Err(e) if e.is_connection_lost());
        out
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if !self.reusable {
                // Detached from the pool; dropping the client closes the connection.
                drop(Object::take(c));
            }
        }
    }
}

fn returned() -> Error {
    StoreError::Internal("connection already returned".into()).into()
}

/// Runs statements on a client or transaction, preparing each SQL text once per connection.
pub(crate) struct Db<'a, C> {
    c: &'a C,
}

impl<C> Clone for Db<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for Db<'_, C> {}

pub(crate) type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<'a, C: GenericClient> Db<'a, C> {
    pub(crate) fn new(c: &'a C) -> Self {
        Self { c }
    }

    async fn prepare(&self, sql: &str) -> R<Statement> {
        Ok(self.c.prepare_cached(sql).await?)
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
