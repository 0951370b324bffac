//! [6/10] A customer's media on an open ticket reaches the owner's WhatsApp: on Meta uploaded
//! to the business number and sent by its new id; on Twilio and Fonnte as a short-lived link
//! that balas serves; held while the owner's window is closed and sent when they write.
use balas::clock::Clock;
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::fakes::providers::ProviderRequest;
use serde_json::{Value, json};

use crate::helpers::{FONNTE_DEVICE, PHONE_NUMBER_ID, TWILIO_ACCOUNT, TWILIO_FROM, TestApp};
use crate::on_both_databases;

const OWNER: &str = "6281100000009";
const CUSTOMER: &str = "6281234560303";
const PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0 a photo of the damaged parcel";

fn person(digits: &str) -> FakeCustomer {
    FakeCustomer { bsuid: None, phone: Some(digits.into()), name: "Rina".into(), username: None }
}

/// A Meta text from `digits` (the owner or the customer).
async fn meta_says(app: &TestApp, digits: &str, wamid: &str, text: &str) {
    assert_eq!(app.send_webhook(&app.text(&person(digits), wamid, text)).await.status(), 200);
}

async fn meta_photo(app: &TestApp, wamid: &str, media_id: &str, caption: &str) {
    app.providers.media.put_meta(media_id, "image/jpeg", PHOTO);
    let who = person(CUSTOMER);
    let mut message = who.text(wamid, "", app.clock.now().timestamp());
    message["type"] = "image".into();
    message["image"] = json!({ "id": media_id, "mime_type": "image/jpeg", "caption": caption });
    let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[&who], vec![message], vec![]);
    assert_eq!(app.send_webhook(&payload).await.status(), 200);
}

/// What went to the owner carrying media (`image` on Meta, `MediaUrl` on Twilio, `url` on Fonnte).
fn media_sends_to_owner(app: &TestApp) -> Vec<ProviderRequest> {
    let media =
        |b: &Value| b["type"] == "image" || b["type"] == "audio" || b.get("MediaUrl").is_some() || b["url"].is_string();
    app.providers.received().into_iter().filter(|r| r.recipient().ends_with(OWNER) && media(&r.body)).collect()
}

on_both_databases! {
    async fn on_meta_the_photo_is_uploaded_and_sent_by_its_new_id_with_the_ticket(app) {
        app.add_owner(OWNER, None).await;
        meta_says(&app, OWNER, "wamid.O1", "daftar").await; // the owner's window is open
        meta_says(&app, CUSTOMER, "wamid.C1", "Saya mau komplain, paketnya rusak").await;
        app.drain().await;
        meta_photo(&app, "wamid.C2", "MID-R1", "ini fotonya").await;
        app.drain().await;

        let uploads = app.providers.media.uploads();
        assert_eq!(uploads.len(), 1, "the received id is not re-sent: the file is uploaded");
        assert_eq!((uploads[0].1.as_str(), uploads[0].0.starts_with("UP")), ("image/jpeg", true));
        let sent = media_sends_to_owner(&app);
        assert_eq!(sent.len(), 1, "{:?}", app.providers.received().iter().map(|r| r.body.clone()).collect::<Vec<_>>());
        assert_eq!(sent[0].body["image"]["id"], uploads[0].0.as_str());
        let caption = sent[0].body["image"]["caption"].as_str().unwrap_or_default();
        assert!(caption.starts_with("💬 #1 ") && caption.contains("foto") && caption.contains("ini fotonya"), "{caption}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages WHERE purpose = 'forward_media' AND status = 'sent'").await, 1);
        // No "open the business chat to see it" text instead of the photo.
        assert!(app.sent_to(OWNER).iter().all(|t| !t.contains("Buka chat WhatsApp bisnis")));
    }

    async fn outside_the_owners_window_the_photo_waits_and_goes_when_the_owner_writes(app) {
        app.add_owner(OWNER, None).await;
        meta_says(&app, CUSTOMER, "wamid.C1", "Saya mau komplain, paketnya rusak").await;
        app.drain().await;
        meta_photo(&app, "wamid.C2", "MID-R2", "").await;
        app.drain().await;
        assert!(media_sends_to_owner(&app).is_empty(), "nothing sent into a closed window");
        assert!(app.providers.media.uploads().is_empty());
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages WHERE purpose = 'forward_media' AND status = 'held'").await, 1);

        meta_says(&app, OWNER, "wamid.O1", "#1 ambil").await;
        app.drain().await;
        assert_eq!(media_sends_to_owner(&app).len(), 1, "released once the owner wrote");
        app.drain().await;
        assert_eq!(media_sends_to_owner(&app).len(), 1, "exactly once");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM owner_messages WHERE purpose = 'forward_media' AND status = 'sent'").await, 1);
    }

    async fn on_twilio_the_owner_gets_a_short_lived_link_that_balas_serves(app) {
        let (channel, token) = app.twilio_channel().await;
        app.add_owner(OWNER, None).await;
        let twilio = |sid: &'static str, from: &'static str, body: &'static str, media: Option<&str>| {
            let mut params = vec![("MessageSid", sid.to_string()), ("From", format!("whatsapp:+{from}")), ("To", TWILIO_FROM.into()),
                                  ("AccountSid", TWILIO_ACCOUNT.into()), ("Body", body.into()), ("NumMedia", "0".into())];
            if let Some(url) = media {
                params.retain(|(k, _)| *k != "NumMedia");
                params.extend([("NumMedia", "1".into()), ("MediaContentType0", "image/jpeg".into()), ("MediaUrl0", url.to_string())]);
            }
            params
        };
        for params in [twilio("SM01", OWNER, "daftar", None), twilio("SM02", CUSTOMER, "Saya mau komplain, paketnya rusak", None)] {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(app.post_twilio(&channel, &params, &token).await.status(), 200);
            app.drain().await;
        }
        app.providers.media.put_twilio("ME9", "image/jpeg", PHOTO);
        let url = format!("{}/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Messages/MM9/Media/ME9", app.providers.twilio_url);
        let params = twilio("MM9", CUSTOMER, "", Some(&url));
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(app.post_twilio(&channel, &params, &token).await.status(), 200);
        app.drain().await;

        let sent = media_sends_to_owner(&app);
        assert_eq!(sent.len(), 1);
        let link = sent[0].body["MediaUrl"].as_str().expect("a MediaUrl").to_string();
        assert!(link.starts_with(&format!("{}/media/", app.base)), "{link}");
        assert!(sent[0].body["Body"].as_str().unwrap_or_default().starts_with("💬 #1 "));
        // Twilio fetches it: the bytes, with their type, uncached; audited as served.
        let fetched = app.http.get(&link).send().await.unwrap();
        assert_eq!(fetched.status(), 200);
        assert_eq!(fetched.headers()["content-type"], "image/jpeg");
        assert_eq!(fetched.headers()["cache-control"], "private, no-store");
        assert_eq!(fetched.bytes().await.unwrap().as_ref(), PHOTO);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.served'").await, 1);
        // An altered link, or the same one after 15 minutes, serves nothing.
        // Its last character changed (to another one: a link may end in 0 already).
        let last = if link.ends_with('0') { "1" } else { "0" };
        let altered = format!("{}{last}", &link[..link.len() - 1]);
        assert_eq!(app.http.get(&altered).send().await.unwrap().status(), 404);
        app.clock.advance(chrono::Duration::minutes(16));
        assert_eq!(app.http.get(&link).send().await.unwrap().status(), 404);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.served'").await, 1);
    }

    async fn on_fonnte_the_owner_gets_the_file_by_link_at_once(app) {
        let (_, url) = app.fonnte_channel(None).await;
        app.add_owner(OWNER, None).await;
        let say = |id: u64, text: &str, file: Option<&str>| {
            let mut m = json!({ "device": FONNTE_DEVICE, "sender": CUSTOMER, "message": text, "name": "Rina", "inboxid": id });
            if let Some(file_url) = file {
                m["url"] = json!(file_url);
                m["filename"] = json!("foto.jpg");
                m["extension"] = json!("jpg");
            }
            m
        };
        assert_eq!(app.http.post(&url).json(&say(1, "Saya mau komplain, paketnya rusak", None)).send().await.unwrap().status(), 200);
        app.drain().await;
        app.providers.media.put_fonnte("f1.jpg", "image/jpeg", PHOTO);
        let file = format!("{}/fonnte-files/f1.jpg", app.providers.fonnte_url);
        assert_eq!(app.http.post(&url).json(&say(2, "", Some(&file))).send().await.unwrap().status(), 200);
        app.drain().await;
        let sent = media_sends_to_owner(&app);
        assert_eq!(sent.len(), 1, "Fonnte has no window: sent at once");
        let link = sent[0].body["url"].as_str().expect("a url").to_string();
        assert_eq!(sent[0].body["filename"], "image.jpg");
        assert_eq!(app.http.get(&link).send().await.unwrap().bytes().await.unwrap().as_ref(), PHOTO);
    }
}
