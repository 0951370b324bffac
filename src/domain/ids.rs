//! Identifier newtypes, so a tenant id can never be passed where a message id is expected.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id, so rows sort by creation.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// One business using balas.
    TenantId
);
id_type!(
    /// One connected WhatsApp number at one provider.
    ChannelId
);
id_type!(
    /// One customer of one tenant.
    ContactId
);
id_type!(
    /// One thread between a customer and a tenant on one channel.
    ConversationId
);
id_type!(
    /// One inbound or outbound WhatsApp message.
    MessageId
);
id_type!(
    /// One entry in the durable job queue.
    JobId
);
id_type!(
    /// One FAQ / knowledge-base entry.
    KbEntryId
);
id_type!(
    /// One owner (or staff) number of a tenant.
    OwnerId
);
id_type!(
    /// One ticket: a conversation handed to the owner.
    EscalationId
);
id_type!(
    /// One message to or from an owner.
    OwnerMessageId
);
id_type!(
    /// One user of the owner API and dashboard.
    UserId
);
id_type!(
    /// One data-subject request (access, correction, erasure, STOP) and its deadlines.
    DsarId
);
