//! The console's front page (the collections and situations the user may open) and one
//! collection's objects: filters, keyset paging, live updates from the stream.

use super::*;

/// Objects a list page shows.
const LIST_PAGE: usize = 50;
/// Objects a filtered list examines per request at most before it offers to search on
/// (text and label filters look at each served copy).
const SCAN_BUDGET: usize = 5_000;

/// GET /ui/: the sign-in page, or the collections and situations of the signed-in user.
pub(in crate::routes) async fn index(
    State(st): State<AppState>,
    session: Result<Session, UiError>,
    req: Request,
) -> UiResult<Response> {
    let s = match session {
        Ok(s) => s,
        Err(UiError::SignIn) => {
            let conn = conn_info(req.extensions());
            return Ok(session::sign_in_page(
                req.headers(),
                &conn,
                StatusCode::OK,
                None,
            ));
        }
        Err(e) => return Err(e),
    };
    let p = &s.principal;
    let view = st.hub.view().await?;
    let mut rows = Vec::new();
    for root in st.store.api_roots().await? {
        for c in st.store.collections(&root.path).await? {
            let (read, write) = (p.can_read(&c, &view.policy), p.can_write(&c, &view.policy));
            if read || write {
                rows.push((root.title.clone(), c, read, write));
            }
        }
    }
    let situations: Vec<_> = st
        .store
        .situations()
        .await?
        .into_iter()
        .filter(|x| may_see_situation(p, x))
        .collect();
    let now = now_us();
    // What leaves for peer hubs concerns administrators and releasing officers.
    let peers = if p.is_admin() || p.account.has_role(relto_policy::Role::Releaser) {
        st.store.peers().await?
    } else {
        Vec::new()
    };
    let body = html! {
        h1 { "Collections" }
        @if rows.is_empty() {
            p { "No collection is open to you." }
        } @else {
            table {
                caption { "Collections you may open" }
                thead { tr { th scope="col" { "Title" } th scope="col" { "API root" } th scope="col" { "You may" } } }
                tbody {
                    @for (root, c, read, write) in &rows {
                        tr {
                            td {
                                @if *read { a href={ "/ui/collections/" (c.id) } { (c.title) } }
                                @else { (c.title) }
                            }
                            td { (root) }
                            td { (match (read, write) { (true, true) => "read and write", (true, false) => "read", _ => "write" }) }
                        }
                    }
                }
            }
        }
        h2 { "Situations" }
        @if situations.is_empty() {
            p { "No situation of your organization." }
        } @else {
            table {
                caption { "Release plans of your organization" }
                thead { tr { th scope="col" { "Title" } th scope="col" { "Originator" } th scope="col" { "Stages" } } }
                tbody {
                    @for x in &situations {
                        tr {
                            td { a href={ "/ui/situations/" (x.id) } { (x.title) } }
                            td { (x.originator.as_str()) }
                            td {
                                @for (i, stage) in x.stages.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (stage.n) ": " (relto_hub::plans::shown_state(stage, now))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !peers.is_empty() {
            h2 { "Peer hubs" }
            table {
                caption { "Where each exchange with a peer hub stands" }
                thead { tr { th scope="col" { "Peer" } th scope="col" { "Exchange" } th scope="col" { "Organization" } th scope="col" { "State" } } }
                tbody {
                    @for x in &peers {
                        tr {
                            td { (x.plan.name) br; small { (x.plan.url) } }
                            td { (x.plan.direction.as_str()) " every " (x.plan.interval_secs) " s" }
                            td { (x.plan.organization) }
                            td { (relto_hub::federation::peer_state(x)) }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        &page("Collections", Some(&s), body),
    ))
}

/// The filters of an object list, as its form sends them.
#[derive(serde::Deserialize, serde::Serialize, Default, Clone)]
pub(in crate::routes) struct ListFilters {
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    object_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    label: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    added_after: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    after: String,
}

impl ListFilters {
    fn narrows(&self) -> bool {
        !(self.object_type.is_empty()
            && self.text.is_empty()
            && self.label.is_empty()
            && self.added_after.is_empty())
    }
}

/// Whether any string value of `v` holds `needle` (lower case), ignoring case.
fn holds_text(v: &serde_json::Value, needle: &str) -> bool {
    match v {
        serde_json::Value::String(s) => s.to_lowercase().contains(needle),
        serde_json::Value::Array(a) => a.iter().any(|x| holds_text(x, needle)),
        serde_json::Value::Object(m) => m.values().any(|x| holds_text(x, needle)),
        _ => false,
    }
}

/// One listed object: as the reader received it.
struct Listed {
    id: String,
    object_type: String,
    title: String,
    modified: String,
    labels: Vec<String>,
}

/// GET /ui/collections/{id}: the objects the user receives, newest last as TAXII pages
/// them, filtered by type and time in the store and by text and label on the served
/// copies (so a search never matches what the user may not see).
pub(in crate::routes) async fn collection(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<String>, PathRejection>,
    filters: Result<axum::extract::Query<ListFilters>, axum::extract::rejection::QueryRejection>,
) -> UiResult<Response> {
    let Path(cid) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    let axum::extract::Query(f) = filters.map_err(|e| UiError::new(400, e.to_string()))?;
    let (api_root, coll) = collection_by_id(&st, &cid)
        .await?
        .ok_or_else(|| UiError::not_found(format!("No collection {cid} that you may open.")))?;
    let a = collection_for(&st, &s.principal, &api_root.path, &coll.id, Use::Read).await?;
    let fingerprint = format!("ui list {}", a.coll.id);
    let mut problems = Vec::new();
    // A text or label filter examines more objects per store read.
    let batch = if f.text.trim().is_empty() && f.label.trim().is_empty() {
        LIST_PAGE
    } else {
        4 * LIST_PAGE
    };
    let mut q = ObjectQuery::new(a.coll.pk, batch);
    if !f.object_type.trim().is_empty() {
        q.types = vec![f.object_type.trim().to_string()];
    }
    if !f.added_after.trim().is_empty() {
        match relto_stix::timestamp::parse_micros(f.added_after.trim()) {
            Ok(t) => q.added_after = Some(t),
            Err(_) => problems.push(format!(
                "Added after: '{}' is not a time; write it as 2026-01-31T00:00:00Z.",
                f.added_after
            )),
        }
    }
    if !f.after.is_empty() {
        match Cursor::decode(&f.after, &st.cursor_key, &fingerprint) {
            Ok(c) => q.after = Some(c),
            Err(_) => {
                problems.push("That page link is not valid here; start from the first page.".into())
            }
        }
    }
    let text = f.text.trim().to_lowercase();
    let label = f.label.trim().to_lowercase();
    let mut listed = Vec::new();
    // Where the next page starts, when more may follow.
    let mut next = None;
    let mut examined = 0;
    while problems.is_empty() {
        let served = st
            .hub
            .read_page(&a.view, &s.principal.account, q.clone())
            .await?;
        let mut shown = Page::default();
        let mut full = false;
        for o in &served.page.items {
            if listed.len() == LIST_PAGE {
                full = true;
                break;
            }
            q.after = Some(o.cursor());
            examined += 1;
            let v: serde_json::Value = serde_json::from_str(&o.raw).unwrap_or_default();
            let labels = labels_in_words(&a.view, &v);
            let text_ok = text.is_empty() || holds_text(&v, &text);
            let label_ok =
                label.is_empty() || labels.iter().any(|l| l.to_lowercase().contains(&label));
            if !(text_ok && label_ok) {
                continue;
            }
            listed.push(Listed {
                id: o.stix_id.clone(),
                object_type: o.object_type().to_string(),
                title: title_of(&v),
                modified: v
                    .get("modified")
                    .or_else(|| v.get("created"))
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .to_string(),
                labels,
            });
            shown.items.push(o.clone());
        }
        // What the user is shown is what was released to it.
        audit_release(
            &st,
            &s.principal,
            "console list",
            &shown,
            &served.redactions,
        )
        .await;
        if full || (served.page.more && (listed.len() == LIST_PAGE || examined >= SCAN_BUDGET)) {
            next = q.after;
        }
        if next.is_some() || !served.page.more {
            break;
        }
    }
    let next_link = next.map(|c| {
        let mut g = f.clone();
        g.after = c.encode(&st.cursor_key, &fingerprint);
        format!(
            "/ui/collections/{}?{}",
            a.coll.id,
            serde_urlencoded::to_string(&g).unwrap_or_default()
        )
    });
    let live = f.after.is_empty() && !f.narrows();
    let words = label_word_map(&a.view);
    let body = html! {
        h1 { (a.coll.title) }
        @if let Some(d) = &a.coll.description { p { (d) } }
        @if s.principal.can_write(&a.coll, &a.view.policy) {
            p {
                a href={ "/ui/collections/" (a.coll.id) "/draft" } { "Draft objects from a report" }
                " · "
                a href={ "/ui/collections/" (a.coll.id) "/misp" } { "Import a MISP event" }
            }
        }
        form method="get" action={ "/ui/collections/" (a.coll.id) } class="filters" role="search" aria-label="Filter objects" {
            label for="f-type" { "Type" }
            input id="f-type" name="type" type="text" value=(f.object_type) placeholder="indicator";
            label for="f-text" { "Text" }
            input id="f-text" name="text" type="search" value=(f.text);
            label for="f-label" { "Label" }
            input id="f-label" name="label" type="text" value=(f.label) placeholder="REL TO NATO";
            label for="f-added" { "Added after" }
            input id="f-added" name="added_after" type="text" value=(f.added_after) placeholder="2026-01-31T00:00:00Z";
            button type="submit" { "Filter" }
            @if f.narrows() { " " a href={ "/ui/collections/" (a.coll.id) } { "Clear" } }
        }
        @for m in &problems { p class="error" role="alert" { (m) } }
        p id="live-status" class="live-status" aria-live="polite" {}
        table id="objects" data-stream=[live.then(|| format!("/ui/collections/{}/stream", a.coll.id))] data-label-words=(serde_json::to_string(&words).unwrap_or_default()) {
            caption { "Objects you receive" @if f.narrows() { " (filtered)" } }
            thead { tr { th scope="col" { "Type" } th scope="col" { "Name" } th scope="col" { "Modified" } th scope="col" { "Labels" } } }
            tbody {
                @for o in &listed {
                    tr data-id=(o.id) {
                        td { (o.object_type) }
                        td { a href={ "/ui/objects/" (o.id) "?collection=" (a.coll.id) } { (o.title) } }
                        td { (o.modified) }
                        td { (o.labels.join("; ")) }
                    }
                }
            }
        }
        @if listed.is_empty() && problems.is_empty() { p { "Nothing to show." } }
        @if let Some(link) = &next_link {
            p { a href=(link) rel="next" {
                @if listed.len() < LIST_PAGE { "Search on (" (examined) " objects examined)" } @else { "Next page" }
            } }
        }
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(html_page(status, &page(&a.coll.title, Some(&s), body)))
}

/// Every relto label's words by marking id, for the script that adds live rows.
fn label_word_map(view: &ReleaseView) -> std::collections::BTreeMap<String, String> {
    view.policy
        .label_markings()
        .map(|(id, l)| (id.to_string(), l.display_name()))
        .collect()
}

/// GET /ui/collections/{id}/stream: the live stream of the collection for the signed-in
/// user, the API's stream exactly (the same events, through the same read path).
pub(in crate::routes) async fn stream(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> UiResult<Response> {
    let Path(cid) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    Ok(
        super::super::stream::open_stream(st, s.principal, &cid, query.as_deref(), &headers)
            .await?,
    )
}
