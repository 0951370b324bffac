//! `GET /api/v1/conversations` (filters and paging), `GET /api/v1/conversations/{id}` (its
//! messages decrypted; every such read is audited naming the reader), and
//! `POST /api/v1/conversations/{id}/reply|takeover`, which step in through the state machine.
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{MAX_BODY_BYTES, parse_json};
use crate::app::AppState;
use crate::domain::ConversationId;
use crate::error::ApiError;
use crate::ingress::read_body;
use crate::owner::conversation_list::{Filter, Page, list_conversations};
use crate::owner::desk;
use crate::owner::tickets::Action;
use crate::store::Before;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations", get(list))
        .route("/api/v1/conversations/{id}", get(read))
        .route("/api/v1/conversations/{id}/{action}", post(step_in))
}

fn bad_query(detail: &str) -> ApiError {
    ApiError::bad_request("invalid_query", detail.to_string())
}

/// `?state=bot|escalated|human|unanswered|closed`, `limit` (1–100, default 50), `before` and
/// `before_id` (`next_before` and `next_before_id` of the previous page).
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])),
    params(("state" = Option<String>, Query, description = "bot, escalated, human, unanswered (open, the customer's latest message has no bot or owner answer) or closed"), ("limit" = Option<i64>, Query, description = "1 to 100"),
        ("before" = Option<String>, Query, description = "next_before of the previous page (RFC 3339)"), ("before_id" = Option<String>, Query, description = "next_before_id of the previous page")),
    responses((status = 200, description = "conversations, newest activity first, each with its open ticket (id, number) or null, and next_before with next_before_id"), (status = 400, description = "bad query"), (status = 403, description = "analytics tokens"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require_content_access()?;
    let mut page = Page { filter: None, before: None, limit: 50, messages: 0 };
    let (mut before, mut before_id) = (None, None);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "state" => {
                let parsed = Filter::parse(&value)
                    .ok_or_else(|| bad_query("state is bot, escalated, human, unanswered or closed"))?;
                page.filter = Some(parsed);
            }
            "limit" => {
                page.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| bad_query("limit is 1 to 100"))?
            }
            "before" => {
                let at = DateTime::parse_from_rfc3339(&value).map_err(|_| bad_query("before is an RFC 3339 time"))?;
                before = Some(at.with_timezone(&Utc));
            }
            "before_id" => before_id = Some(value.parse().map_err(|_| bad_query("before_id is a conversation id"))?),
            _ => return Err(bad_query("known parameters: state, limit, before, before_id")),
        }
    }
    page.before = before.map(|updated_at| Before { updated_at, id: before_id });
    let listed = list_conversations(&state, &caller, &caller.actor(), page).await?;
    let last = listed.last().filter(|_| listed.len() as i64 == page.limit).map(|l| &l.conversation);
    let (next, next_id) = (last.map(|c| c.updated_at), last.map(|c| c.id));
    Ok(Json(json!({ "conversations": listed, "next_before": next, "next_before_id": next_id })))
}

fn not_found() -> ApiError {
    desk::conversation_not_found().into()
}

/// One conversation with its latest 200 messages, decrypted.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 200, description = "the conversation, its open ticket and latest 200 messages decrypted; audited naming the reader"),
        (status = 403, description = "analytics tokens"), (status = 404, description = "no such conversation in the caller's tenant"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn read(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    caller.require_content_access()?;
    let id: ConversationId = id.parse().map_err(|_| not_found())?;
    let read = desk::read_conversation(&state, &caller, &caller.actor(), id).await?;
    let ticket = read.open_ticket.map(|t| json!({ "id": t.id, "number": t.number, "status": t.status }));
    Ok(Json(json!({ "conversation": read.conversation, "open_ticket": ticket, "messages": read.messages })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    text: String,
}

/// `reply` (`{"text": "…"}`) or `takeover`. A conversation the bot has gets a ticket first
/// (reason `owner_initiated`, no notice to the owners, no holding message).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/{action}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "conversation id"), ("action" = String, Path, description = "reply or takeover")),
    request_body(content = ReplyBody, description = "for reply only"),
    responses((status = 200, description = "the conversation's new state, its ticket and the messages sent"), (status = 400, description = "malformed or empty reply"),
        (status = 404, description = "no such conversation"), (status = 409, description = "closed conversation or impossible move"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn step_in(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_content_access()?;
    let id: ConversationId = id.parse().map_err(|_| not_found())?;
    let raw = read_body(&headers, body, MAX_BODY_BYTES).await?;
    let action = match verb.as_str() {
        "reply" => {
            let body: ReplyBody = parse_json(&raw, r#"{"text": "…"}"#)?;
            Action::Reply(body.text)
        }
        "takeover" => Action::TakeOver,
        _ => return Err(ApiError::not_found("not_found", "actions are reply and takeover")),
    };
    let applied = desk::step_in(&state, &caller, &caller.actor(), id, action).await?;
    Ok(Json(json!({
        "conversation_state": applied.state.as_str(),
        "ticket": { "id": applied.ticket.id, "number": applied.ticket.number },
        "messages": applied.messages,
    })))
}
