//! Twilio (WhatsApp over Programmable Messaging): form-encoded messages and status
//! callbacks on one route, signed with `X-Twilio-Signature` exactly as Twilio's own
//! RequestValidator computes it.
use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::{group_commit, read_body};
use crate::app::AppState;
use crate::channels::ChannelSecrets;
use crate::domain::{
    CustomerIdentity, DeliveryStatus, InboundEvent, InboundMessage, MediaPart, MessageKind, MessageMeta, Phone,
    Provider, StatusUpdate,
};
use crate::error::ApiError;

/// An empty TwiML answer: we reply through the REST API, not inline.
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";
/// Form posts from Twilio are small; this bounds what an unsigned sender can make us read.
const MAX_FORM_BYTES: usize = 256 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/twilio/{channel_id}", post(receive))
}

async fn receive(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (channel, secrets) = match super::load_channel(&state, &channel_id, Provider::Twilio).await? {
        (channel, ChannelSecrets::Twilio(secrets)) => (channel, secrets),
        _ => return Err(super::unknown_channel()),
    };
    let raw = read_body(&headers, body, MAX_FORM_BYTES).await?;
    let params = form_params(&raw);
    // Twilio signs the URL it called: our public base URL plus the path and query it used.
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path());
    let url = format!("{}{}", state.config.public_url.trim_end_matches('/'), path);
    let signature = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok());
    let token = secrets.auth_token.expose_secret();
    if let Err(reason) = verify_request(token, &url, uri.query(), &raw, &params, signature) {
        state.refusal_log.rejected(&state.deps.metrics, Provider::Twilio, reason);
        return Err(ApiError::unauthorized(
            "invalid_signature",
            "the X-Twilio-Signature header does not match this request",
        ));
    }
    // Signed, so Twilio sent it: a 4xx would only make Twilio retry what is not ours (an SMS
    // to the same number, another sender or account on this URL), so it is answered and dropped.
    if let Err(foreign) = check_addressed(&params, &channel.address, &secrets.account_sid) {
        state.refusal_log.ignored(&state.deps.metrics, Provider::Twilio, foreign.code());
        return Ok(empty_twiml());
    }
    let event = parse(&params)?;
    let report = group_commit::ingest(&state.group_commit, &channel, vec![event]).await?;
    tracing::info!(channel = %channel.id, stored = report.stored, duplicates = report.duplicates, statuses = report.statuses, "twilio webhook accepted");
    Ok(empty_twiml())
}

fn empty_twiml() -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], EMPTY_TWIML).into_response()
}

/// Why a signed Twilio request is not an inbound WhatsApp message for this channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// `From` or `To` lacks `whatsapp:`: an SMS, whose caller ID can be spoofed.
    NotWhatsapp,
    /// `To` is not the channel's sender.
    OtherSender,
    /// `AccountSid` is not the channel's account.
    OtherAccount,
}

impl Foreign {
    pub fn code(self) -> &'static str {
        match self {
            Self::NotWhatsapp => "not_whatsapp",
            Self::OtherSender => "other_sender",
            Self::OtherAccount => "other_account",
        }
    }
}

/// An inbound message must come from and go to WhatsApp addresses, to the channel's sender
/// (`whatsapp:+…`), in the channel's account. Status callbacks pass: their `To` is the
/// customer, and they can only move this channel's own messages (`group_commit`). Pure, for `fuzz/`.
pub fn check_addressed(params: &[(String, String)], sender: &str, account_sid: &str) -> Result<(), Foreign> {
    if status_of(params).is_some() {
        return Ok(());
    }
    let whatsapp = |name: &str| param(params, name).and_then(|v| v.strip_prefix("whatsapp:"));
    let (Some(_), Some(to)) = (whatsapp("From"), whatsapp("To")) else { return Err(Foreign::NotWhatsapp) };
    let ours = sender.strip_prefix("whatsapp:").unwrap_or(sender);
    match (Phone::parse(to), Phone::parse(ours)) {
        (Ok(to), Ok(ours)) if to == ours => {}
        _ => return Err(Foreign::OtherSender),
    }
    if param(params, "AccountSid") != Some(account_sid) {
        return Err(Foreign::OtherAccount);
    }
    Ok(())
}

/// A form parameter's first non-empty value.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// The delivery status a status callback reports; `None` for an inbound message.
fn status_of(params: &[(String, String)]) -> Option<&str> {
    param(params, "MessageStatus")
        .or_else(|| param(params, "SmsStatus"))
        .filter(|s| !matches!(*s, "received" | "receiving"))
}

/// The form body's parameters in body order; invalid UTF-8 becomes U+FFFD (Twilio sends UTF-8).
pub fn form_params(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

/// The verdict on `X-Twilio-Signature` (`None`: absent or not text) for a request to `url`
/// whose own query is `query`; the error is the reason in `/metrics` and the log. Pure, so `fuzz/` can drive it.
pub fn verify_request(
    auth_token: &str,
    url: &str,
    query: Option<&str>,
    raw: &[u8],
    params: &[(String, String)],
    signature: Option<&str>,
) -> Result<(), &'static str> {
    match signature {
        None => Err("missing"),
        Some(sig)
            if query.is_some_and(|q| q.contains("bodySHA256=")) && is_valid_json_body(auth_token, url, raw, sig) =>
        {
            Ok(())
        }
        Some(sig) if is_valid(auth_token, url, params, sig) => Ok(()),
        Some(_) => Err("mismatch"),
    }
}

/// base64(HMAC-SHA1(auth token, URL + every parameter sorted byte-wise, name then value)).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()) else { return String::new() };
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Accepts the signature over the URL with the default port added or with the port
/// removed, as Twilio's RequestValidator does. Compared in constant time.
pub fn is_valid(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    [with_port(url), without_port(url)]
        .iter()
        .any(|candidate| bool::from(signature(auth_token, candidate, params).as_bytes().ct_eq(header.as_bytes())))
}

/// Twilio's JSON-body variant: the URL carries `bodySHA256=<hex of the raw body>` and the
/// signature covers the URL alone.
pub fn is_valid_json_body(auth_token: &str, url: &str, raw: &[u8], header: &str) -> bool {
    let declared = url::Url::parse(url)
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "bodySHA256").map(|(_, v)| v.into_owned()));
    let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw));
    declared.is_some_and(|d| bool::from(d.as_bytes().ct_eq(actual.as_bytes())))
        && is_valid(auth_token, url, &[], header)
}

/// Splits `scheme://authority/rest` into its three parts.
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((scheme, &rest[..end], &rest[end..]))
}

fn with_port(url: &str) -> String {
    match split_url(url) {
        Some((scheme, authority, rest)) if !authority.contains(':') => {
            let port = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
            format!("{scheme}://{authority}:{port}{rest}")
        }
        _ => url.to_string(),
    }
}

fn without_port(url: &str) -> String {
    match split_url(url) {
        Some((scheme, authority, rest)) => {
            let host = authority.split(':').next().unwrap_or(authority);
            format!("{scheme}://{host}{rest}")
        }
        None => url.to_string(),
    }
}

/// A status callback (`MessageStatus`) or an inbound message, provider-neutral.
pub fn parse(params: &[(String, String)]) -> Result<InboundEvent, ApiError> {
    let get = |name: &str| param(params, name);
    let sid = get("MessageSid")
        .or_else(|| get("SmsMessageSid"))
        .ok_or_else(|| ApiError::bad_request("malformed_payload", "the form has no MessageSid"))?;
    if let Some(status) = status_of(params) {
        let status = DeliveryStatus::parse(status)
            .ok_or_else(|| ApiError::bad_request("malformed_payload", "MessageStatus is not a Twilio status"))?;
        return Ok(InboundEvent::Status(StatusUpdate {
            provider_message_id: sid.to_string(),
            status,
            at: None,
            error_code: get("ErrorCode").map(str::to_string),
        }));
    }
    // Only a WhatsApp sender: an SMS to the same number carries a caller ID anyone can set.
    let from = get("From")
        .and_then(|f| f.strip_prefix("whatsapp:"))
        .ok_or_else(|| ApiError::bad_request("unidentified_sender", "From is not a whatsapp: address"))?;
    let phone = [Some(from), get("WaId")]
        .into_iter()
        .flatten()
        .find_map(|raw| Phone::parse(raw).ok())
        .ok_or_else(|| ApiError::bad_request("unidentified_sender", "From carries no valid phone number"))?;
    let from =
        CustomerIdentity { phone: Some(phone), name: get("ProfileName").map(str::to_string), ..Default::default() };
    let media_count: usize = get("NumMedia").and_then(|n| n.parse().ok()).unwrap_or(0);
    let (kind, body, meta) = if media_count > 0 {
        let mime = get("MediaContentType0").unwrap_or("application/octet-stream");
        // Twilio sends at most 10 attachments; a larger count is not believed.
        let more_media = (1..media_count.min(10))
            .filter_map(|i| {
                let media_ref = get(&format!("MediaUrl{i}"))?.to_string();
                Some(MediaPart { media_ref, mime_type: get(&format!("MediaContentType{i}")).map(str::to_string) })
            })
            .collect();
        let meta = MessageMeta {
            mime_type: Some(mime.to_string()),
            media_ref: get("MediaUrl0").map(str::to_string),
            more_media,
            ..MessageMeta::default()
        };
        (kind_of_mime(mime), get("Body").map(str::to_string), meta)
    } else if let Some(text) = get("ButtonText") {
        let meta = MessageMeta { button: get("ButtonPayload").map(str::to_string), ..MessageMeta::default() };
        (MessageKind::Button, Some(text.to_string()), meta)
    } else if let (Some(lat), Some(lon)) = (get("Latitude"), get("Longitude")) {
        let place = [get("Label"), get("Address")].into_iter().flatten().collect::<Vec<_>>().join(", ");
        (MessageKind::Location, Some(format!("{lat},{lon} {place}").trim().to_string()), MessageMeta::default())
    } else {
        (MessageKind::Text, get("Body").map(str::to_string), MessageMeta::default())
    };
    Ok(InboundEvent::Message(Box::new(InboundMessage {
        provider_message_id: sid.to_string(),
        from,
        kind,
        body,
        meta,
        sent_at: None,
        quoted: get("OriginalRepliedMessageSid").map(str::to_string),
    })))
}

pub fn kind_of_mime(mime: &str) -> MessageKind {
    match mime.split('/').next().unwrap_or_default() {
        "image" if mime.contains("webp") => MessageKind::Sticker,
        "image" => MessageKind::Image,
        "audio" => MessageKind::Audio,
        "video" => MessageKind::Video,
        _ => MessageKind::Document,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vectors of twilio-python's tests/unit/test_request_validator.py; auth token 12345.
    const TOKEN: &str = "12345";

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn call() -> Vec<(String, String)> {
        params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ])
    }

    #[test]
    fn the_reference_signature_is_reproduced() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(signature(TOKEN, url, &call()), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(is_valid(TOKEN, url, &call(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    }

    #[test]
    fn urls_with_and_without_the_default_port_both_validate() {
        let with = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        let without = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(signature(TOKEN, with, &call()), "kvajT1Ptam85bY51eRf/AJRuM3w=");
        assert!(is_valid(TOKEN, without, &call(), "kvajT1Ptam85bY51eRf/AJRuM3w="));
        assert!(is_valid(TOKEN, with, &call(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    }

    #[test]
    fn explicit_and_http_ports() {
        let custom = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert!(is_valid(TOKEN, custom, &call(), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="));
        let http = "http://mycompany.com/myapp.php?foo=1&bar=2";
        assert!(is_valid(TOKEN, http, &call(), "0ZXoZLH/DfblKGATFgpif+LLRf4="));
    }

    #[test]
    fn repeated_parameters_sort_by_value() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let repeated = params(&[("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]);
        assert_eq!(signature(TOKEN, url, &repeated), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }

    #[test]
    fn the_docs_example_and_a_wrong_token() {
        let url = "https://example.com/myapp.php?foo=1&bar=2";
        let p = params(&[
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("From", "+14158675310"),
            ("Caller", "+14158675310"),
            ("CallSid", "CA1234567890ABCDE"),
        ]);
        assert!(is_valid(TOKEN, url, &p, "L/OH5YylLD5NRKLltdqwSvS0BnU="));
        assert!(!is_valid("54321", url, &p, "L/OH5YylLD5NRKLltdqwSvS0BnU="));
        let mut tampered = p.clone();
        tampered[0].1 = "1235".into();
        assert!(!is_valid(TOKEN, url, &tampered, "L/OH5YylLD5NRKLltdqwSvS0BnU="));
    }

    #[test]
    fn the_json_body_variant_checks_the_body_hash() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        let body = br#"{"property": "value", "boolean": true}"#;
        assert!(is_valid_json_body(TOKEN, url, body, "a9nBmqA0ju/hNViExpshrM61xv4="));
        assert!(!is_valid_json_body(
            TOKEN,
            url,
            br#"{"property": "value", "boolean": false}"#,
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
    }

    #[test]
    fn the_request_verdict_names_missing_and_mismatch_and_takes_either_variant() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let p = call();
        let good = Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(verify_request(TOKEN, url, Some("foo=1&bar=2"), b"", &p, good), Ok(()));
        assert_eq!(verify_request(TOKEN, url, Some("foo=1&bar=2"), b"", &p, None), Err("missing"));
        assert_eq!(verify_request(TOKEN, url, Some("foo=1&bar=2"), b"", &p, Some("x")), Err("mismatch"));
        let json_url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        let body = br#"{"property": "value", "boolean": true}"#;
        let query = json_url.split_once('?').map(|(_, q)| q);
        let sig = Some("a9nBmqA0ju/hNViExpshrM61xv4=");
        assert_eq!(verify_request(TOKEN, json_url, query, body, &form_params(body), sig), Ok(()));
        assert_eq!(verify_request(TOKEN, json_url, None, body, &form_params(body), sig), Err("mismatch"));
    }

    #[test]
    fn the_sandbox_form_parses_into_a_text_message() {
        let body = "SmsMessageSid=SM01cd3925943ee3504f8a5c42d88efdf6&NumMedia=0&ProfileName=Jhonata&SmsSid=SM01cd3925943ee3504f8a5c42d88efdf6&WaId=558282136275&SmsStatus=received&Body=Ol%C3%A1&To=whatsapp%3A%2B14155238886&NumSegments=1&ReferralNumMedia=0&MessageSid=SM01cd3925943ee3504f8a5c42d88efdf6&AccountSid=ACccec30b8f64bfa44a6dc60d2a447f5c5&From=whatsapp%3A%2B558282136275&ApiVersion=2010-04-01";
        let InboundEvent::Message(m) = parse(&form_params(body.as_bytes())).unwrap() else { panic!("not a message") };
        assert_eq!(m.provider_message_id, "SM01cd3925943ee3504f8a5c42d88efdf6");
        assert_eq!(m.from.phone.unwrap().expose(), "+558282136275");
        assert_eq!(m.body.as_deref(), Some("Olá"));
        assert_eq!(m.kind, MessageKind::Text);
    }

    #[test]
    fn status_callbacks_and_media_parse() {
        let status = params(&[("MessageSid", "SM1"), ("MessageStatus", "undelivered"), ("ErrorCode", "63016")]);
        let InboundEvent::Status(s) = parse(&status).unwrap() else { panic!("not a status") };
        assert_eq!((s.status, s.error_code.as_deref()), (DeliveryStatus::Failed, Some("63016")));
        let media = params(&[
            ("MessageSid", "MM1"),
            ("From", "whatsapp:+6281234567890"),
            ("NumMedia", "2"),
            ("MediaContentType0", "audio/ogg"),
            ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"),
            ("MediaContentType1", "image/jpeg"),
            ("MediaUrl1", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2"),
        ]);
        let InboundEvent::Message(m) = parse(&media).unwrap() else { panic!("not a message") };
        assert_eq!(m.kind, MessageKind::Audio);
        let all = m.meta.attachments();
        assert_eq!(all.len(), 2, "every MediaUrlN is kept");
        assert!(all[0].media_ref.ends_with("ME1"));
        assert!(all[1].media_ref.ends_with("ME2") && all[1].mime_type.as_deref() == Some("image/jpeg"));
    }

    const SENDER: &str = "whatsapp:+14155238886";
    const ACCOUNT: &str = "ACccec30b8f64bfa44a6dc60d2a447f5c5";

    fn inbound(from: &str, to: &str, account: &str) -> Vec<(String, String)> {
        params(&[("MessageSid", "SM1"), ("SmsStatus", "received"), ("From", from), ("To", to), ("AccountSid", account)])
    }

    #[test]
    fn only_whatsapp_to_the_channels_sender_in_its_account_is_inbound() {
        let ok = inbound("whatsapp:+6281234567890", "whatsapp:+1 415 523 8886", ACCOUNT);
        assert_eq!(check_addressed(&ok, SENDER, ACCOUNT), Ok(()), "the same number, written otherwise");
        let cases = [
            (inbound("+6281234567890", "+14155238886", ACCOUNT), Foreign::NotWhatsapp, "an SMS"),
            (inbound("+6281234567890", SENDER, ACCOUNT), Foreign::NotWhatsapp, "From without whatsapp:"),
            (inbound("whatsapp:+6281234567890", "+14155238886", ACCOUNT), Foreign::NotWhatsapp, "To without it"),
            (params(&[("MessageSid", "SM1"), ("AccountSid", ACCOUNT)]), Foreign::NotWhatsapp, "no From, no To"),
            (inbound("whatsapp:+6281234567890", "whatsapp:+14155230000", ACCOUNT), Foreign::OtherSender, "other To"),
            (inbound("whatsapp:+6281234567890", "whatsapp:MG123", ACCOUNT), Foreign::OtherSender, "To no number"),
            (inbound("whatsapp:+6281234567890", SENDER, "ACother"), Foreign::OtherAccount, "other account"),
            (inbound("whatsapp:+6281234567890", SENDER, ""), Foreign::OtherAccount, "no account"),
        ];
        for (form, expected, case) in cases {
            assert_eq!(check_addressed(&form, SENDER, ACCOUNT), Err(expected), "{case}");
        }
        // A status callback's To is the customer; it keeps its own check in `group_commit`.
        let status = params(&[("MessageSid", "SM1"), ("MessageStatus", "read"), ("To", "whatsapp:+6281234567890")]);
        assert_eq!(check_addressed(&status, SENDER, "ACother"), Ok(()));
    }

    #[test]
    fn a_sender_without_whatsapp_is_not_a_message() {
        let sms = params(&[("MessageSid", "SM1"), ("From", "+6281234567890"), ("Body", "STOP")]);
        let error = parse(&sms).err().map(|e| (e.status.as_u16(), e.code));
        assert_eq!(error, Some((400, "unidentified_sender")));
    }
}
