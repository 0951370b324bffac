//! The shop's webhook endpoints (owner tokens): `GET|POST /api/v1/webhook-endpoints`,
//! `DELETE …/{id}`, `POST …/{id}/rotate-secret`, `POST …/{id}/enable`, `GET …/{id}/deliveries`
//! and `POST …/{id}/deliveries/{delivery_id}/replay`. A thin adapter over `webhooks::endpoints`.
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::auth::Caller;
use super::read_json;
use crate::app::AppState;
use crate::error::ApiError;
use crate::webhooks::endpoints::{self, NewEndpoint};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhook-endpoints", get(list).post(create))
        .route("/api/v1/webhook-endpoints/{id}", delete(remove))
        .route("/api/v1/webhook-endpoints/{id}/rotate-secret", post(rotate))
        .route("/api/v1/webhook-endpoints/{id}/enable", post(enable))
        .route("/api/v1/webhook-endpoints/{id}/deliveries", get(deliveries))
        .route("/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/replay", post(replay))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EndpointBody {
    /// https, on a public address.
    url: String,
    /// Event types: message.received, message.sent, message.failed, conversation.escalated,
    /// ticket.opened, ticket.resolved, ticket.unanswered, data_request.opened.
    events: Vec<String>,
    /// Send message text and phone numbers too (audited; listed as a recipient in the
    /// sub-processor list).
    #[serde(default)]
    include_content: bool,
}

fn endpoint_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("webhook_endpoint_not_found", "no such webhook endpoint"))
}

#[utoipa::path(get, path = "/api/v1/webhook-endpoints", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, description = "the endpoints, without their secrets", body = [endpoints::EndpointView]), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token")))]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let listed = endpoints::list(&*state.store, (caller.tenant, &caller.actor()), state.clock.now()).await?;
    Ok(Json(json!({ "endpoints": listed })))
}

#[utoipa::path(post, path = "/api/v1/webhook-endpoints", tag = "webhooks", security(("bearer" = [])), request_body = EndpointBody,
    responses((status = 201, description = "{id, secret, endpoint}: the whsec_ secret is shown this once"), (status = 400, description = "malformed body, unknown event, or a URL refused (private_address, not_https, bad_url, unresolvable)"), (status = 409, description = "too many endpoints"), (status = 403, description = "owner tokens only"), (status = 401, description = "missing, invalid, expired or revoked token")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_owner()?;
    let shape = r#"{"url": "https://…", "events": ["message.received"], "include_content": false}"#;
    let b: EndpointBody = read_json(&headers, body, shape).await?;
    let new = NewEndpoint { url: b.url, events: b.events, include_content: b.include_content };
    let (who, now) = ((caller.tenant, caller.actor()), state.clock.now());
    let stores = (&*state.store, &state.keys);
    let made = endpoints::create(stores, &state.deps.webhooks, (who.0, &who.1), new, now).await?;
    let answer = json!({ "id": made.endpoint.id, "secret": made.secret, "endpoint": made.endpoint });
    Ok((StatusCode::CREATED, Json(answer)))
}

#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "endpoint id")),
    responses((status = 204, description = "deleted, with its deliveries"), (status = 404, description = "no such endpoint"), (status = 401, description = "missing, invalid, expired or revoked token")))]
async fn remove(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    caller.require_owner()?;
    endpoints::delete(&*state.store, (caller.tenant, &caller.actor()), endpoint_id(&id)?, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "endpoint id")),
    responses((status = 200, description = "{id, secret, endpoint}: the new secret, shown once; the old one also signs for 24 hours"), (status = 404, description = "no such endpoint"), (status = 401, description = "missing, invalid, expired or revoked token")))]
async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let stores = (&*state.store, &state.keys);
    let made =
        endpoints::rotate(stores, (caller.tenant, &caller.actor()), endpoint_id(&id)?, state.clock.now()).await?;
    Ok(Json(json!({ "id": made.endpoint.id, "secret": made.secret, "endpoint": made.endpoint })))
}

#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/enable", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "endpoint id")),
    responses((status = 200, description = "the endpoint, enabled", body = endpoints::EndpointView), (status = 404, description = "no such endpoint"), (status = 401, description = "missing, invalid, expired or revoked token")))]
async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let endpoint =
        endpoints::enable(&*state.store, (caller.tenant, &caller.actor()), endpoint_id(&id)?, state.clock.now())
            .await?;
    Ok(Json(json!({ "endpoint": endpoint })))
}

#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "endpoint id")),
    responses((status = 200, description = "the latest deliveries, newest first", body = [endpoints::DeliveryView]), (status = 404, description = "no such endpoint"), (status = 401, description = "missing, invalid, expired or revoked token")))]
async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let who = (caller.tenant, caller.actor());
    let listed = endpoints::deliveries(&*state.store, (who.0, &who.1), endpoint_id(&id)?, state.clock.now()).await?;
    Ok(Json(json!({ "deliveries": listed })))
}

#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "endpoint id"), ("delivery_id" = String, Path, description = "delivery id")),
    responses((status = 202, description = "queued again with the same webhook-id", body = endpoints::DeliveryView), (status = 404, description = "no such endpoint or delivery"), (status = 409, description = "the endpoint is disabled, or the delivery is still being attempted"), (status = 401, description = "missing, invalid, expired or revoked token")))]
async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_owner()?;
    let missing = || ApiError::not_found("webhook_delivery_not_found", "no such delivery of this endpoint");
    let delivery: Uuid = delivery.parse().map_err(|_| missing())?;
    let who = (caller.tenant, caller.actor());
    let ids = (endpoint_id(&id)?, delivery);
    let view = endpoints::replay(&*state.store, (who.0, &who.1), ids, state.clock.now()).await?;
    state.work_queued();
    Ok((StatusCode::ACCEPTED, Json(json!({ "delivery": view }))))
}
