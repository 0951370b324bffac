//! An owner message as a WhatsApp template: when the owner has not written to the business
//! number in the last 24 hours, Meta and Twilio refuse free text, so a new ticket's notice and its
//! reminder go as the approved template of their purpose, with the ticket's figures as
//! parameters. Without an approved template the message goes as text (and a refusal falls
//! back to e-mail, as before).
use chrono::{DateTime, Duration, Utc};

use super::Purpose;
use super::notify::customer_label;
use super::texts::OwnerTexts;
use crate::channels::templates::{self, TemplateMessage, TemplatePurpose};
use crate::crypto::DataKey;
use crate::domain::TenantId;
use crate::store::{
    ChannelRecord, ChannelTemplateRecord, ContactRecord, EscalationRecord, OwnerMessageRecord, OwnerRecord, Store,
    StoreResult, TenantTx,
};
use crate::usecase::UseCaseResult;

/// A template to send, and the row that made it the one to send.
pub struct OwnerTemplate {
    pub message: TemplateMessage,
    pub record: ChannelTemplateRecord,
}

/// The purposes every owner loop needs on a provider with a window.
pub const NEEDED: [TemplatePurpose; 2] = [TemplatePurpose::OwnerEscalation, TemplatePurpose::OwnerReminder];

/// A channel whose owner notices cannot go as a template: the purpose's template is missing,
/// or recorded but not approved (`pending`, `paused`, `disabled`, `missing`, `mismatched`).
#[derive(Debug, Clone)]
pub struct TemplateProblem {
    pub channel: ChannelRecord,
    pub purpose: TemplatePurpose,
    pub status: String,
}

/// Every needed template that is not approved in `language` on a channel with a window.
pub async fn template_problems(tx: &mut dyn TenantTx, language: &str) -> StoreResult<Vec<TemplateProblem>> {
    let mut problems = Vec::new();
    for channel in tx.channels().await? {
        if channel.provider == "fonnte" {
            continue;
        }
        let recorded = tx.channel_templates(channel.id).await?;
        for purpose in NEEDED {
            let row = recorded.iter().find(|r| r.purpose == purpose.as_str() && r.language == language);
            let status = row.map_or("missing", |r| r.status.as_str());
            if status != "approved" {
                problems.push(TemplateProblem { channel: channel.clone(), purpose, status: status.to_string() });
            }
        }
    }
    Ok(problems)
}

/// The tenant's template problems, for the dashboard's banner.
pub async fn problems_of(store: &dyn Store, tenant: TenantId) -> UseCaseResult<Vec<TemplateProblem>> {
    let mut tx = store.begin_read(tenant).await?;
    let language = tx.tenant().await?.map_or_else(|| "id".to_string(), |t| t.settings.language);
    let problems = template_problems(&mut *tx, &language).await?;
    tx.commit().await?;
    Ok(problems)
}

/// What a refusal of a template says about it (Meta's codes), as the status to record: the
/// template is not sent again until the operator records it approved again.
pub fn refused_status(class: &str) -> Option<&'static str> {
    match class {
        "meta_132015" => Some("paused"),
        "meta_132016" => Some("disabled"),
        "meta_132001" => Some("missing"),
        "meta_132000" | "meta_132012" | "twilio_63028" => Some("mismatched"),
        // Twilio: the content SID does not exist (or is not this account's).
        "twilio_21655" => Some("missing"),
        _ => None,
    }
}

/// WhatsApp's customer-service window: an owner is a WhatsApp user like any other.
const WINDOW: Duration = Duration::hours(24);

/// Whether free text reaches the owner now: they wrote in the last 24 hours and no refusal
/// since said otherwise.
pub fn window_open(owner: &OwnerRecord, now: DateTime<Utc>) -> bool {
    owner.window_closed_at.is_none() && owner.last_inbound_at.is_some_and(|at| now - at < WINDOW)
}

/// The template this message goes as, or `None` for text: only on Meta and Twilio (Fonnte has
/// no window), only for a notice or reminder about a ticket, only outside the owner's window,
/// and only with an approved template in the tenant's language.
pub async fn template_for(
    tx: &mut dyn TenantTx,
    message: &OwnerMessageRecord,
    owner: &OwnerRecord,
    channel: &ChannelRecord,
    customer: Option<(&ContactRecord, &DataKey)>,
    language: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<OwnerTemplate>> {
    if channel.provider == "fonnte" || window_open(owner, now) {
        return Ok(None);
    }
    let (Some(escalation), Some((contact, key))) = (message.escalation_id, customer) else { return Ok(None) };
    let Some(ticket) = tx.escalation(escalation).await? else { return Ok(None) };
    let texts = OwnerTexts::new(language);
    let purpose = match message.purpose {
        Purpose::Notice if ticket.draft_enc.is_some() => TemplatePurpose::OwnerEscalationDraft,
        Purpose::Notice => TemplatePurpose::OwnerEscalation,
        Purpose::Reminder => TemplatePurpose::OwnerReminder,
        _ => return Ok(None),
    };
    let recorded = tx.channel_templates(channel.id).await?;
    let approved = |p: TemplatePurpose| {
        recorded.iter().find(|r| r.purpose == p.as_str() && r.language == language && r.status == "approved")
    };
    // Without the draft variant, the plain notice serves (the suggestion waits in `#N 1`).
    let (purpose, record) = match approved(purpose) {
        Some(r) => (purpose, r),
        None if purpose == TemplatePurpose::OwnerEscalationDraft => match approved(TemplatePurpose::OwnerEscalation) {
            Some(r) => (TemplatePurpose::OwnerEscalation, r),
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    let label = customer_label(contact, key)?;
    let values: Vec<String> = match purpose {
        TemplatePurpose::OwnerReminder => {
            let waited = (now - ticket.opened_at).num_minutes().max(1);
            let waited = if language == "en" { format!("{waited} minutes") } else { format!("{waited} menit") };
            vec![ticket.number.to_string(), label, waited]
        }
        _ => {
            let summary = match key.decrypt_opt(ticket.summary_enc.as_deref())? {
                Some(summary) => summary,
                None => last_words(tx, &ticket, key).await?,
            };
            vec![ticket.number.to_string(), label, texts.reason(ticket.reason), summary]
        }
    };
    let limits = templates::template(purpose).limits;
    let parameters = values.iter().zip(limits).map(|(v, max)| templates::parameter(v, *max)).collect();
    let message =
        TemplateMessage { name: record.name.clone(), language: language.into(), parameters, payloads: vec![] };
    Ok(Some(OwnerTemplate { message, record: record.clone() }))
}

/// What the customer wrote that opened the ticket, when the ticket has no summary.
async fn last_words(tx: &mut dyn TenantTx, ticket: &EscalationRecord, key: &DataKey) -> StoreResult<String> {
    let Some(id) = ticket.trigger_message_id else { return Ok("-".into()) };
    let Some(message) = tx.message(id).await? else { return Ok("-".into()) };
    Ok(key.decrypt_opt(message.body_enc.as_deref())?.unwrap_or_else(|| "-".into()))
}
