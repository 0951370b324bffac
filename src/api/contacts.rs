//! Data-subject rights on one contact. Built so far: `GET /api/v1/contacts/{id}/export`
//! (owner tokens), the bundle documented in the README and versioned.
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::auth::Caller;
use crate::app::AppState;
use crate::domain::ContactId;
use crate::error::ApiError;
use crate::privacy::export;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/contacts/{id}/export", get(export_contact))
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/export", tag = "privacy", security(("bearer" = [])),
    params(("id" = String, Path, description = "contact id (conversations name theirs)")),
    responses((status = 200, description = "the versioned export bundle (format balas.contact-export); audited"),
        (status = 403, description = "owner tokens only"), (status = 404, description = "no such contact in your tenant"),
        (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn export_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_owner()?;
    let not_found = || ApiError::not_found("contact_not_found", "no contact with this id in your tenant");
    let id: ContactId = id.parse().map_err(|_| not_found())?;
    let bundle =
        export::export_contact(&*state.store, &state.keys, caller.tenant, id, &caller.actor(), state.clock.now())
            .await?
            .ok_or_else(not_found)?;
    Ok(Json(bundle))
}
