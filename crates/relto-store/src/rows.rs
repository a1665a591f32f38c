//! The models from a result row's columns, and the realm apply's tally, written once for both
//! backends: each adapts its row type to [`Columns`] and keeps only its SQL dialect.

use crate::{
    Account, ApiRoot, ApplySummary, Approval, Collection, LabelSet, Organization, Peer,
    PlannedPeer, Situation, Stage, StageState, StoreError, StoredLabelSet,
};
use relto_taxii::VersionFilter;

/// Reading one result row's columns by position.
pub trait Columns {
    type Error;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    /// A text column parsed into a checked type (a nation, a slug); a stored value that does
    /// not parse is the backend's conversion error, never a default.
    fn parsed<T>(&self, i: usize) -> Result<T, Self::Error>
    where
        T: TryFrom<String>,
        T::Error: std::error::Error + Send + Sync + 'static;
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

/// The audit chain's columns, in the order each backend's record mapping reads them.
pub const AUDIT_SELECT: &str = "SELECT seq, ts_us, kind, actor, organization, source, object_id,
            object_version, outcome, detail, prev_hash, hash FROM audit";

/// The columns [`peer`] reads, in order.
pub const PEER_SELECT: &str =
    "SELECT config, CAST(CASE WHEN enabled THEN 1 ELSE 0 END AS BIGINT), cursor,
            last_attempt_us, last_success_us, failures, last_error, transferred, withheld
     FROM peers";

pub fn peer<C: Columns>(r: &C) -> Result<Peer, C::Error> {
    Ok(Peer {
        plan: r.parsed(0)?,
        enabled: r.int(1)? == 1,
        cursor: r.opt_text(2)?,
        last_attempt_us: r.opt_int(3)?,
        last_success_us: r.opt_int(4)?,
        failures: r.int(5)?,
        last_error: r.opt_text(6)?,
        transferred: r.int(7)?,
        withheld: r.int(8)?,
    })
}

/// Records a peer run (`Store::record_peer_run`) for its lease holder: parameters name,
/// holder, cursor (kept when NULL), at, error (NULL: a success), transferred, withheld;
/// written `?N` (PostgreSQL's form, `$N`, by replacing the marks).
pub const PEER_RUN_SQL: &str = "UPDATE peers SET
        cursor = COALESCE(CAST(?3 AS TEXT), cursor),
        last_attempt_us = ?4,
        last_success_us = CASE WHEN CAST(?5 AS TEXT) IS NULL THEN ?4 ELSE last_success_us END,
        failures = CASE WHEN CAST(?5 AS TEXT) IS NULL THEN 0 ELSE failures + 1 END,
        last_error = ?5,
        transferred = transferred + ?6,
        withheld = withheld + ?7
     WHERE name = ?1 AND lease_holder = ?2";

/// A peer's configuration as the stores keep it.
pub fn peer_config(p: &PlannedPeer) -> String {
    serde_json::to_string(p).unwrap_or_default()
}

/// The columns [`account`] reads, in order.
pub const ACCOUNT_SELECT: &str =
    "SELECT a.name, a.roles, a.password_hash, o.slug, o.name, o.nation, o.identity, o.accredited, a.clearances,
            a.public_key
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
        organization: organization(r, 3)?,
        clearances: serde_json::from_str(&r.text(8)?).unwrap_or_default(),
        public_key: r.opt_text(9)?,
    })
}

/// The columns [`organization`] reads, in order.
pub const ORGANIZATION_SELECT: &str =
    "SELECT o.slug, o.name, o.nation, o.identity, o.accredited FROM organizations o";

/// An organization from five columns starting at `at`.
pub fn organization<C: Columns>(r: &C, at: usize) -> Result<Organization, C::Error> {
    Ok(Organization {
        slug: r.parsed(at)?,
        name: r.text(at + 1)?,
        nation: r.parsed(at + 2)?,
        identity: r.text(at + 3)?,
        accredited: parse_list(&r.text(at + 4)?),
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

/// The release rules as both stores keep them (JSON text; none stored: the defaults).
pub fn release_rules(text: Option<&str>) -> Result<relto_policy::ReleaseRules, StoreError> {
    match text {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| StoreError::Internal(format!("release rules: {e}"))),
        None => Ok(relto_policy::ReleaseRules::default()),
    }
}

/// The columns [`label_set`] reads, in order.
pub const LABEL_SET_SELECT: &str =
    "SELECT id, markings, default_nation, alternatives, required_markings FROM label_sets ORDER BY id";

pub fn label_set<C: Columns>(r: &C) -> Result<StoredLabelSet, C::Error> {
    Ok(StoredLabelSet {
        id: r.int(0)?,
        set: label_set_at(r, 1)?,
    })
}

/// A label set from columns `at..at+4` (markings, default_nation, alternatives,
/// required_markings).
pub fn label_set_at<C: Columns>(r: &C, at: usize) -> Result<LabelSet, C::Error> {
    Ok(LabelSet {
        markings: parse_list(&r.text(at)?),
        default_nation: r.opt_text(at + 1)?,
        alternatives: r
            .parsed::<JsonText<Vec<relto_policy::plan::StagePlan>>>(at + 2)?
            .0,
        required_markings: parse_list(&r.text(at + 3)?),
    })
}

/// A column of JSON text that must parse as `T`.
pub struct JsonText<T>(pub T);

impl<T: serde::de::DeserializeOwned> TryFrom<String> for JsonText<T> {
    type Error = serde_json::Error;
    fn try_from(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str(&text).map(JsonText)
    }
}

impl TryFrom<String> for StageState {
    type Error = StoreError;
    fn try_from(text: String) -> Result<Self, StoreError> {
        StageState::parse(&text)
            .ok_or_else(|| StoreError::Internal(format!("unknown stage state '{text}'")))
    }
}

/// The columns [`situation`] reads, in order (each backend adds its condition).
pub const SITUATION_SELECT: &str =
    "SELECT pk, id, title, collection, originator, proposer, holdings, created_us FROM situations";

/// A situation's row (its stages are read apart) and its key.
pub fn situation<C: Columns>(r: &C) -> Result<(i64, Situation), C::Error> {
    Ok((
        r.int(0)?,
        Situation {
            id: r.text(1)?,
            title: r.text(2)?,
            collection: r.int(3)?,
            originator: r.parsed(4)?,
            proposer: r.text(5)?,
            holdings: r.parsed::<JsonText<Vec<String>>>(6)?.0,
            created_us: r.int(7)?,
            stages: Vec::new(),
        },
    ))
}

/// The columns [`stage`] reads, in order.
pub const STAGE_SELECT: &str = "SELECT pk, situation, n, plan, state, changed_us FROM stages";

/// A stage's row (its approvals are read apart) and its situation's key.
pub fn stage<C: Columns>(r: &C) -> Result<(i64, Stage), C::Error> {
    Ok((
        r.int(1)?,
        Stage {
            pk: r.int(0)?,
            n: r.int(2)? as u32,
            plan: r.parsed::<JsonText<relto_policy::plan::StagePlan>>(3)?.0,
            state: r.parsed(4)?,
            changed_us: r.opt_int(5)?,
            approvals: Vec::new(),
        },
    ))
}

/// The columns [`approval`] reads, in order.
pub const APPROVAL_SELECT: &str = "SELECT stage, account, snapshot, at_us FROM approvals";

pub fn approval<C: Columns>(r: &C) -> Result<(i64, Approval), C::Error> {
    Ok((
        r.int(0)?,
        Approval {
            account: r.text(1)?,
            snapshot: r.text(2)?,
            at_us: r.int(3)?,
        },
    ))
}

/// Situations with their stages and approvals, from the rows read of each table.
pub fn assemble_situations(
    situations: Vec<(i64, Situation)>,
    stages: Vec<(i64, Stage)>,
    approvals: Vec<(i64, Approval)>,
) -> Vec<Situation> {
    let mut stages = stages;
    for (stage_pk, a) in approvals {
        if let Some((_, st)) = stages.iter_mut().find(|(_, st)| st.pk == stage_pk) {
            st.approvals.push(a);
        }
    }
    for (_, st) in &mut stages {
        st.approvals.sort_by_key(|a| a.at_us);
    }
    situations
        .into_iter()
        .map(|(pk, mut s)| {
            s.stages = stages
                .iter()
                .filter(|(sp, _)| *sp == pk)
                .map(|(_, st)| st.clone())
                .collect();
            s.stages.sort_by_key(|st| st.n);
            s
        })
        .collect()
}

/// One alternative of a `match[version]` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionTerm<'a> {
    Last,
    First,
    /// One of these versions (µs).
    Exact(&'a Vec<i64>),
}

/// The `match[version]` condition as alternatives, each store writing them in its dialect:
/// None when every version matches (`all`), an empty list when none can.
pub fn version_terms(v: &VersionFilter) -> Option<Vec<VersionTerm<'_>>> {
    if v.all {
        return None;
    }
    let mut terms = Vec::new();
    if v.last {
        terms.push(VersionTerm::Last);
    }
    if v.first {
        terms.push(VersionTerm::First);
    }
    if !v.exact.is_empty() {
        terms.push(VersionTerm::Exact(&v.exact));
    }
    Some(terms)
}

/// Appends one object_refs entry's facts to a row's facts text, in the form
/// [`hidden_positions`] reads ("idx,label_set,a_label_set,b_label_set,originator,
/// a_originator,b_originator", ';' between entries).
pub fn push_refs_facts(
    out: &mut String,
    idx: i64,
    (label_set, originator): (i64, &str),
    (a_label_set, a_originator): (i64, &str),
    (b_label_set, b_originator): (i64, &str),
) {
    use std::fmt::Write;
    if !out.is_empty() {
        out.push(';');
    }
    let _ = write!(
        out,
        "{idx},{label_set},{a_label_set},{b_label_set},{originator},{a_originator},{b_originator}"
    );
}

/// The positions of a row's object_refs entries that `reader` does not see, from the entries'
/// facts kept as one text on the row ("idx,label_set,a_label_set,b_label_set,originator,
/// a_originator,b_originator" per entry, ';' between). An entry is seen when the object it
/// names is the reader organization's, or the reader passes its label set and stands on each
/// of its endpoints (absent: label set 0, the reader organization's, or passing): the rule
/// the stores' SQL applies to the entries themselves. Label set -1 (not in the collection)
/// passes no reader.
pub fn hidden_positions(
    facts: &str,
    reader: &crate::ReaderFilter,
    out: &mut Vec<usize>,
) -> Result<(), crate::StoreError> {
    let passes = |set: i64| set > 0 && reader.label_sets.contains(&set);
    let own = |originator: &[u8]| originator == reader.organization.as_bytes();
    let stands = |set: i64, originator: &[u8]| set == 0 || own(originator) || passes(set);
    // One pass over the bytes (this runs for every row of a reader's page): four integers
    // and three texts per entry, fields split by ',' and entries by ';'.
    for entry in facts.as_bytes().split(|&c| c == b';') {
        if entry.is_empty() {
            continue;
        }
        let bad = || {
            crate::StoreError::Internal(format!(
                "object_refs facts '{}'",
                String::from_utf8_lossy(entry)
            ))
        };
        let mut fields = entry.splitn(7, |&c| c == b',');
        let mut int = || -> Result<i64, crate::StoreError> {
            fields
                .next()
                .and_then(|f| std::str::from_utf8(f).ok()?.parse().ok())
                .ok_or_else(bad)
        };
        let (idx, set, a_set, b_set) = (int()?, int()?, int()?, int()?);
        let mut text = || fields.next().ok_or_else(bad);
        let (originator, a_originator, b_originator) = (text()?, text()?, text()?);
        let seen = own(originator)
            || (passes(set) && stands(a_set, a_originator) && stands(b_set, b_originator));
        if !seen {
            out.push(usize::try_from(idx).map_err(|_| bad())?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_positions_follow_the_entry_rule() {
        let reader = crate::ReaderFilter {
            organization: "deu-bnd".into(),
            label_sets: vec![1, 2],
        };
        let facts = [
            "0,2,0,0,kor-nis,,",               // passes, no endpoints: seen
            "1,3,0,0,kor-nis,,",               // label set 3 failed: hidden
            "2,3,0,0,deu-bnd,,",               // the reader's own: seen
            "3,2,3,2,kor-nis,kor-nis,kor-nis", // stands on a failed endpoint: hidden
            "4,2,3,2,kor-nis,deu-bnd,kor-nis", // that endpoint is the reader's own: seen
            "5,-1,0,0,,,",                     // not in the collection: hidden
            "6,2,2,-1,kor-nis,kor-nis,",       // an endpoint not in the collection: hidden
        ]
        .join(";");
        let mut out = Vec::new();
        hidden_positions(&facts, &reader, &mut out).expect("facts");
        assert_eq!(out, vec![1, 3, 5, 6]);
        for bad in ["0,2,0", "0,x,0,0,a,b,c", "-1,3,0,0,,,", "0,,0,0,,,"] {
            assert!(hidden_positions(bad, &reader, &mut out).is_err(), "{bad}");
        }
    }
}
