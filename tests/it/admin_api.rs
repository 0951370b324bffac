//! Knowledge base, settings, owner numbers and users through the API (owner tokens only).
use balas::api::auth::Role;
use serde_json::{Value, json};

use crate::on_both_databases;

on_both_databases! {
    async fn the_faq_is_edited_through_the_api_and_the_bot_uses_it(app) {
        let owner = app.token(app.tenant.id, Role::Owner);
        let (status, made) = app.call("POST", "/api/v1/kb", &owner, Some(json!({ "question": "Ada wifi di toko?", "answer": "Ada kak, wifi gratis, kata sandinya di kasir.", "keywords": "internet wifi" }))).await;
        assert_eq!(status, 201, "{made}");
        let id = made["entry"]["id"].as_str().unwrap().to_string();
        let (status, _) = app.call("PUT", &format!("/api/v1/kb/{id}"), &owner, Some(json!({ "question": "Ada wifi di toko?", "answer": "Ada kak, wifi gratis 🙂", "keywords": "internet wifi" }))).await;
        assert_eq!(status, 200);
        app.send_webhook(&app.text(&crate::helpers::customer(7), "wamid.KB1", "ada wifi ga kak?")).await;
        app.drain().await;
        assert_eq!(app.sent_to("6281234560007").last().map(String::as_str), Some("Ada kak, wifi gratis 🙂"));

        let (status, e) = app.call("POST", "/api/v1/kb", &owner, Some(json!({ "question": "", "answer": "x" }))).await;
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_entry")));
        let (status, _) = app.call("DELETE", &format!("/api/v1/kb/{id}"), &owner, None).await;
        assert_eq!(status, 204);
        let (status, _) = app.call("DELETE", &format!("/api/v1/kb/{id}"), &owner, None).await;
        assert_eq!(status, 404);
        let staff = app.token(app.tenant.id, Role::Staff);
        assert_eq!(app.call("GET", "/api/v1/kb", &staff, None).await.0, 403, "the FAQ is the owner's");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('kb.created', 'kb.updated', 'kb.deleted') AND actor = 'api:dashboard'").await, 3);
    }

    async fn settings_owners_and_users_are_managed_by_the_owner(app) {
        let owner = app.token(app.tenant.id, Role::Owner);
        let (status, s) = app.call("PATCH", "/api/v1/settings", &owner, Some(json!({ "escalation_keywords": "manager, batal", "renotify_minutes": 15, "name": "Warung Kopi Bu Sri 2" }))).await;
        assert_eq!(status, 200, "{s}");
        assert_eq!(s["settings"]["renotify_minutes"], 15);
        assert_eq!(s["settings"]["language"], "id", "untouched fields stay");
        let (status, e) = app.call("PATCH", "/api/v1/settings", &owner, Some(json!({ "business_hours": "8-21" }))).await;
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_settings")));
        let (status, _) = app.call("PATCH", "/api/v1/settings", &owner, Some(json!({ "no_such_setting": 1 }))).await;
        assert_eq!(status, 400);
        // The new keyword takes effect for the next message.
        app.send_webhook(&app.text(&crate::helpers::customer(8), "wamid.S1", "Saya mau batal pesanan")).await;
        app.drain().await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations WHERE reason = 'keyword'").await, 1);

        let (status, added) = app.call("POST", "/api/v1/owners", &owner, Some(json!({ "phone": "+6281100000077" }))).await;
        assert_eq!((status, added["phone"].as_str()), (201, Some("+62*******0077")));
        let (_, list) = app.call("GET", "/api/v1/owners", &owner, None).await;
        assert_eq!(list["owners"].as_array().map(Vec::len), Some(1));
        let id = added["id"].as_str().unwrap();
        assert_eq!(app.call("DELETE", &format!("/api/v1/owners/{id}"), &owner, None).await.0, 204);

        let (status, user) = app.call("POST", "/api/v1/users", &owner, Some(json!({ "email": "staf@warung.example", "role": "staff", "password": "rahasia-panjang" }))).await;
        assert_eq!(status, 201, "{user}");
        let (status, e) = app.call("POST", "/api/v1/users", &owner, Some(json!({ "email": "x@warung.example", "role": "staff", "password": "pendek" }))).await;
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_user")));
        let login = app.http.post(format!("{}/api/v1/auth/login", app.base)).json(&json!({ "tenant": app.tenant.slug, "email": "staf@warung.example", "password": "rahasia-panjang" })).send().await.unwrap();
        let session: Value = login.json().await.unwrap();
        let staff = session["token"].as_str().unwrap().to_string();
        assert_eq!(app.call("GET", "/api/v1/escalations", &staff, None).await.0, 200);
        assert_eq!(app.call("GET", "/api/v1/users", &staff, None).await.0, 403, "staff cannot manage users");
        let uid = user["id"].as_str().unwrap();
        assert_eq!(app.call("DELETE", &format!("/api/v1/users/{uid}"), &owner, None).await.0, 204);
        let (status, e) = app.call("GET", "/api/v1/escalations", &staff, None).await;
        assert_eq!((status, e["error"].as_str()), (401, Some("token_revoked")), "a disabled user's session ends at once");
    }
}
