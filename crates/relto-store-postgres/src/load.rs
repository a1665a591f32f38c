//! Bulk loading of a whole hub into an empty database (`relto migrate`): the caller hands over
//! each table's rows as columns, in `LoadTable::ALL`'s order, then the hub's state. Everything
//! runs in one transaction on a connection of its own: nothing is committed unless `finish`
//! is reached, and a load dropped half-way rolls back when its connection closes. Row keys,
//! date_added, the cursor key and every audit record are written as given, so outstanding
//! `next` cursors stay valid and the audit chain verifies the same.

use relto_store::StoreError;
use tokio_postgres::types::ToSql;

use crate::pool::{Error, R};
use crate::PostgresStore;

/// A table a load writes, in the order `ALL` gives (referenced tables first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadTable {
    ApiRoots,
    Organizations,
    Accounts,
    Tokens,
    Collections,
    Situations,
    Stages,
    Approvals,
    CoveredRows,
    LabelSets,
    Markings,
    Objects,
    ObjectRefs,
    Statuses,
    Peers,
    PeerSent,
    Audit,
}

/// The type of one column of a load, as PostgreSQL holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    Int,
    Bool,
    Text,
    Bytes,
}

/// One column of a chunk of rows.
#[derive(Debug)]
pub enum Column {
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

/// The hub-wide state a load ends with.
#[derive(Debug, Default)]
pub struct HubState {
    pub release_generation: i64,
    pub release_rules: Option<String>,
    pub cursor_key: Option<Vec<u8>>,
}

use ColumnKind::{Bool, Bytes, Int, Text};

impl LoadTable {
    pub const ALL: [LoadTable; 17] = [
        LoadTable::ApiRoots,
        LoadTable::Organizations,
        LoadTable::Accounts,
        LoadTable::Tokens,
        LoadTable::Collections,
        LoadTable::Situations,
        LoadTable::Stages,
        LoadTable::Approvals,
        LoadTable::CoveredRows,
        LoadTable::LabelSets,
        LoadTable::Markings,
        LoadTable::Objects,
        LoadTable::ObjectRefs,
        LoadTable::Statuses,
        LoadTable::Peers,
        LoadTable::PeerSent,
        LoadTable::Audit,
    ];

    pub fn name(self) -> &'static str {
        self.shape().0
    }

    /// The columns a chunk of this table holds, in order, with their kinds.
    pub fn columns(self) -> &'static [(&'static str, ColumnKind)] {
        self.shape().1
    }

    /// (table, columns, the identity column whose sequence continues after the loaded keys).
    fn shape(
        self,
    ) -> (
        &'static str,
        &'static [(&'static str, ColumnKind)],
        Option<&'static str>,
    ) {
        match self {
            LoadTable::ApiRoots => (
                "api_roots",
                &[
                    ("path", Text),
                    ("title", Text),
                    ("description", Text),
                    ("max_content_length", Int),
                    ("enabled", Bool),
                ],
                None,
            ),
            LoadTable::Organizations => (
                "organizations",
                &[
                    ("slug", Text),
                    ("name", Text),
                    ("nation", Text),
                    ("identity", Text),
                    ("accredited", Text),
                    ("enabled", Bool),
                    ("builtin", Bool),
                ],
                None,
            ),
            LoadTable::Accounts => (
                "accounts",
                &[
                    ("name", Text),
                    ("organization", Text),
                    ("roles", Text),
                    ("password_hash", Text),
                    ("clearances", Text),
                    ("enabled", Bool),
                    ("builtin", Bool),
                    ("public_key", Text),
                ],
                None,
            ),
            LoadTable::Tokens => (
                "tokens",
                &[
                    ("sha256", Bytes),
                    ("account", Text),
                    ("label", Text),
                    ("created_us", Int),
                    ("expires_us", Int),
                ],
                None,
            ),
            LoadTable::Collections => (
                "collections",
                &[
                    ("pk", Int),
                    ("id", Text),
                    ("api_root", Text),
                    ("title", Text),
                    ("description", Text),
                    ("alias", Text),
                    ("readers", Text),
                    ("writers", Text),
                    ("enabled", Bool),
                ],
                Some("pk"),
            ),
            LoadTable::LabelSets => (
                "label_sets",
                &[
                    ("id", Int),
                    ("key", Text),
                    ("markings", Text),
                    ("default_nation", Text),
                    ("alternatives", Text),
                    ("required_markings", Text),
                ],
                Some("id"),
            ),
            LoadTable::Situations => (
                "situations",
                &[
                    ("pk", Int),
                    ("id", Text),
                    ("title", Text),
                    ("collection", Int),
                    ("originator", Text),
                    ("proposer", Text),
                    ("holdings", Text),
                    ("created_us", Int),
                ],
                Some("pk"),
            ),
            LoadTable::Stages => (
                "stages",
                &[
                    ("pk", Int),
                    ("situation", Int),
                    ("n", Int),
                    ("plan", Text),
                    ("state", Text),
                    ("changed_us", Int),
                ],
                Some("pk"),
            ),
            LoadTable::CoveredRows => ("covered_rows", &[("stage", Int), ("row_id", Int)], None),
            LoadTable::Approvals => (
                "approvals",
                &[
                    ("stage", Int),
                    ("account", Text),
                    ("snapshot", Text),
                    ("at_us", Int),
                ],
                None,
            ),
            LoadTable::Markings => ("markings", &[("id", Text), ("raw", Text)], None),
            LoadTable::Objects => (
                "objects",
                &[
                    ("row_id", Int),
                    ("collection", Int),
                    ("stix_id", Text),
                    ("type", Text),
                    ("spec_version", Text),
                    ("version", Int),
                    ("date_added", Int),
                    ("is_first", Bool),
                    ("is_last", Bool),
                    ("raw", Text),
                    ("originator", Text),
                    ("label_set", Int),
                    ("ref_a", Text),
                    ("ref_b", Text),
                    ("has_object_refs", Bool),
                    ("hops", Text),
                ],
                Some("row_id"),
            ),
            LoadTable::ObjectRefs => (
                "object_refs",
                &[("row_id", Int), ("idx", Int), ("ref", Text)],
                None,
            ),
            LoadTable::Peers => (
                "peers",
                &[
                    ("name", Text),
                    ("config", Text),
                    ("enabled", Bool),
                    ("cursor", Text),
                    ("last_attempt_us", Int),
                    ("last_success_us", Int),
                    ("failures", Int),
                    ("last_error", Text),
                    ("transferred", Int),
                    ("withheld", Int),
                ],
                None,
            ),
            LoadTable::PeerSent => (
                "peer_sent",
                &[
                    ("peer", Text),
                    ("stix_id", Text),
                    ("version", Int),
                    ("digest", Text),
                ],
                None,
            ),
            LoadTable::Statuses => (
                "statuses",
                &[
                    ("id", Text),
                    ("api_root", Text),
                    ("account", Text),
                    ("created_us", Int),
                    ("json", Text),
                ],
                None,
            ),
            // The chain's client-supplied fields are bytes: they are hashed as received.
            LoadTable::Audit => (
                "audit",
                &[
                    ("seq", Int),
                    ("ts_us", Int),
                    ("kind", Bytes),
                    ("actor", Bytes),
                    ("organization", Bytes),
                    ("source", Bytes),
                    ("object_id", Bytes),
                    ("object_version", Bytes),
                    ("outcome", Bytes),
                    ("detail", Bytes),
                    ("prev_hash", Text),
                    ("hash", Text),
                ],
                None,
            ),
        }
    }
}

impl Column {
    pub fn new(kind: ColumnKind) -> Self {
        match kind {
            Int => Column::Int(Vec::new()),
            Bool => Column::Bool(Vec::new()),
            Text => Column::Text(Vec::new()),
            Bytes => Column::Bytes(Vec::new()),
        }
    }

    pub fn kind(&self) -> ColumnKind {
        match self {
            Column::Int(_) => Int,
            Column::Bool(_) => Bool,
            Column::Text(_) => Text,
            Column::Bytes(_) => Bytes,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Column::Int(c) => c.len(),
            Column::Bool(c) => c.len(),
            Column::Text(c) => c.len(),
            Column::Bytes(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        match self {
            Column::Int(c) => c.clear(),
            Column::Bool(c) => c.clear(),
            Column::Text(c) => c.clear(),
            Column::Bytes(c) => c.clear(),
        }
    }

    fn cast(&self) -> &'static str {
        match self.kind() {
            Int => "bigint[]",
            Bool => "boolean[]",
            Text => "text[]",
            Bytes => "bytea[]",
        }
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Int(c) => c,
            Column::Bool(c) => c,
            Column::Text(c) => c,
            Column::Bytes(c) => c,
        }
    }
}

/// A load in progress: an open transaction on a connection of its own.
pub struct Load {
    client: deadpool_postgres::ClientWrapper,
    rows: Vec<(LoadTable, u64)>,
}

impl PostgresStore {
    /// Starts loading a hub into this database, which must hold none yet.
    pub async fn begin_load(&self) -> Result<Load, StoreError> {
        Ok(self.begin_load_inner().await?)
    }

    async fn begin_load_inner(&self) -> R<Load> {
        let client = self.pool.open().await?;
        // Without the request timeout: a large hub takes a while.
        client
            .batch_execute("SET statement_timeout = 0; BEGIN")
            .await?;
        let holds: i64 = client
            .query_one(
                "SELECT (SELECT count(*) FROM organizations) + (SELECT count(*) FROM api_roots)
                      + (SELECT count(*) FROM objects) + (SELECT count(*) FROM audit)",
                &[],
            )
            .await?
            .try_get(0)?;
        if holds > 0 {
            return Err(StoreError::Invalid(
                "the PostgreSQL database already holds a hub; migrate into an empty database"
                    .into(),
            )
            .into());
        }
        Ok(Load {
            client,
            rows: Vec::new(),
        })
    }
}

impl Load {
    /// Writes one chunk of `table`'s rows: one column per entry of `table.columns()`, all of
    /// the same length.
    pub async fn insert(
        &mut self,
        table: LoadTable,
        columns: &[Column],
    ) -> Result<u64, StoreError> {
        let shape = table.columns();
        let n = columns.first().map_or(0, Column::len);
        if columns.len() != shape.len()
            || columns
                .iter()
                .zip(shape)
                .any(|(c, (_, k))| c.kind() != *k || c.len() != n)
        {
            return Err(StoreError::Internal(format!(
                "a chunk of {} does not have the table's columns",
                table.name()
            )));
        }
        let names: Vec<&str> = shape.iter().map(|(name, _)| *name).collect();
        let arrays: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("${}::{}", i + 1, c.cast()))
            .collect();
        // Keys are written as given; objects.row_id is GENERATED ALWAYS.
        let overriding = if table == LoadTable::Objects {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO {} ({}){overriding} SELECT * FROM unnest({})",
            table.name(),
            names.join(", "),
            arrays.join(", ")
        );
        let params: Vec<&(dyn ToSql + Sync)> = columns.iter().map(Column::param).collect();
        let written = self
            .client
            .execute(sql.as_str(), &params)
            .await
            .map_err(Error::from)?;
        match self.rows.iter_mut().find(|(t, _)| *t == table) {
            Some((_, total)) => *total += written,
            None => self.rows.push((table, written)),
        }
        Ok(written)
    }

    /// Sets the hub's state, continues the key sequences after the loaded keys and commits.
    /// Returns the rows written per table.
    pub async fn finish(self, state: HubState) -> Result<Vec<(&'static str, u64)>, StoreError> {
        Ok(self.finish_inner(state).await?)
    }

    async fn finish_inner(self, state: HubState) -> R<Vec<(&'static str, u64)>> {
        let c = &self.client;
        for table in LoadTable::ALL {
            if let (name, _, Some(key)) = table.shape() {
                c.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{name}', '{key}'), \
                         GREATEST((SELECT MAX({key}) FROM {name}), 1))"
                    ),
                    &[],
                )
                .await?;
            }
        }
        c.execute(
            "UPDATE hub_state SET release_generation = $1, release_rules = $2, cursor_key = $3",
            &[
                &state.release_generation,
                &state.release_rules,
                &state.cursor_key,
            ],
        )
        .await?;
        c.execute(
            "UPDATE hub_clock SET last_date_added = GREATEST(last_date_added,
               (SELECT COALESCE(MAX(date_added), 0) FROM objects))",
            &[],
        )
        .await?;
        c.batch_execute("COMMIT").await?;
        Ok(LoadTable::ALL
            .iter()
            .map(|t| {
                let n = self
                    .rows
                    .iter()
                    .find(|(x, _)| x == t)
                    .map_or(0, |(_, n)| *n);
                (t.name(), n)
            })
            .collect())
    }
}
