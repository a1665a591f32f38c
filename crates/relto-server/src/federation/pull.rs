//! A pull: the remote collection's objects added after the stored cursor, page by page as
//! TAXII 2.1 says (`added_after`, then `next` with the same parameters until `more` is
//! false), taken in through the one ingest path as the peer organization's relay. The cursor
//! is the remote's `date_added` (never `modified`: objects that arrive late with old
//! timestamps are not missed), stored only when a sweep is complete.

use hyper::StatusCode;
use relto_hub::ingest::{Outcome, Poster};
use relto_stix::envelope::EnvelopeError;
use relto_stix::timestamp::{format_micros, parse_micros};
use relto_store::audit::AuditKind;
use relto_taxii::hops::{parse_page_paths, HopPath, HOPS_HEADER};
use relto_taxii::remote::{shown, PageMembers};
use serde_json::value::RawValue;

use super::{PeerError, Run};

/// Objects asked for per page.
const PULL_PAGE: usize = 500;
/// Pages one sweep may take: a peer whose paging never ends is cut off here.
const MAX_PAGES: usize = 10_000;

/// Takes what the peer added since the last sweep; true when the sweep completed.
pub(super) async fn pull(run: &mut Run<'_>) -> Result<bool, PeerError> {
    let saved = run.cursor.clone();
    let saved_us = saved.as_deref().and_then(|c| parse_micros(c).ok());
    let mut newest: Option<i64> = saved_us;
    let mut next: Option<String> = None;
    let mut empty_pages = 0;
    for _ in 0..MAX_PAGES {
        run.renew().await?;
        let mut query: Vec<(&str, String)> = vec![
            ("limit", PULL_PAGE.to_string()),
            ("match[version]", "all".into()),
        ];
        if let Some(c) = &saved {
            query.push(("added_after", c.clone()));
        }
        if let Some(n) = &next {
            query.push(("next", n.clone()));
        }
        let query = serde_urlencoded::to_string(&query)
            .map_err(|e| PeerError(format!("cannot encode the query: {e}")))?;
        let path = format!("{}objects/?{query}", run.remote.collection_path);
        let answer = run
            .remote
            .get(&path)
            .await?
            .expect(StatusCode::OK, "GET objects")?;
        let members = PageMembers::parse(&answer.body).map_err(|e| PeerError(e.0))?;
        // An empty page may leave out `objects` (TAXII 2.1 §3.7) or hold an empty list.
        let raws =
            match relto_stix::parse_envelope_with_depth(&answer.body, run.st.config.max_json_depth)
            {
                Ok(raws) => raws,
                Err(EnvelopeError::EmptyObjects) => Vec::new(),
                Err(EnvelopeError::NotAnEnvelope(_)) if members.next.is_none() && !members.more => {
                    Vec::new()
                }
                Err(e) => return Err(PeerError(format!("the page is not a TAXII envelope: {e}"))),
            };
        // The page's newest date_added: where the next sweep starts once this one is done.
        let last = answer
            .headers
            .get("x-taxii-date-added-last")
            .and_then(|v| v.to_str().ok());
        if !raws.is_empty() {
            let Some(last) = last else {
                return Err(PeerError(
                    "a page of objects came without X-TAXII-Date-Added-Last".into(),
                ));
            };
            let last_us = parse_micros(last).map_err(|_| {
                PeerError(format!(
                    "X-TAXII-Date-Added-Last {} is not a timestamp",
                    shown(last)
                ))
            })?;
            if saved_us.is_some_and(|s| last_us <= s) {
                return Err(PeerError(format!(
                    "the peer answered objects added at {} for added_after {}",
                    shown(last),
                    saved.as_deref().unwrap_or_default()
                )));
            }
            newest = newest.max(Some(last_us));
            // A relto peer names each object's hop path; any other server names none.
            let paths = match answer.headers.get(HOPS_HEADER) {
                Some(v) => {
                    let text = v
                        .to_str()
                        .map_err(|_| PeerError("the page's Relto-Hops is not ASCII".into()))?;
                    Some(parse_page_paths(text, raws.len()).map_err(PeerError)?)
                }
                None => None,
            };
            ingest(run, &raws, paths).await?;
        }
        if !members.more {
            if let Some(n) = newest.filter(|n| Some(*n) != saved_us) {
                run.checkpoint(Some(format_micros(n))).await?;
            } else {
                run.checkpoint(None).await?;
            }
            return Ok(true);
        }
        let Some(token) = members.next else {
            return Err(PeerError(
                "the peer said more but gave no next token".into(),
            ));
        };
        // A token may repeat (medallion's names its paging session); pages that hold nothing
        // yet say there is more do not go on for ever.
        empty_pages = if raws.is_empty() { empty_pages + 1 } else { 0 };
        if empty_pages >= 3 {
            return Err(PeerError(format!(
                "the peer answered 3 empty pages in a row, each saying more follows (next {})",
                shown(&token)
            )));
        }
        next = Some(token);
    }
    Err(PeerError(format!(
        "the peer's paging did not end within {MAX_PAGES} pages"
    )))
}

/// One page through the one ingest path as the peer's relay, audited as its writes; with
/// their hop paths when the peer named them (what passed through this hub before is not
/// taken back, and counted as withheld). What TLP keeps from automatic sharing (AMBER,
/// AMBER+STRICT, RED) is not taken in: the remote served it to this hub's account as to a
/// person, and this hub would pass it on to all the collection's readers.
async fn ingest(
    run: &mut Run<'_>,
    raws: &[&RawValue],
    paths: Option<Vec<HopPath>>,
) -> Result<(), PeerError> {
    let total = raws.len();
    // Consecutive objects of one path go in together.
    let here = run.st.hub.name.as_deref();
    let mut groups: Vec<(Option<HopPath>, Vec<&RawValue>)> = Vec::new();
    for (i, raw) in raws.iter().enumerate() {
        let path = paths.as_ref().and_then(|p| p.get(i)).cloned();
        let looped = path.as_ref().zip(here).is_some_and(|(p, h)| p.contains(h));
        if looped || relto_policy::label::raw_withheld_from_peers(raw.get()) {
            continue;
        }
        match groups.last_mut() {
            Some((p, members)) if *p == path => members.push(raw),
            _ => groups.push((path, vec![raw])),
        }
    }
    let held = total - groups.iter().map(|(_, m)| m.len()).sum::<usize>();
    let mut written = Vec::with_capacity(total);
    for (path, members) in &groups {
        // Read for each group: what one stored (marking-definitions) the next may use.
        let view = run.st.hub.view().await?;
        let poster = match path {
            Some(hops) => Poster::Hub {
                relay: &run.account,
                hops,
            },
            None => Poster::Account(&run.account),
        };
        let hub = &run.st.hub;
        written.extend(
            hub.ingest(
                &view,
                poster,
                run.collection.pk,
                members,
                usize::MAX,
                |_| {},
            )
            .await?,
        );
    }
    let base = run.audit_base(AuditKind::ObjectWrite);
    run.st
        .audit
        .record_all(relto_hub::ingest::write_events(&base, &written))
        .await;
    let added = written
        .iter()
        .filter(|w| matches!(w.outcome, Outcome::Added))
        .count();
    let refused: Vec<_> = written
        .iter()
        .filter_map(|w| match &w.outcome {
            Outcome::Rejected(why) => Some((w.id.clone().unwrap_or_default(), why.clone())),
            _ => None,
        })
        .collect();
    if let Some((id, why)) = refused.first() {
        tracing::warn!(
            peer = %run.plan.name,
            refused = refused.len(),
            first_id = %shown(id),
            first_reason = %shown(why),
            "objects pulled from the peer were refused"
        );
    }
    run.count(added, held);
    Ok(())
}
