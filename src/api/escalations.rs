//! `GET /api/v1/escalations` and `POST /api/v1/escalations/{id}/reply|takeover|handback|resolve`:
//! the same state machine and audit as the owner's WhatsApp commands.
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{MAX_BODY_BYTES, parse_json};
use crate::app::AppState;
use crate::domain::EscalationId;
use crate::error::ApiError;
use crate::ingress::read_body;
use crate::owner::{Action, desk};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/escalations", get(list)).route("/api/v1/escalations/{id}/{action}", post(act))
}

/// `?status=open` (default) or `all`, and `limit` (1–200, default 50).
#[utoipa::path(get, path = "/api/v1/escalations", tag = "escalations", security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "open (default) or all"), ("limit" = Option<i64>, Query, description = "1 to 200, default 50")),
    responses((status = 200, description = "escalations: tickets with the customer masked; the read is audited"), (status = 403, description = "analytics tokens"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require_content_access()?;
    let (mut open_only, mut limit) = (true, 50i64);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match (key.as_ref(), value.as_ref()) {
            ("status", "open") => open_only = true,
            ("status", "all") => open_only = false,
            ("limit", n) => {
                limit = n.parse().ok().filter(|n| (1..=200).contains(n)).ok_or_else(|| {
                    ApiError::bad_request("invalid_query", "limit must be a whole number from 1 to 200")
                })?
            }
            _ => return Err(ApiError::bad_request("invalid_query", "known parameters: status=open|all, limit")),
        }
    }
    let views = desk::list_tickets(&state, &caller, &caller.actor(), open_only, limit).await?;
    Ok(Json(json!({ "escalations": views })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    text: Option<String>,
    /// Send the ticket's suggested reply instead of `text`.
    #[serde(default)]
    use_suggested_reply: bool,
}

#[utoipa::path(post, path = "/api/v1/escalations/{id}/{action}", tag = "escalations", security(("bearer" = [])),
    params(("id" = String, Path, description = "escalation id"), ("action" = String, Path, description = "reply, takeover, handback or resolve")),
    request_body(content = ReplyBody, description = "for reply only"),
    responses((status = 200, description = "the ticket and the conversation's new state"), (status = 400, description = "malformed or empty reply"),
        (status = 404, description = "no such escalation in the caller's tenant"), (status = 409, description = "closed ticket or impossible move"), (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, verb)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    caller.require_content_access()?;
    let id: EscalationId = id.parse().map_err(|_| ApiError::from(desk::not_found()))?;
    let raw = read_body(&headers, body, MAX_BODY_BYTES).await?;
    let action = match verb.as_str() {
        "reply" => {
            let body: ReplyBody = parse_json(&raw, r#"{"text": "…"} or {"use_suggested_reply": true}"#)?;
            match (body.text, body.use_suggested_reply) {
                (Some(text), false) => Action::Reply(text),
                (None, true) => Action::SendDraft,
                _ => return Err(ApiError::bad_request("invalid_body", "give either text or use_suggested_reply")),
            }
        }
        "takeover" => Action::TakeOver,
        "handback" => Action::HandBack,
        "resolve" => Action::Resolve,
        _ => return Err(ApiError::not_found("not_found", "actions are reply, takeover, handback and resolve")),
    };
    let done = desk::act_on_ticket(&state, &caller, &caller.actor(), id, action).await?;
    Ok(Json(json!({ "escalation": done.ticket, "conversation_state": done.state.as_str(), "messages": done.messages })))
}
