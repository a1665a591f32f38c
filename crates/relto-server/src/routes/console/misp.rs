//! Importing a MISP event in the console (issue 17): an analyst pastes (or picks) a MISP
//! event export, sees what relto makes of it — the label in words, what was not converted,
//! the objects by type, the bundle — and posts the bundle through the one ingest path, as
//! `POST /api/v1/import/misp` would.

use super::drafts::{writable, BUNDLE_FORM_LIMIT};
use super::*;

#[derive(serde::Deserialize)]
pub(in crate::routes) struct MispForm {
    event: String,
}

fn misp_form(cid: &str, s: &Session, event: &str) -> Markup {
    html! {
        form method="post" action={ "/ui/collections/" (cid) "/misp" } class="draft" {
            (csrf_field(s))
            label for="m-file" { "A MISP event export (JSON file)" }
            input id="m-file" type="file" accept=".json,application/json" data-fills="m-event";
            label for="m-event" { "MISP event JSON" }
            textarea id="m-event" name="event" rows="16" required { (event) }
            button type="submit" { "Convert" }
        }
    }
}

/// GET /ui/collections/{cid}/misp
pub(in crate::routes) async fn form(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<String>, PathRejection>,
) -> UiResult<Response> {
    let Path(cid) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    let a = writable(&st, &s, &cid).await?;
    let body = html! {
        h1 { "Import a MISP event: " (a.coll.title) }
        p { "Paste a MISP event export, or pick its file. relto converts it as MISP's own converter (misp-stix) does, its taxonomies as labels, for you to check before posting; nothing is stored until you post." }
        (misp_form(&a.coll.id, &s, ""))
    };
    Ok(html_page(
        StatusCode::OK,
        &page("Import a MISP event", Some(&s), body),
    ))
}

/// POST /ui/collections/{cid}/misp (csrf, event): the conversion, shown for checking.
pub(in crate::routes) async fn convert(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> UiResult<Response> {
    let Path(cid) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    let form: MispForm = session::signed_form_up_to(&st, &s, req, BUNDLE_FORM_LIMIT).await?;
    let a = writable(&st, &s, &cid).await?;
    let hub_nation = super::super::imports::hub_nation(&st).await?;
    let converted = match st
        .hub
        .convert_misp(&a.view, form.event.as_bytes(), &hub_nation)
        .await?
    {
        Ok(c) => c,
        Err(why) => {
            let body = html! {
                h1 { "Import a MISP event: " (a.coll.title) }
                p class="error" role="alert" { (why) }
                (misp_form(&a.coll.id, &s, &form.event))
            };
            return Ok(html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page("Import a MISP event", Some(&s), body),
            ));
        }
    };
    let bundle: serde_json::Value = serde_json::from_str(&converted.envelope).unwrap_or_default();
    let objects: &[serde_json::Value] = bundle["objects"].as_array().map_or(&[], Vec::as_slice);
    let mut by_type: Vec<(String, usize)> = Vec::new();
    for o in objects {
        let t = o["type"].as_str().unwrap_or("?").to_string();
        match by_type.iter_mut().find(|(k, _)| *k == t) {
            Some((_, n)) => *n += 1,
            None => by_type.push((t, 1)),
        }
    }
    by_type.sort();
    let pretty = serde_json::to_string_pretty(&bundle).unwrap_or_default();
    let body = html! {
        h1 { "Import a MISP event: " (a.coll.title) }
        h2 { "What relto made of it" }
        ul id="misp-notes" {
            @for n in &converted.notes { li { (n) } }
        }
        table id="misp-objects" {
            caption { "Objects (" (objects.len()) ")" }
            thead { tr { th scope="col" { "Type" } th scope="col" { "How many" } } }
            tbody {
                @for (t, n) in &by_type { tr { td { (t) } td { (n) } } }
            }
        }
        h2 { "The bundle" }
        pre id="bundle" class="json" { (pretty) }
        form method="post" action={ "/ui/collections/" (a.coll.id) "/misp/post" } {
            (csrf_field(&s))
            input type="hidden" name="bundle" value=(converted.envelope);
            button type="submit" { "Post these objects to " (a.coll.title) }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        &page("Import a MISP event", Some(&s), body),
    ))
}
