//! `GET|POST /dashboard/faq`, `POST /dashboard/faq/{id}` (save) and `…/{id}/delete`: the
//! FAQ through the use cases in `crate::kb`, audited `kb.created|updated|deleted` the same way.
//! Owners change it and staff only read it, as on `/api/v1/kb`.
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;

use super::PageError;
use super::form::{CheckedForm, Form};
use super::layout::{Flash, flash_from_query, page};
use super::session::{CSRF_FIELD, Session};
use crate::app::AppState;
use crate::domain::KbEntryId;
use crate::kb::{self, FaqItem};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/faq", get(list).post(create))
        .route("/dashboard/faq/{id}", post(update))
        .route("/dashboard/faq/{id}/delete", post(remove))
}

/// The list with an edit form per entry; `draft` refills the add form after a refusal.
async fn render(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    flash: Option<Flash>,
    draft: Option<&FaqItem>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_read(session.caller.tenant).await?;
    let entries = tx.kb_entries().await?;
    tx.commit().await?;
    let t = |k| session.lang.t(k);
    let fields = |q: &str, a: &str, k: &str| {
        html! {
            label { (t("faq.question")) input type="text" name="question" value=(q) required maxlength="1000"; }
            label { (t("faq.answer")) textarea name="answer" required maxlength="4096" { (a) } }
            label { (t("faq.keywords")) input type="text" name="keywords" value=(k); }
        }
    };
    let body = html! {
        @if session.is_owner() {
            form.card #add method="post" action="/dashboard/faq" {
                input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                @match draft {
                    Some(d) => (fields(&d.question, &d.answer, &d.keywords)),
                    None => (fields("", "", "")),
                }
                button type="submit" { (t("faq.add")) }
            }
        } @else {
            p #read-only { (t("faq.owner_only")) }
        }
        @if entries.is_empty() { p { (t("faq.empty")) } }
        @for entry in &entries {
            div.card.entry {
                @if session.is_owner() {
                    form method="post" action={ "/dashboard/faq/" (entry.id) } {
                        input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                        (fields(&entry.question, &entry.answer, &entry.keywords))
                        button type="submit" { (t("faq.save")) }
                    }
                    form.inline method="post" action={ "/dashboard/faq/" (entry.id) "/delete" } {
                        input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                        button.secondary type="submit" { (t("faq.delete")) }
                    }
                } @else {
                    h3 { (entry.question) }
                    p { (entry.answer) }
                    @if !entry.keywords.is_empty() { p { small { (t("faq.keywords")) ": " (entry.keywords) } } }
                }
            }
        }
    };
    Ok(page(session, status, t("faq.title"), flash, body))
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    session.require_content()?;
    let flash = flash_from_query(session.lang, query.as_deref());
    render(&state, &session, StatusCode::OK, flash, None).await
}

fn item_of(form: &Form) -> Result<Result<FaqItem, (FaqItem, String)>, PageError> {
    let (question, answer) = (form.required("question")?, form.required("answer")?);
    let keywords = form.get("keywords").unwrap_or("").trim().to_string();
    Ok(kb::checked_item(question, answer, keywords.clone())
        .map_err(|e| (FaqItem { question: question.into(), answer: answer.into(), keywords }, e.to_string())))
}

/// Owner-only like `POST /api/v1/kb`; the CSRF check comes first, so a forged form is refused either way.
async fn create(
    State(state): State<AppState>,
    CheckedForm { session, form }: CheckedForm,
) -> Result<Response, PageError> {
    session.require_owner()?;
    match item_of(&form)? {
        Ok(item) => {
            kb::create_entry(&*state.store, session.caller.tenant, &session.actor(), item, state.clock.now()).await?;
            Ok(Redirect::to("/dashboard/faq?ok=saved").into_response())
        }
        Err((draft, why)) => {
            render(&state, &session, StatusCode::BAD_REQUEST, Some(Flash::Error(why)), Some(&draft)).await
        }
    }
}

fn parse_id(raw: &str) -> Result<KbEntryId, PageError> {
    raw.parse().map_err(|_| PageError::not_found())
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm { session, form }: CheckedForm,
) -> Result<Response, PageError> {
    session.require_owner()?;
    let id = parse_id(&id)?;
    match item_of(&form)? {
        Ok(item) => {
            kb::update_entry(&*state.store, session.caller.tenant, &session.actor(), id, item, state.clock.now())
                .await?;
            Ok(Redirect::to("/dashboard/faq?ok=saved").into_response())
        }
        Err((_, why)) => render(&state, &session, StatusCode::BAD_REQUEST, Some(Flash::Error(why)), None).await,
    }
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CheckedForm { session, .. }: CheckedForm,
) -> Result<Response, PageError> {
    session.require_owner()?;
    kb::delete_entry(&*state.store, session.caller.tenant, &session.actor(), parse_id(&id)?, state.clock.now()).await?;
    Ok(Redirect::to("/dashboard/faq?ok=deleted").into_response())
}
