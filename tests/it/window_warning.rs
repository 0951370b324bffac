//! [5/10] The owner is warned once, 4 hours before a waiting customer's 24-hour window closes,
//! with the fake clock on both databases; again after the customer writes again; never once the
//! owner has answered.
use balas::fakes::meta_webhook::FakeCustomer;
use chrono::Duration;

use crate::helpers::{TestApp, customer};
use crate::on_both_databases;

const OWNER: &str = "6281100000011";

fn owner() -> FakeCustomer {
    FakeCustomer { bsuid: None, phone: Some(OWNER.into()), name: "Bu Sri".into(), username: None }
}

async fn say(app: &TestApp, who: &FakeCustomer, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(who, wamid, text)).await.status().as_u16(), 200);
    app.drain().await;
}

async fn wait(app: &TestApp, by: Duration) {
    app.clock.advance(by);
    app.drain().await;
}

fn warnings(app: &TestApp) -> Vec<String> {
    app.sent_to(OWNER).into_iter().filter(|m| m.starts_with('⏳')).collect()
}

on_both_databases! {
    async fn the_owner_is_warned_once_before_the_customers_window_closes(app) {
        app.add_owner(OWNER, None).await;
        // No resume limit, no idle hand-back: the ticket stays open past the window.
        app.inspect.execute("UPDATE tenants SET resume_after_hours = 0, human_idle_hours = 0").await;
        say(&app, &customer(1), "wamid.V1", "Saya mau komplain, pesanan saya salah").await;

        wait(&app, Duration::hours(20) - Duration::minutes(1)).await;
        assert!(warnings(&app).is_empty(), "not before 20 hours");
        wait(&app, Duration::minutes(2)).await;
        let sent = warnings(&app);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(sent[0].contains("#1") && sent[0].contains("menunggu 20 jam") && sent[0].contains("dalam 4 jam"), "{}", sent[0]);
        wait(&app, Duration::hours(3)).await;
        assert_eq!(warnings(&app).len(), 1, "once");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.window_warning'").await, 1);

        // The customer writes again: the window opens again, and so does the warning.
        wait(&app, Duration::hours(2)).await;
        say(&app, &customer(1), "wamid.V2", "Halo? Masih ditunggu ya").await;
        wait(&app, Duration::hours(20) + Duration::minutes(1)).await;
        assert_eq!(warnings(&app).len(), 2);

        // An answer after the customer's last message ends the warnings.
        wait(&app, Duration::hours(1)).await;
        say(&app, &customer(1), "wamid.V3", "Gimana kak?").await;
        say(&app, &owner(), "wamid.O1", "#1 Maaf kak, kami kirim ulang hari ini").await;
        wait(&app, Duration::hours(21)).await;
        assert_eq!(warnings(&app).len(), 2, "{:?}", warnings(&app));
    }
}
