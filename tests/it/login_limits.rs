//! Login limits behind a proxy, shared by instances, and the staff PIN race ([2/10] items 1–2).
use balas::api::auth::Role;
use balas::client_ip::{ClientIp, ClientIpSource};
use balas::clock::Clock;
use balas::login_limits::{LoginKeys, PER_EMAIL, SLOWDOWN, Verdict};
use balas::users::PinError;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_databases;

const PASSWORD: &str = "kopi-susu-gula-aren";

async fn user(app: &TestApp, email: &str, role: Role) -> balas::domain::UserId {
    let new = balas::users::NewUser { email, role, password: PASSWORD };
    balas::users::create(&*app.state.store, &app.state.keys, app.tenant.id, new, "test", app.clock.now())
        .await
        .unwrap()
        .id
}

/// A login to `base`, as the client `fly` when given (the header Fly's proxy sets).
async fn login(app: &TestApp, base: &str, fly: Option<&str>, email: &str, password: &str) -> u16 {
    let body = json!({ "tenant": app.tenant.slug, "email": email, "password": password });
    let mut request = app.http.post(format!("{base}/api/v1/auth/login")).json(&body);
    if let Some(client) = fly {
        request = request.header("fly-client-ip", client);
    }
    request.send().await.unwrap().status().as_u16()
}

fn behind_fly(config: &mut balas::app::AppConfig) {
    config.server.client_ip = ClientIp { source: ClientIpSource::FlyClientIp, trusted_hops: 1 };
}

on_both_databases! {
    async fn behind_the_proxy_one_client_locks_out_nobody_else(app) {
        user(&app, "sri@warung.example", Role::Owner).await;
        user(&app, "kasir@warung.example", Role::Staff).await;
        let fly = app.serve_with(behind_fly).await;
        // Every request comes from the proxy's one address; only Fly-Client-IP tells clients apart.
        let mut attacker = Vec::new();
        for _ in 0..8 {
            attacker.push(login(&app, &fly.base, Some("203.0.113.66"), "sri@warung.example", "tebak-tebakan").await);
        }
        assert_eq!(&attacker[..5], &[401; 5], "{attacker:?}");
        assert_eq!(attacker[5..], [429; 3], "the guessing client is refused: {attacker:?}");
        assert_eq!(login(&app, &fly.base, Some("198.51.100.7"), "sri@warung.example", PASSWORD).await, 200, "the owner, elsewhere");
        assert_eq!(login(&app, &fly.base, Some("198.51.100.8"), "kasir@warung.example", PASSWORD).await, 200, "a colleague");
    }

    async fn without_the_setting_a_forged_client_header_changes_nothing(app) {
        user(&app, "sri@warung.example", Role::Owner).await;
        let mut statuses = Vec::new();
        for n in 0..6 {
            let forged = format!("203.0.113.{n}");
            statuses.push(login(&app, &app.base, Some(&forged), "sri@warung.example", "tebak-tebakan").await);
        }
        assert_eq!(statuses, [401, 401, 401, 401, 401, 429], "the peer address counts, whatever the header says");
    }

    async fn failure_counts_are_shared_by_every_instance_on_the_database(app) {
        user(&app, "sri@warung.example", Role::Owner).await;
        let other = app.serve_with(|_| {}).await;
        let mut statuses = Vec::new();
        for base in [&app.base, &other.base, &app.base, &other.base, &app.base, &other.base] {
            statuses.push(login(&app, base, None, "sri@warung.example", "tebak-tebakan").await);
        }
        assert_eq!(statuses, [401, 401, 401, 401, 401, 429], "five failures in all, whichever instance saw them");
        assert_eq!(login(&app, &other.base, None, "sri@warung.example", PASSWORD).await, 429, "the right password waits too");
        app.clock.advance(chrono::Duration::minutes(16));
        assert_eq!(login(&app, &other.base, None, "sri@warung.example", PASSWORD).await, 200, "a new window");
        let kept = app.inspect.scalar("SELECT COUNT(*) FROM login_throttle").await;
        assert!(kept >= 1, "{kept}");
        assert_eq!(balas::login_limits::forget_old(&*app.state.store, app.clock.now() + chrono::Duration::hours(1)).await.unwrap(), kept as u64);
    }

    async fn a_stranger_spread_over_many_clients_slows_a_user_but_cannot_lock_them_out(app) {
        user(&app, "sri@warung.example", Role::Owner).await;
        let fly = app.serve_with(behind_fly).await;
        for n in 0..PER_EMAIL.attempts {
            let client = format!("203.0.113.{n}");
            assert_eq!(login(&app, &fly.base, Some(&client), "sri@warung.example", "tebak-tebakan").await, 401);
        }
        // The e-mail's ceiling is reached: the next attempt, from anyone, waits, then is checked.
        let started = std::time::Instant::now();
        assert_eq!(login(&app, &fly.base, Some("198.51.100.7"), "sri@warung.example", PASSWORD).await, 200);
        assert!(started.elapsed() >= SLOWDOWN, "slowed, not refused");

        let email = app.state.keys.index.email(app.tenant.id, "sri@warung.example");
        let keys = LoginKeys::new(&app.state.keys.index, &email, "192.0.2.1".parse().unwrap());
        assert_eq!(keys.spend(&*app.state.store, app.clock.now()).await.unwrap(), Verdict::Go { slow: Some(SLOWDOWN) });
        // The login attempt table holds keyed hashes only: no e-mail, no address.
        let leaked = app.inspect.scalar("SELECT COUNT(*) FROM login_throttle WHERE key LIKE '%sri%' OR key LIKE '%203.0.113%'").await;
        assert_eq!(leaked, 0);
    }

    async fn fifty_concurrent_wrong_pins_get_five_checks_at_most(app) {
        // On SQLite writes are serialised, so this holds there by construction; on PostgreSQL
        // it holds because each attempt is counted (UPDATE … RETURNING) before the PIN is checked.
        let user_id = user(&app, "kasir@warung.example", Role::Staff).await;
        let pin_hash = balas::users::hash_pin("482913").await.unwrap().unwrap();
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        tx.set_staff_pin(user_id, &pin_hash, app.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        let guesses: Vec<_> = (0..50)
            .map(|n| {
                let (store, tenant, now) = (app.state.store.clone(), app.tenant.id, app.clock.now());
                tokio::spawn(async move {
                    let guess = format!("{:06}", 100_000 + n);
                    balas::users::unlock_with_pin(&*store, tenant, user_id, &guess, now).await.unwrap()
                })
            })
            .collect();
        let mut results = Vec::new();
        for guess in guesses {
            results.push(guess.await.unwrap());
        }
        let checked = results.iter().filter(|r| matches!(r, Err(PinError::Wrong | PinError::WrongNowLocked(_)))).count();
        let refused = results.iter().filter(|r| matches!(r, Err(PinError::Locked(_)))).count();
        assert_eq!((checked, refused), (5, 45), "{results:?}");
        let right = balas::users::unlock_with_pin(&*app.state.store, app.tenant.id, user_id, "482913", app.clock.now()).await;
        assert!(matches!(right.unwrap(), Err(PinError::Locked(_))), "even the right PIN waits out the lock");
    }
}
