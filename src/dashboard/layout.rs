//! The page shell: head, navigation (with the lock and logout forms), language toggle, and a
//! flash message; every value is escaped by maud.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::i18n::Lang;
use super::session::{CSRF_FIELD, Session};
use crate::auth::Role;

/// A one-line message above the page: good news or a refusal.
pub enum Flash {
    Ok(&'static str),
    Error(String),
}

/// A full page for a signed-in reader, with status `status`.
pub fn page(session: &Session, status: StatusCode, title: &str, flash: Option<Flash>, body: Markup) -> Response {
    let t = |k| session.lang.t(k);
    let content = session.caller.role != Role::Analytics;
    let nav = html! {
        nav {
            strong { (session.business) }
            @if content {
                a href="/dashboard" { (t("nav.inbox")) }
                a href="/dashboard/conversations" { (t("nav.conversations")) }
                a href="/dashboard/faq" { (t("nav.faq")) }
                a href="/dashboard/gaps" { (t("nav.gaps")) }
            }
            @if session.is_owner() { a href="/dashboard/settings" { (t("nav.settings")) } }
            @if session.is_owner() { a href="/dashboard/subprocessors" { (t("nav.subprocessors")) } }
            @if session.caller.role != Role::Staff { a href="/dashboard/analytics" { (t("nav.analytics")) } }
            @if session.user.is_some() { a href="/dashboard/pin" { (t("nav.pin")) } }
            (toggle(session.lang))
            @if session.user.is_some() {
                form.inline method="post" action="/dashboard/lock" {
                    input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                    button type="submit" { (t("nav.lock")) }
                }
            }
            form.inline method="post" action="/dashboard/logout" {
                input type="hidden" name=(CSRF_FIELD) value=(session.csrf);
                button type="submit" { (t("nav.logout")) }
            }
        }
    };
    shell(session.lang, status, title, Some(nav), flash, body)
}

/// A page for a reader who is not signed in (login, unlock).
pub fn bare(lang: Lang, status: StatusCode, title: &str, flash: Option<Flash>, body: Markup) -> Response {
    shell(lang, status, title, Some(html! { nav { strong { "balas" } (toggle(lang)) } }), flash, body)
}

fn toggle(lang: Lang) -> Markup {
    html! {
        span.lang {
            @if lang == Lang::Id { a href="?lang=en" lang="en" { "English" } } @else { a href="?lang=id" lang="id" { "Bahasa Indonesia" } }
        }
    }
}

fn shell(
    lang: Lang,
    status: StatusCode,
    title: &str,
    nav: Option<Markup>,
    flash: Option<Flash>,
    body: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · balas" }
                link rel="stylesheet" href="/dashboard/assets/style.css";
            }
            body {
                @if let Some(nav) = nav { header { (nav) } }
                main {
                    h1 { (title) }
                    @match flash {
                        Some(Flash::Ok(text)) => p.flash.ok role="status" { (lang.t(text)) },
                        Some(Flash::Error(text)) => p.flash.error role="alert" { (text) },
                        None => {},
                    }
                    (body)
                }
            }
        }
    };
    (status, markup).into_response()
}

/// How long ago, shortly: "5 mnt", "3 jam", "2 hari".
pub fn age(lang: Lang, since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    match minutes {
        m if m < 60 => format!("{m} {}", lang.t("age.minutes")),
        m if m < 60 * 24 => format!("{} {}", m / 60, lang.t("age.hours")),
        m => format!("{} {}", m / (60 * 24), lang.t("age.days")),
    }
}

/// A time in the business's zone.
pub fn local(session: &Session, at: DateTime<Utc>) -> String {
    at.with_timezone(&session.timezone).format("%d-%m-%Y %H:%M").to_string()
}

/// `?ok=<key>` or `?err=<code>` after a redirect: only known keys are shown, never raw text.
pub fn flash_from_query(lang: Lang, query: Option<&str>) -> Option<Flash> {
    let query = query?;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "ok" => {
                let known =
                    ["reply", "senddraft", "file", "takeover", "handback", "resolve", "saved", "deleted", "pin"];
                if let Some(k) = known.iter().find(|k| **k == value) {
                    return Some(Flash::Ok(ok_key(k)));
                }
            }
            "err" => return Some(Flash::Error(lang.t(err_key(&value)).to_string())),
            _ => {}
        }
    }
    None
}

fn ok_key(k: &str) -> &'static str {
    match k {
        "reply" | "senddraft" | "file" => "ok.reply",
        "takeover" => "ok.takeover",
        "handback" => "ok.handback",
        "resolve" => "ok.resolve",
        "deleted" => "ok.deleted",
        "pin" => "ok.pin",
        _ => "ok.saved",
    }
}

/// The message for an action's error code (the codes of `ActionError`).
pub fn err_key(code: &str) -> &'static str {
    match code {
        "ticket_closed" => "err.ticket_closed",
        "conversation_closed" => "err.conversation_closed",
        "invalid_transition" => "err.invalid_transition",
        "empty_text" => "err.empty_text",
        "caption_too_long" => "err.caption_too_long",
        "caption_not_shown" => "err.caption_not_shown",
        "file_too_large" => "err.file_too_large",
        "file_type_refused" => "err.file_type_refused",
        "file_empty" | "upload_broken" => "err.file_empty",
        "no_draft" => "err.no_draft",
        "conflict" => "err.conflict",
        _ => "err.generic",
    }
}
