//! The owner's daily digest: at 07:00 in the tenant's zone, yesterday in numbers and the
//! questions the bot could not answer; rescheduled daily; off with an empty digest time.
use balas::clock::Clock;
use balas::fakes::meta_webhook::FakeCustomer;
use balas::owner::digest;
use chrono::{Duration, TimeZone, Utc};

use crate::helpers::{Db, TestApp, customer};

const OWNER: &str = "6281100000010";

async fn say(app: &TestApp, who: &FakeCustomer, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(who, wamid, text)).await.status().as_u16(), 200);
    app.drain().await;
}

fn digests(app: &TestApp) -> Vec<String> {
    app.sent_to(OWNER).into_iter().filter(|m| m.starts_with("📊")).collect()
}

async fn body(app: TestApp) {
    app.add_owner(OWNER, None).await;
    let owner = FakeCustomer { bsuid: None, phone: Some(OWNER.into()), name: "Bu Sri".into(), username: None };
    // 10:00 WIB on 20 November: one answered question, one the bot cannot answer, one complaint.
    say(&app, &customer(1), "wamid.D1", "Jam buka kapan?").await;
    say(&app, &customer(2), "wamid.D2", "Apakah bisa pesan kue ulang tahun bentuk dinosaurus?").await;
    say(&app, &customer(3), "wamid.D3", "Saya mau komplain").await;
    app.clock.advance(Duration::minutes(20));
    say(&app, &owner, "wamid.D4", "#1 Bisa kak, kami kabari besok").await;
    assert!(digests(&app).is_empty());

    assert_eq!(digest::schedule_all(&*app.state.store, 4, app.clock.now()).await.unwrap(), 1);
    let due = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap(); // 07:00 WIB the next day
    app.clock.advance(due - app.clock.now() - Duration::minutes(1));
    app.drain().await;
    assert!(digests(&app).is_empty(), "not before 07:00");
    app.clock.advance(Duration::minutes(1));
    app.drain().await;
    let sent = digests(&app);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let text = &sent[0];
    // Ticket #1 went back to the bot after 12 silent hours; the complaint (#2) is still open.
    for expected in [
        "20-11-2026",
        "Percakapan: 3 (3 pesan masuk)",
        "Dijawab bot: 33%",
        "Tiket masih terbuka: 1",
        "paling lama: 20 menit",
        // The open knowledge gap, masked ("bentuk dinosaurus" reads as a name to the masker).
        "kue ulang tahun",
        "(1 pelanggan)",
        "faq",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    assert!(!text.contains("komplain"), "only questions the bot could not answer are listed: {text}");
    assert!(!text.contains("62812345"), "no customer numbers in the digest");

    // Tomorrow's comes a day later, and says yesterday was quiet.
    app.clock.advance(Duration::days(1));
    app.drain().await;
    let sent = digests(&app);
    assert_eq!(sent.len(), 2);
    assert!(sent[1].contains("21-11-2026") && sent[1].contains("Percakapan: 0"), "{}", sent[1]);

    // The digest quoted customer 2: erasing them clears the stored digests' text.
    let phone = balas::domain::Phone::parse(customer(2).phone.as_deref().unwrap()).unwrap();
    let id = balas::privacy::export::find_by_phone(&*app.state.store, &app.state.keys, app.tenant.id, &phone)
        .await
        .unwrap()
        .unwrap();
    balas::privacy::erase::erase_contact(
        &*app.state.store,
        &app.state.media.storage,
        app.tenant.id,
        id,
        "test",
        None,
        app.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(
        app.inspect
            .scalar("SELECT COUNT(*) FROM owner_messages WHERE purpose = 'digest' AND body_enc IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        app.inspect.scalar("SELECT COUNT(*) FROM owner_messages WHERE purpose = 'digest'").await,
        2,
        "the rows stay, without text"
    );

    // An empty digest time switches it off.
    app.inspect.execute("UPDATE tenants SET digest_time = ''").await;
    app.clock.advance(Duration::days(1));
    app.drain().await;
    assert_eq!(digests(&app).len(), 2);
}

async fn spawn(db: Db) -> Option<TestApp> {
    TestApp::spawn_at(db, Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_digest_sqlite() {
    if let Some(app) = spawn(Db::Sqlite).await {
        body(app).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(balas_test_postgres), ignore = "set BALAS_TEST_POSTGRES_URL to run the PostgreSQL variant")]
async fn the_daily_digest_postgres() {
    if let Some(app) = spawn(Db::Postgres).await {
        body(app).await
    }
}
