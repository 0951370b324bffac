//! Retention across each boundary on a fake clock: messages after the tenant's period,
//! LLM usage and technical records after 90 days, audit rows after 12 whole months (with a
//! checkpoint `audit verify` accepts), and a cancelled tenant 30 days after `tenant cancel`.
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::fakes::meta_webhook::FakeCustomer;
use balas::privacy::retention::{self, run_tenant};
use balas::store::{LlmCall, LlmUsage};
use chrono::Duration;
use serde_json::json;

use crate::helpers::{TestApp, customer};

const OWNER: &str = "6281100000009";
use crate::on_both_databases;

async fn say(app: &TestApp, who: &FakeCustomer, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(who, wamid, text)).await.status().as_u16(), 200);
    app.drain().await;
}

async fn one_llm_call(app: &TestApp) {
    let usage = LlmUsage {
        id: uuid::Uuid::now_v7(),
        tenant_id: app.tenant.id,
        message_id: None,
        call: LlmCall {
            model: "m".into(),
            outcome: "replied".into(),
            prompt_tokens: 10,
            completion_tokens: 5,
            latency_ms: 100,
            cost_micro_usd: 1,
            own_key: false,
        },
        at: app.clock.now(),
    };
    let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
    tx.insert_llm_usage(&usage).await.unwrap();
    tx.commit().await.unwrap();
}

async fn pass(app: &TestApp) -> retention::RetentionRun {
    run_tenant(&*app.state.store, app.tenant.id, app.clock.now()).await.unwrap().expect("the tenant is live")
}

on_both_databases! {
    async fn messages_llm_usage_and_technical_records_go_at_their_boundaries(app) {
        let token = app.token(app.tenant.id, Role::Owner);
        assert_eq!(app.call("PATCH", "/api/v1/settings", &token, Some(json!({ "message_retention_days": 30 }))).await.0, 200);
        assert_eq!(app.call("PATCH", "/api/v1/settings", &token, Some(json!({ "message_retention_days": 0 }))).await.0, 400);
        // Day 0: an answered question, a ticket with its notice closed by the owner, LLM usage,
        // and a question whose answer only comes on day 29 (a newer reply to an old message).
        say(&app, &customer(1), "wamid.R1", "Jam buka kapan?").await;
        app.add_owner(OWNER, None).await;
        // Resolved tickets are not announced here: the message counts below are the ticket's own.
        app.inspect.execute("UPDATE tenants SET announce_resolved = false").await;
        say(&app, &customer(2), "wamid.R2", "Saya mau komplain").await;
        let owner = FakeCustomer { bsuid: None, phone: Some(OWNER.into()), name: "Bu Sri".into(), username: None };
        say(&app, &owner, "wamid.R3", "#1 selesai").await;
        one_llm_call(&app).await;
        app.send_webhook(&app.text(&customer(3), "wamid.R4", "Ada menu apa?")).await;
        assert_eq!(app.count("messages").await, 5);

        // Through the job `serve` schedules: nothing is old enough yet; it comes back tomorrow.
        app.clock.advance(Duration::days(29));
        assert_eq!(retention::schedule_all(&*app.state.store, 4, app.clock.now()).await.unwrap(), 1);
        assert_eq!(retention::schedule_all(&*app.state.store, 4, app.clock.now()).await.unwrap(), 0, "one job per tenant");
        app.drain().await;
        assert_eq!(app.count("messages").await, 6, "29 days < 30; the late answer is stored");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'retention' AND state = 'queued'").await, 1, "rescheduled");
        say(&app, &customer(4), "wamid.R5", "Jam buka kapan?").await;

        app.clock.advance(Duration::days(2));
        app.drain().await;
        assert_eq!(app.count("messages").await, 3, "day 0 went at day 31; day 29 stays, the late answer too");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND reply_to IS NULL").await, 1, "the late answer stays, unlinked");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE reply_to IS NOT NULL").await, 1, "day 29's answer keeps its link");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations").await, 0, "the closed ticket went");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages").await, 0, "and what the owner exchanged about it");
        assert_eq!(app.inspect.scalar("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM activity_counts WHERE metric = 'messages_in'").await, 3, "kept as anonymous counts");
        assert_eq!(app.inspect.scalar("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM activity_counts WHERE metric = 'escalations'").await, 1);
        let detail = app.inspect.text("SELECT detail FROM audit_log WHERE action = 'retention.purged'").await.unwrap();
        assert!(detail.contains("\"messages\":5"), "{detail}");
        // Analytics caught up first, so day 0 still counts; its rows no longer name the customers.
        let day0_inbound = "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) FROM analytics_days WHERE metric = 'inbound'";
        assert_eq!(app.inspect.scalar(day0_inbound).await, 4, "3 on day 0 and 1 on day 29");
        let identified = "SELECT COUNT(*) FROM analytics_conversation_days a WHERE EXISTS (SELECT 1 FROM contacts c WHERE c.id = a.contact_id)";
        assert_eq!(app.inspect.scalar(identified).await, 2, "only day 29's rows (customer 4, and customer 3's late answer) keep their customer");
        assert!(detail.contains("\"analytics_rows_anonymized\":3"), "{detail}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM llm_usage").await, 1, "usage stays 90 days");

        app.clock.advance(Duration::days(60));
        let run = pass(&app).await;
        assert_eq!((run.llm_usage, run.content.messages), (1, 3), "{run:?}");
        assert!(run.technical >= 2, "the finished respond and send jobs of day 0: {run:?}");
        let verify = app.cli(&["audit", "verify"]);
        assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    }

    async fn a_cancelled_tenant_stops_at_once_and_is_purged_after_thirty_days(app) {
        say(&app, &customer(1), "wamid.T1", "Jam buka kapan?").await;
        let set = app.cli(&["template", "set", "--tenant", &app.tenant.slug, "--channel", &app.channel.id.to_string(),
            "--purpose", "owner_reminder", "--status", "approved"]);
        assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
        assert!(!app.cli(&["tenant", "cancel", "--tenant", &app.tenant.slug]).status.success(), "needs --yes");
        let out = app.cli(&["tenant", "cancel", "--tenant", &app.tenant.slug, "--yes"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(app.state.channel_cache.get(app.channel.id).is_some(), "the channel is still cached");
        let response = app.send_webhook(&app.text(&customer(2), "wamid.T2", "Halo?")).await;
        assert_eq!(response.status().as_u16(), 404, "webhooks stop at once");
        assert_eq!(app.count("inbound").await, 1, "even with the channel still in the channel cache");

        app.clock.advance(Duration::days(29));
        assert_eq!(pass(&app).await.tenant_rows, None, "29 days: the owner can still export");
        app.clock.advance(Duration::days(2));
        let run = pass(&app).await;
        assert!(run.tenant_rows.unwrap() > 5, "{run:?}");
        for table in ["contacts", "messages", "conversations", "jobs"] {
            assert_eq!(app.count(table).await, 0, "{table}");
        }
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM channel_templates").await, 0);
        assert_eq!(app.inspect.text("SELECT status FROM tenants").await.as_deref(), Some("purged"));
        assert_eq!(app.inspect.text("SELECT wrapped_key FROM tenants").await.as_deref(), Some(""), "the tenant key is destroyed");
        let later = run_tenant(&*app.state.store, app.tenant.id, app.clock.now()).await.unwrap();
        assert_eq!(later, Some(retention::RetentionRun::default()), "passes go on (the audit still ages out), with nothing else left");
        assert!(app.state.store.tenant_ids().await.unwrap().contains(&app.tenant.id), "still walked by retention");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.purged'").await, 1);
        let verify = app.cli(&["audit", "verify", "--tenant", &app.tenant.id.to_string()]);
        assert!(verify.status.success(), "the audit outlives the data: {}", String::from_utf8_lossy(&verify.stdout));
    }
}

/// Starts 400 days back, so the database's own clock (which the PostgreSQL purge function
/// checks) agrees the first rows are more than 12 whole months old.
mod audit_rows_go_in_whole_months_after_a_year_and_the_chain_still_verifies {
    use super::*;
    use crate::helpers::Db;

    async fn body(app: TestApp) {
        say(&app, &customer(1), "wamid.A1", "Jam buka kapan?").await;
        let early = app.count("audit_log").await;
        app.clock.advance(Duration::days(40));
        say(&app, &customer(2), "wamid.A2", "Ada menu apa?").await;

        // A year after the first rows: their month is not yet 12 whole months back.
        app.clock.advance(Duration::days(325));
        assert_eq!(pass(&app).await.audit_rows, 0);
        app.clock.advance(Duration::days(31));
        let run = pass(&app).await;
        assert_eq!(run.audit_rows as i64, early, "the first month's rows, and only those");
        let verify = app.cli(&["audit", "verify", "--tenant", &app.tenant.slug]);
        assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));

        // A checkpoint nobody recorded in the chain (rows removed behind its back) is refused.
        app.inspect.execute("INSERT INTO audit_checkpoints (tenant_id, through_seq, hash, at, purged_rows) SELECT tenant_id, seq, hash, at, 0 FROM audit_log WHERE seq = (SELECT MAX(seq) - 2 FROM audit_log)").await;
        let verify = app.cli(&["audit", "verify", "--tenant", &app.tenant.slug]);
        assert!(!verify.status.success());
        assert!(String::from_utf8_lossy(&verify.stdout).contains("without an audit.purged record"));
    }

    async fn spawn(db: Db) -> Option<TestApp> {
        TestApp::spawn_at(db, chrono::Utc::now() - Duration::days(400)).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(app) = spawn(Db::Sqlite).await {
            body(app).await
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(balas_test_postgres), ignore = "set BALAS_TEST_POSTGRES_URL to run the PostgreSQL variant")]
    async fn postgres() {
        if let Some(app) = spawn(Db::Postgres).await {
            body(app).await
        }
    }
}
