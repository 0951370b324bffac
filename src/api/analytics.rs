//! `GET /api/v1/analytics`: aggregates per day or week in the tenant's time zone, for owner
//! and analytics tokens. Read from the rollup, so a year answers quickly; no content.
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::ApiQuery;
use super::auth::Caller;
use crate::analytics::report::{self, Granularity, Range, Report};
use crate::app::AppState;
use crate::error::ApiError;

/// The longest range per granularity: a year of days, two years of weeks.
const MAX_DAYS: i64 = 366;
const MAX_WEEK_DAYS: i64 = 731;
/// Without `from`: the last 30 days.
const DEFAULT_DAYS: i64 = 30;
/// No business has data before this; earlier dates are a mistake (and chrono's limits are far).
const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(day) => day,
    None => NaiveDate::MIN,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/analytics", get(analytics))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalyticsQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    granularity: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/analytics", tag = "analytics", security(("bearer" = [])),
    params(("from" = Option<String>, Query, description = "first local day, YYYY-MM-DD (default: 29 days before `to`)"),
        ("to" = Option<String>, Query, description = "last local day, inclusive (default: today in the tenant's zone)"),
        ("granularity" = Option<String>, Query, description = "day (default; up to 366 days) or week (up to 731 days)")),
    responses((status = 200, description = "buckets, a total for the range and a snapshot for now", body = Report),
        (status = 400, description = "malformed dates, from after to, or a range too long"), (status = 403, description = "staff tokens"),
        (status = 401, description = "missing, invalid, expired or revoked token"), (status = 429, description = "rate limited; see Retry-After")))]
async fn analytics(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AnalyticsQuery>,
) -> Result<Json<Report>, ApiError> {
    caller.require_aggregates()?;
    let now = state.clock.now();
    crate::analytics::rollup::refresh(&*state.store, caller.tenant, now).await;
    let mut tx = state.store.begin_read(caller.tenant).await?;
    let tenant = tx.tenant().await?.ok_or_else(|| ApiError::not_found("tenant_not_found", "the tenant is gone"))?;
    let today = now.with_timezone(&tenant.settings.zone()).date_naive();
    let range = range_of(query, today)?;
    Ok(Json(report::build(&mut *tx, &tenant, range, (now, state.usd_idr_rate)).await?))
}

fn range_of(query: AnalyticsQuery, today: NaiveDate) -> Result<Range, ApiError> {
    let bad = |detail: &str| ApiError::bad_request("invalid_range", detail);
    let (granularity, longest) = match query.granularity.as_deref() {
        None | Some("day") => (Granularity::Day, MAX_DAYS),
        Some("week") => (Granularity::Week, MAX_WEEK_DAYS),
        Some(_) => return Err(bad("granularity is day or week")),
    };
    let known = |d: NaiveDate| (EARLIEST..=today).contains(&d);
    let to = query.to.unwrap_or(today);
    if !known(to) || query.from.is_some_and(|f| !known(f)) {
        return Err(bad("dates run from 2000-01-01 to today in the tenant's time zone"));
    }
    let from = query.from.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1)).max(EARLIEST);
    if from > to {
        return Err(bad("from must not be after to"));
    }
    if (to - from).num_days() + 1 > longest {
        return Err(bad("the range is too long: up to 366 days by day, 731 by week"));
    }
    Ok(Range { from, to, granularity })
}
