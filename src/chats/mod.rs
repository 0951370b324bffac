//! Which chat a conversation lives in: the customer's direct chat, or one WhatsApp group.
//! A group chat and a direct chat are separate conversations, so a reply, a prompt's history
//! or an owner's answer never crosses from one to the other. The chat is fixed when the
//! conversation is created; it is found again by a keyed blind index of the group id.
use crate::crypto::{BlindIndex, CryptoError, DataKey};
use crate::domain::{MessageMeta, TenantId};
use crate::store::ConversationRecord;

pub mod review;

/// The blind index of the direct chat: no group.
pub const DIRECT: &[u8] = &[];

/// One chat of one customer, as ingest sees it.
#[derive(Clone, PartialEq, Eq)]
pub struct Chat {
    /// `DIRECT`, or the keyed index of the group id.
    pub index: Vec<u8>,
    group: Option<String>,
}

impl Chat {
    pub fn direct() -> Self {
        Self { index: DIRECT.to_vec(), group: None }
    }

    /// The chat a customer message was written in.
    pub fn of(index: &BlindIndex, tenant: TenantId, meta: &MessageMeta) -> Self {
        match meta.group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            Some(group) => Self { index: index.group(tenant, group), group: Some(group.to_string()) },
            None => Self::direct(),
        }
    }

    pub fn is_group(&self) -> bool {
        self.group.is_some()
    }

    /// The group id sealed under the contact's key, for the conversation row.
    pub fn seal(&self, key: &DataKey) -> Option<String> {
        key.encrypt_opt(self.group.as_deref())
    }
}

/// Group ids are identifying: only whether there is one.
impl std::fmt::Debug for Chat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_group() { "Chat(group)" } else { "Chat(direct)" })
    }
}

/// The group a conversation's messages go to (`None`: the customer's direct chat).
pub fn group_of(conversation: &ConversationRecord, key: &DataKey) -> Result<Option<String>, CryptoError> {
    key.decrypt_opt(conversation.chat_enc.as_deref())
}

/// Whether a conversation is a group chat, without opening anything.
pub fn is_group(conversation: &ConversationRecord) -> bool {
    conversation.chat_index.as_slice() != DIRECT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::generate_key;

    #[test]
    fn a_group_has_its_own_keyed_index_and_the_direct_chat_none() {
        let (keys, tenant) = (BlindIndex::from_secret(&generate_key().into()).unwrap(), TenantId::new());
        let other_key = BlindIndex::from_secret(&generate_key().into()).unwrap();
        let group = |g: &str| MessageMeta { group: Some(g.into()), ..MessageMeta::default() };
        let direct = Chat::of(&keys, tenant, &MessageMeta::default());
        let a = Chat::of(&keys, tenant, &group("120363025343299999@g.us"));
        let b = Chat::of(&keys, tenant, &group("120363025343288888@g.us"));
        assert_eq!(direct.index, DIRECT);
        assert!(!direct.is_group() && a.is_group());
        assert_ne!(a.index, b.index);
        assert_ne!(a.index, DIRECT);
        assert_eq!(a, Chat::of(&keys, tenant, &group(" 120363025343299999@g.us ")));
        assert_ne!(a.index, Chat::of(&keys, TenantId::new(), &group("120363025343299999@g.us")).index);
        assert_ne!(a.index, Chat::of(&other_key, tenant, &group("120363025343299999@g.us")).index);
        assert!(!format!("{a:?}").contains("120363"));
    }
}
