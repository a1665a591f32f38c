//! One object in the console: its versions as the user receives them, its labels in words,
//! and for the originator's releasing officers (and administrators) the release matrix of
//! `relto_hub::release::preview_object` — the same cells as `relto release-preview` — with
//! the exact copy a chosen organization receives and the object's audit ledger.

use super::*;

/// Records of an object's ledger shown.
const LEDGER_ROWS: usize = 100;
/// Versions of an object listed.
const VERSIONS: usize = 100;

#[derive(serde::Deserialize, Default)]
pub(in crate::routes) struct ObjectParams {
    #[serde(default)]
    collection: String,
    /// The version shown (its `modified`); the latest when absent.
    #[serde(default)]
    version: String,
    /// An organization whose copy is shown (releasing officers).
    #[serde(default, rename = "as")]
    as_org: String,
}

/// GET /ui/objects/{stix-id}[?collection=&version=&as=]
pub(in crate::routes) async fn object(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<String>, PathRejection>,
    params: Result<axum::extract::Query<ObjectParams>, axum::extract::rejection::QueryRejection>,
) -> UiResult<Response> {
    let Path(oid) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    let axum::extract::Query(params) = params.map_err(|e| UiError::new(400, e.to_string()))?;
    let p = &s.principal;
    let missing = || UiError::not_found(format!("No object {oid} that you may see."));
    // The collections to look in: the one named, else every one the user reads.
    let mut candidates = Vec::new();
    if params.collection.is_empty() {
        for root in st.store.api_roots().await? {
            for c in st.store.collections(&root.path).await? {
                candidates.push((root.path.clone(), c.id));
            }
        }
    } else if let Some((root, c)) = collection_by_id(&st, &params.collection).await? {
        candidates.push((root.path, c.id));
    }
    let mut found = None;
    for (root, cid) in candidates {
        let Ok(a) = collection_for(&st, p, &root, &cid, Use::Read).await else {
            continue;
        };
        let mut q = ObjectQuery::new(a.coll.pk, VERSIONS);
        q.ids = vec![oid.clone()];
        q.versions = relto_taxii::VersionFilter::all();
        let served = st.hub.read_page(&a.view, &p.account, q).await?;
        if !served.page.items.is_empty() {
            audit_release(&st, p, "console object", &served.page, &served.redactions).await;
            found = Some((a, served.page.items));
            break;
        }
    }
    let (a, versions) = found.ok_or_else(missing)?;
    let shown = versions
        .iter()
        .rev()
        .find(|o| params.version.is_empty() || format_micros(o.version) == params.version)
        .or(versions.last())
        .ok_or_else(missing)?;
    let value: serde_json::Value = serde_json::from_str(&shown.raw).unwrap_or_default();
    let labels = labels_in_words(&a.view, &value);
    let granular: Vec<(String, String)> = value
        .get("granular_markings")
        .and_then(|g| g.as_array())
        .map(|gs| {
            gs.iter()
                .map(|g| {
                    let what = g
                        .get("marking_ref")
                        .and_then(|m| m.as_str())
                        .map(|m| marking_words(&a.view, m))
                        .or_else(|| {
                            g.get("lang")
                                .and_then(|l| l.as_str())
                                .map(|l| format!("language {l}"))
                        })
                        .unwrap_or_default();
                    let selectors = g
                        .get("selectors")
                        .and_then(|x| x.as_array())
                        .map(|x| {
                            x.iter()
                                .filter_map(|v| v.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default();
                    (selectors, what)
                })
                .collect()
        })
        .unwrap_or_default();
    // The matrix is for the originator's releasing officers and administrators.
    let officer = p.is_admin()
        || (p.account.has_role(relto_policy::Role::Releaser)
            && p.account.organization.slug == shown.originator);
    let matrix = if officer {
        relto_hub::release::preview_object(st.store.as_ref(), &a.view, a.coll.pk, &oid)
            .await?
            .map(|(_, m)| m)
    } else {
        None
    };
    let mut copy = None;
    let mut ledger = Vec::new();
    if let Some(m) = &matrix {
        let mut detail = format!("console, collection {}", a.coll.id);
        if !params.as_org.is_empty() {
            detail.push_str(&format!("; the copy of {}", params.as_org));
            let text = copy_for(&st, &a, m, &params.as_org, &oid).await?;
            copy = Some((params.as_org.clone(), text));
        }
        st.audit
            .record(super::super::preview::preview_event(p, &oid, true, detail))
            .await;
        ledger = st.store.object_audit(&oid, LEDGER_ROWS).await?;
    }
    let title = title_of(&value);
    let base = format!("/ui/objects/{oid}?collection={}", a.coll.id);
    let body = html! {
        h1 { (title) }
        dl class="facts" {
            dt { "Type" } dd { (shown.object_type()) }
            dt { "Id" } dd { code { (oid) } }
            dt { "Collection" } dd { a href={ "/ui/collections/" (a.coll.id) } { (a.coll.title) } }
            dt { "Labels" } dd {
                @if labels.is_empty() { "none (the realm's default label applies)" }
                @else { ul { @for l in &labels { li { (l) } } } }
            }
            @if !granular.is_empty() {
                dt { "Field markings" } dd { ul { @for (sel, what) in &granular { li { (sel) ": " (what) } } } }
            }
        }
        h2 { "Versions" }
        ol class="versions" {
            @for v in versions.iter().rev() {
                @let t = format_micros(v.version);
                li {
                    @if v.version == shown.version { strong { (t) } " (shown)" }
                    @else { a href={ (base) "&version=" (t) } { (t) } }
                }
            }
        }
        h2 { "As you receive it" }
        pre class="json" tabindex="0" aria-label="The object as you receive it" { (pretty(&shown.raw)) }
        @if let Some(m) = &matrix {
            (release_matrix(m, &base))
            @if let Some((org, text)) = &copy {
                h2 id="copy" { "What " (org) " receives" }
                @match text {
                    Some(t) => pre class="json" tabindex="0" aria-label={ "What " (org) " receives" } { (pretty(t)) },
                    None => p { "Nothing: " (org) " does not receive this object." },
                }
            }
            h2 { "Audit ledger" }
            @if ledger.is_empty() { p { "No record names this object." } }
            @else {
                table class="ledger" {
                    caption { "The newest " (ledger.len()) " records naming this object" }
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "What" }
                        th scope="col" { "Who" } th scope="col" { "Outcome" } th scope="col" { "Detail" }
                    } }
                    tbody {
                        @for r in &ledger {
                            tr {
                                td { (r.seq) }
                                td { (format_micros(r.event.ts_us)) }
                                td { (r.event.kind) }
                                td { (r.event.actor) " (" (r.event.organization) ")" }
                                td { (r.event.outcome) }
                                td { (r.event.detail) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(StatusCode::OK, &page(&title, Some(&s), body)))
}

/// The release matrix: every organization and community, Allow / Redact (what) / Deny (why).
fn release_matrix(m: &serde_json::Value, base: &str) -> Markup {
    let cell = |d: &serde_json::Value| -> (String, String) {
        let decision = d["decision"].as_str().unwrap_or("").to_string();
        let detail = match decision.as_str() {
            "redact" => d["removed"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            "deny" => d["reason"].as_str().unwrap_or("").to_string(),
            _ => String::new(),
        };
        let word = match decision.as_str() {
            "allow" => "Allow",
            "redact" => "Redact",
            "deny" => "Deny",
            other => other,
        };
        (word.to_string(), detail)
    };
    let empty = Vec::new();
    let orgs = m["organizations"].as_array().unwrap_or(&empty);
    let communities = m["communities"].as_array().unwrap_or(&empty);
    html! {
        h2 { "Release matrix" }
        p { "What each organization and community receives of the latest version, by the release decision." }
        table class="matrix" id="matrix-organizations" {
            caption { "Organizations" }
            thead { tr {
                th scope="col" { "Organization" } th scope="col" { "Read as" } th scope="col" { "Decision" }
                th scope="col" { "Removed, or why denied" } th scope="col" { "Copy" }
            } }
            tbody {
                @for o in orgs {
                    @let (word, detail) = cell(o);
                    @let org = o["organization"].as_str().unwrap_or("");
                    tr data-decision=(word.to_lowercase()) {
                        th scope="row" { (org) }
                        td { (o["account"].as_str().unwrap_or("")) }
                        td class={ "decision " (word.to_lowercase()) } { (word) }
                        td { (detail) }
                        td { a href={ (base) "&as=" (org) "#copy" } { "What " (org) " receives" } }
                    }
                }
            }
        }
        table class="matrix" id="matrix-communities" {
            caption { "Communities" }
            thead { tr {
                th scope="col" { "Community" } th scope="col" { "Decision" } th scope="col" { "Removed, or why denied" }
            } }
            tbody {
                @for c in communities {
                    @let (word, detail) = cell(c);
                    tr data-decision=(word.to_lowercase()) {
                        th scope="row" { (c["community"].as_str().unwrap_or("")) }
                        td class={ "decision " (word.to_lowercase()) } { (word) }
                        td { (detail) }
                    }
                }
            }
        }
    }
}

/// The copy organization `org` receives of the latest version: read as the account the
/// matrix names for it, through the one read path (None: it receives nothing).
async fn copy_for(
    st: &AppState,
    a: &Access,
    matrix: &serde_json::Value,
    org: &str,
    oid: &str,
) -> UiResult<Option<String>> {
    let account = matrix["organizations"]
        .as_array()
        .and_then(|os| os.iter().find(|o| o["organization"] == org))
        .and_then(|o| o["account"].as_str())
        .ok_or_else(|| UiError::not_found(format!("No organization {org} in the matrix.")))?;
    let account = st
        .store
        .account(account)
        .await?
        .ok_or_else(|| UiError::not_found(format!("No account of {org}.")))?;
    let mut q = ObjectQuery::new(a.coll.pk, 1);
    q.ids = vec![oid.to_string()];
    let served = st.hub.read_page(&a.view, &account, q).await?;
    Ok(served.page.items.into_iter().next().map(|o| o.raw))
}
