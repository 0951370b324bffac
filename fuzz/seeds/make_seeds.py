#!/usr/bin/env python3
"""Writes the seed corpus (fuzz/seeds/<target>/) from the payloads in the protocol reference.
Re-run from fuzz/ after changing it: python3 seeds/make_seeds.py"""
import base64, hashlib, hmac, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))

def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def control(pos=0, bit=0):
    return struct.pack("<HB", pos, bit)

# --- Meta: the official examples and the BSUID addendum, plus the other documented types.
META = "106540352242922"
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
def envelope(value):
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550783881", "phone_number_id": META}, **value}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]},
                      separators=(",", ":"))
contact = {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}
def msg(kind, **extra):
    return {"from": "16505551234", "id": WAMID, "timestamp": "1749416383", "type": kind, **extra}
meta = {
    "text": envelope({"contacts": [contact], "messages": [msg("text", text={"body": "Does it come in another color?"})]}),
    "status_delivered": envelope({"statuses": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA",
        "status": "delivered", "timestamp": "1750263773", "recipient_id": "16505551234",
        "conversation": {"id": "6ceb9d929c9bdc4f90e967a32f8639b4", "origin": {"type": "service"}},
        "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"}}]}),
    "status_failed": envelope({"statuses": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA",
        "status": "failed", "timestamp": "1750263773", "recipient_user_id": "US.13491208655302741918",
        "errors": [{"code": 131049, "title": "t", "message": "m", "error_data": {"details": "d"}}]}]}),
    "bsuid_and_phone": envelope({"contacts": [{**contact, "user_id": "US.13491208655302741918"}],
        "messages": [msg("text", from_user_id="US.13491208655302741918", text={"body": "Does it come in another color?"})]}),
    "username_only": envelope({"contacts": [{"profile": {"name": "Sheena Nelson", "username": "realsheenanelson"},
        "user_id": "US.13491208655302741918"}],
        "messages": [{"from_user_id": "US.13491208655302741918", "id": WAMID, "timestamp": "1749416383",
                      "type": "text", "text": {"body": "Does it come in another color?"}}]}),
    "parent_bsuid": envelope({"contacts": [{"profile": {"name": "Sheena Nelson"}, "user_id": "US.13491208655302741918",
        "parent_user_id": "US.ENT.11815799212886844830"}],
        "messages": [{"from_user_id": "US.13491208655302741918", "from_parent_user_id": "US.ENT.11815799212886844830",
                      "id": WAMID, "timestamp": "1749416383", "type": "text", "text": {"body": "Does it come in another color?"}}]}),
    "system_user_changed": envelope({"messages": [{"from_user_id": "US.13491208655302741918", "id": WAMID,
        "timestamp": "1749416383", "type": "system", "system": {"type": "user_changed_user_id",
        "previous_user_id": "US.13491208655302741918", "user_id": "US.99991208655302741918"}}]}),
    "image": envelope({"contacts": [contact], "messages": [msg("image", image={"caption": "c", "mime_type": "image/jpeg",
        "sha256": "x", "id": "1234"})]}),
    "document": envelope({"contacts": [contact], "messages": [msg("document", document={"caption": "c",
        "filename": "f.pdf", "mime_type": "application/pdf", "id": "1234"})]}),
    "location": envelope({"contacts": [contact], "messages": [msg("location", location={"latitude": -6.2,
        "longitude": 106.8, "name": "n", "address": "a"})]}),
    "interactive": envelope({"contacts": [contact], "messages": [msg("interactive", context={"from": "15550783881",
        "id": WAMID}, interactive={"type": "button_reply", "button_reply": {"id": "b1", "title": "Yes"}})]}),
    "button": envelope({"contacts": [contact], "messages": [msg("button", button={"payload": "p", "text": "t"})]}),
    "reaction": envelope({"contacts": [contact], "messages": [msg("reaction", reaction={"message_id": WAMID, "emoji": "x"})]}),
    "other_number": envelope({"metadata": {"phone_number_id": "999"}, "messages": [msg("text", text={"body": "b"})]}),
}
for name, body in meta.items():
    write("meta_webhook", name, body)

# --- Meta signature: the reference vector (secret "secret", body "test") and signed payloads.
def meta_sig(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
write("meta_signature", "reference_vector", control() + b"secret\n" + meta_sig("secret", "test").encode() + b"\ntest")
write("meta_signature", "text_payload", control(40, 3) + b"app-secret\n" + meta_sig("app-secret", meta["text"]).encode()
      + b"\n" + meta["text"].encode())
write("meta_signature", "wrong_signature", control(7, 1) + b"app-secret\n" + meta_sig("other", meta["status_delivered"]).encode()
      + b"\n" + meta["status_delivered"].encode())
write("meta_signature", "malformed_header", control() + b"secret\nsha256=zz\ntest")

# --- Twilio: the sandbox form, a status callback, media, location, button; signed as sent.
TOKEN = "12345"
URL = "https://balas.example/webhooks/twilio/01900000-0000-7000-8000-000000000000"
def twilio_sig(url, pairs):
    data = url + "".join(k + v for k, v in sorted(pairs))
    return base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()
from urllib.parse import parse_qsl, urlencode
sandbox = ("SmsMessageSid=SM01cd3925943ee3504f8a5c42d88efdf6&NumMedia=0&ProfileName=Jhonata&SmsSid=SM01cd3925943ee3504f8a5c42d88efdf6"
           "&WaId=558282136275&SmsStatus=received&Body=Ol%C3%A1&To=whatsapp%3A%2B14155238886&NumSegments=1&ReferralNumMedia=0"
           "&MessageSid=SM01cd3925943ee3504f8a5c42d88efdf6&AccountSid=ACccec30b8f64bfa44a6dc60d2a447f5c5"
           "&From=whatsapp%3A%2B558282136275&ApiVersion=2010-04-01")
forms = {
    "sandbox_text": sandbox,
    "status_undelivered": urlencode([("MessageSid", "SM1"), ("MessageStatus", "undelivered"), ("ErrorCode", "63016")]),
    "media": urlencode([("MessageSid", "MM1"), ("From", "whatsapp:+558282136275"), ("NumMedia", "1"),
                        ("MediaContentType0", "audio/ogg"), ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1")]),
    "location": urlencode([("MessageSid", "SM2"), ("From", "whatsapp:+558282136275"), ("Latitude", "-6.2"),
                           ("Longitude", "106.8"), ("Label", "l"), ("Address", "a")]),
    "button": urlencode([("MessageSid", "SM3"), ("WaId", "558282136275"), ("ButtonText", "Yes"), ("ButtonPayload", "p")]),
    "repeated_params": "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234",
}
for name, body in forms.items():
    sig = twilio_sig(URL, parse_qsl(body, keep_blank_values=True))
    write("twilio_webhook", name, control(3, 2) + f"{TOKEN}\n{URL}\n{sig}\n{body}".encode())
write("twilio_webhook", "reference_vector", control() + b"12345\nhttps://mycompany.com/myapp.php?foo=1&bar=2\n"
      b"RSOYDt4T1cUTdK1PDd93/VVr8B8=\nCallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309&To=%2B18005551212&Caller=%2B14158675309")
write("twilio_webhook", "json_body_vector", control() + b"12345\nhttps://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
      b"0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620\na9nBmqA0ju/hNViExpshrM61xv4=\n"
      b'{"property": "value", "boolean": true}')

# --- Fonnte: the documented example and the shapes the parser distinguishes.
fonnte = {
    "documented_example": {"device": "6281234567890", "sender": "6289876543210", "message": "Halo, pesanan saya belum sampai",
        "text": "", "member": "", "name": "Budi", "location": "", "pollname": "", "choices": "", "timestamp": 1767225600,
        "inboxid": 123456, "url": "", "filename": "", "extension": ""},
    "no_inboxid": {"device": "6281234567890", "sender": "6289876543210", "message": "Halo", "timestamp": "1767225600"},
    "group": {"device": "6281234567890", "sender": "120363025343299999@g.us", "member": "6289876543210", "message": "Halo"},
    "attachment": {"device": "6281234567890", "sender": "6289876543210", "message": "", "url": "https://fonnte.example/f.jpg",
        "filename": "f.jpg", "extension": "jpg", "inboxid": "9"},
    "location": {"device": "6281234567890", "sender": "6289876543210", "location": "-6.2,106.8"},
    "button": {"device": "6281234567890", "sender": "6289876543210", "text": "Ya"},
    "status": {"device": "6281234567890", "id": "80367170", "stateid": "1", "status": "sent", "state": "read"},
    "secret_key": {"device": "6281234567890", "sender": "6289876543210", "message": "Halo", "secret": "fuzz-secret-key"},
    "wrong_device": {"device": "08111111111", "sender": "6289876543210", "message": "Halo"},
}
for name, body in fonnte.items():
    write("fonnte_webhook", name, json.dumps(body, separators=(",", ":"), ensure_ascii=False))
