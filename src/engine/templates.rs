//! Customer-facing texts live in `prompts/` as Markdown, never inline in code.

/// Which canned text to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Sent once when a conversation is handed to the owner.
    Holding,
    Greeting,
    Thanks,
    /// The polite answer to media the bot cannot read (tenant media policy `reply`).
    MediaUnreadable,
    /// Sent once when the owner-response target passes; `{when}` is filled by the caller.
    Overdue,
    /// Sent when the customer's ticket is resolved (tenant setting `announce_resolved`).
    Resolved,
    /// The answer to STOP/BERHENTI.
    Stopped,
    /// The answer to MULAI/START.
    Restarted,
    /// The receipt for HAPUS DATA SAYA; `{request}` and `{deadline}` are filled by the caller.
    ErasureReceived,
}

/// Renders a template in the tenant's language (`id` by default, `en` available).
pub fn render(template: Template, language: &str, business_name: &str) -> String {
    let english = language == "en";
    let text = match (template, english) {
        (Template::Holding, false) => include_str!("../../prompts/holding.id.md"),
        (Template::Holding, true) => include_str!("../../prompts/holding.en.md"),
        (Template::Greeting, false) => include_str!("../../prompts/greeting.id.md"),
        (Template::Greeting, true) => include_str!("../../prompts/greeting.en.md"),
        (Template::Thanks, false) => include_str!("../../prompts/thanks.id.md"),
        (Template::Thanks, true) => include_str!("../../prompts/thanks.en.md"),
        (Template::MediaUnreadable, false) => include_str!("../../prompts/media.id.md"),
        (Template::MediaUnreadable, true) => include_str!("../../prompts/media.en.md"),
        (Template::Overdue, false) => include_str!("../../prompts/overdue.id.md"),
        (Template::Overdue, true) => include_str!("../../prompts/overdue.en.md"),
        (Template::Resolved, false) => include_str!("../../prompts/resolved.id.md"),
        (Template::Resolved, true) => include_str!("../../prompts/resolved.en.md"),
        (Template::Stopped, false) => include_str!("../../prompts/stopped.id.md"),
        (Template::Stopped, true) => include_str!("../../prompts/stopped.en.md"),
        (Template::Restarted, false) => include_str!("../../prompts/restarted.id.md"),
        (Template::Restarted, true) => include_str!("../../prompts/restarted.en.md"),
        (Template::ErasureReceived, false) => include_str!("../../prompts/erasure.id.md"),
        (Template::ErasureReceived, true) => include_str!("../../prompts/erasure.en.md"),
    };
    text.trim().replace("{business_name}", business_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indonesian_is_the_default_and_names_the_business() {
        let text = render(Template::Holding, "id", "Warung Bu Sri");
        assert!(text.contains("Warung Bu Sri") && text.contains("pemilik"));
        assert!(render(Template::Holding, "en", "X").contains("owner"));
        assert!(!render(Template::Greeting, "id", "X").contains('{'));
    }
}
