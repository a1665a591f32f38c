//! `relto plan`: release plans from the command line (DESIGN §9), through the same hub
//! operations as the API. Acting as an account (propose, approve, withdraw) needs that
//! account's password or one of its API tokens: RELTO_PASSWORD or RELTO_TOKEN, else asked
//! for on the terminal (or read as one line from standard input).

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use clap::Subcommand;
use relto_hub::Hub;
use relto_policy::plan::PlanRequest;
use relto_store::{Account, Situation, Store};

use crate::{CliError, CliResult, StoreArgs};

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Propose a situation from a plan file (TOML: title, collection, holdings, [[stages]]).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// The plan file.
        file: std::path::PathBuf,
        /// The proposing account (its organization is the originator).
        #[arg(long = "as", value_name = "ACCOUNT")]
        as_account: String,
    },
    /// Print a situation: its holdings and stages with their states and approvals.
    Show {
        #[command(flatten)]
        store: StoreArgs,
        /// The situation's id.
        id: String,
    },
    /// Print what a stage would release to whom, and the snapshot an approval signs.
    Preview {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
        /// The stage's number (1 is the first).
        stage: u32,
    },
    /// Approve a stage as a releasing officer: shows the preview, then signs its snapshot.
    Approve {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
        stage: u32,
        #[arg(long = "as", value_name = "ACCOUNT")]
        as_account: String,
    },
    /// Withdraw an active stage (one releasing officer suffices).
    Withdraw {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
        stage: u32,
        #[arg(long = "as", value_name = "ACCOUNT")]
        as_account: String,
    },
}

pub async fn run(command: PlanCommand) -> CliResult<()> {
    match command {
        PlanCommand::Create {
            store,
            file,
            as_account,
        } => {
            let request = read_plan(&file)?;
            let hub = hub(&store).await?;
            let account = signed_in(hub.store.as_ref(), &as_account).await?;
            let coll =
                crate::transfer::find_collection(hub.store.as_ref(), &request.collection, None)
                    .await?;
            let situation = hub
                .propose_plan(&account, coll.pk, &coll.id, request, "cli")
                .await?;
            print_situation(&hub, &situation).await
        }
        PlanCommand::Show { store, id } => {
            let hub = hub(&store).await?;
            let situation = hub.situation(&id).await?;
            print_situation(&hub, &situation).await
        }
        PlanCommand::Preview { store, id, stage } => {
            let hub = hub(&store).await?;
            let situation = hub.situation(&id).await?;
            let preview = hub.preview_stage(&situation, stage).await?;
            println!("{:#}", preview.to_json());
            Ok(())
        }
        PlanCommand::Approve {
            store,
            id,
            stage,
            as_account,
        } => {
            let hub = hub(&store).await?;
            let situation = hub.situation(&id).await?;
            // The officer signs exactly what is shown here.
            let preview = hub.preview_stage(&situation, stage).await?;
            eprintln!("{:#}", preview.to_json());
            eprintln!(
                "relto: approving stage {stage} of {id} signs snapshot {}",
                preview.snapshot
            );
            let account = signed_in(hub.store.as_ref(), &as_account).await?;
            let situation = hub
                .approve_stage(&account, &id, stage, &preview.snapshot, "cli")
                .await?;
            print_situation(&hub, &situation).await
        }
        PlanCommand::Withdraw {
            store,
            id,
            stage,
            as_account,
        } => {
            let hub = hub(&store).await?;
            let account = signed_in(hub.store.as_ref(), &as_account).await?;
            let situation = hub.withdraw_stage(&account, &id, stage, "cli").await?;
            print_situation(&hub, &situation).await
        }
    }
}

async fn hub(store: &StoreArgs) -> CliResult<Hub> {
    Ok(Hub::new(store.open().await?, 0))
}

fn read_plan(file: &Path) -> CliResult<PlanRequest> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError(format!("cannot read plan file {}: {e}", file.display())))?;
    toml::from_str(&text).map_err(|e| CliError(format!("{}: {e}", file.display())))
}

async fn print_situation(hub: &Hub, s: &Situation) -> CliResult<()> {
    println!("{:#}", hub.situation_json(s).await?);
    Ok(())
}

/// The account, once its password or one of its tokens is given.
async fn signed_in(store: &dyn Store, name: &str) -> CliResult<Account> {
    let refused = || CliError(format!("wrong password or token for account '{name}'"));
    let account = store
        .account(name)
        .await?
        .ok_or_else(|| CliError(format!("no enabled account named '{name}'")))?;
    if let Ok(token) = std::env::var("RELTO_TOKEN") {
        let sha = relto_server::token_sha256(token.trim());
        return match store.account_by_token(&sha, relto_hub::now_us()).await? {
            Some(a) if a.name == account.name => Ok(account),
            _ => Err(refused()),
        };
    }
    let password = match std::env::var("RELTO_PASSWORD") {
        Ok(p) => p,
        Err(_) if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("Password for {name}: "))?
        }
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    match &account.password_hash {
        Some(hash) if relto_server::verify_password(&password, hash) => Ok(account),
        _ => Err(refused()),
    }
}
