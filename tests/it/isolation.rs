//! Tenant isolation on PostgreSQL, as the app role: row-level security, forced, on every
//! table that holds tenant data; the app role cannot bypass it or rewrite the audit log.
use balas::channels::{ChannelSecrets, meta::MetaSecrets};
use balas::clock::Clock;
use balas::crypto;
use balas::domain::Provider;
use balas::fakes::meta_webhook;
use sqlx::{Executor, PgPool, Row};

use crate::helpers::{Inspector, customer};
use crate::on_postgres;

/// Tables without RLS by design: routing and the queue hold ids only, no personal data.
const NO_RLS_BY_DESIGN: &[&str] = &["channel_routes", "jobs", "_sqlx_migrations", "tenant_routes", "login_throttle"];

/// `INSERT INTO t (cols) SELECT cols FROM t WHERE tenant = $1` with the tenant column set to $2:
/// a copy of an own row into the other tenant, whatever the table's columns.
async fn copy_to_other(owner: &PgPool, table: &str, column: &str) -> String {
    let columns: Vec<String> = sqlx::query_scalar("SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position")
        .bind(table).fetch_all(owner).await.unwrap();
    let values: Vec<String> = columns.iter().map(|c| if c == column { "$2".to_string() } else { c.clone() }).collect();
    format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {table} WHERE {column} = $1 LIMIT 1",
        columns.join(", "),
        values.join(", ")
    )
}

async fn app_pool(app: &crate::helpers::TestApp) -> PgPool {
    let url = app.cli_env.iter().find(|(k, _)| k == "BALAS_DATABASE_URL").map(|(_, v)| v.clone()).unwrap();
    PgPool::connect(&url).await.unwrap()
}

on_postgres! {
    async fn every_tenant_table_forces_rls_and_the_app_role_cannot_bypass_it(app) {
        let Inspector::Postgres(owner) = &app.inspect else { unreachable!() };
        let rows = sqlx::query("SELECT c.relname::text AS name, c.relrowsecurity, c.relforcerowsecurity, \
                                (SELECT COUNT(*) FROM pg_policies p WHERE p.tablename = c.relname) AS policies \
                                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                                WHERE n.nspname = 'public' AND c.relkind = 'r'")
            .fetch_all(owner).await.unwrap();
        assert!(rows.len() >= 10);
        for row in rows {
            let name: String = row.get("name");
            if NO_RLS_BY_DESIGN.contains(&name.as_str()) {
                continue;
            }
            let (enabled, forced, policies): (bool, bool, i64) = (row.get(1), row.get(2), row.get(3));
            assert!(enabled && forced && policies >= 1, "table {name} lacks forced row-level security");
        }
        let role = sqlx::query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'balas_app'").fetch_one(owner).await.unwrap();
        assert!(!role.get::<bool, _>(0) && !role.get::<bool, _>(1), "the app role must be neither superuser nor BYPASSRLS");
        let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = 'balas_app'").fetch_one(owner).await.unwrap();
        assert_eq!(owned, 0, "the app role must not own tables");
    }

    async fn tenant_b_is_invisible_and_unwritable_for_tenant_a(app) {
        // Data for tenant A through the real pipeline, and a second tenant B with its own.
        app.add_owner("6281100000001", None).await;
        app.send_webhook(&app.text(&customer(1), "wamid.A1", "Saya mau komplain")).await;
        let keys = &app.state.keys;
        let now = app.clock.now();
        let b = balas::tenants::create(&*app.state.store, keys, "Toko Lain", None, &Default::default(), now).await.unwrap();
        let secrets = ChannelSecrets::Meta(MetaSecrets { app_secret: "b".into(), access_token: "b".into(), verify_token: crypto::generate_key().into() });
        let b_channel = balas::tenants::add_channel(&*app.state.store, keys, b.id, Provider::Meta, "222", &secrets, now).await.unwrap();
        let owner = balas::domain::Phone::parse("6281100000002").unwrap();
        balas::owner::add_owner(&*app.state.store, keys, b.id, &owner, None, "test", now).await.unwrap();
        let c = customer(2);
        let body = serde_json::to_vec(&meta_webhook::envelope("222", &[&c], vec![c.text("wamid.B1", "Saya mau komplain", 1)], vec![])).unwrap();
        let url = format!("{}/webhooks/meta/{}", app.base, b_channel.id);
        let response = app.post_raw(&url, body.clone(), Some(meta_webhook::sign("b", &body))).await;
        assert_eq!(response.status().as_u16(), 200);
        app.drain().await;
        let Inspector::Postgres(owner_pool) = &app.inspect else { unreachable!() };
        for tenant in [app.tenant.id, b.id] {
            let new = balas::users::NewUser { email: "staf@toko.example", role: balas::api::auth::Role::Staff, password: "rahasia-sekali" };
            let user = balas::users::create(&*app.state.store, keys, tenant, new, "test", now).await.unwrap();
            let mut tx = app.state.store.begin(tenant).await.unwrap();
            tx.revoke_token(&format!("jti-{tenant}"), now, now).await.unwrap();
            balas::analytics::rollup::catch_up(&mut *tx, now).await.unwrap();
            tx.commit().await.unwrap();
            // Rows no code path writes yet, written as the schema owner so every table has some.
            sqlx::query("INSERT INTO staff_pins (user_id, tenant_id, pin_hash, updated_at) VALUES ($1, $2, 'x', now())").bind(user.id.0).bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO llm_usage (id, tenant_id, model, outcome, prompt_tokens, completion_tokens, latency_ms, cost_micro_usd, at) VALUES ($1, $2, 'm', 'replied', 1, 1, 1, 0, now())").bind(uuid::Uuid::now_v7()).bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO dsar_requests (id, tenant_id, kind, source, status, received_at, acknowledge_by, answer_by) VALUES ($1, $2, 'access', 'api', 'open', now(), now(), now())").bind(uuid::Uuid::now_v7()).bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO activity_counts (tenant_id, day, metric, count) VALUES ($1, '2026-01-01', 'messages_in', 1)").bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO audit_checkpoints (tenant_id, through_seq, hash, at, purged_rows) VALUES ($1, 0, 'x', now(), 0)").bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO chat_reviews (tenant_id, conversation_id) VALUES ($1, $2)").bind(tenant.0).bind(uuid::Uuid::now_v7()).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO template_sends (id, tenant_id, channel_id, purpose, category, sent_at) SELECT gen_random_uuid(), tenant_id, id, 'owner_escalation', 'utility', now() FROM channels WHERE tenant_id = $1 LIMIT 1").bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO media_objects (id, tenant_id, contact_id, message_id, part, object_key, content_hash, sha256_enc, mime_type, size_bytes, created_at) SELECT gen_random_uuid(), tenant_id, contact_id, id, 0, 'm/x', 'h', 's', 'image/jpeg', 1, now() FROM messages WHERE tenant_id = $1 LIMIT 1").bind(tenant.0).execute(owner_pool).await.unwrap();
            let endpoint = uuid::Uuid::now_v7();
            sqlx::query("INSERT INTO webhook_endpoints (id, tenant_id, url, events, include_content, secret_enc, state, created_by, created_at, updated_at) VALUES ($1, $2, 'https://example.com/h', 'message.received', false, 'x', 'enabled', 'test', now(), now())").bind(endpoint).bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, message_id, event_type, payload, state, created_at) VALUES ($1, $2, $3, 'msg_x', 'message.received', '{}', 'pending', now())").bind(uuid::Uuid::now_v7()).bind(tenant.0).bind(endpoint).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO knowledge_gaps (id, tenant_id, group_id, escalation_id, contact_id, question_enc, terms_enc, state, created_at) SELECT gen_random_uuid(), tenant_id, id, id, contact_id, 'q', 't', 'open', now() FROM escalations WHERE tenant_id = $1 LIMIT 1").bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO kb_entry_versions (id, tenant_id, entry_id, version, change, question, answer, keywords, actor, created_at) VALUES (gen_random_uuid(), $1, gen_random_uuid(), 1, 'created', 'q', 'a', '', 'test', now())").bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO tenant_subprocessors (tenant_id, key, kind, name, since) VALUES ($1, 'database:x', 'database', 'x', now())").bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO subprocessor_changes (id, tenant_id, key, kind, name, change, diff, state, announced_at, effective_at) VALUES (gen_random_uuid(), $1, 'llm:x', 'llm', 'x', 'added', '{}', 'pending', now(), now())").bind(tenant.0).execute(owner_pool).await.unwrap();
            sqlx::query("INSERT INTO channel_templates (tenant_id, channel_id, purpose, language, name, status, updated_at) SELECT tenant_id, id, 'owner_escalation', 'id', 'balas_owner_escalation_v1', 'approved', now() FROM channels WHERE tenant_id = $1 LIMIT 1").bind(tenant.0).execute(owner_pool).await.unwrap();
        }

        // Every table the schema has, from the catalog: a new one is covered without editing this test.
        let tables: Vec<String> = sqlx::query_scalar("SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1")
            .fetch_all(owner_pool).await.unwrap();
        let tables: Vec<String> = tables.into_iter().filter(|t| !NO_RLS_BY_DESIGN.contains(&t.as_str())).collect();
        assert!(tables.len() >= 15, "{tables:?}");
        let pool = app_pool(&app).await;
        for (tenant, other) in [(app.tenant.id, b.id), (b.id, app.tenant.id)] {
            for table in &tables {
                let column = if table == "tenants" { "id" } else { "tenant_id" };
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(tenant.to_string()).execute(&mut *tx).await.unwrap();
                let foreign: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE {column} <> $1"))).bind(tenant.0).fetch_one(&mut *tx).await.unwrap();
                assert_eq!(foreign, 0, "{table}: rows of another tenant are visible");
                let own: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(&mut *tx).await.unwrap();
                if table != "kb_entries" || tenant == app.tenant.id {
                    assert!(own > 0, "{table}: the tenant's own rows must be visible (else this test proves nothing)");
                }
                let updated = sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET {column} = {column} WHERE {column} = $1"))).bind(other.0).execute(&mut *tx).await;
                assert_eq!(updated.map(|u| u.rows_affected()).unwrap_or(0), 0, "{table}: another tenant's rows are updatable");
                let deleted = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE {column} = $1"))).bind(other.0).execute(&mut *tx).await;
                assert_eq!(deleted.map(|d| d.rows_affected()).unwrap_or(0), 0, "{table}: another tenant's rows are deletable");
                tx.rollback().await.unwrap();

                // Moving an own row to the other tenant, or copying one there, is refused.
                for write in [format!("UPDATE {table} SET {column} = $2 WHERE {column} = $1"), copy_to_other(owner_pool, table, column).await] {
                    let mut tx = pool.begin().await.unwrap();
                    sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(tenant.to_string()).execute(&mut *tx).await.unwrap();
                    let result = sqlx::query(sqlx::AssertSqlSafe(write.clone())).bind(tenant.0).bind(other.0).execute(&mut *tx).await;
                    let refused = result.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
                    let by_policy = refused.contains("row-level security") || refused.contains("permission denied");
                    assert!(by_policy || own == 0, "{table}: `{write}` was not refused by the policy: {refused:?}");
                    tx.rollback().await.unwrap();
                }
            }
        }

        // With no tenant set, nothing is visible at all.
        for table in &tables {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(&pool).await.unwrap();
            assert_eq!(n, 0, "{table}: rows visible without a tenant");
        }
    }

    async fn the_app_role_cannot_change_or_truncate_the_audit_log(app) {
        let pool = app_pool(&app).await;
        let mut conn = pool.acquire().await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!("SELECT set_config('app.tenant_id', '{}', false)", app.tenant.id))).await.unwrap();
        for sql in ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
            let result = sqlx::query(sql).execute(&mut *conn).await;
            assert!(result.is_err(), "the app role could run: {sql}");
        }
        let Inspector::Postgres(owner) = &app.inspect else { unreachable!() };
        let by_trigger = sqlx::query("UPDATE audit_log SET actor = 'x'").execute(owner).await;
        assert!(by_trigger.is_err(), "even the owner is stopped by the append-only trigger");
        // The retention function refuses rows younger than 12 whole months, whoever calls it.
        let purge = sqlx::query("SELECT balas_purge_audit((SELECT MAX(seq) FROM audit_log))").execute(&mut *conn).await;
        assert!(purge.is_err(), "the app role purged recent audit rows");
        sqlx::query("SET balas.audit_purge = 'on'").execute(&mut *conn).await.unwrap();
        assert!(sqlx::query("DELETE FROM audit_log").execute(&mut *conn).await.is_err(), "the purge flag alone opens nothing");
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(owner).await.unwrap();
        assert!(rows > 0);
    }
}
