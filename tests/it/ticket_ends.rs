//! [4/10] Every ticket has an end, with the fake clock, on both databases: the owner-response
//! target tells the customer when to expect an answer (the next opening when the shop is
//! closed), the resume limit gives an unanswered ticket back to the bot as `unanswered`, a
//! resolved ticket is announced, and a notice outside the 24-hour window is recorded, not sent.
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::fakes::meta_webhook::FakeCustomer;
use balas::owner::digest;
use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::helpers::{Db, TestApp, customer};

const OWNER: &str = "6281100000010";

async fn say(app: &TestApp, who: &FakeCustomer, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(who, wamid, text)).await.status().as_u16(), 200);
    app.drain().await;
}

fn owner() -> FakeCustomer {
    FakeCustomer { bsuid: None, phone: Some(OWNER.into()), name: "Bu Sri".into(), username: None }
}

async fn wait(app: &TestApp, by: Duration) {
    app.clock.advance(by);
    app.drain().await;
}

fn to(n: u32) -> String {
    customer(n).phone.unwrap()
}

/// 10:00 WIB on 20 November 2026; the shop is open 08:00–21:00.
async fn target_and_resume(app: TestApp) {
    app.add_owner(OWNER, None).await;
    app.inspect.execute("UPDATE tenants SET business_hours = '08:00-21:00', timezone = 'Asia/Jakarta'").await;
    say(&app, &customer(1), "wamid.E1", "Saya mau komplain, pesanan saya salah").await;
    assert_eq!(app.sent_to(&to(1)).len(), 1, "the holding message");

    // The 2-hour target passes while the shop is open: "secepatnya".
    wait(&app, Duration::minutes(119)).await;
    assert_eq!(app.sent_to(&to(1)).len(), 1, "not before the target");
    wait(&app, Duration::minutes(2)).await;
    let notice = app.sent_to(&to(1)).pop().unwrap_or_default();
    assert!(notice.contains("belum sempat membalas") && notice.contains("secepatnya"), "{notice}");
    wait(&app, Duration::hours(3)).await;
    assert_eq!(app.sent_to(&to(1)).len(), 2, "told once");

    // 24 hours after it opened, nobody having answered, the bot carries on.
    let state = "SELECT state FROM conversations";
    wait(&app, Duration::hours(24) - Duration::minutes(121) - Duration::hours(3) - Duration::minutes(1)).await;
    assert_eq!(app.inspect.text(state).await.as_deref(), Some("escalated"), "not before the resume limit");
    wait(&app, Duration::minutes(2)).await;
    assert_eq!(app.inspect.text(state).await.as_deref(), Some("bot"));
    assert_eq!(app.inspect.text("SELECT status FROM escalations").await.as_deref(), Some("unanswered"));
    assert!(
        app.sent_to(OWNER).last().is_some_and(|m| m.contains("#1") && m.contains("tak terjawab")),
        "{:?}",
        app.sent_to(OWNER)
    );
    assert_eq!(
        app.inspect
            .scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.unanswered' AND actor = 'timer'")
            .await,
        1
    );
    say(&app, &customer(1), "wamid.E2", "Jam buka kapan?").await;
    assert!(app.sent_to(&to(1)).pop().is_some_and(|m| m.contains("08.00")), "the bot answers again");

    // The API shows the state; the next digest counts it.
    let token = app.token(app.tenant.id, Role::Owner);
    let (status, list) = app.call("GET", "/api/v1/escalations?status=all", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(list["escalations"][0]["status"], "unanswered", "{list}");
    assert_eq!(digest::schedule_all(&*app.state.store, 4, app.clock.now()).await.unwrap(), 1);
    wait(&app, Duration::days(1)).await;
    let digests: Vec<String> = app.sent_to(OWNER).into_iter().filter(|m| m.starts_with("📊")).collect();
    assert!(digests.iter().any(|d| d.contains("1 tiket tak terjawab")), "{digests:?}");
}

/// 20:30 WIB: the shop closes before the target passes; at closing time the customer is told
/// the answer comes at the next opening.
async fn near_closing_time(app: TestApp) {
    app.add_owner(OWNER, None).await;
    app.inspect.execute("UPDATE tenants SET business_hours = '08:00-21:00', timezone = 'Asia/Jakarta'").await;
    say(&app, &customer(2), "wamid.F1", "Saya mau komplain, kuenya rusak").await;
    wait(&app, Duration::minutes(29)).await;
    assert_eq!(app.sent_to(&to(2)).len(), 1, "not before closing time");
    wait(&app, Duration::minutes(2)).await;
    let notice = app.sent_to(&to(2)).pop().unwrap_or_default();
    assert!(notice.contains("saat toko buka lagi, besok pukul 08:00"), "{notice}");
}

/// Resolved tickets are announced when the tenant wants; a notice that would fall outside the
/// customer's window is recorded as not sent, and never retried.
async fn resolved_and_window_closed(app: TestApp) {
    app.add_owner(OWNER, None).await;
    say(&app, &customer(3), "wamid.G1", "Saya mau komplain").await;
    say(&app, &owner(), "wamid.G2", "#1 selesai").await;
    let announced = app.sent_to(&to(3)).pop().unwrap_or_default();
    assert!(announced.contains("sudah selesai ditangani oleh Warung Kopi Bu Sri"), "{announced}");

    app.inspect.execute("UPDATE tenants SET announce_resolved = false").await;
    say(&app, &customer(4), "wamid.G3", "Saya mau komplain").await;
    say(&app, &owner(), "wamid.G4", "#2 selesai").await;
    assert_eq!(app.sent_to(&to(4)).len(), 1, "the holding message only");

    // A 25-hour target, no resume: when it passes, the window closed an hour before.
    app.inspect.execute("UPDATE tenants SET response_target_minutes = 1500, resume_after_hours = 0").await;
    say(&app, &customer(5), "wamid.G5", "Saya mau komplain").await;
    wait(&app, Duration::hours(25) + Duration::minutes(1)).await;
    wait(&app, Duration::hours(5)).await;
    assert_eq!(app.sent_to(&to(5)).len(), 1, "nothing sent outside the window");
    let not_sent = "SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.customer_notice_not_sent' AND detail LIKE '%window_closed%'";
    assert_eq!(app.inspect.scalar(not_sent).await, 1, "recorded once, not retried");
}

async fn spawn(db: Db, at: DateTime<Utc>) -> Option<TestApp> {
    TestApp::spawn_at(db, at).await
}

fn at_wib(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, hour, minute, 0).unwrap() - Duration::hours(7)
}

macro_rules! both {
    ($($name:ident: $body:ident at ($h:expr, $m:expr);)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = spawn(Db::Sqlite, at_wib($h, $m)).await {
                    $body(app).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(balas_test_postgres), ignore = "set BALAS_TEST_POSTGRES_URL to run the PostgreSQL variant")]
            async fn postgres() {
                if let Some(app) = spawn(Db::Postgres, at_wib($h, $m)).await {
                    $body(app).await
                }
            }
        }
    )*};
}

both! {
    the_target_tells_the_customer_and_the_resume_limit_ends_an_unanswered_ticket: target_and_resume at (10, 0);
    a_customer_writing_near_closing_time_is_told_the_next_opening: near_closing_time at (20, 30);
    resolved_tickets_are_announced_and_notices_outside_the_window_are_recorded: resolved_and_window_closed at (10, 0);
}
