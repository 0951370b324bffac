//! Where a `TestApp` keeps customers' media: a directory, or a fresh bucket on the S3-compatible
//! server at `BALAS_TEST_S3_URL` (moto, started by `.ci/run`). `on_every_store!` runs a test on
//! both databases and both storages.
use balas::media::{MediaSettings, StorageSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStorage {
    Dir,
    S3,
}

impl TestStorage {
    /// The settings the app runs with (fetches may reach the loopback fakes, and the fake
    /// Twilio CDN on `localhost`); `cli_env` gets the same for the `balas` binary.
    pub async fn settings(self, dir: &std::path::Path, cli_env: &mut Vec<(String, String)>) -> MediaSettings {
        let storage = match self {
            Self::Dir => {
                cli_env.push(("BALAS_MEDIA_DIR".into(), dir.display().to_string()));
                StorageSettings::Dir(dir.to_path_buf())
            }
            Self::S3 => {
                let Ok(endpoint) = std::env::var("BALAS_TEST_S3_URL") else {
                    panic!(
                        "BALAS_TEST_S3_URL is not set, but this S3 test was built to run (the variable was set, or CI=true, at build time)"
                    );
                };
                let bucket = format!("balas-test-{}", uuid::Uuid::new_v4().simple());
                let created = reqwest::Client::new().put(format!("{endpoint}/{bucket}")).send().await;
                let created =
                    created.unwrap_or_else(|e| panic!("the S3 test server at BALAS_TEST_S3_URL is unreachable: {e}"));
                assert!(created.status().is_success(), "creating a test bucket: {}", created.status());
                for (name, value) in [
                    ("BALAS_S3_BUCKET", bucket.as_str()),
                    ("BALAS_S3_ENDPOINT", endpoint.as_str()),
                    ("BALAS_S3_ACCESS_KEY_ID", "testing"),
                    ("BALAS_S3_SECRET_ACCESS_KEY", "testing"),
                ] {
                    cli_env.push((name.into(), value.into()));
                }
                StorageSettings::S3 {
                    endpoint: Some(endpoint),
                    bucket,
                    region: "us-east-1".into(),
                    access_key_id: Some("testing".into()),
                    secret_access_key: Some("testing".into()),
                    root: "/".into(),
                }
            }
        };
        MediaSettings {
            storage,
            extra_hosts: vec!["localhost".into()],
            allow_private: true,
            ..MediaSettings::default()
        }
    }
}

/// Declares a test that runs on SQLite and PostgreSQL, each with media in a directory and on S3.
#[macro_export]
macro_rules! on_every_store {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::helpers::{Db, TestApp, TestStorage};

            async fn body($app: TestApp) $body

            async fn spawn(db: Db, storage: TestStorage) -> Option<TestApp> {
                TestApp::spawn_storing(db, storage, chrono::Utc::now()).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_dir() {
                if let Some(app) = spawn(Db::Sqlite, TestStorage::Dir).await { body(app).await }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(balas_test_postgres), ignore = "set BALAS_TEST_POSTGRES_URL to run the PostgreSQL variant")]
            async fn postgres_dir() {
                if let Some(app) = spawn(Db::Postgres, TestStorage::Dir).await { body(app).await }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(balas_test_s3), ignore = "set BALAS_TEST_S3_URL to run the S3 variant")]
            async fn sqlite_s3() {
                if let Some(app) = spawn(Db::Sqlite, TestStorage::S3).await { body(app).await }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(all(balas_test_postgres, balas_test_s3)), ignore = "set BALAS_TEST_POSTGRES_URL and BALAS_TEST_S3_URL to run this variant")]
            async fn postgres_s3() {
                if let Some(app) = spawn(Db::Postgres, TestStorage::S3).await { body(app).await }
            }
        }
    )*};
}
