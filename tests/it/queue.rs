//! The durable queue: leases reclaimed after a crash, retries with backoff, dead letters.
use balas::clock::Clock;
use balas::fakes::providers::Behaviour;
use balas::jobs::JobKind;
use balas::store::{JobOutcome, JobRecord};

use crate::helpers::customer;
use crate::on_both_databases;

on_both_databases! {
    async fn a_job_of_a_kind_this_build_does_not_know_is_dead_lettered_and_blocks_nothing(app) {
        let job = JobRecord::new(app.tenant.id, JobKind::Unknown, uuid::Uuid::now_v7(), 5, app.clock.now());
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        tx.enqueue_job(&job).await.unwrap();
        tx.commit().await.unwrap();
        app.send_webhook(&app.text(&customer(9), "wamid.U1", "Jam buka kapan?")).await;
        app.drain().await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'unknown' AND state = 'dead' AND last_error = 'unknown_kind'").await, 1);
        assert_eq!(app.providers.received().len(), 1, "the customer is answered all the same");
    }

    async fn a_job_whose_worker_died_is_done_once_by_another_after_the_lease(app) {
        app.send_webhook(&app.text(&customer(1), "wamid.L1", "Jam buka kapan?")).await;
        let now = app.clock.now();
        let claimed = app.state.store.claim_jobs("ghost", 10, now, now + chrono::Duration::minutes(2)).await.unwrap();
        assert_eq!(claimed.len(), 1, "the ghost worker holds the respond job, then dies");
        assert_eq!(app.drain().await, 0, "a leased job is not claimed again before its lease ends");

        app.clock.advance(chrono::Duration::minutes(3));
        assert_eq!(app.drain().await, 2);
        assert_eq!(app.providers.received().len(), 1);

        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        let late = tx.finish_job(claimed[0].id, "ghost", &JobOutcome::Done, app.clock.now()).await.unwrap();
        assert!(!late, "the dead worker cannot finish a job it lost");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'done'").await, 2);
    }

    async fn a_send_failing_every_time_is_dead_lettered_after_max_attempts(app) {
        app.providers.set_behaviour(Behaviour::ServerError);
        app.send_webhook(&app.text(&customer(2), "wamid.D1", "Berapa ongkir?")).await;
        app.drain().await;
        for _ in 0..10 {
            app.clock.advance(chrono::Duration::hours(1));
            app.drain().await;
        }
        let max = app.state.config.max_attempts as usize;
        assert_eq!(app.providers.received().len(), max, "one request per attempt, no more");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'send' AND state = 'dead' AND last_error = 'retryable:meta_131000'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT CAST(MAX(attempts) AS BIGINT) FROM jobs WHERE kind = 'send'").await as usize, max);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'job.failed'").await as usize, max - 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'job.dead'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'failed'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE state = 'escalated' AND escalation_reason = 'reply_failed'").await, 1);
    }

    async fn a_permanent_rejection_dead_letters_at_once(app) {
        app.providers.set_behaviour(Behaviour::Reject(131047));
        app.send_webhook(&app.text(&customer(3), "wamid.W1", "Berapa ongkir?")).await;
        app.drain().await;
        app.clock.advance(chrono::Duration::hours(1));
        app.drain().await;
        assert_eq!(app.providers.received().len(), 1, "a closed 24-hour window is not retried");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'send' AND state = 'done' AND attempts = 1").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'failed' AND error_code = 'window_closed'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE window_closed_at IS NOT NULL AND state = 'escalated' AND escalation_reason = 'window_closed'").await, 1);
    }

    async fn backoff_holds_a_failed_job_until_its_time(app) {
        app.providers.set_behaviour(Behaviour::ServerError);
        app.send_webhook(&app.text(&customer(4), "wamid.R1", "Berapa ongkir?")).await;
        app.drain().await;
        assert_eq!(app.providers.received().len(), 1);
        assert_eq!(app.drain().await, 0, "the retry is scheduled in the future");
        app.providers.set_behaviour(Behaviour::Accept);
        app.clock.advance(chrono::Duration::seconds(3));
        assert_eq!(app.drain().await, 1);
        assert_eq!(app.providers.received().len(), 2);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'sent'").await, 1);
    }
}

on_both_databases! {
    async fn released_leases_are_claimable_at_once_without_costing_an_attempt(app) {
        app.send_webhook(&app.text(&customer(5), "wamid.REL", "Jam buka kapan?")).await;
        let now = app.clock.now();
        let claimed = app.state.store.claim_jobs("stopping", 10, now, now + chrono::Duration::minutes(2)).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(app.state.store.release_jobs("stopping").await.unwrap(), 1);
        assert_eq!(app.inspect.scalar("SELECT CAST(MAX(attempts) AS BIGINT) FROM jobs").await, 0);
        assert_eq!(app.drain().await, 2, "no need to wait for the lease to expire");
        assert_eq!(app.providers.received().len(), 1);
    }

    async fn graceful_shutdown_stops_a_hung_send_releases_its_lease_and_does_not_resend_it(app) {
        app.providers.set_behaviour(Behaviour::Hang);
        app.send_webhook(&app.text(&customer(6), "wamid.HANG", "Jam buka kapan?")).await;
        // A second instance with one background worker, on its own connection to the same database.
        let url = app.cli_env.iter().find(|(k, _)| k == "BALAS_DATABASE_URL").map(|(_, v)| v.clone()).unwrap();
        let store = balas::store::connect(&url).await.unwrap();
        let config = balas::app::AppConfig {
            workers: 1,
            meta_graph_url: app.providers.meta_url.clone(),
            public_url: app.base.clone(),
            poll_interval: std::time::Duration::from_millis(20),
            shutdown_grace: std::time::Duration::from_millis(300),
            media: app.state.config.media.clone(),
            ..Default::default()
        };
        let state = balas::app::AppState::new(store, app.state.keys.clone(), config, app.clock.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let server = tokio::spawn(balas::app::serve(listener, state, stop.clone()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while app.providers.received().is_empty() {
            assert!(std::time::Instant::now() < deadline, "the worker never reached the Graph API");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let started = std::time::Instant::now();
        stop.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), server).await.expect("shutdown is bounded").unwrap().unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'send' AND state = 'queued' AND locked_by IS NULL AND attempts = 0").await, 1);

        app.providers.set_behaviour(Behaviour::Accept);
        // The provider had the message when the attempt was cut off: it may have reached the
        // customer, so it is not sent again; the owner gets the ticket instead.
        app.drain().await;
        assert_eq!(app.providers.received().len(), 1, "a send cut off in the provider's hands was repeated");
        let in_doubt = "SELECT COUNT(*) FROM jobs WHERE kind = 'send' AND state = 'dead' AND last_error = 'delivery_unknown'";
        assert_eq!(app.inspect.scalar(in_doubt).await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'failed' AND error_code = 'delivery_unknown'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE state = 'escalated' AND escalation_reason = 'reply_failed'").await, 1);
    }
}

/// Waits until the fake provider got `sends` requests; fails after 10 s, far below the poll.
async fn wait_for_sends(app: &crate::helpers::TestApp, sends: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.providers.received().len() < sends {
        assert!(std::time::Instant::now() < deadline, "no worker woke for the new job; it waits for the poll");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

on_both_databases! {
    async fn a_new_job_wakes_an_idle_worker_while_another_is_busy(app) {
        // Two background workers that would otherwise look for work only once a minute.
        let server = app
            .serve_with(|c| {
                c.workers = 2;
                c.poll_interval = std::time::Duration::from_secs(60);
            })
            .await;
        let url = format!("{}/webhooks/meta/{}", server.base, app.channel.id);
        let post = |payload: serde_json::Value| {
            let body = serde_json::to_vec(&payload).unwrap();
            let signature = balas::fakes::meta_webhook::sign(&app.app_secret, &body);
            app.post_raw(&url, body, Some(signature))
        };
        app.providers.set_behaviour(Behaviour::Hang);
        assert_eq!(post(app.text(&customer(20), "wamid.BUSY", "Jam buka kapan?")).await.status(), 200);
        wait_for_sends(&app, 1).await; // one worker now hangs in the provider's hands

        app.providers.set_behaviour(Behaviour::Accept);
        assert_eq!(post(app.text(&customer(21), "wamid.IDLE", "Berapa ongkir?")).await.status(), 200);
        wait_for_sends(&app, 2).await;
        assert_eq!(app.providers.received().len(), 2, "each customer's reply went out once");
    }
}

on_both_databases! {
    async fn the_worker_that_decides_a_reply_sends_it_without_claiming_it_again(app) {
        app.send_webhook(&app.text(&customer(9), "wamid.CHAIN1", "Jam buka kapan?")).await;
        assert_eq!(app.worker.run_once().await.unwrap(), 2, "one claim ran the respond job and then its send");
        assert_eq!(app.providers.received().len(), 1);
        assert_eq!(app.drain().await, 0, "nothing was left for a second claim");

        // Both jobs are on the audit trail as taken by this worker, each once.
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'job.claimed'").await, 2);
        let claimed = app.inspect.text("SELECT detail FROM audit_log WHERE action = 'job.claimed' ORDER BY seq DESC LIMIT 1").await.unwrap();
        let claimed: serde_json::Value = serde_json::from_str(&claimed).unwrap();
        assert_eq!(claimed["kind"], "send");
        assert_eq!(claimed["attempt"], 1);
        assert_eq!(claimed["worker"], app.worker.id());
        // The send's claim is recorded before the reply was handed over, and it ends done, its note cleared.
        let order = "SELECT COUNT(*) FROM audit_log c JOIN audit_log s ON s.action = 'message.sent' WHERE c.action = 'job.claimed' AND c.seq < s.seq";
        assert_eq!(app.inspect.scalar(order).await, 2);
        let done = "SELECT COUNT(*) FROM jobs WHERE state = 'done' AND attempts = 1 AND last_error IS NULL AND locked_by IS NULL";
        assert_eq!(app.inspect.scalar(done).await, 2);
        let verdict = balas::audit::verify_tenant(&*app.state.store, app.tenant.id).await.unwrap();
        assert!(matches!(verdict, balas::audit::Verdict::Intact { .. }), "{verdict:?}");
    }

    async fn a_reply_stranded_by_its_worker_after_the_respond_commit_is_sent_once_by_another_after_the_lease(app) {
        app.send_webhook(&app.text(&customer(10), "wamid.CHAIN2", "Jam buka kapan?")).await;
        // The worker stops right after the respond commit: its reply's send is never started.
        let stopped = tokio_util::sync::CancellationToken::new();
        stopped.cancel();
        let dying = app.worker_with(|_| {}).stopping_on(stopped);
        assert_eq!(dying.run_once().await.unwrap(), 1);
        assert!(app.providers.received().is_empty());
        let leased = "SELECT COUNT(*) FROM jobs WHERE kind = 'send' AND state = 'running' AND attempts = 1 AND locked_until IS NOT NULL AND last_error IS NULL";
        assert_eq!(app.inspect.scalar(leased).await, 1, "the send job was stored already leased");
        let holder = app.inspect.text("SELECT locked_by FROM jobs WHERE kind = 'send'").await;
        assert_eq!(holder.as_deref(), Some(dying.id()));
        assert_eq!(app.drain().await, 0, "no other worker takes it while the lease lasts");

        app.clock.advance(chrono::Duration::minutes(3));
        assert_eq!(app.drain().await, 1, "another worker claims it once the lease has expired");
        assert_eq!(app.providers.received().len(), 1);
        app.clock.advance(chrono::Duration::minutes(3));
        assert_eq!(app.drain().await, 0);
        assert_eq!(app.providers.received().len(), 1, "delivered exactly once");
        let sent = "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status = 'sent' AND provider_message_id IS NOT NULL";
        assert_eq!(app.inspect.scalar(sent).await, 1);
        let done = "SELECT COUNT(*) FROM jobs WHERE kind = 'send' AND state = 'done' AND attempts = 2 AND last_error IS NULL";
        assert_eq!(app.inspect.scalar(done).await, 1);
        // Handed to the stopped worker, then claimed by the other one: both on the trail.
        let claims = "SELECT COUNT(*) FROM audit_log WHERE action = 'job.claimed' AND detail LIKE '%\"send\"%'";
        assert_eq!(app.inspect.scalar(claims).await, 2);

        // The latest claim is the other worker's, of the send job.
        let send = app.inspect.text("SELECT subject_id FROM audit_log WHERE action = 'job.claimed' ORDER BY seq DESC LIMIT 1").await;
        let send: balas::domain::JobId = send.unwrap().parse().unwrap();
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        let late = tx.finish_job(send, dying.id(), &JobOutcome::Done, app.clock.now()).await.unwrap();
        assert!(!late, "the stopped worker cannot finish the send it lost");
    }

    async fn a_note_on_a_job_stamps_it_and_renews_its_lease(app) {
        app.send_webhook(&app.text(&customer(11), "wamid.NOTE1", "Jam buka kapan?")).await;
        let now = app.clock.now();
        let claimed = app.state.store.claim_jobs("noting", 1, now, now + chrono::Duration::minutes(2)).await.unwrap();
        app.clock.advance(chrono::Duration::minutes(1));
        let later = app.clock.now();
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        let noted = tx.note_job(claimed[0].id, "noting", "handing_over", later, later + chrono::Duration::minutes(2)).await.unwrap();
        tx.commit().await.unwrap();
        assert!(noted);
        let stamped = "SELECT COUNT(*) FROM jobs WHERE last_error = 'handing_over' AND updated_at > created_at AND locked_until > updated_at";
        assert_eq!(app.inspect.scalar(stamped).await, 1);
        app.clock.advance(chrono::Duration::seconds(90));
        assert_eq!(app.drain().await, 0, "the renewed lease still holds past the first one's end");
    }
}
