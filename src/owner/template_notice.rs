//! An owner notice's shape on WhatsApp. Inside the owner's window a ticket's notice and reminder
//! carry reply buttons (Meta). Outside it Meta and Twilio refuse free text, so they go as the
//! approved template of their purpose, with the ticket's figures as parameters and signed
//! button payloads. Without an approved template the message goes as text (and a refusal falls
//! back to e-mail, as before).
use chrono::{DateTime, Duration, Utc};

use super::Purpose;
use super::buttons::{ButtonAction, Signer};
use super::notify::customer_label;
use super::texts::OwnerTexts;
use crate::channels::ReplyButton;
use crate::channels::templates::{self, TemplateMessage, TemplatePurpose};
use crate::crypto::DataKey;
use crate::domain::TenantId;
use crate::engine::assistant::month_start;
use crate::store::{
    ChannelRecord, ChannelTemplateRecord, ContactRecord, EscalationRecord, OwnerMessageRecord, OwnerRecord, Store,
    StoreResult, TenantRecord, TenantTx,
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

/// This month's templates (UTC calendar month, like the LLM budget) against the tenant's cap.
#[derive(Debug, Clone, Copy)]
pub struct TemplateCap {
    pub used: i64,
    /// 0: no cap.
    pub cap: i64,
}

impl TemplateCap {
    pub fn reached(&self) -> bool {
        self.cap > 0 && self.used >= self.cap
    }
}

/// The tenant's template use this month, read in `tx`.
pub async fn template_cap(
    tx: &mut dyn TenantTx,
    tenant: &TenantRecord,
    now: DateTime<Utc>,
) -> StoreResult<TemplateCap> {
    let cap = tenant.settings.monthly_template_cap;
    if cap == 0 {
        return Ok(TemplateCap { used: 0, cap });
    }
    Ok(TemplateCap { used: tx.template_sends_since(month_start(now)).await?, cap })
}

/// The tenant's template use this month, for the dashboard's banner.
pub async fn cap_of(store: &dyn Store, tenant: TenantId, now: DateTime<Utc>) -> UseCaseResult<TemplateCap> {
    let mut tx = store.begin_read(tenant).await?;
    let cap = match tx.tenant().await? {
        Some(record) => template_cap(&mut *tx, &record, now).await?,
        None => TemplateCap { used: 0, cap: 0 },
    };
    tx.commit().await?;
    Ok(cap)
}

/// The recorded template of `purpose` in `language` worth sending now (see `sendable`).
pub fn sendable_record<'a>(
    recorded: &'a [ChannelTemplateRecord],
    purpose: TemplatePurpose,
    language: &str,
    now: DateTime<Utc>,
) -> Option<&'a ChannelTemplateRecord> {
    recorded.iter().find(|r| r.purpose == purpose.as_str() && r.language == language && sendable(r, now))
}

/// The payloads of a template's buttons that name no ticket (Meta's; Twilio's are fixed in the content).
pub fn plain_payloads(purpose: TemplatePurpose, channel: &ChannelRecord) -> Vec<String> {
    if channel.provider != "meta" {
        return Vec::new();
    }
    templates::template(purpose).actions.iter().map(|a| a.to_string()).collect()
}

/// Meta lifts a quality pause after 3 hours (the first) or 6 (the second); a third disables.
const PAUSE: Duration = Duration::hours(3);

/// Whether a recorded template is worth sending now: approved, or paused long enough ago that
/// the pause may be over (tried again; a refusal pauses it again from now).
fn sendable(record: &ChannelTemplateRecord, now: DateTime<Utc>) -> bool {
    record.status == "approved" || (record.status == "paused" && now - record.updated_at >= PAUSE)
}

/// What a refusal of a template says about it (Meta's codes), as the status to record: a
/// paused template is tried again after the pause (`sendable`); any other is not sent again
/// until the operator records it approved again.
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

/// How an owner message goes on WhatsApp.
pub enum Shape {
    Text,
    /// Inside the owner's window on Meta: the text with the ticket's reply buttons.
    Buttons(Vec<ReplyButton>),
    /// Outside it: the approved template, its buttons signed like the interactive ones.
    Template(OwnerTemplate),
    /// Outside it, with the tenant's monthly template cap reached: e-mail instead.
    Capped,
}

/// The shape of this message: buttons or a template only on Meta and Twilio (Fonnte has no
/// window and no buttons), only for a notice or reminder about a ticket; a template only
/// outside the owner's window and only when approved in the tenant's language.
#[allow(clippy::too_many_arguments)]
pub async fn shape_for(
    tx: &mut dyn TenantTx,
    message: &OwnerMessageRecord,
    owner: &OwnerRecord,
    channel: &ChannelRecord,
    customer: Option<(&ContactRecord, &DataKey)>,
    tenant: &TenantRecord,
    signer: Signer<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Shape> {
    if channel.provider == "fonnte" {
        return Ok(Shape::Text);
    }
    if message.purpose == Purpose::Digest {
        return digest_shape(tx, message, owner, channel, tenant, now).await;
    }
    let language = tenant.settings.language.as_str();
    if let Some(button) = gap_button(message, owner, channel, language, signer, now) {
        return Ok(Shape::Buttons(vec![button]));
    }
    let (Some(escalation), Some((contact, key))) = (message.escalation_id, customer) else { return Ok(Shape::Text) };
    let Some(ticket) = tx.escalation(escalation).await? else { return Ok(Shape::Text) };
    let texts = OwnerTexts::new(language);
    let purpose = match message.purpose {
        Purpose::Notice if ticket.draft_enc.is_some() => TemplatePurpose::OwnerEscalationDraft,
        Purpose::Notice => TemplatePurpose::OwnerEscalation,
        Purpose::Reminder => TemplatePurpose::OwnerReminder,
        _ => return Ok(Shape::Text),
    };
    if window_open(owner, now) {
        // Twilio's buttons come only with approved content, whose text is shorter than the notice.
        return Ok(if channel.provider == "meta" {
            Shape::Buttons(signer.buttons(purpose, ticket.id, language))
        } else {
            Shape::Text
        });
    }
    let recorded = tx.channel_templates(channel.id).await?;
    let approved = |p: TemplatePurpose| sendable_record(&recorded, p, language, now);
    // Without the draft variant, the plain notice serves (the suggestion waits in `#N 1`).
    let (purpose, record) = match approved(purpose) {
        Some(r) => (purpose, r),
        None if purpose == TemplatePurpose::OwnerEscalationDraft => match approved(TemplatePurpose::OwnerEscalation) {
            Some(r) => (TemplatePurpose::OwnerEscalation, r),
            None => return Ok(Shape::Text),
        },
        None => return Ok(Shape::Text),
    };
    if template_cap(tx, tenant, now).await?.reached() {
        return Ok(Shape::Capped);
    }
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
    // Twilio's quick-reply ids are fixed in the approved content; Meta takes one payload per button.
    let payloads = if channel.provider == "meta" {
        signer.buttons(purpose, ticket.id, language).into_iter().map(|b| b.id).collect()
    } else {
        vec![]
    };
    let message = TemplateMessage { name: record.name.clone(), language: language.into(), parameters, payloads };
    Ok(Shape::Template(OwnerTemplate { message, record: record.clone() }))
}

/// "Jadikan FAQ" under a reply's confirmation, "Kirim ke semua" under a saved FAQ entry that
/// others wait on: interactive buttons, so Meta only, inside the window the owner just opened.
fn gap_button(
    message: &OwnerMessageRecord,
    owner: &OwnerRecord,
    channel: &ChannelRecord,
    language: &str,
    signer: Signer<'_>,
    now: DateTime<Utc>,
) -> Option<ReplyButton> {
    let (action, title) = match message.purpose {
        Purpose::Replied => (ButtonAction::Faq, "button_faq"),
        Purpose::FaqSaved => (ButtonAction::All, "button_all"),
        _ => return None,
    };
    let ticket = message.escalation_id.filter(|_| channel.provider == "meta" && window_open(owner, now))?;
    Some(ReplyButton { id: signer.sign(action, ticket), title: OwnerTexts::new(language).fill(title, &[]) })
}

/// The approved template of `purpose` for an owner outside their window, or the shape the
/// message takes instead: text (window open, Fonnte, none approved) or `Capped`.
async fn owner_template(
    tx: &mut dyn TenantTx,
    (owner, channel, tenant): (&OwnerRecord, &ChannelRecord, &TenantRecord),
    purpose: TemplatePurpose,
    now: DateTime<Utc>,
) -> StoreResult<Result<ChannelTemplateRecord, Shape>> {
    if channel.provider == "fonnte" || window_open(owner, now) {
        return Ok(Err(Shape::Text));
    }
    let recorded = tx.channel_templates(channel.id).await?;
    let Some(record) = sendable_record(&recorded, purpose, &tenant.settings.language, now) else {
        return Ok(Err(Shape::Text));
    };
    let record = record.clone();
    if template_cap(tx, tenant, now).await?.reached() {
        return Ok(Err(Shape::Capped));
    }
    Ok(Ok(record))
}

/// The digest outside the owner's window: its key figures as the approved template (its button
/// asks for the rest); the full text is held until the owner writes (`digest::hold_full_text`).
async fn digest_shape(
    tx: &mut dyn TenantTx,
    message: &OwnerMessageRecord,
    owner: &OwnerRecord,
    channel: &ChannelRecord,
    tenant: &TenantRecord,
    now: DateTime<Utc>,
) -> StoreResult<Shape> {
    const DIGEST: TemplatePurpose = TemplatePurpose::OwnerDigest;
    let record = match owner_template(tx, (owner, channel, tenant), DIGEST, now).await? {
        Ok(record) => record,
        Err(shape) => return Ok(shape),
    };
    let values = super::digest::template_figures(tx, tenant, message.created_at).await?;
    let limits = templates::template(DIGEST).limits;
    let parameters = values.iter().zip(limits).map(|(v, max)| templates::parameter(v, *max)).collect();
    // Any message from the owner releases the report: the payload only names the button.
    let payloads = plain_payloads(DIGEST, channel);
    let language = tenant.settings.language.clone();
    let message = TemplateMessage { name: record.name.clone(), language, parameters, payloads };
    Ok(Shape::Template(OwnerTemplate { message, record }))
}

/// An alert about the shop's setup outside the owner's window (a webhook endpoint switched off):
/// the approved alert template, with the alert's text as its one parameter.
pub async fn alert_shape(
    tx: &mut dyn TenantTx,
    about: (&OwnerRecord, &ChannelRecord, &TenantRecord),
    text: &str,
    now: DateTime<Utc>,
) -> StoreResult<Shape> {
    const ALERT: TemplatePurpose = TemplatePurpose::OwnerAlert;
    let record = match owner_template(tx, about, ALERT, now).await? {
        Ok(record) => record,
        Err(shape) => return Ok(shape),
    };
    let parameters = vec![templates::parameter(text, templates::template(ALERT).limits[0])];
    let language = about.2.settings.language.clone();
    let message = TemplateMessage { name: record.name.clone(), language, parameters, payloads: vec![] };
    Ok(Shape::Template(OwnerTemplate { message, record }))
}

/// What the customer wrote that opened the ticket, when the ticket has no summary.
async fn last_words(tx: &mut dyn TenantTx, ticket: &EscalationRecord, key: &DataKey) -> StoreResult<String> {
    let Some(id) = ticket.trigger_message_id else { return Ok("-".into()) };
    let Some(message) = tx.message(id).await? else { return Ok("-".into()) };
    Ok(key.decrypt_opt(message.body_enc.as_deref())?.unwrap_or_else(|| "-".into()))
}
