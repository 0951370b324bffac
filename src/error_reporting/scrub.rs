//! What leaves for Sentry: every string of an event or breadcrumb, scrubbed. Removes the
//! configured secret values, quoted values (where `Debug`, serde and most errors put data),
//! bearer tokens and `key=value` secrets, URL credentials and query strings, long random
//! tokens (Fernet and API keys, JWTs, wamids, hex secrets), `sk-` keys, phone numbers in any
//! form, e-mail addresses and other long numbers; values under sensitive keys (`body`,
//! `phone`, `authorization`, …) and request data are dropped whole.
use std::cmp::Reverse;

use sentry::protocol::{Breadcrumb, Event, Request};
use serde_json::Value;

use crate::engine::mask::Masker;

const REDACTED: &str = "[REDACTED]";
/// Shorter configured secrets are not matched verbatim: they would redact ordinary words.
const MIN_SECRET_LEN: usize = 8;

/// Keys whose values are dropped whole, matched against each `_`/`-`/`.`-separated word.
const SENSITIVE_WORDS: &[&str] = &[
    "auth",
    "authorization",
    "bearer",
    "body",
    "bsuid",
    "content",
    "cookie",
    "cookies",
    "credential",
    "credentials",
    "dsn",
    "email",
    "from",
    "headers",
    "key",
    "name",
    "passwd",
    "password",
    "phone",
    "pwd",
    "query",
    "recipient",
    "secret",
    "signature",
    "text",
    "to",
    "token",
    "user",
    "username",
    "wa",
];

/// Protocol fields whose format a rewrite would break (ids, times) or that hold only code
/// locations; they carry no customer data.
const STRUCTURAL: &[&str] = &[
    "event_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "timestamp",
    "start_timestamp",
    "sdk",
    "debug_meta",
    "stacktrace",
    "raw_stacktrace",
    "level",
    "platform",
];

/// Words after which the next word is a credential (`Bearer abc`, `token=abc`, `key: abc`).
const CREDENTIAL_PREFIXES: &[&str] = &["bearer ", "basic "];
const CREDENTIAL_KEYS: &[&str] =
    &["token", "secret", "password", "passwd", "signature", "key", "apikey", "api_key", "auth", "authorization"];

pub struct Scrubber {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl Scrubber {
    /// `secrets`: configured values to remove verbatim (keys, tokens, database URLs, the DSN).
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .flat_map(|s| secret_parts(s.as_ref()))
            .filter(|s| s.chars().count() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by_key(|s| Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// The event with request data and user dropped and every other string scrubbed.
    pub fn event(&self, mut event: Event<'static>) -> Option<Event<'static>> {
        event.user = None;
        event.request =
            event.request.take().map(|r| Request { url: r.url.map(bare_url), method: r.method, ..Default::default() });
        let (id, level) = (event.event_id, event.level);
        let rewritten = serde_json::to_value(&event).ok().and_then(|mut v| {
            self.value(&mut v);
            serde_json::from_value::<Event<'static>>(v).ok()
        });
        // An event we cannot rewrite is replaced, never sent as it was.
        Some(rewritten.unwrap_or_else(|| Event {
            event_id: id,
            level,
            message: Some("event withheld: the scrubber could not rewrite it".into()),
            ..Default::default()
        }))
    }

    /// The breadcrumb scrubbed like an event; dropped if it cannot be rewritten.
    pub fn breadcrumb(&self, breadcrumb: Breadcrumb) -> Option<Breadcrumb> {
        let mut value = serde_json::to_value(&breadcrumb).ok()?;
        self.value(&mut value);
        serde_json::from_value(value).ok()
    }

    fn value(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if STRUCTURAL.contains(&key.as_str()) {
                        continue;
                    }
                    if is_sensitive_key(key) {
                        *child = if child.is_string() { Value::String(REDACTED.into()) } else { Value::Null };
                    } else {
                        self.value(child);
                    }
                }
            }
            _ => {}
        }
    }

    /// One string with every secret and piece of personal data replaced.
    pub fn text(&self, input: &str) -> String {
        let mut text = input.to_string();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "[SECRET]");
            }
        }
        let text = redact_credentials(&redact_urls(&redact_quoted(&text)));
        outside_uuids(&text, |part| long_digits(&Masker::new().mask(&long_tokens(part))))
    }
}

/// A configured value, its comma-separated parts (key lists) and a URL's password.
fn secret_parts(raw: &str) -> Vec<String> {
    let mut parts = vec![raw.to_string()];
    parts.extend(raw.split(',').map(str::trim).filter(|p| *p != raw).map(str::to_string));
    if let Some(password) = url::Url::parse(raw).ok().and_then(|u| u.password().map(str::to_string)) {
        // Url::password is percent-encoded; the decoded form may appear in errors too.
        parts.extend(url::form_urlencoded::parse(password.as_bytes()).map(|(k, _)| k.into_owned()).take(1));
        parts.push(password);
    }
    if let Some(user) = url::Url::parse(raw).ok().map(|u| u.username().to_string()).filter(|u| u.len() >= 16) {
        parts.push(user); // a Sentry DSN's public key sits where a username would
    }
    parts
}

fn is_sensitive_key(key: &str) -> bool {
    key.to_ascii_lowercase().split(['_', '-', '.', ' ']).any(|word| SENSITIVE_WORDS.contains(&word))
}

/// A URL without credentials, query or fragment (and nothing if it does not parse).
fn bare_url(mut url: url::Url) -> url::Url {
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url
}

/// `"anything"` → `"[REDACTED]"`, honouring backslash escapes; an unterminated quote
/// redacts the rest.
fn redact_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        let mut inner = 0;
        let mut closed = false;
        while let Some(q) = chars.next() {
            match q {
                '\\' => {
                    chars.next();
                    inner += 1;
                }
                '"' => {
                    closed = true;
                    break;
                }
                _ => inner += 1,
            }
        }
        if inner > 0 {
            out.push_str(REDACTED);
        }
        if closed {
            out.push('"');
        }
    }
    out
}

fn ends_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']' | '}' | ',' | ';' | '&')
}

/// Credentials in URLs (`scheme://user:pass@host`) and query strings (`?a=b`, also in bare
/// paths) are removed.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(['@', '?']) {
        let (before, after) = rest.split_at(pos);
        if let Some(host) = after.strip_prefix('@') {
            // userinfo: the run back to "://" with no separator in between
            match before.rfind("://") {
                Some(scheme) if !before[scheme + 3..].contains(|c: char| ends_value(c) || c == '/') => {
                    out.push_str(&before[..scheme + 3]);
                    out.push_str(REDACTED);
                }
                _ => out.push_str(before),
            }
            out.push('@');
            rest = host;
            continue;
        }
        out.push_str(before);
        let query_end = after.find(|c: char| c.is_whitespace() || "\"'<>)]}".contains(c)).unwrap_or(after.len());
        let is_query = after[1..query_end].contains('=');
        if is_query {
            out.push('?');
            out.push_str(REDACTED);
            rest = &after[query_end..];
        } else {
            out.push('?');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// `Bearer x`, `Basic x`, `token=x`, `secret: x`: the value goes.
fn redact_credentials(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut mark = |start: usize| {
        let ends = |c: char| c.is_whitespace() || "\"',;&".contains(c);
        let end = text[start..].find(ends).map_or(text.len(), |e| start + e);
        if end > start {
            cuts.push((start, end));
        }
    };
    for prefix in CREDENTIAL_PREFIXES {
        for (at, _) in lower.match_indices(prefix) {
            let start = at + prefix.len();
            mark(start + text[start..].len() - text[start..].trim_start().len());
        }
    }
    for key in CREDENTIAL_KEYS {
        for (at, _) in lower.match_indices(key) {
            let word_start = at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric();
            // a suffix such as `-256` or `_v2` may follow the key word
            let after =
                text[at + key.len()..].trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            let value = after.strip_prefix('=').or_else(|| after.strip_prefix(':'));
            if let (true, Some(value)) = (word_start, value) {
                let trimmed = value.trim_start();
                mark(text.len() - trimmed.len());
            }
        }
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (start, end) in cuts {
        if start < done {
            continue;
        }
        // `Authorization: Bearer x` is one value, not two
        let adjacent = done > 0 && text[done..start].trim().is_empty();
        if !adjacent {
            out.push_str(&text[done..start]);
            out.push_str(REDACTED);
        }
        done = end;
    }
    out.push_str(&text[done..]);
    out
}

/// Applies `f` to the text between UUIDs, which stay (they are our row ids, not data).
fn outside_uuids(text: &str, f: impl Fn(&str) -> String) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut start, mut i) = (0, 0);
    while i + 36 <= bytes.len() {
        let bounded = (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && bytes.get(i + 36).is_none_or(|b| !b.is_ascii_alphanumeric());
        if bounded && is_uuid(&bytes[i..i + 36]) {
            out.push_str(&f(&text[start..i]));
            out.push_str(&text[i..i + 36]);
            i += 36;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&f(&text[start..]));
    out
}

fn is_uuid(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=')
}

/// Runs that look random (keys, tokens, signatures, wamids) become `[REDACTED]`.
fn long_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let has = |p: fn(&char) -> bool| run.chars().any(|c| p(&c));
        let (digit, alpha) = (has(char::is_ascii_digit), has(char::is_ascii_alphabetic));
        let mixed_case = has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase);
        let random = (run.len() >= 32 && digit && alpha) || (run.len() >= 20 && digit && mixed_case);
        let api_key = run.starts_with("sk-") && run.len() >= 20;
        out.push_str(if random || api_key { REDACTED } else { run.as_str() });
        run.clear();
    };
    for c in text.chars() {
        if is_token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Any run of 8 or more digits left (phone numbers inside words, BSUIDs, account numbers).
fn long_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        out.push_str(if digits.len() >= 8 { "[NUMBER]" } else { digits.as_str() });
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}
