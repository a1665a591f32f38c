//! The release predicate and the page query: the reader's label sets and the facts on the
//! rows compiled into SQL, so pages stay exact.

use super::*;

/// The label set and originator columns `{prefix}label_set`, `{prefix}originator` pass the
/// reader: its organization created that object, or the reader passes its labels.
pub(crate) fn sql_passes(prefix: &str, f: &ReaderFilterArgs) -> String {
    format!(
        "({prefix}originator = ? OR {})",
        f.passes(&format!("{prefix}label_set"))
    )
}

/// The row `alias` stands on nothing the reader cannot see: each endpoint (relationship,
/// sighting) is absent (label set 0) or passes the reader.
pub(crate) fn sql_stands(alias: &str, f: &ReaderFilterArgs) -> String {
    let endpoint = |end: &str| {
        format!(
            "({alias}.{end}_label_set = 0 OR {})",
            sql_passes(&format!("{alias}.{end}_"), f)
        )
    };
    format!("({} AND {})", endpoint("a"), endpoint("b"))
}

/// The reader sees the object behind the object_refs entry `alias` (from its facts): its own
/// organization's, or it passes the labels and stands on what the reader sees. The
/// referenced object's own object_refs are not followed further.
pub(crate) fn sql_sees_ref(alias: &str, f: &ReaderFilterArgs) -> String {
    format!(
        "({alias}.originator = ? OR ({} AND {}))",
        f.passes(&format!("{alias}.label_set")),
        sql_stands(alias, f)
    )
}

/// The release predicate for rows of alias `o` (DESIGN §3): the reader's organization
/// created it, or it passes the label set, its endpoints are visible and, if it has
/// object_refs, the reader sees one of them. Everything it needs is on the row and its
/// object_refs entries (see the migration that put the facts there). An older version is
/// visible only while the object's latest version is: for a reader an object is the versions
/// it may see, the same on every endpoint, and a narrowed latest version hides the object.
pub(crate) fn push_reader<'a>(
    sql: &mut String,
    args: &mut Vec<&'a dyn ToSql>,
    f: &'a ReaderFilterArgs,
) {
    let fragment = format!(
        " AND {} AND (o.is_last = 1 OR EXISTS (SELECT 1 FROM objects l INDEXED BY objects_by_version \
          WHERE l.collection = o.collection AND l.stix_id = o.stix_id AND l.is_last = 1 AND {}))",
        sql_visible("o", "r", f),
        sql_visible("l", "lr", f),
    );
    // Every placeholder of the fragment is the reader's organization.
    for _ in 0..fragment.matches('?').count() {
        args.push(&f.organization);
    }
    sql.push_str(&fragment);
}

/// The row `alias` is visible to the reader (its object_refs entries looked at as `refs`).
pub(crate) fn sql_visible(alias: &str, refs: &str, f: &ReaderFilterArgs) -> String {
    format!(
        "({alias}.originator = ? OR ({} AND {} \
          AND ({alias}.has_object_refs = 0 OR EXISTS (SELECT 1 FROM object_refs {refs} \
               WHERE {refs}.row = {alias}.row AND {}))))",
        f.passes(&format!("{alias}.label_set")),
        sql_stands(alias, f),
        sql_sees_ref(refs, f),
    )
}

/// A reader filter in the form the SQL takes: the organization is bound, the label sets are
/// written into the statement as a literal list of integers (SQLite then builds its lookup
/// once per statement, where a bound array would be scanned per row).
pub(crate) struct ReaderFilterArgs {
    pub(crate) organization: String,
    sets: String,
    /// The sets as bits, when every id is between 1 and 62.
    mask: Option<i64>,
}

impl ReaderFilterArgs {
    pub(crate) fn new(f: &ReaderFilter) -> Self {
        Self {
            organization: f.organization.clone(),
            sets: f
                .label_sets
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            mask: f
                .label_sets
                .iter()
                .try_fold(0i64, |m, &id| (1..=62).contains(&id).then(|| m | (1 << id))),
        }
    }
}

impl ReaderFilterArgs {
    /// The label set column `col` is one the reader passes. Set ids up to 62 are tested as
    /// bits of one integer: SQLite otherwise builds a lookup table per list and statement
    /// and searches it per row (measured: the query of a partner's page of 100, 252 -> 194 µs).
    fn passes(&self, col: &str) -> String {
        match self.mask {
            Some(mask) => format!("(({mask} >> {col}) & 1)"),
            None => format!("{col} IN ({})", self.sets),
        }
    }
}

/// Appends ` AND col IN (?, …)` and its values.
pub(crate) fn push_in<'a>(
    sql: &mut String,
    args: &mut Vec<&'a dyn ToSql>,
    col: &str,
    values: &'a [String],
) {
    if values.is_empty() {
        return;
    }
    sql.push_str(" AND ");
    sql.push_str(col);
    sql.push_str(" IN (");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('?');
        args.push(v);
    }
    sql.push(')');
}

/// Appends the `match[version]` condition (nothing for `all`).
pub(crate) fn push_versions<'a>(
    sql: &mut String,
    args: &mut Vec<&'a dyn ToSql>,
    v: &'a VersionFilter,
    prefix: &str,
) {
    let Some(terms) = rows::version_terms(v) else {
        return;
    };
    let parts: Vec<String> = terms
        .into_iter()
        .map(|t| match t {
            VersionTerm::Last => format!("{prefix}is_last = 1"),
            VersionTerm::First => format!("{prefix}is_first = 1"),
            VersionTerm::Exact(versions) => {
                args.extend(versions.iter().map(|e| e as &dyn ToSql));
                format!(
                    "{prefix}version IN ({})",
                    vec!["?"; versions.len()].join(",")
                )
            }
        })
        .collect();
    if parts.is_empty() {
        sql.push_str(" AND 0");
    } else {
        sql.push_str(" AND (");
        sql.push_str(&parts.join(" OR "));
        sql.push(')');
    }
}

/// Runs `f` in one read transaction, so that everything it reads is one snapshot.
pub(crate) fn snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let tx = conn.unchecked_transaction().map_err(db_err)?;
    let out = f(&tx)?;
    tx.commit().map_err(db_err)?;
    Ok(out)
}

pub(crate) fn run_query(conn: &Connection, q: &ObjectQuery) -> StoreResult<Page> {
    snapshot(conn, |c| {
        let mut page = run_page_query(c, q)?;
        page.generation = collection_generation(c, q.collection)?;
        Ok(page)
    })
}

pub(crate) fn run_page_query(conn: &Connection, q: &ObjectQuery) -> StoreResult<Page> {
    let raw = if q.with_raw { "o.raw" } else { "''" };
    let reader = q.reader.as_ref().map(ReaderFilterArgs::new);
    // With a reader, the facts of each row's object_refs entries (not for its own
    // organization's rows, which are served as stored): which entries it does not see is
    // worked out from them below.
    let refs_facts = match &reader {
        Some(_) => "CASE WHEN o.has_object_refs = 1 AND o.originator <> ? THEN o.refs_facts END",
        None => "NULL",
    };
    // Name the index where the planner, knowing no statistics, could pick a full ordered scan
    // of the collection instead of a short range: ids and a single type select few rows.
    let index = if !q.ids.is_empty() {
        " INDEXED BY objects_by_version"
    } else if q.types.len() == 1 {
        " INDEXED BY objects_by_type"
    } else {
        ""
    };
    let mut sql = format!(
        "SELECT o.row, o.stix_id, o.date_added, o.version, o.spec_version, {raw}, o.originator, \
         {refs_facts}, o.label_set, o.hops FROM objects o{index} WHERE o.collection = ?"
    );
    let mut args: Vec<&dyn ToSql> = Vec::new();
    if let Some(f) = &reader {
        args.push(&f.organization);
    }
    args.push(&q.collection);
    if let Some(f) = &reader {
        push_reader(&mut sql, &mut args, f);
    }
    push_in(&mut sql, &mut args, "o.stix_id", &q.ids);
    push_in(&mut sql, &mut args, "o.type", &q.types);
    push_in(&mut sql, &mut args, "o.spec_version", &q.spec_versions);
    push_versions(&mut sql, &mut args, &q.versions, "o.");
    if let Some(a) = &q.added_after {
        sql.push_str(" AND o.date_added > ?");
        args.push(a);
    }
    if let Some(c) = &q.after {
        sql.push_str(" AND o.date_added >= ? AND (o.date_added > ? OR o.row > ?)");
        args.push(&c.date_added);
        args.push(&c.date_added);
        args.push(&c.row);
    }
    let fetch = (q.limit as i64).saturating_add(1);
    sql.push_str(" ORDER BY o.date_added, o.row LIMIT ?");
    args.push(&fetch);
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = stmt
        .query_map(params_from_iter(args.iter()), |r| {
            Ok((
                StoredObject {
                    row: r.get(0)?,
                    stix_id: r.get(1)?,
                    date_added: r.get(2)?,
                    version: r.get(3)?,
                    spec_version: r.get(4)?,
                    raw: r.get(5)?,
                    originator: r.get(6)?,
                    label_set: r.get(8)?,
                    hops: r.get(9)?,
                },
                r.get::<_, Option<String>>(7)?,
            ))
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    let more = rows.len() > q.limit;
    rows.truncate(q.limit);
    let mut hidden_refs = Vec::new();
    if let Some(filter) = &q.reader {
        let mut positions = Vec::new();
        for (o, facts) in &rows {
            let Some(facts) = facts else { continue };
            positions.clear();
            rows::hidden_positions(facts, filter, &mut positions)?;
            positions.sort_unstable();
            hidden_refs.extend(
                positions
                    .iter()
                    .map(|&index| HiddenRef { row: o.row, index }),
            );
        }
    }
    Ok(Page {
        items: rows.into_iter().map(|(o, _)| o).collect(),
        more,
        generation: None,
        hidden_refs,
    })
}
