//! `GET /dashboard/subprocessors`: who receives the shop's data (the recorded list) and the
//! announced changes with their dates, through `privacy::subprocessor_changes`. Owners accept a
//! pending change early or object to it: `POST /dashboard/subprocessors/{id}/accept|object`.
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use uuid::Uuid;

use super::PageError;
use super::form::CheckedForm;
use super::layout::{flash_from_query, page};
use super::session::{CSRF_FIELD, Session};
use crate::app::AppState;
use crate::privacy::subprocessor_changes;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/subprocessors", get(show))
        .route("/dashboard/subprocessors/{id}/accept", post(accept))
        .route("/dashboard/subprocessors/{id}/object", post(object))
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let overview = subprocessor_changes::overview(&state, session.caller.tenant).await?;
    let t = |k| session.lang.t(k);
    let mut tx = state.store.begin_read(session.caller.tenant).await?;
    let zone = tx.tenant().await?.map_or(chrono_tz::Asia::Jakarta, |t| t.settings.zone());
    tx.commit().await?;
    let date = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&zone).format("%d-%m-%Y").to_string();
    let body = html! {
        h2 { (t("subprocessors.pending")) }
        @if overview.pending.is_empty() { p #no-pending { (t("subprocessors.none_pending")) } }
        @for change in &overview.pending {
            div.card.pending id={ "change-" (change.id) } {
                p { strong { (change.name) } " · " (change.host.as_deref().unwrap_or("-")) " · " (t("subprocessors.from")) " " strong.date { (date(change.effective_at)) } }
                @if session.is_owner() {
                    form.inline method="post" action={ "/dashboard/subprocessors/" (change.id) "/accept" } {
                        input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                        button type="submit" { (t("subprocessors.accept")) }
                    }
                    form.inline method="post" action={ "/dashboard/subprocessors/" (change.id) "/object" } {
                        input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                        button.secondary type="submit" { (t("subprocessors.object")) }
                    }
                }
            }
        }
        h2 { (t("subprocessors.current")) }
        ul #current { @for s in &overview.current { li { (s.name) " · " (s.host.as_deref().unwrap_or("-")) } } }
        @if !overview.history.is_empty() {
            h2 { (t("subprocessors.history")) }
            ul #history { @for c in &overview.history { li { (date(c.announced_at)) " · " (c.change) " · " (c.name) " · " (c.state) } } }
        }
    };
    let flash = flash_from_query(session.lang, query.as_deref());
    Ok(page(&session, StatusCode::OK, t("subprocessors.title"), flash, body))
}

fn parse_id(raw: &str) -> Result<Uuid, PageError> {
    Uuid::try_parse(raw).map_err(|_| PageError::not_found())
}

async fn accept(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm { session, .. }: CheckedForm,
) -> Result<Response, PageError> {
    session.require_owner()?;
    subprocessor_changes::accept(&state, session.caller.tenant, &session.actor(), parse_id(&id)?).await?;
    Ok(Redirect::to("/dashboard/subprocessors?ok=saved").into_response())
}

async fn object(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm { session, .. }: CheckedForm,
) -> Result<Response, PageError> {
    session.require_owner()?;
    subprocessor_changes::object(&state, session.caller.tenant, &session.actor(), parse_id(&id)?).await?;
    Ok(Redirect::to("/dashboard/subprocessors?ok=saved").into_response())
}
