//! A run of customer messages in one shared ingest transaction, stored with a fixed number of
//! statements: the lookups for the whole run first, then one multi-row insert per table.
//! PostgreSQL spent most of its ingest time on ten small statements per message.
//!
//! The plan is the per-message logic of `persist` applied in memory, in order. It stops
//! before a message that would link a new identifier to a known contact, and gives way to
//! the per-message path when a concurrent transaction wrote one of its rows first.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::persist::{self, IngestReport};
use crate::audit::AuditEntry;
use crate::chats::Chat;
use crate::contacts;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{ChannelId, ContactId, ConversationId, InboundMessage, JobId, MessageId, TenantId};
use crate::jobs::JobKind;
use crate::store::{
    ChannelRecord, ContactRecord, ConversationRecord, InboundTouch, JobRecord, MessageRecord, OwnerRecord, StoreResult,
    TenantTx,
};

/// A customer message waiting in a run, with its sender's blind indexes computed once.
pub struct Pending<'a> {
    pub webhook: usize,
    pub channel: &'a ChannelRecord,
    pub message: &'a InboundMessage,
    bsuid_index: Option<Vec<u8>>,
    phone_index: Option<Vec<u8>>,
    chat: Chat,
}

impl<'a> Pending<'a> {
    pub fn new(core: &Core, webhook: usize, channel: &'a ChannelRecord, message: &'a InboundMessage) -> Self {
        let tenant = channel.tenant_id;
        Self {
            webhook,
            channel,
            message,
            bsuid_index: message.from.bsuid.as_ref().map(|b| core.keys.index.bsuid(tenant, b)),
            phone_index: message.from.phone.as_ref().map(|p| core.keys.index.phone(tenant, p)),
            chat: Chat::of(&core.keys.index, tenant, &message.meta),
        }
    }

    /// Whether an owner sent it, matched like `registry::identify` (BSUID first, then phone).
    pub fn is_from_owner(&self, owners: &[OwnerRecord]) -> bool {
        let matches = |stored: &Option<Vec<u8>>, ours: &Option<Vec<u8>>| ours.is_some() && stored == ours;
        owners.iter().any(|o| matches(&o.bsuid_index, &self.bsuid_index))
            || owners.iter().any(|o| matches(&o.phone_index, &self.phone_index))
    }
}

/// What the plan decided for one message of the run.
enum Outcome {
    Duplicate,
    Stored { message: MessageId, contact_created: Option<ContactId>, conversation: ConversationId, job: JobId },
}

/// A contact the run knows: read from the store or planned, with its key once opened.
struct KnownContact {
    record: ContactRecord,
    key: Option<DataKey>,
}

/// The rows a run will write, and what to report for each message it covers.
#[derive(Default)]
pub struct Plan {
    outcomes: Vec<Outcome>,
    contacts: Vec<ContactRecord>,
    conversations: Vec<ConversationRecord>,
    messages: Vec<MessageRecord>,
    jobs: Vec<JobRecord>,
    touches: Vec<InboundTouch>,
}

impl Plan {
    /// Plans `run` from its start up to the first message that needs the per-message path.
    pub async fn build(
        core: &Core,
        tx: &mut dyn TenantTx,
        run: &[Pending<'_>],
        now: DateTime<Utc>,
    ) -> StoreResult<Self> {
        let mut lookup = Lookup::read(tx, run).await?;
        let tenant = tx.tenant_id();
        let mut plan = Self::default();
        let mut touched: HashMap<ConversationId, usize> = HashMap::new();
        for pending in run {
            let m = pending.message;
            if !lookup.seen.insert((pending.channel.id, m.provider_message_id.as_str())) {
                plan.outcomes.push(Outcome::Duplicate);
                continue;
            }
            let (contact, contact_created) = match lookup.contact_for(pending) {
                Some(_) if lookup.needs_link(pending) => break,
                Some(index) => (index, None),
                None => {
                    let index = lookup.plan_contact(core, pending, tenant, now)?;
                    plan.contacts.push(lookup.contacts[index].record.clone());
                    (index, Some(lookup.contacts[index].record.id))
                }
            };
            let contact_id = lookup.contacts[contact].record.id;
            let chat_key = (pending.channel.id, contact_id, pending.chat.index.clone());
            let conversation = match lookup.conversations.get(&chat_key) {
                Some(id) => *id,
                None => {
                    let key = lookup.key(core, contact)?;
                    let fresh = persist::new_conversation(pending.channel, contact_id, &pending.chat, key, now);
                    lookup.conversations.insert(chat_key, fresh.id);
                    plan.conversations.push(fresh.clone());
                    fresh.id
                }
            };
            let key = lookup.key(core, contact)?;
            let record = persist::inbound_record(pending.channel, m, contact_id, conversation, key, now);
            let job = JobRecord::new(tenant, JobKind::Respond, record.id.0, core.jobs.max_attempts, now);
            let at = m.sent_at.unwrap_or(now);
            match touched.get(&conversation) {
                Some(&i) => {
                    let touch = &mut plan.touches[i];
                    touch.latest = touch.latest.max(at);
                    touch.last = at;
                }
                None => {
                    touched.insert(conversation, plan.touches.len());
                    plan.touches.push(InboundTouch { conversation, latest: at, last: at });
                }
            }
            plan.outcomes.push(Outcome::Stored { message: record.id, contact_created, conversation, job: job.id });
            plan.messages.push(record);
            plan.jobs.push(job);
        }
        Ok(plan)
    }

    /// How many messages of the run, from its start, this plan settles.
    pub fn covered(&self) -> usize {
        self.outcomes.len()
    }

    /// Writes the planned rows; false (and nothing written) when a concurrent transaction
    /// stored one of them first, so the run must go the per-message way.
    pub async fn write(&mut self, tx: &mut dyn TenantTx) -> StoreResult<bool> {
        if self.messages.is_empty() {
            return Ok(true);
        }
        // One order for every transaction, so concurrent runs take row locks alike.
        self.contacts.sort_by(|a, b| (&a.bsuid_index, &a.phone_index).cmp(&(&b.bsuid_index, &b.phone_index)));
        self.conversations.sort_by(|a, b| (a.contact_id, &a.chat_index).cmp(&(b.contact_id, &b.chat_index)));
        self.messages.sort_by(|a, b| a.provider_message_id.cmp(&b.provider_message_id));
        self.touches.sort_by_key(|t| t.conversation);
        tx.savepoint().await?;
        let complete = tx.insert_contacts(&self.contacts).await? == self.contacts.len()
            && tx.insert_conversations(&self.conversations).await? == self.conversations.len()
            && tx.insert_messages(&self.messages).await?.len() == self.messages.len();
        if !complete {
            tx.rollback_to_savepoint().await?;
            tx.release_savepoint().await?;
            return Ok(false);
        }
        tx.touch_conversations_inbound(&self.touches).await?;
        tx.enqueue_jobs(&self.jobs).await?;
        tx.release_savepoint().await?;
        Ok(true)
    }

    /// Reports and audits the covered messages, in their order, after a successful write.
    pub fn record(self, run: &[Pending<'_>], reports: &mut [IngestReport], trail: &mut Vec<AuditEntry>) {
        for (pending, outcome) in run.iter().zip(self.outcomes) {
            let actor = persist::actor(pending.channel);
            let report = &mut reports[pending.webhook];
            match outcome {
                Outcome::Duplicate => {
                    report.duplicates += 1;
                    trail.push(persist::duplicate_entry(&actor, pending.channel, pending.message));
                }
                Outcome::Stored { message, contact_created, conversation, job } => {
                    report.stored += 1;
                    if let Some(contact) = contact_created {
                        trail.push(persist::contact_created_entry(&actor, contact));
                    }
                    trail.push(persist::received_entry(
                        &actor,
                        pending.channel,
                        pending.message,
                        message,
                        conversation,
                        job,
                    ));
                }
            }
        }
    }
}

/// What the store holds for a run's senders, read in a few statements, plus what the plan
/// adds while it goes.
struct Lookup<'r> {
    /// (channel, provider id) already stored or seen earlier in the run.
    seen: HashSet<(ChannelId, &'r str)>,
    contacts: Vec<KnownContact>,
    by_bsuid: HashMap<Vec<u8>, usize>,
    by_phone: HashMap<Vec<u8>, usize>,
    /// Open conversations by (channel, contact, chat index).
    conversations: HashMap<(ChannelId, ContactId, Vec<u8>), ConversationId>,
}

impl<'r> Lookup<'r> {
    async fn read(tx: &mut dyn TenantTx, run: &'r [Pending<'_>]) -> StoreResult<Self> {
        let mut channels: Vec<ChannelId> = run.iter().map(|p| p.channel.id).collect();
        channels.sort();
        channels.dedup();
        let mut seen = HashSet::new();
        for &channel in &channels {
            let ids: Vec<&str> = run
                .iter()
                .filter(|p| p.channel.id == channel)
                .map(|p| p.message.provider_message_id.as_str())
                .collect();
            let stored: HashSet<String> = tx.stored_provider_ids(channel, &ids).await?.into_iter().collect();
            seen.extend(ids.into_iter().filter(|id| stored.contains(*id)).map(|id| (channel, id)));
        }
        let bsuids: Vec<&[u8]> = run.iter().filter_map(|p| p.bsuid_index.as_deref()).collect();
        let phones: Vec<&[u8]> = run.iter().filter_map(|p| p.phone_index.as_deref()).collect();
        let found = tx.contacts_by_indexes(&bsuids, &phones).await?;
        let ids: Vec<ContactId> = found.iter().map(|c| c.id).collect();
        let mut conversations = HashMap::new();
        if !ids.is_empty() {
            for &channel in &channels {
                for open in tx.open_conversations_of(channel, &ids).await? {
                    conversations.insert((channel, open.contact_id, open.chat_index), open.id);
                }
            }
        }
        let mut lookup = Self {
            seen,
            contacts: Vec::with_capacity(run.len()),
            by_bsuid: HashMap::new(),
            by_phone: HashMap::new(),
            conversations,
        };
        for record in found {
            lookup.remember(KnownContact { record, key: None });
        }
        Ok(lookup)
    }

    fn remember(&mut self, contact: KnownContact) -> usize {
        let index = self.contacts.len();
        if let Some(ix) = &contact.record.bsuid_index {
            self.by_bsuid.insert(ix.clone(), index);
        }
        if let Some(ix) = &contact.record.phone_index {
            self.by_phone.insert(ix.clone(), index);
        }
        self.contacts.push(contact);
        index
    }

    /// The sender's contact, found like `contacts::resolve` finds it: BSUID first, then phone.
    fn contact_for(&self, pending: &Pending<'_>) -> Option<usize> {
        let by_bsuid = pending.bsuid_index.as_ref().and_then(|ix| self.by_bsuid.get(ix));
        by_bsuid.or_else(|| pending.phone_index.as_ref().and_then(|ix| self.by_phone.get(ix))).copied()
    }

    /// Whether the message reveals an identifier its contact lacks (the per-message path links it).
    fn needs_link(&self, pending: &Pending<'_>) -> bool {
        let Some(index) = self.contact_for(pending) else { return false };
        let record = &self.contacts[index].record;
        (record.bsuid_index.is_none() && pending.bsuid_index.is_some())
            || (record.phone_index.is_none() && pending.phone_index.is_some())
    }

    fn plan_contact(
        &mut self,
        core: &Core,
        pending: &Pending<'_>,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let indexes = (pending.bsuid_index.clone(), pending.phone_index.clone());
        let (record, key) = contacts::new_contact(&core.keys, tenant, &pending.message.from, indexes, now)?;
        Ok(self.remember(KnownContact { record, key: Some(key) }))
    }

    fn key(&mut self, core: &Core, index: usize) -> StoreResult<&DataKey> {
        let contact = &mut self.contacts[index];
        let key = match contact.key.take() {
            Some(key) => key,
            None => core.keys.vault.unwrap_key(&contact.record.wrapped_key)?,
        };
        Ok(contact.key.insert(key))
    }
}
