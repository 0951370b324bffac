//! [6/10] Customers' media: fetched by a durable job through the outbound guard, sealed under
//! the contact's key, stored in a directory or on S3, shredded by erasure and swept when no row
//! names it. The fake providers serve the downloads as the real ones do (Meta's expiring links,
//! Twilio's Basic auth and CDN redirect).
use balas::api::auth::Role;
use balas::clock::Clock;
use balas::crypto::DataKey;
use balas::domain::ContactId;
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::media::MediaStorage;
use balas::store::MediaRecord;
use serde_json::{Value, json};

use crate::helpers::{PHONE_NUMBER_ID, TWILIO_ACCOUNT, TWILIO_FROM, TestApp, customer};
use crate::{on_both_databases, on_every_store};

/// A run of bytes no sealed object may contain.
const MARKER: &[u8] = b"PLAIN-PHOTO-BYTES-THAT-MUST-NOT-SURVIVE";

/// A JPEG-looking file of about `len` bytes, full of the marker.
pub fn photo(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, seed];
    while bytes.len() < len {
        bytes.extend_from_slice(MARKER);
    }
    bytes
}

pub async fn send_media(app: &TestApp, who: &FakeCustomer, wamid: &str, kind: &str, media: Value) {
    let mut message = who.text(wamid, "", app.clock.now().timestamp());
    message["type"] = kind.into();
    message[kind] = media;
    let status =
        app.send_webhook(&meta_webhook::envelope(PHONE_NUMBER_ID, &[who], vec![message], vec![])).await.status();
    assert_eq!(status, 200);
}

/// Every sealed object's raw bytes.
async fn raw_objects(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    let storage = &app.state.media.storage;
    let mut all = Vec::new();
    for path in storage.list("m/").await.expect("list") {
        let size = storage.size(&path).await.expect("size");
        all.push((path.clone(), storage.read_range(&path, 0, size).await.expect("read").to_vec()));
    }
    all
}

/// The stored attachments of one contact, and that contact's key.
async fn stored_of(app: &TestApp, contact: ContactId) -> (Vec<MediaRecord>, Option<DataKey>) {
    let mut tx = app.state.store.begin(app.tenant.id).await.expect("tx");
    let rows = tx.media_of_contact(contact).await.expect("media");
    let key = tx
        .contact(contact)
        .await
        .expect("contact")
        .map(|c| app.state.keys.vault.unwrap_key(&c.wrapped_key).expect("key"));
    tx.commit().await.expect("commit");
    (rows, key)
}

/// A download link for a Meta media id, as Meta's webhook may carry it.
async fn link_of(app: &TestApp, media_id: &str) -> String {
    let described: Value = app
        .http
        .get(format!("{}/{media_id}", app.providers.meta_url))
        .bearer_auth("t")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    described["url"].as_str().expect("a link").to_string()
}

/// The contact a stored object belongs to, from its path (`m/{tenant}/{contact}/{object}`).
fn contact_of(path: &str) -> ContactId {
    ContactId(path.split('/').nth(2).and_then(|c| uuid::Uuid::parse_str(c).ok()).expect("a contact in the path"))
}

on_every_store! {
    async fn a_meta_photo_is_fetched_sealed_under_its_contacts_key_and_deduplicated_per_contact(app) {
        let (budi, sari) = (customer(1), customer(2));
        let first = photo(300_000, 1);
        let sha = app.providers.media.put_meta("MID-1", "image/jpeg", &first);
        send_media(&app, &budi, "wamid.P1", "image", json!({ "id": "MID-1", "mime_type": "image/jpeg", "sha256": sha, "caption": "bukti transfer" })).await;
        app.drain().await;

        let objects = raw_objects(&app).await;
        assert_eq!(objects.len(), 1, "one sealed object");
        let (path, raw) = &objects[0];
        assert!(!raw.windows(MARKER.len()).any(|w| w == MARKER), "no plaintext run in the stored object");
        let budi_id = contact_of(path);
        let (rows, key) = stored_of(&app, budi_id).await;
        let key = key.expect("Budi's key");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].mime_type.as_str(), rows[0].size_bytes), ("image/jpeg", first.len() as i64));
        assert_eq!(app.state.media.open(&key, path).await.expect("opens with Budi's key"), first);

        // The same file again from Budi shares the object; from Sari it is sealed apart.
        app.providers.media.put_meta("MID-2", "image/jpeg", &first);
        send_media(&app, &budi, "wamid.P2", "image", json!({ "id": "MID-2", "mime_type": "image/jpeg" })).await;
        app.providers.media.put_meta("MID-3", "image/jpeg", &first);
        send_media(&app, &sari, "wamid.P3", "image", json!({ "id": "MID-3", "mime_type": "image/jpeg" })).await;
        app.drain().await;
        assert_eq!(app.count("media_objects").await, 3);
        let objects = raw_objects(&app).await;
        assert_eq!(objects.len(), 2, "Budi's two sends share one object; Sari's is her own");
        let sari_path = objects.iter().map(|(p, _)| p).find(|p| contact_of(p) != budi_id).expect("Sari's object");
        assert!(app.state.media.open(&key, sari_path).await.is_err(), "Budi's key does not open Sari's copy");
        let (budi_rows, _) = stored_of(&app, budi_id).await;
        let (sari_rows, _) = stored_of(&app, contact_of(sari_path)).await;
        assert_eq!(budi_rows[0].content_hash, budi_rows[1].content_hash);
        assert_ne!(budi_rows[0].content_hash, sari_rows[0].content_hash, "no hash links contacts");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.stored'").await, 3);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'media_fetch' AND state = 'done'").await, 3);

        // Meta was asked with the channel token, on its own host, for each media id.
        let asked = app.providers.media.requests();
        assert!(asked.iter().all(|r| r.authorization.as_deref().is_some_and(|a| a.starts_with("Bearer ")) && r.host.starts_with("127.0.0.1")));
        assert_eq!(asked.iter().filter(|r| r.path.starts_with("/lookup/")).count(), 3);
    }

    async fn a_twilio_voice_note_is_fetched_with_basic_auth_and_its_cdn_never_sees_the_credential(app) {
        let (channel, token) = app.twilio_channel().await;
        let voice = photo(40_000, 7);
        app.providers.media.put_twilio("ME77", "audio/ogg", &voice);
        let url = format!("{}/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Messages/MM77/Media/ME77", app.providers.twilio_url);
        let params = [
            ("MessageSid", "MM77"), ("From", "whatsapp:+6281277776666"), ("To", TWILIO_FROM), ("AccountSid", TWILIO_ACCOUNT),
            ("NumMedia", "1"), ("MediaContentType0", "audio/ogg"), ("MediaUrl0", url.as_str()),
        ];
        assert_eq!(app.post_twilio(&channel, &params, &token).await.status().as_u16(), 200);
        app.drain().await;
        let objects = raw_objects(&app).await;
        assert_eq!(objects.len(), 1);
        let (rows, key) = stored_of(&app, contact_of(&objects[0].0)).await;
        assert_eq!(rows[0].mime_type, "audio/ogg");
        assert_eq!(app.state.media.open(&key.expect("key"), &objects[0].0).await.expect("opens"), voice);
        let asked = app.providers.media.requests();
        let api = asked.iter().find(|r| r.path == "/twilio/ME77").expect("the media URL was fetched");
        assert!(api.authorization.as_deref().is_some_and(|a| a.starts_with("Basic ")) && api.host.starts_with("127.0.0.1"));
        let cdn = asked.iter().find(|r| r.path == "/twilio-cdn/ME77").expect("the redirect was followed");
        assert!(cdn.host.starts_with("localhost"), "the CDN is another host");
        assert_eq!(cdn.authorization, None, "the credential does not follow the redirect");
    }

    async fn after_an_erasure_no_byte_of_the_customers_media_is_left(app) {
        let budi = customer(3);
        app.providers.media.put_meta("MID-E", "image/jpeg", &photo(50_000, 3));
        send_media(&app, &budi, "wamid.E1", "image", json!({ "id": "MID-E", "mime_type": "image/jpeg" })).await;
        app.drain().await;
        let objects = raw_objects(&app).await;
        assert_eq!(objects.len(), 1);
        let contact = contact_of(&objects[0].0);
        let owner = app.token(app.tenant.id, Role::Owner);
        let (status, erased) = app.call("DELETE", &format!("/api/v1/contacts/{contact}"), &owner, None).await;
        assert_eq!(status, 200, "{erased}");
        assert_eq!(erased["deleted"]["media"], 1);
        assert!(raw_objects(&app).await.is_empty(), "the sealed object is deleted");
        assert_eq!(app.count("media_objects").await, 0);
        assert!(stored_of(&app, contact).await.1.is_none(), "and its key is gone with the contact");
    }
}

/// The first `prefix…"` link in a page, without the quote.
fn link_in(page: &str, prefix: &str) -> Option<String> {
    let start = page.find(prefix)?;
    page[start..].split('"').next().map(str::to_string)
}

on_both_databases! {
    async fn the_ticket_page_shows_the_photo_through_an_authenticated_audited_uncached_route(app) {
        use crate::dashboard::{PASSWORD, Visitor, user};
        let rina = customer(11);
        app.send_webhook(&app.text(&rina, "wamid.D0", "Saya mau komplain, paketnya rusak")).await;
        let picture = photo(30_000, 11);
        app.providers.media.put_meta("MID-D", "image/jpeg", &picture);
        send_media(&app, &rina, "wamid.D1", "image", json!({ "id": "MID-D", "mime_type": "image/jpeg" })).await;
        app.drain().await;

        user(&app, "pemilik@toko.test", Role::Owner).await;
        let mut owner = Visitor::new(&app.base);
        assert_eq!(owner.login(&app.tenant.slug, "pemilik@toko.test", PASSWORD).await.status, 303);
        let inbox = owner.get("/dashboard").await.body;
        let ticket = link_in(&inbox, "/dashboard/tickets/").expect("the ticket in the inbox");
        let page = owner.get(&ticket).await.body;
        let src = link_in(&page, "/dashboard/media/").expect("the photo on the ticket page");
        assert!(page.contains(&format!("<img class=\"media\" src=\"{src}\"")), "shown inline");

        let cookie = owner.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let answer = app.http.get(format!("{}{src}", app.base)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["content-type"], "image/jpeg");
        assert_eq!(answer.headers()["cache-control"], "private, no-store");
        assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
        assert_eq!(answer.bytes().await.unwrap().to_vec(), picture);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.read' AND actor LIKE 'user:%'").await, 1);

        // No session, an analytics user, or an unknown id: nothing is served or audited.
        let anonymous = Visitor::new(&app.base).get(&src).await;
        assert_eq!(anonymous.status, 303, "to the login page");
        assert!(anonymous.body.is_empty());
        user(&app, "angka@toko.test", Role::Analytics).await;
        let mut analyst = Visitor::new(&app.base);
        analyst.login(&app.tenant.slug, "angka@toko.test", PASSWORD).await;
        assert_eq!(analyst.get(&src).await.status, 403);
        assert_eq!(owner.get(&format!("/dashboard/media/{}", uuid::Uuid::new_v4())).await.status, 404);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.read'").await, 1);
    }

    async fn an_expired_meta_link_is_asked_for_again(app) {
        let file = photo(20_000, 4);
        let sha = app.providers.media.put_meta("MID-X", "image/jpeg", &file);
        let old_link = link_of(&app, "MID-X").await;
        app.providers.media.expire_links();
        send_media(&app, &customer(4), "wamid.X1", "image", json!({ "id": "MID-X", "mime_type": "image/jpeg", "sha256": sha, "url": old_link })).await;
        app.drain().await;
        assert_eq!(app.count("media_objects").await, 1, "stored from a fresh link");
        let paths: Vec<String> = app.providers.media.requests().into_iter().map(|r| r.path).collect();
        let downloads = paths.iter().filter(|p| p.starts_with("/meta-cdn/")).count();
        assert_eq!(downloads, 2, "the expired link, then the fresh one: {paths:?}");
        assert_eq!(paths.iter().filter(|p| p.as_str() == "/lookup/MID-X").count(), 2, "the test's lookup and the job's");
    }

    async fn a_fetch_to_a_private_address_or_a_foreign_host_is_refused_and_the_owner_is_told(app) {
        app.add_owner("6281100000009", None).await;
        app.providers.media.put_meta("MID-P", "image/jpeg", &photo(1_000, 5));
        send_media(&app, &customer(5), "wamid.R1", "image", json!({ "id": "MID-P", "mime_type": "image/jpeg" })).await;
        app.worker_with(|c| c.media.allow_private = false).run_until_idle().await.unwrap();
        assert_eq!(app.inspect.text("SELECT last_error FROM jobs WHERE kind = 'media_fetch' AND state = 'dead'").await.as_deref(), Some("refused_private_address"));
        assert!(app.providers.media.requests().is_empty(), "nothing reached the loopback fake");
        let told = app.sent_to("6281100000009");
        assert!(told.iter().any(|t| t.contains("tidak bisa diambil")), "{told:?}");

        // A link on a host the token was not issued for gets no token, and is refused outright
        // when that host is not allowed at all.
        let port = app.providers.meta_url.split(':').nth(2).and_then(|p| p.split('/').next()).unwrap().to_string();
        let foreign = format!("http://localhost:{port}/meta-cdn/stolen");
        app.providers.media.put_meta_linking("MID-F", "image/jpeg", &foreign);
        send_media(&app, &customer(6), "wamid.R2", "image", json!({ "id": "MID-F", "mime_type": "image/jpeg" })).await;
        app.drain().await;
        let stolen: Vec<_> = app.providers.media.requests().into_iter().filter(|r| r.path == "/meta-cdn/stolen").collect();
        assert_eq!(stolen.len(), 1);
        assert_eq!(stolen[0].authorization, None, "the Meta token never goes to another host");
        send_media(&app, &customer(7), "wamid.R3", "image", json!({ "id": "MID-F", "mime_type": "image/jpeg" })).await;
        app.worker_with(|c| c.media.extra_hosts.clear()).run_until_idle().await.unwrap();
        assert_eq!(app.providers.media.requests().iter().filter(|r| r.path == "/meta-cdn/stolen").count(), 1, "refused before connecting");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'media_fetch' AND last_error = 'refused_host_not_allowed'").await, 1);
        assert_eq!(app.count("media_objects").await, 0);
    }

    async fn an_oversized_disallowed_or_corrupted_file_is_refused_cleanly_and_the_owner_is_told(app) {
        app.add_owner("6281100000009", None).await;
        app.providers.media.put_meta("MID-BIG", "image/jpeg", &photo(6 * 1024 * 1024, 8));
        send_media(&app, &customer(8), "wamid.O1", "image", json!({ "id": "MID-BIG", "mime_type": "image/jpeg" })).await;
        app.providers.media.put_meta("MID-EXE", "application/x-msdownload", b"MZ not a document");
        send_media(&app, &customer(9), "wamid.O2", "document", json!({ "id": "MID-EXE", "mime_type": "application/x-msdownload", "filename": "invoice.exe" })).await;
        let file = photo(10_000, 9);
        app.providers.media.put_meta("MID-SUM", "image/jpeg", &file);
        let wrong = app.providers.media.put_meta("MID-OTHER", "image/jpeg", b"other bytes");
        let link = link_of(&app, "MID-SUM").await;
        send_media(&app, &customer(10), "wamid.O3", "image", json!({ "id": "MID-SUM", "mime_type": "image/jpeg", "sha256": wrong, "url": link })).await;
        app.drain().await;

        assert!(app.providers.media.requests().iter().all(|r| r.path.starts_with("/lookup/") || r.path.contains("meta-cdn")));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'media_fetch' AND state = 'dead' AND last_error = 'too_large'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'media_fetch' AND state = 'dead' AND last_error = 'type_not_allowed'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'media_fetch' AND state = 'dead' AND last_error = 'sha256_mismatch'").await, 1);
        let downloads = app.providers.media.requests().iter().filter(|r| r.path.starts_with("/meta-cdn/")).count();
        assert_eq!(downloads, 1, "only the checksummed file was downloaded: the others were refused on what Meta declared");
        assert_eq!(app.count("media_objects").await, 0);
        assert!(raw_objects(&app).await.is_empty(), "nothing refused is left in storage");
        let told = app.sent_to("6281100000009");
        assert!(told.iter().any(|t| t.contains("terlalu besar")), "{told:?}");
        assert!(told.iter().any(|t| t.contains("tidak diterima")), "{told:?}");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.fetch_failed'").await, 3);
        // The customer still got the bot's answer to each message: nothing accepted is dropped.
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'respond' AND state = 'done'").await, 3);
    }

    async fn the_operators_daily_cap_on_stored_bytes_holds_and_resets_the_next_day(app) {
        app.add_owner("6281100000009", None).await;
        let set = app.cli(&["tenant", "set", "--tenant", &app.tenant.slug, "--media-bytes-per-day", "25000"]);
        assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
        assert!(String::from_utf8_lossy(&set.stdout).contains("media bytes per day 0 -> 25000"));
        let owner = app.token(app.tenant.id, Role::Owner);
        let (status, e) = app.call("PATCH", "/api/v1/settings", &owner, Some(json!({ "daily_media_bytes_cap": 0 }))).await;
        assert_eq!((status, e["error"].as_str()), (403, Some("operator_only")), "{e}");

        for (n, id) in [(30, "MID-C1"), (31, "MID-C2"), (32, "MID-C3")] {
            app.providers.media.put_meta(id, "image/jpeg", &photo(10_000, n as u8));
            send_media(&app, &customer(n), &format!("wamid.{id}"), "image", json!({ "id": id, "mime_type": "image/jpeg" })).await;
            app.drain().await;
        }
        assert_eq!(app.count("media_objects").await, 2, "20,000 bytes fit; a third 10,000 would pass 25,000");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'media_fetch' AND state = 'dead' AND last_error = 'daily_cap'").await, 1);
        assert!(app.sent_to("6281100000009").iter().any(|t| t.contains("batas harian")), "the owner is told");

        app.clock.advance(chrono::Duration::days(1));
        app.providers.media.put_meta("MID-C4", "image/jpeg", &photo(10_000, 33));
        send_media(&app, &customer(33), "wamid.MID-C4", "image", json!({ "id": "MID-C4", "mime_type": "image/jpeg" })).await;
        app.drain().await;
        assert_eq!(app.count("media_objects").await, 3, "a new UTC day, a new allowance");
    }

    async fn the_sweeper_deletes_old_objects_no_row_names_and_keeps_fresh_ones(app) {
        let now = app.clock.now();
        let storage = &app.state.media.storage;
        let contact = ContactId(uuid::Uuid::new_v4());
        let old = MediaStorage::path(app.tenant.id, contact, balas::media::sweep::object_id(now - chrono::Duration::hours(3)));
        let fresh = MediaStorage::path(app.tenant.id, contact, balas::media::sweep::object_id(now));
        for path in [&old, &fresh] {
            let mut writer = storage.writer(path).await.unwrap();
            writer.write(b"orphan".to_vec()).await.unwrap();
            writer.close().await.unwrap();
        }
        assert_eq!(balas::media::sweep::sweep_tenant(&app.state.core, app.tenant.id, now).await.unwrap(), 1);
        assert_eq!(storage.list("m/").await.unwrap(), vec![fresh]);
    }
}

#[test]
fn metas_media_fields_are_all_parsed() {
    let who = customer(20);
    let mut image = who.text("wamid.F1", "", 1_767_225_600);
    image["type"] = "image".into();
    image["image"] = json!({ "id": "MID-F1", "mime_type": "image/jpeg", "sha256": "SfInY0g=", "caption": "bukti", "url": "https://lookaside.fbsbx.com/x" });
    let mut voice = who.text("wamid.F2", "", 1_767_225_601);
    voice["type"] = "audio".into();
    voice["audio"] = json!({ "id": "MID-F2", "mime_type": "audio/ogg; codecs=opus", "voice": true });
    let mut document = who.text("wamid.F3", "", 1_767_225_602);
    document["type"] = "document".into();
    document["document"] = json!({ "id": "MID-F3", "mime_type": "application/pdf", "filename": "pesanan.pdf" });
    let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[&who], vec![image, voice, document], vec![]);
    let events = balas::ingress::meta::parse_events(&serde_json::to_vec(&payload).unwrap(), PHONE_NUMBER_ID).unwrap();
    let messages: Vec<_> = events
        .into_iter()
        .filter_map(|e| match e {
            balas::domain::InboundEvent::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    let photo = &messages[0].meta.attachments()[0];
    assert_eq!((photo.media_ref.as_str(), photo.sha256.as_deref()), ("MID-F1", Some("SfInY0g=")));
    assert_eq!(photo.media_url.as_deref(), Some("https://lookaside.fbsbx.com/x"));
    assert_eq!(messages[0].body.as_deref(), Some("bukti"), "the caption");
    assert!(messages[1].meta.voice, "a voice note");
    assert_eq!(messages[1].meta.mime_type.as_deref(), Some("audio/ogg; codecs=opus"));
    assert_eq!(messages[2].meta.filename.as_deref(), Some("pesanan.pdf"));
}
