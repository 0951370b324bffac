//! `GET /dashboard/gaps` ("Pertanyaan belum terjawab"): the open groups of questions the bot
//! could not answer, with how many customers asked each, through `crate::gaps` (the read is
//! audited as on `/api/v1/gaps`). Owners answer a group (a new FAQ entry, and at their choice
//! the waiting customers) or dismiss it: `POST /dashboard/gaps/{id}` and `…/{id}/dismiss`.
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use uuid::Uuid;

use super::PageError;
use super::form::CheckedForm;
use super::layout::{Flash, flash_from_query, page};
use super::session::{CSRF_FIELD, Session};
use crate::app::AppState;
use crate::gaps::{close, list};

/// Groups shown at most.
const SHOWN: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/gaps", get(show))
        .route("/dashboard/gaps/{id}", post(answer))
        .route("/dashboard/gaps/{id}/dismiss", post(dismiss))
}

async fn render(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    flash: Option<Flash>,
) -> Result<Response, PageError> {
    let groups = list::open_groups(state, session.caller.tenant, &session.actor(), SHOWN).await?;
    let t = |k| session.lang.t(k);
    let body = html! {
        p { (t("gaps.intro")) }
        @if groups.is_empty() { p #no-gaps { (t("gaps.empty")) } }
        @for g in &groups {
            div.card.gap id={ "gap-" (g.id) } {
                h3 { (g.question) }
                p.counts {
                    strong.customers { (g.customers) } " " (t("gaps.customers"))
                    @if g.waiting > 0 { " · " strong.waiting { (g.waiting) } " " (t("gaps.waiting")) }
                    " · " (t("gaps.last")) " " (g.last_asked_at.format("%d-%m-%Y %H:%M")) " UTC"
                }
                @if session.is_owner() {
                    form method="post" action={ "/dashboard/gaps/" (g.id) } {
                        input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                        label { (t("faq.question")) input type="text" name="question" value=(g.question) required maxlength="1000"; }
                        label { (t("faq.answer")) textarea name="answer" required maxlength="4096" {} }
                        @if g.waiting > 0 {
                            label.check { input type="checkbox" name="send_to_waiting" value="1"; " " (t("gaps.send_to_waiting")) }
                        }
                        button type="submit" { (t("gaps.save")) }
                    }
                    form.inline method="post" action={ "/dashboard/gaps/" (g.id) "/dismiss" } {
                        input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                        button.secondary type="submit" { (t("gaps.dismiss")) }
                    }
                }
            }
        }
    };
    Ok(page(session, status, t("gaps.title"), flash, body))
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    session.require_content()?;
    let flash = flash_from_query(session.lang, query.as_deref());
    render(&state, &session, StatusCode::OK, flash).await
}

fn parse_id(raw: &str) -> Result<Uuid, PageError> {
    Uuid::try_parse(raw).map_err(|_| PageError::not_found())
}

/// Owner-only like `POST /api/v1/gaps/{id}/answer`.
async fn answer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm { session, form }: CheckedForm,
) -> Result<Response, PageError> {
    session.require_owner()?;
    let group = parse_id(&id)?;
    let reply = (form.get("question"), form.required("answer")?);
    let to_waiting = form.get("send_to_waiting").is_some();
    match close::answer_group(&state, session.caller.tenant, &session.actor(), group, reply, to_waiting).await {
        Ok(_) => Ok(Redirect::to("/dashboard/gaps?ok=saved").into_response()),
        Err(crate::usecase::UseCaseError::Invalid { detail, .. }) => {
            render(&state, &session, StatusCode::BAD_REQUEST, Some(Flash::Error(detail))).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn dismiss(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm { session, .. }: CheckedForm,
) -> Result<Response, PageError> {
    session.require_owner()?;
    close::dismiss_group(&state, session.caller.tenant, &session.actor(), parse_id(&id)?).await?;
    Ok(Redirect::to("/dashboard/gaps?ok=deleted").into_response())
}
