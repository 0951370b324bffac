//! `GET /api/v1/escalations` and `POST /api/v1/escalations/{id}/reply|takeover|handback|resolve`:
//! the same state machine and audit as the owner's WhatsApp commands.
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::Caller;
use super::{MAX_BODY_BYTES, parse_json};
use crate::app::AppState;
use crate::audit::{self, AuditEntry};
use crate::domain::{ConversationId, ConversationState, EscalationId, MessageId};
use crate::error::ApiError;
use crate::ingress::read_body;
use crate::owner::notify::label_of;
use crate::owner::{Action, ActionError, tickets};
use crate::store::{EscalationRecord, TenantTx};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/escalations", get(list)).route("/api/v1/escalations/{id}/{action}", post(act))
}

/// A ticket as the API shows it: the customer masked, no message content.
#[derive(Debug, Serialize)]
pub struct TicketView {
    pub id: EscalationId,
    pub number: i32,
    pub status: String,
    pub reason: String,
    pub conversation_id: ConversationId,
    /// Name and masked number (or username).
    pub customer: String,
    pub has_suggested_reply: bool,
    pub opened_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

async fn view(state: &AppState, tx: &mut dyn TenantTx, t: EscalationRecord) -> Result<TicketView, ApiError> {
    let customer = label_of(state, tx, t.contact_id).await?;
    Ok(TicketView {
        id: t.id,
        number: t.number,
        status: t.status,
        reason: t.reason,
        conversation_id: t.conversation_id,
        customer,
        has_suggested_reply: t.draft_enc.is_some(),
        opened_at: t.opened_at,
        answered_at: t.answered_at,
        closed_at: t.closed_at,
        closed_by: t.closed_by,
    })
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
    let views = list_tickets(&state, &caller, &caller.actor(), open_only, limit).await?;
    Ok(Json(json!({ "escalations": views })))
}

/// The tenant's tickets with customers masked; the read is audited naming `actor`.
pub async fn list_tickets(
    state: &AppState,
    caller: &Caller,
    actor: &str,
    open_only: bool,
    limit: i64,
) -> Result<Vec<TicketView>, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    let mut views = Vec::new();
    for ticket in tx.escalations(open_only, limit).await? {
        views.push(view(state, &mut *tx, ticket).await?);
    }
    // Customer names are personal data: the read is audited, naming the reader.
    let entry = AuditEntry::new(actor, "escalation.listed", "tenant", Some(caller.tenant.to_string()))
        .detail(json!({ "count": views.len(), "token": caller.token_id }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok(views)
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
    let not_found = || ApiError::not_found("escalation_not_found", "no escalation with this id in your tenant");
    let id: EscalationId = id.parse().map_err(|_| not_found())?;
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
    let done = act_on_ticket(&state, &caller, &caller.actor(), id, action).await?;
    Ok(Json(json!({ "escalation": done.ticket, "conversation_state": done.state.as_str(), "messages": done.messages })))
}

/// A ticket after an action taken through `act_on_ticket`.
pub struct Acted {
    pub ticket: TicketView,
    pub state: ConversationState,
    pub messages: Vec<MessageId>,
}

/// One action on a ticket of the caller's tenant through `tickets::apply` (the state machine
/// and its audit trail, naming `actor`); wakes the workers for any message it queued.
pub async fn act_on_ticket(
    state: &AppState,
    caller: &Caller,
    actor: &str,
    id: EscalationId,
    action: Action,
) -> Result<Acted, ApiError> {
    let not_found = || ApiError::not_found("escalation_not_found", "no escalation with this id in your tenant");
    let now = state.clock.now();
    let mut tx = state.store.begin(caller.tenant).await?;
    let ticket = tx.lock_escalation(id).await?.ok_or_else(not_found)?;
    let applied = tickets::apply(state, &mut *tx, ticket, action, actor, now).await.map_err(refusal)?;
    audit::append(&mut *tx, applied.trail, now).await?;
    let ticket = view(state, &mut *tx, applied.ticket).await?;
    tx.commit().await?;
    state.work_queued();
    Ok(Acted { ticket, state: applied.state, messages: applied.messages })
}

pub(super) fn refusal(e: ActionError) -> ApiError {
    let conflict = |detail: String| ApiError::new(StatusCode::CONFLICT, e.code(), detail);
    match &e {
        ActionError::Store(inner) => ApiError::internal(inner),
        ActionError::EmptyText => ApiError::bad_request(e.code(), e.to_string()),
        _ => conflict(e.to_string()),
    }
}
