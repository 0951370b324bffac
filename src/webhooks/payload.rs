//! The body a delivery sends: its stored payload plus what is read when it is sent, so nothing
//! personal is stored for it: the customer's masked label always, and for an endpoint created
//! with `include_content` their phone number and the message text. A customer erased since the
//! event is sent without either.
use serde_json::{Value, json};
use uuid::Uuid;

use crate::core::Core;
use crate::domain::{ContactId, ConversationId, DsarId, EscalationId, MessageId, Phone};
use crate::owner::notify::customer_label;
use crate::store::{StoreResult, TenantTx, WebhookDeliveryRecord};

/// The body to sign and send, and whether it carries content.
pub async fn render(
    core: &Core,
    tx: &mut dyn TenantTx,
    delivery: &WebhookDeliveryRecord,
    include_content: bool,
) -> StoreResult<(Vec<u8>, bool)> {
    let mut body: Value = serde_json::from_str(&delivery.payload)
        .map_err(|_| crate::store::StoreError::Invariant("a stored webhook payload is not JSON".into()))?;
    let Some(data) = body.get_mut("data").and_then(Value::as_object_mut) else {
        return Ok((delivery.payload.clone().into_bytes(), false));
    };
    let id = |key: &str| data.get(key).and_then(Value::as_str).and_then(|s| s.parse::<Uuid>().ok());
    let mut text = None;
    let contact = if let Some(message) = id("message_id") {
        match tx.message(MessageId(message)).await? {
            Some(m) => {
                data.entry("conversation_id").or_insert(json!(m.conversation_id));
                text = Some(m.body_enc.clone());
                Some(m.contact_id)
            }
            None => None,
        }
    } else if let Some(conversation) = id("conversation_id") {
        tx.conversation(ConversationId(conversation)).await?.map(|c| c.contact_id)
    } else if let Some(ticket) = id("ticket_id") {
        tx.escalation(EscalationId(ticket)).await?.map(|t| t.contact_id)
    } else if let Some(request) = id("request_id") {
        tx.dsar(DsarId(request)).await?.and_then(|r| r.contact_id)
    } else {
        None
    };
    let Some(contact) = contact_of(tx, contact).await? else {
        return Ok((body.to_string().into_bytes(), false));
    };
    let key = core.keys.vault.unwrap_key(&contact.wrapped_key)?;
    data.insert("customer".into(), json!(customer_label(&contact, &key)?));
    if !include_content {
        return Ok((body.to_string().into_bytes(), false));
    }
    let phone = key.decrypt_opt(contact.phone_enc.as_deref())?.and_then(|p| Phone::parse(&p).ok());
    data.insert("customer_phone".into(), json!(phone.as_ref().map(Phone::expose)));
    if let Some(body_enc) = text {
        data.insert("text".into(), json!(key.decrypt_opt(body_enc.as_deref())?));
    }
    Ok((body.to_string().into_bytes(), true))
}

async fn contact_of(
    tx: &mut dyn TenantTx,
    contact: Option<ContactId>,
) -> StoreResult<Option<crate::store::ContactRecord>> {
    match contact {
        Some(id) => tx.contact(id).await,
        None => Ok(None),
    }
}
