//! Webhooks that fail their provider's check, and authentic ones meant for another channel:
//! counted in `/metrics` and logged at most once a minute per provider and reason, and never
//! written to the database, so whoever knows a channel id cannot fill the audit log or take
//! the writer's lock. The lines name no channel (a Fonnte URL carries its secret) and no person.
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::domain::Provider;
use crate::metrics::Metrics;

/// (outcome, provider, reason): a fixed set of static names, so the limiter's map stays small.
type LineKey = (&'static str, &'static str, &'static str);

/// Lets one log line per provider and reason through each minute.
pub struct RefusalLog {
    gate: DefaultKeyedRateLimiter<LineKey>,
}

impl Default for RefusalLog {
    fn default() -> Self {
        Self { gate: RateLimiter::keyed(Quota::per_minute(NonZeroU32::MIN)) }
    }
}

impl RefusalLog {
    fn allows(&self, key: LineKey) -> bool {
        self.gate.check_key(&key).is_ok()
    }

    /// A webhook its check refused (the caller answers 401 or 403).
    pub fn rejected(&self, metrics: &Metrics, provider: Provider, reason: &'static str) {
        let total = metrics.webhook_rejected(provider.as_str(), reason);
        if self.allows(("rejected", provider.as_str(), reason)) {
            tracing::warn!(
                provider = provider.as_str(),
                reason,
                total,
                "webhook rejected (one line a minute per provider and reason; total since start)"
            );
        }
    }

    /// An authentic webhook that is not for this channel (the caller answers 200 so it is not retried).
    pub fn ignored(&self, metrics: &Metrics, provider: Provider, reason: &'static str) {
        let total = metrics.webhook_ignored(provider.as_str(), reason);
        if self.allows(("ignored", provider.as_str(), reason)) {
            tracing::warn!(
                provider = provider.as_str(),
                reason,
                total,
                "webhook ignored: not for this channel (one line a minute per provider and reason; total since start)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_minute_per_provider_and_reason() {
        let log = RefusalLog::default();
        assert!(log.allows(("rejected", "meta", "mismatch")));
        for _ in 0..1_000 {
            assert!(!log.allows(("rejected", "meta", "mismatch")), "a second line within the minute");
        }
        assert!(log.allows(("rejected", "meta", "missing")), "another reason has its own line");
        assert!(log.allows(("ignored", "twilio", "not_whatsapp")));
    }
}
