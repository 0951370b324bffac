//! Runs of customer messages in one shared ingest transaction are stored with set-based
//! statements; the outcome must be what storing them one at a time, in order, would give.
use balas::audit::{self, Verdict};
use balas::clock::Clock;
use balas::contacts;
use balas::domain::{InboundEvent, InboundMessage};
use balas::ingress::group_commit::IngestReport;
use balas::ingress::group_commit::{self, Submission};
use balas::store::{Backend, ConversationRecord, IdentityIndex};
use chrono::Duration;

use crate::helpers::{TestApp, customer, inbound_text};
use crate::on_both_databases;

/// Commits the webhooks in one shared transaction and returns their reports, in order.
async fn commit_together(app: &TestApp, webhooks: Vec<Vec<InboundMessage>>) -> Vec<IngestReport> {
    let mut outcomes = Vec::new();
    let mut submissions = Vec::new();
    for messages in webhooks {
        let events = messages.into_iter().map(|m| InboundEvent::Message(Box::new(m))).collect();
        let (submission, outcome) = Submission::new(app.channel.clone(), events);
        submissions.push(submission);
        outcomes.push(outcome);
    }
    group_commit::commit(&app.state, &app.state.deps.metrics, submissions).await;
    let mut reports = Vec::new();
    for outcome in outcomes {
        reports.push(outcome.await.expect("outcome").expect("committed"));
    }
    reports
}

fn counts(report: &IngestReport) -> (usize, usize) {
    (report.stored, report.duplicates)
}

/// The audit actions after sequence number `after`, in chain order.
async fn actions_after(app: &TestApp, after: i64) -> Vec<String> {
    let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
    let rows = tx.audit_rows_after(after, 1000).await.unwrap();
    rows.into_iter().map(|r| r.action).collect()
}

async fn audit_seq(app: &TestApp) -> i64 {
    let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
    tx.audit_head().await.unwrap().map_or(0, |h| h.seq)
}

/// Customer messages stored so far in set-based plans and one at a time, from the metrics.
async fn stored_ways(app: &TestApp) -> (u64, u64) {
    let text = app.state.deps.metrics.render(&*app.state.store, app.clock.now()).await.unwrap();
    let count = |way: &str| {
        let series = format!("balas_ingest_messages_total{{way=\"{way}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&series)?.parse().ok()).unwrap_or(0)
    };
    (count("planned"), count("alone"))
}

/// Customer `n`'s open conversation on the test channel.
async fn conversation_of(app: &TestApp, n: u32) -> ConversationRecord {
    let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
    let bsuid = inbound_text(n, "x").from.bsuid.expect("bsuid");
    let index = app.state.keys.index.bsuid(app.tenant.id, &bsuid);
    let contact = tx.contact_by_index(IdentityIndex::Bsuid(&index)).await.unwrap().expect("contact");
    tx.open_conversation(app.channel.id, contact.id, balas::chats::DIRECT).await.unwrap().expect("open conversation")
}

on_both_databases! {
    async fn a_shared_transaction_stores_customer_messages_as_one_at_a_time_would(app) {
        let now = app.clock.now();
        // Customer 4 wrote before: a known contact with an open conversation.
        let known = commit_together(&app, vec![vec![inbound_text(4, "wamid.R0")]]).await;
        assert_eq!(counts(&known[0]), (1, 0));
        let before = audit_seq(&app).await;

        let mut early = inbound_text(1, "wamid.R1");
        early.sent_at = Some(now - Duration::minutes(5));
        let mut earlier = inbound_text(1, "wamid.R2");
        earlier.sent_at = Some(now - Duration::minutes(9));
        let reports = commit_together(&app, vec![
            vec![early.clone(), earlier, inbound_text(2, "wamid.R3")],
            vec![early, inbound_text(3, "wamid.R4")],
            vec![inbound_text(4, "wamid.R0"), inbound_text(4, "wamid.R5")],
        ]).await;

        // The first message went alone; the shared run of seven was one plan.
        assert_eq!(stored_ways(&app).await, (7, 1));
        let per_webhook: Vec<_> = reports.iter().map(counts).collect();
        assert_eq!(per_webhook, vec![(3, 0), (1, 1), (1, 1)]);
        assert_eq!(app.count("contacts").await, 4);
        assert_eq!(app.count("conversations").await, 4);
        assert_eq!(app.count("messages").await, 6);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'respond' AND state = 'queued'").await, 6);
        // The latest inbound time wins; the last message applied sets `updated_at`.
        let first = conversation_of(&app, 1).await;
        assert_eq!(first.last_inbound_at.map(|t| t.timestamp()), Some((now - Duration::minutes(5)).timestamp()));
        assert_eq!(first.updated_at.timestamp(), (now - Duration::minutes(9)).timestamp());
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE last_inbound_at IS NULL").await, 0);
        // Customer 4's new message joined the conversation that was open.
        let fourth = conversation_of(&app, 4).await;
        let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
        assert_eq!(tx.recent_messages(fourth.id, 10).await.unwrap().len(), 2);
        drop(tx);

        assert_eq!(actions_after(&app, before).await, [
            "contact.created", "message.received", "message.received", "contact.created", "message.received",
            "message.duplicate_ignored", "contact.created", "message.received",
            "message.duplicate_ignored", "message.received",
        ]);
        let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
        assert!(matches!(verdict, Verdict::Intact { .. }), "{verdict:?}");
    }

    async fn a_message_that_reveals_a_phone_number_links_it_within_the_run(app) {
        let mut bsuid_only = inbound_text(5, "wamid.L1");
        bsuid_only.from.phone = None;
        let reports = commit_together(&app, vec![
            vec![bsuid_only, inbound_text(5, "wamid.L2"), inbound_text(6, "wamid.L3")],
        ]).await;

        // The plan stops before the linking message, which goes alone, as does the one left.
        assert_eq!(stored_ways(&app).await, (1, 2));
        assert_eq!(counts(&reports[0]), (3, 0));
        assert_eq!(app.count("contacts").await, 2);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM contacts WHERE phone_index IS NOT NULL").await, 2);
        assert_eq!(app.count("conversations").await, 2);
        let fifth = conversation_of(&app, 5).await;
        let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
        assert_eq!(tx.recent_messages(fifth.id, 10).await.unwrap().len(), 2);
    }

    async fn an_owner_message_between_customer_messages_keeps_its_place(app) {
        let owner = customer(8);
        app.add_owner(owner.phone.as_deref().unwrap(), None).await;
        let before = audit_seq(&app).await;
        let reports = commit_together(&app, vec![
            vec![inbound_text(1, "wamid.O1"), inbound_text(8, "wamid.O2"), inbound_text(2, "wamid.O3")],
        ]).await;

        // The owner splits the run into two runs of one, which are not planned.
        assert_eq!(stored_ways(&app).await, (0, 2));
        assert_eq!(counts(&reports[0]), (3, 0));
        assert_eq!(app.count("messages").await, 2);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages").await, 1);
        assert_eq!(app.count("contacts").await, 2, "the owner did not become a contact");
        assert_eq!(actions_after(&app, before).await, [
            "contact.created", "message.received", "owner.message_received", "contact.created", "message.received",
        ]);
    }

    async fn a_contact_another_transaction_creates_first_is_used_not_duplicated(app) {
        // Another transaction creates customer 7 while the run is being stored.
        let who = inbound_text(7, "x").from;
        let indexes = (
            who.bsuid.as_ref().map(|b| app.state.keys.index.bsuid(app.tenant.id, b)),
            who.phone.as_ref().map(|p| app.state.keys.index.phone(app.tenant.id, p)),
        );
        let (first, _) = contacts::new_contact(&app.state.keys, app.tenant.id, &who, indexes, app.clock.now()).unwrap();
        let mut other = app.state.store.begin(app.tenant.id).await.unwrap();
        assert!(other.insert_contact(&first).await.unwrap());
        let state = app.state.clone();
        let (submission, outcome) = Submission::new(
            app.channel.clone(),
            vec![InboundEvent::Message(Box::new(inbound_text(7, "wamid.C1"))), InboundEvent::Message(Box::new(inbound_text(9, "wamid.C2")))],
        );
        let run = tokio::spawn(async move { group_commit::commit(&state, &state.deps.metrics, vec![submission]).await });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        other.commit().await.unwrap();
        run.await.unwrap();

        // PostgreSQL's plan meets the other row and falls back; SQLite's waited for its commit.
        let expected = match app.state.store.backend() {
            Backend::Postgres => (0, 2),
            Backend::Sqlite => (2, 0),
        };
        assert_eq!(stored_ways(&app).await, expected);
        assert_eq!(counts(&outcome.await.unwrap().unwrap()), (2, 0));
        assert_eq!(app.count("contacts").await, 2);
        let seventh = conversation_of(&app, 7).await;
        assert_eq!(seventh.contact_id, first.id);
        // Only customer 9 was created by the webhook (customer 7 by the other transaction).
        assert_eq!(actions_after(&app, 0).await.iter().filter(|a| *a == "contact.created").count(), 1);
        let verdict = audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
        assert!(matches!(verdict, Verdict::Intact { .. }), "{verdict:?}");
    }
}
