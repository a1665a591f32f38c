//! The release predicate and the page query, with the reader's filter bound once; deletes
//! and the release state.

use super::*;

/// A statement under construction with its parameters, numbered as they are bound.
pub(crate) struct Sql<'p> {
    pub(crate) text: String,
    pub(crate) params: Vec<&'p (dyn ToSql + Sync)>,
}

impl<'p> Sql<'p> {
    pub(crate) fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter; returns its placeholder.
    pub(crate) fn bind(&mut self, v: &'p (dyn ToSql + Sync)) -> String {
        self.params.push(v);
        format!("${}", self.params.len())
    }

    pub(crate) fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }
}

/// A reader filter in the form the SQL takes: the organization and the label sets are each
/// bound once (as text and as one bigint[]) and referred to wherever the predicate needs them,
/// so a statement's text depends only on the query's shape and stays prepared.
pub(crate) struct ReaderSql {
    pub(crate) org: String,
    pub(crate) sets: String,
}

impl ReaderSql {
    pub(crate) fn bind<'p>(sql: &mut Sql<'p>, f: &'p ReaderFilter) -> Self {
        Self {
            org: format!("{}::text", sql.bind(&f.organization)),
            sets: format!("{}::bigint[]", sql.bind(&f.label_sets)),
        }
    }

    /// `alias` passes the reader's labels or was created by its organization (one level).
    pub(crate) fn visible(&self, alias: &str) -> String {
        format!(
            "({alias}.originator = {} OR {alias}.label_set = ANY({}))",
            self.org, self.sets
        )
    }

    /// The endpoint `col` of `alias` is absent or its latest version (looked up as `inner`)
    /// is visible.
    pub(crate) fn endpoint(&self, alias: &str, inner: &str, col: &str) -> String {
        format!(
            "({alias}.{col} IS NULL OR EXISTS (SELECT 1 FROM objects {inner} \
             WHERE {inner}.collection = {alias}.collection AND {inner}.stix_id = {alias}.{col} \
             AND {inner}.is_last AND {}))",
            self.visible(inner)
        )
    }

    /// The reader sees the object `alias` as it would be served: visible, and (unless its own)
    /// the endpoints it stands on visible too. Used for references (object_refs), whose own
    /// object_refs are not followed further.
    pub(crate) fn sees(&self, alias: &str) -> String {
        format!(
            "({alias}.originator = {} OR ({} AND {} AND {}))",
            self.org,
            self.visible(alias),
            self.endpoint(alias, "x", "ref_a"),
            self.endpoint(alias, "x", "ref_b")
        )
    }

    /// The release predicate for rows of alias `o` (DESIGN §3): the reader's organization
    /// created it, or it passes the label set, its endpoints are visible and, if it has
    /// object_refs, the reader sees one of them. An older version is visible only while the
    /// object's latest version is (for a reader an object is the versions it may see, the
    /// same on every endpoint; a narrowed latest version hides the object).
    pub(crate) fn predicate(&self) -> String {
        format!(
            " AND {} AND (o.is_last OR EXISTS (SELECT 1 FROM objects l \
               WHERE l.collection = o.collection AND l.stix_id = o.stix_id AND l.is_last AND {}))",
            self.row_visible("o", "r", "e"),
            self.row_visible("l", "lr", "le"),
        )
    }

    /// The row `alias` is visible (its object_refs entries and their objects looked at as
    /// `refs` and `target`).
    pub(crate) fn row_visible(&self, alias: &str, refs: &str, target: &str) -> String {
        format!(
            "({alias}.originator = {} OR ({} AND {} AND {} \
              AND (NOT {alias}.has_object_refs OR EXISTS (SELECT 1 FROM object_refs {refs} \
                   JOIN objects {target} ON {target}.collection = {alias}.collection \
                     AND {target}.stix_id = {refs}.ref AND {target}.is_last \
                   WHERE {refs}.row_id = {alias}.row_id AND {}))))",
            self.org,
            self.visible(alias),
            self.endpoint(alias, &format!("{alias}x"), "ref_a"),
            self.endpoint(alias, &format!("{alias}x"), "ref_b"),
            self.sees(target),
        )
    }
}

/// Appends ` AND col = …` for one value, ` AND col = ANY(…)` for several (none for none).
/// One value is the common case (one type, one id) and an equality lets the index on
/// (collection, type, date_added, row_id) return rows in page order, so a page stops after
/// `limit` rows; with ANY the index cannot keep that order and every match is read and sorted.
pub(crate) fn push_in<'p>(sql: &mut Sql<'p>, col: &str, values: &'p Vec<String>) {
    match values.as_slice() {
        [] => {}
        [one] => {
            let p = sql.bind(one);
            sql.push(&format!(" AND {col} = {p}::text"));
        }
        _ => {
            let p = sql.bind(values);
            sql.push(&format!(" AND {col} = ANY({p}::text[])"));
        }
    }
}

/// Appends the `match[version]` condition (nothing for `all`).
pub(crate) fn push_versions<'p>(sql: &mut Sql<'p>, v: &'p VersionFilter, prefix: &str) {
    let Some(terms) = rows::version_terms(v) else {
        return;
    };
    let parts: Vec<String> = terms
        .into_iter()
        .map(|t| match t {
            VersionTerm::Last => format!("{prefix}is_last"),
            VersionTerm::First => format!("{prefix}is_first"),
            VersionTerm::Exact(versions) => {
                let p = sql.bind(versions);
                format!("{prefix}version = ANY({p}::bigint[])")
            }
        })
        .collect();
    if parts.is_empty() {
        sql.push(" AND FALSE");
    } else {
        sql.push(&format!(" AND ({})", parts.join(" OR ")));
    }
}

/// Drops filter values holding NUL (they match nothing stored); false when that empties a
/// list that was not empty, so that nothing can match.
pub(crate) fn can_match<'a>(lists: impl IntoIterator<Item = &'a mut Vec<String>>) -> bool {
    lists.into_iter().all(|l| {
        let had = !l.is_empty();
        l.retain(|s| !has_nul(s));
        !had || !l.is_empty()
    })
}

pub(crate) async fn run_query<C: GenericClient + Sync>(db: Db<'_, C>, q: &ObjectQuery) -> R<Page> {
    let fetch = (q.limit as i64).saturating_add(1);
    let sql = query_sql(q, &fetch);
    let rows = db.query(&sql.text, &sql.params).await?;
    let mut hidden_refs = Vec::new();
    let items = rows
        .iter()
        .take(q.limit)
        .map(|r| {
            let row = r.try_get(0)?;
            for index in r.try_get::<_, Option<Vec<i32>>>(8)?.unwrap_or_default() {
                hidden_refs.push(HiddenRef {
                    row,
                    index: index as usize,
                });
            }
            Ok(StoredObject {
                row,
                stix_id: r.try_get(1)?,
                date_added: r.try_get(2)?,
                version: r.try_get(3)?,
                spec_version: r.try_get(4)?,
                raw: r.try_get(5)?,
                originator: r.try_get(6)?,
                label_set: r.try_get(9)?,
                hops: r.try_get(10)?,
            })
        })
        .collect::<R<Vec<_>>>()?;
    // Read by the same statement, so from the same snapshot as the rows.
    let generation = rows.first().map(|r| r.try_get(7)).transpose()?;
    let more = rows.len() > q.limit;
    Ok(Page {
        items,
        more,
        generation,
        hidden_refs,
    })
}

/// The statement of one page of `q`, of `fetch` rows (its limit + 1, to know whether there
/// are more).
pub(crate) fn query_sql<'p>(q: &'p ObjectQuery, fetch: &'p i64) -> Sql<'p> {
    const COLS: &str = "o.row_id, o.stix_id, o.date_added, o.version, o.spec_version, o.raw, \
                        o.originator, o.generation, o.hidden, o.label_set, o.hops";
    let raw = if q.with_raw {
        "o.raw"
    } else {
        "''::text AS raw"
    };
    let mut sql = Sql::new("");
    let p = sql.bind(&q.collection);
    let reader = q.reader.as_ref().map(|f| ReaderSql::bind(&mut sql, f));
    // With a reader, each row's object_refs entries the reader does not see (not for its own
    // organization's rows, which are served as stored).
    let hidden = match &reader {
        Some(r) => format!(
            "CASE WHEN o.has_object_refs AND o.originator <> {} THEN ARRAY(SELECT h.idx FROM object_refs h \
             WHERE h.row_id = o.row_id AND NOT EXISTS (SELECT 1 FROM objects e \
               WHERE e.collection = o.collection AND e.stix_id = h.ref AND e.is_last AND {}) \
             ORDER BY h.idx) END",
            r.org,
            r.sees("e")
        ),
        None => "NULL::int[]".into(),
    };
    sql.push(&format!(
        "SELECT o.row_id, o.stix_id, o.date_added, o.version, o.spec_version, {raw}, o.originator,
                (SELECT c.generation FROM collections c WHERE c.pk = {p}) AS generation,
                {hidden} AS hidden, o.label_set, o.hops
         FROM objects o WHERE o.collection = {p}"
    ));
    if let Some(r) = &reader {
        sql.push(&r.predicate());
    }
    push_in(&mut sql, "o.stix_id", &q.ids);
    // Several types: the page is taken from each type's own first rows (see below).
    let per_type = q.types.len() > 1;
    if per_type {
        sql.push(" AND o.type = t.type");
    } else {
        push_in(&mut sql, "o.type", &q.types);
    }
    push_in(&mut sql, "o.spec_version", &q.spec_versions);
    push_versions(&mut sql, &q.versions, "o.");
    if let Some(a) = &q.added_after {
        let p = sql.bind(a);
        sql.push(&format!(" AND o.date_added > {p}"));
    }
    if let Some(c) = &q.after {
        let (d, r) = (sql.bind(&c.date_added), sql.bind(&c.row));
        sql.push(&format!(" AND (o.date_added, o.row_id) > ({d}, {r})"));
    }
    let p = sql.bind(fetch);
    let order = format!(" ORDER BY o.date_added, o.row_id LIMIT {p}");
    sql.push(&order);
    if per_type {
        // The first rows of the page are among the first rows of each type: read that many
        // of each (in order, from the type index, with the release predicate evaluated only
        // on those) and merge, instead of evaluating every object of those types and sorting.
        let t = sql.bind(&q.types);
        sql.text = format!(
            "SELECT {COLS} FROM (SELECT DISTINCT unnest({t}::text[]) AS type) t
             CROSS JOIN LATERAL ({}) o{order}",
            sql.text
        );
    }
    sql
}

pub(crate) async fn delete_versions(
    db: Tx<'_>,
    collection: i64,
    id: &str,
    versions: &VersionFilter,
    spec_versions: &Vec<String>,
) -> R<usize> {
    // Object writers take turns (see the crate's doc): a concurrent add must not compute
    // first/last against versions this removes.
    db.execute("SELECT 1 FROM hub_clock FOR UPDATE", &[])
        .await?;
    let mut sql = Sql::new("DELETE FROM objects WHERE collection = ");
    let (c, i) = (sql.bind(&collection), sql.bind(&id));
    sql.push(&format!("{c} AND stix_id = {i}"));
    push_in(&mut sql, "spec_version", spec_versions);
    push_versions(&mut sql, versions, "");
    let n = db.execute(&sql.text, &sql.params).await?;
    if n > 0 {
        db.execute(
            "UPDATE objects SET
               is_first = (version = (SELECT MIN(version) FROM objects o WHERE o.collection = $1 AND o.stix_id = $2)),
               is_last = (version = (SELECT MAX(version) FROM objects o WHERE o.collection = $1 AND o.stix_id = $2))
             WHERE collection = $1 AND stix_id = $2",
            &[&collection, &id],
        )
        .await?;
        bump_collection(&db, collection).await?;
        // What readers receive of other objects may change (a reference gone): peers' pushes
        // and caches look at the release generation.
        db.execute(
            "UPDATE hub_state SET release_generation = release_generation + 1",
            &[],
        )
        .await?;
    }
    Ok(n as usize)
}

pub(crate) async fn read_release_state(db: Tx<'_>) -> R<ReleaseState> {
    let row = db
        .query_one(
            "SELECT release_generation, release_rules FROM hub_state",
            &[],
        )
        .await?;
    let generation: i64 = row.try_get(0)?;
    let rules = rows::release_rules(row.try_get::<_, Option<&str>>(1)?)?;
    let markings = db
        .query("SELECT id, raw FROM markings ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<R<Vec<_>>>()?;
    let label_sets = db
        .query(LABEL_SET_SELECT, &[])
        .await?
        .iter()
        .map(|r| Ok(rows::label_set(&PgRow(r))?))
        .collect::<R<Vec<_>>>()?;
    let active_stages = crate::plans::active_stages(&db).await?;
    Ok(ReleaseState {
        generation,
        rules,
        markings,
        label_sets,
        active_stages,
    })
}
