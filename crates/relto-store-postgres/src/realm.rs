//! Rows of the realm's tables read through the shared mapping, and the realm apply.

use super::*;

/// A PostgreSQL row read through the shared row mapping (`relto_store::rows`).
pub(crate) struct PgRow<'a>(pub(crate) &'a Row);

impl Columns for PgRow<'_> {
    type Error = tokio_postgres::Error;
    fn text(&self, i: usize) -> Result<String, Self::Error> {
        self.0.try_get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error> {
        self.0.try_get(i)
    }
    fn int(&self, i: usize) -> Result<i64, Self::Error> {
        self.0.try_get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error> {
        self.0.try_get(i)
    }
    fn parsed<T>(&self, i: usize) -> Result<T, Self::Error>
    where
        T: TryFrom<String>,
        T::Error: std::error::Error + Send + Sync + 'static,
    {
        self.0.try_get::<_, Parsed<T>>(i).map(|p| p.0)
    }
}

/// A text column that must parse into `T` (the driver reports a failure as a conversion error).
struct Parsed<T>(T);

impl<'a, T> tokio_postgres::types::FromSql<'a> for Parsed<T>
where
    T: TryFrom<String>,
    T::Error: std::error::Error + Send + Sync + 'static,
{
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let text = <String as tokio_postgres::types::FromSql>::from_sql(ty, raw)?;
        Ok(Parsed(T::try_from(text)?))
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <String as tokio_postgres::types::FromSql>::accepts(ty)
    }
}

pub(crate) fn account_from_row(r: &Row) -> R<Account> {
    Ok(rows::account(&PgRow(r))?)
}

pub(crate) fn collection_from_row(r: &Row) -> R<Collection> {
    Ok(rows::collection(&PgRow(r))?)
}

pub(crate) fn api_root_from_row(r: &Row, at: usize) -> R<ApiRoot> {
    Ok(rows::api_root(&PgRow(r), at)?)
}

pub(crate) async fn exists(db: Tx<'_>, sql: &str, key: &str) -> R<bool> {
    Ok(db.query_opt(sql, &[&key]).await?.is_some())
}

/// Disables every non-builtin row of `table` whose key is not in `keep`; returns how many.
pub(crate) async fn disable_missing(
    db: Tx<'_>,
    table: &str,
    key: &str,
    keep: Vec<&str>,
) -> R<usize> {
    let builtin = if table == "organizations" || table == "accounts" {
        " AND NOT builtin"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE {table} SET enabled = FALSE WHERE enabled{builtin} AND NOT ({key} = ANY($1::text[]))"
    );
    Ok(db.execute(&sql, &[&keep]).await? as usize)
}

pub(crate) async fn apply_plan(db: Tx<'_>, plan: &RealmPlan) -> R<ApplySummary> {
    // Realm applies from several nodes take turns: each sees what the one before created.
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&REALM_LOCK])
        .await?;
    let mut s = ApplySummary::default();
    for r in &plan.api_roots {
        let existed = exists(db, "SELECT 1 FROM api_roots WHERE path = $1", &r.path).await?;
        let max = r.max_content_length as i64;
        let changed = if existed {
            db.execute(
                "UPDATE api_roots SET title = $2, description = $3, max_content_length = $4, enabled = TRUE
                 WHERE path = $1 AND (title IS DISTINCT FROM $2 OR description IS DISTINCT FROM $3
                   OR max_content_length IS DISTINCT FROM $4 OR NOT enabled)",
                &[&r.path, &r.title, &r.description, &max],
            )
            .await?
        } else {
            db.execute(
                "INSERT INTO api_roots (path, title, description, max_content_length, enabled)
                 VALUES ($1, $2, $3, $4, TRUE)",
                &[&r.path, &r.title, &r.description, &max],
            )
            .await?
        };
        tally(&mut s, existed, changed);
    }
    for o in &plan.organizations {
        let existed = exists(
            db,
            "SELECT 1 FROM organizations WHERE slug = $1",
            o.slug.as_str(),
        )
        .await?;
        let acc = json_list(&o.accredited);
        let args: [&(dyn ToSql + Sync); 5] = [
            &o.slug.as_str(),
            &o.name,
            &o.nation.as_str(),
            &o.identity,
            &acc,
        ];
        let changed = if existed {
            db.execute(
                "UPDATE organizations SET name = $2, nation = $3, identity = $4, accredited = $5, enabled = TRUE
                 WHERE slug = $1 AND (name IS DISTINCT FROM $2 OR nation IS DISTINCT FROM $3
                   OR identity IS DISTINCT FROM $4 OR accredited IS DISTINCT FROM $5 OR NOT enabled)",
                &args,
            )
            .await?
        } else {
            db.execute(
                "INSERT INTO organizations (slug, name, nation, identity, accredited, enabled, builtin)
                 VALUES ($1, $2, $3, $4, $5, TRUE, FALSE)",
                &args,
            )
            .await?
        };
        tally(&mut s, existed, changed);
    }
    for a in &plan.accounts {
        let existed = exists(db, "SELECT 1 FROM accounts WHERE name = $1", &a.name).await?;
        let roles = rows::roles_list(&a.roles);
        let clearances = serde_json::to_string(&a.clearances).unwrap_or_else(|_| "[]".into());
        let args: [&(dyn ToSql + Sync); 6] = [
            &a.name,
            &a.organization.as_str(),
            &roles,
            &a.password_hash,
            &clearances,
            &a.public_key,
        ];
        if a.password_hash.is_some() {
            // A new password ends the sessions the old one opened.
            db.execute(
                "DELETE FROM tokens WHERE account = $1 AND label = 'session' AND EXISTS
                   (SELECT 1 FROM accounts WHERE name = $1 AND password_hash IS DISTINCT FROM $2::text)",
                &[&a.name, &a.password_hash],
            )
            .await?;
        }
        let changed = if existed {
            db.execute(
                "UPDATE accounts SET organization = $2, roles = $3,
                   password_hash = COALESCE($4::text, password_hash), clearances = $5,
                   public_key = $6, enabled = TRUE
                 WHERE name = $1 AND (organization IS DISTINCT FROM $2 OR roles IS DISTINCT FROM $3
                   OR ($4::text IS NOT NULL AND password_hash IS DISTINCT FROM $4::text)
                   OR clearances IS DISTINCT FROM $5 OR public_key IS DISTINCT FROM $6 OR NOT enabled)",
                &args,
            )
            .await?
        } else {
            db.execute(
                "INSERT INTO accounts (name, organization, roles, password_hash, clearances, public_key, enabled, builtin)
                 VALUES ($1, $2, $3, $4, $5, $6, TRUE, FALSE)",
                &args,
            )
            .await?
        };
        tally(&mut s, existed, changed);
        // The realm's token is the one it names now: a rotated or removed one stops working.
        let sha = a.token_sha256.as_ref().map(|s| s.to_vec());
        db.execute(
            "DELETE FROM tokens WHERE account = $1 AND label = 'realm' AND sha256 IS DISTINCT FROM $2::bytea",
            &[&a.name, &sha],
        )
        .await?;
        if let Some(sha) = &sha {
            db.execute(
                "INSERT INTO tokens (sha256, account, label, created_us, expires_us)
                 VALUES ($1, $2, 'realm', 0, NULL) ON CONFLICT (sha256) DO NOTHING",
                &[sha, &a.name],
            )
            .await?;
        }
    }
    for c in &plan.collections {
        let existed = exists(db, "SELECT 1 FROM collections WHERE id = $1", &c.id).await?;
        let (readers, writers) = (json_list(&c.readers), json_list(&c.writers));
        let args: [&(dyn ToSql + Sync); 7] = [
            &c.id,
            &c.api_root,
            &c.title,
            &c.description,
            &c.alias,
            &readers,
            &writers,
        ];
        let changed = if existed {
            db.execute(
                "UPDATE collections SET api_root = $2, title = $3, description = $4, alias = $5,
                   readers = $6, writers = $7, enabled = TRUE
                 WHERE id = $1 AND (api_root IS DISTINCT FROM $2 OR title IS DISTINCT FROM $3
                   OR description IS DISTINCT FROM $4 OR alias IS DISTINCT FROM $5
                   OR readers IS DISTINCT FROM $6 OR writers IS DISTINCT FROM $7 OR NOT enabled)",
                &args,
            )
            .await?
        } else {
            db.execute(
                "INSERT INTO collections (id, api_root, title, description, alias, readers, writers, enabled)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE)",
                &args,
            )
            .await?
        };
        tally(&mut s, existed, changed);
    }
    for p in &plan.peers {
        let existed = exists(db, "SELECT 1 FROM peers WHERE name = $1", &p.name).await?;
        let config = rows::peer_config(p);
        let changed = if existed {
            db.execute(
                "UPDATE peers SET config = $2, enabled = TRUE
                 WHERE name = $1 AND (config IS DISTINCT FROM $2 OR NOT enabled)",
                &[&p.name, &config],
            )
            .await?
        } else {
            db.execute(
                "INSERT INTO peers (name, config, enabled) VALUES ($1, $2, TRUE)",
                &[&p.name, &config],
            )
            .await?
        };
        tally(&mut s, existed, changed);
    }
    let peers = plan.peers.iter().map(|p| p.name.as_str()).collect();
    s.disabled += disable_missing(db, "peers", "name", peers).await?;
    let roots = plan.api_roots.iter().map(|r| r.path.as_str()).collect();
    let orgs = plan.organizations.iter().map(|o| o.slug.as_str()).collect();
    let accounts = plan.accounts.iter().map(|a| a.name.as_str()).collect();
    let colls = plan.collections.iter().map(|c| c.id.as_str()).collect();
    s.disabled += disable_missing(db, "collections", "id", colls).await?;
    s.disabled += disable_missing(db, "accounts", "name", accounts).await?;
    s.disabled += disable_missing(db, "organizations", "slug", orgs).await?;
    s.disabled += disable_missing(db, "api_roots", "path", roots).await?;
    let rules = serde_json::to_string(&plan.release_rules)
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    db.execute(
        "UPDATE hub_state SET release_rules = $1, release_generation = release_generation + 1",
        &[&rules],
    )
    .await?;
    Ok(s)
}
