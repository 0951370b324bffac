//! Short-lived signed links to a stored file, for providers that fetch what they send (Twilio,
//! Fonnte): `/media/{tenant}.{file}.{expiry}.{signature}`. The signature is keyed HMAC over the
//! tenant, file and expiry, so a link names one file of one tenant until it expires; nothing in
//! it identifies a person.
use chrono::{DateTime, Duration, Utc};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::crypto::BlindIndex;
use crate::domain::TenantId;

/// Providers fetch a file within seconds of the send; the link outlives that comfortably.
pub const LINK_LIFETIME: Duration = Duration::minutes(15);

/// The path of a link to `media`, valid until `now + LINK_LIFETIME`.
pub fn path(index: &BlindIndex, tenant: TenantId, media: Uuid, now: DateTime<Utc>) -> String {
    let expires = (now + LINK_LIFETIME).timestamp();
    let signature = hex::encode(index.media_link(tenant, &format!("{media}.{expires}")));
    format!("/media/{}.{media}.{expires}.{signature}", tenant.0)
}

/// The tenant and file a token names, when its signature holds and it has not expired.
pub fn verify(index: &BlindIndex, token: &str, now: DateTime<Utc>) -> Option<(TenantId, Uuid)> {
    let mut parts = token.split('.');
    let (tenant, media, expires, signature) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let tenant = TenantId(Uuid::parse_str(tenant).ok()?);
    let media = Uuid::parse_str(media).ok()?;
    let expires: i64 = expires.parse().ok()?;
    let expected = index.media_link(tenant, &format!("{media}.{expires}"));
    let given = hex::decode(signature).ok()?;
    let valid: bool = expected.ct_eq(&given).into();
    (valid && now.timestamp() <= expires).then_some((tenant, media))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::generate_key;

    #[test]
    fn a_link_opens_its_file_until_it_expires_and_not_when_altered() {
        let index = BlindIndex::from_secret(&generate_key().into()).unwrap();
        let (tenant, media, now) = (TenantId(Uuid::new_v4()), Uuid::new_v4(), Utc::now());
        let token = path(&index, tenant, media, now).trim_start_matches("/media/").to_string();
        assert_eq!(verify(&index, &token, now), Some((tenant, media)));
        assert_eq!(verify(&index, &token, now + LINK_LIFETIME + Duration::seconds(1)), None, "expired");
        let other = TenantId(Uuid::new_v4());
        let moved = token.replacen(&tenant.0.to_string(), &other.0.to_string(), 1);
        assert_eq!(verify(&index, &moved, now), None, "another tenant");
        let later = token.replacen(
            &(now + LINK_LIFETIME).timestamp().to_string(),
            &(now + Duration::days(9)).timestamp().to_string(),
            1,
        );
        assert_eq!(verify(&index, &later, now), None, "a longer life");
        let other_key = BlindIndex::from_secret(&generate_key().into()).unwrap();
        assert_eq!(verify(&other_key, &token, now), None, "another key");
    }
}
