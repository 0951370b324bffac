//! Per-tenant LLM profiles: the operator's catalogue, each tenant on the profile it picked (its
//! own endpoint, model and prices), costs in USD and IDR, and bring-your-own-key only where the
//! operator allows it, not counted against the operator's budget.
use balas::api::auth::Role;
use balas::channels::{ChannelSecrets, meta::MetaSecrets};
use balas::clock::Clock;
use balas::domain::Provider;
use balas::fakes::llm::{FakeLlm, LlmStep};
use balas::fakes::meta_webhook;
use balas::llm::{LlmEndpoint, LlmProfile};
use balas::tenants::{self, Limits};

use crate::helpers::{TestApp, customer};
use crate::on_both_databases;

fn profile(name: &str, fake: &FakeLlm, prices: (f64, f64)) -> LlmProfile {
    LlmProfile {
        name: name.into(),
        endpoint: LlmEndpoint {
            base_url: fake.base_url.clone(),
            model: format!("{name}-model"),
            api_key: format!("operator-key-{name}").into(),
        },
        key_variable: format!("{}_KEY", name.to_uppercase()),
        price_input_per_mtok: prices.0,
        price_output_per_mtok: prices.1,
        vision: false,
    }
}

async fn choose(app: &TestApp, tenant: balas::domain::TenantId, name: &str) {
    let mut patch = serde_json::Map::new();
    patch.insert("llm_profile".into(), name.into());
    let catalogue = ["hemat".to_string(), "pintar".to_string()];
    tenants::change_settings(&*app.state.store, tenant, "test", patch, &catalogue, app.clock.now()).await.unwrap();
}

/// The tenant's tokens on the operator's keys this month, and what all its calls cost.
async fn usage(app: &TestApp, tenant: balas::domain::TenantId) -> (i64, i64) {
    let mut tx = app.state.store.begin_read(tenant).await.unwrap();
    let month = balas::engine::assistant::month_start(app.clock.now());
    let tokens = tx.llm_tokens_since(month).await.unwrap();
    let cost = tx.llm_cost_between(month, app.clock.now() + chrono::Duration::hours(1)).await.unwrap();
    tx.commit().await.unwrap();
    (tokens, cost)
}

on_both_databases! {
    async fn two_tenants_answer_on_their_own_profiles_at_their_own_prices(app) {
        let (hemat, pintar) = (FakeLlm::start().await.unwrap(), FakeLlm::start().await.unwrap());
        hemat.always(LlmStep::Reply("Buka jam 8 kak.".into()));
        pintar.always(LlmStep::Reply("Kami buka pukul 08.00 kak.".into()));
        let worker = app.llm_worker(&[], |s| {
            s.profiles = vec![profile("hemat", &hemat, (1.0, 2.0)), profile("pintar", &pintar, (10.0, 30.0))];
        });
        // A second shop, on its own Meta number.
        let (store, keys, now) = (&*app.state.store, &app.state.keys, app.clock.now());
        let b = tenants::create(store, keys, "Toko Pintar", None, &Default::default(), now).await.unwrap();
        let secrets = ChannelSecrets::Meta(MetaSecrets { app_secret: "b".into(), access_token: "b".into(), verify_token: "v".into() });
        let b_channel = tenants::add_channel(store, keys, b.id, Provider::Meta, "333", &secrets, now).await.unwrap();
        choose(&app, app.tenant.id, "hemat").await;
        choose(&app, b.id, "pintar").await;
        let unknown = serde_json::Map::from_iter([("llm_profile".to_string(), serde_json::json!("mahal"))]);
        let refused = tenants::change_settings(store, b.id, "test", unknown, &["hemat".into()], now).await;
        assert!(matches!(refused, Err(balas::usecase::UseCaseError::Invalid { .. })), "{refused:?}");

        app.send_webhook(&app.text(&customer(1), "wamid.P1", "Jam berapa buka hari ini kak?")).await;
        let c = customer(2);
        let body = serde_json::to_vec(&meta_webhook::envelope("333", &[&c], vec![c.text("wamid.P2", "Jam berapa buka hari ini kak?", 1)], vec![])).unwrap();
        let url = format!("{}/webhooks/meta/{}", app.base, b_channel.id);
        assert_eq!(app.post_raw(&url, body.clone(), Some(meta_webhook::sign("b", &body))).await.status().as_u16(), 200);
        worker.run_until_idle().await.unwrap();

        let (a_calls, b_calls) = (hemat.requests(), pintar.requests());
        assert_eq!((a_calls.len(), b_calls.len()), (1, 1), "each shop on its own endpoint");
        assert_eq!(a_calls[0].1["model"], "hemat-model");
        assert_eq!(b_calls[0].1["model"], "pintar-model");
        assert_eq!(a_calls[0].0.as_deref(), Some("Bearer operator-key-hemat"));
        let a_system = a_calls[0].1["messages"][0]["content"].as_str().unwrap_or_default().to_string();
        assert!(a_system.contains("Warung Kopi Bu Sri") && !a_system.contains("Toko Pintar"));

        // Each call is costed at its own profile's prices.
        let priced = "SELECT COUNT(*) FROM llm_usage WHERE model = 'hemat-model' AND cost_micro_usd = prompt_tokens * 1 + completion_tokens * 2 AND prompt_tokens > 0";
        assert_eq!(app.inspect.scalar(priced).await, 1);
        let priced = "SELECT COUNT(*) FROM llm_usage WHERE model = 'pintar-model' AND cost_micro_usd = prompt_tokens * 10 + completion_tokens * 30";
        assert_eq!(app.inspect.scalar(priced).await, 1);
        let (_, a_cost) = usage(&app, app.tenant.id).await;
        let (_, b_cost) = usage(&app, b.id).await;
        assert!(b_cost > 5 * a_cost && a_cost > 0, "{a_cost} {b_cost}");

        // Analytics shows the cost in rupiah at the operator's rate, besides dollars.
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        balas::analytics::rollup::catch_up(&mut *tx, app.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        let token = app.token(app.tenant.id, Role::Analytics);
        let (status, report) = app.call("GET", "/api/v1/analytics", &token, None).await;
        assert_eq!(status, 200, "{report}");
        let llm = &report["total"]["llm"];
        let usd = llm["estimated_cost_usd"].as_f64().unwrap_or_default();
        assert!((usd - a_cost as f64 / 1e6).abs() < 1e-9, "{llm}");
        assert_eq!(llm["estimated_cost_idr"].as_f64(), Some((usd * 16_000.0).round()), "{report}");
        assert_eq!(report["usd_idr_rate"].as_f64(), Some(16_000.0));
    }
}

on_both_databases! {
    async fn bring_your_own_key_is_refused_unless_the_operator_allows_it(app) {
        let fake = FakeLlm::start().await.unwrap();
        fake.always(LlmStep::Reply("Buka jam 8 kak.".into()));
        let spare = FakeLlm::start().await.unwrap();
        spare.always(LlmStep::Reply("Buka jam 8 kak.".into()));
        let worker = app.llm_worker(&[], |s| {
            s.profiles = vec![profile("hemat", &fake, (1.0, 2.0)), profile("pintar", &spare, (10.0, 30.0))];
        });
        let token = app.token(app.tenant.id, Role::Owner);
        let own = serde_json::json!({ "key": "sk-toko-sendiri-123" });
        let (status, body) = app.call("PUT", "/api/v1/llm/key", &token, Some(own.clone())).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("own_llm_key_not_allowed")), "{body}");
        let (status, body) = app.call("PATCH", "/api/v1/settings", &token, Some(serde_json::json!({ "own_llm_key_allowed": true }))).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("operator_only")), "{body}");

        // The operator allows it, and keeps the operator budget at 0: only the shop's own key can answer.
        let limits = Limits { own_llm_key_allowed: Some(true), monthly_token_budget: Some(0), ..Limits::default() };
        tenants::set_limits(&*app.state.store, app.tenant.id, &limits, "cli", app.clock.now()).await.unwrap();
        let (status, body) = app.call("PUT", "/api/v1/llm/key", &token, Some(own)).await;
        assert_eq!(status, 204, "{body}");
        let (_, shown) = app.call("GET", "/api/v1/llm", &token, None).await;
        assert_eq!(shown["own_key_stored"], true, "{shown}");
        assert!(!shown.to_string().contains("sk-toko-sendiri"), "never shown again: {shown}");
        let stored = app.inspect.text("SELECT own_llm_key_enc FROM tenants WHERE own_llm_key_enc IS NOT NULL").await;
        assert!(stored.is_some_and(|s| !s.contains("sk-toko-sendiri")), "encrypted at rest");

        app.send_webhook(&app.text(&customer(1), "wamid.K1", "Jam berapa buka hari ini kak?")).await;
        worker.run_until_idle().await.unwrap();
        let calls = fake.requests();
        assert_eq!(calls.len(), 1, "the shop's own key answers past the operator's budget");
        assert_eq!(calls[0].0.as_deref(), Some("Bearer sk-toko-sendiri-123"));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM llm_usage WHERE own_key = true AND prompt_tokens > 0").await, 1);
        let (operator_tokens, _) = usage(&app, app.tenant.id).await;
        assert_eq!(operator_tokens, 0, "own usage is not counted against the operator's budget");

        // Its own key failing, the fallback on the operator's key is not called past the budget.
        choose(&app, app.tenant.id, "hemat").await;
        let mut patch = serde_json::Map::new();
        patch.insert("llm_fallback_profile".into(), "pintar".into());
        tenants::change_settings(&*app.state.store, app.tenant.id, "test", patch, &["hemat".into(), "pintar".into()], app.clock.now()).await.unwrap();
        fake.always(LlmStep::ServerError);
        app.send_webhook(&app.text(&customer(1), "wamid.K1b", "Ada menu vegan kak?")).await;
        worker.run_until_idle().await.unwrap();
        assert!(fake.requests().len() > 1, "the shop's own key was tried");
        assert!(spare.requests().is_empty(), "no operator-key fallback past the operator's budget");
        let tried = fake.requests().len();

        // Taken back: the key is deleted, and the budget of 0 keeps the shop offline.
        let limits = Limits { own_llm_key_allowed: Some(false), ..Limits::default() };
        tenants::set_limits(&*app.state.store, app.tenant.id, &limits, "cli", app.clock.now()).await.unwrap();
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM tenants WHERE own_llm_key_enc IS NOT NULL").await, 0);
        app.send_webhook(&app.text(&customer(1), "wamid.K2", "Jam berapa tutup?")).await;
        worker.run_until_idle().await.unwrap();
        assert_eq!(fake.requests().len(), tried, "no call on the operator's key past its budget");
        let audited = "SELECT COUNT(*) FROM audit_log WHERE action = 'llm.own_key_set'";
        assert_eq!(app.inspect.scalar(audited).await, 1);
    }
}

on_both_databases! {
    async fn the_subprocessor_list_names_the_profiles_the_tenant_picked(app) {
        let (hemat, pintar) = (FakeLlm::start().await.unwrap(), FakeLlm::start().await.unwrap());
        let server = app
            .serve_with(|c| {
                let mut settings = balas::llm::LlmSettings::new(Vec::new());
                settings.profiles = vec![profile("hemat", &hemat, (1.0, 2.0)), profile("pintar", &pintar, (10.0, 30.0))];
                c.llm = Some(settings);
            })
            .await;
        let token = app.token(app.tenant.id, Role::Owner);
        let hosts = |body: &serde_json::Value| -> Vec<String> {
            let list = body["subprocessors"].as_array().cloned().unwrap_or_default();
            list.iter().filter(|s| s["kind"] == "llm").map(|s| s["host"].as_str().unwrap_or_default().to_string()).collect()
        };
        let host = |fake: &FakeLlm| fake.base_url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_string();
        let url = format!("{}/api/v1/subprocessors", server.base);
        let read = || async { app.http.get(&url).bearer_auth(&token).send().await.unwrap().json::<serde_json::Value>().await.unwrap() };
        assert_eq!(hosts(&read().await), [host(&hemat)], "no choice: the first profile is the default");
        let patch = serde_json::json!({ "llm_profile": "pintar", "llm_fallback_profile": "hemat" });
        let response = app.http.patch(format!("{}/api/v1/settings", server.base)).bearer_auth(&token).json(&patch).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(hosts(&read().await), [host(&pintar), host(&hemat)]);
        let unknown = serde_json::json!({ "llm_profile": "mahal" });
        let response = app.http.patch(format!("{}/api/v1/settings", server.base)).bearer_auth(&token).json(&unknown).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
    }
}
