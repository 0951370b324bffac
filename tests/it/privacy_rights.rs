//! Correction and erasure through the API and the CLI: erased data leaves no bytes behind,
//! its old ciphertext is unreadable with every key that remains, and others' data is intact.
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::crypto::DataKey;
use balas::domain::ContactId;
use balas::fakes::meta_webhook::FakeCustomer;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_databases;
use crate::privacy::{contains, database_bytes};

const RINA: &str = "6281234560606";
const JOKO: &str = "6281234560707";
const OWNER: &str = "6281100000006";
const RINA_SECRET: &str = "Alamat saya Jl. Cempaka Rahasia 9";
const JOKO_TEXT: &str = "Jam buka kapan ya kak?";

fn person(digits: &str, name: &str) -> FakeCustomer {
    FakeCustomer { bsuid: Some(format!("ID.{digits}")), phone: Some(digits.into()), name: name.into(), username: None }
}

async fn contact_named(app: &TestApp, owner: &str, name: &str) -> String {
    let (_, list) = app.call("GET", "/api/v1/conversations", owner, None).await;
    let all = list["conversations"].as_array().unwrap();
    let found = all
        .iter()
        .find(|c| c["customer"].as_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("{name} in {list}"));
    found["contact_id"].as_str().unwrap().to_string()
}

/// A contact's wrapped key and every ciphertext stored for it: what a backup copy would hold.
async fn snapshot(app: &TestApp, id: ContactId) -> (String, Vec<String>) {
    let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
    let contact = tx.contact(id).await.unwrap().unwrap();
    let mut tokens: Vec<String> =
        [&contact.phone_enc, &contact.name_enc, &contact.bsuid_enc].into_iter().flatten().cloned().collect();
    for c in tx.conversations_of_contact(id).await.unwrap() {
        tokens.extend(tx.recent_messages(c.id, 1000).await.unwrap().into_iter().filter_map(|m| m.body_enc));
    }
    for e in tx.escalations_of_contact(id).await.unwrap() {
        tokens.extend(e.summary_enc);
    }
    tokens.extend(tx.owner_messages_about(id).await.unwrap().into_iter().filter_map(|m| m.body_enc));
    tx.commit().await.unwrap();
    (contact.wrapped_key, tokens)
}

/// Every data key the database still holds, unwrapped with the configured master keys.
async fn remaining_keys(app: &TestApp) -> Vec<DataKey> {
    let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
    let mut wrapped = vec![tx.tenant().await.unwrap().unwrap().wrapped_key];
    wrapped.extend(tx.wrapped_contact_keys(None, 10_000).await.unwrap().into_iter().map(|(_, k)| k));
    tx.commit().await.unwrap();
    wrapped.iter().map(|w| app.state.keys.vault.unwrap_key(w).unwrap()).collect()
}

on_both_databases! {
    async fn erasure_leaves_no_trace_and_the_old_ciphertext_is_unreadable(app) {
        app.add_owner(OWNER, None).await;
        app.send_webhook(&app.text(&person(RINA, "Rina Cempaka"), "wamid.E1", "Saya mau komplain")).await;
        app.send_webhook(&app.text(&person(RINA, "Rina Cempaka"), "wamid.E2", RINA_SECRET)).await;
        app.send_webhook(&app.text(&person(JOKO, "Joko"), "wamid.E3", JOKO_TEXT)).await;
        app.drain().await;
        app.send_webhook(&app.text(&person(OWNER, "Bu Sri"), "wamid.E4", "#1 Baik kak Rina, kami cek")).await;
        app.send_webhook(&app.text(&person(OWNER, "Bu Sri"), "wamid.E5", "daftar")).await;
        app.drain().await;

        let owner = app.token(app.tenant.id, Role::Owner);
        let rina = contact_named(&app, &owner, "Rina").await;
        let joko = contact_named(&app, &owner, "Joko").await;
        let (old_wrapped, old_tokens) = snapshot(&app, rina.parse().unwrap()).await;
        assert!(old_tokens.len() >= 6, "messages, reply, summary, notices: {}", old_tokens.len());
        let contacts_before = app.count("contacts").await;

        assert_eq!(app.call("DELETE", &format!("/api/v1/contacts/{rina}"), &app.token(app.tenant.id, Role::Staff), None).await.0, 403);
        let other = balas::tenants::create(&*app.state.store, &app.state.keys, "Toko Lain", None, &Default::default(), app.clock.now()).await.unwrap();
        assert_eq!(app.call("DELETE", &format!("/api/v1/contacts/{rina}"), &app.token(other.id, Role::Owner), None).await.0, 404);

        let (status, erased) = app.call("DELETE", &format!("/api/v1/contacts/{rina}"), &owner, None).await;
        assert_eq!(status, 200, "{erased}");
        assert_eq!(erased["deleted"]["messages"].as_u64().unwrap() as usize, 2 + app.sent_to(RINA).len(), "{erased}");
        assert_eq!(erased["deleted"]["escalations"], 1);
        assert!(erased["deleted"]["owner_messages"].as_u64().unwrap() >= 2, "notice and forward: {erased}");
        assert!(erased["owner_answers_cleared"].as_u64().unwrap() >= 1, "the daftar answer named Rina: {erased}");
        if let Some(db) = &app.sqlite_path {
            let wal = std::fs::metadata(format!("{}-wal", db.display())).map(|m| m.len()).unwrap_or(0);
            assert_eq!(wal, 0, "the erasure's own checkpoint emptied the WAL");
        }
        assert_eq!(app.call("DELETE", &format!("/api/v1/contacts/{rina}"), &owner, None).await.0, 404, "gone");
        assert_eq!(app.count("contacts").await, contacts_before - 1);

        // No bytes of hers remain: not the text, the number, the name, the key or any ciphertext.
        let bytes = database_bytes(&app).await;
        let needles = [("text", RINA_SECRET), ("name", "Cempaka"), ("phone", RINA), ("local phone", &RINA[2..]), ("wrapped key", old_wrapped.as_str())];
        for (what, needle) in needles {
            assert!(!contains(&bytes, needle), "the erased {what} is still in the database");
        }
        for token in &old_tokens {
            assert!(!contains(&bytes, token), "an erased ciphertext is still in the database");
        }
        // A copy taken before cannot be read with any key that remains, nor with the master key alone.
        let keys = remaining_keys(&app).await;
        assert!(keys.len() >= 2, "the tenant's and Joko's keys remain");
        for token in &old_tokens {
            assert!(keys.iter().all(|k| k.decrypt(token).is_err()), "an old ciphertext decrypts with a remaining key");
        }
        // Joko is intact: his conversation and text still decrypt.
        let (_, bundle) = app.call("GET", &format!("/api/v1/contacts/{joko}/export"), &owner, None).await;
        assert_eq!(bundle["conversations"][0]["messages"][0]["text"], JOKO_TEXT);

        // The audit says an erasure happened, by whom, with counts, and names nobody.
        let row = app.inspect.text("SELECT detail FROM audit_log WHERE action = 'contact.erased' AND actor = 'api:dashboard' AND subject_type = 'erasure'").await.unwrap();
        assert!(!row.contains(&rina) && row.contains("\"messages\""), "{row}");
        let verify = app.cli(&["audit", "verify", "--tenant", &app.tenant.slug]);
        assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
        // Analytics keep anonymous counts of what was deleted.
        assert_eq!(app.inspect.scalar("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM activity_counts WHERE metric = 'messages_in'").await, 2);

        // She writes again: a fresh contact, with nothing from before.
        app.send_webhook(&app.text(&person(RINA, "Rina Cempaka"), "wamid.E6", "Halo lagi")).await;
        app.drain().await;
        let again = contact_named(&app, &owner, "Rina").await;
        assert_ne!(again, rina);
        let (_, bundle) = app.call("GET", &format!("/api/v1/contacts/{again}/export"), &owner, None).await;
        assert_eq!(bundle["conversations"][0]["messages"][0]["text"], "Halo lagi");
        assert!(bundle["escalations"].as_array().unwrap().is_empty(), "{bundle}");

        // The CLI erases by phone number, and only with --yes.
        let refused = app.cli(&["erase", "--tenant", &app.tenant.slug, "--phone", &format!("+{JOKO}")]);
        assert!(!refused.status.success());
        let out = app.cli(&["erase", "--tenant", &app.tenant.slug, "--phone", &format!("+{JOKO}"), "--yes"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["deleted"]["conversations"], 1);
        assert_eq!(app.call("GET", &format!("/api/v1/contacts/{joko}/export"), &owner, None).await.0, 404);
    }

    async fn a_correction_changes_name_and_number_and_the_audit_names_fields_only(app) {
        app.send_webhook(&app.text(&person(RINA, "Rina Salah"), "wamid.C1", "Halo")).await;
        app.send_webhook(&app.text(&person(JOKO, "Joko"), "wamid.C2", "Halo juga")).await;
        app.drain().await;
        let owner = app.token(app.tenant.id, Role::Owner);
        let rina = contact_named(&app, &owner, "Rina").await;
        let path = format!("/api/v1/contacts/{rina}");

        let (status, body) = app.call("PATCH", &path, &owner, Some(json!({ "name": "Rina Benar", "phone": "0812 3456 0999" }))).await;
        assert_eq!(status, 204, "{body}");
        let (_, bundle) = app.call("GET", &format!("{path}/export"), &owner, None).await;
        assert_eq!((bundle["contact"]["name"].as_str(), bundle["contact"]["phone"].as_str()), (Some("Rina Benar"), Some("+6281234560999")));
        let detail = app.inspect.text("SELECT detail FROM audit_log WHERE action = 'contact.corrected'").await.unwrap();
        assert_eq!(serde_json::from_str::<Value>(&detail).unwrap(), json!({ "fields": ["name", "phone"] }));

        let (status, body) = app.call("PATCH", &path, &owner, Some(json!({ "phone": format!("+{JOKO}") }))).await;
        assert_eq!((status, body["error"].as_str()), (409, Some("phone_in_use")));
        let (status, body) = app.call("PATCH", &path, &owner, Some(json!({ "phone": "12" }))).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_phone")));
        let (status, body) = app.call("PATCH", &path, &owner, Some(json!({ "nickname": "x" }))).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("malformed_json")));
        assert_eq!(app.call("PATCH", &path, &app.token(app.tenant.id, Role::Staff), Some(json!({ "name": "x" }))).await.0, 403);

        // The corrected number now finds her, from the CLI too.
        let out = app.cli(&["correct", "--tenant", &app.tenant.slug, "--phone", "+6281234560999", "--name", "Rina B."]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (_, bundle) = app.call("GET", &format!("{path}/export"), &owner, None).await;
        assert_eq!(bundle["contact"]["name"], "Rina B.");
    }
}
