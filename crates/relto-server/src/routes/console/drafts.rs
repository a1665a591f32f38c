//! Drafting in the console (issue 17): an analyst pastes a report, sees what `Hub::draft`
//! found — each name and indicator highlighted in the text, the objects, the label — and
//! posts the bundle to the collection through the one ingest path, as a TAXII POST would.

use super::*;
use relto_hub::draft::{DraftFailure, DraftRequest};
use relto_hub::ingest::{Outcome, Poster};

/// A report's text, a MISP event or a bundle, as a form may carry it (the draft's own limit,
/// with room for the form's encoding).
pub(super) const BUNDLE_FORM_LIMIT: u64 = 3 * relto_draft::MAX_TEXT as u64;

#[derive(serde::Deserialize)]
pub(in crate::routes) struct DraftForm {
    text: String,
    #[serde(default)]
    label: String,
}

#[derive(serde::Deserialize)]
pub(in crate::routes) struct PostForm {
    bundle: String,
}

/// The collection a signed-in user may write, with the release rules of this request.
pub(super) async fn writable(st: &AppState, s: &Session, cid: &str) -> UiResult<Access> {
    let (api_root, coll) = collection_by_id(st, cid)
        .await?
        .ok_or_else(|| UiError::not_found(format!("No collection {cid} that you may open.")))?;
    Ok(collection_for(st, &s.principal, &api_root.path, &coll.id, Use::Write).await?)
}

fn draft_form(cid: &str, s: &Session, text: &str, label: &str) -> Markup {
    html! {
        form method="post" action={ "/ui/collections/" (cid) "/draft" } class="draft" {
            (csrf_field(s))
            label for="d-text" { "Report text" }
            textarea id="d-text" name="text" rows="16" required { (text) }
            label for="d-label" { "Label (a marking-definition id; empty: the realm's default label)" }
            input id="d-label" name="label" type="text" value=(label);
            button type="submit" { "Draft" }
        }
    }
}

/// GET /ui/collections/{cid}/draft
pub(in crate::routes) async fn form(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<String>, PathRejection>,
) -> UiResult<Response> {
    let Path(cid) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    let a = writable(&st, &s, &cid).await?;
    let body = html! {
        h1 { "Draft from a report: " (a.coll.title) }
        p { "Paste a report's text. The organizations, countries, cities, known actors, indicators and the date it names are drafted as STIX for you to check before posting; nothing is stored until you post." }
        (draft_form(&a.coll.id, &s, "", ""))
    };
    Ok(html_page(StatusCode::OK, &page("Draft", Some(&s), body)))
}

/// POST /ui/collections/{cid}/draft (csrf, text, label): the draft, shown for checking.
pub(in crate::routes) async fn draft(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> UiResult<Response> {
    let Path(cid) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    let form: DraftForm = session::signed_form_up_to(&st, &s, req, BUNDLE_FORM_LIMIT).await?;
    let a = writable(&st, &s, &cid).await?;
    let label = form.label.trim();
    let request = DraftRequest {
        text: form.text.as_bytes(),
        collection: Some(a.coll.pk),
        reader: Some(&s.principal.account),
        label: (!label.is_empty()).then_some(label),
        now: format_micros(now_us() / 1000 * 1000),
    };
    let d = match st.hub.draft(&a.view, request).await {
        Ok(d) => d,
        Err(DraftFailure::Store(e)) => return Err(e.into()),
        Err(other) => {
            let body = html! {
                h1 { "Draft from a report: " (a.coll.title) }
                p class="error" role="alert" { (other.to_string()) }
                (draft_form(&a.coll.id, &s, &form.text, label))
            };
            return Ok(html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page("Draft", Some(&s), body),
            ));
        }
    };
    let bundle = serde_json::to_string_pretty(&d.bundle).unwrap_or_default();
    let objects: &[serde_json::Value] = d.bundle["objects"].as_array().map_or(&[], Vec::as_slice);
    let by_id = |id: &str| objects.iter().find(|o| o["id"] == id);
    // A label the hub does not hold yet is named by the definition the draft carries.
    let labels: Vec<String> = objects
        .last()
        .and_then(|report| report["object_marking_refs"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str())
        .map(|m| match (a.view.policy.marking(m), by_id(m)) {
            (None, Some(definition)) => title_of(definition),
            _ => marking_words(&a.view, m),
        })
        .collect();
    let body = html! {
        h1 { "Draft from a report: " (a.coll.title) }
        dl class="facts" {
            dt { "Published" } dd { (d.published.as_deref().unwrap_or("not given in the text")) }
            dt { "Label" } dd { @if labels.is_empty() { "the originator's nation only" } @else { (labels.join(", ")) } }
            dt { "Relationships" } dd { @if d.relationships.is_empty() { "none" } @else { (d.relationships.join("; ")) } }
        }
        table id="extractions" {
            caption { "What the report names (" (d.extractions.len()) ")" }
            thead { tr { th scope="col" { "Kind" } th scope="col" { "Name or value" } th scope="col" { "Mentions" } th scope="col" { "Object" } } }
            tbody {
                @for e in &d.extractions {
                    @let (kind, value) = e.key.split_once(':').unwrap_or((e.key.as_str(), ""));
                    @let name = by_id(&e.id).map(title_of).filter(|n| n != value);
                    tr {
                        td { (kind) }
                        td { @if let Some(n) = name { (n) " (" (value) ")" } @else { (value) } }
                        td { (e.spans.len()) }
                        td { code { (e.id) } }
                    }
                }
            }
        }
        h2 { "The report, with what was found marked" }
        div id="marked-text" class="marked" { (marked(&form.text, &d.extractions)) }
        h2 { "The bundle" }
        pre id="bundle" class="json" { (bundle) }
        form method="post" action={ "/ui/collections/" (a.coll.id) "/draft/post" } {
            (csrf_field(&s))
            input type="hidden" name="bundle" value=(d.bundle.to_string());
            button type="submit" { "Post these objects to " (a.coll.title) }
        }
    };
    Ok(html_page(StatusCode::OK, &page("Draft", Some(&s), body)))
}

/// The text with each span of an extraction in a `mark` naming what it stands for.
fn marked(text: &str, extractions: &[relto_draft::Extraction]) -> Markup {
    let mut spans: Vec<(usize, usize, &str)> = extractions
        .iter()
        .flat_map(|e| e.spans.iter().map(move |(s, t)| (*s, *t, e.key.as_str())))
        .collect();
    spans.sort_unstable();
    let chars: Vec<char> = text.chars().collect();
    // The text cut into plain pieces and marked ones.
    let mut pieces: Vec<(String, Option<&str>)> = Vec::new();
    let mut at = 0;
    for (start, end, key) in spans {
        if start < at || end > chars.len() {
            continue;
        }
        pieces.push((chars[at..start].iter().collect(), None));
        pieces.push((chars[start..end].iter().collect(), Some(key)));
        at = end;
    }
    pieces.push((chars[at.min(chars.len())..].iter().collect(), None));
    html! {
        @for (piece, key) in &pieces {
            @match key {
                Some(k) => mark title=(k) { (piece) },
                None => (piece),
            }
        }
    }
}

/// POST /ui/collections/{cid}/draft/post and …/misp/post (csrf, bundle): a draft or a
/// converted MISP event through the one ingest path, as this account; what became of each
/// object.
pub(in crate::routes) async fn post(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> UiResult<Response> {
    let Path(cid) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    let form: PostForm = session::signed_form_up_to(&st, &s, req, BUNDLE_FORM_LIMIT).await?;
    let a = writable(&st, &s, &cid).await?;
    let raws =
        relto_stix::parse_envelope_with_depth(form.bundle.as_bytes(), st.config.max_json_depth)
            .map_err(|e| UiError::new(400, format!("the draft is not a bundle: {e}")))?;
    let p = &s.principal;
    let written =
        super::super::objects::ingest_as_caller(&st, p, &a, Poster::Account(&p.account), &raws)
            .await?;
    let count = |f: fn(&Outcome) -> bool| written.iter().filter(|w| f(&w.outcome)).count();
    let added = count(|o| matches!(o, Outcome::Added));
    let duplicates = count(|o| matches!(o, Outcome::Duplicate));
    let body = html! {
        h1 { "Posted to " (a.coll.title) }
        p class="notice" role="status" {
            (added) " objects added, " (duplicates) " already there, " (written.len() - added - duplicates) " refused."
        }
        ul {
            @for w in &written {
                @if let Outcome::Rejected(why) = &w.outcome {
                    li { code { (w.id.as_deref().unwrap_or("?")) } ": " (why) }
                }
            }
        }
        p { a href={ "/ui/collections/" (a.coll.id) } { "Back to " (a.coll.title) } }
    };
    Ok(html_page(StatusCode::OK, &page("Posted", Some(&s), body)))
}
