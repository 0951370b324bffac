//! Integration tests. Tests declared with `on_both_databases!` run on SQLite and on
//! PostgreSQL (`BALAS_TEST_POSTGRES_URL`); `on_postgres!` tests cover PostgreSQL-only guarantees.
mod helpers;

mod admin_api;
mod analytics;
mod audit_chain;
mod auth_api;
mod breach_report;
mod cli;
mod conversations_api;
mod dashboard;
mod dashboard_browser;
mod digest;
mod escalations_api;
mod fernet_vectors;
mod fonnte;
mod isolation;
mod key_rotation;
mod llm;
mod log_masking;
mod meta_ingress;
mod metrics;
mod openapi;
mod owner_loop;
mod owner_window;
mod pipeline;
mod privacy;
mod privacy_export;
mod privacy_requests;
mod privacy_rights;
mod queue;
mod retention;
mod store;
mod subprocessors;
mod twilio;
