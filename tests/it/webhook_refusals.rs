//! Webhooks that fail their check write nothing: no audit row, not even a write transaction
//! begun (counted by a `Store` wrapper, since database statistics lag); they are counted in
//! `/metrics` instead. Then a good webhook still gets in.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use balas::domain::{ChannelId, TenantId};
use balas::fakes::meta_webhook;
use balas::store::{Backend, ChannelRoute, ClaimedJob, JobRecord, Store, StoreResult, TenantRecord, TenantTx};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::helpers::{FONNTE_DEVICE, TWILIO_ACCOUNT, TWILIO_FROM, customer};
use crate::on_both_databases;

/// Delegates everything to the real store and counts the calls that can write.
struct CountingStore {
    inner: Arc<dyn Store>,
    writes: AtomicUsize,
}

impl CountingStore {
    fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for CountingStore {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    fn use_audit_keys(&self, keys: std::sync::Arc<balas::audit::AuditKeys>) {
        self.inner.use_audit_keys(keys)
    }
    async fn migrate(&self, app_role: Option<&str>) -> StoreResult<()> {
        self.wrote();
        self.inner.migrate(app_role).await
    }
    async fn check_app_role(&self) -> StoreResult<()> {
        self.inner.check_app_role().await
    }
    async fn begin(&self, tenant: TenantId) -> StoreResult<Box<dyn TenantTx>> {
        self.wrote();
        self.inner.begin(tenant).await
    }
    async fn begin_read(&self, tenant: TenantId) -> StoreResult<Box<dyn TenantTx>> {
        self.inner.begin_read(tenant).await
    }
    async fn route_tenant(&self, slug: &str) -> StoreResult<Option<TenantId>> {
        self.inner.route_tenant(slug).await
    }
    async fn route_channel(&self, channel: ChannelId) -> StoreResult<Option<ChannelRoute>> {
        self.inner.route_channel(channel).await
    }
    async fn claim_next(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<(JobRecord, Box<dyn TenantTx>)>> {
        self.wrote();
        self.inner.claim_next(worker, now, lease_until).await
    }
    async fn claim_jobs(
        &self,
        worker: &str,
        limit: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Vec<ClaimedJob>> {
        self.wrote();
        self.inner.claim_jobs(worker, limit, now, lease_until).await
    }
    async fn release_jobs(&self, worker: &str) -> StoreResult<u64> {
        self.wrote();
        self.inner.release_jobs(worker).await
    }
    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        self.inner.list_tenants().await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn reclaim_deleted(&self) -> StoreResult<bool> {
        self.wrote();
        self.inner.reclaim_deleted().await
    }
    async fn job_counts(&self, now: DateTime<Utc>) -> StoreResult<Vec<(String, String, i64)>> {
        self.inner.job_counts(now).await
    }
    async fn tenant_ids(&self) -> StoreResult<Vec<TenantId>> {
        self.inner.tenant_ids().await
    }
    async fn count_login_attempts(
        &self,
        keys: &[(&[u8], DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(i64, DateTime<Utc>)>> {
        self.wrote();
        self.inner.count_login_attempts(keys, now).await
    }
    async fn settle_login_attempts(&self, clear: &[u8], forgive: &[&[u8]]) -> StoreResult<()> {
        self.wrote();
        self.inner.settle_login_attempts(clear, forgive).await
    }
    async fn forget_login_attempts(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        // Housekeeping on a timer (the first tick is at start), caused by no request.
        self.inner.forget_login_attempts(before).await
    }
    async fn close(&self) {
        // The test app's own server still uses the inner store.
    }
}

const REJECTED: usize = 1_000;

on_both_databases! {
    async fn a_thousand_rejected_webhooks_write_nothing_and_are_counted(app) {
        let (twilio, token) = app.twilio_channel().await;
        let (fonnte, fonnte_url) = app.fonnte_channel(Some("kunci-rahasia")).await;
        let counting = Arc::new(CountingStore { inner: app.state.store.clone(), writes: AtomicUsize::new(0) });
        let server = app.serve_on(counting.clone(), |_| {}).await;
        let audit_before = app.count("audit_log").await;

        let meta_url = format!("{}/webhooks/meta/{}", server.base, app.channel.id);
        let twilio_url = format!("{}/webhooks/twilio/{}", server.base, twilio.id);
        let wrong_secret_url = format!("{}/webhooks/fonnte/{}/{}", server.base, fonnte.id, "0".repeat(32));
        let fonnte_path = fonnte_url.trim_start_matches(&app.base).to_string();
        let fonnte_url = format!("{}{fonnte_path}", server.base);
        let body = serde_json::to_vec(&app.text(&customer(1), "wamid.REJ", "halo")).unwrap();
        let bad_meta = meta_webhook::sign("not-the-app-secret", &body);
        let wrong_key = json!({ "device": FONNTE_DEVICE, "sender": "6289876543210", "message": "halo", "secret": "salah" });
        let wrong_device = json!({ "device": "6281999999999", "sender": "6289876543210", "message": "halo", "secret": "kunci-rahasia" });
        let form = [("MessageSid", "SM0001"), ("From", "whatsapp:+6281277776666"), ("Body", "halo")];
        let bad_twilio = balas::ingress::twilio::signature("not-the-token", &twilio_url, &[]);

        let mut expected = std::collections::HashMap::new();
        for n in 0..REJECTED {
            let (request, provider, reason) = match n % 5 {
                0 => (app.http.post(&meta_url).header("x-hub-signature-256", &bad_meta).body(body.clone()), "meta", "mismatch"),
                1 => (app.http.post(&twilio_url).header("x-twilio-signature", &bad_twilio).form(&form), "twilio", "mismatch"),
                2 => (app.http.post(&wrong_secret_url).json(&wrong_key), "fonnte", "wrong_url_secret"),
                3 => (app.http.post(&fonnte_url).json(&wrong_key), "fonnte", "wrong_secret_key"),
                _ => (app.http.post(&fonnte_url).json(&wrong_device), "fonnte", "wrong_device"),
            };
            let status = request.send().await.unwrap().status().as_u16();
            assert!(status == 401 || status == 403, "{provider}/{reason} answered {status}");
            *expected.entry((provider, reason)).or_insert(0u64) += 1;
        }

        assert_eq!(counting.writes(), 0, "a rejected webhook began a write transaction");
        assert_eq!(app.count("audit_log").await, audit_before, "a rejected webhook wrote an audit row");
        assert_eq!(app.count("messages").await, 0);
        let metrics = app.http.get(format!("{}/metrics", server.base)).send().await.unwrap().text().await.unwrap();
        for ((provider, reason), count) in expected {
            let line = format!("balas_webhooks_rejected_total{{provider=\"{provider}\",reason=\"{reason}\"}} {count}");
            assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
        }

        // The channels were not harmed: a good webhook of each provider still gets in.
        let signature = meta_webhook::sign(&app.app_secret, &body);
        let good = app.http.post(&meta_url).header("x-hub-signature-256", signature).body(body).send().await.unwrap();
        assert_eq!(good.status().as_u16(), 200);
        let good: Vec<(String, String)> = [("MessageSid", "SM0002"), ("From", "whatsapp:+6281277776666"),
            ("To", TWILIO_FROM), ("AccountSid", TWILIO_ACCOUNT), ("Body", "halo")]
            .iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        // Twilio signs the public URL, which the second server shares with the first.
        let signed_for = format!("{}/webhooks/twilio/{}", app.base, twilio.id);
        let signature = balas::ingress::twilio::signature(&token, &signed_for, &good);
        let response = app.http.post(&twilio_url).header("x-twilio-signature", signature).form(&good).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let good = json!({ "device": FONNTE_DEVICE, "sender": "6289876543210", "message": "halo", "secret": "kunci-rahasia" });
        assert_eq!(app.http.post(&fonnte_url).json(&good).send().await.unwrap().status().as_u16(), 200);
        assert_eq!(app.count("inbound").await, 3);
        assert!(counting.writes() >= 1, "the counting store saw the good webhook's write");
    }
}
