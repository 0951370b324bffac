//! An owner's reply after the customer's 24-hour window closed: held, the follow-up template
//! sent once, and delivered in order exactly once when the customer answers it; never answered
//! within the wait, it becomes "not delivered" and the owner is told.
use balas::clock::Clock;
use balas::fakes::meta_webhook::{self, FakeCustomer};
use chrono::Duration;

use crate::helpers::{PHONE_NUMBER_ID, TestApp, customer};
use crate::on_both_databases;

const OWNER: &str = "6281100000041";
const CUSTOMER: &str = "6281234560001";
const FOLLOW_UP: &str = "balas_customer_follow_up_v1";

fn owner() -> FakeCustomer {
    FakeCustomer { bsuid: Some("ID.OWNER41".into()), phone: Some(OWNER.into()), name: "Bu Lina".into(), username: None }
}

async fn post(app: &TestApp, who: &FakeCustomer, message: serde_json::Value) {
    let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[who], vec![message], vec![]);
    assert_eq!(app.send_webhook(&payload).await.status().as_u16(), 200);
    app.drain().await;
}

/// A ticket the owner has not answered after a day (the tenant lets tickets wait), the
/// customer's window now closed.
async fn waiting_ticket(app: &TestApp) {
    app.inspect.execute("UPDATE tenants SET resume_after_hours = 0, human_idle_hours = 0").await;
    app.add_owner(OWNER, None).await;
    post(
        app,
        &customer(1),
        customer(1).text("wamid.C1", "Saya mau komplain, pesanan saya salah", app.clock.now().timestamp()),
    )
    .await;
    assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations").await, 1);
    app.clock.advance(Duration::hours(25));
    app.providers.refuse_recipient(CUSTOMER, 131047);
}

/// A waiting ticket on a channel with the follow-up template approved.
async fn closed_window_ticket(app: &TestApp) {
    app.approve_template(&app.channel, "customer_follow_up", FOLLOW_UP, 1);
    waiting_ticket(app).await;
}

async fn owner_says(app: &TestApp, wamid: &str, text: &str) {
    post(app, &owner(), owner().text(wamid, text, app.clock.now().timestamp())).await;
}

fn to_customer(app: &TestApp) -> Vec<balas::fakes::providers::ProviderRequest> {
    app.providers.received().into_iter().filter(|r| r.recipient() == CUSTOMER).collect()
}

on_both_databases! {
    async fn a_late_reply_reaches_the_customer_exactly_once_after_they_answer_the_follow_up(app) {
        closed_window_ticket(&app).await;
        let before = to_customer(&app).len();
        owner_says(&app, "wamid.O1", "#1 Maaf kak, pesanannya kami ganti besok").await;
        owner_says(&app, "wamid.O2", "#1 Kurirnya datang jam 9 pagi").await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE status = 'held'").await, 2);
        let templates: Vec<_> = to_customer(&app).into_iter().skip(before).filter(|r| r.template().is_some()).collect();
        assert_eq!(templates.len(), 1, "one follow-up for both replies");
        assert_eq!(templates[0].body["template"]["name"], FOLLOW_UP);
        assert_eq!(templates[0].payloads(), ["see"]);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM template_sends WHERE purpose = 'customer_follow_up'").await, 1);
        let told = app.sent_to(OWNER);
        assert!(told.iter().any(|t| t.contains("disimpan")), "the owner knows it is held: {told:?}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead'").await, 0);

        // The customer taps "Lihat jawaban": their window is open again.
        app.providers.accept_recipient(CUSTOMER);
        let sent_before = to_customer(&app).len();
        let tap = customer(1).template_button("wamid.C2", "see", "Lihat jawaban", "wamid.X", app.clock.now().timestamp());
        post(&app, &customer(1), tap).await;
        let texts: Vec<String> = to_customer(&app).iter().skip(sent_before).map(|r| r.text().to_string()).collect();
        assert_eq!(texts, ["Maaf kak, pesanannya kami ganti besok", "Kurirnya datang jam 9 pagi"], "in order, and nothing else");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE status = 'held'").await, 0);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'message.released'").await, 1);

        // Another message from the customer releases nothing again.
        let sent_before = to_customer(&app).len();
        post(&app, &customer(1), customer(1).text("wamid.C3", "Oke terima kasih", app.clock.now().timestamp())).await;
        let again = to_customer(&app).iter().skip(sent_before).filter(|r| r.text().contains("Kurirnya")).count();
        assert_eq!(again, 0);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE author = 'owner' AND status = 'sent'").await, 2);
    }
}

on_both_databases! {
    async fn a_late_reply_nobody_answers_is_not_delivered_and_the_owner_is_told(app) {
        closed_window_ticket(&app).await;
        owner_says(&app, "wamid.O1", "#1 Maaf kak, pesanannya kami ganti besok").await;
        app.clock.advance(Duration::days(2));
        owner_says(&app, "wamid.O2", "#1 Kak, masih ada?").await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE status = 'held'").await, 2);
        app.clock.advance(Duration::days(5) + Duration::minutes(1));
        app.drain().await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE status = 'not_delivered'").await, 2, "the whole batch");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'message.not_delivered'").await, 1);
        let told = app.sent_to(OWNER);
        assert!(told.iter().any(|t| t.contains("tidak terkirim")), "{told:?}");

        // Too late: the customer's next message does not send the expired reply.
        app.providers.accept_recipient(CUSTOMER);
        let before = to_customer(&app).len();
        post(&app, &customer(1), customer(1).text("wamid.C2", "Halo?", app.clock.now().timestamp())).await;
        let late = to_customer(&app).iter().skip(before).filter(|r| r.text().contains("ganti besok")).count();
        assert_eq!(late, 0);
    }
}

on_both_databases! {
    async fn without_an_approved_follow_up_a_late_reply_is_reported_undeliverable(app) {
        waiting_ticket(&app).await;
        owner_says(&app, "wamid.O1", "#1 Maaf kak").await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE status = 'held'").await, 0);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'message.undeliverable'").await, 1);
    }
}
