//! `GET /dashboard/analytics?days=30|90|365`: the aggregates of `/api/v1/analytics` as figures
//! and SVG charts, for owners and analytics readers (staff are refused, as on the API).
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::Duration;
use maud::{Markup, html};

use super::PageError;
use super::chart::{Series, stacked_bars};
use super::layout::page;
use super::session::Session;
use crate::analytics::report::{self, Bucket, Granularity, Percentiles, Range, Report};
use crate::app::AppState;
use crate::error::ApiError;

/// The periods offered; a year is shown by week.
const PERIODS: [i64; 3] = [30, 90, 365];

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard/analytics", get(analytics))
}

async fn analytics(
    State(state): State<AppState>,
    session: Session,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    session.caller.require_aggregates().map_err(|_| PageError::forbidden())?;
    let mut days = PERIODS[0];
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "days" => days = value.parse().ok().filter(|d| PERIODS.contains(d)).ok_or_else(PageError::bad_request)?,
            "lang" => {}
            _ => return Err(PageError::bad_request()),
        }
    }
    let now = state.clock.now();
    crate::analytics::rollup::refresh(&*state.store, session.caller.tenant, now).await;
    let mut tx = state.store.begin_read(session.caller.tenant).await.map_err(ApiError::from)?;
    let tenant = tx.tenant().await.map_err(ApiError::from)?.ok_or_else(PageError::not_found)?;
    let to = now.with_timezone(&session.timezone).date_naive();
    let granularity = if days > 90 { Granularity::Week } else { Granularity::Day };
    let range = Range { from: to - Duration::days(days - 1), to, granularity };
    let report = report::build(&mut *tx, &tenant, range, (now, state.usd_idr_rate)).await.map_err(ApiError::from)?;
    tx.commit().await.map_err(ApiError::from)?;
    let t = |k| session.lang.t(k);
    Ok(page(&session, StatusCode::OK, t("analytics.title"), None, body(&session, days, &report, now)))
}

fn body(session: &Session, days: i64, report: &Report, now: chrono::DateTime<chrono::Utc>) -> Markup {
    let lang = session.lang;
    let t = |k| lang.t(k);
    let total = &report.total;
    let labels: Vec<String> =
        report.buckets.iter().map(|b| b.start.map_or_else(String::new, |d| d.format("%d/%m").to_string())).collect();
    let column = |f: fn(&Bucket) -> i64| report.buckets.iter().map(f).collect::<Vec<i64>>();
    let messages = [
        Series { name: t("analytics.inbound"), colour: "#1d4ed8", values: column(|b| b.messages.inbound) },
        Series { name: t("analytics.bot"), colour: "#0f5132", values: column(|b| b.messages.outbound_bot) },
        Series { name: t("analytics.owner"), colour: "#d97706", values: column(|b| b.messages.outbound_owner) },
    ];
    let conversations = [
        Series { name: t("analytics.bot_resolved"), colour: "#0f5132", values: column(|b| b.bot_resolved.count) },
        Series { name: t("analytics.escalated"), colour: "#d97706", values: column(|b| b.escalated.count) },
        Series {
            name: t("analytics.other"),
            colour: "#9aa3ae",
            values: column(|b| (b.conversations - b.bot_resolved.count - b.escalated.count).max(0)),
        },
    ];
    html! {
        p #as-of {
            @match report.as_of {
                Some(at) => { (t("analytics.as_of")) " " (as_of(session, at, now)) },
                None => (t("analytics.not_yet")),
            }
        }
        p.periods {
            @for d in PERIODS {
                @if d == days { strong { (d) " " (t("analytics.days")) } } @else { a href=(format!("?days={d}")) { (d) " " (t("analytics.days")) } }
            }
        }
        dl.figures {
            (figure(t("analytics.conversations"), total.conversations.to_string()))
            (figure(t("analytics.customers"), total.customers.to_string()))
            (figure(t("analytics.bot_resolved"), share(total.bot_resolved.share)))
            (figure(t("analytics.escalated"), share(total.escalated.share)))
            (figure(t("analytics.bot_time"), times(&total.bot_first_response_seconds)))
            (figure(t("analytics.owner_time"), times(&total.owner_response_seconds)))
            (figure(t("analytics.open_tickets"), format!("{} ({} {})", report.now.open_tickets, report.now.overdue_tickets, t("analytics.overdue"))))
            (figure(t("analytics.llm"), format!("{} · US$ {:.2} · {}", total.llm.prompt_tokens + total.llm.completion_tokens, total.llm.estimated_cost_usd, report::rupiah(total.llm.estimated_cost_idr))))
            (figure(t("analytics.templates"), total.templates.sent.to_string()))
            (figure(t("analytics.dead_letters"), report.now.dead_letters.to_string()))
            (figure(t("analytics.requests"), report.now.open_data_requests.to_string()))
        }
        h2 { (t("analytics.messages_chart")) }
        (stacked_bars(t("analytics.messages_chart"), &labels, &messages))
        h2 { (t("analytics.conversations_chart")) }
        (stacked_bars(t("analytics.conversations_chart"), &labels, &conversations))
        @if !total.escalations.reasons.is_empty() {
            h2 { (t("analytics.reasons")) }
            table {
                @for (reason, count) in &total.escalations.reasons { tr { td { (reason) } td { (count) } } }
            }
        }
        p.meta {
            (report.timezone)
            @if let Some(at) = report.as_of { " · " (at.format("%Y-%m-%d %H:%M UTC")) }
        }
    }
}

fn figure(name: &str, value: String) -> Markup {
    html! { div { dt { (name) } dd { (value) } } }
}

fn share(share: Option<f64>) -> String {
    share.map_or_else(|| "-".into(), |s| format!("{:.0}%", s * 100.0))
}

/// "p50 4 s · p90 12 s", in minutes past two minutes.
fn times(p: &Percentiles) -> String {
    if p.samples == 0 {
        return "-".into();
    }
    let one = |v: Option<f64>| match v {
        None => "-".to_string(),
        Some(s) if s >= 120.0 => format!("{:.0} min", s / 60.0),
        Some(s) => format!("{s:.0} s"),
    };
    format!("p50 {} · p90 {}", one(p.p50), one(p.p90))
}

/// "HH:MM" in the tenant's zone, with the date when it is not today (a stuck or backfilling rollup).
fn as_of(session: &Session, at: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let local = at.with_timezone(&session.timezone);
    let today = now.with_timezone(&session.timezone).date_naive();
    if local.date_naive() == today {
        local.format("%H:%M").to_string()
    } else {
        local.format("%H:%M, %d-%m-%Y").to_string()
    }
}
