//! The durable queue: leases reclaimed after a crash, retries with backoff, dead letters.
use balas::clock::Clock;
use balas::fakes::providers::Behaviour;
use balas::store::JobOutcome;

use crate::helpers::customer;
use crate::on_both_databases;

on_both_databases! {
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
