//! Sending to customers through their provider, and the provider secrets a channel holds.
use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, DataKey};
use crate::domain::{Bsuid, Phone};

pub mod meta;

/// A channel's provider credentials, stored as JSON encrypted with the tenant's data key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum ChannelSecrets {
    Meta(meta::MetaSecrets),
}

impl ChannelSecrets {
    pub fn seal(&self, key: &DataKey) -> Result<String, CryptoError> {
        let json = serde_json::to_string(self).map_err(|_| CryptoError::Undecryptable)?;
        Ok(key.encrypt(&json))
    }

    pub fn open(sealed: &str, key: &DataKey) -> Result<Self, CryptoError> {
        serde_json::from_str(&key.decrypt(sealed)?).map_err(|_| CryptoError::Undecryptable)
    }
}

/// Where a reply goes: a phone number when we know one, otherwise the BSUID.
#[derive(Debug, Clone)]
pub enum Recipient {
    Phone(Phone),
    Bsuid(Bsuid),
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: network trouble, 5xx, throttling.
    #[error("temporary send failure ({0})")]
    Retryable(String),
    /// The provider refused the message for good; retrying would not help.
    #[error("provider rejected the message (code {0})")]
    Rejected(String),
    /// The 24-hour customer-service window is closed; only a template could be sent now.
    #[error("the 24-hour customer service window is closed")]
    WindowClosed,
}

impl SendError {
    /// A short class for the job's `last_error` and the audit: no provider text, no content.
    pub fn class(&self) -> String {
        match self {
            Self::Retryable(c) => format!("retryable:{c}"),
            Self::Rejected(code) => format!("rejected:{code}"),
            Self::WindowClosed => "window_closed".to_string(),
        }
    }
}

/// Splits a reply into parts of at most `max_chars` characters, breaking at a paragraph,
/// line, sentence or word boundary when one exists in the second half of the part.
pub fn split_body(text: &str, max_chars: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max_chars {
        let limit = rest
            .char_indices()
            .nth(max_chars)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let window = &rest[..limit];
        let floor = window
            .char_indices()
            .nth(max_chars / 2)
            .map(|(i, _)| i)
            .unwrap_or(0);
        let cut = ["\n\n", "\n", ". ", " "]
            .iter()
            .find_map(|sep| {
                window
                    .rfind(sep)
                    .filter(|&i| i >= floor)
                    .map(|i| i + sep.len())
            })
            .unwrap_or(limit);
        parts.push(rest[..cut].trim_end().to_string());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_string());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_body("Halo kak", 4096), vec!["Halo kak"]);
    }

    #[test]
    fn long_text_splits_under_the_limit_at_word_boundaries() {
        let text = "kata ".repeat(2000);
        let parts = split_body(&text, 4096);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= 4096));
        assert!(
            parts
                .iter()
                .all(|p| !p.starts_with(' ') && p.ends_with("kata"))
        );
        assert_eq!(parts.join(" "), text.trim());
    }

    #[test]
    fn text_without_spaces_is_cut_hard_on_char_boundaries() {
        let text = "é".repeat(5000);
        let parts = split_body(&text, 4096);
        assert_eq!(
            parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            vec![4096, 904]
        );
    }

    #[test]
    fn paragraph_breaks_are_preferred() {
        let text = format!("{}\n\n{}", "a ".repeat(30), "b ".repeat(30));
        let parts = split_body(&text, 100);
        assert_eq!(parts.len(), 2);
        assert!(parts[1].starts_with('b'));
    }
}
