//! [4/10] Hand-overs without false alarms, on both databases: migration 0015 gives a tenant
//! still on the old default list the new phrases, keeps a list the tenant edited, and the
//! digest names the bare words such a list still holds.
use balas::clock::Clock;
use balas::fakes::meta_webhook::FakeCustomer;
use balas::owner::digest;
use balas::tenants::{DEFAULT_KEYWORDS, OLD_DEFAULT_KEYWORDS};
use chrono::Duration;

use crate::helpers::{Db, TestApp, customer};
use crate::on_both_databases;

const OWNER: &str = "6281100000010";

fn migration(db: Db) -> &'static str {
    match db {
        Db::Sqlite => include_str!("../../migrations/sqlite/0015_hand_over_phrases.sql"),
        Db::Postgres => include_str!("../../migrations/postgres/0015_hand_over_phrases.sql"),
    }
}

async fn say(app: &TestApp, who: &FakeCustomer, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(who, wamid, text)).await.status().as_u16(), 200);
    app.drain().await;
}

on_both_databases! {
    async fn the_old_default_list_is_replaced_an_edited_one_kept_and_its_bare_words_named(app) {
        app.add_owner(OWNER, None).await;
        let keywords = "SELECT escalation_keywords FROM tenants";

        // A tenant as migration 0015 finds it: on the old default list, "admin" hands over.
        app.inspect.execute("UPDATE tenants SET escalation_keywords = 'admin,manusia,orang,komplain,refund,human,agent'").await;
        assert_eq!(app.inspect.text(keywords).await.as_deref(), Some(OLD_DEFAULT_KEYWORDS));
        say(&app, &customer(1), "wamid.H1", "Halo admin, jam buka kapan?").await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE escalation_reason = 'keyword'").await, 1);

        app.inspect.script(migration(app.db)).await;
        assert_eq!(app.inspect.text(keywords).await.as_deref(), Some(DEFAULT_KEYWORDS));
        let to = customer(2).phone.unwrap();
        say(&app, &customer(2), "wamid.H2", "Halo admin, jam buka kapan?").await;
        assert!(app.sent_to(&to).iter().any(|m| m.contains("08.00")), "answered from the FAQ: {:?}", app.sent_to(&to));
        say(&app, &customer(3), "wamid.H3", "Min, bisa minta disambungkan ke admin yang asli?").await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE escalation_reason = 'asked_for_person'").await, 1);

        // A list the tenant edited stays as it is; the digest names its bare words, each day.
        app.inspect.execute("UPDATE tenants SET escalation_keywords = 'admin,komplain,garansi'").await;
        app.inspect.script(migration(app.db)).await;
        assert_eq!(app.inspect.text(keywords).await.as_deref(), Some("admin,komplain,garansi"));
        assert_eq!(digest::schedule_all(&*app.state.store, 4, app.clock.now()).await.unwrap(), 1);
        app.clock.advance(Duration::days(1));
        app.drain().await;
        let digests: Vec<String> = app.sent_to(OWNER).into_iter().filter(|m| m.starts_with("📊")).collect();
        assert_eq!(digests.len(), 1, "{digests:?}");
        assert!(digests[0].contains("💡") && digests[0].contains("memuat admin."), "{}", digests[0]);
    }
}
