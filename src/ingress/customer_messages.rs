//! The ingest rules for customer messages, written once: drop a provider retry, find or
//! create the contact (linking what the message newly reveals), find or open the
//! conversation of its chat, store the message under the contact's key, queue its reply.
//!
//! A run of messages in one shared transaction is planned in memory, in order, then written
//! with a fixed number of statements (PostgreSQL spent most of its ingest time on ten small
//! statements per message). A message alone is a plan of one. A plan stops before a message
//! that links an identifier (unless it is the plan's first) and gives way to plans of one
//! when a concurrent transaction wrote one of its rows first.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::AuditEntry;
use crate::chats::Chat;
use crate::contacts;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{
    Author, ChannelId, ContactId, ConversationId, ConversationState, Direction, InboundMessage, JobId, MessageId,
    TenantId,
};
use crate::jobs::JobKind;
use crate::store::{
    ChannelRecord, ContactRecord, ConversationRecord, IdentityLink, InboundTouch, JobRecord, MessageRecord,
    OwnerRecord, StoreError, StoreResult, TenantTx,
};

/// What one webhook changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    pub stored: usize,
    pub duplicates: usize,
    pub statuses: usize,
    pub unmatched_statuses: usize,
    pub identity_changes: usize,
}

/// How many customer messages went in shared plans, and how many in plans of one.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ways {
    pub planned: usize,
    pub alone: usize,
}

impl std::ops::AddAssign for Ways {
    fn add_assign(&mut self, other: Self) {
        self.planned += other.planned;
        self.alone += other.alone;
    }
}

/// A plan of one that meets concurrent writers this often in a row is a broken invariant.
const ALONE_ATTEMPTS: usize = 5;

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

    /// The owner who sent it, if one did: BSUID first, then phone.
    pub fn sent_by<'o>(&self, owners: &'o [OwnerRecord]) -> Option<&'o OwnerRecord> {
        let matches = |stored: &Option<Vec<u8>>, ours: &Option<Vec<u8>>| ours.is_some() && stored == ours;
        owners
            .iter()
            .find(|o| matches(&o.bsuid_index, &self.bsuid_index))
            .or_else(|| owners.iter().find(|o| matches(&o.phone_index, &self.phone_index)))
    }
}

/// Stores a run of customer messages: shared plans where several go together, plans of one
/// around a message that links an identifier and after a concurrent write.
pub async fn store_run(
    core: &Core,
    tx: &mut dyn TenantTx,
    run: &[Pending<'_>],
    now: DateTime<Utc>,
    reports: &mut [IngestReport],
    trail: &mut Vec<AuditEntry>,
) -> StoreResult<Ways> {
    let mut ways = Ways::default();
    let mut rest = run;
    while !rest.is_empty() {
        // A shared plan pays for itself over several messages only.
        if let [single] = rest {
            store_alone(core, tx, single, now, reports, trail).await?;
            ways.alone += 1;
            break;
        }
        let mut plan = Plan::build(core, tx, rest, now).await?;
        let covered = plan.covered();
        if plan.write(tx).await? {
            plan.record(rest, reports, trail);
            ways.planned += covered;
        } else {
            tracing::debug!(
                messages = covered,
                "a concurrent transaction wrote first; storing the run message by message"
            );
            for pending in &rest[..covered] {
                store_alone(core, tx, pending, now, reports, trail).await?;
                ways.alone += 1;
            }
        }
        // The plan stopped before a message that links an identifier: that one goes alone.
        let Some(next) = rest.get(covered) else { break };
        store_alone(core, tx, next, now, reports, trail).await?;
        ways.alone += 1;
        rest = &rest[covered + 1..];
    }
    Ok(ways)
}

/// A plan of one, planned again after a concurrent writer, whose rows are visible by then.
async fn store_alone(
    core: &Core,
    tx: &mut dyn TenantTx,
    pending: &Pending<'_>,
    now: DateTime<Utc>,
    reports: &mut [IngestReport],
    trail: &mut Vec<AuditEntry>,
) -> StoreResult<()> {
    let single = std::slice::from_ref(pending);
    for _ in 0..ALONE_ATTEMPTS {
        let mut plan = Plan::build(core, tx, single, now).await?;
        if plan.write(tx).await? {
            plan.record(single, reports, trail);
            return Ok(());
        }
    }
    Err(StoreError::Invariant("a customer message met a concurrent writer on every attempt".into()))
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
struct Plan {
    outcomes: Vec<Outcome>,
    links: Vec<(ContactId, IdentityLink)>,
    contacts: Vec<ContactRecord>,
    conversations: Vec<ConversationRecord>,
    messages: Vec<MessageRecord>,
    jobs: Vec<JobRecord>,
    touches: Vec<InboundTouch>,
}

impl Plan {
    /// Plans `run` from its start up to the first message that must start a plan of its own.
    async fn build(core: &Core, tx: &mut dyn TenantTx, run: &[Pending<'_>], now: DateTime<Utc>) -> StoreResult<Self> {
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
                Some(index) if lookup.needs_link(pending) => {
                    if !plan.outcomes.is_empty() {
                        break;
                    }
                    plan.links.push(lookup.link(core, index, pending, now)?);
                    (index, None)
                }
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
                    let fresh = new_conversation(pending.channel, contact_id, &pending.chat, key, now);
                    lookup.conversations.insert(chat_key, fresh.id);
                    plan.conversations.push(fresh.clone());
                    fresh.id
                }
            };
            let key = lookup.key(core, contact)?;
            let record = inbound_record(pending.channel, m, contact_id, conversation, key, now);
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
            if m.meta.media_ref.is_some() {
                // Fetched at once: Meta's links expire in minutes and its media ids in 7 days.
                plan.jobs.push(JobRecord::new(tenant, JobKind::MediaFetch, record.id.0, core.jobs.max_attempts, now));
            }
            plan.messages.push(record);
            plan.jobs.push(job);
        }
        Ok(plan)
    }

    /// How many messages of the run, from its start, this plan settles.
    fn covered(&self) -> usize {
        self.outcomes.len()
    }

    /// Writes the planned rows; false (and nothing written) when a concurrent transaction
    /// stored one of them first, so the messages must be planned again.
    async fn write(&mut self, tx: &mut dyn TenantTx) -> StoreResult<bool> {
        if self.messages.is_empty() {
            return Ok(true);
        }
        // One order for every transaction, so concurrent runs take row locks alike.
        self.contacts.sort_by(|a, b| (&a.bsuid_index, &a.phone_index).cmp(&(&b.bsuid_index, &b.phone_index)));
        self.conversations.sort_by(|a, b| (a.contact_id, &a.chat_index).cmp(&(b.contact_id, &b.chat_index)));
        self.messages.sort_by(|a, b| a.provider_message_id.cmp(&b.provider_message_id));
        self.touches.sort_by_key(|t| t.conversation);
        tx.savepoint().await?;
        for (contact, link) in &self.links {
            tx.link_contact_identity(*contact, link).await?;
        }
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
    fn record(self, run: &[Pending<'_>], reports: &mut [IngestReport], trail: &mut Vec<AuditEntry>) {
        for (pending, outcome) in run.iter().zip(self.outcomes) {
            let actor = actor(pending.channel);
            let report = &mut reports[pending.webhook];
            match outcome {
                Outcome::Duplicate => {
                    report.duplicates += 1;
                    trail.push(duplicate_entry(&actor, pending.channel, pending.message));
                }
                Outcome::Stored { message, contact_created, conversation, job } => {
                    report.stored += 1;
                    if let Some(contact) = contact_created {
                        trail.push(AuditEntry::new(&actor, "contact.created", "contact", Some(contact.to_string())));
                    }
                    let detail = json!({
                        "channel": pending.channel.id, "conversation": conversation,
                        "kind": pending.message.kind.as_str(), "job": job,
                    });
                    trail.push(
                        AuditEntry::new(&actor, "message.received", "message", Some(message.to_string()))
                            .detail(detail),
                    );
                }
            }
        }
    }
}

/// The audit actor of what a provider's webhook did.
pub fn actor(channel: &ChannelRecord) -> String {
    format!("provider:{}", channel.provider)
}

pub fn duplicate_entry(actor: &str, channel: &ChannelRecord, m: &InboundMessage) -> AuditEntry {
    AuditEntry::new(actor, "message.duplicate_ignored", "channel", Some(channel.id.to_string()))
        .detail(json!({ "provider_message_id": m.provider_message_id }))
}

/// A customer's new conversation in one chat, answered by the bot; `key` is the contact's.
fn new_conversation(
    channel: &ChannelRecord,
    contact: ContactId,
    chat: &Chat,
    key: &DataKey,
    now: DateTime<Utc>,
) -> ConversationRecord {
    ConversationRecord {
        id: ConversationId::new(),
        tenant_id: channel.tenant_id,
        channel_id: channel.id,
        contact_id: contact,
        state: ConversationState::Bot,
        escalation_reason: None,
        last_inbound_at: None,
        window_closed_at: None,
        created_at: now,
        updated_at: now,
        chat_index: chat.index.clone(),
        chat_enc: chat.seal(key),
    }
}

/// A customer's message as stored: text and metadata under the contact's own key.
fn inbound_record(
    channel: &ChannelRecord,
    m: &InboundMessage,
    contact: ContactId,
    conversation: ConversationId,
    key: &DataKey,
    now: DateTime<Utc>,
) -> MessageRecord {
    MessageRecord {
        id: MessageId::new(),
        tenant_id: channel.tenant_id,
        channel_id: channel.id,
        conversation_id: conversation,
        contact_id: contact,
        direction: Direction::In,
        author: Author::Customer,
        kind: m.kind,
        body_enc: key.encrypt_opt(m.body.as_deref()),
        meta_enc: contacts::seal_meta(&m.meta, key),
        provider_message_id: Some(m.provider_message_id.clone()),
        reply_to: None,
        part: 0,
        status: "received".into(),
        status_rank: 0,
        error_code: None,
        sent_at: m.sent_at,
        created_at: now,
        updated_at: now,
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
        self.index(index, &contact.record);
        self.contacts.push(contact);
        index
    }

    /// An index another contact holds stays theirs: the store refuses the link too.
    fn index(&mut self, at: usize, record: &ContactRecord) {
        if let Some(ix) = &record.bsuid_index {
            self.by_bsuid.entry(ix.clone()).or_insert(at);
        }
        if let Some(ix) = &record.phone_index {
            self.by_phone.entry(ix.clone()).or_insert(at);
        }
    }

    /// The sender's contact: BSUID first, then phone.
    fn contact_for(&self, pending: &Pending<'_>) -> Option<usize> {
        let by_bsuid = pending.bsuid_index.as_ref().and_then(|ix| self.by_bsuid.get(ix));
        by_bsuid.or_else(|| pending.phone_index.as_ref().and_then(|ix| self.by_phone.get(ix))).copied()
    }

    /// Whether the message reveals an identifier its contact lacks.
    fn needs_link(&self, pending: &Pending<'_>) -> bool {
        let Some(index) = self.contact_for(pending) else { return false };
        let record = &self.contacts[index].record;
        (record.bsuid_index.is_none() && pending.bsuid_index.is_some())
            || (record.phone_index.is_none() && pending.phone_index.is_some())
    }

    /// Links what the message reveals to the contact, here and (returned) in the store.
    fn link(
        &mut self,
        core: &Core,
        index: usize,
        pending: &Pending<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<(ContactId, IdentityLink)> {
        let indexes = (&pending.bsuid_index, &pending.phone_index);
        self.key(core, index)?;
        let KnownContact { record, key: Some(key) } = &self.contacts[index] else {
            return Err(StoreError::Invariant("a contact's key was not opened".into()));
        };
        let link = contacts::identity_link(record, &pending.message.from, indexes, key, now)
            .ok_or_else(|| StoreError::Invariant("a contact to link had nothing to link".into()))?;
        let record = &mut self.contacts[index].record;
        record.bsuid_index = record.bsuid_index.take().or_else(|| pending.bsuid_index.clone());
        record.phone_index = record.phone_index.take().or_else(|| pending.phone_index.clone());
        let updated = record.clone();
        self.index(index, &updated);
        Ok((updated.id, link))
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
