//! Message bodies, names, phone numbers and BSUIDs never reach the database in plaintext.
use balas::fakes::meta_webhook::FakeCustomer;

use crate::helpers::{Inspector, TestApp};
use crate::on_both_databases;

const SECRET_BODY: &str = "RAHASIA-7731 kirim ke Jl. Melati 17";
const PHONE: &str = "6281299887766";
const NAME: &str = "Siti Plaintextwati";
const BSUID: &str = "ID.90817263544536271809";

/// Everything the database holds, as bytes to search.
pub async fn database_bytes(app: &TestApp) -> Vec<u8> {
    match &app.inspect {
        Inspector::Sqlite(pool) => {
            // Fold the WAL into the main file so one read sees everything that was committed.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await.unwrap();
            let path = app.sqlite_path.clone().unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            for suffix in ["-wal", "-shm"] {
                if let Ok(more) = std::fs::read(format!("{}{suffix}", path.display())) {
                    bytes.extend(more);
                }
            }
            bytes
        }
        Inspector::Postgres(pool) => {
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            assert!(tables.len() >= 10, "{tables:?}");
            let mut dump = String::new();
            for t in tables {
                let sql = format!("SELECT COALESCE(string_agg(row_to_json(x)::text, ' '), '') FROM {t} x");
                let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.unwrap();
                dump.push_str(&rows);
            }
            dump.into_bytes()
        }
    }
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

on_both_databases! {
    async fn the_database_holds_no_plaintext_of_what_customers_sent(app) {
        let c = FakeCustomer { bsuid: Some(BSUID.into()), phone: Some(PHONE.into()), name: NAME.into(), username: Some("siti_rahasia".into()) };
        app.send_webhook(&app.text(&c, "wamid.P1", "Jam buka kapan?")).await;
        app.send_webhook(&app.text(&c, "wamid.P2", SECRET_BODY)).await;
        app.drain().await;
        assert_eq!(app.providers.received().len(), 2, "the pipeline really ran: an FAQ answer and a holding message");

        let bytes = database_bytes(&app).await;
        assert!(bytes.len() > 1000);
        for needle in [SECRET_BODY, "RAHASIA-7731", "Melati", PHONE, &PHONE[2..], NAME, BSUID, "siti_rahasia", "Jam buka kapan"] {
            assert!(!contains(&bytes, needle), "plaintext found in the database: {needle}");
        }
        // The search can find things: the tenant's own (non-personal) FAQ text is stored as is.
        assert!(contains(&bytes, "Kenanga"));
    }
}
