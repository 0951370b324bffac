//! `GET /dashboard` (open tickets), `GET /dashboard/tickets/{id}` (the conversation, read
//! through the desk's audited `read_conversation`), and `POST /dashboard/tickets/{id}/{action}`
//! (reply, takeover, handback, resolve through `tickets::apply`, like the API and WhatsApp).
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;

use super::PageError;
use super::form::CheckedForm;
use super::layout::{age, flash_from_query, local, page};
use super::messages::message_list;
use super::session::{CSRF_FIELD, Session};
use crate::app::AppState;
use crate::auth::Role;
use crate::domain::{EscalationId, TicketStatus};
use crate::owner::desk::{act_on_ticket, list_tickets, read_conversation};
use crate::owner::template_notice::{cap_of, problems_of};
use crate::owner::texts::OwnerTexts;
use crate::owner::tickets::Action;
use crate::usecase::UseCaseError;

/// The inbox shows this many open tickets, oldest business first.
const INBOX_LIMIT: i64 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(inbox))
        .route("/dashboard/", get(inbox))
        .route("/dashboard/tickets/{id}", get(ticket))
        .route("/dashboard/tickets/{id}/{action}", post(act))
}

async fn inbox(
    State(state): State<AppState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    if session.caller.role == Role::Analytics {
        return Ok(Redirect::to("/dashboard/analytics").into_response());
    }
    let tickets = list_tickets(&state, &session.caller, &session.actor(), true, INBOX_LIMIT).await?;
    let problems = problems_of(&*state.store, session.caller.tenant).await?;
    let (lang, now) = (session.lang, state.clock.now());
    let cap = cap_of(&*state.store, session.caller.tenant, now).await?;
    let announced = crate::privacy::subprocessor_changes::overview(&state, session.caller.tenant).await?.pending;
    let texts = OwnerTexts::new(lang.code());
    let t = |k| lang.t(k);
    let body = html! {
        @if !announced.is_empty() {
            div #subprocessor-notice.banner {
                p { (t("subprocessors.banner")) " " a href="/dashboard/subprocessors" { (t("nav.subprocessors")) } }
            }
        }
        @if cap.reached() {
            div #template-cap.banner { p { (t("inbox.template_cap")) " (" (cap.used) "/" (cap.cap) ")" } }
        }
        @if !problems.is_empty() {
            div #templates.banner {
                p { (t("inbox.templates")) }
                ul { @for p in &problems { li { (p.channel.provider) " · " (p.purpose.as_str()) " · " (p.status) } } }
            }
        }
        @if tickets.is_empty() {
            p #empty { (t("inbox.empty")) }
        } @else {
            table #tickets {
                thead { tr { th { (t("inbox.number")) } th { (t("inbox.customer")) } th { (t("inbox.reason")) } th { (t("inbox.status")) } th { (t("inbox.age")) } } }
                tbody {
                    @for ticket in &tickets {
                        tr {
                            td { a.ticket href={ "/dashboard/tickets/" (ticket.id) } { "#" (ticket.number) } }
                            td { (ticket.customer) }
                            td { (texts.reason(ticket.reason)) }
                            td { (status(lang, ticket.status)) }
                            td { (age(lang, ticket.opened_at, now)) }
                        }
                    }
                }
            }
        }
    };
    let flash = flash_from_query(lang, query.as_deref());
    Ok(page(&session, StatusCode::OK, t("inbox.title"), flash, body))
}

/// What the file picker offers: the types WhatsApp delivers (`media::is_allowed`).
const ACCEPTED_FILES: &str = "image/jpeg,image/png,image/webp,audio/*,video/mp4,video/3gpp,application/pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.txt";

fn parse_id(raw: &str) -> Result<EscalationId, PageError> {
    raw.parse().map_err(|_| PageError::not_found())
}

async fn ticket(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    session.require_content()?;
    let id = parse_id(&id)?;
    let mut tx = state.store.begin_read(session.caller.tenant).await?;
    let ticket = tx.escalation(id).await?;
    tx.commit().await?;
    let ticket = ticket.ok_or_else(PageError::not_found)?;
    // The messages are decrypted and the read audited (`conversation.read`) by the API's code.
    let read = read_conversation(&state, &session.caller, &session.actor(), ticket.conversation_id).await?;
    let lang = session.lang;
    let t = |k| lang.t(k);
    let open = ticket.closed_at.is_none();
    let texts = OwnerTexts::new(lang.code());
    let post_to = |verb: &str| format!("/dashboard/tickets/{id}/{verb}");
    let body = html! {
        div.card {
            p {
                strong { (read.conversation.customer) }
                @if read.conversation.in_group { " · 👥 " (t("ticket.in_group")) }
                " · " (texts.reason(ticket.reason))
            }
            p.meta { (t("inbox.status")) ": " span #status { (status(lang, ticket.status)) } " · " (local(&session, ticket.opened_at)) }
        }
        h2 { (t("ticket.messages")) }
        div #messages { (message_list(&session, &read.messages)) }
        @if let Some(draft) = read.suggested_reply.as_ref().filter(|_| open && ticket.answered_at.is_none()) {
            form.card method="post" action=(post_to("senddraft")) {
                input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                p { strong { (t("ticket.suggested")) } }
                p #suggested { (draft) }
                button #senddraft type="submit" { (t("ticket.send_suggested")) }
            }
        }
        @if open {
            form.card method="post" action=(post_to("reply")) {
                input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                label for="text" { (t("ticket.reply")) }
                textarea #text name="text" required maxlength="4096" {}
                button #send type="submit" { (t("ticket.send")) }
            }
            // The fields in this order: the handler reads the token and caption before the file.
            form.card method="post" action=(post_to("file")) enctype="multipart/form-data" {
                input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                label for="caption" { (t("ticket.attach")) }
                input #caption type="text" name="caption" maxlength="1024" placeholder=(t("ticket.caption"));
                input #file type="file" name="file" required accept=(ACCEPTED_FILES);
                button #sendfile type="submit" { (t("ticket.send_file")) }
            }
            div.actions {
                @for (verb, label) in [("takeover", "ticket.takeover"), ("handback", "ticket.handback"), ("resolve", "ticket.resolve")] {
                    form.inline method="post" action=(post_to(verb)) {
                        input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                        button.secondary id=(verb) type="submit" { (t(label)) }
                    }
                }
            }
        } @else {
            p { (t("ticket.closed")) }
        }
    };
    let title = format!("{} #{}", t("ticket.title"), ticket.number);
    Ok(page(&session, StatusCode::OK, &title, flash_from_query(lang, query.as_deref()), body))
}

pub fn status(lang: super::i18n::Lang, status: TicketStatus) -> &'static str {
    match status {
        TicketStatus::Open => lang.t("status.open"),
        TicketStatus::Human => lang.t("status.human"),
        TicketStatus::HandedBack => lang.t("status.handed_back"),
        TicketStatus::Resolved => lang.t("status.resolved"),
        TicketStatus::Unanswered => lang.t("status.unanswered"),
    }
}

/// A refusal of the state machine (closed ticket, impossible move, empty reply) comes back
/// as a message on the ticket page; unknown or foreign ids are 404 pages.
async fn act(
    State(state): State<AppState>,
    Path((id, verb)): Path<(String, String)>,
    CheckedForm { session, form }: CheckedForm,
) -> Result<Response, PageError> {
    session.require_content()?;
    let id = parse_id(&id)?;
    let action = match verb.as_str() {
        "reply" => Action::Reply(form.required("text")?.to_string()),
        "senddraft" => Action::SendDraft,
        "takeover" => Action::TakeOver,
        "handback" => Action::HandBack,
        "resolve" => Action::Resolve,
        _ => return Err(PageError::not_found()),
    };
    back_to_ticket(id, &verb, act_on_ticket(&state, &session.caller, &session.actor(), id, action).await)
}

/// Back to the ticket page after an action: `ok=<verb>`, or the refusal's code as a message.
pub fn back_to_ticket<T>(id: EscalationId, verb: &str, acted: Result<T, UseCaseError>) -> Result<Response, PageError> {
    back_to(&format!("/dashboard/tickets/{id}"), verb, acted)
}

/// Back to the page `back` after an action, as `back_to_ticket` (the conversation page too).
pub fn back_to<T>(back: &str, verb: &str, acted: Result<T, UseCaseError>) -> Result<Response, PageError> {
    match acted {
        Ok(_) => Ok(Redirect::to(&format!("{back}?ok={verb}")).into_response()),
        Err(UseCaseError::Conflict { code, .. } | UseCaseError::Invalid { code, .. }) => {
            Ok(Redirect::to(&format!("{back}?err={code}")).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
