//! [7/10] §1 The owner answers with a photo or document: from WhatsApp with a caption or quote
//! naming the ticket (fetched under the customer's key, then sent), held behind the customer's
//! closed window until they answer the follow-up, a help text for a file naming no ticket, and
//! a file attached on the dashboard's ticket page.
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::fakes::providers::ProviderRequest;
use serde_json::{Value, json};

use crate::helpers::{PHONE_NUMBER_ID, TWILIO_ACCOUNT, TWILIO_FROM, TestApp};
use crate::on_both_databases;

const OWNER: &str = "6281100000071";
const CUSTOMER: &str = "6281234560471";
const RECEIPT: &[u8] = b"%PDF-1.4 resi pengiriman JNE 0123456789";
const PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0 foto resi yang dipegang pemilik";

fn person(digits: &str, name: &str) -> FakeCustomer {
    FakeCustomer { bsuid: None, phone: Some(digits.into()), name: name.into(), username: None }
}

async fn says(app: &TestApp, digits: &str, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(&person(digits, "Rina"), wamid, text)).await.status(), 200);
    app.drain().await;
}

/// The owner sends a file on Meta: `kind` image or document, with this caption, maybe quoting.
async fn owner_sends_file(app: &TestApp, wamid: &str, kind: &str, media: Value, quoting: Option<&str>) {
    let owner = person(OWNER, "Bu Sari");
    let mut message = owner.text(wamid, "", app.clock.now().timestamp());
    message["type"] = kind.into();
    message[kind] = media;
    if let Some(quoted) = quoting {
        message["context"] = json!({ "from": PHONE_NUMBER_ID, "id": quoted });
    }
    let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[&owner], vec![message], vec![]);
    assert_eq!(app.send_webhook(&payload).await.status(), 200);
    app.drain().await;
}

/// Ticket #1 of a complaining customer, the owner registered.
async fn ticket(app: &TestApp) {
    app.add_owner(OWNER, None).await;
    says(app, CUSTOMER, "wamid.C1", "Saya mau komplain, paket saya belum sampai").await;
    assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations").await, 1);
}

fn to_customer(app: &TestApp) -> Vec<ProviderRequest> {
    app.providers.received().into_iter().filter(|r| r.recipient() == CUSTOMER).collect()
}

fn files_to_customer(app: &TestApp) -> Vec<Value> {
    let file = |b: &Value| b["type"] == "image" || b["type"] == "document" || b.get("MediaUrl").is_some();
    to_customer(app).into_iter().map(|r| r.body).filter(file).collect()
}

on_both_databases! {
    async fn the_owners_captioned_photo_reaches_the_ticket_customer_stored_under_their_key(app) {
        ticket(&app).await;
        app.providers.media.put_meta("MID-OWN1", "image/jpeg", PHOTO);
        owner_sends_file(&app, "wamid.O1", "image", json!({ "id": "MID-OWN1", "mime_type": "image/jpeg", "caption": "#1 ini resinya kak" }), None).await;

        let files = files_to_customer(&app);
        assert_eq!(files.len(), 1, "{:?}", app.providers.received().iter().map(|r| r.body.clone()).collect::<Vec<_>>());
        let uploads = app.providers.media.uploads();
        assert_eq!(uploads.len(), 1, "uploaded to the business number, then sent by its new id");
        assert_eq!(files[0]["image"]["id"], uploads[0].0.as_str());
        assert_eq!(files[0]["image"]["caption"], "ini resinya kak", "the ticket number is not sent");
        assert!(app.sent_to(OWNER).iter().any(|t| t.contains("#1")), "the owner hears it went");
        // Stored once, under the customer's contact, as the owner's message on the ticket.
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM media_objects m JOIN messages g ON g.id = m.message_id WHERE g.author = 'owner' AND g.kind = 'image' AND g.status = 'sent' AND g.direction = 'out'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM media_objects m JOIN contacts c ON c.id = m.contact_id").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.replied' AND actor LIKE 'owner:%'").await, 1);
        // The command's file references are dropped with its text once it ran.
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages WHERE meta_enc IS NOT NULL").await, 0);
        app.drain().await;
        assert_eq!(files_to_customer(&app).len(), 1, "exactly once");
    }

    async fn a_document_quote_replying_to_the_notice_goes_to_that_tickets_customer(app) {
        ticket(&app).await;
        let quoted = app.inspect.text("SELECT provider_message_id FROM owner_messages WHERE purpose = 'notice'").await.expect("its id");
        app.providers.media.put_meta("MID-DOC1", "application/pdf", RECEIPT);
        let media = json!({ "id": "MID-DOC1", "mime_type": "application/pdf", "filename": "resi.pdf" });
        owner_sends_file(&app, "wamid.O2", "document", media, Some(&quoted)).await;
        let files = files_to_customer(&app);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0]["type"], "document");
    }

    async fn a_file_naming_no_ticket_gets_a_help_text_and_goes_nowhere(app) {
        ticket(&app).await;
        app.providers.media.put_meta("MID-LOST", "image/jpeg", PHOTO);
        owner_sends_file(&app, "wamid.O3", "image", json!({ "id": "MID-LOST", "mime_type": "image/jpeg", "caption": "ini resinya" }), None).await;
        assert!(files_to_customer(&app).is_empty());
        assert!(app.providers.media.requests().is_empty(), "nothing fetched");
        let told = app.sent_to(OWNER);
        assert!(told.last().is_some_and(|t| t.contains("belum dikirim") && t.contains("#12")), "{told:?}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'owner.command' AND detail LIKE '%file_help%'").await, 1);
    }

    async fn behind_a_closed_window_the_follow_up_goes_first_and_the_photo_when_they_answer(app) {
        app.approve_template(&app.channel, "customer_follow_up", "balas_customer_follow_up_v1", 1);
        app.inspect.execute("UPDATE tenants SET resume_after_hours = 0, human_idle_hours = 0").await;
        ticket(&app).await;
        app.clock.advance(chrono::Duration::hours(25));
        app.providers.refuse_recipient(CUSTOMER, 131047);
        app.providers.media.put_meta("MID-LATE", "image/jpeg", PHOTO);
        owner_sends_file(&app, "wamid.O4", "image", json!({ "id": "MID-LATE", "mime_type": "image/jpeg", "caption": "#1 ini resinya" }), None).await;

        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE status = 'held' AND kind = 'image'").await, 1);
        let sent: Vec<_> = to_customer(&app).into_iter().filter(|r| r.template().is_some()).collect();
        assert_eq!(sent.len(), 1, "the follow-up template went first");
        let refused = files_to_customer(&app).len(); // the fake records the send it refused
        app.providers.accept_recipient(CUSTOMER);
        says(&app, CUSTOMER, "wamid.C2", "iya kak?").await;
        let files = files_to_customer(&app);
        assert_eq!(files.len(), refused + 1, "the photo followed once they answered");
        assert_eq!(files[refused]["image"]["caption"], "ini resinya");
        app.drain().await;
        assert_eq!(files_to_customer(&app).len(), refused + 1, "exactly once");
    }

    async fn on_twilio_the_owners_photo_goes_to_the_customer_as_a_link_balas_serves(app) {
        let (channel, token) = app.twilio_channel().await;
        app.add_owner(OWNER, None).await;
        let post = |sid: &'static str, from: &'static str, body: &'static str, media: Option<String>| {
            let mut params = vec![("MessageSid", sid.to_string()), ("From", format!("whatsapp:+{from}")), ("To", TWILIO_FROM.into()),
                                  ("AccountSid", TWILIO_ACCOUNT.into()), ("Body", body.into())];
            match media {
                Some(url) => params.extend([("NumMedia", "1".into()), ("MediaContentType0", "image/jpeg".into()), ("MediaUrl0", url)]),
                None => params.push(("NumMedia", "0".into())),
            }
            params
        };
        let customer = post("SM01", CUSTOMER, "Saya mau komplain, paket saya belum sampai", None);
        let params: Vec<(&str, &str)> = customer.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(app.post_twilio(&channel, &params, &token).await.status(), 200);
        app.drain().await;
        app.providers.media.put_twilio("ME71", "image/jpeg", PHOTO);
        let url = format!("{}/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Messages/MM71/Media/ME71", app.providers.twilio_url);
        let owner = post("MM71", OWNER, "#1 ini resinya", Some(url));
        let params: Vec<(&str, &str)> = owner.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(app.post_twilio(&channel, &params, &token).await.status(), 200);
        app.drain().await;

        let files = files_to_customer(&app);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0]["Body"], "ini resinya");
        let link = files[0]["MediaUrl"].as_str().expect("a MediaUrl").to_string();
        let served = app.http.get(&link).send().await.unwrap();
        assert_eq!(served.status(), 200);
        assert_eq!(served.bytes().await.unwrap().as_ref(), PHOTO);
    }

    async fn an_owner_attaches_a_document_on_the_ticket_page_and_it_reaches_the_customer(app) {
        use crate::dashboard::{PASSWORD, Visitor, user};
        ticket(&app).await;
        user(&app, "pemilik@toko.test", Role::Owner).await;
        let mut owner = Visitor::new(&app.base);
        assert_eq!(owner.login(&app.tenant.slug, "pemilik@toko.test", PASSWORD).await.status, 303);
        let inbox = owner.get("/dashboard").await.body;
        let start = inbox.find("/dashboard/tickets/").expect("the ticket in the inbox");
        let ticket_page = inbox[start..].split('"').next().unwrap_or_default().to_string();
        let page = owner.get(&ticket_page).await;
        assert!(page.body.contains("enctype=\"multipart/form-data\""), "the page offers a file");
        let csrf = page.csrf();

        let form = |token: &str, caption: &str, name: &str, kind: &str, bytes: &[u8]| multipart(&[
            ("csrf", None, token.as_bytes()), ("caption", None, caption.as_bytes()), ("file", Some((name, kind)), bytes),
        ]);
        let path = format!("{ticket_page}/file");
        // A forged token, a program, and a file past WhatsApp's limit change nothing.
        let (kind, body) = form("forged", "", "resi.pdf", "application/pdf", RECEIPT);
        assert_eq!(owner.post_raw(&path, &kind, body).await.status, 403);
        let (kind, body) = form(&csrf, "", "setup.exe", "application/x-msdownload", b"MZ");
        assert!(owner.post_raw(&path, &kind, body).await.location().ends_with("err=file_type_refused"));
        let (kind, body) = form(&csrf, "", "besar.jpg", "image/jpeg", &vec![7u8; 5 * 1024 * 1024 + 1]);
        assert!(owner.post_raw(&path, &kind, body).await.location().ends_with("err=file_too_large"));
        let (kind, body) = form(&csrf, "dengar ya", "suara.ogg", "audio/ogg", b"OggS voice");
        assert!(owner.post_raw(&path, &kind, body).await.location().ends_with("err=caption_not_shown"), "a caption WhatsApp would drop");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM media_objects").await, 0);
        assert_eq!(app.state.media.storage.list("m/").await.unwrap().len(), 0, "nothing left in the store");

        // The operator's daily cap on stored bytes holds for the owner's files too.
        app.inspect.execute("UPDATE tenants SET daily_media_bytes_cap = 16").await;
        let (kind, body) = form(&csrf, "", "resi.pdf", "application/pdf", RECEIPT);
        assert!(owner.post_raw(&path, &kind, body).await.location().ends_with("err=file_too_large"), "past the daily cap");
        app.inspect.execute("UPDATE tenants SET daily_media_bytes_cap = 0").await;

        let (kind, body) = form(&csrf, "Resi pengirimannya kak", "resi.pdf", "application/pdf", RECEIPT);
        let sent = owner.post_raw(&path, &kind, body).await;
        assert_eq!((sent.status, sent.location().ends_with("ok=file")), (303, true), "{}", sent.location());
        app.drain().await;
        let files = files_to_customer(&app);
        assert_eq!(files.len(), 1);
        assert_eq!((files[0]["type"].as_str(), files[0]["document"]["caption"].as_str()), (Some("document"), Some("Resi pengirimannya kak")));
        let uploads = app.providers.media.uploads();
        assert_eq!(uploads.last().map(|u| u.1.as_str()), Some("application/pdf"));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM media_objects m JOIN messages g ON g.id = m.message_id WHERE g.author = 'owner' AND g.status = 'sent'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.replied' AND actor LIKE 'user:%'").await, 1);
        // The ticket page shows it among the messages.
        assert!(owner.get(&ticket_page).await.body.contains("/dashboard/media/"));
    }
}

/// One form field: its name, the file's name and type for a file, and its bytes.
type Field<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

/// A `multipart/form-data` body and its content type.
fn multipart(fields: &[Field<'_>]) -> (String, Vec<u8>) {
    let boundary = "balas-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file, bytes) in fields {
        body.extend(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some((file_name, kind)) => body.extend(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {kind}\r\n\r\n").as_bytes(),
            ),
            None => body.extend(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend(*bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
