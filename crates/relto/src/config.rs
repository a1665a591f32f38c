//! `relto serve`: configuration from flags, `RELTO_*` variables and a TOML file (in that order
//! of precedence), then the hub itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use relto_server::{Application, ServerConfig};
use serde::Deserialize;

use crate::{hub_identity, parse_nation, CliError, CliResult, StoreArgs};
use relto_store::audit::{AuditKind, AuditOutcome};

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "RELTO_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain for TLS.
    #[arg(
        long,
        env = "RELTO_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(
        long,
        env = "RELTO_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Accept credentials over plain HTTP from other hosts (only behind a TLS-terminating proxy).
    #[arg(long, env = "RELTO_INSECURE_HTTP")]
    pub insecure_http: bool,
    /// The hub's nation (ISO 3166-1 alpha-3), used for its own organization at first start.
    #[arg(long, env = "RELTO_NATION", value_name = "CODE")]
    pub nation: Option<String>,
    /// Title shown in TAXII discovery.
    #[arg(long, env = "RELTO_TITLE")]
    pub title: Option<String>,
    /// Configuration file (TOML) with any of: listen, data_dir, database, tls_cert, tls_key,
    /// insecure_http, nation, title, description, contact, log, log_format, metrics_listen,
    /// signing_key, hub_name, release_cache_mib, and a [limits] table.
    #[arg(long, env = "RELTO_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log level: error, warn, info or debug.
    #[arg(long, env = "RELTO_LOG", value_name = "LEVEL")]
    pub log: Option<String>,
    /// Log lines as `text` (the default) or `json` (one JSON object per line).
    #[arg(long, env = "RELTO_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address, apart from the API.
    #[arg(long, env = "RELTO_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// The hub's Ed25519 key (PEM, from `relto key create`): what it sends peer hubs is
    /// signed with it (RFC 9421).
    #[arg(long, env = "RELTO_SIGNING_KEY", value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// The hub's name on hop paths between hubs: the same on every node of a deployment,
    /// different from every peer's. Without it, the hub names no path to its peers.
    #[arg(long, env = "RELTO_HUB_NAME", value_name = "NAME")]
    pub hub_name: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database: Option<String>,
    database_pool_size: Option<u16>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    insecure_http: Option<bool>,
    nation: Option<String>,
    title: Option<String>,
    description: Option<String>,
    contact: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    metrics_listen: Option<SocketAddr>,
    signing_key: Option<PathBuf>,
    hub_name: Option<String>,
    /// MiB kept of what readers received of objects that needed redaction (0: none).
    release_cache_mib: Option<usize>,
    /// Limits against hostile input (safe defaults when absent).
    limits: Option<LimitsConfig>,
}

/// `[limits]` of the configuration file.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct LimitsConfig {
    max_objects_per_envelope: Option<usize>,
    max_json_depth: Option<usize>,
    max_query_params: Option<usize>,
    max_match_values: Option<usize>,
    page_size: Option<u32>,
    header_timeout_secs: Option<u64>,
    tls_handshake_timeout_secs: Option<u64>,
    write_stall_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    auth_failures_per_account: Option<u32>,
    auth_failures_per_address: Option<u32>,
}

fn read_config(path: &Path) -> CliResult<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError(format!("cannot read config {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| CliError(format!("config {}: {e}", path.display())))
}

/// Log lines as JSON objects (`--log-format json`): time, level, message, then the event's
/// fields, for log collectors that parse lines.
struct JsonLines;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonLines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = FieldMap(serde_json::Map::new());
        event.record(&mut fields);
        let mut line = serde_json::Map::new();
        line.insert(
            "time".into(),
            relto_stix::timestamp::format_micros(relto_server::now_us()).into(),
        );
        line.insert(
            "level".into(),
            event
                .metadata()
                .level()
                .as_str()
                .to_ascii_lowercase()
                .into(),
        );
        if let Some(m) = fields.0.remove("message") {
            line.insert("message".into(), m);
        }
        line.extend(fields.0);
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

/// An event's fields as JSON values.
struct FieldMap(serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for FieldMap {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

fn init_logging(level: &str, format: &str) -> CliResult<()> {
    let level = match level.to_ascii_lowercase().as_str() {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "info" => tracing::Level::INFO,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        other => {
            return Err(CliError(format!(
                "log level '{other}' is not one of error, warn, info, debug"
            )))
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        "text" => logs.try_init(),
        "json" => logs.event_format(JsonLines).try_init(),
        other => {
            return Err(CliError(format!(
                "log format '{other}' is not one of text, json"
            )))
        }
    };
    Ok(())
}

fn generate_password() -> CliResult<String> {
    Ok(relto_server::new_token()?[..24].to_string())
}

pub async fn serve(args: ServeArgs) -> CliResult<()> {
    let file = match &args.config {
        Some(p) => read_config(p)?,
        None => FileConfig::default(),
    };
    init_logging(
        args.log
            .as_deref()
            .or(file.log.as_deref())
            .unwrap_or("info"),
        args.log_format
            .as_deref()
            .or(file.log_format.as_deref())
            .unwrap_or("text"),
    )?;
    let store_args = StoreArgs {
        data_dir: args.store.data_dir.clone().or(file.data_dir),
        database: args.store.database.clone().or(file.database),
        database_pool_size: args.store.database_pool_size.or(file.database_pool_size),
    };
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)));
    let tls_paths = match (
        args.tls_cert.or(file.tls_cert),
        args.tls_key.or(file.tls_key),
    ) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => {
            return Err(CliError(
                "TLS needs both tls_cert and tls_key (a PEM certificate chain and its key)".into(),
            ))
        }
    };
    let nation = parse_nation(args.nation.or(file.nation).as_deref())?;
    let hub_name = args.hub_name.or(file.hub_name);
    if let Some(name) = hub_name
        .as_deref()
        .filter(|n| !relto_taxii::hops::is_hub_name(n))
    {
        return Err(CliError(format!(
            "hub name '{name}': use lower-case letters, digits, '-' or '_' (at most 64)"
        )));
    }

    let store = store_args.open().await?;
    // The admin password is hashed only when the account is about to be created.
    let created = if store.account("admin").await?.is_some() {
        false
    } else {
        let (password, generated) = match std::env::var("RELTO_ADMIN_PASSWORD") {
            Ok(p) if !p.is_empty() => (p, false),
            _ => (generate_password()?, true),
        };
        let hash = relto_server::hash_password(&password)?;
        let created = store
            .bootstrap(&hub_identity(nation), &hash)
            .await
            .map_err(|e| CliError(format!("cannot initialise the store: {e}")))?;
        if created && generated {
            println!("relto: created account 'admin' with password {password}  (shown once; set RELTO_ADMIN_PASSWORD to choose it)");
        }
        created
    };
    if created {
        tracing::info!("created account 'admin'");
        let mut e = crate::audit_cmd::cli_event(AuditKind::AccountCreate, "admin", "hub");
        e.outcome = AuditOutcome::Ok.into();
        e.detail = "first start".into();
        store.append_audit(vec![e]).await?;
    }

    let insecure_http = args.insecure_http || file.insecure_http.unwrap_or(false);
    let defaults = ServerConfig::default();
    let l = file.limits.unwrap_or_default();
    let page = l.page_size.unwrap_or(defaults.max_page).max(1);
    let config = ServerConfig {
        max_objects_per_envelope: l
            .max_objects_per_envelope
            .unwrap_or(defaults.max_objects_per_envelope)
            .max(1),
        max_json_depth: l
            .max_json_depth
            .unwrap_or(defaults.max_json_depth)
            .clamp(2, 128),
        query_limits: relto_taxii::query::QueryLimits {
            max_params: l
                .max_query_params
                .unwrap_or(defaults.query_limits.max_params),
            max_match_values: l
                .max_match_values
                .unwrap_or(defaults.query_limits.max_match_values),
        },
        default_page: page,
        max_page: page,
        header_timeout: l
            .header_timeout_secs
            .map_or(defaults.header_timeout, Duration::from_secs),
        handshake_timeout: l
            .tls_handshake_timeout_secs
            .map_or(defaults.handshake_timeout, Duration::from_secs),
        write_stall_timeout: l
            .write_stall_timeout_secs
            .map_or(defaults.write_stall_timeout, Duration::from_secs),
        body_timeout: l
            .body_timeout_secs
            .map_or(defaults.body_timeout, Duration::from_secs),
        max_connections: l.max_connections.unwrap_or(defaults.max_connections),
        failure_limits: relto_server::auth::FailureLimits {
            per_account: l
                .auth_failures_per_account
                .unwrap_or(defaults.failure_limits.per_account),
            per_address: l
                .auth_failures_per_address
                .unwrap_or(defaults.failure_limits.per_address),
        },
        audit: std::env::var("RELTO_AUDIT").map_or(true, |v| v != "off"),
        release_cache_bytes: match std::env::var("RELTO_RELEASE_CACHE_MIB") {
            Ok(v) => v.trim().parse::<usize>().map_err(|_| {
                CliError(format!(
                    "RELTO_RELEASE_CACHE_MIB is '{v}': give a whole number of MiB (0 keeps no copies)"
                ))
            })?,
            Err(_) => file
                .release_cache_mib
                .unwrap_or(defaults.release_cache_bytes >> 20),
        }
        .saturating_mul(1 << 20),
        title: args.title.or(file.title).unwrap_or(defaults.title),
        description: file.description.or(defaults.description),
        contact: file.contact,
        insecure_http,
        metrics_listen: args.metrics_listen.or(file.metrics_listen),
        signing_key: match args.signing_key.or(file.signing_key) {
            Some(path) => {
                let pem = std::fs::read_to_string(&path).map_err(|e| {
                    CliError(format!("cannot read the signing key {}: {e}", path.display()))
                })?;
                let key = relto_taxii::signature::key_from_pem(&pem).map_err(|e| {
                    CliError(format!(
                        "{}: {e} (make one with relto key create --out FILE)",
                        path.display()
                    ))
                })?;
                Some(std::sync::Arc::new(key))
            }
            None => None,
        },
        hub_name,
    };
    let tls = match &tls_paths {
        Some((c, k)) => Some(relto_server::load_tls(c, k)?),
        None => None,
    };
    let app = Application::build(store, config, listen, tls).await?;
    if !app.serves_tls() && !app.address().ip().is_loopback() && !insecure_http {
        tracing::warn!("listening on plain HTTP: credentials are accepted only from loopback; use --tls-cert/--tls-key");
    }
    println!("relto listening on {}", app.url());
    if let Some(at) = app.metrics_address() {
        println!("relto metrics on http://{at}/metrics");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
