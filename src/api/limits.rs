//! Rate limits of the owner API (in this process): login per client IP and per e-mail, and
//! every request per token. Webhook routes are never limited here: a provider's message must
//! not be lost to a limiter.
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

pub struct ApiLimits {
    login_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    login_by_email: DefaultKeyedRateLimiter<Vec<u8>>,
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
            login_by_ip: RateLimiter::keyed(quota(20, Duration::from_secs(6))),
            login_by_email: RateLimiter::keyed(quota(5, Duration::from_secs(180))),
            by_token: RateLimiter::keyed(quota(120, Duration::from_millis(250))),
        }
    }
}

impl ApiLimits {
    /// Both login limits are spent on every attempt, successful or not.
    pub fn login(&self, ip: IpAddr, email_index: &[u8]) -> Result<(), ApiError> {
        let by_ip = self.login_by_ip.check_key(&ip);
        let by_email = self.login_by_email.check_key(&email_index.to_vec());
        match by_ip.and(by_email) {
            Ok(()) => Ok(()),
            Err(until) => Err(ApiError::too_many(
                "too many login attempts; wait before trying again",
                until.wait_time_from(DefaultClock::default().now()),
            )),
        }
    }

    pub fn per_token(&self, jti: &str) -> Result<(), ApiError> {
        self.by_token.check_key(&jti.to_string()).map_err(|until| {
            ApiError::too_many("too many requests with this token", until.wait_time_from(DefaultClock::default().now()))
        })
    }

    /// Drops idle keys; called every minute with the other limiters.
    pub fn retain_recent(&self) {
        self.login_by_ip.retain_recent();
        self.login_by_email.retain_recent();
        self.by_token.retain_recent();
    }
}
