//! balas's own WhatsApp message templates: the only messages Meta and Twilio deliver outside
//! the 24-hour window. One per purpose, in Bahasa Indonesia and English, with example values,
//! and the requests that create them (Meta's Graph API, Twilio's Content API).
use serde_json::{Value, json};

/// What a template is sent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplatePurpose {
    /// A new ticket, for an owner whose window is closed.
    OwnerEscalation,
    /// The same with a "send the suggestion" button: buttons are fixed at approval.
    OwnerEscalationDraft,
    OwnerReminder,
    /// The daily digest's key figures; the full text follows when the owner replies.
    OwnerDigest,
    /// "The shop has answered you; reply to see it", for a customer whose window closed.
    CustomerFollowUp,
    /// An alert about the shop's setup (a webhook endpoint switched off), its text as the parameter.
    OwnerAlert,
}

impl TemplatePurpose {
    pub const ALL: [Self; 6] = [
        Self::OwnerEscalation,
        Self::OwnerEscalationDraft,
        Self::OwnerReminder,
        Self::OwnerDigest,
        Self::CustomerFollowUp,
        Self::OwnerAlert,
    ];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OwnerEscalation => "owner_escalation",
            Self::OwnerEscalationDraft => "owner_escalation_draft",
            Self::OwnerReminder => "owner_reminder",
            Self::OwnerDigest => "owner_digest",
            Self::CustomerFollowUp => "customer_follow_up",
            Self::OwnerAlert => "owner_alert",
        }
    }
}

/// One language of a template: positional placeholders `{{1}}`… so Meta and Twilio share it.
#[derive(Debug)]
pub struct Translation {
    /// Meta's and Twilio's language code.
    pub language: &'static str,
    pub body: &'static str,
    /// Quick-reply button titles, in order; their payloads are set when sending.
    pub buttons: &'static [&'static str],
    /// One example value per placeholder, for the reviewers.
    pub examples: &'static [&'static str],
}

/// The category every balas template is created in (Meta bills by category).
pub const CATEGORY: &str = "utility";

#[derive(Debug)]
pub struct Template {
    pub purpose: TemplatePurpose,
    /// The name it is created under: lower case, digits and `_`.
    pub name: &'static str,
    /// The longest value each placeholder takes, in characters (a summary is cut to fit).
    pub limits: &'static [usize],
    /// What each quick-reply button does, in order: Twilio's fixed action id, and the action a
    /// signed Meta payload names.
    pub actions: &'static [&'static str],
    pub translations: [Translation; 2],
}

impl Template {
    pub fn translation(&self, language: &str) -> &Translation {
        self.translations.iter().find(|t| t.language == language).unwrap_or(&self.translations[0])
    }

    /// The body of `POST /{WABA-ID}/message_templates`.
    pub fn meta_create_request(&self, t: &Translation) -> Value {
        let mut components = vec![json!({
            "type": "BODY",
            "text": t.body,
            "example": { "body_text": [t.examples] },
        })];
        if !t.buttons.is_empty() {
            let buttons: Vec<Value> = t.buttons.iter().map(|b| json!({ "type": "QUICK_REPLY", "text": b })).collect();
            components.push(json!({ "type": "BUTTONS", "buttons": buttons }));
        }
        json!({
            "name": self.name,
            "language": t.language,
            "category": "UTILITY",
            "parameter_format": "POSITIONAL",
            "components": components,
        })
    }

    /// The body of `POST https://content.twilio.com/v1/Content`.
    pub fn twilio_content_request(&self, t: &Translation) -> Value {
        let variables: serde_json::Map<String, Value> =
            t.examples.iter().enumerate().map(|(i, e)| ((i + 1).to_string(), json!(e))).collect();
        let kind = if t.buttons.is_empty() {
            json!({ "twilio/text": { "body": t.body } })
        } else {
            let actions: Vec<Value> =
                t.buttons.iter().zip(self.actions).map(|(b, id)| json!({ "title": b, "id": id })).collect();
            json!({ "twilio/quick-reply": { "body": t.body, "actions": actions } })
        };
        json!({
            "friendly_name": format!("{}_{}", self.name, t.language),
            "language": t.language,
            "variables": variables,
            "types": kind,
        })
    }

    /// The body of `POST …/Content/{HX}/ApprovalRequests/whatsapp`.
    pub fn twilio_approval_request(&self, t: &Translation) -> Value {
        json!({ "name": format!("{}_{}", self.name, t.language), "category": "UTILITY" })
    }
}

/// Every template balas ships.
pub fn catalogue() -> &'static [Template] {
    &CATALOGUE
}

pub fn template(purpose: TemplatePurpose) -> &'static Template {
    let index = match purpose {
        TemplatePurpose::OwnerEscalation => 0,
        TemplatePurpose::OwnerEscalationDraft => 1,
        TemplatePurpose::OwnerReminder => 2,
        TemplatePurpose::OwnerDigest => 3,
        TemplatePurpose::CustomerFollowUp => 4,
        TemplatePurpose::OwnerAlert => 5,
    };
    &CATALOGUE[index]
}

/// A value as a parameter may hold it: no newline or tab, no run of spaces, at most `max`
/// characters (cut with "…"). Mask it before, as the free-form text is masked.
pub fn parameter(value: &str, max: usize) -> String {
    let flat = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = if flat.is_empty() { "-".to_string() } else { flat };
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// The status balas records for one of Meta's template events (`message_template_status_update`);
/// `None` for an event that changes nothing balas sends (a quality flag, a category change).
pub fn status_of_event(event: &str) -> Option<&'static str> {
    Some(match event.to_ascii_uppercase().as_str() {
        "APPROVED" | "REINSTATED" | "UNPAUSED" => "approved",
        "PENDING" | "IN_APPEAL" => "pending",
        "PAUSED" => "paused",
        "DISABLED" => "disabled",
        "REJECTED" => "rejected",
        "PENDING_DELETION" | "DELETED" | "ARCHIVED" => "missing",
        _ => return None,
    })
}

/// A template to send: which one, in which language, its parameters and button payloads.
#[derive(Debug, Clone)]
pub struct TemplateMessage {
    pub name: String,
    pub language: String,
    pub parameters: Vec<String>,
    /// One per quick-reply button, in order; comes back as the tap's payload.
    pub payloads: Vec<String>,
}

impl TemplateMessage {
    /// The `template` object of a Graph API message.
    pub fn meta_template(&self) -> Value {
        let body: Vec<Value> = self.parameters.iter().map(|p| json!({ "type": "text", "text": p })).collect();
        let mut components = vec![json!({ "type": "body", "parameters": body })];
        components.extend(self.payloads.iter().enumerate().map(|(i, payload)| {
            json!({
                "type": "button",
                "sub_type": "quick_reply",
                "index": i.to_string(),
                "parameters": [{ "type": "payload", "payload": payload }],
            })
        }));
        json!({ "name": self.name, "language": { "code": self.language }, "components": components })
    }

    /// Twilio's `ContentVariables`: a JSON string of numbered string keys.
    pub fn twilio_variables(&self) -> String {
        let map: serde_json::Map<String, Value> =
            self.parameters.iter().enumerate().map(|(i, p)| ((i + 1).to_string(), json!(p))).collect();
        Value::Object(map).to_string()
    }
}

static CATALOGUE: [Template; 6] = [
    Template {
        purpose: TemplatePurpose::OwnerEscalation,
        name: "balas_owner_escalation_v1",
        limits: &[10, 40, 60, 300],
        actions: &["take", "done"],
        translations: [
            Translation {
                language: "id",
                body: "Tiket #{{1}}: pelanggan {{2}} perlu dibantu ({{3}}).\nRingkasan: {{4}}\nUntuk menjawab, balas dengan # dan nomor tiket lalu jawaban Anda, atau buka dashboard.",
                buttons: &["Ambil alih", "Selesai"],
                examples: &[
                    "12",
                    "Kak Rina",
                    "minta bicara dengan orang",
                    "Menanyakan pesanan kue ulang tahun untuk besok.",
                ],
            },
            Translation {
                language: "en",
                body: "Ticket #{{1}}: customer {{2}} needs help ({{3}}).\nSummary: {{4}}\nTo answer, reply with # and the ticket number, then your answer, or open the dashboard.",
                buttons: &["Take over", "Resolve"],
                examples: &["12", "Rina", "asked for a person", "Asks about a birthday cake order for tomorrow."],
            },
        ],
    },
    Template {
        purpose: TemplatePurpose::OwnerEscalationDraft,
        name: "balas_owner_escalation_draft_v1",
        limits: &[10, 40, 60, 300],
        actions: &["take", "draft", "done"],
        translations: [
            Translation {
                language: "id",
                body: "Tiket #{{1}}: pelanggan {{2}} perlu dibantu ({{3}}).\nRingkasan: {{4}}\nAda saran jawaban yang sudah diperiksa: kirim dengan # dan nomor tiket lalu 1, atau buka dashboard.",
                buttons: &["Ambil alih", "Kirim saran", "Selesai"],
                examples: &["12", "Kak Rina", "bot kurang yakin", "Menanyakan ongkir ke Bekasi."],
            },
            Translation {
                language: "en",
                body: "Ticket #{{1}}: customer {{2}} needs help ({{3}}).\nSummary: {{4}}\nA checked suggested reply is ready: send it with # and the ticket number, then 1, or open the dashboard.",
                buttons: &["Take over", "Send suggestion", "Resolve"],
                examples: &["12", "Rina", "the bot was unsure", "Asks about delivery to Bekasi."],
            },
        ],
    },
    Template {
        purpose: TemplatePurpose::OwnerReminder,
        name: "balas_owner_reminder_v1",
        limits: &[10, 40, 40],
        actions: &["take"],
        translations: [
            Translation {
                language: "id",
                body: "Pengingat: tiket #{{1}} dari {{2}} belum dijawab sejak {{3}} lalu.\nUntuk menjawab, balas dengan # dan nomor tiket lalu jawaban Anda.",
                buttons: &["Ambil alih"],
                examples: &["12", "Kak Rina", "120 menit"],
            },
            Translation {
                language: "en",
                body: "Reminder: ticket #{{1}} from {{2}} has had no answer for {{3}}.\nTo answer, reply with # and the ticket number, then your answer.",
                buttons: &["Take over"],
                examples: &["12", "Rina", "120 minutes"],
            },
        ],
    },
    Template {
        purpose: TemplatePurpose::OwnerDigest,
        name: "balas_owner_digest_v1",
        limits: &[20, 10, 10, 10],
        actions: &["report"],
        translations: [
            Translation {
                language: "id",
                body: "Ringkasan {{1}}: {{2}} percakapan, {{3}} tiket terbuka, {{4}} belum terjawab.\nBalas pesan ini untuk laporan lengkapnya.",
                buttons: &["Lihat laporan"],
                examples: &["Senin, 7 Des", "34", "3", "1"],
            },
            Translation {
                language: "en",
                body: "Summary for {{1}}: {{2}} conversations, {{3}} open tickets, {{4}} unanswered.\nReply to this message for the full report.",
                buttons: &["See report"],
                examples: &["Monday, 7 Dec", "34", "3", "1"],
            },
        ],
    },
    Template {
        purpose: TemplatePurpose::CustomerFollowUp,
        name: "balas_customer_follow_up_v1",
        limits: &[60],
        actions: &["see"],
        translations: [
            Translation {
                language: "id",
                body: "Halo, {{1}} sudah menjawab pesan Anda.\nBalas pesan ini untuk membacanya.",
                buttons: &["Lihat jawaban"],
                examples: &["Toko Kue Bu Ani"],
            },
            Translation {
                language: "en",
                body: "Hello, {{1}} has answered your message.\nReply to this message to read it.",
                buttons: &["See the answer"],
                examples: &["Bu Ani's Cake Shop"],
            },
        ],
    },
    Template {
        purpose: TemplatePurpose::OwnerAlert,
        name: "balas_owner_alert_v1",
        limits: &[600],
        actions: &[],
        translations: [
            Translation {
                language: "id",
                body: "Pemberitahuan dari balas tentang toko Anda:\n{{1}}\nBalas pesan ini bila ada pertanyaan.",
                buttons: &[],
                examples: &["Webhook ke n8n.tokokue.id dimatikan: server itu gagal menerima kiriman selama 5 hari."],
            },
            Translation {
                language: "en",
                body: "A notice from balas about your shop:\n{{1}}\nReply to this message if you have a question.",
                buttons: &[],
                examples: &["The webhook to n8n.example.com is switched off: that server has failed for 5 days."],
            },
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(body: &str) -> Vec<usize> {
        body.split("{{").skip(1).filter_map(|p| p.split_once("}}")).filter_map(|(n, _)| n.parse().ok()).collect()
    }

    #[test]
    fn every_template_keeps_meta_and_twilio_rules() {
        assert_eq!(catalogue().len(), TemplatePurpose::ALL.len());
        for purpose in TemplatePurpose::ALL {
            let t = template(purpose);
            assert_eq!(t.purpose, purpose);
            assert!(t.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{}", t.name);
            for tr in &t.translations {
                let numbers = placeholders(tr.body);
                // Numbered in order, one example and one limit each.
                assert_eq!(numbers, (1..=numbers.len()).collect::<Vec<_>>(), "{} {}", t.name, tr.language);
                assert_eq!(tr.examples.len(), numbers.len(), "{} {}", t.name, tr.language);
                assert_eq!(t.limits.len(), numbers.len(), "{}", t.name);
                // Not approved: a body that starts or ends with a placeholder, or two side by side.
                assert!(!tr.body.starts_with("{{") && !tr.body.ends_with("}}"), "{}", t.name);
                assert!(!tr.body.contains("}}{{") && !tr.body.contains("}} {{"), "{}", t.name);
                assert!(tr.body.chars().count() <= 1024);
                assert!(tr.buttons.len() <= 3 && tr.buttons.iter().all(|b| b.chars().count() <= 20), "{}", t.name);
            }
            assert_eq!(t.translations[0].buttons.len(), t.translations[1].buttons.len(), "{}", t.name);
            assert_eq!(t.actions.len(), t.translations[0].buttons.len(), "{}", t.name);
        }
    }

    #[test]
    fn a_parameter_is_one_line_without_long_spaces_and_capped() {
        assert_eq!(parameter("Mau tanya\n\tongkir     ke Bekasi", 100), "Mau tanya ongkir ke Bekasi");
        assert_eq!(parameter("abcdefghij", 5), "abcd…");
        assert_eq!(parameter("  \n ", 5), "-");
    }

    #[test]
    fn requests_have_the_providers_shapes() {
        let t = template(TemplatePurpose::OwnerEscalationDraft);
        let meta = t.meta_create_request(t.translation("id"));
        assert_eq!(meta["parameter_format"], "POSITIONAL");
        assert_eq!(meta["components"][0]["example"]["body_text"][0].as_array().map(Vec::len), Some(4));
        assert_eq!(meta["components"][1]["buttons"][1]["text"], "Kirim saran");
        let twilio = t.twilio_content_request(t.translation("en"));
        assert_eq!(twilio["variables"]["4"], "Asks about delivery to Bekasi.");
        assert_eq!(twilio["types"]["twilio/quick-reply"]["actions"].as_array().map(Vec::len), Some(3));
        assert_eq!(twilio["types"]["twilio/quick-reply"]["actions"][1]["id"], "draft");
        let message = TemplateMessage {
            name: t.name.into(),
            language: "id".into(),
            parameters: vec!["12".into(), "Kak [NAME_1]".into()],
            payloads: vec!["take:abc".into()],
        };
        let sent = message.meta_template();
        assert_eq!(sent["components"][1]["parameters"][0]["payload"], "take:abc");
        assert_eq!(sent["components"][1]["index"], "0");
        assert_eq!(message.twilio_variables(), r#"{"1":"12","2":"Kak [NAME_1]"}"#);
    }
}
