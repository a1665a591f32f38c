//! The models from a result row's columns, and the realm apply's tally, written once for both
//! backends: each adapts its row type to [`Columns`] and keeps only its SQL dialect.

use crate::{Account, ApiRoot, ApplySummary, Collection, Organization};

/// Reading one result row's columns by position.
pub trait Columns {
    type Error;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
}

/// An account's roles as the stores keep them (a JSON list of their names).
pub fn roles_list(roles: &[relto_policy::Role]) -> String {
    json_list(&roles.iter().map(|r| r.to_string()).collect::<Vec<_>>())
}

/// Lists are kept as JSON text in both stores.
pub fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub fn parse_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// The columns [`account`] reads, in order.
pub const ACCOUNT_SELECT: &str =
    "SELECT a.name, a.roles, a.password_hash, o.slug, o.name, o.nation, o.identity, o.accredited, a.clearances
     FROM accounts a JOIN organizations o ON o.slug = a.organization";

pub fn account<C: Columns>(r: &C) -> Result<Account, C::Error> {
    Ok(Account {
        name: r.text(0)?,
        // A role this relto does not know grants nothing.
        roles: parse_list(&r.text(1)?)
            .iter()
            .filter_map(|n| relto_policy::Role::parse(n))
            .collect(),
        password_hash: r.opt_text(2)?,
        organization: Organization {
            slug: r.text(3)?,
            name: r.text(4)?,
            nation: r.text(5)?,
            identity: r.text(6)?,
            accredited: parse_list(&r.text(7)?),
        },
        clearances: serde_json::from_str(&r.text(8)?).unwrap_or_default(),
    })
}

/// The columns [`collection`] reads, in order.
pub const COLLECTION_SELECT: &str =
    "SELECT pk, id, api_root, title, description, alias, readers, writers FROM collections";

pub fn collection<C: Columns>(r: &C) -> Result<Collection, C::Error> {
    Ok(Collection {
        pk: r.int(0)?,
        id: r.text(1)?,
        api_root: r.text(2)?,
        title: r.text(3)?,
        description: r.opt_text(4)?,
        alias: r.opt_text(5)?,
        readers: parse_list(&r.text(6)?),
        writers: parse_list(&r.text(7)?),
    })
}

/// An API root from columns `at..at+4` (path, title, description, max_content_length).
pub fn api_root<C: Columns>(r: &C, at: usize) -> Result<ApiRoot, C::Error> {
    Ok(ApiRoot {
        path: r.text(at)?,
        title: r.text(at + 1)?,
        description: r.opt_text(at + 2)?,
        max_content_length: r.int(at + 3)?.max(0) as u64,
    })
}

/// Counts one upsert's effect on the summary: `changed` rows from an UPDATE … WHERE differs.
pub fn tally(summary: &mut ApplySummary, existed: bool, changed: u64) {
    match (existed, changed) {
        (false, _) => summary.created += 1,
        (true, 0) => summary.unchanged += 1,
        (true, _) => summary.updated += 1,
    }
}
