//! Customer identifiers: E.164 phone numbers and Meta business-scoped user ids (BSUIDs).
//! `Display` and `Debug` of both are masked, so they cannot leak into logs by accident.
use std::fmt;

/// A phone number in E.164 form (`+` and 8 to 15 digits).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("not a phone number: expected 8 to 15 digits, optionally with a leading +")]
    InvalidPhone,
    #[error("not a business-scoped user id: expected CC. followed by up to 128 letters or digits")]
    InvalidBsuid,
}

impl Phone {
    /// Accepts `+6281234567890`, `6281234567890` (as Meta's `wa_id`), `0812-3456-7890`
    /// (Indonesian national form, assumed +62) and spaces, dashes, dots or parentheses.
    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        let trimmed = raw.trim();
        let plus = trimmed.starts_with('+');
        let mut digits = String::with_capacity(trimmed.len());
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(IdentityError::InvalidPhone),
            }
        }
        if !plus && digits.starts_with('0') && !digits.starts_with("00") {
            digits.replace_range(0..1, "62");
        } else if !plus && digits.starts_with("00") {
            digits.replace_range(0..2, "");
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(IdentityError::InvalidPhone);
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The full number, for encryption, blind indexing and the provider API only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Digits without `+`, the form Meta's `to` field and Fonnte's `target` take.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// `+62******7890`: country prefix and last four digits, for logs and owner notices.
    pub fn masked(&self) -> String {
        let digits = self.digits();
        let keep_head = digits.len().min(2);
        let keep_tail = 4.min(digits.len().saturating_sub(keep_head));
        let hidden = digits.len() - keep_head - keep_tail;
        format!("+{}{}{}", &digits[..keep_head], "*".repeat(hidden), &digits[digits.len() - keep_tail..])
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

/// A Meta business-scoped user id such as `US.13491208655302741918` or a parent `US.ENT.…`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bsuid(String);

impl Bsuid {
    pub fn parse(raw: &str) -> Result<Self, IdentityError> {
        let raw = raw.trim();
        let (country, rest) = raw.split_once('.').ok_or(IdentityError::InvalidBsuid)?;
        let rest = rest.strip_prefix("ENT.").unwrap_or(rest);
        let country_ok = country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase());
        let rest_ok = (1..=128).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_alphanumeric());
        if country_ok && rest_ok { Ok(Self(raw.to_string())) } else { Err(IdentityError::InvalidBsuid) }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Bsuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.***", &self.0[..2])
    }
}

impl fmt::Debug for Bsuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bsuid({self})")
    }
}

/// Who wrote to us, as far as the provider told us. Meta may send a BSUID with no phone at all.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CustomerIdentity {
    pub bsuid: Option<Bsuid>,
    pub phone: Option<Phone>,
    pub username: Option<String>,
    pub name: Option<String>,
}

/// Names and usernames are personal data too: `Debug` shows only whether they are present.
impl fmt::Debug for CustomerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerIdentity")
            .field("bsuid", &self.bsuid)
            .field("phone", &self.phone)
            .field("has_username", &self.username.is_some())
            .field("has_name", &self.name.is_some())
            .finish()
    }
}

impl CustomerIdentity {
    pub fn is_addressable(&self) -> bool {
        self.bsuid.is_some() || self.phone.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_forms_normalise_to_e164() {
        for raw in ["+6281234567890", "6281234567890", "0812-3456-7890", "+62 812 3456 7890", "006281234567890"] {
            assert_eq!(Phone::parse(raw).unwrap().expose(), "+6281234567890", "{raw}");
        }
    }

    #[test]
    fn phone_rejects_garbage() {
        for raw in ["", "+", "12345", "+62abc4567890", "+1234567890123456", "++628123456789"] {
            assert!(Phone::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn phone_display_is_masked() {
        let p = Phone::parse("+6281234567890").unwrap();
        assert_eq!(p.to_string(), "+62*******7890");
        assert!(!format!("{p:?}").contains("81234567890"));
    }

    #[test]
    fn bsuid_accepts_meta_forms() {
        assert!(Bsuid::parse("US.13491208655302741918").is_ok());
        assert!(Bsuid::parse("BR.1A2B3C").is_ok());
        assert!(Bsuid::parse("US.ENT.11815799212886844830").is_ok());
        for bad in ["", "US", "us.123", "USA.123", "US.", "US.12-3", "16505551234"] {
            assert!(Bsuid::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bsuid_display_is_masked() {
        let b = Bsuid::parse("US.13491208655302741918").unwrap();
        assert!(!b.to_string().contains("1349"));
    }
}
