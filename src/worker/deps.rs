//! What the worker needs beyond the `Core`: the provider clients, the LLM and its per-customer
//! limiter, the mailer, the metrics, and the offline responder's threshold.
use std::sync::Arc;

use governor::DefaultKeyedRateLimiter;

use crate::channels::Clients;
use crate::domain::{ContactId, TenantId};
use crate::llm::Llm;
use crate::metrics::Metrics;
use crate::owner::email::Mailer;

pub type CustomerLimiter = DefaultKeyedRateLimiter<(TenantId, ContactId)>;

#[derive(Clone)]
pub struct WorkerDeps {
    /// The provider clients that send replies.
    pub channels: Arc<Clients>,
    pub llm: Option<Arc<Llm>>,
    /// LLM replies per customer per minute (in this process).
    pub llm_limiter: Arc<CustomerLimiter>,
    pub mailer: Option<Arc<Mailer>>,
    pub metrics: Arc<Metrics>,
    /// Minimum FAQ match confidence for the offline responder to answer.
    pub faq_threshold: f64,
}

impl WorkerDeps {
    /// Whether this customer may get another LLM reply now (a per-minute limit).
    pub fn llm_allows(&self, tenant: TenantId, contact: ContactId) -> bool {
        self.llm_limiter.check_key(&(tenant, contact)).is_ok()
    }
}
