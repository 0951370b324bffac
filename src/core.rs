//! The small state every layer below HTTP shares: the store, the keys, the clock, how jobs
//! run, and the wake-up of idle workers. Cheap to clone; the HTTP `AppState` holds one.
use std::sync::Arc;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Keys;
use crate::jobs::JobSettings;
use crate::media::Media;
use crate::store::Store;

/// Rupiah per US dollar until the operator sets `BALAS_USD_IDR_RATE`.
pub const DEFAULT_USD_IDR_RATE: f64 = 16_000.0;

#[derive(Clone)]
pub struct Core {
    pub store: Arc<dyn Store>,
    pub keys: Keys,
    pub clock: Arc<dyn Clock>,
    pub jobs: JobSettings,
    /// Wakes one idle worker when a transaction enqueued a job (`work_queued`).
    pub queue_wake: Arc<Notify>,
    /// Whether owner notices are also queued by e-mail (SMTP is configured); decided when they are queued.
    pub owner_email: bool,
    /// Customers' attachments: their store, and the guarded fetch from the providers.
    pub media: Arc<Media>,
    /// Rupiah per US dollar for costs shown in IDR (the operator's `BALAS_USD_IDR_RATE`).
    pub usd_idr_rate: f64,
}

impl Core {
    pub fn new(store: Arc<dyn Store>, keys: Keys, clock: Arc<dyn Clock>, jobs: JobSettings, media: Arc<Media>) -> Self {
        Self {
            store,
            keys,
            clock,
            jobs,
            queue_wake: Arc::new(Notify::new()),
            owner_email: false,
            media,
            usd_idr_rate: DEFAULT_USD_IDR_RATE,
        }
    }

    /// Wakes one idle worker, or leaves a permit for the next to go idle, so a job committed
    /// while every worker was busy is still claimed at once. A worker that claims a job wakes
    /// the next one in turn, so a burst of jobs fans out without waking every worker per job.
    pub fn work_queued(&self) {
        self.queue_wake.notify_one();
    }
}
