//! Analytics for owners and dashboards: aggregates only, never content. The worker keeps
//! rollup tables per conversation-day and per ticket (`rollup`); the API reads them in day or
//! week buckets of the tenant's time zone (`report`).
pub mod report;
pub mod rollup;

use chrono::{Datelike, Duration, NaiveDate};

/// The Monday of `day`'s ISO week: the key of its weekly bucket.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// A local date as the rollup tables key it.
pub fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}
