//! Where a received attachment's bytes come from, per provider: the link, the hosts it may be
//! on, and the credential and the only hosts that credential may go to.
//! - Meta: `GET /{media-id}` with the channel token gives a link valid for minutes, fetched
//!   with the same token (on Meta's own hosts only); a webhook may carry the link already.
//! - Twilio: the `MediaUrl` with HTTP Basic auth on the API host; it redirects to the CDN,
//!   which gets no credential.
//! - Fonnte: the `url` of the payload, fetched without credentials.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::ChannelSecrets;
use crate::domain::Attachment;
use crate::fetch_guard::{Credential, FetchError, Guard, Hosts};

/// Meta's media links live on its CDN hosts; the channel token may go there and to the Graph API.
const META_MEDIA_HOSTS: &[&str] = &["*.fbsbx.com", "*.fbcdn.net", "*.whatsapp.net"];
/// Twilio's media redirect goes to its CDN (`mms.twiliocdn.com`), which gets no credential.
const TWILIO_MEDIA_HOSTS: &[&str] = &["*.twiliocdn.com", "*.twilio.com"];
const FONNTE_MEDIA_HOSTS: &[&str] = &["*.fonnte.com"];

/// One download to make.
pub struct MediaSource {
    pub url: String,
    pub allowed: Hosts,
    pub credential: Option<Credential>,
    /// What the provider declared before the download (checked again on the response).
    pub mime_type: Option<String>,
    pub size: Option<u64>,
    /// Meta's SHA-256 of the file (base64 or hex), checked after the download.
    pub sha256: Option<String>,
}

/// Why no download could be arranged.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("refused: {0}")]
    Fetch(#[from] FetchError),
    /// The provider answered the lookup with this status.
    #[error("the provider answered {0}")]
    Status(StatusCode),
    #[error("the provider's answer is not a media description")]
    Malformed,
}

/// The provider base URLs the sources are built from, and the operator's extra media hosts.
pub struct MediaSources {
    pub meta_base: String,
    pub twilio_base: String,
    pub fonnte_base: String,
    pub extra_hosts: Hosts,
}

#[derive(Deserialize)]
struct MetaMedia {
    url: String,
    mime_type: Option<String>,
    sha256: Option<String>,
    /// Meta sends the size as a string or a number.
    file_size: Option<serde_json::Value>,
}

impl MediaSources {
    /// The download for `attachment`. For Meta, `fresh` asks the Graph API for a new link even
    /// when the webhook carried one (the old one expired).
    pub async fn source(
        &self,
        guard: &Guard,
        secrets: &ChannelSecrets,
        phone_number_id: &str,
        attachment: &Attachment,
        fresh: bool,
    ) -> Result<MediaSource, SourceError> {
        match secrets {
            ChannelSecrets::Meta(meta) => {
                let token = HeaderValue::from_str(&format!("Bearer {}", meta.access_token.expose_secret()))
                    .map_err(|_| SourceError::Malformed)?;
                let graph = Hosts::of_url(&self.meta_base);
                let meta_hosts = graph.clone().and(&Hosts::new(META_MEDIA_HOSTS));
                let credential = || Credential { header: token.clone(), hosts: meta_hosts.clone() };
                let allowed = meta_hosts.clone().and(&self.extra_hosts);
                if let (Some(url), false) = (&attachment.media_url, fresh) {
                    return Ok(MediaSource {
                        url: url.clone(),
                        allowed,
                        credential: Some(credential()),
                        mime_type: attachment.mime_type.clone(),
                        size: None,
                        sha256: attachment.sha256.clone(),
                    });
                }
                let lookup = format!(
                    "{}/{}?phone_number_id={}",
                    self.meta_base.trim_end_matches('/'),
                    urlencode(&attachment.media_ref),
                    urlencode(phone_number_id)
                );
                let response = guard.get(&lookup, &graph, Some(&credential())).await?;
                if !response.status().is_success() {
                    return Err(SourceError::Status(response.status()));
                }
                let described: MetaMedia = response.json().await.map_err(|_| SourceError::Malformed)?;
                let size = described.file_size.and_then(|v| match v {
                    serde_json::Value::String(s) => s.parse().ok(),
                    other => other.as_u64(),
                });
                Ok(MediaSource {
                    url: described.url,
                    allowed,
                    credential: Some(credential()),
                    mime_type: described.mime_type.or_else(|| attachment.mime_type.clone()),
                    size,
                    // The webhook's hash came signed; the lookup's is the fallback.
                    sha256: attachment.sha256.clone().or(described.sha256),
                })
            }
            ChannelSecrets::Twilio(twilio) => {
                let basic = STANDARD.encode(format!("{}:{}", twilio.account_sid, twilio.auth_token.expose_secret()));
                let header = HeaderValue::from_str(&format!("Basic {basic}")).map_err(|_| SourceError::Malformed)?;
                let api = Hosts::of_url(&self.twilio_base);
                Ok(MediaSource {
                    url: attachment.media_ref.clone(),
                    allowed: api.clone().and(&Hosts::new(TWILIO_MEDIA_HOSTS)).and(&self.extra_hosts),
                    credential: Some(Credential { header, hosts: api }),
                    mime_type: attachment.mime_type.clone(),
                    size: None,
                    sha256: None,
                })
            }
            ChannelSecrets::Fonnte(_) => Ok(MediaSource {
                url: attachment.media_ref.clone(),
                allowed: Hosts::of_url(&self.fonnte_base).and(&Hosts::new(FONNTE_MEDIA_HOSTS)).and(&self.extra_hosts),
                credential: None,
                mime_type: attachment.mime_type.clone(),
                size: None,
                sha256: None,
            }),
        }
    }

    /// Whether a provider issues fresh links on request (Meta's expire within minutes).
    pub fn renews_links(secrets: &ChannelSecrets) -> bool {
        matches!(secrets, ChannelSecrets::Meta(_))
    }
}

fn urlencode(part: &str) -> String {
    url::form_urlencoded::byte_serialize(part.as_bytes()).collect()
}
