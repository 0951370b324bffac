//! Login, logout, revocation and rate limits of the owner API.
use balas::api::auth::Role;
use balas::clock::Clock;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_databases;

const PASSWORD: &str = "kopi-susu-gula-aren";

async fn user(app: &TestApp, email: &str, role: Role) {
    let new = balas::users::NewUser { email, role, password: PASSWORD };
    balas::users::create(&*app.state.store, &app.state.keys, app.tenant.id, new, "test", app.clock.now())
        .await
        .unwrap();
}

async fn login(app: &TestApp, tenant: &str, email: &str, password: &str) -> reqwest::Response {
    let body = json!({ "tenant": tenant, "email": email, "password": password });
    app.http.post(format!("{}/api/v1/auth/login", app.base)).json(&body).send().await.unwrap()
}

async fn get(app: &TestApp, token: &str) -> (u16, Value) {
    let r = app.http.get(format!("{}/api/v1/escalations", app.base)).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

on_both_databases! {
    async fn a_user_logs_in_and_every_attempt_is_audited(app) {
        user(&app, "Sri@Warung.example", Role::Staff).await;
        let slug = app.tenant.slug.clone();
        let ok = login(&app, &slug, "sri@warung.example", PASSWORD).await;
        assert_eq!(ok.status().as_u16(), 200, "the e-mail is case-insensitive");
        let body: Value = ok.json().await.unwrap();
        assert_eq!(body["role"], "staff");
        let token = body["token"].as_str().unwrap().to_string();
        assert_eq!(get(&app, &token).await.0, 200);

        for (tenant, email, password) in [(slug.as_str(), "sri@warung.example", "salah-password"), (slug.as_str(), "budi@warung.example", PASSWORD), ("no-such-shop", "sri@warung.example", PASSWORD)] {
            let r = login(&app, tenant, email, password).await;
            assert_eq!(r.status().as_u16(), 401);
            let e: Value = r.json().await.unwrap();
            assert_eq!(e["error"], "invalid_credentials", "one answer for every wrong part");
        }
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_succeeded'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'").await, 2, "an unknown tenant has no audit log to write to");
        let leaked = app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE detail LIKE '%warung.example%' OR detail LIKE '%salah-password%' OR detail LIKE '%kopi-susu%'").await;
        assert_eq!(leaked, 0, "no e-mail and no password in the audit");
        let stored = app.inspect.scalar("SELECT COUNT(*) FROM users WHERE password_hash LIKE '$argon2id$%'").await;
        assert_eq!(stored, 1);
    }

    async fn repeated_failures_are_throttled_with_retry_after(app) {
        user(&app, "sri@warung.example", Role::Owner).await;
        let slug = app.tenant.slug.clone();
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(login(&app, &slug, "sri@warung.example", "tebak-tebakan").await);
        }
        assert_eq!(statuses[4].status().as_u16(), 401);
        let last = statuses.pop().unwrap();
        assert_eq!(last.status().as_u16(), 429);
        let wait: u64 = last.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&wait), "{wait}");
        let e: Value = last.json().await.unwrap();
        assert_eq!(e["error"], "rate_limited");
        assert_eq!(login(&app, &slug, "sri@warung.example", PASSWORD).await.status().as_u16(), 429, "the right password waits too");
    }

    async fn logout_and_revocation_end_a_token(app) {
        let owner = app.token(app.tenant.id, Role::Owner);
        let staff = app.token(app.tenant.id, Role::Staff);
        let staff_jti = {
            let payload = staff.split('.').nth(1).unwrap();
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()["jti"].as_str().unwrap().to_string()
        };
        let revoke = |token: &str, body: Value| app.http.post(format!("{}/api/v1/auth/revoke", app.base)).bearer_auth(token.to_string()).json(&body).send();
        assert_eq!(revoke(&staff, json!({ "token_id": staff_jti })).await.unwrap().status().as_u16(), 403, "staff cannot revoke");
        assert_eq!(revoke(&owner, json!({ "token_id": staff_jti })).await.unwrap().status().as_u16(), 200);
        let (status, e) = get(&app, &staff).await;
        assert_eq!((status, e["error"].as_str()), (401, Some("token_revoked")));

        let out = app.http.post(format!("{}/api/v1/auth/logout", app.base)).bearer_auth(&owner).send().await.unwrap();
        assert_eq!(out.status().as_u16(), 200);
        assert_eq!(get(&app, &owner).await.0, 401);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'token.revoked'").await, 2);
    }

    async fn one_token_is_limited_to_its_rate(app) {
        let token = app.token(app.tenant.id, Role::Staff);
        let mut limited = None;
        let started = std::time::Instant::now();
        for n in 0..400 {
            let (status, _) = get(&app, &token).await;
            if status == 429 {
                limited = Some(n);
                break;
            }
        }
        let n = limited.expect("the token is limited");
        // The limiter runs on wall time: a slow machine earns one more request per 250 ms it took.
        let refilled = (started.elapsed().as_millis() / 250) as usize;
        assert!(n >= 120 && n <= 121 + refilled, "a burst of 120, then one every 250 ms: limited after {n} ({refilled} refilled)");
        let other = app.token(app.tenant.id, Role::Staff);
        assert_eq!(get(&app, &other).await.0, 200, "another token has its own budget");
    }
}

on_both_databases! {
    async fn a_staff_pin_is_hashed_apart_and_locks_after_five_wrong_tries(app) {
        user(&app, "kasir@warung.example", Role::Staff).await;
        let r = login(&app, &app.tenant.slug, "kasir@warung.example", PASSWORD).await;
        let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
        let set = |pin: &str| app.http.put(format!("{}/api/v1/auth/pin", app.base)).bearer_auth(token.clone()).json(&json!({ "pin": pin })).send();
        assert_eq!(set("12ab").await.unwrap().status().as_u16(), 400);
        assert_eq!(set("482913").await.unwrap().status().as_u16(), 204);
        let cli_token = app.token(app.tenant.id, Role::Staff);
        let r = app.http.put(format!("{}/api/v1/auth/pin", app.base)).bearer_auth(cli_token).json(&json!({ "pin": "1111" })).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "an API client's token has no PIN");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM staff_pins WHERE pin_hash LIKE '$argon2id$%' AND pin_hash NOT IN (SELECT password_hash FROM users)").await, 1);

        let user_id = app.state.store.begin_read(app.tenant.id).await.unwrap().users().await.unwrap()[0].id;
        let unlock = |pin: &'static str| {
            let store = app.state.store.clone();
            let (tenant, now) = (app.tenant.id, app.clock.now());
            async move {
                balas::users::unlock_with_pin(&*store, tenant, user_id, pin, now).await.unwrap()
            }
        };
        assert_eq!(unlock("482913").await, Ok(()));
        for _ in 0..4 {
            assert_eq!(unlock("000000").await, Err(balas::users::PinError::Wrong));
        }
        assert!(matches!(unlock("000000").await, Err(balas::users::PinError::WrongNowLocked(_))));
        assert!(matches!(unlock("482913").await, Err(balas::users::PinError::Locked(_))), "even the right PIN waits");
        app.clock.advance(chrono::Duration::minutes(16));
        assert_eq!(unlock("482913").await, Ok(()));
    }
}
