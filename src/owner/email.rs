//! Optional e-mail to owners (`BALAS_SMTP_URL`): a second route for notices, and the route
//! that still works when the owner's own 24-hour WhatsApp window has closed.
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::channels::SendError;

/// Where and as whom e-mail is sent.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `smtps://user:pass@host`, `smtp://host:25?tls=required`, … (lettre's URL format).
    pub url: SecretString,
    pub from: String,
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(settings: &SmtpSettings) -> anyhow::Result<Self> {
        crate::crypto::install_crypto_provider();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.url.expose_secret())
            .map_err(|_| anyhow::anyhow!("BALAS_SMTP_URL is not a valid SMTP URL"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = settings.from.parse().map_err(|_| anyhow::anyhow!("BALAS_SMTP_FROM is not a valid address"))?;
        Ok(Self { transport, from })
    }

    /// Sends a plain-text mail; returns the Message-ID. Errors carry a class, never content.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<String, SendError> {
        let to: Mailbox = to.parse().map_err(|_| SendError::Rejected("bad_address".into()))?;
        let id = format!("<{}@balas>", uuid::Uuid::now_v7());
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|_| SendError::Rejected("unbuildable".into()))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(id),
            Err(e) if e.is_permanent() => Err(SendError::Rejected("smtp_permanent".into())),
            Err(_) => Err(SendError::Retryable("smtp".into())),
        }
    }
}
