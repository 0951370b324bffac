//! Reply buttons on owner notices: inside the owner's window a Meta notice carries buttons,
//! outside it the template's quick replies carry the same signed ids; a tap acts on its ticket
//! like the typed `#N` command, a forged one is refused and audited, and a Twilio tap (fixed
//! ids) acts on the ticket of the notice it answers.
use balas::clock::Clock;
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::fakes::providers::ProviderRequest;

use crate::helpers::{PHONE_NUMBER_ID, TestApp, customer};
use crate::on_both_databases;

const OWNER: &str = "6281100000031";

fn owner() -> FakeCustomer {
    FakeCustomer { bsuid: Some("ID.OWNER31".into()), phone: Some(OWNER.into()), name: "Bu Tari".into(), username: None }
}

async fn post(app: &TestApp, message: serde_json::Value) {
    let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[&owner()], vec![message], vec![]);
    assert_eq!(app.send_webhook(&payload).await.status().as_u16(), 200);
    app.drain().await;
}

/// A customer complains, which opens ticket #1 and notifies the owner.
async fn complain(app: &TestApp) {
    let said = app.text(&customer(1), "wamid.C1", "Saya mau komplain, pesanan saya salah");
    assert_eq!(app.send_webhook(&said).await.status().as_u16(), 200);
    app.drain().await;
}

fn last_to_owner(app: &TestApp) -> ProviderRequest {
    let mut sent = app.providers.received().into_iter().filter(|r| r.recipient() == OWNER);
    sent.next_back().expect("a message to the owner")
}

async fn ticket_status(app: &TestApp) -> Option<String> {
    app.inspect.text("SELECT status FROM escalations WHERE number = 1").await
}

on_both_databases! {
    async fn a_tap_on_a_notice_button_takes_the_ticket_and_a_forged_one_is_refused(app) {
        app.add_owner(OWNER, None).await;
        // The owner wrote today, so their window is open: the notice is text with buttons.
        post(&app, owner().text("wamid.O1", "daftar", app.clock.now().timestamp())).await;
        complain(&app).await;
        let notice = last_to_owner(&app);
        assert_eq!(notice.body["type"], "interactive", "{}", notice.body);
        assert!(notice.text().contains("#1"), "the notice's text is the body: {}", notice.text());
        let buttons = notice.buttons();
        let titles: Vec<&str> = buttons.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(titles, ["Ambil alih", "Selesai"]);
        let (take, done) = (buttons[0].0.clone(), buttons[1].0.clone());
        assert!(take.starts_with("b1.take.") && done.starts_with("b1.done."), "{take} {done}");
        let wamid = notice_id(&app).await;

        // A tap whose id was altered (the action is signed) changes nothing and is audited.
        let forged = take.replacen(".take.", ".done.", 1);
        post(&app, owner().button_reply("wamid.O2", &forged, "Selesai", &wamid, app.clock.now().timestamp())).await;
        assert_eq!(ticket_status(&app).await.as_deref(), Some("open"));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'owner.button_refused'").await, 1);

        post(&app, owner().button_reply("wamid.O3", &take, "Ambil alih", &wamid, app.clock.now().timestamp())).await;
        assert_eq!(ticket_status(&app).await.as_deref(), Some("human"));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.taken_over'").await, 1);
        assert!(last_to_owner(&app).text().contains("#1"), "the owner is told: {}", last_to_owner(&app).text());

        post(&app, owner().button_reply("wamid.O4", &done, "Selesai", &wamid, app.clock.now().timestamp())).await;
        assert_eq!(ticket_status(&app).await.as_deref(), Some("resolved"));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead'").await, 0);
    }
}

on_both_databases! {
    async fn a_tap_on_a_template_quick_reply_takes_the_ticket(app) {
        app.add_owner(OWNER, None).await;
        app.providers.refuse_recipient(OWNER, 131047);
        app.approve_template(&app.channel, "owner_escalation", "balas_owner_escalation_v1", 4);
        complain(&app).await;
        let notice = last_to_owner(&app);
        assert_eq!(notice.body["type"], "template", "{}", notice.body);
        let payloads = notice.payloads();
        assert_eq!(payloads.len(), 2, "one payload per quick reply: {payloads:?}");
        assert!(payloads[0].starts_with("b1.take."), "{payloads:?}");

        // A payload balas never sent (Meta's default is the title) is answered with the help.
        post(&app, owner().template_button("wamid.O1", "Ambil alih", "Ambil alih", "wamid.X", app.clock.now().timestamp())).await;
        assert_eq!(ticket_status(&app).await.as_deref(), Some("open"));
        let wamid = notice_id(&app).await;
        post(&app, owner().template_button("wamid.O2", &payloads[0], "Ambil alih", &wamid, app.clock.now().timestamp())).await;
        assert_eq!(ticket_status(&app).await.as_deref(), Some("human"));
    }
}

on_both_databases! {
    async fn a_twilio_tap_acts_on_the_ticket_of_the_notice_it_answers(app) {
        let (channel, token) = app.twilio_channel().await;
        app.add_owner(OWNER, None).await;
        app.providers.refuse_recipient(OWNER, 63016);
        app.approve_template(&channel, "owner_escalation", "HX0123456789abcdef0123456789abcdef", 4);
        let form = [("MessageSid", "SM0901"), ("WaId", "6281277776666"), ("Body", "Saya mau komplain, pesanan saya salah"),
            ("To", crate::helpers::TWILIO_FROM), ("AccountSid", crate::helpers::TWILIO_ACCOUNT),
            ("From", "whatsapp:+6281277776666"), ("NumMedia", "0")];
        assert_eq!(app.post_twilio(&channel, &form, &token).await.status().as_u16(), 200);
        app.drain().await;
        let notice = notice_id(&app).await;
        assert!(notice.starts_with("SM"), "{notice}");

        let from = format!("whatsapp:+{OWNER}");
        let tap = [("MessageSid", "SM0902"), ("WaId", OWNER), ("ButtonText", "Ambil alih"), ("ButtonPayload", "take"),
            ("OriginalRepliedMessageSid", notice.as_str()), ("To", crate::helpers::TWILIO_FROM),
            ("AccountSid", crate::helpers::TWILIO_ACCOUNT), ("From", from.as_str()), ("NumMedia", "0")];
        assert_eq!(app.post_twilio(&channel, &tap, &token).await.status().as_u16(), 200);
        app.drain().await;
        assert_eq!(ticket_status(&app).await.as_deref(), Some("human"));
    }
}

/// The provider's id of the ticket's notice, which a tap quotes.
async fn notice_id(app: &TestApp) -> String {
    let sql = "SELECT provider_message_id FROM owner_messages WHERE purpose = 'notice' AND direction = 'out'";
    app.inspect.text(sql).await.expect("the notice was sent")
}
