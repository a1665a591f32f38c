//! Writing objects: version flags, label sets, one batch per transaction.

use super::*;

/// The versions of one id, in version order, with their creators: those stored before the
/// batch, then also those the batch adds.
#[derive(Default)]
pub(crate) struct Versions {
    all: Vec<(i64, String)>,
    /// The first and last version stored before the batch.
    stored: Option<(i64, i64)>,
}

/// An object of the batch that will be stored.
pub(crate) struct Pending<'o> {
    obj: &'o NewObject,
    version: i64,
    date_added: i64,
    label_key: String,
}

/// Adds a batch in a fixed number of statements, whatever its size. Each object is decided
/// (added, duplicate, refused; its date_added and version) in order, as if the ones before it
/// were already stored, exactly as the SQLite store does object by object; then what was
/// decided is written in bulk.
pub(crate) async fn add_batch(
    db: Tx<'_>,
    collection: i64,
    objects: &[NewObject],
    now_us: i64,
) -> R<Vec<AddOutcome>> {
    // Object writers take turns from here to commit (see the crate's doc).
    let start: i64 = db
        .query_one("SELECT last_date_added FROM hub_clock FOR UPDATE", &[])
        .await?
        .try_get(0)?;
    // Versions already stored for the batch's ids (usually none or a few), with their creators.
    // One index probe per id, whatever the statistics say: during a bulk load they lag behind
    // the table, and the planner then filters the whole collection against the list of ids
    // (OFFSET 0 keeps it from flattening the per-id subquery into such a join).
    let mut ids: Vec<&str> = objects.iter().map(|o| o.stix_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut known: HashMap<String, Versions> = HashMap::new();
    for r in db
        .query(
            "SELECT o.stix_id, o.version, o.originator FROM unnest($2::text[]) AS i(id)
             CROSS JOIN LATERAL (SELECT stix_id, version, originator FROM objects
                                 WHERE collection = $1 AND stix_id = i.id OFFSET 0) o",
            &[&collection, &ids],
        )
        .await?
    {
        let v: &mut Versions = known.entry(r.try_get(0)?).or_default();
        v.all.push((r.try_get(1)?, r.try_get(2)?));
    }
    for v in known.values_mut() {
        v.all.sort_unstable_by_key(|(version, _)| *version);
        v.stored = v.all.first().zip(v.all.last()).map(|(f, l)| (f.0, l.0));
    }

    let mut last = start;
    let mut out = Vec::with_capacity(objects.len());
    let mut pending: Vec<Pending> = Vec::new();
    for obj in objects {
        let vs = known.entry(obj.stix_id.clone()).or_default();
        let date_added = last.saturating_add(1).max(now_us);
        let version = match admit_version(&vs.all, &obj.release.originator, obj.version, date_added)
        {
            Admission::Add { version } => version,
            Admission::Duplicate { version } => {
                out.push(AddOutcome::Duplicate { version });
                continue;
            }
            Admission::Refused(why) => {
                out.push(AddOutcome::Refused(why));
                continue;
            }
        };
        let at = vs.all.partition_point(|(v, _)| *v < version);
        vs.all.insert(at, (version, obj.release.originator.clone()));
        last = date_added;
        pending.push(Pending {
            obj,
            version,
            date_added,
            label_key: obj.release.label_set.key(),
        });
        out.push(AddOutcome::Added {
            date_added,
            version,
        });
    }
    if pending.is_empty() {
        return Ok(out);
    }

    // First and last are by version: stored versions that no longer are lose the flag.
    let (mut lose_last, mut lose_first) = (Vec::new(), Vec::new());
    for (id, vs) in &known {
        if let (Some((first, last)), Some(lo), Some(hi)) =
            (vs.stored, vs.all.first(), vs.all.last())
        {
            if hi.0 > last {
                lose_last.push(id.as_str());
            }
            if lo.0 < first {
                lose_first.push(id.as_str());
            }
        }
    }
    if !lose_last.is_empty() {
        db.execute(
            "UPDATE objects SET is_last = FALSE
             WHERE collection = $1 AND stix_id = ANY($2::text[]) AND is_last",
            &[&collection, &lose_last],
        )
        .await?;
    }
    if !lose_first.is_empty() {
        db.execute(
            "UPDATE objects SET is_first = FALSE
             WHERE collection = $1 AND stix_id = ANY($2::text[]) AND is_first",
            &[&collection, &lose_first],
        )
        .await?;
    }

    // Label sets, created in the order of first use; each new one changes the generation.
    let mut bumps: i64 = 0;
    let keys: Vec<&str> = pending.iter().map(|p| p.label_key.as_str()).collect();
    let mut set_ids: HashMap<String, i64> = HashMap::new();
    for r in db
        .query(
            "SELECT key, id FROM label_sets WHERE key = ANY($1::text[])",
            &[&keys],
        )
        .await?
    {
        set_ids.insert(r.try_get(0)?, r.try_get(1)?);
    }
    for p in &pending {
        if set_ids.contains_key(&p.label_key) {
            continue;
        }
        let set = &p.obj.release.label_set;
        let id: i64 = db
            .query_one(
                "INSERT INTO label_sets (key, markings, default_nation) VALUES ($1, $2, $3)
                 RETURNING id",
                &[&p.label_key, &json_list(&set.markings), &set.default_nation],
            )
            .await?
            .try_get(0)?;
        set_ids.insert(p.label_key.clone(), id);
        bumps += 1;
    }

    // Row ids taken up front (ascending, in the batch's order), so that the rows and their
    // references go in with one statement each.
    let mut rows: Vec<i64> = db
        .query(
            "SELECT nextval(pg_get_serial_sequence('objects', 'row_id'))
             FROM generate_series(1, $1::bigint)",
            &[&(pending.len() as i64)],
        )
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect::<R<_>>()?;
    rows.sort_unstable();

    let col =
        |f: fn(&NewObject) -> &str| -> Vec<&str> { pending.iter().map(|p| f(p.obj)).collect() };
    let (stix_ids, types, specs, raws, originators) = (
        col(|o| &o.stix_id),
        col(|o| &o.object_type),
        col(|o| &o.spec_version),
        col(|o| &o.raw),
        col(|o| &o.release.originator),
    );
    let versions: Vec<i64> = pending.iter().map(|p| p.version).collect();
    let dates: Vec<i64> = pending.iter().map(|p| p.date_added).collect();
    let (mut firsts, mut lasts, mut sets) = (Vec::new(), Vec::new(), Vec::new());
    for p in &pending {
        let all = known.get(&p.obj.stix_id).map_or(&[][..], |v| &v.all[..]);
        firsts.push(all.first().is_some_and(|f| f.0 == p.version));
        lasts.push(all.last().is_some_and(|l| l.0 == p.version));
        sets.push(set_ids.get(&p.label_key).copied().unwrap_or_default());
    }
    let endpoint = |i: usize| -> Vec<Option<&str>> {
        pending
            .iter()
            .map(|p| p.obj.release.endpoints.get(i).map(String::as_str))
            .collect()
    };
    let (ref_a, ref_b) = (endpoint(0), endpoint(1));
    let hops: Vec<Option<&str>> = pending.iter().map(|p| p.obj.hops.as_deref()).collect();
    let has_refs: Vec<bool> = pending
        .iter()
        .map(|p| !p.obj.release.object_refs.is_empty())
        .collect();
    db.execute(
        "INSERT INTO objects (row_id, collection, stix_id, type, spec_version, version, date_added,
                              is_first, is_last, raw, originator, label_set, ref_a, ref_b, has_object_refs,
                              hops)
         OVERRIDING SYSTEM VALUE
         SELECT t.row_id, $1, t.stix_id, t.type, t.spec_version, t.version, t.date_added,
                t.is_first, t.is_last, t.raw, t.originator, t.label_set, t.ref_a, t.ref_b, t.has_refs,
                t.hops
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                     $8::boolean[], $9::boolean[], $10::text[], $11::text[], $12::bigint[],
                     $13::text[], $14::text[], $15::boolean[], $16::text[])
           AS t(row_id, stix_id, type, spec_version, version, date_added, is_first, is_last, raw,
                originator, label_set, ref_a, ref_b, has_refs, hops)",
        &[
            &collection,
            &rows,
            &stix_ids,
            &types,
            &specs,
            &versions,
            &dates,
            &firsts,
            &lasts,
            &raws,
            &originators,
            &sets,
            &ref_a,
            &ref_b,
            &has_refs,
            &hops,
        ],
    )
    .await?;

    let (mut ref_rows, mut ref_idx, mut refs) = (Vec::new(), Vec::new(), Vec::new());
    for (p, row) in pending.iter().zip(&rows) {
        for (i, r) in p.obj.release.object_refs.iter().enumerate() {
            ref_rows.push(*row);
            ref_idx.push(i as i32);
            refs.push(r.as_str());
        }
    }
    if !refs.is_empty() {
        db.execute(
            "INSERT INTO object_refs (row_id, idx, ref)
             SELECT * FROM unnest($1::bigint[], $2::integer[], $3::text[])",
            &[&ref_rows, &ref_idx, &refs],
        )
        .await?;
    }

    // Marking-definitions posted to the hub; the first posted of an id is kept, and each new
    // one changes the generation.
    let (mut marking_ids, mut marking_raws) = (Vec::new(), Vec::new());
    for p in pending
        .iter()
        .filter(|p| p.obj.object_type == "marking-definition")
    {
        marking_ids.push(p.obj.stix_id.as_str());
        marking_raws.push(p.obj.raw.as_str());
    }
    if !marking_ids.is_empty() {
        bumps += db
            .execute(
                "INSERT INTO markings (id, raw) SELECT * FROM unnest($1::text[], $2::text[])
                 ON CONFLICT (id) DO NOTHING",
                &[&marking_ids, &marking_raws],
            )
            .await? as i64;
    }
    if bumps > 0 {
        db.execute(
            "UPDATE hub_state SET release_generation = release_generation + $1",
            &[&bumps],
        )
        .await?;
    }
    if out.iter().any(|o| matches!(o, AddOutcome::Added { .. })) {
        bump_collection(&db, collection).await?;
    }
    db.execute("UPDATE hub_clock SET last_date_added = $1", &[&last])
        .await?;
    Ok(out)
}

/// Counts a write to the collection (see `Page::generation`).
pub(crate) async fn bump_collection(db: &Tx<'_>, collection: i64) -> R<()> {
    db.execute(
        "UPDATE collections SET generation = generation + 1 WHERE pk = $1",
        &[&collection],
    )
    .await?;
    Ok(())
}
