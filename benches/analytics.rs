//! `/api/v1/analytics` over a year with one million messages, through the real server, on
//! SQLite and (with `BALAS_BENCH_POSTGRES_URL`) on PostgreSQL as a role under RLS.
//! Run: `BALAS_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench analytics`
//! (`BALAS_BENCH_MESSAGES` changes the size.) Prints the figures for BENCHMARKS.md.
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use balas::analytics::rollup;
use balas::api::auth::{Claims, Role, TokenKeys};
use balas::app::{AppConfig, AppState};
use balas::domain::{
    Author, ContactId, ConversationId, ConversationState, Direction, EscalationId, EscalationReason, MessageId,
    MessageKind, TenantId, TicketStatus,
};
use balas::store::{
    ContactRecord, ConversationRecord, EscalationRecord, LlmCall, LlmUsage, MessageRecord, Store, TenantTx,
};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod common;

const CONTACTS: usize = 20_000;
const DAYS: i64 = 365;
const JWT_SECRET: &str = "bench-jwt-secret-bench-jwt-secret-0123456789";
const RUNS: usize = 15;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let messages: usize = std::env::var("BALAS_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    // BALAS_BENCH_SQLITE_FILE keeps the database for a look at query plans afterwards.
    let file =
        std::env::var("BALAS_BENCH_SQLITE_FILE").unwrap_or_else(|_| dir.path().join("bench.db").display().to_string());
    let sqlite_url = format!("sqlite://{file}");
    let store = balas::store::connect(&sqlite_url).await?;
    store.migrate(None).await?;
    run("SQLite", store, messages).await?;
    if let Ok(admin) = std::env::var("BALAS_BENCH_POSTGRES_URL") {
        let database = common::BenchDatabase::create(&admin).await?;
        let result = run("PostgreSQL (app role, RLS on)", database.store.clone(), messages).await;
        database.drop_database().await?;
        result?;
    }
    Ok(())
}

async fn run(label: &str, store: Arc<dyn Store>, messages: usize) -> anyhow::Result<()> {
    println!("\n## {label}: {messages} messages over {DAYS} days, {CONTACTS} customers");
    let keys = common::fresh_keys()?;
    let now = balas::clock::Clock::now(&balas::clock::SystemClock);
    let business = balas::demo::seed(&*store, &keys, now - Duration::days(DAYS + 1)).await?;
    let tenant = business.tenant.id;

    let started = Instant::now();
    let written = generate(&*store, tenant, business.channel.id, messages, now).await?;
    println!("generated {written} messages in {:.0} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let mut passes = 0;
    loop {
        let mut tx = store.begin(tenant).await?;
        let pass = rollup::roll_up(&mut *tx, chrono_tz::Asia::Jakarta, now).await?;
        tx.commit().await?;
        passes += 1;
        if pass.caught_up {
            break;
        }
    }
    println!("rollup from scratch: {passes} passes, {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let mut tx = store.begin(tenant).await?;
    rollup::roll_up(&mut *tx, chrono_tz::Asia::Jakarta, now).await?;
    tx.commit().await?;
    println!("a caught-up pass (today again): {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    steps_of_a_pass(&*store, tenant, now).await?;

    let config = AppConfig { workers: 0, jwt_secret: Some(JWT_SECRET.into()), ..AppConfig::default() };
    let state = AppState::with_system_clock(store.clone(), keys, config)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let stop = CancellationToken::new();
    tokio::spawn(balas::app::serve(listener, state, stop.clone()));
    let claims = Claims::new(tenant, Role::Analytics, "bench", Duration::hours(1), now);
    let token = TokenKeys::new(&JWT_SECRET.into())?.issue(&claims)?;
    let http = reqwest::Client::new();
    let today = now.with_timezone(&chrono_tz::Asia::Jakarta).date_naive();
    let year_ago = today - Duration::days(DAYS);
    println!("\n| request | min | median | p90 | max |\n|---|---|---|---|---|");
    for (name, query) in [
        ("a year by day (366 buckets)", format!("from={year_ago}&to={today}&granularity=day")),
        ("a year by week (53 buckets)", format!("from={year_ago}&to={today}&granularity=week")),
        ("the last 30 days by day (default)", String::new()),
    ] {
        let url = format!("{base}/api/v1/analytics?{query}");
        let mut times = Vec::new();
        for run in 0..=RUNS {
            let started = Instant::now();
            let response = http.get(&url).bearer_auth(&token).send().await?;
            anyhow::ensure!(response.status().is_success(), "{name}: {}", response.status());
            let body: serde_json::Value = response.json().await?;
            let elapsed = started.elapsed();
            if run == 0 {
                let inbound = &body["total"]["messages"]["inbound"];
                println!("<!-- {name}: total inbound {inbound}, customers {} -->", body["total"]["customers"]);
            } else {
                times.push(elapsed);
            }
        }
        times.sort();
        let ms = |p| format!("{:.0} ms", common::percentile_ms(&times, p));
        println!("| {name} | {} | {} | {} | {} |", ms(1), ms(50), ms(90), ms(100));
    }
    stop.cancel();
    store.close().await;
    Ok(())
}

/// Times each statement of a caught-up pass over today, to see where a pass spends its time.
async fn steps_of_a_pass(store: &dyn Store, tenant: TenantId, now: DateTime<Utc>) -> anyhow::Result<()> {
    let zone = chrono_tz::Asia::Jakarta;
    let today = now.with_timezone(&zone).date_naive();
    let (from, to) = (rollup::day_start(today, zone), rollup::day_start(today + Duration::days(1), zone));
    let key = balas::analytics::day_key(today);
    let monday = balas::analytics::week_of(today);
    let mut tx = store.begin(tenant).await?;
    let mut timings = Vec::new();
    let mut time = |name: &'static str, started: Instant| {
        timings.push(format!("{name} {:.1} ms", started.elapsed().as_secs_f64() * 1000.0))
    };
    let started = Instant::now();
    let facts = tx.message_facts(from, to, to + Duration::days(1)).await?;
    time("message_facts", started);
    let started = Instant::now();
    let escalated: HashSet<ConversationId> =
        tx.escalations_opened(from, to).await?.iter().map(|t| t.conversation_id).collect();
    time("escalations_opened", started);
    let rows = rollup::conversation_days(today, from, to, &facts, &escalated);
    let started = Instant::now();
    tx.upsert_conversation_days(&rows).await?;
    time("upsert_conversation_days", started);
    let started = Instant::now();
    let figures = tx.conversation_day_figures(&key).await?;
    time("conversation_day_figures", started);
    let started = Instant::now();
    tx.llm_totals(from, to).await?;
    tx.dead_letters_between(from, to).await?;
    time("llm_totals+dead_letters", started);
    let started = Instant::now();
    tx.replace_day_metrics(&key, &figures).await?;
    time("replace_day_metrics", started);
    let started = Instant::now();
    tx.distinct_customers(&balas::analytics::day_key(monday), &balas::analytics::day_key(monday + Duration::days(6)))
        .await?;
    time("distinct_customers(week)", started);
    let started = Instant::now();
    tx.escalations_changed_since(from).await?;
    time("escalations_changed_since", started);
    drop(tx);
    println!("steps ({} rows, {} facts): {}", rows.len(), facts.len(), timings.join(", "));
    Ok(())
}

/// A year of traffic: each conversation-day has two questions the bot answers in 1–8 s; 8 % of
/// them open a ticket the owner answers within 3 hours. One LLM call per conversation-day.
async fn generate(
    store: &dyn Store,
    tenant: TenantId,
    channel: balas::domain::ChannelId,
    messages: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut rng = StdRng::seed_from_u64(7);
    let start = now - Duration::days(DAYS);
    let mut people = Vec::with_capacity(CONTACTS);
    let mut tx = store.begin(tenant).await?;
    for _ in 0..CONTACTS {
        let contact = ContactRecord {
            id: ContactId::new(),
            tenant_id: tenant,
            wrapped_key: "bench".into(),
            bsuid_index: None,
            phone_index: None,
            bsuid_enc: None,
            phone_enc: None,
            username_enc: None,
            name_enc: None,
            bot_stopped_at: None,
            created_at: start,
            updated_at: start,
        };
        tx.insert_contact(&contact).await?;
        let conversation = ConversationRecord {
            id: ConversationId::new(),
            tenant_id: tenant,
            channel_id: channel,
            contact_id: contact.id,
            state: ConversationState::Bot,
            escalation_reason: None,
            last_inbound_at: None,
            window_closed_at: None,
            created_at: start,
            updated_at: start,
            chat_index: Vec::new(),
            chat_enc: None,
        };
        tx.insert_conversation(&conversation).await?;
        people.push((contact.id, conversation.id));
    }
    tx.commit().await?;

    let per_day = messages * 100 / 408 / DAYS as usize;
    let (mut written, mut number) = (0, 0);
    let reasons = ["keyword", "no_confident_answer", "repeated_question", "outside_hours"];
    for day in 0..DAYS {
        let mut tx = store.begin(tenant).await?;
        let mut busy = HashSet::new();
        while busy.len() < per_day {
            let (contact, conversation) = people[rng.random_range(0..CONTACTS)];
            if !busy.insert(conversation) {
                continue;
            }
            let mut at = start + Duration::days(day) + Duration::seconds(rng.random_range(3_600..50_000));
            let mut last_question = None;
            for _ in 0..2 {
                let question = message(tenant, channel, conversation, contact, "in", "customer", None, at);
                let delay = Duration::milliseconds(rng.random_range(1_000..8_000));
                let answer =
                    message(tenant, channel, conversation, contact, "out", "bot", Some(question.id), at + delay);
                last_question = Some(question.id);
                tx.insert_message(&question).await?;
                tx.insert_message(&answer).await?;
                written += 2;
                at += Duration::seconds(rng.random_range(60..900));
            }
            record_llm(&mut *tx, tenant, at).await?;
            if rng.random_range(0..100) < 8 {
                number += 1;
                let answered = at + Duration::minutes(rng.random_range(5..180));
                let reason = reasons[rng.random_range(0..reasons.len())];
                let ticket = ticket(tenant, number, conversation, contact, last_question, reason, at, answered);
                if ticket.answered_at.is_some_and(|a| a < now) {
                    tx.insert_escalation(&ticket).await?;
                    // Inserting opens a ticket; its answer and closing are written as the owner loop does.
                    tx.update_escalation(&ticket).await?;
                    tx.insert_message(&message(tenant, channel, conversation, contact, "out", "owner", None, answered))
                        .await?;
                    written += 1;
                }
            }
        }
        tx.commit().await?;
    }
    Ok(written)
}

#[allow(clippy::too_many_arguments)]
fn message(
    tenant: TenantId,
    channel: balas::domain::ChannelId,
    conversation: ConversationId,
    contact: ContactId,
    direction: &str,
    author: &str,
    reply_to: Option<MessageId>,
    at: DateTime<Utc>,
) -> MessageRecord {
    MessageRecord {
        id: MessageId::new(),
        tenant_id: tenant,
        channel_id: channel,
        conversation_id: conversation,
        contact_id: contact,
        direction: Direction::parse(direction).expect("a direction code"),
        author: Author::parse(author).expect("an author code"),
        kind: MessageKind::Text,
        body_enc: None,
        meta_enc: None,
        provider_message_id: Some(uuid::Uuid::new_v4().to_string()),
        reply_to,
        part: 0,
        status: if direction == "in" { "received".into() } else { "sent".into() },
        status_rank: 0,
        error_code: None,
        sent_at: (direction == "out").then_some(at + Duration::milliseconds(400)),
        created_at: at,
        updated_at: at,
    }
}

#[allow(clippy::too_many_arguments)]
fn ticket(
    tenant: TenantId,
    number: i32,
    conversation: ConversationId,
    contact: ContactId,
    trigger: Option<MessageId>,
    reason: &str,
    opened: DateTime<Utc>,
    answered: DateTime<Utc>,
) -> EscalationRecord {
    EscalationRecord {
        id: EscalationId::new(),
        tenant_id: tenant,
        number,
        conversation_id: conversation,
        contact_id: contact,
        trigger_message_id: trigger,
        reason: EscalationReason::parse(reason).expect("a reason code"),
        status: TicketStatus::Resolved,
        summary_enc: None,
        draft_enc: None,
        opened_at: opened,
        notified_at: Some(opened),
        renotified: 0,
        customer_notified_at: None,
        window_warned_at: None,
        answered_at: Some(answered),
        last_owner_at: Some(answered),
        closed_at: Some(answered + Duration::minutes(30)),
        closed_by: Some("bench".into()),
    }
}

async fn record_llm(tx: &mut dyn TenantTx, tenant: TenantId, at: DateTime<Utc>) -> anyhow::Result<()> {
    let call = LlmCall {
        model: "bench".into(),
        outcome: "replied".into(),
        prompt_tokens: 700,
        completion_tokens: 80,
        latency_ms: 900,
        cost_micro_usd: 120,
        own_key: false,
    };
    tx.insert_llm_usage(&LlmUsage { id: uuid::Uuid::now_v7(), tenant_id: tenant, message_id: None, call, at }).await?;
    Ok(())
}
