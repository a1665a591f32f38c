//! Ingest, for every way in (TAXII POST, `relto import`, later a peer hub): STIX validation,
//! the marking-definition rules and the write rules of DESIGN §3, then the store, giving per
//! object what became of it and the audit records of it.

use std::collections::HashMap;

use relto_policy::label::{parse_marking, LABEL_EXTENSION};
use relto_policy::Marking;
use relto_stix::ObjectMeta;
use relto_store::audit::AuditEvent;
use relto_store::{Account, AddOutcome, NewObject, Store, StoreResult};
use relto_taxii::hops::HopPath;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::release::{release_facts, write_rules, ReleaseView, WriteRefused};
use relto_stix::timestamp::format_micros;
use relto_store::audit::{AuditKind, AuditOutcome};

/// Who posts: an account (the write rules apply), a peer hub through its relay account
/// (the same rules), naming the hubs what it posts passed through, or the operator importing
/// for the hub's own organization.
#[derive(Clone, Copy)]
pub enum Poster<'a> {
    Account(&'a Account),
    Hub {
        relay: &'a Account,
        hops: &'a HopPath,
    },
    Operator {
        organization: &'a str,
        nation: &'a str,
    },
}

/// Why one posted object is not stored: its id when it has one, the message, and its version
/// as posted when readable.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub id: Option<String>,
    pub message: String,
    pub version: Option<String>,
}

/// One posted object, checked: what to store (with its version as posted), or why not.
pub type Checked = Result<(NewObject, Option<String>), Refusal>;

/// Checks every object of an envelope, in order. Markings defined in the envelope may be used
/// by its other objects, but only those that pass themselves; a marking the hub already knows
/// is judged by the hub's definition, never by the envelope's copy.
pub fn check_objects(view: &ReleaseView, poster: Poster<'_>, raws: &[&RawValue]) -> Vec<Checked> {
    let metas: Vec<Result<ObjectMeta, Refusal>> = raws
        .iter()
        .map(|raw| {
            relto_stix::validate_object(raw.get()).map_err(|e| Refusal {
                id: e.id,
                message: e.message,
                version: version_hint(raw.get()),
            })
        })
        .collect();
    // First the marking-definitions: each must define what its id means, and only those that
    // pass are the envelope's markings.
    let mut envelope_markings: HashMap<String, Marking> = HashMap::new();
    let mut definitions: HashMap<usize, Result<(), WriteRefused>> = HashMap::new();
    // An id defined twice differently in one envelope means neither.
    let mut contested: Vec<String> = Vec::new();
    for (i, (raw, meta)) in raws.iter().zip(&metas).enumerate() {
        let Ok(meta) = meta else { continue };
        if meta.object_type != "marking-definition" {
            continue;
        }
        let checked = check_definition(view, raw.get(), &meta.id);
        if let Ok(Some(marking)) = &checked {
            match envelope_markings.get(meta.id.as_str()) {
                Some(other) if other != marking => contested.push(meta.id.to_string()),
                _ => {
                    envelope_markings.insert(meta.id.to_string(), marking.clone());
                }
            }
        }
        definitions.insert(i, checked.map(|_| ()));
    }
    for id in &contested {
        envelope_markings.remove(id);
    }
    for (i, meta) in metas.iter().enumerate() {
        if let Ok(meta) = meta {
            if contested.iter().any(|c| meta.id == *c) {
                definitions.insert(
                    i,
                    Err(WriteRefused(format!(
                        "{} is defined more than once, differently, in this envelope",
                        meta.id
                    ))),
                );
            }
        }
    }
    raws.iter()
        .zip(metas)
        .enumerate()
        .map(|(i, (raw, meta))| {
            let meta = meta?;
            let refuse = |WriteRefused(message)| Refusal {
                id: Some(meta.id.to_string()),
                message,
                version: meta.version().map(|t| t.text.clone()),
            };
            if let Some(Err(why)) = definitions.get(&i) {
                return Err(refuse(why.clone()));
            }
            let release = match poster {
                Poster::Account(account) | Poster::Hub { relay: account, .. } => {
                    write_rules(view, account, &meta, &envelope_markings).map_err(refuse)?
                }
                Poster::Operator {
                    organization,
                    nation,
                } => release_facts(&meta, organization, nation),
            };
            let version_text = meta.version().map(|t| t.text.clone());
            Ok((
                NewObject {
                    version: meta.version().map(|t| t.micros),
                    stix_id: meta.id.into_string(),
                    object_type: meta.object_type,
                    spec_version: meta.spec_version,
                    raw: raw.get().to_string(),
                    release,
                    hops: match poster {
                        Poster::Hub { hops, .. } => hops.to_stored(),
                        _ => None,
                    },
                },
                version_text,
            ))
        })
        .collect()
}

/// A marking-definition's id means one thing for good (STIX marking-definitions are never
/// versioned, and relto's decisions read the stored definition): an id the hub already knows
/// (TLP, a stored label or statement) must be defined the same; a name-based (UUIDv5) id,
/// which anyone can compute for a relto label, must be exactly that label; and a relto label
/// must be well-formed (a malformed one stored would deny everything marked with it). Returns
/// the marking it defines.
fn check_definition(
    view: &ReleaseView,
    raw: &str,
    id: &str,
) -> Result<Option<Marking>, WriteRefused> {
    definition_checks(view, raw, id).map_err(WriteRefused)
}

fn definition_checks(view: &ReleaseView, raw: &str, id: &str) -> Result<Option<Marking>, String> {
    let value: Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let posted = match parse_marking(&value) {
        Ok(Some((_, m))) => m,
        Ok(None) => return Ok(None),
        Err(why) => return Err(format!("malformed relto label ({LABEL_EXTENSION}): {why}")),
    };
    if let Some(known) = view.policy.marking(id) {
        if known != &posted {
            return Err(format!(
                "{id} is already defined differently; marking-definitions cannot be changed"
            ));
        }
    }
    let uuid = id.trim_start_matches("marking-definition--");
    let name_based = uuid.chars().nth(14) == Some('5');
    if name_based {
        match &posted {
            Marking::Label(label) if label.id() == id => {}
            Marking::Label(label) => {
                return Err(format!(
                    "a label with a name-based (UUIDv5) id must carry its canonical id {}",
                    label.id()
                ))
            }
            Marking::NonRestrictive | Marking::Acs(_) => {
                return Err(format!(
                    "{id} is a name-based (UUIDv5) id, the kind relto labels have: only the \
                     relto label it names may be defined under it; give this marking a random \
                     (UUIDv4) id"
                ))
            }
        }
    }
    Ok(Some(posted))
}

/// The `modified` (else `created`) text of an object that failed validation, if readable.
pub fn version_hint(raw: &str) -> Option<String> {
    let v: Value = serde_json::from_str(raw).ok()?;
    v.get("modified")
        .or_else(|| v.get("created"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// What became of one posted object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Added,
    /// This version was already stored, by the poster's organization.
    Duplicate,
    /// Not stored, for this reason.
    Rejected(String),
}

/// One posted object's result, in the order posted: its id and version when known.
#[derive(Debug, Clone)]
pub struct Written {
    pub id: Option<String>,
    pub version: Option<String>,
    pub outcome: Outcome,
    /// What the poster should know of an object stored (how an ACS marking was read).
    pub note: Option<String>,
}

impl crate::Hub {
    /// Checks and stores the objects of an envelope (or a file) posted by `poster` into
    /// `collection`, in batches of `batch` (`progress` is told how many were handled after
    /// each); returns each object's result in the order posted. The release view is the one
    /// the caller's request holds.
    pub async fn ingest(
        &self,
        view: &ReleaseView,
        poster: Poster<'_>,
        collection: i64,
        raws: &[&RawValue],
        batch: usize,
        progress: impl FnMut(usize),
    ) -> StoreResult<Vec<Written>> {
        if let (Poster::Hub { hops, .. }, Some(here)) = (poster, &self.name) {
            if hops.contains(here) {
                return Ok(looped(raws, here, hops));
            }
        }
        let written = ingest(
            self.store.as_ref(),
            view,
            poster,
            collection,
            raws,
            (batch, progress),
        )
        .await;
        // New label sets or markings may have come in: readers must see them at once.
        self.release.invalidate();
        self.changes.announce();
        written
    }
}

/// What a peer hub posts that already passed through this one, each refused: taking it back
/// would make a loop (DESIGN §11).
fn looped(raws: &[&RawValue], here: &str, hops: &HopPath) -> Vec<Written> {
    let message = format!(
        "not taken back: this hub ({here}) is already on its hop path {}",
        hops.to_text()
    );
    raws.iter()
        .map(|raw| {
            #[derive(serde::Deserialize)]
            struct Id {
                id: Option<String>,
            }
            Written {
                id: serde_json::from_str::<Id>(raw.get())
                    .ok()
                    .and_then(|i| i.id),
                version: version_hint(raw.get()),
                outcome: Outcome::Rejected(message.clone()),
                note: None,
            }
        })
        .collect()
}

async fn ingest(
    store: &dyn Store,
    view: &ReleaseView,
    poster: Poster<'_>,
    collection: i64,
    raws: &[&RawValue],
    (batch, mut progress): (usize, impl FnMut(usize)),
) -> StoreResult<Vec<Written>> {
    let now_us = crate::now_us();
    let mut out: Vec<Written> = Vec::with_capacity(raws.len());
    let mut checks = check_objects(view, poster, raws).into_iter();
    for chunk in raws.chunks(batch.max(1)) {
        let mut to_store = Vec::with_capacity(chunk.len());
        // Where each stored object's result goes in `out`.
        let mut slots = Vec::with_capacity(chunk.len());
        for checked in checks.by_ref().take(chunk.len()) {
            match checked {
                Ok((object, version)) => {
                    slots.push(out.len());
                    out.push(Written {
                        id: Some(object.stix_id.clone()),
                        version,
                        outcome: Outcome::Added,
                        note: acs_note(view, &object),
                    });
                    to_store.push(object);
                }
                Err(r) => out.push(Written {
                    id: r.id,
                    version: r.version,
                    outcome: Outcome::Rejected(r.message),
                    note: None,
                }),
            }
        }
        let outcomes = store.add_objects(collection, to_store, now_us).await?;
        for (slot, outcome) in slots.into_iter().zip(outcomes) {
            let w = &mut out[slot];
            match outcome {
                AddOutcome::Added { version, .. } => {
                    w.version.get_or_insert_with(|| format_micros(version));
                }
                AddOutcome::Duplicate { version } => {
                    w.version.get_or_insert_with(|| format_micros(version));
                    w.outcome = Outcome::Duplicate;
                }
                AddOutcome::Refused(why) => {
                    w.outcome = Outcome::Rejected(why);
                }
            }
        }
        progress(chunk.len());
    }
    Ok(out)
}

/// How the hub reads an ACS marking-definition being stored (DESIGN §2 knows relto labels and
/// TLP; an ACS marking is read as a label of the realm, or falls back to the default one).
fn acs_note(view: &ReleaseView, object: &NewObject) -> Option<String> {
    if object.object_type != "marking-definition" {
        return None;
    }
    let value: Value = serde_json::from_str(&object.raw).ok()?;
    match parse_marking(&value) {
        Ok(Some((_, Marking::Acs(ext)))) => Some(view.policy.read_acs(&ext).note()),
        _ => None,
    }
}

/// The message a duplicate's status entry carries.
pub const DUPLICATE: &str = "this version was already in the collection";

/// One `object.write` record per posted object, each a copy of `base` (who, from where).
pub fn write_events(base: &AuditEvent, written: &[Written]) -> Vec<AuditEvent> {
    written
        .iter()
        .map(|w| {
            let (outcome, detail) = match &w.outcome {
                Outcome::Added => (AuditOutcome::Ok, w.note.clone().unwrap_or_default()),
                Outcome::Duplicate => (AuditOutcome::Duplicate, DUPLICATE.to_string()),
                Outcome::Rejected(why) => (AuditOutcome::Rejected, why.clone()),
            };
            AuditEvent {
                kind: AuditKind::ObjectWrite.into(),
                object_id: w.id.clone().unwrap_or_default(),
                object_version: w.version.clone().unwrap_or_default(),
                outcome: outcome.into(),
                detail,
                ..base.clone()
            }
        })
        .collect()
}
