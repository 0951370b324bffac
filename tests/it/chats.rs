//! A group chat and a direct chat are separate conversations: an owner's reply, a forward, a
//! prompt's history never cross from one to the other (Fonnte, the provider with groups).
use balas::fakes::llm::{FakeLlm, LlmStep};
use serde_json::{Value, json};

use crate::helpers::{Db, FONNTE_DEVICE, TestApp};
use crate::on_both_databases;

const OWNER: &str = "6281100000001";
const CUSTOMER: &str = "6281234560101";
const NEIGHBOUR: &str = "6281234560202";
const GROUP: &str = "120363025343299999@g.us";

fn direct(from: &str, inbox: u32, text: &str) -> Value {
    json!({ "device": FONNTE_DEVICE, "sender": from, "message": text, "name": "Budi", "inboxid": inbox })
}

fn in_group(member: &str, inbox: u32, text: &str) -> Value {
    json!({ "device": FONNTE_DEVICE, "sender": GROUP, "member": member, "message": text, "name": "Budi", "inboxid": inbox })
}

async fn post(app: &TestApp, url: &str, payload: Value) {
    let response = app.http.post(url).json(&payload).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

async fn answer_groups(app: &TestApp) {
    app.inspect.execute("UPDATE tenants SET answer_groups = (1 = 1)").await;
}

on_both_databases! {
    async fn an_owners_reply_to_a_direct_ticket_never_lands_in_the_customers_group(app) {
        app.add_owner(OWNER, None).await;
        let (_, url) = app.fonnte_channel(None).await;
        post(&app, &url, direct(CUSTOMER, 1, "Saya mau komplain, alamat saya Jl. Mawar 5")).await;
        app.drain().await;
        assert!(app.sent_to(OWNER).last().is_some_and(|n| n.contains("Tiket #1")), "{:?}", app.sent_to(OWNER));

        post(&app, &url, in_group(CUSTOMER, 2, "Halo semua, ada promo minggu ini?")).await;
        app.drain().await;
        post(&app, &url, direct(OWNER, 3, "#1 Refund Rp250.000 ke BCA kakak sudah kami proses")).await;
        app.drain().await;

        assert!(app.sent_to(GROUP).is_empty(), "nothing reaches the group: {:?}", app.sent_to(GROUP));
        assert_eq!(
            app.sent_to(CUSTOMER).last().map(String::as_str),
            Some("Refund Rp250.000 ke BCA kakak sudah kami proses")
        );
        assert!(!app.sent_to(OWNER).iter().any(|m| m.contains("ada promo")), "the group message is not on the ticket");
        assert_eq!(app.count("conversations").await, 2);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE length(chat_index) > 0 AND chat_enc IS NOT NULL").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE chat_enc LIKE '%g.us%'").await, 0, "sealed");
    }

    async fn a_group_ticket_stays_in_the_group_and_the_owner_is_told_it_is_one(app) {
        answer_groups(&app).await;
        app.add_owner(OWNER, None).await;
        let (_, url) = app.fonnte_channel(None).await;
        post(&app, &url, in_group(CUSTOMER, 1, "Saya mau komplain, barang rusak")).await;
        app.drain().await;
        let notice = app.sent_to(OWNER).last().cloned().unwrap_or_default();
        assert!(notice.contains("Tiket #1") && notice.contains("grup WhatsApp"), "{notice}");

        post(&app, &url, in_group(CUSTOMER, 2, "Halo? kok belum dibalas")).await;
        post(&app, &url, direct(CUSTOMER, 3, "Bisa bayar pakai QRIS?")).await;
        app.drain().await;
        let forward = app.sent_to(OWNER).last().cloned().unwrap_or_default();
        assert!(forward.contains("kok belum dibalas") && forward.contains("grup WhatsApp"), "{forward}");
        assert!(!app.sent_to(OWNER).iter().any(|m| m.contains("QRIS")), "the direct chat is not on the group's ticket");
        let to_customer = app.sent_to(CUSTOMER);
        assert_eq!(to_customer.len(), 1, "the bot answers the direct chat: {to_customer:?}");
        assert!(to_customer[0].contains("QRIS"), "{to_customer:?}");

        post(&app, &url, direct(OWNER, 4, "#1 Mohon maaf kak, kami ganti barangnya")).await;
        app.drain().await;
        assert_eq!(app.sent_to(GROUP).last().map(String::as_str), Some("Mohon maaf kak, kami ganti barangnya"));
        assert_eq!(app.sent_to(CUSTOMER).len(), 1, "the owner's answer went to the ticket's chat only");

        let token = app.token(app.tenant.id, balas::api::auth::Role::Owner);
        let (status, list) = app.call("GET", "/api/v1/conversations", &token, None).await;
        assert_eq!(status, 200);
        let marks: Vec<bool> = list["conversations"].as_array().unwrap().iter().map(|c| c["in_group"].as_bool().unwrap()).collect();
        assert_eq!((marks.len(), marks.iter().filter(|g| **g).count()), (2, 1), "the API marks the group's conversation");
    }

    async fn no_prompt_mixes_a_direct_chat_with_a_group(app) {
        answer_groups(&app).await;
        let (_, url) = app.fonnte_channel(None).await;
        let llm = FakeLlm::start().await.unwrap();
        llm.always(LlmStep::Reply("Siap kak".into()));
        let worker = app.llm_worker(&[&llm], |_| {});
        post(&app, &url, direct(CUSTOMER, 1, "Alamat saya Jl. Mawar 5, tolong dicatat")).await;
        worker.run_until_idle().await.unwrap();
        post(&app, &url, in_group(CUSTOMER, 2, "Ada promo hari ini?")).await;
        worker.run_until_idle().await.unwrap();
        post(&app, &url, direct(CUSTOMER, 3, "Ongkir ke alamat tadi berapa?")).await;
        worker.run_until_idle().await.unwrap();

        let prompts: Vec<String> = llm.requests().iter().map(|(_, r)| r["messages"].to_string()).collect();
        assert_eq!(prompts.len(), 3);
        assert!(prompts[1].contains("Ada promo") && !prompts[1].contains("Alamat saya"), "the group's prompt: {}", prompts[1]);
        assert!(prompts[2].contains("Alamat saya") && !prompts[2].contains("Ada promo"), "the direct chat's: {}", prompts[2]);
        assert!(prompts.iter().all(|p| !p.contains("Mawar")), "the address itself never reaches the model");
        assert_eq!(app.sent_to(GROUP).len(), 1);
        assert_eq!(app.sent_to(CUSTOMER).len(), 2);
    }

    async fn conversations_from_before_the_split_are_reviewed_closed_and_the_owner_told(app) {
        app.add_owner(OWNER, None).await;
        let (_, url) = app.fonnte_channel(None).await;
        // Three conversations as migration 0009 found them: one mixing the direct chat (with an
        // open ticket) and a group, one of a group only, one direct with a photo.
        post(&app, &url, direct(CUSTOMER, 1, "Saya mau komplain, pesanan salah")).await;
        post(&app, &url, in_group(CUSTOMER, 2, "Halo semua")).await;
        post(&app, &url, in_group(NEIGHBOUR, 3, "Ada stok kopi?")).await;
        let mut photo = direct("6281234560303", 4, "");
        photo["url"] = json!("https://fonnte.example/f.jpg");
        photo["extension"] = json!("jpg");
        post(&app, &url, photo).await;
        app.drain().await;
        app.inspect.execute("UPDATE messages SET conversation_id = (SELECT conversation_id FROM messages WHERE provider_message_id = 'inbox:1') WHERE provider_message_id = 'inbox:2'").await;
        app.inspect.execute("DELETE FROM conversations WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)").await;
        app.inspect.execute(match app.db {
            Db::Sqlite => "UPDATE conversations SET chat_index = x'', chat_enc = NULL",
            Db::Postgres => "UPDATE conversations SET chat_index = '\\x'::bytea, chat_enc = NULL",
        }).await;
        app.inspect.execute("INSERT INTO chat_reviews (tenant_id, conversation_id) SELECT DISTINCT c.tenant_id, c.id FROM conversations c JOIN messages m ON m.tenant_id = c.tenant_id AND m.conversation_id = c.id WHERE c.state <> 'closed' AND m.direction = 'in' AND m.meta_enc IS NOT NULL").await;
        assert_eq!(app.count("conversations").await, 3);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM chat_reviews").await, 3);

        let report = balas::chats::review::run(&app.state).await.unwrap();
        assert_eq!((report.reviewed, report.direct, report.group, report.closed, report.tickets_closed), (3, 1, 1, 1, 1));
        assert_eq!(balas::chats::review::run(&app.state).await.unwrap().reviewed, 0, "reviewed once");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations WHERE number = 1 AND status = 'resolved' AND closed_by = 'system:chat_review'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.closed_mixed_chats'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'conversation.chat_fixed'").await, 1);
        app.drain().await;
        assert!(app.sent_to(OWNER).last().is_some_and(|m| m.contains("Tiket #1") && m.contains("ditutup otomatis")), "{:?}", app.sent_to(OWNER));

        post(&app, &url, direct(OWNER, 5, "#1 Refund sudah kami transfer")).await;
        post(&app, &url, in_group(NEIGHBOUR, 6, "Halo?")).await;
        app.drain().await;
        assert!(app.sent_to(GROUP).is_empty() && !app.sent_to(CUSTOMER).iter().any(|m| m.contains("Refund")));
        assert_eq!(app.count("conversations").await, 3, "the group-only conversation goes on, fixed to its group");
    }
}
