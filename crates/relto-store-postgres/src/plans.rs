//! Release plans (DESIGN §9): situations, stages and approvals, and the stage's cover of
//! exact object versions (each covered row moved to a label set that names the stage).

use super::*;
use relto_store::rows::{APPROVAL_SELECT, SITUATION_SELECT, STAGE_SELECT};

/// The situations `condition` selects (with `args`), with their stages and approvals.
pub(crate) async fn read_situations<C: GenericClient + Sync>(
    db: Db<'_, C>,
    condition: &str,
    args: &Params<'_>,
) -> R<Vec<Situation>> {
    let situations = db
        .query(
            &format!("{SITUATION_SELECT} {condition} ORDER BY pk DESC"),
            args,
        )
        .await?
        .iter()
        .map(|r| Ok(rows::situation(&PgRow(r))?))
        .collect::<R<Vec<_>>>()?;
    let keys: Vec<i64> = situations.iter().map(|(pk, _)| *pk).collect();
    let stages = db
        .query(
            &format!("{STAGE_SELECT} WHERE situation = ANY($1::bigint[])"),
            &[&keys],
        )
        .await?
        .iter()
        .map(|r| Ok(rows::stage(&PgRow(r))?))
        .collect::<R<Vec<_>>>()?;
    let approvals = db
        .query(
            &format!(
                "{APPROVAL_SELECT} WHERE stage IN (SELECT pk FROM stages WHERE situation = ANY($1::bigint[]))"
            ),
            &[&keys],
        )
        .await?
        .iter()
        .map(|r| Ok(rows::approval(&PgRow(r))?))
        .collect::<R<Vec<_>>>()?;
    Ok(rows::assemble_situations(situations, stages, approvals))
}

/// The stages in effect, for the release view.
pub(crate) async fn active_stages(db: &Tx<'_>) -> R<Vec<ActiveStage>> {
    db.query(
        "SELECT st.pk, st.situation, st.n, st.plan, st.state, st.changed_us, s.id
         FROM stages st JOIN situations s ON s.pk = st.situation WHERE st.state = 'active'",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        let (_, stage) = rows::stage(&PgRow(r))?;
        Ok(ActiveStage {
            pk: stage.pk,
            situation: r.try_get(6)?,
            n: stage.n,
            plan: stage.plan,
        })
    })
    .collect()
}

/// The ids of the rows a stage covers (or covered, once withdrawn).
pub(crate) async fn covered_ids<C: GenericClient + Sync>(
    db: Db<'_, C>,
    stage: i64,
) -> R<Vec<String>> {
    db.query(
        "SELECT o.stix_id FROM covered_rows c JOIN objects o ON o.row_id = c.row_id WHERE c.stage = $1",
        &[&stage],
    )
    .await?
    .iter()
    .map(|r| Ok(r.try_get(0)?))
    .collect()
}

pub(crate) async fn create_situation(db: Tx<'_>, s: &NewSituation) -> R<Situation> {
    let pk: i64 = db
        .query_one(
            "INSERT INTO situations (id, title, collection, originator, proposer, holdings, created_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING pk",
            &[
                &s.id,
                &s.title,
                &s.collection,
                &s.originator.as_str(),
                &s.proposer,
                &json_list(&s.holdings),
                &s.created_us,
            ],
        )
        .await?
        .try_get(0)?;
    for (i, stage) in s.stages.iter().enumerate() {
        let plan = serde_json::to_string(stage)
            .map_err(|e| StoreError::Internal(format!("stage plan: {e}")))?;
        db.execute(
            "INSERT INTO stages (situation, n, plan, state) VALUES ($1, $2, $3, 'proposed')",
            &[&pk, &((i + 1) as i64), &plan],
        )
        .await?;
    }
    read_situations(db, "WHERE id = $1", &[&s.id])
        .await?
        .pop()
        .ok_or_else(|| StoreError::Internal("the situation just created is gone".into()).into())
}

/// The stage's state, its row locked until the transaction ends: approvals and withdrawals
/// of one stage on several nodes take turns.
async fn lock_stage(db: &Tx<'_>, stage: i64) -> R<Option<StageState>> {
    match db
        .query_opt(
            "SELECT state FROM stages WHERE pk = $1 FOR UPDATE",
            &[&stage],
        )
        .await?
    {
        None => Ok(None),
        Some(r) => Ok(Some(StageState::try_from(r.try_get::<_, String>(0)?)?)),
    }
}

pub(crate) async fn approve_stage(
    db: Tx<'_>,
    stage: i64,
    approval: &Approval,
    cover: &[CoveredRow],
) -> R<StageState> {
    let state = match lock_stage(&db, stage).await? {
        None => return Err(StoreError::Invalid("no such stage".into()).into()),
        Some(StageState::Withdrawn) => {
            return Err(StoreError::Invalid("the stage is withdrawn".into()).into())
        }
        Some(state) => state,
    };
    let added = db
        .execute(
            "INSERT INTO approvals (stage, account, snapshot, at_us) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[
                &stage,
                &approval.account,
                &approval.snapshot,
                &approval.at_us,
            ],
        )
        .await?;
    if added == 0 {
        return Err(StoreError::Invalid(
            "this account has already approved this snapshot of the stage".into(),
        )
        .into());
    }
    let approvals: Vec<Approval> = db
        .query(&format!("{APPROVAL_SELECT} WHERE stage = $1"), &[&stage])
        .await?
        .iter()
        .map(|r| Ok(rows::approval(&PgRow(r))?.1))
        .collect::<R<Vec<_>>>()?;
    if !activation_due(&approvals, &approval.snapshot) {
        return Ok(state);
    }
    let text: String = db
        .query_one("SELECT plan FROM stages WHERE pk = $1", &[&stage])
        .await?
        .try_get(0)?;
    let plan: relto_policy::plan::StagePlan = serde_json::from_str(&text)
        .map_err(|e| StoreError::Internal(format!("stage plan: {e}")))?;
    let rows: Vec<i64> = cover.iter().map(|c| c.row).collect();
    db.execute(
        "INSERT INTO covered_rows (stage, row_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
        &[&stage, &rows],
    )
    .await?;
    let mut relabel = Relabel::default();
    for c in cover {
        relabel
            .row(&db, c.row, |set| {
                let mut alternatives = set.alternatives.clone();
                alternatives.push(plan.clone());
                set.covered_by(alternatives, &c.required_markings)
            })
            .await?;
    }
    relabel.finish(&db).await?;
    db.execute(
        "UPDATE stages SET state = 'active', changed_us = $2 WHERE pk = $1",
        &[&stage, &approval.at_us],
    )
    .await?;
    bump_release_generation(&db).await?;
    Ok(StageState::Active)
}

pub(crate) async fn withdraw_stage(db: Tx<'_>, stage: i64, at_us: i64) -> R<bool> {
    if lock_stage(&db, stage).await? != Some(StageState::Active) {
        return Ok(false);
    }
    // Withdrawn first, so that what still covers each row is the other active stages.
    db.execute(
        "UPDATE stages SET state = 'withdrawn', changed_us = $2 WHERE pk = $1",
        &[&stage, &at_us],
    )
    .await?;
    let covered: Vec<i64> = db
        .query(
            // The rows stay recorded (what covers a row counts active stages only): a live
            // stream learns from them what a withdrawal took from its reader.
            "SELECT row_id FROM covered_rows WHERE stage = $1",
            &[&stage],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut relabel = Relabel::default();
    for row in covered {
        let remaining = db
            .query(
                "SELECT s.plan FROM covered_rows c JOIN stages s ON s.pk = c.stage
                 WHERE c.row_id = $1 AND s.state = 'active'",
                &[&row],
            )
            .await?
            .iter()
            .map(|r| {
                let text: String = r.try_get(0)?;
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Internal(format!("stage plan: {e}")).into())
            })
            .collect::<R<Vec<relto_policy::plan::StagePlan>>>()?;
        relabel
            .row(&db, row, |set| {
                set.covered_by(remaining, &set.required_markings)
            })
            .await?;
    }
    relabel.finish(&db).await?;
    bump_release_generation(&db).await?;
    Ok(true)
}

async fn bump_release_generation(db: &Tx<'_>) -> R<()> {
    db.execute(
        "UPDATE hub_state SET release_generation = release_generation + 1",
        &[],
    )
    .await?;
    Ok(())
}

/// Moves rows to other label sets of their own labels (covered by other plans), keeping the
/// sets' ids between rows, then counts one write to each collection touched (readers'
/// copies of the rows). References to a row are looked up by each read here.
#[derive(Default)]
struct Relabel {
    ids: HashMap<String, i64>,
    collections: std::collections::HashSet<i64>,
}

impl Relabel {
    async fn row(
        &mut self,
        db: &Tx<'_>,
        row: i64,
        to: impl FnOnce(&LabelSet) -> LabelSet,
    ) -> R<()> {
        let Some(r) = db
            .query_opt(
                "SELECT o.collection, o.label_set, l.markings, l.default_nation, l.alternatives,
                        l.required_markings
                 FROM objects o JOIN label_sets l ON l.id = o.label_set WHERE o.row_id = $1",
                &[&row],
            )
            .await?
        else {
            // A row deleted since the preview: nothing to cover.
            return Ok(());
        };
        let collection: i64 = r.try_get(0)?;
        let current: i64 = r.try_get(1)?;
        let set = to(&rows::label_set_at(&PgRow(&r), 2)?);
        let key = set.key();
        let id = match self.ids.get(&key) {
            Some(id) => *id,
            None => {
                let id: i64 = db
                    .query_one(
                        "INSERT INTO label_sets (key, markings, default_nation, alternatives, required_markings)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING id",
                        &[
                            &key,
                            &json_list(&set.markings),
                            &set.default_nation,
                            &serde_json::to_string(&set.alternatives).unwrap_or_else(|_| "[]".into()),
                            &json_list(&set.required_markings),
                        ],
                    )
                    .await?
                    .try_get(0)?;
                self.ids.insert(key, id);
                id
            }
        };
        if id != current {
            db.execute(
                "UPDATE objects SET label_set = $2 WHERE row_id = $1",
                &[&row, &id],
            )
            .await?;
            self.collections.insert(collection);
        }
        Ok(())
    }

    async fn finish(self, db: &Tx<'_>) -> R<()> {
        for c in self.collections {
            crate::objects::bump_collection(db, c).await?;
        }
        Ok(())
    }
}
