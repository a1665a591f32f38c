//! The `relto` command: run the hub, apply a realm, import and export STIX, validate files.
#![forbid(unsafe_code)]

mod apply;
mod audit_cmd;
mod config;
mod draft_cmd;
mod migrate;
mod peers_cmd;
mod plan_cmd;
mod progress;
mod transfer;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use relto_policy::nation::{NameError, Nation, OrgSlug};
use relto_store::{HubIdentity, Store};
use relto_store_postgres::{is_postgres_url, PoolOptions, PostgresStore};
use relto_store_sqlite::SqliteStore;

#[derive(Parser)]
#[command(
    name = "relto",
    version,
    about = "relto — a coalition intelligence-sharing hub: STIX 2.1 over TAXII 2.1",
    long_about = "relto pools STIX 2.1 intelligence of several agencies and shares it with partner \
communities over TAXII 2.1.\n\nQuick start:\n  relto serve                      # hub on 127.0.0.1:8443, data in ./relto-data\n  \
relto apply examples/quickstart.toml\n  relto import --collection ID bundle.json"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the hub keeps its data (shared by every verb that touches the store).
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// Data directory; the SQLite database is DIR/relto.db (its audit chain DIR/relto.audit.db).
    #[arg(long, env = "RELTO_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database: postgres://USER@HOST/DB, or a SQLite file path (default: DATA_DIR/relto.db).
    #[arg(long, env = "RELTO_DATABASE", value_name = "URL|PATH")]
    pub database: Option<String>,
    /// PostgreSQL: connections this process keeps open at most [default: 16].
    #[arg(long, env = "RELTO_DATABASE_POOL_SIZE", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub database_pool_size: Option<u16>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub (TAXII 2.1 over HTTP or HTTPS).
    Serve(config::ServeArgs),
    /// Apply a realm file: API roots, organizations, accounts, collections (idempotent).
    Apply {
        #[command(flatten)]
        store: StoreArgs,
        /// The realm file (TOML).
        file: PathBuf,
    },
    /// Import a STIX bundle or TAXII envelope into a collection ('-' reads standard input).
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// Target collection id (UUID).
        #[arg(long, short)]
        collection: String,
        /// API root of the collection; needed only when the id is ambiguous.
        #[arg(long)]
        api_root: Option<String>,
        /// Bundle or envelope file, or '-' for standard input.
        file: PathBuf,
        /// Do not draw the progress bar.
        #[arg(long)]
        quiet: bool,
        /// Write as this account (its organization becomes the originator and the write rules
        /// apply); without it, the operator imports for the hub's own organization.
        #[arg(long = "as", value_name = "ACCOUNT")]
        as_account: Option<String>,
        /// What the file holds: `stix` (a bundle or an envelope) or `misp` (MISP event JSON,
        /// converted as MISP's own misp-stix maps it, taxonomies as labels).
        #[arg(long, value_name = "FORMAT", default_value = "stix")]
        format: transfer::ImportFormat,
    },
    /// Draft a STIX bundle from a text report ('-' reads standard input): the organizations,
    /// countries, cities, known actors and indicators it names, with the spans of each, the
    /// date it gives, labelled; to check, then import.
    Draft {
        #[command(flatten)]
        store: StoreArgs,
        /// Collection whose threat actors and intrusion sets are recognised by name.
        #[arg(long, short)]
        collection: Option<String>,
        #[arg(long)]
        api_root: Option<String>,
        /// Label everything with this marking-definition id instead of the realm's default
        /// label.
        #[arg(long)]
        label: Option<String>,
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The report (UTF-8 text), or '-' for standard input.
        file: PathBuf,
    },
    /// Export a collection as a STIX bundle.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// Collection id (UUID).
        #[arg(long, short)]
        collection: String,
        #[arg(long)]
        api_root: Option<String>,
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Every version of every object, not only the latest.
        #[arg(long)]
        all_versions: bool,
        /// Export what this account may receive (filtered and redacted per the release
        /// rules); without it, the operator exports everything.
        #[arg(long = "as", value_name = "ACCOUNT")]
        as_account: Option<String>,
        /// `stix` (a bundle) or `misp` (MISP event JSON: each report an event, for MISP users).
        #[arg(long, value_name = "FORMAT", default_value = "stix")]
        format: transfer::ImportFormat,
        /// Add an ACS 3.0 marking beside each relto label (for partners whose tools read
        /// ACS, such as CISA AIS's); labels ACS cannot express are listed on standard error.
        #[arg(long)]
        acs: bool,
    },
    /// Show what every organization and community would receive of one object.
    ReleasePreview {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, short)]
        collection: String,
        #[arg(long)]
        api_root: Option<String>,
        /// The object's STIX id.
        object: String,
    },
    /// Validate STIX 2.1 objects in files (object, bundle or envelope); one JSON line each.
    Validate {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The hub's signing key for federation (RFC 9421, Ed25519).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Copy a stopped SQLite hub into an empty PostgreSQL database: everything, with the
    /// objects' date_added, the cursor key and the audit chain unchanged.
    Migrate {
        /// Data directory of the SQLite hub (its relto.db and relto.audit.db).
        #[arg(long, env = "RELTO_DATA_DIR", value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// The SQLite file, when not DATA_DIR/relto.db.
        #[arg(long, value_name = "PATH")]
        from: Option<PathBuf>,
        /// The PostgreSQL database to fill (postgres://…); it must hold no hub yet.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// The peer hubs the realm names ([[peer]]) and where each exchange stands.
    Peers {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Release plans: propose, show, preview, approve (two releasing officers), withdraw.
    Plan {
        #[command(subcommand)]
        command: plan_cmd::PlanCommand,
    },
    /// The tamper-evident audit chain: verify, export, ledger, checkpoint, witnesses.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Write a new Ed25519 key (PEM, readable by its owner only) and print its public half,
    /// for the peer hubs' realms.
    Create {
        /// Where to write the key (an existing file is never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Prove the chain intact, or name the first record changed, removed, inserted or
    /// reordered (exit 1).
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// Checkpoints kept elsewhere (JSON lines from `relto audit checkpoint`): also catches
        /// records removed from the end and a chain rebuilt from scratch.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
    },
    /// Print the records as JSON lines.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// Only this organization's records.
        #[arg(long)]
        organization: Option<String>,
        /// Only records about this STIX id.
        #[arg(long)]
        object: Option<String>,
        /// From this time on (RFC 3339, e.g. 2026-11-25T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Before this time.
        #[arg(long)]
        until: Option<String>,
    },
    /// Who received which version of an object, whole or redacted, and who was refused.
    Ledger {
        #[command(flatten)]
        store: StoreArgs,
        /// The object's STIX id.
        object: String,
    },
    /// Print the chain's last record as a checkpoint line to keep outside the hub.
    Checkpoint {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print, as checkpoint lines, the chain heads a peer hub gave this hub to keep: its
    /// operator checks them with `relto audit verify --checkpoints FILE`.
    Witnesses {
        #[command(flatten)]
        store: StoreArgs,
        /// The peer: the account it posts with here, or `peer:NAME` for a `[[peer]]`.
        #[arg(long, value_name = "ACCOUNT")]
        of: String,
    },
}

fn parse_time(flag: &str, value: Option<&str>) -> CliResult<Option<i64>> {
    value
        .map(|v| {
            relto_stix::timestamp::parse_timestamp(v)
                .map(|t| t.micros)
                .map_err(|e| CliError(format!("--{flag}: {e}")))
        })
        .transpose()
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a bearer API token for an account and print it (shown once; stored hashed).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Account name.
        #[arg(long)]
        account: String,
        /// Days until it expires (default: never).
        #[arg(long)]
        expires_days: Option<u32>,
        /// A label to recognise it by.
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// Revoke an account's API tokens: the one given on standard input (--token -), or all of
    /// them (--all). Servers stop accepting them within a second.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// Account name.
        #[arg(long)]
        account: String,
        /// `-`: read the token to revoke from standard input (never from the command line,
        /// where it would stay in the shell's history).
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        token: Option<String>,
        /// Revoke every token of the account (sessions, CLI and realm tokens).
        #[arg(long)]
        all: bool,
    },
}

/// A failure the user can act on: the message says what to fix.
pub struct CliError(pub String);

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

pub type CliResult<T> = Result<T, CliError>;

impl StoreArgs {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("relto-data"))
    }

    /// Opens the store these arguments name.
    pub async fn open(&self) -> CliResult<Arc<dyn Store>> {
        let mut pool = PoolOptions::default();
        if let Some(n) = self.database_pool_size {
            pool.max_connections = n.into();
        }
        open_store(self.database.as_deref(), &self.data_dir(), &pool).await
    }
}

/// Opens a PostgreSQL URL, a SQLite file path, or (None) the SQLite store of a data directory.
pub async fn open_store(
    database: Option<&str>,
    data_dir: &Path,
    pool: &PoolOptions,
) -> CliResult<Arc<dyn Store>> {
    match database {
        Some(url) if is_postgres_url(url) => {
            let store = PostgresStore::connect_with(url, pool).await.map_err(|e| {
                CliError(format!(
                    "cannot open PostgreSQL database {}: {e}",
                    without_password(url)
                ))
            })?;
            Ok(Arc::new(store))
        }
        Some(path) => {
            let path = path.strip_prefix("sqlite://").unwrap_or(path);
            if let Some(parent) = Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        CliError(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
            }
            Ok(Arc::new(SqliteStore::open(path).map_err(|e| {
                CliError(format!("cannot open database {path}: {e}"))
            })?))
        }
        None => Ok(Arc::new(SqliteStore::open_in_dir(data_dir).map_err(
            |e| {
                CliError(format!(
                    "cannot open the data directory {}: {e}",
                    data_dir.display()
                ))
            },
        )?)),
    }
}

/// A database URL fit for messages: `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

/// The hub's nation as configured (`--nation`, `nation =` or `RELTO_NATION`), KOR when none is.
pub fn parse_nation(configured: Option<&str>) -> CliResult<Nation> {
    let code = configured.unwrap_or("KOR");
    Nation::parse(code).ok_or_else(|| CliError(NameError::Nation(code.to_string()).to_string()))
}

/// The hub's own organization, derived from its nation.
pub fn hub_identity(nation: Nation) -> HubIdentity {
    HubIdentity {
        nation,
        organization: OrgSlug::hub(),
        identity: "identity--00000000-0000-5000-8000-000000000001".into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Async workers: one by default. Requests are short and SQLite point reads run in place;
    // long reads and all writes go to the blocking pool, so a second worker mostly adds
    // cross-thread wake-ups (measured: more requests/s with one on a 2-core machine).
    let workers = std::env::var("RELTO_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(workers)
        .max_blocking_threads(16)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("relto: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => config::serve(args).await.map(|_| ExitCode::SUCCESS),
            Command::Apply { store, file } => {
                apply::apply(&store, &file).await.map(|_| ExitCode::SUCCESS)
            }
            Command::Import {
                store,
                collection,
                api_root,
                file,
                quiet,
                as_account,
                format,
            } => {
                transfer::import(
                    &store,
                    transfer::ImportTarget {
                        collection: &collection,
                        api_root: api_root.as_deref(),
                        as_account: as_account.as_deref(),
                    },
                    &file,
                    quiet,
                    format,
                )
                .await
            }
            Command::Draft {
                store,
                collection,
                api_root,
                label,
                output,
                file,
            } => {
                draft_cmd::draft(draft_cmd::DraftArgs {
                    store: &store,
                    collection: collection.as_deref(),
                    api_root: api_root.as_deref(),
                    label: label.as_deref(),
                    output: output.as_deref(),
                    file: &file,
                })
                .await
            }
            Command::Export {
                store,
                collection,
                api_root,
                output,
                all_versions,
                as_account,
                format,
                acs,
            } => transfer::export(
                &store,
                transfer::ImportTarget {
                    collection: &collection,
                    api_root: api_root.as_deref(),
                    as_account: as_account.as_deref(),
                },
                output.as_deref(),
                transfer::ExportForm {
                    all_versions,
                    format,
                    acs,
                },
            )
            .await
            .map(|_| ExitCode::SUCCESS),
            Command::ReleasePreview {
                store,
                collection,
                api_root,
                object,
            } => transfer::release_preview(&store, &collection, api_root.as_deref(), &object)
                .await
                .map(|_| ExitCode::SUCCESS),
            Command::Validate { files } => transfer::validate(&files),
            Command::Plan { command } => plan_cmd::run(command).await.map(|_| ExitCode::SUCCESS),
            Command::Peers { store } => peers_cmd::list(&store).await.map(|_| ExitCode::SUCCESS),
            Command::Migrate { data_dir, from, to } => {
                let from = from.unwrap_or_else(|| {
                    data_dir
                        .unwrap_or_else(|| PathBuf::from("relto-data"))
                        .join("relto.db")
                });
                migrate::run(&from, &to).await.map(|_| ExitCode::SUCCESS)
            }
            Command::Audit { command } => match command {
                AuditCommand::Verify { store, checkpoints } => {
                    audit_cmd::verify(&store, checkpoints.as_deref()).await
                }
                AuditCommand::Export {
                    store,
                    organization,
                    object,
                    since,
                    until,
                } => {
                    let filter = audit_cmd::ExportFilter {
                        organization: organization.as_deref(),
                        object: object.as_deref(),
                        since_us: parse_time("since", since.as_deref())?,
                        until_us: parse_time("until", until.as_deref())?,
                    };
                    audit_cmd::export(&store, &filter)
                        .await
                        .map(|_| ExitCode::SUCCESS)
                }
                AuditCommand::Ledger { store, object } => audit_cmd::ledger(&store, &object)
                    .await
                    .map(|_| ExitCode::SUCCESS),
                AuditCommand::Checkpoint { store } => audit_cmd::checkpoint(&store)
                    .await
                    .map(|_| ExitCode::SUCCESS),
                AuditCommand::Witnesses { store, of } => audit_cmd::witnesses(&store, &of)
                    .await
                    .map(|_| ExitCode::SUCCESS),
            },
            Command::Key {
                command: KeyCommand::Create { out },
            } => create_key(&out).map(|_| ExitCode::SUCCESS),
            Command::Token {
                command:
                    TokenCommand::Create {
                        store,
                        account,
                        expires_days,
                        label,
                    },
            } => apply::create_token(&store, &account, expires_days, &label)
                .await
                .map(|_| ExitCode::SUCCESS),
            Command::Token {
                command:
                    TokenCommand::Revoke {
                        store,
                        account,
                        token,
                        all: _,
                    },
            } => apply::revoke_tokens(&store, &account, token.as_deref())
                .await
                .map(|_| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(CliError(msg)) => {
            eprintln!("relto: {msg}");
            ExitCode::from(2)
        }
    }
}

/// `relto key create --out FILE`.
fn create_key(out: &Path) -> CliResult<()> {
    use std::io::Write;
    let der = relto_taxii::signature::generate_key().map_err(CliError)?;
    let key = relto_taxii::signature::key_from_pkcs8(&der).map_err(CliError)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).map_err(|e| {
        CliError(format!(
            "cannot create {}: {e} (relto never overwrites a key)",
            out.display()
        ))
    })?;
    file.write_all(relto_taxii::signature::key_to_pem(&der).as_bytes())?;
    eprintln!(
        "wrote {} (keep it secret; start the hub with relto serve --signing-key {})",
        out.display(),
        out.display()
    );
    eprintln!("in each peer hub's realm, on the [[account]] this hub posts with:");
    println!(
        "public_key = \"{}\"",
        relto_taxii::signature::public_key_text(&key)
    );
    Ok(())
}
