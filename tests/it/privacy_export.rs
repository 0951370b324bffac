//! Access and portability: the export bundle through the API and the CLI.
use balas::api::auth::Role;
use balas::fakes::meta_webhook::FakeCustomer;
use serde_json::Value;

use crate::helpers::TestApp;
use crate::on_both_databases;

const RINA: &str = "6281234560606";
const OWNER: &str = "6281100000006";

fn person(digits: &str, name: &str) -> FakeCustomer {
    FakeCustomer { bsuid: Some(format!("ID.{digits}")), phone: Some(digits.into()), name: name.into(), username: None }
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let r = app.http.get(format!("{}{path}", app.base)).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

on_both_databases! {
    async fn an_export_holds_everything_about_one_contact_and_nothing_else(app) {
        app.add_owner(OWNER, None).await;
        app.send_webhook(&app.text(&person(RINA, "Rina"), "wamid.X1", "Saya mau komplain, kopinya tumpah")).await;
        app.send_webhook(&app.text(&person("6281234560707", "Joko"), "wamid.X2", "Rahasia Joko: jam buka kapan?")).await;
        app.drain().await;
        app.send_webhook(&app.text(&person(OWNER, "Bu Sri"), "wamid.X3", "#1 Maaf kak Rina, kami ganti besok")).await;
        app.drain().await;

        let owner = app.token(app.tenant.id, Role::Owner);
        let (_, list) = get(&app, "/api/v1/conversations", &owner).await;
        let rina = list["conversations"].as_array().unwrap().iter().find(|c| c["customer"].as_str().unwrap().starts_with("Rina")).unwrap();
        let id = rina["contact_id"].as_str().unwrap().to_string();
        let (status, bundle) = get(&app, &format!("/api/v1/contacts/{id}/export"), &owner).await;
        assert_eq!(status, 200, "{bundle}");
        assert_eq!((bundle["format"].as_str(), bundle["version"].as_u64()), (Some("balas.contact-export"), Some(2)));
        // No channel id: with one, anyone can post to the channel's webhook URL.
        assert!(!bundle.to_string().contains(&app.channel.id.to_string()), "a channel id reached the customer: {bundle}");
        assert_eq!(bundle["conversations"][0]["provider"], "meta");
        assert!(bundle["conversations"][0].get("channel_id").is_none());
        assert_eq!(bundle["contact"]["phone"], format!("+{RINA}"), "E.164");
        assert_eq!(bundle["contact"]["name"], "Rina");
        let texts: Vec<&str> = bundle["conversations"][0]["messages"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
        assert!(texts.contains(&"Saya mau komplain, kopinya tumpah") && texts.contains(&"Maaf kak Rina, kami ganti besok"), "{texts:?}");
        assert_eq!(bundle["escalations"][0]["number"], 1);
        assert!(bundle["owner_notices"].as_array().unwrap().iter().any(|n| n["text"].as_str().unwrap_or_default().contains("Tiket #1")));
        let actions: Vec<&str> = bundle["audit"].as_array().unwrap().iter().filter_map(|a| a["action"].as_str()).collect();
        for expected in ["contact.created", "message.received", "conversation.escalated", "escalation.replied", "message.sent"] {
            assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
        }
        let whole = bundle.to_string();
        assert!(!whole.contains("Joko") && !whole.contains("6281234560707"), "another customer's data leaked into the export");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'contact.exported' AND actor = 'api:dashboard'").await, 1);

        let staff = app.token(app.tenant.id, Role::Staff);
        assert_eq!(get(&app, &format!("/api/v1/contacts/{id}/export"), &staff).await.0, 403);
        let other = balas::tenants::create(&*app.state.store, &app.state.keys, "Toko Lain", None, &Default::default(), balas::clock::Clock::now(&*app.clock)).await.unwrap();
        assert_eq!(get(&app, &format!("/api/v1/contacts/{id}/export"), &app.token(other.id, Role::Owner)).await.0, 404);

        let out = app.cli(&["export", "--tenant", &app.tenant.slug, "--phone", &format!("+{RINA}")]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let from_cli: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(from_cli["contact"]["id"].as_str(), Some(id.as_str()));
        assert_eq!(from_cli["conversations"], bundle["conversations"]);
    }
}
