//! Rate limits of the owner API in this process: a flood guard on logins per client, in front
//! of the shared counts of `login_limits`, and every request per token. Webhook routes are never
//! limited here: a provider's message must not be lost to a limiter.
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

pub struct ApiLimits {
    login_flood: DefaultKeyedRateLimiter<String>,
    by_token: DefaultKeyedRateLimiter<String>,
}

/// `burst` at once, then one more every `every`.
fn quota(burst: u32, every: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(every).map_or_else(|| Quota::per_second(burst), |q| q.allow_burst(burst))
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            login_flood: RateLimiter::keyed(quota(20, Duration::from_secs(3))),
            by_token: RateLimiter::keyed(quota(120, Duration::from_millis(250))),
        }
    }
}

impl ApiLimits {
    /// Refuses a client's logins beyond a burst, before they cost a database write or a hash.
    pub fn login_flood(&self, client: IpAddr) -> Result<(), ApiError> {
        self.login_flood.check_key(&crate::login_limits::client_prefix(client)).map_err(|until| {
            ApiError::too_many(
                "too many login attempts; wait before trying again",
                until.wait_time_from(DefaultClock::default().now()),
            )
        })
    }

    pub fn per_token(&self, jti: &str) -> Result<(), ApiError> {
        self.by_token.check_key(&jti.to_string()).map_err(|until| {
            ApiError::too_many("too many requests with this token", until.wait_time_from(DefaultClock::default().now()))
        })
    }

    /// Drops idle keys; called every minute with the other limiters.
    pub fn retain_recent(&self) {
        self.login_flood.retain_recent();
        self.by_token.retain_recent();
    }
}
