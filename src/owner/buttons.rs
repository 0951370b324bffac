//! Reply buttons on owner notices. A button's id (Meta's interactive `reply.id`, or a template's
//! quick-reply payload) names the action and the ticket, signed for one tenant and one owner, so
//! a tap cannot be forged for another ticket, tenant or owner. Twilio's quick-reply ids are fixed
//! when the content is created, so a Twilio tap names the action only and acts on the ticket of
//! the notice it answers (its context), like a quote-reply.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::tickets::Action;
use crate::channels::ReplyButton;
use crate::channels::templates::{self, TemplatePurpose};
use crate::crypto::BlindIndex;
use crate::domain::{EscalationId, OwnerId, TenantId};

/// How an owner's tap is stored as their message's text, so the command parser knows it from
/// typed text (a button's title is never relayed to a customer).
pub const TAP: &str = "tap:";

/// The version tag of a signed button id.
const SIGNED: &str = "b1";

/// What a button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    Take,
    Draft,
    Done,
    /// The digest's "see the report": any message from the owner releases the held report.
    Report,
    /// The customer follow-up's "see the answer".
    See,
    /// "Jadikan FAQ" after an answer: save it as an FAQ entry (`#12 faq`).
    Faq,
    /// "Kirim ke semua" after a saved FAQ: answer the others waiting on it (`#12 semua`).
    All,
}

impl ButtonAction {
    pub fn parse(id: &str) -> Option<Self> {
        Some(match id {
            "take" => Self::Take,
            "draft" => Self::Draft,
            "done" => Self::Done,
            "report" => Self::Report,
            "see" => Self::See,
            "faq" => Self::Faq,
            "all" => Self::All,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Take => "take",
            Self::Draft => "draft",
            Self::Done => "done",
            Self::Report => "report",
            Self::See => "see",
            Self::Faq => "faq",
            Self::All => "all",
        }
    }

    /// The `#N` command this button stands for, if it acts on a ticket.
    pub fn ticket_action(self) -> Option<Action> {
        match self {
            Self::Take => Some(Action::TakeOver),
            Self::Draft => Some(Action::SendDraft),
            Self::Done => Some(Action::Resolve),
            Self::Report | Self::See | Self::Faq | Self::All => None,
        }
    }
}

/// Who may tap: the tenant and the owner the notice was sent to.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub index: &'a BlindIndex,
    pub tenant: TenantId,
    pub owner: OwnerId,
}

impl Signer<'_> {
    /// `b1.<action>.<ticket>.<signature>`: 16 bytes of HMAC, far under Meta's 256 characters.
    pub fn sign(&self, action: ButtonAction, ticket: EscalationId) -> String {
        let ticket = ticket.0.simple().to_string();
        format!("{SIGNED}.{}.{ticket}.{}", action.as_str(), self.signature(action, &ticket))
    }

    fn signature(&self, action: ButtonAction, ticket: &str) -> String {
        let mac = self.index.button(self.tenant, &format!("{}:{}:{ticket}", self.owner.0.simple(), action.as_str()));
        URL_SAFE_NO_PAD.encode(&mac[..16])
    }

    /// What a tapped button's id or payload means for this owner.
    pub fn read(&self, payload: &str) -> Tap {
        let parts: Vec<&str> = payload.split('.').collect();
        match parts.as_slice() {
            [SIGNED, action, ticket, signature] => {
                let (Some(action), Ok(id)) = (ButtonAction::parse(action), uuid::Uuid::try_parse(ticket)) else {
                    return Tap::Forged;
                };
                let expected = self.signature(action, ticket);
                if expected.as_bytes().ct_eq(signature.as_bytes()).into() {
                    Tap::Ticket { action, ticket: EscalationId(id) }
                } else {
                    Tap::Forged
                }
            }
            [plain] => ButtonAction::parse(plain).map_or(Tap::Unknown, Tap::Quoted),
            _ => Tap::Unknown,
        }
    }

    /// The buttons of a ticket notice in `language`, titled as its template's quick replies.
    pub fn buttons(&self, purpose: TemplatePurpose, ticket: EscalationId, language: &str) -> Vec<ReplyButton> {
        let template = templates::template(purpose);
        let titles = template.translation(language).buttons;
        template
            .actions
            .iter()
            .zip(titles)
            .filter_map(|(id, title)| {
                let action = ButtonAction::parse(id)?;
                Some(ReplyButton { id: self.sign(action, ticket), title: (*title).to_string() })
            })
            .collect()
    }
}

/// A tap, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tap {
    /// A signed button: this action on this ticket.
    Ticket { action: ButtonAction, ticket: EscalationId },
    /// An unsigned action id (Twilio): it acts on the ticket of the notice it answers.
    Quoted(ButtonAction),
    /// A signed id whose signature does not hold for this tenant and owner.
    Forged,
    /// A payload balas never sent (a button's default payload is its title).
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(seed: &str) -> BlindIndex {
        BlindIndex::from_secret(&secrecy::SecretString::from(
            base64::engine::general_purpose::URL_SAFE.encode(seed.repeat(32).as_bytes()),
        ))
        .unwrap()
    }

    #[test]
    fn a_signed_button_holds_only_for_its_tenant_owner_and_ticket() {
        let key = index("k");
        let (tenant, owner, ticket) = (TenantId::new(), OwnerId::new(), EscalationId::new());
        let signer = Signer { index: &key, tenant, owner };
        let id = signer.sign(ButtonAction::Take, ticket);
        assert!(id.len() <= 256, "{id}");
        assert_eq!(signer.read(&id), Tap::Ticket { action: ButtonAction::Take, ticket });

        let other_tenant = Signer { tenant: TenantId::new(), ..signer };
        let other_owner = Signer { owner: OwnerId::new(), ..signer };
        let other_key = index("x");
        assert_eq!(other_tenant.read(&id), Tap::Forged);
        assert_eq!(other_owner.read(&id), Tap::Forged);
        assert_eq!(Signer { index: &other_key, ..signer }.read(&id), Tap::Forged);
        // The action and the ticket are signed too.
        assert_eq!(signer.read(&id.replacen(".take.", ".done.", 1)), Tap::Forged);
        let elsewhere = signer.sign(ButtonAction::Take, EscalationId::new());
        let spliced = format!("{}{}", &id[..id.rfind('.').unwrap()], &elsewhere[elsewhere.rfind('.').unwrap()..]);
        assert_eq!(signer.read(&spliced), Tap::Forged);
    }

    #[test]
    fn plain_ids_and_titles() {
        let key = index("k");
        let signer = Signer { index: &key, tenant: TenantId::new(), owner: OwnerId::new() };
        assert_eq!(signer.read("take"), Tap::Quoted(ButtonAction::Take));
        assert_eq!(signer.read("Ambil alih"), Tap::Unknown);
        assert_eq!(signer.read("b1.take.nope.sig"), Tap::Forged);
        let buttons = signer.buttons(TemplatePurpose::OwnerEscalationDraft, EscalationId::new(), "id");
        let titles: Vec<&str> = buttons.iter().map(|b| b.title.as_str()).collect();
        assert_eq!(titles, ["Ambil alih", "Kirim saran", "Selesai"]);
        assert!(buttons.iter().all(|b| b.title.chars().count() <= 20));
    }
}
