//! Builds Meta webhook payloads in the shapes Meta sends (2026: BSUIDs, optional phone),
//! and signs them as Meta does. Used by the demo, the tests and load drivers.
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// A customer as Meta describes them: a BSUID, and a phone number only when Meta shares it.
#[derive(Debug, Clone)]
pub struct FakeCustomer {
    pub bsuid: Option<String>,
    /// Digits only, as in `wa_id` (`6281234567890`).
    pub phone: Option<String>,
    pub name: String,
    pub username: Option<String>,
}

impl FakeCustomer {
    fn contact(&self) -> Value {
        let mut profile = json!({ "name": self.name });
        if let Some(u) = &self.username {
            profile["username"] = json!(u);
        }
        let mut contact = json!({ "profile": profile });
        if let Some(p) = &self.phone {
            contact["wa_id"] = json!(p);
        }
        if let Some(b) = &self.bsuid {
            contact["user_id"] = json!(b);
        }
        contact
    }

    /// One inbound text message from this customer.
    pub fn text(&self, wamid: &str, body: &str, timestamp: i64) -> Value {
        let mut message =
            json!({ "id": wamid, "timestamp": timestamp.to_string(), "type": "text", "text": { "body": body } });
        if let Some(p) = &self.phone {
            message["from"] = json!(p);
        }
        if let Some(b) = &self.bsuid {
            message["from_user_id"] = json!(b);
        }
        message
    }

    /// A tap on a reply button of an interactive message (`wamid` answers `to`).
    pub fn button_reply(&self, wamid: &str, id: &str, title: &str, to: &str, timestamp: i64) -> Value {
        let mut message = self.text(wamid, title, timestamp);
        message["type"] = json!("interactive");
        message["interactive"] = json!({ "type": "button_reply", "button_reply": { "id": id, "title": title } });
        message["context"] = json!({ "id": to });
        message.as_object_mut().map(|m| m.remove("text"));
        message
    }

    /// A tap on a template's quick-reply button: Meta sends its payload and title.
    pub fn template_button(&self, wamid: &str, payload: &str, title: &str, to: &str, timestamp: i64) -> Value {
        let mut message = self.text(wamid, title, timestamp);
        message["type"] = json!("button");
        message["button"] = json!({ "payload": payload, "text": title });
        message["context"] = json!({ "id": to });
        message.as_object_mut().map(|m| m.remove("text"));
        message
    }
}

/// One `messages` change for `phone_number_id` with the given customers, messages and statuses.
pub fn envelope(
    phone_number_id: &str,
    customers: &[&FakeCustomer],
    messages: Vec<Value>,
    statuses: Vec<Value>,
) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "6281100000000", "phone_number_id": phone_number_id },
    });
    if !customers.is_empty() {
        value["contacts"] = Value::Array(customers.iter().map(|c| c.contact()).collect());
    }
    if !messages.is_empty() {
        value["messages"] = Value::Array(messages);
    }
    if !statuses.is_empty() {
        value["statuses"] = Value::Array(statuses);
    }
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "changes": [{ "value": value, "field": "messages" }] }]
    })
}

/// A status update for a message we sent.
pub fn status(wamid: &str, status: &str, timestamp: i64) -> Value {
    json!({ "id": wamid, "status": status, "timestamp": timestamp.to_string() })
}

/// The `X-Hub-Signature-256` header value for `body`.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(app_secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(), // HMAC takes keys of any length
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_the_published_vector() {
        // HMAC-SHA256(key="secret", msg="test"), from the reference notes.
        assert_eq!(
            super::sign("secret", b"test"),
            "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
        );
    }
}
