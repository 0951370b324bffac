//! balas's WhatsApp templates against the fake Graph API, which answers template sends as Meta
//! does: only an approved template with the right parameters goes out, and it passes a closed
//! window that refuses free-form text. The owner loop sending them is not built yet ([5/10]).
use balas::channels::meta::{MetaClient, MetaSecrets};
use balas::channels::templates::{self, TemplateMessage, TemplatePurpose};
use balas::channels::{Recipient, SendError};
use balas::domain::Phone;
use balas::fakes::providers::{FakeProviders, TemplateStatus};
use secrecy::SecretString;

const OWNER: &str = "6281100000009";
const PHONE_NUMBER_ID: &str = "106540352242922";

fn secrets() -> MetaSecrets {
    MetaSecrets {
        app_secret: SecretString::from("app-secret"),
        access_token: SecretString::from("token"),
        verify_token: SecretString::from("verify"),
    }
}

fn escalation(parameters: &[&str]) -> TemplateMessage {
    let t = templates::template(TemplatePurpose::OwnerEscalation);
    TemplateMessage {
        name: t.name.into(),
        language: "id".into(),
        parameters: parameters.iter().zip(t.limits).map(|(p, max)| templates::parameter(p, *max)).collect(),
        payloads: vec!["take".into(), "resolve".into()],
    }
}

#[tokio::test]
async fn an_approved_template_passes_a_closed_window_and_anything_else_is_refused_with_metas_code() {
    let fake = FakeProviders::start().await.unwrap();
    balas::crypto::install_crypto_provider();
    let client = MetaClient::new(reqwest::Client::new(), &fake.meta_url);
    let owner = Recipient::Phone(Phone::parse(OWNER).unwrap());
    fake.refuse_recipient(OWNER, 131047);
    let name = templates::template(TemplatePurpose::OwnerEscalation).name;
    let message = escalation(&["12", "Kak [NAME_1]", "minta bicara dengan orang", "Mau komplain\npesanan   kue"]);

    // Free-form text to a closed window is refused; a template not in the account is too.
    let text = client.send_text(&secrets(), PHONE_NUMBER_ID, &owner, "Tiket #12").await;
    assert!(matches!(text, Err(SendError::WindowClosed)), "{text:?}");
    let missing = client.send_template(&secrets(), PHONE_NUMBER_ID, &owner, &message).await;
    assert!(matches!(&missing, Err(SendError::Rejected(c)) if c == "meta_132001"), "{missing:?}");

    fake.set_template(name, "id", 4, TemplateStatus::Approved);
    let sent = client.send_template(&secrets(), PHONE_NUMBER_ID, &owner, &message).await;
    assert!(sent.as_deref().is_ok_and(|id| id.starts_with("wamid.")), "{sent:?}");
    let request = fake.received().pop().unwrap();
    assert_eq!(request.body["type"], "template");
    assert_eq!(request.body["to"], OWNER);
    let body = &request.body["template"]["components"][0]["parameters"];
    assert_eq!(body[3]["text"], "Mau komplain pesanan kue", "a parameter holds no newline or run of spaces");
    assert_eq!(request.body["template"]["components"][2]["parameters"][0]["payload"], "resolve");

    let short = escalation(&["12", "Kak [NAME_1]"]);
    let mismatch = client.send_template(&secrets(), PHONE_NUMBER_ID, &owner, &short).await;
    assert!(matches!(&mismatch, Err(SendError::Rejected(c)) if c == "meta_132000"), "{mismatch:?}");

    fake.set_template(name, "id", 4, TemplateStatus::Paused);
    let paused = client.send_template(&secrets(), PHONE_NUMBER_ID, &owner, &message).await;
    assert!(matches!(&paused, Err(SendError::Rejected(c)) if c == "meta_132015"), "{paused:?}");
}

#[test]
fn balas_template_print_gives_one_create_request_per_template_and_language() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_balas"))
        .args(["template", "print", "--provider", "meta"])
        .env_clear()
        .env("BALAS_META_GRAPH_URL", "https://graph.facebook.com/v21.0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let paths = stdout.lines().filter(|l| l == &"POST https://graph.facebook.com/v21.0/{WABA-ID}/message_templates");
    assert_eq!(paths.count(), 2 * TemplatePurpose::ALL.len(), "{stdout}");
    let bodies: Vec<serde_json::Value> =
        stdout.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(bodies.len(), 2 * TemplatePurpose::ALL.len());
    assert!(bodies.iter().all(|b| b["category"] == "UTILITY" && b["parameter_format"] == "POSITIONAL"));
    assert!(bodies.iter().any(|b| b["name"] == "balas_customer_follow_up_v1" && b["language"] == "en"));
}
