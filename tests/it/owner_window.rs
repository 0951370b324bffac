//! The 24-hour window around the owner loop, e-mail to owners, and the LLM's summary and
//! suggested reply in the notice.
use balas::clock::Clock;
use balas::fakes::llm::{FakeLlm, LlmStep};
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::fakes::smtp::FakeSmtp;
use balas::owner::email::SmtpSettings;
use serde_json::json;

use crate::helpers::{PHONE_NUMBER_ID, TestApp};
use crate::on_both_databases;

const OWNER: &str = "6281100000002";
const CUSTOMER: &str = "6281234560303";

fn customer() -> FakeCustomer {
    FakeCustomer { bsuid: Some("ID.303".into()), phone: Some(CUSTOMER.into()), name: "Rina".into(), username: None }
}

fn owner() -> FakeCustomer {
    FakeCustomer { bsuid: Some("ID.OWNER2".into()), phone: Some(OWNER.into()), name: "Bu Sri".into(), username: None }
}

/// A text from `who`, sent `ago` before the fake clock's now.
async fn say(app: &TestApp, who: &FakeCustomer, wamid: &str, text: &str, ago: chrono::Duration) {
    let message = who.text(wamid, text, (app.clock.now() - ago).timestamp());
    let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[who], vec![message], vec![]);
    assert_eq!(app.send_webhook(&payload).await.status().as_u16(), 200);
}

on_both_databases! {
    async fn a_closed_owner_window_falls_back_to_email(app) {
        let smtp = FakeSmtp::start().await.unwrap();
        app.add_owner(OWNER, Some("sri@warung.example")).await;
        app.providers.refuse_recipient(OWNER, 131047);
        let worker = app.worker_with(|c| {
            c.smtp = Some(SmtpSettings { url: smtp.url.clone().into(), from: "balas@warung.example".into() })
        });
        say(&app, &customer(), "wamid.W1", "Saya mau komplain", chrono::Duration::zero()).await;
        worker.run_until_idle().await.unwrap();
        let mails = smtp.received();
        assert_eq!(mails.len(), 1, "the notice goes by e-mail as well");
        assert_eq!(mails[0].to, ["sri@warung.example"]);
        assert!(mails[0].data.contains("Subject: [balas] =?utf-8?") || mails[0].data.contains("Tiket #1"), "{}", mails[0].data);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owners WHERE window_closed_at IS NOT NULL").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'owner_send' AND state = 'done'").await, 2, "the refused WhatsApp notice is not retried");

        // A forward goes by WhatsApp only; with the owner's window closed it is e-mailed instead.
        say(&app, &customer(), "wamid.W2", "Halo? Masih ada orang?", chrono::Duration::zero()).await;
        worker.run_until_idle().await.unwrap();
        let mails = smtp.received();
        assert_eq!(mails.len(), 2);
        assert!(mails[1].data.contains("Masih ada orang"), "{}", mails[1].data);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'owner.window_closed'").await, 2);

        // The owner writing to the business number opens their window again.
        say(&app, &owner(), "wamid.W3", "daftar", chrono::Duration::zero()).await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owners WHERE window_closed_at IS NULL AND last_inbound_at IS NOT NULL").await, 1);
    }

    async fn the_notice_warns_when_the_customers_window_is_closing(app) {
        app.add_owner(OWNER, None).await;
        say(&app, &customer(), "wamid.L1", "Bisa bicara dengan admin?", chrono::Duration::hours(21)).await;
        app.drain().await;
        let notice = app.sent_to(OWNER).first().cloned().unwrap_or_default();
        assert!(notice.contains("tutup dalam ±3 jam"), "{notice}");
    }

    async fn a_late_window_closed_status_tells_the_owner(app) {
        app.add_owner(OWNER, None).await;
        say(&app, &customer(), "wamid.S1", "Saya mau komplain", chrono::Duration::zero()).await;
        app.drain().await;
        say(&app, &owner(), "wamid.S2", "#1 Maaf kak, bisa kirim foto barangnya?", chrono::Duration::zero()).await;
        app.drain().await;
        let relayed = app.inspect.text("SELECT provider_message_id FROM messages WHERE author = 'owner'").await.expect("sent");
        let mut failed = meta_webhook::status(&relayed, "failed", app.clock.now().timestamp());
        failed["errors"] = json!([{ "code": 131047, "title": "Re-engagement message" }]);
        let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[], vec![], vec![failed]);
        assert_eq!(app.send_webhook(&payload).await.status().as_u16(), 200);
        app.drain().await;
        let told = app.sent_to(OWNER).last().cloned().unwrap_or_default();
        assert!(told.contains("tidak terkirim") && told.contains("#1"), "{told}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE window_closed_at IS NOT NULL").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE author = 'owner' AND status = 'failed' AND error_code = '131047'").await, 1);

        // The customer writing again reopens the window.
        say(&app, &customer(), "wamid.S3", "Ini fotonya", chrono::Duration::zero()).await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE window_closed_at IS NOT NULL").await, 0);
    }

    async fn a_window_closed_status_wakes_a_worker_to_tell_the_owner_without_waiting_for_the_poll(app) {
        app.add_owner(OWNER, None).await;
        say(&app, &customer(), "wamid.W1", "Saya mau komplain", chrono::Duration::zero()).await;
        app.drain().await;
        say(&app, &owner(), "wamid.W2", "#1 Maaf kak, bisa kirim foto barangnya?", chrono::Duration::zero()).await;
        app.drain().await;
        let relayed = app.inspect.text("SELECT provider_message_id FROM messages WHERE author = 'owner'").await.expect("sent");
        // A background worker that would otherwise look for work only once a minute.
        let server = app
            .serve_with(|c| {
                c.workers = 1;
                c.poll_interval = std::time::Duration::from_secs(60);
            })
            .await;
        let mut failed = meta_webhook::status(&relayed, "failed", app.clock.now().timestamp());
        failed["errors"] = json!([{ "code": 131047, "title": "Re-engagement message" }]);
        let body = serde_json::to_vec(&meta_webhook::envelope(PHONE_NUMBER_ID, &[], vec![], vec![failed])).unwrap();
        let signature = meta_webhook::sign(&app.app_secret, &body);
        let url = format!("{}/webhooks/meta/{}", server.base, app.channel.id);
        assert_eq!(app.post_raw(&url, body, Some(signature)).await.status(), 200);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !app.sent_to(OWNER).last().is_some_and(|told| told.contains("tidak terkirim")) {
            assert!(std::time::Instant::now() < deadline, "the owner's notice waited for the poll");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    async fn the_llm_summary_and_suggested_reply_reach_the_owner(app) {
        app.add_owner(OWNER, None).await;
        let llm = FakeLlm::start().await.unwrap();
        llm.script([LlmStep::EscalateWith(json!({
            "reason": "payment_dispute",
            "summary": "Sudah transfer tapi pesanan belum diproses.",
            "draft_reply": "Mohon maaf kak, kami cek mutasi rekening dan kabari dalam 1 jam.",
        }))]);
        let worker = app.llm_worker(&[&llm], |_| {});
        say(&app, &customer(), "wamid.M1", "Saya sudah transfer kemarin tapi belum diproses", chrono::Duration::zero()).await;
        worker.run_until_idle().await.unwrap();
        let notice = app.sent_to(OWNER).first().cloned().unwrap_or_default();
        assert!(notice.contains("masalah pembayaran"), "{notice}");
        assert!(notice.contains("Sudah transfer tapi pesanan belum diproses."), "{notice}");
        assert!(notice.contains("kami cek mutasi rekening"), "{notice}");

        say(&app, &owner(), "wamid.M2", "#1 1", chrono::Duration::zero()).await;
        worker.run_until_idle().await.unwrap();
        assert_eq!(
            app.sent_to(CUSTOMER).last().map(String::as_str),
            Some("Mohon maaf kak, kami cek mutasi rekening dan kabari dalam 1 jam.")
        );
        assert_eq!(llm.requests().len(), 1, "owner commands never reach the LLM");
    }

    async fn a_keyword_escalation_gets_its_summary_from_the_llm_with_personal_data_masked(app) {
        app.add_owner(OWNER, None).await;
        let llm = FakeLlm::start().await.unwrap();
        llm.script([LlmStep::Reply("Minta ditelepon admin di [PHONE_1] soal pesanan.\nBelum dijawab.\nBaris ketiga dibuang.".into())]);
        let worker = app.llm_worker(&[&llm], |_| {});
        say(&app, &customer(), "wamid.K1", "Tolong admin telepon saya di 0812-9999-8888", chrono::Duration::zero()).await;
        worker.run_until_idle().await.unwrap();
        let requests = llm.requests();
        assert_eq!(requests.len(), 1, "the keyword skips the reply call; only the summary is asked for");
        let sent = requests[0].1.to_string();
        assert!(requests[0].1.get("tools").is_none(), "a summary needs no tool");
        assert!(!sent.contains("9999-8888") && sent.contains("[PHONE_1]"), "{sent}");
        let notice = app.sent_to(OWNER).first().cloned().unwrap_or_default();
        assert!(notice.contains("Minta ditelepon admin di 0812-9999-8888 soal pesanan.\nBelum dijawab."), "{notice}");
        assert!(!notice.contains("Baris ketiga"), "two lines at most: {notice}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM llm_usage WHERE outcome = 'summarized'").await, 1);
    }
}
