//! `balas breach-report`: exact counts of records and distinct customers read, exported and
//! changed per actor in a half-open window, the actor and tenant filters, and no personal data.
use balas::api::auth::{Claims, Role, TokenKeys};
use balas::clock::Clock;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::Value;

use crate::helpers::{JWT_SECRET, TestApp, customer};
use crate::on_both_databases;

/// A token whose audit actor is `api:{subject}`.
fn token_as(app: &TestApp, tenant: balas::domain::TenantId, subject: &str) -> String {
    let claims = Claims::new(tenant, Role::Owner, subject, Duration::days(30), app.clock.now());
    TokenKeys::new(&JWT_SECRET.into()).unwrap().issue(&claims).unwrap()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Runs the report; returns the JSON (stdout) and the summary (stderr).
fn report(app: &TestApp, since: DateTime<Utc>, until: DateTime<Utc>, extra: &[&str]) -> (Value, String) {
    let (since, until) = (stamp(since), stamp(until));
    let mut args = vec!["breach-report", "--since", &since, "--until", &until];
    args.extend_from_slice(extra);
    let out = app.cli(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (json, stderr)
}

/// (events, records, subjects, unresolved_records) of one tally.
fn counts(tally: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| tally[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {tally}"));
    (n("events"), n("records"), n("subjects"), n("unresolved_records"))
}

fn tenant<'a>(report: &'a Value, slug: &str) -> &'a Value {
    report["tenants"].as_array().unwrap().iter().find(|t| t["slug"] == slug).unwrap_or_else(|| panic!("{report}"))
}

on_both_databases! {
    async fn a_breach_report_counts_records_and_customers_per_category_and_actor(app) {
        // Before the window: three customers write in and the bot answers them.
        for n in 1..=3 {
            app.send_webhook(&app.text(&customer(n), &format!("wamid.BR{n}"), "Halo kak, jam buka kapan?")).await;
        }
        app.drain().await;
        let dashboard = token_as(&app, app.tenant.id, "dashboard");
        let auditor = token_as(&app, app.tenant.id, "auditor");
        let (_, list) = app.call("GET", "/api/v1/conversations", &dashboard, None).await;
        let ids = |n: u32| {
            let c = list["conversations"].as_array().unwrap().iter()
                .find(|c| c["customer"].as_str().unwrap().starts_with(&format!("Pelanggan {n}"))).unwrap();
            (c["id"].as_str().unwrap().to_string(), c["contact_id"].as_str().unwrap().to_string())
        };
        let ((conv1, contact1), (conv2, contact2), (conv3, contact3)) = (ids(1), ids(2), ids(3));
        let read = |conv: &str| format!("/api/v1/conversations/{conv}");
        let export = |contact: &str| format!("/api/v1/contacts/{contact}/export");
        let other = balas::tenants::create(&*app.state.store, &app.state.keys, "Toko Lain", None, &Default::default(), app.clock.now()).await.unwrap();
        let other_token = token_as(&app, other.id, "dashboard");

        // One microsecond before the window: not counted.
        app.clock.advance(Duration::hours(1) - Duration::microseconds(1));
        assert_eq!(app.call("GET", &read(&conv2), &auditor, None).await.0, 200);
        app.clock.advance(Duration::microseconds(1));
        let since = app.clock.now();
        // Window 1: the dashboard reads two customers (one twice), the auditor one, and exports two.
        assert_eq!(app.call("GET", &read(&conv1), &dashboard, None).await.0, 200);
        assert_eq!(app.call("GET", &read(&conv1), &dashboard, None).await.0, 200);
        assert_eq!(app.call("GET", &read(&conv2), &dashboard, None).await.0, 200);
        assert_eq!(app.call("GET", &read(&conv3), &auditor, None).await.0, 200);
        assert_eq!(app.call("GET", &export(&contact1), &auditor, None).await.0, 200);
        app.clock.advance(Duration::minutes(30));
        assert_eq!(app.call("GET", "/api/v1/conversations", &dashboard, None).await.0, 200);
        assert_eq!(app.call("GET", &export(&contact2), &auditor, None).await.0, 200);
        assert_eq!(app.call("GET", "/api/v1/conversations", &other_token, None).await.0, 200);
        app.clock.advance(Duration::minutes(30));
        let until = app.clock.now();
        // Exactly at `until`: not counted.
        assert_eq!(app.call("GET", &read(&conv3), &dashboard, None).await.0, 200);

        // Window 2, a day later: the auditor reads one customer, the dashboard exports and erases another.
        app.clock.advance(Duration::days(1));
        let since2 = app.clock.now();
        assert_eq!(app.call("GET", &read(&conv2), &auditor, None).await.0, 200);
        assert_eq!(app.call("GET", &export(&contact3), &dashboard, None).await.0, 200);
        assert_eq!(app.call("DELETE", &format!("/api/v1/contacts/{contact3}"), &dashboard, None).await.0, 200);
        let until2 = app.clock.now() + Duration::seconds(1);

        let (all, summary) = report(&app, since, until, &[]);
        assert_eq!((all["format"].as_str(), all["version"].as_u64()), (Some("balas.breach-report"), Some(1)));
        let ours = tenant(&all, &app.tenant.slug);
        let cats = &ours["categories"];
        // conv1 ×2, conv2, conv3 (its customer since erased) and one listing.
        assert_eq!(counts(&cats["read"]), (5, 4, 2, 1), "{}", cats["read"]);
        assert_eq!(cats["read"]["records_without_contact"], 1, "the listing names no one customer");
        assert_eq!(cats["read"]["listed_items"], 3);
        assert_eq!(cats["read"]["actions"]["conversation.read"], 4);
        let mut read_contacts: Vec<&str> = cats["read"]["contact_ids"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        read_contacts.sort();
        let mut expected = vec![contact1.as_str(), contact2.as_str()];
        expected.sort();
        assert_eq!(read_contacts, expected);
        let mut read_convs: Vec<&str> = cats["read"]["record_ids"]["conversation"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        read_convs.sort();
        let mut expected = vec![conv1.as_str(), conv2.as_str(), conv3.as_str()];
        expected.sort();
        assert_eq!(read_convs, expected);
        assert_eq!(counts(&cats["exported"]), (2, 2, 2, 0));
        assert_eq!(counts(&cats["changed"]), (0, 0, 0, 0));
        assert_eq!(counts(&cats["other"]), (0, 0, 0, 0), "every action the API audits is classified");
        let dash = &ours["actors"]["api:dashboard"];
        assert_eq!(counts(&dash["read"]), (4, 3, 2, 0), "conv1, conv2 and the listing");
        assert!(dash["exported"].is_null());
        let aud = &ours["actors"]["api:auditor"];
        assert_eq!(counts(&aud["read"]), (1, 1, 0, 1), "conv3 only: the read before the window is out");
        assert_eq!(counts(&aud["exported"]), (2, 2, 2, 0));
        assert_eq!((ours["subjects"].as_u64(), ours["records"].as_u64(), ours["unresolved_records"].as_u64()), (Some(2), Some(6), Some(1)));
        assert_eq!(counts(&tenant(&all, &other.slug)["categories"]["read"]), (1, 1, 0, 0));
        assert_eq!(all["totals"]["read"]["events"], 6, "both tenants");
        assert!(summary.contains(&format!("{} ({}): 2 customers in 6 records, and 1 record whose customer can no longer be identified", app.tenant.slug, app.tenant.id)), "{summary}");
        assert!(summary.contains("by api:auditor: read 1 record of 0 customers; exported 2 records of 2 customers"), "{summary}");

        // The actor and tenant filters.
        let (only_auditor, _) = report(&app, since, until, &["--actor", "api:auditor", "--tenant", &app.tenant.slug]);
        assert_eq!(only_auditor["tenants"].as_array().unwrap().len(), 1);
        let ours = &only_auditor["tenants"][0];
        assert_eq!(ours["actors"].as_object().unwrap().keys().collect::<Vec<_>>(), ["api:auditor"]);
        assert_eq!(counts(&ours["categories"]["read"]), (1, 1, 0, 1));
        assert_eq!(counts(&ours["categories"]["exported"]), (2, 2, 2, 0));
        assert_eq!(ours["subjects"], 2);
        let (by_id, _) = report(&app, since, until, &["--tenant", &other.id.to_string()]);
        assert_eq!(by_id["tenants"].as_array().unwrap().len(), 1);
        assert_eq!(by_id["tenants"][0]["slug"], other.slug.as_str());

        // Window 2: an export of a contact counts it even after its erasure; the erasure is anonymous.
        let (second, _) = report(&app, since2, until2, &["--tenant", &app.tenant.slug]);
        let cats = &second["tenants"][0]["categories"];
        assert_eq!(counts(&cats["read"]), (1, 1, 1, 0));
        assert_eq!(cats["read"]["contact_ids"][0], contact2.as_str());
        assert_eq!(counts(&cats["exported"]), (1, 1, 1, 0));
        assert_eq!(cats["exported"]["contact_ids"][0], contact3.as_str());
        assert_eq!(counts(&cats["changed"]), (1, 1, 0, 1));
        assert_eq!(counts(&second["tenants"][0]["actors"]["api:dashboard"]["changed"]), (1, 1, 0, 1));

        // An actor with nothing to report, plain dates, and a backwards window.
        let (empty, _) = report(&app, since, until, &["--actor", "nobody"]);
        assert_eq!(empty["totals"]["records"], 0);
        let out = app.cli(&["breach-report", "--since", "2000-01-01", "--until", "2000-01-02", "--format", "text"]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("No personal data was read, exported or changed"));
        let bad = app.cli(&["breach-report", "--since", &stamp(until), "--until", &stamp(since)]);
        assert!(!bad.status.success(), "an empty window is refused");

        // Ids and counts only: no numbers, names or text.
        let text = format!("{all}{summary}{second}");
        for n in 1..=3 {
            let c = customer(n);
            assert!(!text.contains(c.phone.as_deref().unwrap()) && !text.contains(&c.name), "customer {n} leaked");
        }
        assert!(!text.contains("jam buka"));
    }
}
