//! A conversation's messages as the dashboard shows them: who wrote, when, the text, and the
//! attachments inline (photos, voice notes, videos; other files as a download link).
use maud::{Markup, html};

use super::i18n::Lang;
use super::layout::local;
use super::session::Session;
use crate::domain::{Author, Direction};
use crate::owner::desk::MessageView;

/// The messages, oldest first, in a `ul.messages`.
pub fn message_list(session: &Session, messages: &[MessageView]) -> Markup {
    let lang = session.lang;
    let t = |k| lang.t(k);
    html! {
        ul.messages {
            @for m in messages {
                li class=(if m.direction == Direction::Out { "out" } else { "in" }) {
                    span.meta { (author(lang, m.author)) " · " (local(session, m.created_at)) }
                    br;
                    @match &m.text { Some(text) => span.text { (text) }, None => em { (t("ticket.no_text")) } }
                    @for media in &m.media {
                        @let src = format!("/dashboard/media/{}", media.id);
                        br;
                        @if media.mime_type.starts_with("image/") {
                            img.media src=(src) alt=(t("ticket.photo"));
                        } @else if media.mime_type.starts_with("audio/") {
                            audio.media controls src=(src) {}
                        } @else if media.mime_type.starts_with("video/") {
                            video.media controls src=(src) {}
                        } @else {
                            a.media href=(src) { (t("ticket.document")) " (" (media.mime_type) ")" }
                        }
                    }
                }
            }
        }
    }
}

pub fn author(lang: Lang, author: Author) -> &'static str {
    match author {
        Author::Customer => lang.t("author.customer"),
        Author::Bot => lang.t("author.bot"),
        Author::Owner => lang.t("author.owner"),
        Author::System => lang.t("author.system"),
    }
}
