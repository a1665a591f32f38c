//! Release plans (DESIGN §9): situations, stages and approvals, and the stage's cover of
//! exact object versions (each covered row moved to a label set that names the stage).

use super::*;
use relto_store::rows::{APPROVAL_SELECT, SITUATION_SELECT, STAGE_SELECT};

fn query_all<T>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_map(args, map)?.collect::<Result<Vec<_>, _>>())
        .map_err(db_err)
}

/// The situations `condition` selects (with `args`), with their stages and approvals.
pub(crate) fn read_situations(
    conn: &Connection,
    condition: &str,
    args: &[&dyn ToSql],
) -> StoreResult<Vec<Situation>> {
    let situations = query_all(
        conn,
        &format!("{SITUATION_SELECT} {condition} ORDER BY pk DESC"),
        args,
        |r| rows::situation(&SqlRow(r)),
    )?;
    let keys: Vec<String> = situations.iter().map(|(pk, _)| pk.to_string()).collect();
    let within = format!("({})", keys.join(","));
    let stages = query_all(
        conn,
        &format!("{STAGE_SELECT} WHERE situation IN {within}"),
        [],
        |r| rows::stage(&SqlRow(r)),
    )?;
    let approvals = query_all(
        conn,
        &format!(
            "{APPROVAL_SELECT} WHERE stage IN (SELECT pk FROM stages WHERE situation IN {within})"
        ),
        [],
        |r| rows::approval(&SqlRow(r)),
    )?;
    Ok(rows::assemble_situations(situations, stages, approvals))
}

/// The stages in effect, for the release view.
pub(crate) fn active_stages(conn: &Connection) -> StoreResult<Vec<ActiveStage>> {
    query_all(
        conn,
        "SELECT st.pk, st.situation, st.n, st.plan, st.state, st.changed_us, s.id
         FROM stages st JOIN situations s ON s.pk = st.situation WHERE st.state = 'active'",
        [],
        |r| Ok((rows::stage(&SqlRow(r))?, r.get::<_, String>(6)?)),
    )
    .map(|found| {
        found
            .into_iter()
            .map(|((_, stage), situation)| ActiveStage {
                pk: stage.pk,
                situation,
                n: stage.n,
                plan: stage.plan,
            })
            .collect()
    })
}

/// The ids of the rows a stage covers (or covered, once withdrawn).
pub(crate) fn covered_ids(conn: &Connection, stage: i64) -> StoreResult<Vec<String>> {
    query_all(
        conn,
        "SELECT o.stix_id FROM covered_rows c JOIN objects o ON o.row = c.row WHERE c.stage = ?1",
        [stage],
        |r| r.get(0),
    )
}

pub(crate) fn create_situation(tx: &Transaction<'_>, s: &NewSituation) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO situations (id, title, collection, originator, proposer, holdings, created_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            s.id,
            s.title,
            s.collection,
            s.originator.as_str(),
            s.proposer,
            json_list(&s.holdings),
            s.created_us
        ],
    )
    .map_err(db_err)?;
    let situation = tx.last_insert_rowid();
    for (i, stage) in s.stages.iter().enumerate() {
        let plan = serde_json::to_string(stage)
            .map_err(|e| StoreError::Internal(format!("stage plan: {e}")))?;
        tx.execute(
            "INSERT INTO stages (situation, n, plan, state) VALUES (?1, ?2, ?3, 'proposed')",
            params![situation, (i + 1) as i64, plan],
        )
        .map_err(db_err)?;
    }
    Ok(())
}

fn stage_state(tx: &Transaction<'_>, stage: i64) -> StoreResult<Option<StageState>> {
    let state: Option<String> = tx
        .query_row("SELECT state FROM stages WHERE pk = ?1", [stage], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_err)?;
    state.map(StageState::try_from).transpose()
}

pub(crate) fn approve_stage(
    tx: &Transaction<'_>,
    stage: i64,
    approval: &Approval,
    cover: &[CoveredRow],
) -> StoreResult<StageState> {
    let state = match stage_state(tx, stage)? {
        None => return Err(StoreError::Invalid("no such stage".into())),
        Some(StageState::Withdrawn) => {
            return Err(StoreError::Invalid("the stage is withdrawn".into()))
        }
        Some(state) => state,
    };
    let added = tx
        .execute(
            "INSERT OR IGNORE INTO approvals (stage, account, snapshot, at_us) VALUES (?1, ?2, ?3, ?4)",
            params![stage, approval.account, approval.snapshot, approval.at_us],
        )
        .map_err(db_err)?;
    if added == 0 {
        return Err(StoreError::Invalid(
            "this account has already approved this snapshot of the stage".into(),
        ));
    }
    let approvals: Vec<Approval> = query_all(
        tx,
        &format!("{APPROVAL_SELECT} WHERE stage = ?1"),
        [stage],
        |r| rows::approval(&SqlRow(r)),
    )?
    .into_iter()
    .map(|(_, a)| a)
    .collect();
    if !activation_due(&approvals, &approval.snapshot) {
        return Ok(state);
    }
    let plan: relto_policy::plan::StagePlan = tx
        .query_row("SELECT plan FROM stages WHERE pk = ?1", [stage], |r| {
            r.get::<_, String>(0)
        })
        .map_err(db_err)
        .and_then(|text| {
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Internal(format!("stage plan: {e}")))
        })?;
    let mut relabel = Relabel::default();
    for c in cover {
        tx.prepare_cached("INSERT OR IGNORE INTO covered_rows (stage, row) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(params![stage, c.row]))
            .map_err(db_err)?;
        relabel.row(tx, c.row, |set| {
            let mut alternatives = set.alternatives.clone();
            alternatives.push(plan.clone());
            set.covered_by(alternatives, &c.required_markings)
        })?;
    }
    relabel.finish(tx)?;
    tx.execute(
        "UPDATE stages SET state = 'active', changed_us = ?2 WHERE pk = ?1",
        params![stage, approval.at_us],
    )
    .map_err(db_err)?;
    bump_generation(tx)?;
    Ok(StageState::Active)
}

pub(crate) fn withdraw_stage(tx: &Transaction<'_>, stage: i64, at_us: i64) -> StoreResult<bool> {
    if stage_state(tx, stage)? != Some(StageState::Active) {
        return Ok(false);
    }
    // Withdrawn first, so that what still covers each row is the other active stages.
    tx.execute(
        "UPDATE stages SET state = 'withdrawn', changed_us = ?2 WHERE pk = ?1",
        params![stage, at_us],
    )
    .map_err(db_err)?;
    let covered: Vec<i64> = query_all(
        tx,
        "SELECT row FROM covered_rows WHERE stage = ?1",
        [stage],
        |r| r.get(0),
    )?;
    // The rows stay recorded (what covers a row counts active stages only): a live stream
    // learns from them what a withdrawal took from its reader.
    let mut relabel = Relabel::default();
    for row in covered {
        let remaining = query_all(
            tx,
            "SELECT s.plan FROM covered_rows c JOIN stages s ON s.pk = c.stage
             WHERE c.row = ?1 AND s.state = 'active'",
            [row],
            |r| r.get::<_, String>(0),
        )?
        .iter()
        .map(|text| {
            serde_json::from_str(text).map_err(|e| StoreError::Internal(format!("stage plan: {e}")))
        })
        .collect::<StoreResult<Vec<relto_policy::plan::StagePlan>>>()?;
        relabel.row(tx, row, |set| {
            set.covered_by(remaining, &set.required_markings)
        })?;
    }
    relabel.finish(tx)?;
    bump_generation(tx)?;
    Ok(true)
}

/// Moves rows to other label sets of their own labels (covered by other plans), keeping the
/// sets' ids between rows, then counts one write to each collection touched (readers'
/// copies of the rows).
#[derive(Default)]
struct Relabel {
    ids: std::collections::HashMap<String, i64>,
    collections: std::collections::HashSet<i64>,
}

impl Relabel {
    /// Moves one row to the set `to` makes of its current one, and brings every copy of its
    /// facts up to date (the rows referring to it or standing on it).
    fn row(
        &mut self,
        tx: &Transaction<'_>,
        row: i64,
        to: impl FnOnce(&LabelSet) -> LabelSet,
    ) -> StoreResult<()> {
        let found = tx
            .prepare_cached(
                "SELECT o.collection, o.stix_id, o.is_last, o.label_set, l.markings, l.default_nation,
                        l.alternatives, l.required_markings
                 FROM objects o JOIN label_sets l ON l.id = o.label_set WHERE o.row = ?1",
            )
            .and_then(|mut st| {
                st.query_row([row], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, i64>(3)?,
                        rows::label_set_at(&SqlRow(r), 4)?,
                    ))
                })
                .optional()
            })
            .map_err(db_err)?;
        // A row deleted since the preview: nothing to cover.
        let Some((collection, stix_id, is_last, current, set)) = found else {
            return Ok(());
        };
        let next = to(&set);
        let key = next.key();
        let id = match self.ids.get(&key) {
            Some(id) => *id,
            None => {
                let id = label_set_id(tx, &next)?;
                self.ids.insert(key, id);
                id
            }
        };
        if id == current {
            return Ok(());
        }
        tx.prepare_cached("UPDATE objects SET label_set = ?2 WHERE row = ?1")
            .and_then(|mut st| st.execute(params![row, id]))
            .map_err(db_err)?;
        if is_last {
            propagate_head(tx, collection, &stix_id)?;
        }
        self.collections.insert(collection);
        Ok(())
    }

    fn finish(self, tx: &Transaction<'_>) -> StoreResult<()> {
        for c in self.collections {
            bump_collection(tx, c)?;
        }
        Ok(())
    }
}
