//! Sub-processor changes announced ahead: a new LLM host joins the operator's chain; each shop
//! is told, and the host is not used for its data until the announced date, or until its owner
//! accepts; after an objection it is never used for that shop.
use balas::api::auth::Role;
use balas::app::{AppConfig, AppState};
use balas::clock::Clock;
use balas::fakes::llm::{FakeLlm, LlmStep};
use balas::llm::{LlmEndpoint, LlmSettings};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestApp, customer};
use crate::on_both_databases;

const OWNER: &str = "6281100000071";

fn endpoint(fake: &FakeLlm, model: &str) -> LlmEndpoint {
    LlmEndpoint { base_url: fake.base_url.clone(), model: model.into(), api_key: "operator-key".into() }
}

/// This app's configuration with `chain` as the default LLM chain.
fn chain_config(app: &TestApp, chain: Vec<LlmEndpoint>) -> AppConfig {
    let mut settings = LlmSettings::new(chain);
    settings.timeout = std::time::Duration::from_secs(2);
    AppConfig { llm: Some(settings), ..(*app.state.config).clone() }
}

/// A state on this app's database whose default LLM chain is `chain`, served over HTTP (its
/// token is never cancelled in a test: stopping a server closes the shared database).
async fn with_chain(app: &TestApp, chain: Vec<LlmEndpoint>) -> (AppState, String, CancellationToken) {
    let config = chain_config(app, chain);
    let state = AppState::new(app.state.store.clone(), app.state.keys.clone(), config, app.clock.clone()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(balas::app::serve(listener, state.clone(), stop.clone()));
    (state, base, stop)
}

/// The shop is under [old]; the operator adds `new` as a fallback: announced, 30 days ahead.
/// The old model always fails, so the fallback would answer if it were allowed to.
async fn announced(app: &TestApp, old: &FakeLlm, new: &FakeLlm) -> (AppState, String, CancellationToken) {
    app.add_owner(OWNER, None).await;
    old.always(LlmStep::ServerError);
    new.always(LlmStep::Reply("Buka jam 8 kak.".into()));
    // Not served: stopping a server closes the shared database.
    let before = AppState::new(
        app.state.store.clone(),
        app.state.keys.clone(),
        chain_config(app, vec![endpoint(old, "old")]),
        app.clock.clone(),
    )
    .unwrap();
    let first = balas::api::subprocessors::resync(&before, app.tenant.id, None).await.unwrap();
    assert!(first.baseline, "the first sync records the list as it is");
    // Two models on the new host: one sub-processor, announced once.
    let after = with_chain(app, vec![endpoint(old, "old"), endpoint(new, "new"), endpoint(new, "new-large")]).await;
    let synced = balas::api::subprocessors::resync(&after.0, app.tenant.id, None).await.unwrap();
    assert_eq!(synced.announced, 1, "{synced:?}");
    let again = balas::api::subprocessors::resync(&after.0, app.tenant.id, None).await.unwrap();
    assert_eq!(again.announced, 0, "announced once");
    after.0.worker("notices").run_until_idle().await.unwrap();
    let told = app.sent_to(OWNER);
    assert!(told.iter().any(|m| m.contains("subprosesor") && m.contains(&new_host(new))), "{told:?}");
    after
}

fn new_host(fake: &FakeLlm) -> String {
    fake.base_url.trim_start_matches("http://").split('/').next().unwrap_or_default().to_string()
}

/// A customer asks; the answer's worker runs; how many calls the new model got.
async fn ask(app: &TestApp, state: &AppState, wamid: &str, new: &FakeLlm) -> usize {
    app.send_webhook(&app.text(&customer(1), wamid, "Jam berapa buka hari ini kak?")).await;
    state.worker("answers").run_until_idle().await.unwrap();
    new.requests().len()
}

async fn changes(app: &TestApp, base: &str) -> serde_json::Value {
    let token = app.token(app.tenant.id, Role::Owner);
    let url = format!("{base}/api/v1/subprocessors");
    app.http.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

on_both_databases! {
    async fn a_new_llm_host_waits_for_its_date_unless_the_owner_accepts(app) {
        let (old, new) = (FakeLlm::start().await.unwrap(), FakeLlm::start().await.unwrap());
        let (state, base, _stop) = announced(&app, &old, &new).await;
        let listed = changes(&app, &base).await;
        let pending = listed["pending_changes"].as_array().cloned().unwrap_or_default();
        assert_eq!(pending.len(), 1, "{listed}");
        assert_eq!(pending[0]["host"].as_str(), Some(new_host(&new).as_str()));
        let effective = pending[0]["effective_at"].as_str().unwrap_or_default().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        assert_eq!((effective - app.clock.now()).num_days(), 30, "the default notice period");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'subprocessor.change_announced'").await, 1);

        // The dashboard shows a banner and the change with its date.
        crate::dashboard::user(&app, "owner@warung.id", Role::Owner).await;
        let mut owner = crate::dashboard::Visitor::new(&base);
        assert_eq!(owner.login(&app.tenant.slug, "owner@warung.id", crate::dashboard::PASSWORD).await.status, 303);
        let inbox = owner.get("/dashboard").await;
        assert!(inbox.body.contains("subprocessor-notice"), "{}", inbox.body);
        let page = owner.get("/dashboard/subprocessors").await;
        let date = (effective + chrono::Duration::hours(7)).format("%d-%m-%Y").to_string();
        assert!(page.body.contains(&new_host(&new)) && page.body.contains(&date), "{}", page.body);

        assert_eq!(ask(&app, &state, "wamid.S1", &new).await, 0, "not used before its date");
        assert!(!old.requests().is_empty(), "the shop's own chain was tried");

        let token = app.token(app.tenant.id, Role::Owner);
        let id = pending[0]["id"].as_str().unwrap_or_default().to_string();
        let url = format!("{base}/api/v1/subprocessors/changes/{id}/accept");
        assert_eq!(app.http.post(&url).bearer_auth(&token).send().await.unwrap().status().as_u16(), 204);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'subprocessor.change_accepted'").await, 1);
        assert_eq!(ask(&app, &state, "wamid.S2", &new).await, 1, "used once the owner accepts");
        let listed = changes(&app, &base).await;
        let recorded: Vec<&str> = listed["recorded"].as_array().unwrap().iter().filter_map(|r| r["host"].as_str()).collect();
        assert!(recorded.contains(&new_host(&new).as_str()) && listed["pending_changes"].as_array().is_some_and(Vec::is_empty), "{listed}");
        assert_eq!(app.http.post(&url).bearer_auth(&token).send().await.unwrap().status().as_u16(), 404, "decided once");
    }
}

on_both_databases! {
    async fn a_new_llm_host_is_used_from_its_date_and_never_after_an_objection(app) {
        let (old, new) = (FakeLlm::start().await.unwrap(), FakeLlm::start().await.unwrap());
        let (state, base, _stop) = announced(&app, &old, &new).await;
        app.clock.advance(chrono::Duration::days(30) - chrono::Duration::minutes(1));
        assert_eq!(ask(&app, &state, "wamid.D1", &new).await, 0, "a minute before the date");
        app.clock.advance(chrono::Duration::minutes(2));
        assert_eq!(ask(&app, &state, "wamid.D2", &new).await, 1, "from the date on");
        balas::api::subprocessors::resync(&state, app.tenant.id, None).await.unwrap();
        let listed = changes(&app, &base).await;
        let recorded: Vec<&str> = listed["recorded"].as_array().unwrap().iter().filter_map(|r| r["host"].as_str()).collect();
        assert!(recorded.contains(&new_host(&new).as_str()), "{listed}");

        // A second host, objected to: never used for this shop, even after its date.
        let third = FakeLlm::start().await.unwrap();
        third.always(LlmStep::Reply("Buka jam 8 kak.".into()));
        new.always(LlmStep::ServerError);
        let (state, base, _stop2) = with_chain(&app, vec![endpoint(&old, "old"), endpoint(&new, "new"), endpoint(&third, "third")]).await;
        assert_eq!(balas::api::subprocessors::resync(&state, app.tenant.id, None).await.unwrap().announced, 1);
        let listed = changes(&app, &base).await;
        let id = listed["pending_changes"][0]["id"].as_str().unwrap_or_default().to_string();
        let token = app.token(app.tenant.id, Role::Owner);
        let url = format!("{base}/api/v1/subprocessors/changes/{id}/object");
        assert_eq!(app.http.post(&url).bearer_auth(&token).send().await.unwrap().status().as_u16(), 204);
        app.clock.advance(chrono::Duration::days(31));
        assert_eq!(ask(&app, &state, "wamid.D3", &third).await, 0, "objected: not applied to this shop");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'subprocessor.change_objected'").await, 1);
    }
}
