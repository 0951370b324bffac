//! `balas channel add`: connect a WhatsApp number at Meta, Twilio or Fonnte.
use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Args;

use crate::channels::fonnte::FonnteSecrets;
use crate::channels::meta::MetaSecrets;
use crate::channels::twilio::TwilioSecrets;
use crate::channels::{ChannelSecrets, printed_webhook_url};
use crate::config::Keys;
use crate::crypto;
use crate::domain::{Phone, Provider};
use crate::store::{Store, TenantRecord};
use crate::tenants;

#[derive(Args)]
pub struct ChannelAddArgs {
    /// Tenant id or slug.
    #[arg(long)]
    pub tenant: String,
    #[arg(long, value_enum)]
    pub provider: Provider,
    /// Meta: the phone number id from the WhatsApp Manager (not the phone number).
    #[arg(long)]
    pub phone_number_id: Option<String>,
    /// Meta: the app secret that signs webhooks.
    #[arg(long, env = "META_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    /// Meta: a system-user access token for the Graph API.
    #[arg(long, env = "META_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,
    /// Meta: the verify token for the webhook handshake (generated when omitted).
    #[arg(long, env = "META_VERIFY_TOKEN", hide_env_values = true)]
    pub verify_token: Option<String>,
    /// Twilio: the account SID (AC…).
    #[arg(long)]
    pub account_sid: Option<String>,
    /// Twilio: the auth token, which also signs webhooks.
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Twilio: the sender, as whatsapp:+<E.164>.
    #[arg(long)]
    pub from: Option<String>,
    /// Fonnte: the device (WhatsApp) number, e.g. 6281234567890.
    #[arg(long)]
    pub device: Option<String>,
    /// Fonnte: the device token.
    #[arg(long, env = "FONNTE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Fonnte: the optional webhook secret key set in Fonnte's dashboard.
    #[arg(long, env = "FONNTE_WEBHOOK_KEY", hide_env_values = true)]
    pub webhook_key: Option<String>,
}

fn required(value: Option<String>, flag: &str, provider: Provider) -> anyhow::Result<String> {
    value.filter(|v| !v.trim().is_empty()).with_context(|| format!("--provider {} needs {flag}", provider.as_str()))
}

/// Builds the provider's address and secrets from the flags; prints what the operator needs.
pub async fn add(
    store: &dyn Store,
    keys: &Keys,
    tenant: &TenantRecord,
    public_url: &str,
    args: ChannelAddArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let provider = args.provider;
    let mut shown_once = None;
    let (address, secrets) = match provider {
        Provider::Meta => {
            let verify_token = args.verify_token.clone().unwrap_or_else(crypto::random_token);
            if args.verify_token.is_none() {
                shown_once = Some(("verify token", verify_token.clone()));
            }
            let secrets = MetaSecrets {
                app_secret: required(args.app_secret, "--app-secret (or META_APP_SECRET)", provider)?.into(),
                access_token: required(args.access_token, "--access-token (or META_ACCESS_TOKEN)", provider)?.into(),
                verify_token: verify_token.into(),
            };
            (required(args.phone_number_id, "--phone-number-id", provider)?, ChannelSecrets::Meta(secrets))
        }
        Provider::Twilio => {
            let from = required(args.from, "--from whatsapp:+<number>", provider)?;
            let number = Phone::parse(from.strip_prefix("whatsapp:").unwrap_or(&from))
                .context("--from is not a phone number")?;
            let account_sid = required(args.account_sid, "--account-sid", provider)?;
            if !account_sid.starts_with("AC") {
                bail!("--account-sid must start with AC");
            }
            let auth_token = required(args.auth_token, "--auth-token (or TWILIO_AUTH_TOKEN)", provider)?.into();
            (format!("whatsapp:{}", number.expose()), ChannelSecrets::Twilio(TwilioSecrets { account_sid, auth_token }))
        }
        Provider::Fonnte => {
            let device = Phone::parse(&required(args.device, "--device", provider)?)
                .context("--device is not a phone number")?;
            let secrets = FonnteSecrets {
                token: required(args.token, "--token (or FONNTE_TOKEN)", provider)?.into(),
                webhook_secret: crypto::random_token().into(),
                webhook_key: args.webhook_key.map(Into::into),
            };
            (device.digits().to_string(), ChannelSecrets::Fonnte(secrets))
        }
    };
    let channel = tenants::add_channel(store, keys, tenant.id, provider, &address, &secrets, now).await?;
    println!("channel id:   {}", channel.id);
    println!("webhook URL:  {}", printed_webhook_url(public_url, &channel, &secrets));
    if let Some((what, value)) = shown_once {
        println!("{what}: {value}   (enter it in the Meta App Dashboard; it is not shown again)");
    }
    if provider == Provider::Fonnte {
        println!("(the URL contains the channel's secret: give it to Fonnte only)");
    }
    Ok(())
}
