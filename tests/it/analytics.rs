//! `/api/v1/analytics`: what the rollup counts, by local day and week, for owner and
//! analytics tokens only, with nothing personal in it; erasure keeps the figures.
use balas::analytics::report::Granularity;
use balas::analytics::{report, rollup};
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::fakes::meta_webhook::FakeCustomer;
use balas::store::{LlmCall, LlmUsage};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, customer};
use crate::on_both_databases;

async fn say(app: &TestApp, who: &FakeCustomer, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(who, wamid, text)).await.status().as_u16(), 200);
    // The bot's answer goes out 3 s later.
    app.clock.advance(Duration::seconds(3));
    app.drain().await;
}

async fn roll_up(app: &TestApp) {
    rollup::schedule_all(&*app.state.store, 4, app.clock.now()).await.unwrap();
    app.drain().await;
}

async fn record_llm_call(app: &TestApp) {
    let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
    let call = LlmCall {
        model: "test-model".into(),
        outcome: "replied".into(),
        prompt_tokens: 900,
        completion_tokens: 100,
        latency_ms: 800,
        cost_micro_usd: 2_500,
        own_key: false,
    };
    let usage =
        LlmUsage { id: uuid::Uuid::now_v7(), tenant_id: app.tenant.id, message_id: None, call, at: app.clock.now() };
    tx.insert_llm_usage(&usage).await.unwrap();
    tx.commit().await.unwrap();
}

/// Moves the test clock just past the shop's midnight (Jakarta) when less than `margin` is left
/// before it, so a test's activity falls on one local day whatever the hour it runs.
pub fn clear_of_midnight(app: &TestApp, margin: Duration) {
    let local = app.clock.now().with_timezone(&chrono_tz::Asia::Jakarta).naive_local();
    let midnight = (local.date() + Duration::days(1)).and_time(chrono::NaiveTime::MIN);
    if midnight - local < margin {
        app.clock.advance(midnight - local + Duration::minutes(1));
    }
}

on_both_databases! {
    async fn analytics_count_what_happened_and_keep_it_after_erasure(app) {
        clear_of_midnight(&app, Duration::hours(1));
        say(&app, &customer(1), "wamid.A1", "Jam buka kapan?").await;
        say(&app, &customer(2), "wamid.A2", "Saya mau komplain soal pesanan").await;
        say(&app, &customer(1), "wamid.A3", "Alamat toko di mana?").await;
        let owner = app.token(app.tenant.id, Role::Owner);
        let (_, open) = app.call("GET", "/api/v1/escalations", &owner, None).await;
        let ticket = open["escalations"][0].clone();
        app.clock.advance(Duration::minutes(20));
        let reply = json!({ "text": "Maaf kak, kami cek dulu" });
        let (status, _) = app.call("POST", &format!("/api/v1/escalations/{}/reply", ticket["id"].as_str().unwrap()), &owner, Some(reply)).await;
        assert_eq!(status, 200);
        app.drain().await;
        record_llm_call(&app).await;
        assert_eq!(app.call("POST", "/api/v1/requests", &owner, Some(json!({ "kind": "access" }))).await.0, 201);
        roll_up(&app).await;

        let analyst = app.token(app.tenant.id, Role::Analytics);
        let (status, body) = app.call("GET", "/api/v1/analytics", &analyst, None).await;
        assert_eq!(status, 200, "{body}");
        let total = &body["total"];
        assert_eq!(total["messages"], json!({ "inbound": 3, "outbound_bot": 2, "outbound_owner": 1, "outbound_system": total["messages"]["outbound_system"] }));
        assert!(total["messages"]["outbound_system"].as_i64().unwrap() >= 1, "the holding message: {total}");
        assert_eq!((total["customers"].as_i64(), total["conversations"].as_i64()), (Some(2), Some(2)));
        assert_eq!(total["bot_resolved"], json!({ "count": 1, "share": 0.5 }));
        assert_eq!(total["escalated"], json!({ "count": 1, "share": 0.5 }));
        assert_eq!(total["escalations"], json!({ "opened": 1, "reasons": { "keyword": 1 }, "unanswered": 0 }));
        assert_eq!(total["bot_first_response_seconds"], json!({ "samples": 1, "p50": 3.0, "p90": 3.0 }));
        assert_eq!(total["owner_response_seconds"]["p50"].as_f64(), Some(1203.0));
        assert_eq!(total["tickets"], json!({ "open": 1, "overdue": 0 }));
        assert_eq!(total["llm"], json!({ "calls": 1, "prompt_tokens": 900, "completion_tokens": 100, "estimated_cost_usd": 0.0025, "estimated_cost_idr": 40.0 }));
        assert_eq!((total["dead_letters"].as_i64(), total["data_requests_open"].as_i64()), (Some(0), Some(1)));
        assert_eq!(body["now"]["open_tickets"], 1);
        assert_eq!(body["buckets"].as_array().unwrap().len(), 30, "the last 30 days by default");
        let text = body.to_string();
        for personal in ["628123456", "Budi", "komplain", "Jam buka", "Maaf kak", "test-model"] {
            assert!(!text.contains(personal), "{personal} leaked into analytics");
        }
        let by_week = app.call("GET", "/api/v1/analytics?granularity=week", &owner, None).await.1;
        let weekly: i64 = by_week["buckets"].as_array().unwrap().iter().map(|b| b["messages"]["inbound"].as_i64().unwrap()).sum();
        assert_eq!(weekly, 3);

        // Staff tokens and malformed ranges are refused with JSON errors.
        let staff = app.token(app.tenant.id, Role::Staff);
        assert_eq!(app.call("GET", "/api/v1/analytics", &staff, None).await.0, 403);
        let tomorrow = (balas::clock::Clock::now(&*app.clock) + Duration::days(2)).date_naive();
        for query in ["from=2026-02-30", "granularity=month", "from=2026-11-10&to=2026-11-01", "from=2025-01-01&to=2026-06-01", "tenant=x",
            "to=-262143-01-01", "from=%2B262142-12-31&to=%2B262142-12-31", "from=1999-12-31", &format!("to={tomorrow}")] {
            let (status, error) = app.call("GET", &format!("/api/v1/analytics?{query}"), &owner, None).await;
            assert_eq!(status, 400, "{query}: {error}");
            assert!(error["error"].is_string(), "{query}: {error}");
        }

        // Erasing customer 2 keeps every figure but unlinks the rows from them.
        let conversation: balas::domain::ConversationId = ticket["conversation_id"].as_str().unwrap().parse().unwrap();
        let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
        let contact = tx.conversation(conversation).await.unwrap().unwrap().contact_id;
        drop(tx);
        let (status, _) = app.call("DELETE", &format!("/api/v1/contacts/{contact}"), &owner, None).await;
        assert_eq!(status, 200);
        roll_up(&app).await;
        let after = app.call("GET", "/api/v1/analytics", &analyst, None).await.1;
        for figure in ["messages", "customers", "conversations", "escalated", "escalations", "owner_response_seconds", "bot_first_response_seconds"] {
            assert_eq!(after["total"][figure], total[figure], "{figure} changed after erasure");
        }
        // The erased customer's open ticket is gone, so it no longer counts as open.
        assert_eq!((after["now"]["open_tickets"].as_i64(), after["total"]["tickets"]["open"].as_i64()), (Some(0), Some(0)));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM analytics_tickets WHERE closed_at IS NULL").await, 0);
        let hex = |id: uuid::Uuid| id.simple().to_string();
        let column = match app.db { Db::Sqlite => "lower(hex({c}))", Db::Postgres => "replace(CAST({c} AS TEXT), '-', '')" };
        for (c, id) in [("conversation_id", hex(conversation.0)), ("contact_id", hex(contact.0))] {
            let linked = format!("SELECT COUNT(*) FROM analytics_conversation_days WHERE {} = '{id}'", column.replace("{c}", c));
            assert_eq!(app.inspect.scalar(Box::leak(linked.into_boxed_str())).await, 0, "{c} still names the erased customer");
        }
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM analytics_conversation_days").await, 2);
    }
}

async fn local_days(app: TestApp) {
    // 23:30 WIB on Friday 20 November, then 00:30 on Saturday: two days, one customer, one week.
    say(&app, &customer(1), "wamid.L1", "Jam buka kapan?").await;
    app.clock.advance(Duration::hours(1));
    say(&app, &customer(1), "wamid.L2", "Alamat toko di mana?").await;
    roll_up(&app).await;
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
    let range = report::Range { from: day(19), to: day(22), granularity: Granularity::Day };
    let daily = report::build(&mut *tx, &app.tenant, range, (app.clock.now(), 16_000.0)).await.unwrap();
    let per_day: Vec<(i64, i64)> = daily.buckets.iter().map(|b| (b.messages.inbound, b.customers)).collect();
    assert_eq!(per_day, vec![(0, 0), (1, 1), (1, 1), (0, 0)]);
    // A conversation counts once per day it is active (like WhatsApp's 24-hour conversations);
    // a customer once per bucket.
    assert_eq!((daily.total.customers, daily.total.conversations, daily.total.messages.inbound), (1, 2, 2));
    let weekly = report::build(
        &mut *tx,
        &app.tenant,
        report::Range { granularity: Granularity::Week, ..range },
        (app.clock.now(), 16_000.0),
    )
    .await
    .unwrap();
    assert_eq!(weekly.buckets.len(), 1, "Thursday to Sunday lie in one week");
    let week: Value = serde_json::to_value(&weekly.buckets[0]).unwrap();
    assert_eq!((week["start"].as_str(), week["end"].as_str()), (Some("2026-11-19"), Some("2026-11-22")));
    assert_eq!((week["customers"].as_i64(), week["conversations"].as_i64()), (Some(1), Some(2)));
    // A whole week reads the rollup's weekly count.
    let whole = report::Range { from: day(16), to: day(22), granularity: Granularity::Week };
    let whole = report::build(&mut *tx, &app.tenant, whole, (app.clock.now(), 16_000.0)).await.unwrap();
    assert_eq!((whole.buckets.len(), whole.buckets[0].customers, whole.total.customers), (1, 1, 1));
    assert_eq!(app.inspect.scalar("SELECT customers FROM analytics_weeks").await, 1);
}

async fn spawn_late(db: Db) -> Option<TestApp> {
    TestApp::spawn_at(db, Utc.with_ymd_and_hms(2026, 11, 20, 16, 30, 0).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_follow_the_tenants_local_days_sqlite() {
    if let Some(app) = spawn_late(Db::Sqlite).await {
        local_days(app).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(balas_test_postgres), ignore = "set BALAS_TEST_POSTGRES_URL to run the PostgreSQL variant")]
async fn buckets_follow_the_tenants_local_days_postgres() {
    if let Some(app) = spawn_late(Db::Postgres).await {
        local_days(app).await
    }
}

async fn backfill(app: TestApp) {
    // A database with 45 days of history and no rollup yet: the job catches up in passes.
    say(&app, &customer(1), "wamid.B1", "Jam buka kapan?").await;
    app.clock.advance(Duration::days(45));
    say(&app, &customer(2), "wamid.B2", "Alamat toko di mana?").await;
    roll_up(&app).await;
    let now = app.clock.now();
    let today = now.with_timezone(&chrono_tz::Asia::Jakarta).date_naive();
    let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
    let range = report::Range { from: today - Duration::days(45), to: today, granularity: Granularity::Week };
    let report = report::build(&mut *tx, &app.tenant, range, (now, 16_000.0)).await.unwrap();
    assert_eq!((report.total.messages.inbound, report.total.customers), (2, 2), "both ends of the 45 days");
    assert_eq!(report.as_of, Some(now), "caught up to now");
    let rescheduled = "SELECT COUNT(*) FROM jobs WHERE kind = 'analytics_rollup' AND state = 'queued'";
    assert_eq!(app.inspect.scalar(rescheduled).await, 1, "and waiting for its next pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_rollup_backfills_in_passes_sqlite() {
    if let Some(app) = TestApp::spawn_at(Db::Sqlite, Utc::now() - Duration::days(45)).await {
        backfill(app).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(balas_test_postgres), ignore = "set BALAS_TEST_POSTGRES_URL to run the PostgreSQL variant")]
async fn a_first_rollup_backfills_in_passes_postgres() {
    if let Some(app) = TestApp::spawn_at(Db::Postgres, Utc::now() - Duration::days(45)).await {
        backfill(app).await
    }
}
