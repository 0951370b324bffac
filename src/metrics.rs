//! Operations metrics for Prometheus at `GET /metrics`: counters and histograms kept in this
//! process (webhooks, sends, jobs, LLM calls), and gauges read from the database when scraped
//! (queue depth, dead letters, overdue data requests). No label names a tenant, a customer or
//! any content.
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::channels::SendError;
use crate::privacy::requests;
use crate::store::{LlmCall, Store, StoreResult};

/// Overdue requests are counted across every tenant; a scrape reuses a count this recent.
const OVERDUE_CACHE: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PurposeResult {
    purpose: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderResult {
    provider: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderReason {
    provider: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindState {
    kind: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelOutcome {
    model: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Way {
    way: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Deadline {
    deadline: String,
}

fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    webhooks: Family<ProviderResult, Counter>,
    webhooks_rejected: Family<ProviderReason, Counter>,
    webhooks_ignored: Family<ProviderReason, Counter>,
    requests_shed: Counter,
    sends: Family<ProviderResult, Counter>,
    template_sends: Family<PurposeResult, Counter>,
    job_wait: Family<Kind, Histogram, fn() -> Histogram>,
    job_run: Family<Kind, Histogram, fn() -> Histogram>,
    llm_latency: Family<ModelOutcome, Histogram, fn() -> Histogram>,
    llm_failures: Family<ModelOutcome, Counter>,
    jobs: Family<KindState, Gauge>,
    overdue: Family<Deadline, Gauge>,
    overdue_at: Mutex<Option<(Instant, [i64; 2])>>,
    ingest_batch: Histogram,
    ingest_messages: Family<Way, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("balas");
        let webhooks = Family::<ProviderResult, Counter>::default();
        registry.register("webhook_requests", "Webhook requests by provider and HTTP status", webhooks.clone());
        let webhooks_rejected = Family::<ProviderReason, Counter>::default();
        registry.register(
            "webhooks_rejected",
            "Webhooks refused by their provider's check (signature, URL secret, key, device), by provider and reason",
            webhooks_rejected.clone(),
        );
        let webhooks_ignored = Family::<ProviderReason, Counter>::default();
        registry.register(
            "webhooks_ignored",
            "Authentic webhooks answered 200 and dropped because they are not for this channel, by provider and reason",
            webhooks_ignored.clone(),
        );
        let requests_shed = Counter::default();
        registry.register(
            "http_requests_shed",
            "Requests answered 503 because the in-flight bound (BALAS_MAX_IN_FLIGHT) was reached",
            requests_shed.clone(),
        );
        let sends = Family::<ProviderResult, Counter>::default();
        registry.register("sends", "Messages handed to a provider, by provider and result", sends.clone());
        let template_sends = Family::<PurposeResult, Counter>::default();
        registry.register(
            "template_sends",
            "WhatsApp templates sent (they cost money), by purpose and result; refused ones need the operator",
            template_sends.clone(),
        );
        let job_wait = Family::<Kind, Histogram, fn() -> Histogram>::new_with_constructor(seconds_histogram);
        registry.register("job_wait_seconds", "Time from a job being due to a worker taking it", job_wait.clone());
        let job_run = Family::<Kind, Histogram, fn() -> Histogram>::new_with_constructor(seconds_histogram);
        registry.register("job_run_seconds", "Time a worker spent on one job", job_run.clone());
        let llm_latency = Family::<ModelOutcome, Histogram, fn() -> Histogram>::new_with_constructor(seconds_histogram);
        registry.register("llm_call_seconds", "LLM call latency by model and outcome", llm_latency.clone());
        let llm_failures = Family::<ModelOutcome, Counter>::default();
        registry.register(
            "llm_failures",
            "LLM calls that gave no usable answer, by model and class",
            llm_failures.clone(),
        );
        let jobs = Family::<KindState, Gauge>::default();
        registry.register("jobs", "Jobs by kind and state (due, scheduled, running, dead)", jobs.clone());
        let overdue = Family::<Deadline, Gauge>::default();
        registry.register("data_requests_overdue", "Data-subject requests past a deadline", overdue.clone());
        let ingest_batch = Histogram::new(exponential_buckets(1.0, 2.0, 8));
        registry.register(
            "ingest_batch_webhooks",
            "Webhooks committed per shared ingest transaction (group commit)",
            ingest_batch.clone(),
        );
        let ingest_messages = Family::<Way, Counter>::default();
        registry.register(
            "ingest_messages",
            "Customer messages (duplicates too) in committed ingest transactions, by way: planned (set-based) or alone",
            ingest_messages.clone(),
        );
        Self {
            registry,
            webhooks,
            webhooks_rejected,
            webhooks_ignored,
            requests_shed,
            sends,
            template_sends,
            job_wait,
            job_run,
            llm_latency,
            llm_failures,
            jobs,
            overdue,
            overdue_at: Mutex::new(None),
            ingest_batch,
            ingest_messages,
        }
    }

    pub fn webhook(&self, provider: &str, status: u16) {
        let labels = ProviderResult { provider: provider.into(), result: status.to_string() };
        self.webhooks.get_or_create(&labels).inc();
    }

    /// Counts a webhook refused by its check; the provider and reason's total so far.
    pub fn webhook_rejected(&self, provider: &str, reason: &str) -> u64 {
        let labels = ProviderReason { provider: provider.into(), reason: reason.into() };
        self.webhooks_rejected.get_or_create(&labels).inc() + 1
    }

    /// Counts an authentic webhook dropped as not this channel's; the total so far.
    pub fn webhook_ignored(&self, provider: &str, reason: &str) -> u64 {
        let labels = ProviderReason { provider: provider.into(), reason: reason.into() };
        self.webhooks_ignored.get_or_create(&labels).inc() + 1
    }

    pub fn request_shed(&self) {
        self.requests_shed.inc();
    }

    pub fn ingest_batch(&self, webhooks: usize) {
        self.ingest_batch.observe(webhooks as f64);
    }

    /// Customer messages a committed ingest transaction stored in plans and one at a time.
    pub fn ingest_messages(&self, planned: usize, alone: usize) {
        for (way, count) in [("planned", planned), ("alone", alone)] {
            if count > 0 {
                self.ingest_messages.get_or_create(&Way { way: way.into() }).inc_by(count as u64);
            }
        }
    }

    pub fn sent(&self, provider: &str, outcome: &Result<String, SendError>) {
        let result = match outcome {
            Ok(_) => "ok",
            Err(SendError::WindowClosed) => "window_closed",
            Err(SendError::Retryable(_)) => "retryable",
            Err(SendError::Rejected(_)) => "rejected",
        };
        self.sends.get_or_create(&ProviderResult { provider: provider.into(), result: result.into() }).inc();
    }

    /// A template send, by purpose: `ok`, or `refused` (paused, missing, mismatched: see `balas doctor`).
    pub fn template_sent(&self, purpose: &str, outcome: &Result<String, SendError>) {
        let result = match outcome {
            Ok(_) => "ok",
            Err(SendError::Rejected(_) | SendError::WindowClosed) => "refused",
            Err(SendError::Retryable(_)) => "retryable",
        };
        self.template_sends.get_or_create(&PurposeResult { purpose: purpose.into(), result: result.into() }).inc();
    }

    pub fn job(&self, kind: &str, waited: Duration, ran: Duration) {
        let kind = Kind { kind: kind.into() };
        self.job_wait.get_or_create(&kind).observe(waited.as_secs_f64());
        self.job_run.get_or_create(&kind).observe(ran.as_secs_f64());
    }

    pub fn llm(&self, calls: &[LlmCall]) {
        for call in calls {
            // `malformed:<class>` and `unavailable:<class>` keep their class as the failure label.
            let (outcome, _) = call.outcome.split_once(':').unwrap_or((call.outcome.as_str(), ""));
            let labels = ModelOutcome { model: call.model.clone(), outcome: outcome.into() };
            self.llm_latency.get_or_create(&labels).observe(call.latency_ms.max(0) as f64 / 1000.0);
            if !matches!(outcome, "replied" | "escalated" | "summarized") {
                let failure = ModelOutcome { model: call.model.clone(), outcome: call.outcome.clone() };
                self.llm_failures.get_or_create(&failure).inc();
            }
        }
    }

    /// The text exposition, with the database gauges read now.
    pub async fn render(&self, store: &dyn Store, now: DateTime<Utc>) -> StoreResult<String> {
        self.jobs.clear();
        for (kind, state, count) in store.job_counts(now).await? {
            self.jobs.get_or_create(&KindState { kind, state }).set(count);
        }
        let [acknowledge, answer] = self.overdue_requests(store, now).await?;
        self.overdue.get_or_create(&Deadline { deadline: "acknowledge".into() }).set(acknowledge);
        self.overdue.get_or_create(&Deadline { deadline: "answer".into() }).set(answer);
        self.text().map_err(|_| crate::store::StoreError::Invariant("metrics encoding failed".into()))
    }

    fn text(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// Pending requests past their acknowledge-by and answer-by, over all tenants.
    async fn overdue_requests(&self, store: &dyn Store, now: DateTime<Utc>) -> StoreResult<[i64; 2]> {
        if let Ok(cached) = self.overdue_at.lock()
            && let Some((at, counts)) = *cached
            && at.elapsed() < OVERDUE_CACHE
        {
            return Ok(counts);
        }
        let mut counts = [0, 0];
        for tenant in store.tenant_ids().await? {
            let mut tx = store.begin_read(tenant).await?;
            for request in tx.dsars(true, 10_000).await? {
                match requests::overdue(&request, now) {
                    Some("acknowledge") => counts[0] += 1,
                    Some(_) => counts[1] += 1,
                    None => {}
                }
            }
            tx.commit().await?;
        }
        if let Ok(mut cached) = self.overdue_at.lock() {
            *cached = Some((Instant::now(), counts));
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(model: &str, outcome: &str, latency_ms: i64) -> LlmCall {
        LlmCall {
            model: model.into(),
            outcome: outcome.into(),
            prompt_tokens: 1,
            completion_tokens: 1,
            latency_ms,
            cost_micro_usd: 0,
            own_key: false,
        }
    }

    #[test]
    fn llm_calls_give_latency_by_outcome_and_failures_by_class() {
        let metrics = Metrics::new();
        metrics.llm(&[call("m1", "unavailable:timeout", 20_000), call("m2", "replied", 800)]);
        let text = metrics.text().unwrap();
        assert!(text.contains(r#"balas_llm_call_seconds_count{model="m1",outcome="unavailable"} 1"#), "{text}");
        assert!(text.contains(r#"balas_llm_call_seconds_sum{model="m2",outcome="replied"} 0.8"#), "{text}");
        assert!(text.contains(r#"balas_llm_failures_total{model="m1",outcome="unavailable:timeout"} 1"#), "{text}");
        assert!(!text.contains(r#"balas_llm_failures_total{model="m2""#), "{text}");
    }
}
