//! `GET /dashboard/conversations?state=…` (every conversation with its latest messages, the
//! bot's answers among them, filtered by state), `GET /dashboard/conversations/{id}` (one
//! conversation whole) and `POST /dashboard/conversations/{id}/reply|takeover` (the owner steps
//! in). All go through the audited use cases the API calls.
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::PageError;
use super::form::CheckedForm;
use super::i18n::Lang;
use super::inbox::{back_to, status};
use super::layout::{flash_from_query, local, page};
use super::messages::message_list;
use super::session::{CSRF_FIELD, Session};
use crate::app::AppState;
use crate::domain::{ConversationId, ConversationState};
use crate::owner::conversation_list::{Filter, Listed, Page, counts, list_conversations};
use crate::owner::desk::{self, read_conversation};
use crate::owner::tickets::Action;
use crate::store::Before;

/// Conversations per page, and how many of each one's latest messages are shown.
const PAGE_SIZE: i64 = 25;
const LATEST: i64 = 4;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/conversations", get(list))
        .route("/dashboard/conversations/{id}", get(one))
        .route("/dashboard/conversations/{id}/{action}", post(step_in))
}

fn filter_label(lang: Lang, filter: Option<Filter>) -> &'static str {
    lang.t(match filter {
        None => "conversations.all",
        Some(Filter::Bot) => "conversations.bot",
        Some(Filter::Escalated) => "conversations.escalated",
        Some(Filter::Human) => "conversations.human",
        Some(Filter::Unanswered) => "conversations.unanswered",
        Some(Filter::Closed) => "conversations.closed",
    })
}

fn state_label(lang: Lang, state: ConversationState) -> &'static str {
    filter_label(lang, Some(Filter::of_state(state)))
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    session.require_content()?;
    let mut page_of = Page { filter: None, before: None, limit: PAGE_SIZE, messages: LATEST };
    let (mut before, mut before_id) = (None, None);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "state" if value.is_empty() => {}
            "state" => page_of.filter = Some(Filter::parse(&value).ok_or_else(PageError::bad_request)?),
            "before" => {
                let at = DateTime::parse_from_rfc3339(&value).map_err(|_| PageError::bad_request())?;
                before = Some(at.with_timezone(&Utc));
            }
            "before_id" => before_id = Some(value.parse().map_err(|_| PageError::bad_request())?),
            "lang" => {}
            _ => return Err(PageError::bad_request()),
        }
    }
    page_of.before = before.map(|updated_at| Before { updated_at, id: before_id });
    let listed = list_conversations(&state, &session.caller, &session.actor(), page_of).await?;
    let counts = counts(&state, &session.caller).await?;
    let count_of = |f: Option<Filter>| match f {
        Some(f) => counts.iter().find(|(c, _)| *c == f).map_or(0, |(_, n)| *n),
        None => counts.iter().filter(|(c, _)| *c != Filter::Unanswered).map(|(_, n)| n).sum(),
    };
    let lang = session.lang;
    let t = |k| lang.t(k);
    let state_query = page_of.filter.map_or(String::new(), |f| format!("state={}&", f.as_str()));
    let next = listed.last().filter(|_| listed.len() as i64 == PAGE_SIZE).map(|l| &l.conversation);
    let body = html! {
        p.filters #filters {
            @for filter in std::iter::once(None).chain(Filter::ALL.map(Some)) {
                @let href = filter.map_or("/dashboard/conversations".to_string(), |f| format!("/dashboard/conversations?state={}", f.as_str()));
                @let label = format!("{} ({})", filter_label(lang, filter), count_of(filter));
                @if filter == page_of.filter { strong { (label) } } @else { a href=(href) { (label) } }
            }
        }
        @if listed.is_empty() {
            p #empty { (t("conversations.empty")) }
        }
        @for item in &listed { (card(&session, item)) }
        @if let Some(next) = next {
            @let before: String = url::form_urlencoded::byte_serialize(next.updated_at.to_rfc3339().as_bytes()).collect();
            p { a #older href=(format!("/dashboard/conversations?{state_query}before={before}&before_id={}", next.id)) { (t("conversations.older")) } }
        }
    };
    Ok(page(&session, StatusCode::OK, t("conversations.title"), None, body))
}

fn card(session: &Session, item: &Listed) -> Markup {
    let lang = session.lang;
    let t = |k| lang.t(k);
    let c = &item.conversation;
    html! {
        section.card.conversation data-state=(c.state.as_str()) {
            p {
                strong.customer { (c.customer) }
                @if c.in_group { " · 👥 " (t("ticket.in_group")) }
                " · " span.state { (state_label(lang, c.state)) }
                " · " span.meta { (local(session, c.updated_at)) }
            }
            (message_list(session, &item.latest))
            p.links {
                a.open href=(format!("/dashboard/conversations/{}", c.id)) { (t("conversations.open")) }
                @if let Some(ticket) = item.open_ticket {
                    " · " a.ticket href=(format!("/dashboard/tickets/{}", ticket.id)) { (t("ticket.title")) " #" (ticket.number) }
                }
            }
        }
    }
}

async fn one(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    session.require_content()?;
    let id: ConversationId = id.parse().map_err(|_| PageError::not_found())?;
    // Decrypted and audited (`conversation.read`) by the code the API's read uses.
    let read = read_conversation(&state, &session.caller, &session.actor(), id).await?;
    let lang = session.lang;
    let t = |k| lang.t(k);
    let c = &read.conversation;
    let body = html! {
        div.card {
            p {
                strong { (c.customer) }
                @if c.in_group { " · 👥 " (t("ticket.in_group")) }
                " · " span #state { (state_label(lang, c.state)) }
            }
            @if let Some(ticket) = &read.open_ticket {
                p { a.ticket href=(format!("/dashboard/tickets/{}", ticket.id)) { (t("ticket.title")) " #" (ticket.number) } " · " (status(lang, ticket.status)) }
            }
        }
        div #messages { (message_list(&session, &read.messages)) }
        @if c.state != ConversationState::Closed {
            @let post_to = |verb: &str| format!("/dashboard/conversations/{id}/{verb}");
            form.card method="post" action=(post_to("reply")) {
                input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                label for="text" { (t("ticket.reply")) }
                textarea #text name="text" required maxlength="4096" {}
                button #send type="submit" { (t("ticket.send")) }
            }
            @if c.state == ConversationState::Bot || c.state == ConversationState::Escalated {
                form.inline method="post" action=(post_to("takeover")) {
                    input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                    button.secondary #takeover type="submit" { (t("ticket.takeover")) }
                }
            }
        }
    };
    let flash = flash_from_query(lang, query.as_deref());
    Ok(page(&session, StatusCode::OK, t("conversations.one"), flash, body))
}

/// The owner replies or takes over from the conversation page; a conversation the bot has gets a
/// ticket first, as on the API. Refusals come back as a message on the page.
async fn step_in(
    State(state): State<AppState>,
    Path((id, verb)): Path<(String, String)>,
    CheckedForm { session, form }: CheckedForm,
) -> Result<Response, PageError> {
    session.require_content()?;
    let id: ConversationId = id.parse().map_err(|_| PageError::not_found())?;
    let action = match verb.as_str() {
        "reply" => Action::Reply(form.required("text")?.to_string()),
        "takeover" => Action::TakeOver,
        _ => return Err(PageError::not_found()),
    };
    let stepped = desk::step_in(&state, &session.caller, &session.actor(), id, action).await;
    back_to(&format!("/dashboard/conversations/{id}"), &verb, stepped)
}
