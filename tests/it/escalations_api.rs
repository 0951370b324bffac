//! The escalations API: the same state machine and audit as the WhatsApp commands, behind
//! bearer tokens scoped to one tenant.
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::fakes::meta_webhook::FakeCustomer;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_databases;

const CUSTOMER: &str = "6281234560404";

async fn escalate_one(app: &TestApp) {
    let c = FakeCustomer {
        bsuid: Some("ID.404".into()),
        phone: Some(CUSTOMER.into()),
        name: "Dewi".into(),
        username: None,
    };
    app.send_webhook(&app.text(&c, "wamid.API1", "Saya mau refund")).await;
    app.drain().await;
}

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", app.base);
    let mut request = if method == "GET" { app.http.get(&url) } else { app.http.post(&url) };
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

on_both_databases! {
    async fn the_api_lists_replies_and_hands_back_through_the_state_machine(app) {
        escalate_one(&app).await;
        let token = app.token(app.tenant.id, Role::Staff);
        let (status, list) = call(&app, "GET", "/api/v1/escalations", Some(&token), None).await;
        assert_eq!(status, 200, "{list}");
        let tickets = list["escalations"].as_array().unwrap();
        assert_eq!(tickets.len(), 1);
        assert_eq!((tickets[0]["number"].as_i64(), tickets[0]["status"].as_str()), (Some(1), Some("open")));
        assert_eq!(tickets[0]["customer"], "Dewi (+62*******0404)");
        let id = tickets[0]["id"].as_str().unwrap().to_string();

        let (status, done) = call(&app, "POST", &format!("/api/v1/escalations/{id}/reply"), Some(&token), Some(json!({ "text": "Refund kami proses hari ini, kak." }))).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["conversation_state"], "human");
        app.drain().await;
        assert_eq!(app.sent_to(CUSTOMER).last().map(String::as_str), Some("Refund kami proses hari ini, kak."));

        let (status, done) = call(&app, "POST", &format!("/api/v1/escalations/{id}/handback"), Some(&token), None).await;
        assert_eq!((status, done["conversation_state"].as_str()), (200, Some("bot")));
        let (status, refused) = call(&app, "POST", &format!("/api/v1/escalations/{id}/resolve"), Some(&token), None).await;
        assert_eq!((status, refused["error"].as_str()), (409, Some("ticket_closed")));

        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE actor = 'api:dashboard' AND action IN ('escalation.listed', 'escalation.replied', 'escalation.handed_back')").await, 3);
        let (_, open) = call(&app, "GET", "/api/v1/escalations", Some(&token), None).await;
        assert_eq!(open["escalations"].as_array().map(Vec::len), Some(0));
        let (_, all) = call(&app, "GET", "/api/v1/escalations?status=all&limit=5", Some(&token), None).await;
        assert_eq!(all["escalations"][0]["closed_by"], "api:dashboard");
    }

    async fn the_api_refuses_bad_tokens_other_tenants_and_bad_input(app) {
        escalate_one(&app).await;
        let token = app.token(app.tenant.id, Role::Owner);
        let (_, list) = call(&app, "GET", "/api/v1/escalations", Some(&token), None).await;
        let id = list["escalations"][0]["id"].as_str().unwrap().to_string();
        let reply = format!("/api/v1/escalations/{id}/reply");

        let (status, e) = call(&app, "GET", "/api/v1/escalations", None, None).await;
        assert_eq!((status, e["error"].as_str()), (401, Some("missing_token")));
        let tampered = format!("{}x", &token[..token.len() - 1]);
        let (status, e) = call(&app, "GET", "/api/v1/escalations", Some(&tampered), None).await;
        assert_eq!((status, e["error"].as_str()), (401, Some("invalid_token")));
        let (status, e) = call(&app, "GET", "/api/v1/escalations", Some(&app.token(app.tenant.id, Role::Analytics)), None).await;
        assert_eq!((status, e["error"].as_str()), (403, Some("forbidden")));

        let settings = balas::tenants::TenantSettings::default();
        let other = balas::tenants::create(&*app.state.store, &app.state.keys, "Toko Lain", None, &settings, app.clock.now()).await.unwrap();
        let (status, e) = call(&app, "POST", &reply, Some(&app.token(other.id, Role::Owner)), Some(json!({ "text": "hai" }))).await;
        assert_eq!((status, e["error"].as_str()), (404, Some("escalation_not_found")), "another tenant's ticket does not exist for B");

        let (status, e) = call(&app, "POST", &reply, Some(&token), Some(json!({ "txt": "typo" }))).await;
        assert_eq!((status, e["error"].as_str()), (400, Some("malformed_json")));
        let (status, e) = call(&app, "POST", &reply, Some(&token), Some(json!({ "text": "   " }))).await;
        assert_eq!((status, e["error"].as_str()), (400, Some("empty_text")));
        let (status, e) = call(&app, "POST", &reply, Some(&token), Some(json!({ "use_suggested_reply": true }))).await;
        assert_eq!((status, e["error"].as_str()), (409, Some("no_draft")));
        let (status, _) = call(&app, "POST", &format!("/api/v1/escalations/{id}/explode"), Some(&token), None).await;
        assert_eq!(status, 404);
        let (status, _) = call(&app, "POST", "/api/v1/escalations/not-a-uuid/takeover", Some(&token), None).await;
        assert_eq!(status, 404);
        let (status, e) = call(&app, "POST", &reply, Some(&token), Some(json!({ "text": "x".repeat(70_000) }))).await;
        assert_eq!((status, e["error"].as_str()), (413, Some("payload_too_large")));
        assert_eq!(app.sent_to(CUSTOMER).len(), 1, "nothing reached the customer but the holding message");

        app.clock.advance(chrono::Duration::hours(2));
        let (status, e) = call(&app, "GET", "/api/v1/escalations", Some(&token), None).await;
        assert_eq!((status, e["error"].as_str()), (401, Some("token_expired")));
    }
}
