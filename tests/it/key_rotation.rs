//! `balas keys rotate`: re-wraps under concurrent writes, resumes after an interruption, and
//! afterwards the old master key is not needed; an erased contact's old copy then opens with
//! no key that remains.
use std::ops::ControlFlow;
use std::sync::Arc;

use balas::clock::Clock;
use balas::config::Keys;
use balas::crypto::{self, Vault};
use balas::domain::{CustomerIdentity, Phone, TenantId};
use balas::rotation;
use balas::store::Store;

use crate::on_both_databases;

async fn add_customer(store: &dyn Store, keys: &Keys, tenant: TenantId, n: u32, now: chrono::DateTime<chrono::Utc>) {
    let who = CustomerIdentity {
        bsuid: None,
        phone: Some(Phone::parse(&format!("62813{n:08}")).unwrap()),
        username: None,
        name: Some(format!("Pelanggan {n}")),
    };
    let mut tx = store.begin(tenant).await.unwrap();
    balas::contacts::resolve(&mut *tx, keys, &who, now).await.unwrap();
    tx.commit().await.unwrap();
}

on_both_databases! {
    async fn rotation_survives_concurrent_writes_and_retires_the_old_key(app) {
        let store = app.state.store.clone();
        let now = app.clock.now();
        for n in 0..450 {
            add_customer(&*store, &app.state.keys, app.tenant.id, n, now).await;
        }
        // An erased customer whose row a backup copy still holds.
        add_customer(&*store, &app.state.keys, app.tenant.id, 9999, now).await;
        let erased = balas::privacy::export::find_by_phone(&*store, &app.state.keys, app.tenant.id, &Phone::parse("6281300009999").unwrap()).await.unwrap().unwrap();
        let mut tx = store.begin_read(app.tenant.id).await.unwrap();
        let backup = tx.contact(erased).await.unwrap().unwrap();
        tx.commit().await.unwrap();
        balas::privacy::erase::erase_contact(&*store, &app.state.media.storage, app.tenant.id, erased, "test", None, now).await.unwrap().unwrap();

        let old = app.cli_env.iter().find(|(k, _)| k == "BALAS_FERNET_KEYS").unwrap().1.clone();
        let new = crypto::generate_key();
        let both = Vault::from_keys(&format!("{new},{old}").into()).unwrap();
        let new_keys = Keys { vault: Arc::new(both), index: app.state.keys.index.clone(), audit: app.state.keys.audit.clone() };

        // Interrupted after the first batch: what was committed stays re-wrapped.
        let mut stop_early = |_| ControlFlow::Break(());
        let first = rotation::rotate(&*store, &new_keys.vault, &mut stop_early).await.unwrap();
        assert!(!first.finished && first.rewrapped >= 200, "{first:?}");

        // The rest runs while instances (already on the new primary) add customers and erase
        // some not yet re-wrapped, whose rows vanish under the rotation.
        let writer = {
            let (store, keys, tenant, media) = (store.clone(), new_keys.clone(), app.tenant.id, app.state.media.storage.clone());
            tokio::spawn(async move {
                for n in 1000..1150 {
                    add_customer(&*store, &keys, tenant, n, now).await;
                    if n % 5 == 0 {
                        let phone = Phone::parse(&format!("62813{:08}", 420 + (n - 1000) / 5)).unwrap();
                        let id = balas::privacy::export::find_by_phone(&*store, &keys, tenant, &phone).await.unwrap().unwrap();
                        balas::privacy::erase::erase_contact(&*store, &media, tenant, id, "test", None, now).await.unwrap().unwrap();
                    }
                }
            })
        };
        let mut keep_going = |_| ControlFlow::Continue(());
        let second = rotation::rotate(&*store, &new_keys.vault, &mut keep_going).await.unwrap();
        writer.await.unwrap();
        assert!(second.finished, "{second:?}");
        let moved = first.rewrapped + second.rewrapped;
        assert!((421..=451).contains(&moved), "the tenant key and the contacts not erased first moved once: {first:?} {second:?}");
        assert!(second.already_current >= first.rewrapped, "the resumed run skipped what was done: {second:?}");

        // Proof: every key opens with the new key alone, and the old one opens none of them.
        let check = rotation::verify(&*store, &new_keys.vault).await.unwrap();
        assert!(check.failures.is_empty(), "{check:?}");
        assert_eq!(check.keys_checked, 1 + 450 - 30 + 150);
        let old_alone = Vault::from_keys(&old.clone().into()).unwrap();
        let with_old = rotation::verify(&*store, &old_alone).await.unwrap();
        assert_eq!(with_old.failures.len() as u64, with_old.keys_checked, "the old key opens none of them");
        // The erased customer's copy from before: only the retired key opened it.
        let new_alone = new_keys.vault.primary_only();
        assert!(new_alone.unwrap_key(&backup.wrapped_key).is_err());
        assert!(old_alone.unwrap_key(&backup.wrapped_key).is_ok(), "the copy was readable before the old key went");

        // The CLI does the same and says the old key can go; a second run has nothing to do.
        let out = app.cli_with(&[("BALAS_FERNET_KEYS", &format!("{new},{old}"))], &["keys", "rotate"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("re-wrapped 0 data keys") && text.contains("can be removed"), "{text}");
        let out = app.cli_with(&[("BALAS_FERNET_KEYS", &new)], &["audit", "verify"]);
        assert!(out.status.success());
    }
}
