//! A situation in the console: its stages, a stage's preview, and the approve and withdraw
//! forms of the two-person rule (`relto_hub::plans`). The approve form carries the
//! snapshot of the preview shown beside it, so that what an officer signs is what it saw.

use super::*;
use relto_store::StageState;

#[derive(serde::Deserialize, Default)]
pub(in crate::routes) struct SituationParams {
    /// A stage whose preview is shown.
    #[serde(default)]
    preview: Option<u32>,
    /// What the last form did, to say so.
    #[serde(default)]
    done: String,
}

fn when(us: Option<i64>) -> String {
    us.map(format_micros).unwrap_or_else(|| "—".into())
}

/// GET /ui/situations/{id}[?preview=N]
pub(in crate::routes) async fn situation(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<String>, PathRejection>,
    params: Result<axum::extract::Query<SituationParams>, axum::extract::rejection::QueryRejection>,
) -> UiResult<Response> {
    let Path(id) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    let axum::extract::Query(params) = params.map_err(|e| UiError::new(400, e.to_string()))?;
    let p = &s.principal;
    let x = visible_situation(&st, p, &id).await?;
    let officer = p.is_admin() || p.account.has_role(relto_policy::Role::Releaser);
    let preview = match params.preview {
        Some(n) if officer => Some((n, st.hub.preview_stage(&x, n).await?)),
        Some(_) => {
            return Err(UiError::new(
                403,
                "Stage previews are for the originating organization's releasing officers and administrators.",
            ))
        }
        None => None,
    };
    let now = now_us();
    let base = format!("/ui/situations/{}", x.id);
    let body = html! {
        h1 { (x.title) }
        @match params.done.as_str() {
            "approved" => p class="notice" role="status" { "Your approval is recorded." },
            "withdrawn" => p class="notice" role="status" { "The stage is withdrawn." },
            _ => {},
        }
        dl class="facts" {
            dt { "Originator" } dd { (x.originator.as_str()) }
            dt { "Proposed by" } dd { (x.proposer) " at " (format_micros(x.created_us)) }
            dt { "Holdings" } dd { (x.holdings.len()) " objects" }
        }
        h2 { "Stages" }
        table class="stages" {
            caption { "Stages, in the order they widen releasability" }
            thead { tr {
                th scope="col" { "Stage" } th scope="col" { "Label" } th scope="col" { "Withheld" }
                th scope="col" { "From" } th scope="col" { "Until" } th scope="col" { "State" }
                th scope="col" { "Approvals" } th scope="col" { "Actions" }
            } }
            tbody {
                @for stage in &x.stages {
                    tr data-state=(relto_hub::plans::shown_state(stage, now)) {
                        th scope="row" { (stage.n) }
                        td { (stage.plan.label.display_name()) }
                        td { (stage.plan.withhold.join(", ")) }
                        td { (when(stage.plan.not_before_us)) }
                        td { (when(stage.plan.expires_us)) }
                        td { (relto_hub::plans::shown_state(stage, now)) }
                        td { @for a in &stage.approvals { (a.account) " (" (format_micros(a.at_us)) ") " } }
                        td {
                            @if officer && stage.state != StageState::Withdrawn {
                                a href={ (base) "?preview=" (stage.n) "#preview" } { "Preview stage " (stage.n) }
                            }
                            @if officer && stage.state == StageState::Active {
                                form method="post" action={ (base) "/stages/" (stage.n) "/withdraw" } class="inline" {
                                    (csrf_field(&s))
                                    button type="submit" { "Withdraw stage " (stage.n) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some((n, pv)) = &preview {
            h2 id="preview" { "Preview of stage " (n) }
            @if pv.changes.is_empty() {
                p { "This stage changes nothing for anyone beside the stages in effect." }
            } @else {
                table class="preview" {
                    caption { "What stage " (n) " would release, to whom" }
                    thead { tr {
                        th scope="col" { "Object" } th scope="col" { "Version" } th scope="col" { "Audience" }
                        th scope="col" { "Outcome" } th scope="col" { "Withheld" }
                    } }
                    tbody {
                        @for c in &pv.changes {
                            tr {
                                td { a href={ "/ui/objects/" (c.id) } { (c.id) } }
                                td { (c.version) }
                                td { (c.audience) }
                                td { (c.outcome) }
                                td { (c.withheld.join(", ")) }
                            }
                        }
                    }
                }
            }
            p { "Snapshot: " code class="snapshot" { (pv.snapshot) } }
            form method="post" action={ (base) "/stages/" (n) "/approve" } {
                (csrf_field(&s))
                input type="hidden" name="snapshot" value=(pv.snapshot);
                button type="submit" { "Approve stage " (n) " as previewed" }
            }
        }
    };
    Ok(html_page(StatusCode::OK, &page(&x.title, Some(&s), body)))
}

#[derive(serde::Deserialize)]
pub(in crate::routes) struct ApproveForm {
    #[serde(default)]
    snapshot: String,
}

/// POST /ui/situations/{id}/stages/{n}/approve (snapshot, csrf)
pub(in crate::routes) async fn approve(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<(String, u32)>, PathRejection>,
    req: Request,
) -> UiResult<Response> {
    let Path((id, n)) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    let form: ApproveForm = session::signed_form(&st, &s, req).await?;
    let p = &s.principal;
    visible_situation(&st, p, &id).await?;
    st.hub
        .approve_stage(&p.account, &id, n, &form.snapshot, &p.source)
        .await?;
    Ok(Redirect::to(&format!("/ui/situations/{id}?done=approved")).into_response())
}

/// POST /ui/situations/{id}/stages/{n}/withdraw (csrf)
pub(in crate::routes) async fn withdraw(
    State(st): State<AppState>,
    s: Session,
    path: Result<Path<(String, u32)>, PathRejection>,
    req: Request,
) -> UiResult<Response> {
    let Path((id, n)) = path.map_err(|e| UiError::new(400, e.to_string()))?;
    let serde::de::IgnoredAny = session::signed_form(&st, &s, req).await?;
    let p = &s.principal;
    visible_situation(&st, p, &id).await?;
    st.hub.withdraw_stage(&p.account, &id, n, &p.source).await?;
    Ok(Redirect::to(&format!("/ui/situations/{id}?done=withdrawn")).into_response())
}
