//! The OpenAPI document of `/api/v1`, served at `/api/v1/openapi.json` (utoipa).
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use crate::app::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "balas owner API", description = "Bearer tokens from POST /api/v1/auth/login or `balas token issue`. Errors are {\"error\", \"detail\"}."),
    paths(
        super::session::login, super::session::logout, super::session::revoke, super::session::set_pin,
        super::escalations::list, super::escalations::act,
        super::conversations::list, super::conversations::read, super::conversations::step_in,
        super::kb::list, super::kb::create, super::kb::update, super::kb::remove,
        super::gaps::groups, super::gaps::answer, super::gaps::dismiss, super::gaps::versions,
        super::settings::read, super::settings::change, super::llm::read, super::llm::set_key, super::llm::delete_key, super::settings::owners, super::settings::add, super::settings::remove,
        super::users::list, super::users::create, super::users::disable,
        super::contacts::export_contact, super::contacts::correct, super::contacts::erase_contact,
        super::subprocessors::list, super::subprocessors::accept, super::subprocessors::object,
        super::requests::list, super::requests::open, super::requests::acknowledge, super::requests::close,
        super::analytics::analytics,
        super::webhooks::list, super::webhooks::create, super::webhooks::remove, super::webhooks::rotate,
        super::webhooks::enable, super::webhooks::deliveries, super::webhooks::replay,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
