//! Limits that cost the operator money (`tenants::OPERATOR_ONLY`): tenant users read them, only
//! `balas tenant set` changes them, audited as `tenant.limits_changed`.
use balas::api::auth::Role;
use serde_json::{Value, json};

use crate::dashboard::{PASSWORD, Visitor, user};
use crate::helpers::TestApp;
use crate::on_both_databases;

/// The tenant's stored budget, read through the store (as the app role on PostgreSQL).
async fn budget(app: &TestApp) -> i64 {
    balas::tenants::find(&*app.state.store, &app.tenant.id.to_string())
        .await
        .unwrap()
        .expect("the test tenant")
        .settings
        .monthly_token_budget
}

/// The detail of the newest audit row with `action`.
async fn last_detail(app: &TestApp, sql: &'static str) -> Value {
    serde_json::from_str(&app.inspect.text(sql).await.expect("an audit row")).unwrap()
}

on_both_databases! {
    async fn the_api_reads_but_never_changes_the_token_budget(app) {
        let owner = app.token(app.tenant.id, Role::Owner);
        let before = budget(&app).await;
        let (status, read) = app.call("GET", "/api/v1/settings", &owner, None).await;
        assert_eq!(status, 200);
        assert_eq!(read["settings"]["monthly_token_budget"], json!(before), "tenant users can read it");
        assert_eq!(read["operator_only"], json!(["monthly_token_budget", "monthly_template_cap", "daily_media_bytes_cap", "own_llm_key_allowed"]));

        let (status, e) = app.call("PATCH", "/api/v1/settings", &owner, Some(json!({ "monthly_token_budget": 9_000_000_000_i64 }))).await;
        assert_eq!((status, e["error"].as_str()), (403, Some("operator_only")), "{e}");
        assert!(e["detail"].as_str().unwrap().contains("monthly_token_budget"), "names the field: {e}");
        // Together with an allowed field, nothing at all is saved.
        let (status, e) = app.call("PATCH", "/api/v1/settings", &owner, Some(json!({ "tone": "galak", "monthly_token_budget": 0 }))).await;
        assert_eq!((status, e["error"].as_str()), (403, Some("operator_only")), "lowering it is the operator's call too");
        assert_eq!(budget(&app).await, before, "the budget is unchanged");
        let (_, read) = app.call("GET", "/api/v1/settings", &owner, None).await;
        assert_ne!(read["settings"]["tone"], json!("galak"));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.settings_changed'").await, 0);

        // A client echoing what it read changes nothing and is not refused.
        let (status, _) = app.call("PATCH", "/api/v1/settings", &owner, Some(json!({ "tone": "ramah", "monthly_token_budget": before }))).await;
        assert_eq!(status, 200);
        let detail = last_detail(&app, "SELECT detail FROM audit_log WHERE action = 'tenant.settings_changed' ORDER BY seq DESC LIMIT 1").await;
        assert_eq!(detail["fields"], json!(["tone"]));
        assert_eq!(budget(&app).await, before);
    }

    async fn the_dashboard_shows_the_token_budget_read_only(app) {
        user(&app, "pemilik@warung.example", Role::Owner).await;
        let mut owner = Visitor::new(&app.base);
        assert_eq!(owner.login(&app.tenant.slug, "pemilik@warung.example", PASSWORD).await.status, 303);
        let before = budget(&app).await;
        let page = owner.get("/dashboard/settings").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&before.to_string()), "the budget is shown: {}", page.body);
        assert!(!page.body.contains(r#"name="monthly_token_budget""#), "but not as a field: {}", page.body);
        assert!(page.body.contains("pengelola layanan"), "with who sets it: {}", page.body);

        let csrf = page.csrf();
        let form = [
            ("csrf", csrf.as_str()), ("name", "Warung Kopi Bu Sri"), ("description", ""), ("address", ""), ("opening_hours", ""),
            ("business_hours", ""), ("timezone", "Asia/Jakarta"), ("tone", "santai"), ("escalation_keywords", "komplain"),
            ("link_hosts", ""), ("digest_time", "07:00"), ("language", "id"), ("max_bot_turns", "8"), ("renotify_minutes", "30"),
            ("monthly_token_budget", "9000000000"),
        ];
        assert_eq!(owner.post("/dashboard/settings", &form).await.location(), "/dashboard/settings?ok=saved");
        assert_eq!(budget(&app).await, before, "a hand-made field changes nothing");
        let detail = last_detail(&app, "SELECT detail FROM audit_log WHERE action = 'tenant.settings_changed' ORDER BY seq DESC LIMIT 1").await;
        assert!(!detail["fields"].as_array().unwrap().contains(&json!("monthly_token_budget")), "{detail}");

        let bad = form.map(|(k, v)| if k == "digest_time" { (k, "25:99") } else { (k, v) });
        let refused = owner.post("/dashboard/settings", &bad).await;
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains(&before.to_string()), "still shown on an error page: {}", refused.body);
    }

    async fn the_operator_sets_the_token_budget_from_the_cli(app) {
        let before = budget(&app).await;
        let set = app.cli(&["tenant", "set", "--tenant", &app.tenant.slug, "--token-budget", "5000000"]);
        assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
        assert!(String::from_utf8_lossy(&set.stdout).contains(&format!("{before} -> 5000000")), "{}", String::from_utf8_lossy(&set.stdout));
        assert_eq!(budget(&app).await, 5_000_000);
        let audited = "SELECT detail FROM audit_log WHERE action = 'tenant.limits_changed' ORDER BY seq DESC LIMIT 1";
        assert_eq!(last_detail(&app, audited).await, json!({ "monthly_token_budget": { "old": before, "new": 5_000_000 } }));
        assert_eq!(app.inspect.text("SELECT actor FROM audit_log WHERE action = 'tenant.limits_changed'").await.as_deref(), Some("cli"));

        let by_id = app.cli(&["tenant", "set", "--tenant", &app.tenant.id.to_string(), "--token-budget", "0"]);
        assert!(by_id.status.success(), "{}", String::from_utf8_lossy(&by_id.stderr));
        assert_eq!(budget(&app).await, 0, "0 keeps the tenant offline");
        assert_eq!(last_detail(&app, audited).await, json!({ "monthly_token_budget": { "old": 5_000_000, "new": 0 } }));

        let unknown = app.cli(&["tenant", "set", "--tenant", "no-such-shop", "--token-budget", "1"]);
        assert!(!unknown.status.success());
        assert!(String::from_utf8_lossy(&unknown.stderr).contains("no tenant \"no-such-shop\""), "{}", String::from_utf8_lossy(&unknown.stderr));
        for refused in [vec!["--token-budget", "-5"], vec![]] {
            let mut args = vec!["tenant", "set", "--tenant", app.tenant.slug.as_str()];
            args.extend(refused);
            assert!(!app.cli(&args).status.success(), "{args:?}");
        }
        assert_eq!(budget(&app).await, 0);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.limits_changed'").await, 2);
    }
}
