//! balas's WhatsApp templates against the fake Graph API, which answers template sends as Meta
//! does: only an approved template with the right parameters goes out, and it passes a closed
//! window that refuses free-form text. The owner loop sending them is in `owner_loop` below.
use balas::channels::meta::{MetaClient, MetaSecrets};
use balas::channels::templates::{self, TemplateMessage, TemplatePurpose};
use balas::channels::{Recipient, SendError};
use balas::domain::Phone;
use balas::fakes::providers::{FakeProviders, TemplateStatus};
use secrecy::SecretString;

const OWNER: &str = "6281100000009";
const PHONE_NUMBER_ID: &str = "106540352242922";

fn secrets() -> MetaSecrets {
    MetaSecrets {
        app_secret: SecretString::from("app-secret"),
        access_token: SecretString::from("token"),
        verify_token: SecretString::from("verify"),
    }
}

fn escalation(parameters: &[&str]) -> TemplateMessage {
    let t = templates::template(TemplatePurpose::OwnerEscalation);
    TemplateMessage {
        name: t.name.into(),
        language: "id".into(),
        parameters: parameters.iter().zip(t.limits).map(|(p, max)| templates::parameter(p, *max)).collect(),
        payloads: vec!["take".into(), "resolve".into()],
    }
}

#[tokio::test]
async fn an_approved_template_passes_a_closed_window_and_anything_else_is_refused_with_metas_code() {
    let fake = FakeProviders::start().await.unwrap();
    balas::crypto::install_crypto_provider();
    let client = MetaClient::new(reqwest::Client::new(), &fake.meta_url);
    let owner = Recipient::Phone(Phone::parse(OWNER).unwrap());
    fake.refuse_recipient(OWNER, 131047);
    let name = templates::template(TemplatePurpose::OwnerEscalation).name;
    let message = escalation(&["12", "Kak [NAME_1]", "minta bicara dengan orang", "Mau komplain\npesanan   kue"]);

    // Free-form text to a closed window is refused; a template not in the account is too.
    let text = client.send_text(&secrets(), PHONE_NUMBER_ID, &owner, "Tiket #12").await;
    assert!(matches!(text, Err(SendError::WindowClosed)), "{text:?}");
    let missing = client.send_template(&secrets(), PHONE_NUMBER_ID, &owner, &message).await;
    assert!(matches!(&missing, Err(SendError::Rejected(c)) if c == "meta_132001"), "{missing:?}");

    fake.set_template(name, "id", 4, TemplateStatus::Approved);
    let sent = client.send_template(&secrets(), PHONE_NUMBER_ID, &owner, &message).await;
    assert!(sent.as_deref().is_ok_and(|id| id.starts_with("wamid.")), "{sent:?}");
    let request = fake.received().pop().unwrap();
    assert_eq!(request.body["type"], "template");
    assert_eq!(request.body["to"], OWNER);
    let body = &request.body["template"]["components"][0]["parameters"];
    assert_eq!(body[3]["text"], "Mau komplain pesanan kue", "a parameter holds no newline or run of spaces");
    assert_eq!(request.body["template"]["components"][2]["parameters"][0]["payload"], "resolve");

    let short = escalation(&["12", "Kak [NAME_1]"]);
    let mismatch = client.send_template(&secrets(), PHONE_NUMBER_ID, &owner, &short).await;
    assert!(matches!(&mismatch, Err(SendError::Rejected(c)) if c == "meta_132000"), "{mismatch:?}");

    fake.set_template(name, "id", 4, TemplateStatus::Paused);
    let paused = client.send_template(&secrets(), PHONE_NUMBER_ID, &owner, &message).await;
    assert!(matches!(&paused, Err(SendError::Rejected(c)) if c == "meta_132015"), "{paused:?}");
}

#[test]
fn balas_template_print_gives_one_create_request_per_template_and_language() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_balas"))
        .args(["template", "print", "--provider", "meta"])
        .env_clear()
        .env("BALAS_META_GRAPH_URL", "https://graph.facebook.com/v21.0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let paths = stdout.lines().filter(|l| l == &"POST https://graph.facebook.com/v21.0/{WABA-ID}/message_templates");
    assert_eq!(paths.count(), 2 * TemplatePurpose::ALL.len(), "{stdout}");
    let bodies: Vec<serde_json::Value> =
        stdout.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(bodies.len(), 2 * TemplatePurpose::ALL.len());
    assert!(bodies.iter().all(|b| b["category"] == "UTILITY" && b["parameter_format"] == "POSITIONAL"));
    assert!(bodies.iter().any(|b| b["name"] == "balas_customer_follow_up_v1" && b["language"] == "en"));
}

mod owner_loop {
    use balas::fakes::providers::TemplateStatus;

    use crate::helpers::customer;
    use crate::on_both_databases;

    const OWNER: &str = "6281100000012";

    fn templates_sent_to(app: &crate::helpers::TestApp, to: &str) -> Vec<serde_json::Value> {
        app.providers
            .received()
            .into_iter()
            .filter(|r| r.recipient() == to && r.template().is_some())
            .map(|r| r.body)
            .collect()
    }

    on_both_databases! {
        async fn an_owner_who_never_wrote_gets_the_notice_as_a_template_and_a_paused_one_falls_back(app) {
            app.add_owner(OWNER, None).await;
            // Meta refuses free text to an owner who never wrote to the business number.
            app.providers.refuse_recipient(OWNER, 131047);
            app.providers.set_template("balas_owner_escalation_v1", "id", 4, TemplateStatus::Approved);
            let channel = app.channel.id.to_string();
            let set = app.cli(&["template", "set", "--tenant", &app.tenant.slug, "--channel", &channel,
                "--purpose", "owner_escalation", "--language", "id", "--status", "approved"]);
            assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
            let status = app.cli(&["template", "status", "--tenant", &app.tenant.slug, "--channel", &channel]);
            let listed = String::from_utf8_lossy(&status.stdout).to_string();
            assert!(listed.contains("balas_owner_escalation_v1") && listed.contains("approved"), "{listed}");
            assert!(listed.contains("owner_reminder") && listed.contains("missing"), "{listed}");

            let said = app.text(&customer(1), "wamid.T1", "Saya mau komplain, pesanan saya salah");
            assert_eq!(app.send_webhook(&said).await.status().as_u16(), 200);
            app.drain().await;
            let sent = templates_sent_to(&app, OWNER);
            assert_eq!(sent.len(), 1, "{:?}", app.providers.received().iter().map(|r| r.body.clone()).collect::<Vec<_>>());
            let template = &sent[0]["template"];
            assert_eq!(template["name"], "balas_owner_escalation_v1");
            assert_eq!(template["language"]["code"], "id");
            let values: Vec<&str> =
                template["components"][0]["parameters"].as_array().unwrap().iter().filter_map(|p| p["text"].as_str()).collect();
            assert_eq!(values[0], "1", "the ticket number");
            assert!(values[1].contains("+62*******0001") && !values[1].contains("6281234560001"), "masked: {}", values[1]);
            assert_eq!(values[3], "Saya mau komplain, pesanan saya salah", "no summary without an LLM: the customer's words");
            assert_eq!(
                app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'owner_message.sent' AND detail LIKE '%balas_owner_escalation_v1%'").await,
                1
            );

            // Paused at Meta: refused with 132015, recorded, not retried; e-mail instead, where it can.
            app.providers.set_template("balas_owner_escalation_v1", "id", 4, TemplateStatus::Paused);
            let said = app.text(&customer(2), "wamid.T2", "Saya mau komplain juga");
            assert_eq!(app.send_webhook(&said).await.status().as_u16(), 200);
            app.drain().await;
            assert_eq!(app.inspect.text("SELECT status FROM channel_templates").await.as_deref(), Some("paused"));
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'channel.template_refused'").await, 1);
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages WHERE error_code = 'meta_132015'").await, 1);
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead'").await, 0);
            let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
            for series in [r#"balas_template_sends_total{purpose="owner_escalation",result="ok"} 1"#,
                r#"balas_template_sends_total{purpose="owner_escalation",result="refused"} 1"#] {
                assert!(metrics.lines().any(|l| l == series), "{series} in {metrics}");
            }

            // During the pause the next notice goes as text; after it, the template is tried again.
            let said = app.text(&customer(3), "wamid.T3", "Saya mau komplain, barangnya rusak");
            assert_eq!(app.send_webhook(&said).await.status().as_u16(), 200);
            app.drain().await;
            assert_eq!(templates_sent_to(&app, OWNER).len(), 2, "no template during the pause");
            app.clock.advance(chrono::Duration::hours(3));
            app.providers.set_template("balas_owner_escalation_v1", "id", 4, TemplateStatus::Approved);
            let said = app.text(&customer(4), "wamid.T4", "Saya mau komplain, pesanan belum datang");
            assert_eq!(app.send_webhook(&said).await.status().as_u16(), 200);
            app.drain().await;
            assert_eq!(templates_sent_to(&app, OWNER).len(), 3);
            assert_eq!(app.inspect.text("SELECT status FROM channel_templates").await.as_deref(), Some("approved"));
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'channel.template_resumed'").await, 1);

            // Analytics count the templates that went out (billed), not the refused ones.
            balas::analytics::rollup::schedule_all(&*app.state.store, 4, balas::clock::Clock::now(&*app.clock)).await.unwrap();
            app.drain().await;
            let analyst = app.token(app.tenant.id, balas::api::auth::Role::Analytics);
            let (status, body) = app.call("GET", "/api/v1/analytics", &analyst, None).await;
            assert_eq!(status, 200, "{body}");
            let expected = serde_json::json!({ "sent": 2, "by_category": { "utility": { "owner_escalation": 2 } } });
            assert_eq!(body["total"]["templates"], expected);
        }
    }

    on_both_databases! {
        async fn past_the_monthly_template_cap_notices_go_by_email_only(app) {
            let smtp = balas::fakes::smtp::FakeSmtp::start().await.unwrap();
            app.add_owner(OWNER, Some("sri@warung.example")).await;
            app.providers.refuse_recipient(OWNER, 131047);
            app.approve_template(&app.channel, "owner_escalation", "balas_owner_escalation_v1", 4);
            let cap = app.cli(&["tenant", "set", "--tenant", &app.tenant.slug, "--template-cap", "1"]);
            assert!(cap.status.success(), "{}", String::from_utf8_lossy(&cap.stderr));
            assert!(String::from_utf8_lossy(&cap.stdout).contains("monthly template cap 0 -> 1"));
            let worker = app.worker_with(|c| {
                c.smtp = Some(balas::owner::email::SmtpSettings { url: smtp.url.clone().into(), from: "balas@warung.example".into() })
            });
            for (n, wamid) in [(1, "wamid.K1"), (2, "wamid.K2")] {
                let said = app.text(&customer(n), wamid, "Saya mau komplain, pesanan saya salah");
                assert_eq!(app.send_webhook(&said).await.status().as_u16(), 200);
                worker.run_until_idle().await.unwrap();
            }
            assert_eq!(templates_sent_to(&app, OWNER).len(), 1, "the second notice is not sent as a template");
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages WHERE error_code = 'template_cap'").await, 1);
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'owner_message.template_capped'").await, 1);
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.limits_changed'").await, 1);
            assert_eq!(smtp.received().len(), 2, "both notices reach the owner by e-mail");
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead'").await, 0);
        }
    }

    on_both_databases! {
        async fn the_digest_goes_as_its_template_and_the_full_report_follows_when_the_owner_taps(app) {
            use balas::clock::Clock;
            app.add_owner(OWNER, None).await;
            app.providers.refuse_recipient(OWNER, 131047);
            app.approve_template(&app.channel, "owner_digest", "balas_owner_digest_v1", 4);
            let said = app.text(&customer(1), "wamid.G1", "Jam buka kapan?");
            assert_eq!(app.send_webhook(&said).await.status().as_u16(), 200);
            app.drain().await;
            balas::owner::digest::schedule_all(&*app.state.store, 4, app.clock.now()).await.unwrap();
            let yesterday = app.clock.now().with_timezone(&chrono_tz::Asia::Jakarta).format("%d-%m-%Y").to_string();
            app.clock.advance(chrono::Duration::days(1));
            app.drain().await;

            let sent = templates_sent_to(&app, OWNER);
            assert_eq!(sent.len(), 1, "{sent:?}");
            assert_eq!(sent[0]["template"]["name"], "balas_owner_digest_v1");
            let values: Vec<&str> = sent[0]["template"]["components"][0]["parameters"].as_array().unwrap()
                .iter().filter_map(|p| p["text"].as_str()).collect();
            assert_eq!(values, [yesterday.as_str(), "1", "0", "0"], "day, conversations, open tickets, unanswered");
            assert_eq!(sent[0]["template"]["components"][1]["parameters"][0]["payload"], "report");
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages WHERE purpose = 'digest' AND status = 'held'").await, 1);
            assert!(!app.sent_to(OWNER).iter().any(|t| t.starts_with("📊")), "no free-text digest into a closed window");

            // The owner taps "Lihat laporan": their window is open, the full digest follows once.
            app.providers.accept_recipient(OWNER);
            let owner = balas::fakes::meta_webhook::FakeCustomer { bsuid: None, phone: Some(OWNER.into()), name: "Bu Sri".into(), username: None };
            let tap = owner.template_button("wamid.G2", "report", "Lihat laporan", "wamid.X", app.clock.now().timestamp());
            let payload = balas::fakes::meta_webhook::envelope(crate::helpers::PHONE_NUMBER_ID, &[&owner], vec![tap], vec![]);
            assert_eq!(app.send_webhook(&payload).await.status().as_u16(), 200);
            app.drain().await;
            let full: Vec<String> = app.sent_to(OWNER).into_iter().filter(|t| t.starts_with("📊")).collect();
            assert_eq!(full.len(), 1, "{full:?}");
            assert!(full[0].contains(&yesterday), "{}", full[0]);
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages WHERE status = 'held'").await, 0);
            let said = owner.text("wamid.G3", "daftar", app.clock.now().timestamp());
            let payload = balas::fakes::meta_webhook::envelope(crate::helpers::PHONE_NUMBER_ID, &[&owner], vec![said], vec![]);
            assert_eq!(app.send_webhook(&payload).await.status().as_u16(), 200);
            app.drain().await;
            assert_eq!(app.sent_to(OWNER).iter().filter(|t| t.starts_with("📊")).count(), 1, "released once");
        }
    }

    on_both_databases! {
        async fn metas_per_user_limit_defers_the_notice_a_day(app) {
            app.add_owner(OWNER, None).await;
            app.approve_template(&app.channel, "owner_escalation", "balas_owner_escalation_v1", 4);
            app.providers.refuse_recipient(OWNER, 131049);
            let said = app.text(&customer(1), "wamid.L1", "Saya mau komplain, pesanan saya salah");
            assert_eq!(app.send_webhook(&said).await.status().as_u16(), 200);
            app.drain().await;
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'owner_message.deferred'").await, 1);
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'owner_send' AND state = 'queued'").await, 1);
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead'").await, 0);
            // A day later the limit has passed (the owner's window is still closed): the template goes.
            app.providers.accept_recipient(OWNER);
            app.providers.refuse_recipient(OWNER, 131047);
            app.clock.advance(chrono::Duration::hours(23));
            app.drain().await;
            assert_eq!(templates_sent_to(&app, OWNER).len(), 1, "not before the day is over");
            app.clock.advance(chrono::Duration::hours(1));
            app.drain().await;
            assert_eq!(templates_sent_to(&app, OWNER).len(), 2);
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM template_sends").await, 1);
        }
    }

    on_both_databases! {
        async fn balas_template_submits_to_metas_business_account_and_syncs_the_review(app) {
            let channel = app.channel.id.to_string();
            let graph = [("BALAS_META_GRAPH_URL", app.providers.meta_url.as_str())];
            let account = ["--tenant", &app.tenant.slug, "--channel", &channel, "--waba-id", "102290129340398", "--language", "id"];
            let submit = app.cli_with(&graph, &[&["template", "submit"][..], &account[..]].concat());
            let out = String::from_utf8_lossy(&submit.stdout).to_string();
            assert!(submit.status.success(), "{out} {}", String::from_utf8_lossy(&submit.stderr));
            assert_eq!(out.matches("submitted as balas_").count(), balas::channels::templates::TemplatePurpose::ALL.len(), "{out}");
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM channel_templates WHERE status = 'pending'").await, 6);
            // Submitting again is refused by Meta (the name exists): the command says so and fails.
            let again = app.cli_with(&graph, &[&["template", "submit"][..], &account[..]].concat());
            assert!(!again.status.success() && String::from_utf8_lossy(&again.stdout).contains("meta_100"));

            // Meta approves two; sync records them, and the others stay pending.
            app.providers.set_template("balas_owner_escalation_v1", "id", 4, TemplateStatus::Approved);
            app.providers.set_template("balas_owner_reminder_v1", "id", 3, TemplateStatus::Paused);
            let sync = app.cli_with(&graph, &[&["template", "sync"][..], &account[..]].concat());
            assert!(sync.status.success(), "{}", String::from_utf8_lossy(&sync.stderr));
            let status = app.cli(&["template", "status", "--tenant", &app.tenant.slug, "--channel", &channel]);
            let listed = String::from_utf8_lossy(&status.stdout).to_string();
            let line = |purpose: &str| listed.lines().find(|l| l.starts_with(&format!("{purpose} "))).unwrap_or_default().to_string();
            assert!(line("owner_escalation").ends_with("approved"), "{listed}");
            assert!(line("owner_reminder").ends_with("paused"), "{listed}");
            assert!(line("owner_digest").ends_with("pending"), "{listed}");
            let changes = app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'channel.template_set'").await;
            assert_eq!(changes, 8, "6 submitted, 2 changed by the sync");
        }
    }

    on_both_databases! {
        async fn balas_template_submits_twilio_content_for_whatsapp_approval_and_syncs_it(app) {
            let (channel, _) = app.twilio_channel().await;
            let id = channel.id.to_string();
            let content = [("BALAS_TWILIO_CONTENT_URL", app.providers.twilio_url.as_str())];
            let account = ["--tenant", &app.tenant.slug, "--channel", &id, "--language", "id"];
            let submit = app.cli_with(&content, &[&["template", "submit"][..], &account[..]].concat());
            let out = String::from_utf8_lossy(&submit.stdout).to_string();
            assert!(submit.status.success(), "{out} {}", String::from_utf8_lossy(&submit.stderr));
            assert_eq!(out.matches("submitted as HX").count(), 6, "{out}");
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM channel_templates WHERE status = 'pending'").await, 6);
            let sid = app.inspect.text("SELECT name FROM channel_templates WHERE purpose = 'owner_escalation'").await.unwrap();
            assert!(sid.starts_with("HX") && sid.len() == 34, "{sid}");

            // WhatsApp approves the notice's content: sync records it, the rest stay pending.
            app.providers.set_template(&sid, "", 4, TemplateStatus::Approved);
            let sync = app.cli_with(&content, &[&["template", "sync"][..], &account[..]].concat());
            assert!(sync.status.success(), "{}", String::from_utf8_lossy(&sync.stderr));
            assert_eq!(app.inspect.text("SELECT status FROM channel_templates WHERE purpose = 'owner_escalation'").await.as_deref(), Some("approved"));
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM channel_templates WHERE status = 'pending'").await, 5);
        }
    }

    fn template_event(event: &str, name: &str, language: &str) -> serde_json::Value {
        serde_json::json!({ "object": "whatsapp_business_account", "entry": [{ "id": "102290129340398", "time": 1751247548,
            "changes": [{ "field": "message_template_status_update", "value": { "event": event, "message_template_id": 1689556908129835_i64,
                "message_template_name": name, "message_template_language": language, "reason": "NONE",
                "message_template_category": "UTILITY" } }] }] })
    }

    on_both_databases! {
        async fn metas_template_status_webhook_keeps_the_recorded_status_in_step(app) {
            let channel = app.channel.id.to_string();
            let set = app.cli(&["template", "set", "--tenant", &app.tenant.slug, "--channel", &channel,
                "--purpose", "owner_escalation", "--status", "pending"]);
            assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
            let status = || app.inspect.text("SELECT status FROM channel_templates");
            for (event, expected) in [("APPROVED", "approved"), ("PAUSED", "paused"), ("FLAGGED", "paused"), ("DISABLED", "disabled")] {
                let sent = app.send_webhook(&template_event(event, "balas_owner_escalation_v1", "id")).await;
                assert_eq!(sent.status().as_u16(), 200, "{event}");
                assert_eq!(status().await.as_deref(), Some(expected), "after {event}");
            }
            assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'channel.template_status'").await, 3);
            // Another template, or another language, changes nothing here.
            for (name, language) in [("someone_elses_template", "id"), ("balas_owner_escalation_v1", "en")] {
                assert_eq!(app.send_webhook(&template_event("APPROVED", name, language)).await.status().as_u16(), 200);
            }
            assert_eq!(status().await.as_deref(), Some("disabled"));
            // A change without its template's name is refused with a precise error, unsigned ones as always.
            let mut broken = template_event("APPROVED", "x", "id");
            broken["entry"][0]["changes"][0]["value"].as_object_mut().unwrap().remove("message_template_name");
            let refused = app.send_webhook(&broken).await;
            assert_eq!(refused.status().as_u16(), 400);
            let body: serde_json::Value = refused.json().await.unwrap();
            assert_eq!(body["error"], "malformed_template_status", "{body}");
            let raw = serde_json::to_vec(&template_event("APPROVED", "balas_owner_escalation_v1", "id")).unwrap();
            assert_eq!(app.post_raw(&app.webhook_url(), raw, None).await.status().as_u16(), 401);
            assert_eq!(status().await.as_deref(), Some("disabled"));
        }
    }

    on_both_databases! {
        async fn balas_doctor_names_a_missing_template_and_how_to_fix_it(app) {
            let channel = app.channel.id.to_string();
            let before = app.cli(&["doctor", "--tenant", &app.tenant.slug]);
            let out = String::from_utf8_lossy(&before.stdout).to_string();
            assert!(!before.status.success(), "a problem exits 1: {out}");
            assert!(out.contains("PROBLEM") && out.contains("balas_owner_escalation_v1") && out.contains("missing"), "{out}");
            assert!(out.contains(&format!("balas template set --tenant {} --channel {channel} --purpose owner_escalation", app.tenant.slug)), "{out}");
            assert!(out.contains("no owner number"), "{out}");

            app.add_owner("6281100000013", None).await;
            for purpose in ["owner_escalation", "owner_reminder"] {
                let set = app.cli(&["template", "set", "--tenant", &app.tenant.slug, "--channel", &channel, "--purpose", purpose, "--status", "approved"]);
                assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
            }
            let after = String::from_utf8_lossy(&app.cli(&["doctor", "--tenant", &app.tenant.slug]).stdout).to_string();
            assert!(!after.contains("balas_owner_escalation_v1") && !after.contains("no owner number"), "{after}");
            assert!(after.contains("owner notice and reminder templates approved"), "{after}");
        }
    }

    on_both_databases! {
        async fn a_twilio_owner_who_never_wrote_gets_the_notice_as_approved_content(app) {
            let (channel, token) = app.twilio_channel().await;
            app.add_owner(OWNER, None).await;
            app.providers.refuse_recipient(OWNER, 63016);
            app.providers.set_template("HX0123456789abcdef0123456789abcdef", "", 4, TemplateStatus::Approved);
            let id = channel.id.to_string();
            let without_sid = app.cli(&["template", "set", "--tenant", &app.tenant.slug, "--channel", &id,
                "--purpose", "owner_escalation", "--status", "approved"]);
            assert!(!without_sid.status.success() && String::from_utf8_lossy(&without_sid.stderr).contains("HX"));
            let set = app.cli(&["template", "set", "--tenant", &app.tenant.slug, "--channel", &id, "--purpose",
                "owner_escalation", "--name", "HX0123456789abcdef0123456789abcdef", "--status", "approved"]);
            assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));

            let form = [("MessageSid", "SM0901"), ("WaId", "6281277776666"), ("Body", "Saya mau komplain, pesanan saya salah"),
                ("To", crate::helpers::TWILIO_FROM), ("AccountSid", crate::helpers::TWILIO_ACCOUNT),
                ("From", "whatsapp:+6281277776666"), ("NumMedia", "0"), ("ProfileName", "Dewi")];
            assert_eq!(app.post_twilio(&channel, &form, &token).await.status().as_u16(), 200);
            app.drain().await;
            let sent = templates_sent_to(&app, OWNER);
            assert_eq!(sent.len(), 1, "{:?}", app.providers.received().iter().map(|r| r.body.clone()).collect::<Vec<_>>());
            assert_eq!(sent[0]["ContentSid"], "HX0123456789abcdef0123456789abcdef");
            assert!(sent[0].get("Body").is_none(), "no Body with a content template");
            let variables: serde_json::Value = serde_json::from_str(sent[0]["ContentVariables"].as_str().unwrap()).unwrap();
            assert_eq!(variables["1"], "1");
            assert_eq!(variables["4"], "Saya mau komplain, pesanan saya salah");
        }
    }
}
