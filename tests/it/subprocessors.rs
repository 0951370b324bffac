//! `GET /api/v1/subprocessors`: derived from the configuration and the tenant's channels, any
//! role may read it, and it never shows credentials.
use balas::api::auth::Role;
use balas::llm::{LlmEndpoint, LlmSettings};
use balas::owner::email::SmtpSettings;
use serde_json::Value;

use crate::helpers::{Db, TestApp};
use crate::on_both_databases;

async fn list(app: &TestApp, base: &str, token: &str) -> (u16, Value) {
    let r = app.http.get(format!("{base}/api/v1/subprocessors")).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn of_kind<'a>(body: &'a Value, kind: &str) -> Vec<&'a Value> {
    body["subprocessors"].as_array().unwrap().iter().filter(|s| s["kind"] == kind).collect()
}

fn host_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
}

on_both_databases! {
    async fn the_subprocessor_list_follows_the_configuration(app) {
        let analytics = app.token(app.tenant.id, Role::Analytics);
        // The test app has no LLM and no SMTP: only the Meta channel and the database.
        let (status, plain) = list(&app, &app.base, &analytics).await;
        assert_eq!(status, 200, "{plain}");
        let kinds: Vec<&str> = plain["subprocessors"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["messaging", "database"], "{plain}");
        assert_eq!(app.http.get(format!("{}/api/v1/subprocessors", app.base)).send().await.unwrap().status(), 401);

        let endpoint = |url: &str, model: &str| LlmEndpoint { base_url: url.into(), model: model.into(), api_key: "sk-llm-secret-key".into() };
        let with_llm = app.serve_with(|c| {
            c.llm = Some(LlmSettings::new(vec![
                endpoint("https://openrouter.ai/api/v1", "google/gemini-2.5-flash"),
                endpoint("https://generativelanguage.googleapis.com/v1beta/openai?key=gm-secret", "gemini-2.5-flash"),
            ]));
            c.database_host = Some("db.internal:5432".into());
        }).await;
        let staff = app.token(app.tenant.id, Role::Staff);
        let (status, body) = list(&app, &with_llm.base, &staff).await;
        assert_eq!(status, 200, "{body}");
        let messaging = of_kind(&body, "messaging");
        assert_eq!(messaging.len(), 1, "{body}");
        assert!(messaging[0]["name"].as_str().unwrap().starts_with("Meta"), "{body}");
        assert_eq!(messaging[0]["host"], host_of(&app.providers.meta_url), "the Graph API the gateway really calls");
        let llms = of_kind(&body, "llm");
        let hosts: Vec<&str> = llms.iter().map(|l| l["host"].as_str().unwrap()).collect();
        assert_eq!(hosts, ["openrouter.ai", "generativelanguage.googleapis.com"]);
        assert_eq!((llms[0]["role"].as_str(), llms[1]["role"].as_str()), (Some("primary"), Some("fallback 1")));
        assert!(of_kind(&body, "email").is_empty(), "no SMTP configured: {body}");
        let database = of_kind(&body, "database");
        match app.db {
            Db::Sqlite => assert_eq!((database[0]["name"].as_str(), &database[0]["host"]), (Some("SQLite (local file)"), &Value::Null)),
            Db::Postgres => assert_eq!((database[0]["name"].as_str(), database[0]["host"].as_str()), (Some("PostgreSQL"), Some("db.internal:5432"))),
        }
        for entry in body["subprocessors"].as_array().unwrap() {
            assert!(entry["purpose"].as_str().is_some_and(|p| !p.is_empty()) && !entry["data"].as_array().unwrap().is_empty(), "{entry}");
        }

        // A Twilio channel and SMTP appear; the SMTP credentials and the LLM keys do not.
        app.twilio_channel().await;
        let with_smtp = app.serve_with(|c| {
            c.smtp = Some(SmtpSettings { url: "smtps://mailer:smtp-pass-123@mail.example.com:465".into(), from: "balas@example.com".into() });
            c.media.storage = balas::media::StorageSettings::S3 {
                endpoint: Some("https://objects.example.net".into()),
                bucket: "balas-media".into(),
                region: "ap-southeast-3".into(),
                access_key_id: Some("AKIA-s3-key-id".into()),
                secret_access_key: Some("s3-secret-789".into()),
                root: "/".into(),
            };
        }).await;
        let owner = app.token(app.tenant.id, Role::Owner);
        let (status, body) = list(&app, &with_smtp.base, &owner).await;
        assert_eq!(status, 200, "{body}");
        let names: Vec<&str> = of_kind(&body, "messaging").iter().map(|m| m["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 2, "{body}");
        assert!(names.iter().any(|n| n.starts_with("Twilio")), "{names:?}");
        let email = of_kind(&body, "email");
        assert_eq!((email.len(), email[0]["host"].as_str()), (1, Some("mail.example.com:465")));
        let storage = of_kind(&body, "storage");
        assert_eq!((storage.len(), storage[0]["host"].as_str()), (1, Some("objects.example.net")), "media on S3: {body}");
        assert!(of_kind(&list(&app, &with_llm.base, &owner).await.1, "storage").is_empty(), "media in a local directory");
        let whole = format!("{body}{}", list(&app, &with_llm.base, &owner).await.1);
        for secret in ["smtp-pass-123", "mailer", "sk-llm-secret-key", "gm-secret", "/api/v1", "?key", "s3-secret-789", "AKIA-s3-key-id"] {
            assert!(!whole.contains(secret), "{secret} leaked: {whole}");
        }
    }
}
