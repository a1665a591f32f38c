//! Rows of the realm's tables read through the shared mapping, and the realm apply's helpers.

use super::*;

/// A SQLite row read through the shared row mapping (`relto_store::rows`).
pub(crate) struct SqlRow<'a, 'b>(pub(crate) &'a rusqlite::Row<'b>);

impl Columns for SqlRow<'_, '_> {
    type Error = rusqlite::Error;
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.0.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.0.get(i)
    }
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.0.get(i)
    }
    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.0.get(i)
    }
    fn parsed<T>(&self, i: usize) -> rusqlite::Result<T>
    where
        T: TryFrom<String>,
        T::Error: std::error::Error + Send + Sync + 'static,
    {
        T::try_from(self.0.get(i)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    }
}

pub(crate) fn account_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    rows::account(&SqlRow(r))
}

pub(crate) fn collection_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Collection> {
    rows::collection(&SqlRow(r))
}

pub(crate) fn api_root_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiRoot> {
    rows::api_root(&SqlRow(r), 0)
}

pub(crate) fn exists(tx: &Transaction<'_>, sql: &str, key: &str) -> StoreResult<bool> {
    tx.query_row(sql, [key], |_| Ok(()))
        .optional()
        .map(|o| o.is_some())
        .map_err(db_err)
}

/// Disables every non-builtin row of `table` whose key is not in `keep`; returns how many.
pub(crate) fn disable_missing(
    tx: &Transaction<'_>,
    table: &str,
    key: &str,
    keep: &[&str],
) -> StoreResult<usize> {
    let placeholders = vec!["?"; keep.len()].join(",");
    let builtin = if table == "organizations" || table == "accounts" {
        " AND builtin = 0"
    } else {
        ""
    };
    let sql = if keep.is_empty() {
        format!("UPDATE {table} SET enabled = 0 WHERE enabled = 1{builtin}")
    } else {
        format!(
            "UPDATE {table} SET enabled = 0 WHERE enabled = 1{builtin} AND {key} NOT IN ({placeholders})"
        )
    };
    tx.execute(&sql, params_from_iter(keep.iter()))
        .map_err(db_err)
}
