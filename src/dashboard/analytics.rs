//! `GET /dashboard/analytics`: every role may open it; analytics readers land here.
use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use maud::html;

use super::layout::page;
use super::session::Session;
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard/analytics", get(analytics))
}

// STUB: the SVG charts are added by the analytics-API work; this page only says where they come from.
async fn analytics(session: Session) -> Response {
    let t = |k| session.lang.t(k);
    let body = html! { p #analytics-stub { (t("analytics.stub")) } };
    page(&session, StatusCode::OK, t("analytics.title"), None, body)
}
