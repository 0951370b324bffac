//! Recently routed channels with their opened secrets. Without it every webhook paid five
//! database round trips and two decryptions before its signature check (BENCHMARKS.md). The
//! route is read again once per shared ingest transaction (`group_commit`). An entry lives `TTL`.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::channels::ChannelSecrets;
use crate::domain::ChannelId;
use crate::store::ChannelRecord;

pub const TTL: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct ChannelCache {
    entries: Mutex<HashMap<ChannelId, (Instant, ChannelRecord, ChannelSecrets)>>,
}

impl ChannelCache {
    /// The channel if it was loaded less than `TTL` ago.
    pub fn get(&self, id: ChannelId) -> Option<(ChannelRecord, ChannelSecrets)> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (loaded, channel, secrets) = entries.get(&id)?;
        (loaded.elapsed() < TTL).then(|| (channel.clone(), secrets.clone()))
    }

    /// Keeps a freshly loaded channel; expired entries are dropped on the way.
    pub fn put(&self, channel: &ChannelRecord, secrets: &ChannelSecrets) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, (loaded, _, _)| loaded.elapsed() < TTL);
        entries.insert(channel.id, (Instant::now(), channel.clone(), secrets.clone()));
    }
}
