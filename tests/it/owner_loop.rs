//! The owner loop on each provider: escalation → holding message → owner notice → owner
//! command from WhatsApp → customer → hand back → bot; quote-replies, tenant isolation of
//! ticket numbers, timers on the fake clock, and the 24-hour window.
use balas::channels::ChannelSecrets;
use balas::channels::fonnte::FonnteSecrets;
use balas::clock::Clock;
use balas::domain::Provider;
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::store::ChannelRecord;
use serde_json::json;

use crate::helpers::{FONNTE_DEVICE, PHONE_NUMBER_ID, TestApp};
use crate::on_both_databases;

const OWNER: &str = "6281100000001";
const CUSTOMER: &str = "6281234560101";

/// One way into the app: the demo Meta channel, or a Twilio or Fonnte channel added to it.
enum Line {
    Meta,
    Twilio { channel: ChannelRecord, token: String },
    Fonnte { url: String },
}

impl Line {
    async fn open(app: &TestApp, provider: Provider) -> Self {
        match provider {
            Provider::Meta => Self::Meta,
            Provider::Twilio => {
                let (channel, token) = app.twilio_channel().await;
                Self::Twilio { channel, token }
            }
            Provider::Fonnte => Self::Fonnte { url: app.fonnte_channel(None).await.1 },
        }
    }

    /// `from` (digits) writes `text`, optionally quote-replying to the provider message `quoted`.
    async fn say(&self, app: &TestApp, from: &str, id: u32, text: &str, quoted: Option<&str>) {
        let status = match self {
            Self::Meta => {
                let who = person(from);
                let mut message = who.text(&format!("wamid.IN{id}"), text, app.clock.now().timestamp());
                if let Some(q) = quoted {
                    message["context"] = json!({ "from": PHONE_NUMBER_ID, "id": q });
                }
                app.send_webhook(&meta_webhook::envelope(PHONE_NUMBER_ID, &[&who], vec![message], vec![]))
                    .await
                    .status()
            }
            Self::Twilio { channel, token } => {
                let (sid, from) = (format!("SM{id:032}"), format!("whatsapp:+{from}"));
                let mut params = vec![
                    ("MessageSid", sid.as_str()),
                    ("From", from.as_str()),
                    ("To", crate::helpers::TWILIO_FROM),
                    ("AccountSid", crate::helpers::TWILIO_ACCOUNT),
                    ("Body", text),
                    ("NumMedia", "0"),
                ];
                if let Some(q) = quoted {
                    params.push(("OriginalRepliedMessageSid", q));
                }
                app.post_twilio(channel, &params, token).await.status()
            }
            Self::Fonnte { url } => {
                let payload =
                    json!({ "device": FONNTE_DEVICE, "sender": from, "message": text, "name": "Budi", "inboxid": id });
                app.http.post(url).json(&payload).send().await.unwrap().status()
            }
        };
        assert_eq!(status.as_u16(), 200);
    }
}

fn person(digits: &str) -> FakeCustomer {
    FakeCustomer {
        bsuid: Some(format!("ID.{digits}")),
        phone: Some(digits.into()),
        name: "Budi Santoso".into(),
        username: None,
    }
}

async fn conversation_state(app: &TestApp) -> Option<String> {
    app.inspect.text("SELECT state FROM conversations ORDER BY created_at DESC LIMIT 1").await
}

async fn the_whole_loop(app: &TestApp, provider: Provider) {
    app.add_owner(OWNER, None).await;
    let line = Line::open(app, provider).await;
    line.say(app, CUSTOMER, 1, "Saya mau komplain, pesanan saya salah kirim", None).await;
    app.drain().await;

    let to_customer = app.sent_to(CUSTOMER);
    assert_eq!(to_customer.len(), 1, "{to_customer:?}");
    assert!(to_customer[0].contains("pemilik toko"), "the holding message: {}", to_customer[0]);
    let to_owner = app.sent_to(OWNER);
    assert_eq!(to_owner.len(), 1, "{to_owner:?}");
    let notice = &to_owner[0];
    assert!(notice.contains("Tiket #1") && notice.contains("#1 ambil"), "{notice}");
    assert!(notice.contains("+62*******0101") && !notice.contains(CUSTOMER), "the number is masked: {notice}");
    assert!(notice.contains("pesanan saya salah kirim"), "the last message as summary: {notice}");
    assert_eq!(conversation_state(app).await.as_deref(), Some("escalated"));

    line.say(app, OWNER, 2, "#1 Mohon maaf kak, kami kirim ulang hari ini 🙏", None).await;
    app.drain().await;
    assert_eq!(app.sent_to(CUSTOMER).last().map(String::as_str), Some("Mohon maaf kak, kami kirim ulang hari ini 🙏"));
    assert!(app.sent_to(OWNER).last().is_some_and(|a| a.starts_with("✓ Terkirim")), "{:?}", app.sent_to(OWNER));
    assert_eq!(conversation_state(app).await.as_deref(), Some("human"));
    assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE author = 'owner' AND status = 'sent'").await, 1);
    assert_eq!(
        app.inspect.scalar("SELECT COUNT(*) FROM owner_messages WHERE direction = 'in' AND body_enc IS NOT NULL").await,
        0,
        "a processed command's text is dropped"
    );

    line.say(app, CUSTOMER, 3, "Oke kak, ditunggu ya", None).await;
    app.drain().await;
    assert_eq!(app.sent_to(CUSTOMER).len(), 2, "the bot stays silent while the owner has the chat");
    let forward = app.sent_to(OWNER).last().cloned().unwrap_or_default();
    assert!(forward.contains("#1") && forward.contains("Oke kak, ditunggu ya"), "{forward}");

    line.say(app, OWNER, 4, "#1 lepas", None).await;
    app.drain().await;
    assert!(app.sent_to(OWNER).last().is_some_and(|a| a.contains("dikembalikan ke bot")));
    assert_eq!(conversation_state(app).await.as_deref(), Some("bot"));

    line.say(app, CUSTOMER, 5, "Jam buka tokonya kapan?", None).await;
    app.drain().await;
    let answer = app.sent_to(CUSTOMER).last().cloned().unwrap_or_default();
    assert!(answer.starts_with("Warung Kopi Bu Sri buka setiap hari"), "the bot answers again: {answer}");
    assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('escalation.replied', 'escalation.handed_back') AND actor LIKE 'owner:%'").await, 2);
    assert_eq!(
        app.inspect
            .scalar(
                "SELECT COUNT(*) FROM escalations WHERE number = 1 AND status = 'handed_back' AND closed_at IS NOT NULL"
            )
            .await,
        1
    );
}

/// A second tenant with its own Fonnte device and the same owner number.
async fn second_tenant(app: &TestApp) -> (balas::store::TenantRecord, String) {
    let store = &*app.state.store;
    let settings = balas::tenants::TenantSettings::default();
    let other =
        balas::tenants::create(store, &app.state.keys, "Toko Lain", None, &settings, app.clock.now()).await.unwrap();
    let secrets = ChannelSecrets::Fonnte(FonnteSecrets {
        token: "other-token".into(),
        webhook_secret: balas::crypto::random_token().into(),
        webhook_key: None,
    });
    let channel = balas::tenants::add_channel(
        store,
        &app.state.keys,
        other.id,
        Provider::Fonnte,
        FONNTE_DEVICE,
        &secrets,
        app.clock.now(),
    )
    .await
    .unwrap();
    let phone = balas::domain::Phone::parse(OWNER).unwrap();
    balas::owner::add_owner(store, &app.state.keys, other.id, &phone, None, "test", app.clock.now()).await.unwrap();
    (other, balas::channels::printed_webhook_url(&app.base, &channel, &secrets))
}

on_both_databases! {
    async fn the_owner_loop_runs_on_meta(app) {
        the_whole_loop(&app, Provider::Meta).await;
    }

    async fn the_owner_loop_runs_on_twilio(app) {
        the_whole_loop(&app, Provider::Twilio).await;
    }

    async fn the_owner_loop_runs_on_fonnte(app) {
        the_whole_loop(&app, Provider::Fonnte).await;
    }

    async fn a_quote_reply_to_the_notice_relays_and_resolves(app) {
        app.add_owner(OWNER, None).await;
        for provider in [Provider::Meta, Provider::Twilio] {
            let line = Line::open(&app, provider).await;
            let customer = if provider == Provider::Meta { CUSTOMER } else { "6281234560202" };
            line.say(&app, customer, 10, "Saya minta refund", None).await;
            app.drain().await;
            let notice = app.inspect.text("SELECT provider_message_id FROM owner_messages WHERE purpose = 'notice' ORDER BY created_at DESC, id DESC LIMIT 1").await.expect("the notice was sent");
            line.say(&app, OWNER, 11, "Siap kak, refund kami proses hari ini", Some(&notice)).await;
            app.drain().await;
            assert_eq!(app.sent_to(customer).last().map(String::as_str), Some("Siap kak, refund kami proses hari ini"), "{provider:?}");
            line.say(&app, OWNER, 12, "selesai", Some(&notice)).await;
            app.drain().await;
            assert!(app.sent_to(OWNER).last().is_some_and(|a| a.contains("selesai")), "{provider:?}");
        }
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations WHERE status = 'resolved'").await, 2);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE state = 'closed'").await, 2);

        // A resolved conversation is over: the next message opens a fresh one with the bot.
        Line::Meta.say(&app, CUSTOMER, 13, "Halo kak", None).await;
        app.drain().await;
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM conversations WHERE state = 'bot'").await, 1);
        assert!(app.sent_to(CUSTOMER).last().is_some_and(|a| a.contains("Warung Kopi Bu Sri")));
    }

    async fn list_help_and_unknown_tickets_are_answered(app) {
        app.add_owner(OWNER, None).await;
        Line::Meta.say(&app, CUSTOMER, 20, "Bisa bicara dengan admin?", None).await;
        app.drain().await;
        Line::Meta.say(&app, OWNER, 21, "daftar", None).await;
        Line::Meta.say(&app, OWNER, 22, "apa kabar", None).await;
        Line::Meta.say(&app, OWNER, 23, "#99 halo", None).await;
        Line::Meta.say(&app, OWNER, 24, "#1 1", None).await;
        app.drain().await;
        let answers = app.sent_to(OWNER);
        assert_eq!(answers.len(), 5, "{answers:?}");
        assert!(answers[1].starts_with("Tiket terbuka:") && answers[1].contains("#1 Budi Santoso"), "{}", answers[1]);
        assert!(answers[2].starts_with("Perintah balas:"), "{}", answers[2]);
        assert_eq!(answers[3], "Tiket #99 tidak ditemukan.");
        assert!(answers[4].contains("tidak punya saran balasan"), "{}", answers[4]);
        assert_eq!(app.sent_to(CUSTOMER).len(), 1, "only the holding message");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'owner.command' AND actor LIKE 'owner:%'").await, 4);
    }

    async fn an_owner_cannot_reach_another_tenants_ticket(app) {
        app.add_owner(OWNER, None).await;
        Line::Meta.say(&app, CUSTOMER, 30, "Saya mau komplain", None).await;
        app.drain().await;
        let (other, other_url) = second_tenant(&app).await;
        let other_line = Line::Fonnte { url: other_url };

        // Tenant B has no ticket #1 yet: the command is refused, A's customer hears nothing.
        other_line.say(&app, OWNER, 31, "#1 Halo, ini dari toko lain", None).await;
        app.drain().await;
        assert_eq!(app.sent_to(CUSTOMER).len(), 1, "only A's holding message");
        assert_eq!(app.sent_to(OWNER).last().map(String::as_str), Some("Tiket #1 tidak ditemukan."));

        // B's own first ticket is #1 too, and B's owner reaches only B's customer with it.
        other_line.say(&app, "6289900000001", 32, "Mau refund dong", None).await;
        app.drain().await;
        other_line.say(&app, OWNER, 33, "#1 Baik kak, kami cek dulu", None).await;
        app.drain().await;
        assert_eq!(app.sent_to("6289900000001").last().map(String::as_str), Some("Baik kak, kami cek dulu"));
        assert_eq!(app.sent_to(CUSTOMER).len(), 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations WHERE number = 1").await, 2, "numbers are per tenant");
        let a_open = app.inspect.scalar("SELECT COUNT(*) FROM escalations e JOIN tenants t ON t.id = e.tenant_id WHERE t.slug = 'warung-kopi-bu-sri' AND e.status = 'open'").await;
        assert_eq!(a_open, 1, "A's ticket is untouched");
        let _ = other;
    }

    async fn timers_remind_the_owner_reassure_the_customer_and_end_idle_takeovers(app) {
        app.add_owner(OWNER, None).await;
        // A 10-minute owner-response target (the default is 120), no business hours.
        app.inspect.execute("UPDATE tenants SET response_target_minutes = 10").await;
        Line::Meta.say(&app, CUSTOMER, 40, "Saya mau bicara dengan orang", None).await;
        app.drain().await;
        assert_eq!(app.sent_to(CUSTOMER).len(), 1);

        app.clock.advance(chrono::Duration::minutes(9));
        app.drain().await;
        assert_eq!(app.sent_to(CUSTOMER).len(), 1, "not before 10 minutes");
        app.clock.advance(chrono::Duration::minutes(2));
        app.drain().await;
        assert!(app.sent_to(CUSTOMER).last().is_some_and(|m| m.starts_with("Mohon maaf, Warung Kopi Bu Sri belum sempat") && m.contains("secepatnya")), "{:?}", app.sent_to(CUSTOMER));
        app.clock.advance(chrono::Duration::minutes(30));
        app.drain().await;
        assert_eq!(app.sent_to(CUSTOMER).len(), 2, "the customer is told once");
        let owner = app.sent_to(OWNER);
        assert_eq!(owner.len(), 2, "{owner:?}");
        assert!(owner[1].starts_with("⏰ Pengingat: tiket #1"), "{}", owner[1]);

        Line::Meta.say(&app, OWNER, 41, "#1 ambil", None).await;
        app.drain().await;
        assert_eq!(conversation_state(&app).await.as_deref(), Some("human"));
        app.clock.advance(chrono::Duration::hours(11));
        app.drain().await;
        assert_eq!(conversation_state(&app).await.as_deref(), Some("human"), "not before 12 silent hours");
        app.clock.advance(chrono::Duration::hours(2));
        app.drain().await;
        assert_eq!(conversation_state(&app).await.as_deref(), Some("bot"));
        assert!(app.sent_to(OWNER).last().is_some_and(|m| m.contains("dikembalikan ke bot")));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations WHERE closed_by = 'timer'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'ticket_timer' AND state = 'done'").await, 1, "the timer stops with the ticket");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE actor = 'timer'").await, 3);
    }
}
