//! Store-level guarantees that the pipeline relies on.
use balas::clock::Clock;
use balas::domain::KbEntryId;
use balas::store::KbEntry;

use crate::on_both_databases;

on_both_databases! {
    async fn read_only_transactions_refuse_writes(app) {
        let entry = KbEntry {
            id: KbEntryId::new(),
            tenant_id: app.tenant.id,
            question: "q".into(),
            answer: "a".into(),
            keywords: String::new(),
            version: 1, created_at: app.clock.now(),
        };
        let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
        assert!(tx.kb_entries().await.unwrap().len() >= 5, "reads work");
        assert!(tx.insert_kb_entry(&entry).await.is_err(), "a write through a read-only transaction must fail");
        drop(tx);
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        tx.insert_kb_entry(&entry).await.unwrap();
        tx.commit().await.unwrap();
    }

    async fn revoked_token_ids_are_keyed_per_tenant(app) {
        let now = app.clock.now();
        let store = &*app.state.store;
        let other = balas::tenants::create(store, &app.state.keys, "Toko Lain", None, &Default::default(), now).await.unwrap();
        let (a, b) = (app.tenant.id, other.id);
        let revoke = |tenant: balas::domain::TenantId| async move {
            let mut tx = store.begin(tenant).await.unwrap();
            let fresh = tx.revoke_token("same-jti", now + chrono::Duration::days(1), now).await.unwrap();
            tx.commit().await.unwrap();
            fresh
        };
        let revoked = |tenant: balas::domain::TenantId| async move {
            let mut tx = store.begin_read(tenant).await.unwrap();
            let found = tx.is_token_revoked("same-jti").await.unwrap();
            tx.commit().await.unwrap();
            found
        };
        assert!(revoke(a).await);
        assert!(revoked(a).await);
        assert!(!revoked(b).await, "a revocation in one tenant does not reach another");
        assert!(revoke(b).await, "the same id in another tenant is a revocation of its own");
        assert!(revoked(b).await);
        assert!(!revoke(a).await, "revoking twice in one tenant is one row");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM revoked_tokens WHERE jti = 'same-jti'").await, 2);
    }
}
