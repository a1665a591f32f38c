//! `relto apply` and `relto token create`.

use std::path::Path;

use relto_policy::realm::DEFAULT_MAX_CONTENT_LENGTH;
use relto_policy::{parse_realm, Realm};
use relto_server::{hash_password, new_token, now_us, token_sha256, verify_password};
use relto_store::Store;
use relto_store::{ApiRoot, NewToken, Organization, PlannedAccount, PlannedCollection, RealmPlan};

use crate::{CliError, CliResult, StoreArgs};
use relto_store::audit::{AuditKind, AuditOutcome};

/// Least length of a token given through `token_env` (a guessable token is no secret).
const MIN_TOKEN_LEN: usize = 32;

/// Resolves secrets named by the realm (environment variables) and builds the plan. A
/// password that the stored hash already matches keeps that hash, so that applying the same
/// realm twice changes nothing.
async fn plan(realm: &Realm, store: &dyn Store) -> CliResult<RealmPlan> {
    let mut problems = Vec::new();
    let mut accounts = Vec::new();
    for a in &realm.accounts {
        let password_hash = match (&a.password_env, &a.password_hash) {
            (Some(var), _) => match std::env::var(var) {
                Ok(pw) if !pw.is_empty() => {
                    let stored = store.account(&a.name).await?.and_then(|s| s.password_hash);
                    match stored {
                        Some(h) if verify_password(&pw, &h) => None,
                        _ => Some(hash_password(&pw)?),
                    }
                }
                _ => {
                    problems.push(format!(
                        "account '{}': environment variable {var} (password_env) is not set",
                        a.name
                    ));
                    None
                }
            },
            (None, Some(h)) => Some(h.clone()),
            (None, None) => None,
        };
        let token_sha256 = match &a.token_env {
            Some(var) => match std::env::var(var) {
                Ok(t) if t.len() >= MIN_TOKEN_LEN => Some(token_sha256(&t)),
                Ok(_) => {
                    problems.push(format!(
                        "account '{}': the token in {var} is shorter than {MIN_TOKEN_LEN} characters",
                        a.name
                    ));
                    None
                }
                Err(_) => {
                    problems.push(format!(
                        "account '{}': environment variable {var} (token_env) is not set",
                        a.name
                    ));
                    None
                }
            },
            None => None,
        };
        // parse_realm has checked every name; a failure here is reported, never skipped.
        let organization = match a.organization.parse() {
            Ok(slug) => slug,
            Err(e) => {
                problems.push(format!("account '{}': organization {e}", a.name));
                continue;
            }
        };
        if let Some(key) = &a.public_key {
            if !relto_taxii::signature::is_public_key(key) {
                problems.push(format!(
                    "account '{}': public_key must be an Ed25519 public key in base64 (the line relto key create prints)",
                    a.name
                ));
            }
        }
        accounts.push(PlannedAccount {
            name: a.name.clone(),
            organization,
            // The realm check has refused unknown role names.
            roles: a
                .roles
                .iter()
                .filter_map(|r| relto_policy::Role::parse(r))
                .collect(),
            password_hash,
            token_sha256,
            clearances: a.clearances.clone(),
            public_key: a.public_key.clone(),
        });
    }
    let mut organizations = Vec::new();
    for o in &realm.organizations {
        match (o.slug.parse(), o.nation.parse()) {
            (Ok(slug), Ok(nation)) => organizations.push(Organization {
                slug,
                name: o.name.clone(),
                nation,
                identity: o.identity_id(),
                accredited: o.accredited.clone(),
            }),
            (Err(e), _) | (_, Err(e)) => problems.push(format!("organization '{}': {e}", o.slug)),
        }
    }
    if !problems.is_empty() {
        return Err(CliError(problems.join("\n")));
    }
    Ok(RealmPlan {
        release_rules: realm.release_rules(),
        api_roots: realm
            .api_roots
            .iter()
            .map(|r| ApiRoot {
                path: r.path.clone(),
                title: r.title.clone(),
                description: r.description.clone(),
                max_content_length: r.max_content_length.unwrap_or(DEFAULT_MAX_CONTENT_LENGTH),
            })
            .collect(),
        organizations,
        accounts,
        collections: realm
            .collections
            .iter()
            .map(|c| PlannedCollection {
                id: c.id.to_ascii_lowercase(),
                api_root: c.api_root.clone(),
                title: c.title.clone(),
                description: c.description.clone(),
                alias: c.alias.clone(),
                readers: c.readers.clone(),
                writers: c.writers.clone(),
            })
            .collect(),
        // The credentials' variables are read by `relto serve`, where the exchange runs.
        peers: realm.peers.clone(),
    })
}

pub async fn apply(store_args: &StoreArgs, file: &Path) -> CliResult<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError(format!("cannot read realm file {}: {e}", file.display())))?;
    let realm = parse_realm(&text).map_err(|e| {
        CliError(format!(
            "{} was not applied; nothing changed:\n{e}",
            file.display()
        ))
    })?;
    let store = store_args.open().await?;
    let plan = plan(&realm, store.as_ref()).await.map_err(|e| {
        CliError(format!(
            "{} was not applied; nothing changed:\n{}",
            file.display(),
            e.0
        ))
    })?;
    let s = store.apply_realm(&plan).await?;
    let mut e = crate::audit_cmd::cli_event(AuditKind::RealmApply, "", "");
    e.outcome = AuditOutcome::Ok.into();
    e.detail = format!(
        "{}: {} created, {} updated, {} unchanged, {} disabled",
        file.display(),
        s.created,
        s.updated,
        s.unchanged,
        s.disabled
    );
    store.append_audit(vec![e]).await?;
    println!(
        "applied {}: {} created, {} updated, {} unchanged, {} disabled",
        file.display(),
        s.created,
        s.updated,
        s.unchanged,
        s.disabled
    );
    Ok(())
}

pub async fn create_token(
    store_args: &StoreArgs,
    account: &str,
    expires_days: Option<u32>,
    label: &str,
) -> CliResult<()> {
    let store = store_args.open().await?;
    let token = new_token()?;
    let now = now_us();
    store
        .add_token(&NewToken {
            account: account.to_string(),
            sha256: token_sha256(&token),
            label: label.to_string(),
            created_us: now,
            expires_us: expires_days.map(|d| now + i64::from(d) * 86_400_000_000),
        })
        .await?;
    let mut e = crate::audit_cmd::cli_event(AuditKind::TokenCreate, account, "");
    e.outcome = AuditOutcome::Ok.into();
    e.detail = format!("label {label}");
    store.append_audit(vec![e]).await?;
    println!("{token}");
    eprintln!("relto: token for '{account}' created; it is shown only now (stored as SHA-256)");
    Ok(())
}

/// `relto token revoke`: one token (read from standard input when `token` is `-`) or every
/// token of the account.
pub async fn revoke_tokens(
    store_args: &StoreArgs,
    account: &str,
    token: Option<&str>,
) -> CliResult<()> {
    let sha = match token {
        None => None,
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_line(&mut text)
                .map_err(|e| CliError(format!("cannot read the token from standard input: {e}")))?;
            let text = text.trim();
            if text.is_empty() {
                return Err(CliError(
                    "no token on standard input: pipe the token to revoke, or use --all".into(),
                ));
            }
            Some(token_sha256(text))
        }
        Some(_) => {
            return Err(CliError(
                "give --token - and the token on standard input (a token on the command line stays in the shell's history)".into(),
            ))
        }
    };
    let store = store_args.open().await?;
    if store.account(account).await?.is_none() {
        return Err(CliError(format!("no enabled account named '{account}'")));
    }
    let n = store.revoke_tokens(account, sha.as_ref()).await?;
    let mut e = crate::audit_cmd::cli_event(AuditKind::TokenRevoke, account, "");
    e.outcome = if n > 0 {
        AuditOutcome::Ok
    } else {
        AuditOutcome::Nothing
    }
    .into();
    e.detail = format!(
        "{n} revoked ({})",
        if sha.is_some() { "one token" } else { "all" }
    );
    store.append_audit(vec![e]).await?;
    if sha.is_some() && n == 0 {
        return Err(CliError(format!(
            "account '{account}' has no such token: nothing revoked"
        )));
    }
    eprintln!("relto: {n} token(s) of '{account}' revoked; servers refuse them within a second");
    Ok(())
}
