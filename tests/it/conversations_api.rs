//! The conversations API: lists and reads (audited), stepping in from the API, tenant scope.
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::fakes::meta_webhook::FakeCustomer;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_databases;

const CUSTOMER: &str = "6281234560505";
const OWNER: &str = "6281100000005";

async fn faq_chat(app: &TestApp) -> String {
    let c =
        FakeCustomer { bsuid: Some("ID.505".into()), phone: Some(CUSTOMER.into()), name: "Eka".into(), username: None };
    app.send_webhook(&app.text(&c, "wamid.C1", "Jam buka tokonya kapan?")).await;
    app.drain().await;
    let token = app.token(app.tenant.id, Role::Staff);
    let (_, list) = app.call("GET", "/api/v1/conversations", &token, None).await;
    list["conversations"][0]["id"].as_str().expect("a conversation").to_string()
}

on_both_databases! {
    async fn a_conversation_is_listed_read_with_an_audit_row_and_answered_from_the_api(app) {
        app.add_owner(OWNER, None).await;
        let id = faq_chat(&app).await;
        let token = app.token(app.tenant.id, Role::Staff);
        let (status, one) = app.call("GET", &format!("/api/v1/conversations/{id}"), &token, None).await;
        assert_eq!(status, 200, "{one}");
        assert_eq!(one["conversation"]["customer"], "Eka (+62*******0505)");
        let texts: Vec<&str> = one["messages"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
        assert_eq!(texts.len(), 2);
        assert_eq!(texts[0], "Jam buka tokonya kapan?");
        assert!(texts[1].starts_with("Warung Kopi Bu Sri buka"));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.read' AND actor = 'api:dashboard'").await, 1);

        let (status, done) = app.call("POST", &format!("/api/v1/conversations/{id}/reply"), &token, Some(json!({ "text": "Kak, besok kami buka lebih pagi ya." }))).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["conversation_state"], "human");
        assert_eq!(done["ticket"]["number"], 1);
        app.drain().await;
        assert_eq!(app.sent_to(CUSTOMER).last().map(String::as_str), Some("Kak, besok kami buka lebih pagi ya."));
        assert!(app.sent_to(OWNER).is_empty(), "no notice to the owners about their own step");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations WHERE reason = 'owner_initiated' AND status = 'human'").await, 1);

        let (_, human) = app.call("GET", "/api/v1/conversations?state=human&limit=10", &token, None).await;
        assert_eq!(human["conversations"].as_array().map(Vec::len), Some(1));
        let (_, bot) = app.call("GET", "/api/v1/conversations?state=bot", &token, None).await;
        assert_eq!(bot["conversations"].as_array().map(Vec::len), Some(0));
        let (status, _) = app.call("GET", "/api/v1/conversations?state=sleeping", &token, None).await;
        assert_eq!(status, 400);
    }

    async fn other_tenants_and_analytics_tokens_do_not_see_content(app) {
        let id = faq_chat(&app).await;
        let other = balas::tenants::create(&*app.state.store, &app.state.keys, "Toko Lain", None, &Default::default(), app.clock.now()).await.unwrap();
        let theirs = app.token(other.id, Role::Owner);
        let (status, e) = app.call("GET", &format!("/api/v1/conversations/{id}"), &theirs, None).await;
        assert_eq!((status, e["error"].as_str()), (404, Some("conversation_not_found")));
        let (status, _) = app.call("POST", &format!("/api/v1/conversations/{id}/reply"), &theirs, Some(json!({ "text": "hai" }))).await;
        assert_eq!(status, 404);
        let (_, list) = app.call("GET", "/api/v1/conversations", &theirs, None).await;
        assert_eq!(list["conversations"].as_array().map(Vec::len), Some(0));

        let analytics = app.token(app.tenant.id, Role::Analytics);
        let (status, e) = app.call("GET", &format!("/api/v1/conversations/{id}"), &analytics, None).await;
        assert_eq!((status, e["error"].as_str()), (403, Some("forbidden")));
        assert_eq!(app.sent_to(CUSTOMER).len(), 1, "only the bot's answer");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.read'").await, 0);
    }
}
