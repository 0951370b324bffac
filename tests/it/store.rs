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
            created_at: app.clock.now(),
        };
        let mut tx = app.state.store.begin_read(app.tenant.id).await.unwrap();
        assert!(tx.kb_entries().await.unwrap().len() >= 5, "reads work");
        assert!(tx.insert_kb_entry(&entry).await.is_err(), "a write through a read-only transaction must fail");
        drop(tx);
        let mut tx = app.state.store.begin(app.tenant.id).await.unwrap();
        tx.insert_kb_entry(&entry).await.unwrap();
        tx.commit().await.unwrap();
    }
}
