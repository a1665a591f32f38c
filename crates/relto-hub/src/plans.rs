//! Release plans (DESIGN §9): propose a situation, preview a stage (exactly who it releases
//! what to, and the snapshot that is signed), approve under the two-person rule, withdraw.
//! The decisions are relto-policy's; the store keeps the plan and covers the rows.

use std::collections::HashSet;

use relto_policy::plan::{
    check_plan, covers_object, snapshot, stage_changes, Audience, Change, Holding, PlanRequest,
    StageCover,
};
use relto_policy::{ObjectFacts, Reader, Role};
use relto_stix::timestamp::format_micros;
use relto_store::audit::{AuditEvent, AuditKind, AuditOutcome};
use relto_store::{
    activation_due, Account, Approval, CoveredRow, NewSituation, ObjectQuery, Situation, Stage,
    StageState, StoreError, StoredObject,
};
use relto_taxii::VersionFilter;
use serde_json::{json, Map, Value};

use crate::audit::{event, now_us};
use crate::release::{markings_on_required, reader_of, required};

/// Why a plan operation was refused; each names what to fix.
#[derive(Debug)]
pub enum PlanError {
    /// The request itself is wrong (400).
    Invalid(String),
    /// The account may not do this (403).
    Forbidden(String),
    /// No such situation or stage (404).
    NotFound(String),
    /// Not now: a stale snapshot, a repeated approval, a stage out of order or not in the
    /// state the operation needs (409).
    Conflict(String),
    Store(StoreError),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Invalid(m)
            | PlanError::Forbidden(m)
            | PlanError::NotFound(m)
            | PlanError::Conflict(m) => f.write_str(m),
            PlanError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PlanError {}

impl From<StoreError> for PlanError {
    fn from(e: StoreError) -> Self {
        PlanError::Store(e)
    }
}

type PlanResult<T> = Result<T, PlanError>;

/// A stage's state as shown: an active stage whose window has closed is `expired`.
pub fn shown_state(stage: &Stage, now_us: i64) -> &'static str {
    match stage.state {
        StageState::Active | StageState::Proposed
            if stage.plan.expires_us.is_some_and(|t| t <= now_us) =>
        {
            "expired"
        }
        other => other.as_str(),
    }
}

/// What a stage would release, to whom, and what approving it signs.
pub struct Preview {
    pub snapshot: String,
    pub changes: Vec<Change>,
    /// The rows the stage covers once active.
    pub cover: Vec<CoveredRow>,
}

impl Preview {
    /// As the API and the CLI show it (DESIGN §9).
    pub fn to_json(&self) -> Value {
        json!({"snapshot": self.snapshot, "changes": self.changes})
    }
}

fn time(us: Option<i64>) -> Value {
    us.map_or(Value::Null, |t| json!(format_micros(t)))
}

/// A situation as the API and the CLI show it (DESIGN §9); `collection` is its collection's
/// id.
fn situation_json(s: &Situation, collection: &str, now_us: i64) -> Value {
    let stages: Vec<Value> = s
        .stages
        .iter()
        .map(|stage| {
            let approvals: Vec<Value> = stage
                .approvals
                .iter()
                .map(|a| json!({"account": a.account, "snapshot": a.snapshot, "at": format_micros(a.at_us)}))
                .collect();
            // The snapshot that activated it (the last approval's), once active.
            let signed = (stage.state != StageState::Proposed)
                .then(|| stage.approvals.last().map(|a| a.snapshot.clone()))
                .flatten();
            json!({
                "n": stage.n,
                "label": stage.plan.label,
                "withhold": stage.plan.withhold,
                "not_before": time(stage.plan.not_before_us),
                "expires": time(stage.plan.expires_us),
                "state": shown_state(stage, now_us),
                "approvals": approvals,
                "snapshot": signed,
            })
        })
        .collect();
    json!({
        "id": s.id,
        "title": s.title,
        "collection": collection,
        "originator": s.originator.as_str(),
        "proposer": s.proposer,
        "created": format_micros(s.created_us),
        "holdings": s.holdings,
        "stages": stages,
    })
}

/// One holding's latest version as read for a preview.
struct Read {
    row: StoredObject,
    value: Map<String, Value>,
    meta: relto_stix::ObjectMeta,
    /// (marking, selectors) of its granular markings.
    granular: Vec<(String, Vec<String>)>,
    version: String,
}

impl crate::Hub {
    /// Proposes a situation in `collection` for the account's organization. The holdings
    /// must be objects of that organization in the collection (the same refusal whether an
    /// id is absent or another's, so that nothing is learnt of others' objects).
    pub async fn propose_plan(
        &self,
        account: &Account,
        collection: i64,
        collection_id: &str,
        request: PlanRequest,
        source: &str,
    ) -> PlanResult<Situation> {
        let view = self.view().await?;
        let plan =
            check_plan(request, &view.policy).map_err(|e| PlanError::Invalid(e.to_string()))?;
        if plan.collection != collection_id {
            return Err(PlanError::Invalid(format!(
                "collection: the plan names {}, the request was made on {collection_id}",
                plan.collection
            )));
        }
        // Releasability names what the realm knows: a nation, a community, an organization.
        let accounts = self.store.accounts().await?;
        let unknown: Vec<String> = plan
            .stages
            .iter()
            .flat_map(|st| st.label.releasable_to.iter().flatten())
            .filter(|e| {
                relto_policy::nation::Nation::parse(e).is_none()
                    && view.policy.community(e).is_none()
                    && !accounts.iter().any(|a| a.organization.slug == e.as_str())
            })
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(PlanError::Invalid(format!(
                "releasable_to: neither a nation, a community nor an organization of the realm: {}",
                unknown.join(", ")
            )));
        }
        let org = account.organization.slug.clone();
        let found = self.latest(collection, &plan.holdings).await?;
        let missing: Vec<&str> = plan
            .holdings
            .iter()
            .filter(|id| {
                !found
                    .iter()
                    .any(|o| &o.stix_id == *id && o.originator == org)
            })
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let more = missing.len().saturating_sub(20);
            return Err(PlanError::Invalid(format!(
                "holdings: not objects of {org} in this collection: {}{}",
                missing[..missing.len().min(20)].join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )));
        }
        let situation = self
            .store
            .create_situation(&NewSituation {
                id: uuid::Uuid::new_v4().to_string(),
                title: plan.title,
                collection,
                originator: org,
                proposer: account.name.clone(),
                holdings: plan.holdings,
                stages: plan.stages,
                created_us: now_us(),
            })
            .await?;
        let mut e = plan_event(AuditKind::PlanPropose, account, source, &situation, None);
        e.detail = format!(
            "situation {} ({} stages)",
            situation.id,
            situation.stages.len()
        );
        self.store.append_audit(vec![e]).await?;
        Ok(situation)
    }

    /// A situation as the API and the CLI show it, its collection named by id.
    pub async fn situation_json(&self, s: &Situation) -> PlanResult<Value> {
        let mut collection = String::new();
        for root in self.store.api_roots().await? {
            if let Some(c) = self
                .store
                .collections(&root.path)
                .await?
                .into_iter()
                .find(|c| c.pk == s.collection)
            {
                collection = c.id;
                break;
            }
        }
        Ok(situation_json(s, &collection, now_us()))
    }

    pub async fn situation(&self, id: &str) -> PlanResult<Situation> {
        self.store
            .situation(id)
            .await?
            .ok_or_else(|| PlanError::NotFound(format!("no situation {id}")))
    }

    /// The preview of stage `n`: every (holding, organization) whose outcome it changes,
    /// beside the stages in effect now, and the snapshot of that list.
    pub async fn preview_stage(&self, situation: &Situation, n: u32) -> PlanResult<Preview> {
        let stage = stage_of(situation, n)?;
        let view = self.view().await?;
        let now = now_us();
        let reads = self.resolve_holdings(situation).await?;
        let accounts = self.store.accounts().await?;
        let mut by_org: Vec<(String, Vec<Reader>)> = Vec::new();
        for a in accounts.iter().filter(|a| !a.has_role(Role::Admin)) {
            let org = a.organization.slug.to_string();
            match by_org.iter_mut().find(|(o, _)| *o == org) {
                Some((_, readers)) => readers.push(reader_of(a)),
                None => by_org.push((org, vec![reader_of(a)])),
            }
        }
        let audiences: Vec<Audience> = by_org
            .iter()
            .map(|(o, r)| Audience {
                organization: o,
                readers: r,
            })
            .collect();
        let covers: Vec<Vec<StageCover>> = reads
            .iter()
            .map(|r| {
                view.plans_covering(r.row.label_set, now)
                    .into_iter()
                    // Other plans (a stage approved again previews itself as not in effect).
                    .filter(|plan| **plan != stage.plan)
                    .map(|plan| StageCover {
                        label: &plan.label,
                        withhold: &plan.withhold,
                    })
                    .collect()
            })
            .collect();
        let has: Vec<_> = reads
            .iter()
            .map(|r| move |p: &str| r.value.contains_key(p))
            .collect();
        let holdings: Vec<Holding> = reads
            .iter()
            .zip(covers)
            .zip(&has)
            .map(|((r, covers), has)| Holding {
                id: &r.row.stix_id,
                version: &r.version,
                facts: ObjectFacts {
                    object_type: &r.meta.object_type,
                    originator: &r.row.originator,
                    originator_nation: originator_nation(&accounts, &r.row.originator),
                    marking_refs: &r.meta.object_marking_refs,
                    granular: &r.granular,
                },
                active_covers: covers,
                has,
            })
            .collect();
        let changes = stage_changes(&view.policy, &holdings, &audiences, &stage.plan, required);
        let this = StageCover {
            label: &stage.plan.label,
            withhold: &stage.plan.withhold,
        };
        let cover = reads
            .iter()
            .filter(|r| covers_object(&this, &r.meta.object_type, required))
            .map(|r| CoveredRow {
                row: r.row.row,
                required_markings: markings_on_required(&r.meta),
            })
            .collect();
        Ok(Preview {
            snapshot: snapshot(&changes),
            changes,
            cover,
        })
    }

    /// Approves stage `n` under the snapshot the account was shown. Two distinct releasers of
    /// the originator organization approving the current snapshot make it active; a stale
    /// snapshot, a second approval by one account, a stage out of order or expired are
    /// refused.
    pub async fn approve_stage(
        &self,
        account: &Account,
        situation_id: &str,
        n: u32,
        shown: &str,
        source: &str,
    ) -> PlanResult<Situation> {
        let situation = self.situation(situation_id).await?;
        may_release(account, &situation)?;
        let stage = stage_of(&situation, n)?;
        let now = now_us();
        if stage.state == StageState::Withdrawn {
            return Err(PlanError::Conflict(format!(
                "stage {n} is withdrawn; propose a new situation to release again"
            )));
        }
        if stage.plan.expires_us.is_some_and(|t| t <= now) {
            return Err(PlanError::Conflict(format!("stage {n} has expired")));
        }
        if let Some(before) = situation.stages.iter().find(|s| s.n + 1 == n) {
            if before.state == StageState::Proposed {
                return Err(PlanError::Conflict(format!(
                    "stage {} must be active or withdrawn before stage {n} is approved",
                    before.n
                )));
            }
        }
        if shown.len() != 64
            || !shown
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(PlanError::Invalid(
                "snapshot: give the 64 lower-case hex digits the preview shows".into(),
            ));
        }
        let preview = self.preview_stage(&situation, n).await?;
        if preview.snapshot != shown {
            return Err(PlanError::Conflict(format!(
                "stale snapshot: what stage {n} releases has changed since it was shown; preview it again (now {})",
                preview.snapshot
            )));
        }
        if stage.state == StageState::Active && activation_due(&stage.approvals, shown) {
            return Err(PlanError::Conflict(format!(
                "stage {n} is in effect for exactly this snapshot; there is nothing new to approve"
            )));
        }
        if stage
            .approvals
            .iter()
            .any(|a| a.account == account.name && a.snapshot == shown)
        {
            return Err(PlanError::Conflict(format!(
                "{} has already approved this snapshot of stage {n}; a second releaser must approve",
                account.name
            )));
        }
        let approval = Approval {
            account: account.name.clone(),
            snapshot: shown.to_string(),
            at_us: now,
        };
        let state = self
            .store
            .approve_stage(stage.pk, &approval, &preview.cover)
            .await
            .map_err(|e| match e {
                StoreError::Invalid(m) => PlanError::Conflict(m),
                other => PlanError::Store(other),
            })?;
        let mut events = vec![plan_event(
            AuditKind::PlanApprove,
            account,
            source,
            &situation,
            Some((n, format!("snapshot {shown}"))),
        )];
        // This approval made the stage active, or covered what is new of an active one.
        let mut approvals = stage.approvals.clone();
        approvals.push(approval);
        if state == StageState::Active && activation_due(&approvals, shown) {
            self.release.invalidate();
            self.changes.announce();
            events.push(plan_event(
                AuditKind::PlanActivate,
                account,
                source,
                &situation,
                Some((
                    n,
                    format!("snapshot {shown}; covers {} objects", preview.cover.len()),
                )),
            ));
        }
        self.store.append_audit(events).await?;
        self.situation(situation_id).await
    }

    /// Withdraws active stage `n`: one releaser of the originator suffices (narrowing needs
    /// one person, widening two); reads from then on no longer admit through it.
    pub async fn withdraw_stage(
        &self,
        account: &Account,
        situation_id: &str,
        n: u32,
        source: &str,
    ) -> PlanResult<Situation> {
        let situation = self.situation(situation_id).await?;
        may_release(account, &situation)?;
        let stage = stage_of(&situation, n)?;
        if !self.store.withdraw_stage(stage.pk, now_us()).await? {
            return Err(PlanError::Conflict(format!(
                "stage {n} is {}; only an active stage can be withdrawn",
                stage.state.as_str()
            )));
        }
        self.release.invalidate();
        self.changes.announce();
        self.store
            .append_audit(vec![plan_event(
                AuditKind::PlanWithdraw,
                account,
                source,
                &situation,
                Some((n, String::new())),
            )])
            .await?;
        self.situation(situation_id).await
    }

    /// The latest versions of `ids` in the collection, with their bytes.
    async fn latest(&self, collection: i64, ids: &[String]) -> PlanResult<Vec<StoredObject>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let mut q = ObjectQuery::new(collection, chunk.len());
            q.ids = chunk.to_vec();
            q.versions = VersionFilter::last();
            q.with_raw = true;
            out.extend(self.store.query_objects(&q).await?.items);
        }
        Ok(out)
    }

    /// The situation's holdings resolved now (DESIGN §9): the named objects and everything
    /// they reference transitively (object_refs, relationship and sighting endpoints;
    /// `created_by_ref` excepted), each at its latest version, the originator's only.
    async fn resolve_holdings(&self, situation: &Situation) -> PlanResult<Vec<Read>> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut next: Vec<String> = situation.holdings.clone();
        let mut out = Vec::new();
        while !next.is_empty() {
            next.retain(|id| seen.insert(id.clone()));
            let found = self.latest(situation.collection, &next).await?;
            next = Vec::new();
            for row in found {
                if row.originator != situation.originator {
                    continue;
                }
                let (Ok(value), Ok(meta)) = (
                    serde_json::from_str::<Map<String, Value>>(&row.raw),
                    relto_stix::validate_object(&row.raw),
                ) else {
                    continue;
                };
                next.extend(meta.endpoints.iter().cloned());
                next.extend(meta.object_refs.iter().cloned());
                let version = value
                    .get("modified")
                    .or_else(|| value.get("created"))
                    .and_then(Value::as_str)
                    .map_or_else(
                        || relto_stix::timestamp::format_micros(row.version),
                        str::to_string,
                    );
                let granular = meta
                    .granular_markings
                    .iter()
                    .filter_map(|g| Some((g.marking_ref.clone()?, g.selectors.clone())))
                    .collect();
                out.push(Read {
                    row,
                    value,
                    meta,
                    granular,
                    version,
                });
            }
        }
        out.sort_by(|a, b| a.row.stix_id.cmp(&b.row.stix_id));
        Ok(out)
    }
}

fn stage_of(situation: &Situation, n: u32) -> PlanResult<&Stage> {
    situation
        .stages
        .iter()
        .find(|s| s.n == n)
        .ok_or_else(|| PlanError::NotFound(format!("situation {} has no stage {n}", situation.id)))
}

/// Only releasing officers of the originator organization approve or withdraw its stages.
fn may_release(account: &Account, situation: &Situation) -> PlanResult<()> {
    if !account.has_role(Role::Releaser) {
        return Err(PlanError::Forbidden(format!(
            "{} is not a releasing officer (role releaser)",
            account.name
        )));
    }
    if account.organization.slug != situation.originator {
        return Err(PlanError::Forbidden(format!(
            "only releasing officers of {} approve or withdraw its stages",
            situation.originator
        )));
    }
    Ok(())
}

fn originator_nation<'a>(accounts: &'a [Account], org: &str) -> &'a str {
    accounts
        .iter()
        .find(|a| a.organization.slug == org)
        .map_or("", |a| a.organization.nation.as_str())
}

fn plan_event(
    kind: AuditKind,
    account: &Account,
    source: &str,
    situation: &Situation,
    stage: Option<(u32, String)>,
) -> AuditEvent {
    let mut e = event(
        kind,
        &account.name,
        account.organization.slug.as_str(),
        source,
    );
    e.outcome = AuditOutcome::Ok.into();
    e.object_id = situation.id.clone();
    if let Some((n, detail)) = stage {
        e.detail = if detail.is_empty() {
            format!("stage {n}")
        } else {
            format!("stage {n}; {detail}")
        };
    }
    e
}
