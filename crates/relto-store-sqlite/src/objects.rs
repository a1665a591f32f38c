//! Writing objects: label sets, version flags, and the release facts of what each row stands
//! on and refers to, kept current by every write (DESIGN §3 rule 5).

use super::*;

pub(crate) fn bump_generation(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('release_generation', 1)
         ON CONFLICT(key) DO UPDATE SET value = value + 1",
    )
    .and_then(|mut s| s.execute([]))
    .map_err(db_err)?;
    Ok(())
}

/// Counts a write to the collection (see `Page::generation`).
pub(crate) fn bump_collection(tx: &Transaction<'_>, collection: i64) -> StoreResult<()> {
    tx.prepare_cached("UPDATE collections SET generation = generation + 1 WHERE pk = ?1")
        .and_then(|mut s| s.execute([collection]))
        .map(drop)
        .map_err(db_err)
}

/// The collection's write generation in the snapshot of `conn`'s open transaction.
pub(crate) fn collection_generation(
    conn: &Connection,
    collection: i64,
) -> StoreResult<Option<i64>> {
    conn.prepare_cached("SELECT generation FROM collections WHERE pk = ?1")
        .and_then(|mut s| s.query_row([collection], |r| r.get(0)).optional())
        .map_err(db_err)
}

/// The id of a label set, created (and the release generation bumped) on first use.
pub(crate) fn label_set_id(tx: &Transaction<'_>, set: &LabelSet) -> StoreResult<i64> {
    let key = set.key();
    let found: Option<i64> = tx
        .prepare_cached("SELECT id FROM label_sets WHERE key = ?1")
        .and_then(|mut s| s.query_row([&key], |r| r.get(0)).optional())
        .map_err(db_err)?;
    if let Some(id) = found {
        return Ok(id);
    }
    tx.prepare_cached(
        "INSERT INTO label_sets (key, markings, default_nation, alternatives, required_markings)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            key,
            json_list(&set.markings),
            set.default_nation,
            serde_json::to_string(&set.alternatives).unwrap_or_else(|_| "[]".into()),
            json_list(&set.required_markings)
        ])
    })
    .map_err(db_err)?;
    bump_generation(tx)?;
    Ok(tx.last_insert_rowid())
}

pub(crate) fn insert_object(
    tx: &Transaction<'_>,
    collection: i64,
    obj: &NewObject,
    now_us: i64,
    last: &mut i64,
) -> StoreResult<AddOutcome> {
    // Versions already stored for this id (usually none or a few), with their creators.
    let mut stmt = tx
        .prepare_cached(
            "SELECT version, originator FROM objects WHERE collection = ?1 AND stix_id = ?2",
        )
        .map_err(db_err)?;
    let existing: Vec<(i64, String)> = stmt
        .query_map(params![collection, obj.stix_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(db_err)?
        .collect::<Result<_, _>>()
        .map_err(db_err)?;
    let versions: Vec<i64> = existing.iter().map(|(v, _)| *v).collect();
    let date_added = (*last + 1).max(now_us);
    let version = match admit_version(&existing, &obj.release.originator, obj.version, date_added) {
        Admission::Add { version } => version,
        Admission::Duplicate { version } => return Ok(AddOutcome::Duplicate { version }),
        Admission::Refused(why) => return Ok(AddOutcome::Refused(why)),
    };
    let is_last = versions.iter().all(|&v| v < version);
    let is_first = versions.iter().all(|&v| v > version);
    if !versions.is_empty() && is_last {
        tx.prepare_cached(
            "UPDATE objects SET is_last = 0 WHERE collection = ?1 AND stix_id = ?2 AND is_last = 1",
        )
        .and_then(|mut s| s.execute(params![collection, obj.stix_id]))
        .map_err(db_err)?;
    }
    if !versions.is_empty() && is_first {
        tx.prepare_cached(
            "UPDATE objects SET is_first = 0 WHERE collection = ?1 AND stix_id = ?2 AND is_first = 1",
        )
        .and_then(|mut s| s.execute(params![collection, obj.stix_id]))
        .map_err(db_err)?;
    }
    let rel = &obj.release;
    let label_set = label_set_id(tx, &rel.label_set)?;
    let (ref_a, ref_b) = (rel.endpoints.first(), rel.endpoints.get(1));
    let a = endpoint_facts(tx, collection, ref_a)?;
    let b = endpoint_facts(tx, collection, ref_b)?;
    // The facts of what each object_refs entry names, and their text for the row (written
    // with the row: a second write of it would double its page's writes to the WAL).
    let named = rel
        .object_refs
        .iter()
        .map(|r| named_facts(tx, collection, r))
        .collect::<StoreResult<Vec<_>>>()?;
    let mut refs_facts = String::new();
    for (idx, f) in named.iter().enumerate() {
        rows::push_refs_facts(
            &mut refs_facts,
            idx as i64,
            (f.label_set, &f.originator),
            (f.a.0, &f.a.1),
            (f.b.0, &f.b.1),
        );
    }
    tx.prepare_cached(
        "INSERT INTO objects (collection, stix_id, type, spec_version, version, date_added, is_first, is_last, raw,
                              originator, label_set, ref_a, ref_b, has_object_refs,
                              a_label_set, a_originator, b_label_set, b_originator, refs_facts, hops)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )
    .and_then(|mut s| {
        s.execute(params![
            collection,
            obj.stix_id,
            obj.object_type,
            obj.spec_version,
            version,
            date_added,
            is_first,
            is_last,
            obj.raw,
            rel.originator,
            label_set,
            ref_a,
            ref_b,
            !rel.object_refs.is_empty(),
            a.0,
            a.1,
            b.0,
            b.1,
            (!named.is_empty()).then_some(&refs_facts),
            obj.hops,
        ])
    })
    .map_err(db_err)?;
    let row = tx.last_insert_rowid();
    if !rel.object_refs.is_empty() {
        let mut ins = tx
            .prepare_cached(
                "INSERT INTO object_refs (row, idx, collection, ref, label_set, originator,
                                          a_label_set, a_originator, b_label_set, b_originator)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(db_err)?;
        for (idx, (r, f)) in rel.object_refs.iter().zip(&named).enumerate() {
            ins.execute(params![
                row,
                idx as i64,
                collection,
                r,
                f.label_set,
                f.originator,
                f.a.0,
                f.a.1,
                f.b.0,
                f.b.1
            ])
            .map_err(db_err)?;
        }
    }
    if versions.is_empty() {
        // A new id: only rows that named it before it arrived copy its facts.
        let named = tx
            .prepare_cached("DELETE FROM unresolved_refs WHERE collection = ?1 AND id = ?2")
            .and_then(|mut s| s.execute(params![collection, obj.stix_id]))
            .map_err(db_err)?;
        if named > 0 {
            propagate_head(tx, collection, &obj.stix_id)?;
        }
    } else if is_last {
        propagate_head(tx, collection, &obj.stix_id)?;
    }
    if obj.object_type == "marking-definition" {
        let added = tx
            .prepare_cached("INSERT OR IGNORE INTO markings (id, raw) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![obj.stix_id, obj.raw]))
            .map_err(db_err)?;
        if added > 0 {
            bump_generation(tx)?;
        }
    }
    *last = date_added;
    Ok(AddOutcome::Added {
        date_added,
        version,
    })
}

/// The release facts of the latest version of an object in a collection, as the rows that
/// refer to it or stand on it copy them. An object the collection does not hold has label set
/// -1 (no reader passes it).
pub(crate) struct HeadFacts {
    label_set: i64,
    originator: String,
    /// (label set, originator) of each endpoint's latest version; label set 0 for none.
    a: (i64, String),
    b: (i64, String),
}

impl HeadFacts {
    fn absent() -> Self {
        Self {
            label_set: -1,
            originator: String::new(),
            a: (0, String::new()),
            b: (0, String::new()),
        }
    }
}

/// The facts a row naming `stix_id` copies; an id the collection does not hold is recorded
/// as unresolved, so that its arrival updates the rows naming it.
pub(crate) fn named_facts(
    tx: &Transaction<'_>,
    collection: i64,
    stix_id: &str,
) -> StoreResult<HeadFacts> {
    let f = head_facts(tx, collection, stix_id)?;
    if f.label_set == -1 {
        tx.prepare_cached("INSERT OR IGNORE INTO unresolved_refs (collection, id) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![collection, stix_id]))
            .map_err(db_err)?;
    }
    Ok(f)
}

pub(crate) fn head_facts(
    tx: &Transaction<'_>,
    collection: i64,
    stix_id: &str,
) -> StoreResult<HeadFacts> {
    tx.prepare_cached(
        "SELECT label_set, originator, a_label_set, a_originator, b_label_set, b_originator
         FROM objects INDEXED BY objects_by_version
         WHERE collection = ?1 AND stix_id = ?2 AND is_last = 1",
    )
    .and_then(|mut s| {
        s.query_row(params![collection, stix_id], |r| {
            Ok(HeadFacts {
                label_set: r.get(0)?,
                originator: r.get(1)?,
                a: (r.get(2)?, r.get(3)?),
                b: (r.get(4)?, r.get(5)?),
            })
        })
        .optional()
    })
    .map(|f| f.unwrap_or_else(HeadFacts::absent))
    .map_err(db_err)
}

/// What a row standing on `endpoint` copies of it: (0, "") when there is no endpoint.
pub(crate) fn endpoint_facts(
    tx: &Transaction<'_>,
    collection: i64,
    endpoint: Option<&String>,
) -> StoreResult<(i64, String)> {
    match endpoint {
        None => Ok((0, String::new())),
        Some(id) => named_facts(tx, collection, id).map(|f| (f.label_set, f.originator)),
    }
}

/// After the latest version of `stix_id` changed (a newer version, a delete), brings the
/// copies of its facts up to date: in the object_refs entries naming it, in the rows standing
/// on it, and in the object_refs entries naming the latest of those. The entries naming it
/// are updated first, so that an object standing on itself ends with its own facts.
pub(crate) fn propagate_head(
    tx: &Transaction<'_>,
    collection: i64,
    stix_id: &str,
) -> StoreResult<()> {
    // Often nothing names the object or stands on it: one probe of the three indexes costs
    // less than three updates that change nothing.
    let named: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM object_refs WHERE collection = ?1 AND ref = ?2)
                 OR EXISTS (SELECT 1 FROM objects WHERE collection = ?1 AND ref_a = ?2)
                 OR EXISTS (SELECT 1 FROM objects WHERE collection = ?1 AND ref_b = ?2)",
        )
        .and_then(|mut s| s.query_row(params![collection, stix_id], |r| r.get(0)))
        .map_err(db_err)?;
    if !named {
        return Ok(());
    }
    // Named (by a reference or as an endpoint) but gone: its return must update them.
    let f = named_facts(tx, collection, stix_id)?;
    tx.prepare_cached(
        "INSERT OR IGNORE INTO stale_refs_facts
         SELECT row FROM object_refs WHERE collection = ?1 AND ref = ?2",
    )
    .and_then(|mut s| s.execute(params![collection, stix_id]))
    .map_err(db_err)?;
    tx.prepare_cached(
        "UPDATE object_refs SET label_set = ?3, originator = ?4, a_label_set = ?5,
           a_originator = ?6, b_label_set = ?7, b_originator = ?8
         WHERE collection = ?1 AND ref = ?2",
    )
    .and_then(|mut s| {
        s.execute(params![
            collection,
            stix_id,
            f.label_set,
            f.originator,
            f.a.0,
            f.a.1,
            f.b.0,
            f.b.1
        ])
    })
    .map_err(db_err)?;
    for end in ["a", "b"] {
        let standing = tx
            .prepare_cached(&format!(
                "UPDATE objects SET {end}_label_set = ?3, {end}_originator = ?4
                 WHERE collection = ?1 AND ref_{end} = ?2"
            ))
            .and_then(|mut s| s.execute(params![collection, stix_id, f.label_set, f.originator]))
            .map_err(db_err)?;
        if standing > 0 {
            tx.prepare_cached(&format!(
                "INSERT OR IGNORE INTO stale_refs_facts
                 SELECT row FROM object_refs WHERE collection = ?1 AND ref IN (SELECT stix_id
                   FROM objects WHERE collection = ?1 AND ref_{end} = ?2 AND is_last = 1)"
            ))
            .and_then(|mut s| s.execute(params![collection, stix_id]))
            .map_err(db_err)?;
            tx.prepare_cached(&format!(
                "UPDATE object_refs SET {end}_label_set = ?3, {end}_originator = ?4
                 WHERE collection = ?1 AND ref IN (SELECT stix_id FROM objects
                   WHERE collection = ?1 AND ref_{end} = ?2 AND is_last = 1)"
            ))
            .and_then(|mut s| s.execute(params![collection, stix_id, f.label_set, f.originator]))
            .map_err(db_err)?;
        }
    }
    Ok(())
}

/// Rebuilds the copy of its object_refs facts (`refs_facts`, what the read query decides
/// hidden references by) of every row whose entries changed in this transaction; run by every
/// write transaction before it commits.
pub(crate) fn rebuild_stale_refs_facts(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.prepare_cached(
            "UPDATE objects SET refs_facts = (SELECT group_concat(f, ';') FROM (SELECT
                r.idx || ',' || r.label_set || ',' || r.a_label_set || ',' || r.b_label_set || ',' ||
                r.originator || ',' || r.a_originator || ',' || r.b_originator AS f
                FROM object_refs r WHERE r.row = objects.row ORDER BY r.idx))
             WHERE row IN (SELECT row FROM stale_refs_facts)",
        )
    .and_then(|mut s| s.execute([]))
    .map_err(db_err)?;
    tx.prepare_cached("DELETE FROM stale_refs_facts")
        .and_then(|mut s| s.execute([]))
        .map_err(db_err)?;
    Ok(())
}
