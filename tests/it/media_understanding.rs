//! [7/10] §2–3 Understanding media, for a tenant that turned it on: a voice note transcribed
//! (the fake records the upload) and answered like typed text, masked before the LLM; a photo
//! sent to a vision-capable model only; a transfer receipt handed over as a payment with the
//! photo; and every failure (endpoint down, unsupported format, budget) left to the media policy.
use balas::app::AppState;
use balas::clock::Clock;
use balas::fakes::llm::{FakeLlm, LlmStep, TranscribeStep};
use balas::fakes::meta_webhook::{self, FakeCustomer};
use balas::llm::{LlmEndpoint, LlmSettings};
use balas::transcription::{RequestShape, TranscriptionSettings};
use balas::worker::Worker;
use serde_json::{Value, json};

use crate::helpers::{PHONE_NUMBER_ID, TestApp};
use crate::on_both_databases;

const OWNER: &str = "6281100000072";
const CUSTOMER: &str = "6281234560472";
/// An OGG/Opus voice note as WhatsApp sends it (the fakes do not decode audio).
const VOICE: &[u8] = b"OggS\x00\x02 opus voice note: jam berapa buka kak";
const PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0 a screenshot of a bank transfer";

fn rina() -> FakeCustomer {
    FakeCustomer { bsuid: None, phone: Some(CUSTOMER.into()), name: "Rina".into(), username: None }
}

/// A worker whose LLM chain is `llm` (taking images or not) and whose transcription endpoint is
/// `transcriber`, both fakes.
fn worker(app: &TestApp, llm: Option<(&FakeLlm, bool)>, transcriber: Option<&FakeLlm>) -> Worker {
    shaped_worker(app, llm, transcriber, RequestShape::Multipart)
}

/// `worker`, with the transcription request in `shape`.
fn shaped_worker(
    app: &TestApp,
    llm: Option<(&FakeLlm, bool)>,
    transcriber: Option<&FakeLlm>,
    shape: RequestShape,
) -> Worker {
    let mut config = (*app.state.config).clone();
    config.llm = llm.map(|(fake, vision)| {
        let endpoint =
            LlmEndpoint { base_url: fake.base_url.clone(), model: "vision-model".into(), api_key: "llm-key".into() };
        LlmSettings {
            vision,
            timeout: std::time::Duration::from_secs(2),
            deadline: std::time::Duration::from_secs(10),
            ..LlmSettings::new(vec![endpoint])
        }
    });
    config.transcription = transcriber.map(|fake| TranscriptionSettings {
        base_url: fake.base_url.clone(),
        model: "whisper-1".into(),
        api_key: "stt-key".into(),
        timeout: std::time::Duration::from_secs(2),
        usd_per_minute: 0.006,
        shape,
    });
    AppState::new(app.state.store.clone(), app.state.keys.clone(), config, app.clock.clone())
        .expect("state")
        .worker("understand")
}

/// The customer sends a file of `kind` (`audio` with `voice`, `image`) stored at the fake Meta.
async fn customer_sends(app: &TestApp, wamid: &str, kind: &str, mime: &str, bytes: &[u8], caption: Option<&str>) {
    let media_id = format!("MID-{wamid}");
    app.providers.media.put_meta(&media_id, mime, bytes);
    let mut media = json!({ "id": media_id, "mime_type": mime });
    if kind == "audio" {
        media["voice"] = true.into();
    }
    if let Some(caption) = caption {
        media["caption"] = caption.into();
    }
    let mut message = rina().text(wamid, "", app.clock.now().timestamp());
    message["type"] = kind.into();
    message[kind] = media;
    let payload = meta_webhook::envelope(PHONE_NUMBER_ID, &[&rina()], vec![message], vec![]);
    assert_eq!(app.send_webhook(&payload).await.status(), 200);
}

/// The owner turns understanding on through the API, with `policy` for when it fails.
async fn understanding_on(app: &TestApp, policy: &'static str) {
    app.add_owner(OWNER, None).await;
    let token = app.token(app.tenant.id, balas::api::auth::Role::Owner);
    let patch = json!({ "understand_media": true, "media_policy": policy });
    let (status, body) = app.call("PATCH", "/api/v1/settings", &token, Some(patch)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.settings_changed' AND detail LIKE '%understand_media%'").await, 1);
}

fn to_customer(app: &TestApp) -> Vec<String> {
    app.sent_to(CUSTOMER)
}

/// Every chat request's messages, as text, for what the LLM saw.
fn seen_by_llm(llm: &FakeLlm) -> Vec<Value> {
    llm.requests().into_iter().map(|(_, body)| body["messages"].clone()).collect()
}

fn has_image(messages: &Value) -> bool {
    messages.to_string().contains("\"image_url\"")
}

on_both_databases! {
    async fn a_voice_note_is_transcribed_stored_encrypted_and_answered_like_typed_text(app) {
        understanding_on(&app, "reply").await;
        let stt = FakeLlm::start().await.unwrap();
        stt.script_transcripts([TranscribeStep::Text("jam buka toko kapan ya kak?".into())]);
        customer_sends(&app, "wamid.V1", "audio", "audio/ogg; codecs=opus", VOICE, None).await;
        worker(&app, None, Some(&stt)).run_until_idle().await.unwrap();

        let got = stt.transcriptions();
        assert_eq!(got.len(), 1);
        let t = &got[0];
        assert_eq!((t.model.as_str(), t.language.as_deref(), t.file_name.as_deref()), ("whisper-1", Some("id"), Some("voice.ogg")));
        assert_eq!((t.content_type.as_deref(), t.bytes.as_slice(), t.auth.as_deref()), (Some("audio/ogg"), VOICE, Some("Bearer stt-key")));
        // Answered from the FAQ like the typed question, by the offline responder.
        let sent = to_customer(&app);
        assert!(sent.last().is_some_and(|t| t.contains("08.00–21.00")), "{sent:?}");
        // Stored as the voice note's text, encrypted; audited and costed without the words.
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE kind = 'audio' AND body_enc IS NOT NULL").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM messages WHERE body_enc LIKE '%jam buka%'").await, 0);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.transcribed' AND detail NOT LIKE '%jam%'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM llm_usage WHERE model = 'whisper-1' AND outcome = 'transcribed' AND cost_micro_usd > 0 AND prompt_tokens > 0").await, 1);
    }

    async fn on_openrouter_the_voice_note_goes_as_json_with_its_audio_in_base64(app) {
        understanding_on(&app, "reply").await;
        let stt = FakeLlm::start().await.unwrap();
        stt.script_transcripts([TranscribeStep::Text("alamat toko di mana kak?".into())]);
        customer_sends(&app, "wamid.V9", "audio", "audio/ogg", VOICE, None).await;
        shaped_worker(&app, None, Some(&stt), RequestShape::Json).run_until_idle().await.unwrap();
        let got = stt.transcriptions();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].shape, got[0].format.as_deref(), got[0].bytes.as_slice()), ("json", Some("ogg"), VOICE));
        assert_eq!((got[0].model.as_str(), got[0].language.as_deref()), ("whisper-1", Some("id")));
        assert!(to_customer(&app).last().is_some_and(|t| t.contains("Kenanga")), "answered from the FAQ");
    }

    async fn the_transcript_is_masked_before_the_llm_sees_it(app) {
        understanding_on(&app, "reply").await;
        let (llm, stt) = (FakeLlm::start().await.unwrap(), FakeLlm::start().await.unwrap());
        stt.script_transcripts([TranscribeStep::Text("kak tolong telpon saya di 0812 3456 7890 ya soal pesanan".into())]);
        llm.always(LlmStep::Reply("Baik kak, pemilik toko akan menghubungi 🙏".into()));
        customer_sends(&app, "wamid.V2", "audio", "audio/ogg", VOICE, None).await;
        worker(&app, Some((&llm, false)), Some(&stt)).run_until_idle().await.unwrap();
        let seen = seen_by_llm(&llm);
        assert!(!seen.is_empty(), "the transcript went to the LLM");
        let text = seen.iter().map(Value::to_string).collect::<String>();
        assert!(!text.contains("0812") && !text.contains("7890"), "{text}");
        assert!(text.contains("[PHONE_1]"), "{text}");
    }

    async fn a_photo_goes_to_a_vision_capable_model_and_not_to_one_without_vision(app) {
        understanding_on(&app, "reply").await;
        let blind = FakeLlm::start().await.unwrap();
        customer_sends(&app, "wamid.P1", "image", "image/jpeg", PHOTO, Some("warna apa ini kak?")).await;
        worker(&app, Some((&blind, false)), None).run_until_idle().await.unwrap();
        assert!(seen_by_llm(&blind).iter().all(|m| !has_image(m)), "no image to a model without vision");
        assert!(to_customer(&app).last().is_some_and(|t| t.contains("belum bisa membuka foto")), "the media policy answered");

        let seeing = FakeLlm::start().await.unwrap();
        seeing.always(LlmStep::Reply("Itu es kopi susu gula aren kak, Rp18.000 ☕".into()));
        customer_sends(&app, "wamid.P2", "image", "image/jpeg", PHOTO, Some("ini menu apa kak?")).await;
        worker(&app, Some((&seeing, true)), None).run_until_idle().await.unwrap();
        let seen = seen_by_llm(&seeing);
        assert_eq!(seen.len(), 1);
        let last = seen[0].as_array().and_then(|m| m.last()).cloned().unwrap_or_default();
        use base64::Engine;
        let url = format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(PHOTO));
        assert_eq!(last["content"][1], json!({ "type": "image_url", "image_url": { "url": url } }));
        assert_eq!(last["content"][0]["text"], "ini menu apa kak?");
        assert!(to_customer(&app).last().is_some_and(|t| t.contains("Rp18.000")));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.sent_to_model'").await, 1);
    }

    async fn a_photo_the_model_cannot_answer_is_handed_over_by_the_media_policy(app) {
        understanding_on(&app, "escalate").await;
        let llm = FakeLlm::start().await.unwrap();
        llm.always(LlmStep::ServerError);
        customer_sends(&app, "wamid.P9", "image", "image/jpeg", PHOTO, Some("ini gimana kak")).await;
        worker(&app, Some((&llm, true)), None).run_until_idle().await.unwrap();
        assert!(seen_by_llm(&llm).iter().any(has_image), "the photo was sent");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations WHERE reason = 'unreadable_media'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.not_understood' AND detail LIKE '%model_unavailable%'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.sent_to_model'").await, 1);
    }

    async fn a_transfer_receipt_is_handed_over_as_a_payment_with_the_photo_never_confirmed(app) {
        understanding_on(&app, "reply").await;
        let llm = FakeLlm::start().await.unwrap();
        // A model that first claims the money is in: the check refuses it, the retry labels it.
        llm.script([LlmStep::Reply("Terima kasih kak, pembayaran sudah kami terima 🙏".into()), LlmStep::Escalate("payment_proof".into())]);
        // The owner wrote today: their window is open for the photo.
        let owner = FakeCustomer { phone: Some(OWNER.into()), name: "Bu Sari".into(), ..rina() };
        assert_eq!(app.send_webhook(&app.text(&owner, "wamid.O1", "daftar")).await.status(), 200);
        customer_sends(&app, "wamid.P3", "image", "image/jpeg", PHOTO, None).await;
        worker(&app, Some((&llm, true)), None).run_until_idle().await.unwrap();

        assert_eq!(app.inspect.text("SELECT reason FROM escalations").await.as_deref(), Some("model_payment_proof"));
        let to_owner: Vec<_> = app.providers.received().into_iter().filter(|r| r.recipient() == OWNER).collect();
        assert!(to_owner.iter().any(|r| r.text().contains("bukti transfer")), "the notice names it");
        assert!(to_owner.iter().any(|r| r.body["type"] == "image"), "the photo goes to the owner");
        assert!(to_customer(&app).iter().all(|t| !t.contains("sudah kami terima")), "{:?}", to_customer(&app));
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM llm_usage WHERE outcome = 'malformed:confirms_payment'").await, 1);
    }

    async fn a_failed_transcription_falls_back_to_the_media_policy(app) {
        understanding_on(&app, "escalate").await;
        let stt = FakeLlm::start().await.unwrap();
        stt.script_transcripts([TranscribeStep::ServerError]);
        customer_sends(&app, "wamid.V3", "audio", "audio/ogg", VOICE, None).await;
        worker(&app, None, Some(&stt)).run_until_idle().await.unwrap();

        assert_eq!(stt.transcriptions().len(), 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM escalations WHERE reason = 'unreadable_media'").await, 1, "handed over");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.not_understood' AND detail LIKE '%transcription_server_error%'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM llm_usage WHERE outcome = 'unavailable:server_error'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM jobs WHERE state = 'dead' OR (kind = 'respond' AND state != 'done')").await, 0, "nothing dropped or left waiting");
    }

    async fn a_transcription_past_its_timeout_falls_back_and_is_counted(app) {
        understanding_on(&app, "reply").await;
        let stt = FakeLlm::start().await.unwrap();
        stt.script_transcripts([TranscribeStep::Hang]);
        customer_sends(&app, "wamid.V8", "audio", "audio/ogg", VOICE, None).await;
        let started = std::time::Instant::now();
        worker(&app, None, Some(&stt)).run_until_idle().await.unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(8), "the 2 s timeout held");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.not_understood' AND detail LIKE '%transcription_timeout%'").await, 1);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM llm_usage WHERE model = 'whisper-1' AND outcome = 'unavailable:timeout'").await, 1);
        assert!(to_customer(&app).last().is_some_and(|t| t.contains("belum bisa membuka")));
    }

    async fn a_format_the_endpoint_refuses_falls_back_to_the_media_policy(app) {
        // AMR is not among the formats OpenAI's endpoint takes: it answers 400, as the fake does.
        understanding_on(&app, "reply").await;
        let stt = FakeLlm::start().await.unwrap();
        customer_sends(&app, "wamid.V4", "audio", "audio/amr", VOICE, None).await;
        worker(&app, None, Some(&stt)).run_until_idle().await.unwrap();
        let got = stt.transcriptions();
        assert_eq!(got.iter().map(|t| t.file_name.clone()).collect::<Vec<_>>(), [Some("voice.amr".to_string())]);
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.not_understood' AND detail LIKE '%transcription_refused_format%'").await, 1);
        assert!(to_customer(&app).last().is_some_and(|t| t.contains("belum bisa membuka")), "asked to type instead");
    }

    async fn past_the_token_budget_nothing_is_sent_to_be_understood(app) {
        understanding_on(&app, "reply").await;
        app.inspect.execute("UPDATE tenants SET monthly_token_budget = 1").await;
        let stt = FakeLlm::start().await.unwrap();
        customer_sends(&app, "wamid.V5", "audio", "audio/ogg", VOICE, None).await;
        let understand = worker(&app, None, Some(&stt));
        understand.run_until_idle().await.unwrap();
        assert_eq!(stt.transcriptions().len(), 1, "the first voice note spends the budget");
        customer_sends(&app, "wamid.V6", "audio", "audio/ogg", VOICE, None).await;
        understand.run_until_idle().await.unwrap();
        assert_eq!(stt.transcriptions().len(), 1, "the second is not sent");
        assert_eq!(app.inspect.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'media.not_understood' AND detail LIKE '%over_budget%'").await, 1);
        assert!(to_customer(&app).last().is_some_and(|t| t.contains("belum bisa membuka")), "the media policy answered");
    }

    async fn without_the_tenants_consent_nothing_leaves(app) {
        app.add_owner(OWNER, None).await;
        let (llm, stt) = (FakeLlm::start().await.unwrap(), FakeLlm::start().await.unwrap());
        customer_sends(&app, "wamid.V7", "audio", "audio/ogg", VOICE, None).await;
        customer_sends(&app, "wamid.P7", "image", "image/jpeg", PHOTO, None).await;
        worker(&app, Some((&llm, true)), Some(&stt)).run_until_idle().await.unwrap();
        assert!(stt.transcriptions().is_empty());
        assert!(seen_by_llm(&llm).iter().all(|m| !has_image(m)));
    }

    async fn the_subprocessor_list_names_the_endpoints_once_the_tenant_turns_understanding_on(app) {
        let served = app.serve_with(|c| {
            let endpoint = LlmEndpoint { base_url: "https://api.openai.com/v1".into(), model: "gpt-4o-mini".into(), api_key: "sk-x".into() };
            c.llm = Some(LlmSettings { vision: true, ..LlmSettings::new(vec![endpoint]) });
            c.transcription = Some(TranscriptionSettings {
                base_url: "https://api.groq.com/openai/v1".into(), model: "whisper-large-v3".into(), api_key: "gsk-secret".into(),
                timeout: std::time::Duration::from_secs(30), usd_per_minute: 0.0007, shape: RequestShape::Multipart,
            });
        }).await;
        let token = app.token(app.tenant.id, balas::api::auth::Role::Analytics);
        let list = || async {
            let r = app.http.get(format!("{}/api/v1/subprocessors", served.base)).bearer_auth(&token).send().await.unwrap();
            r.json::<Value>().await.unwrap()["subprocessors"].clone()
        };
        let before = list().await;
        assert!(before.as_array().unwrap().iter().all(|s| s["kind"] != "transcription"), "off: nothing goes there");
        assert!(!before.to_string().contains("photos"));
        understanding_on(&app, "reply").await;
        let after = list().await;
        let stt: Vec<&Value> = after.as_array().unwrap().iter().filter(|s| s["kind"] == "transcription").collect();
        assert_eq!((stt.len(), stt[0]["host"].as_str(), stt[0]["model"].as_str()), (1, Some("api.groq.com"), Some("whisper-large-v3")));
        let llm = after.as_array().unwrap().iter().find(|s| s["kind"] == "llm").unwrap();
        assert!(llm["data"].to_string().contains("photos"), "{llm}");
        assert!(!after.to_string().contains("gsk-secret"));
    }
}
