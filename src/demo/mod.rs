//! `balas demo`: a scripted WhatsApp conversation through the real pipeline (signed Meta
//! webhooks over HTTP → durable store → worker → FAQ responder → Graph API), with a local
//! fake Graph API, a throw-away SQLite database and throw-away keys.
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::{AppConfig, AppState};
use crate::audit;
use crate::channels::ChannelSecrets;
use crate::channels::meta::MetaSecrets;
use crate::clock::{Clock, SystemClock};
use crate::config::Keys;
use crate::crypto::{self, BlindIndex, Vault};
use crate::domain::{Bsuid, ConversationState, Phone, Provider};
use crate::fakes::meta_webhook::{self, FakeCustomer};
use crate::fakes::providers::FakeProviders;
use crate::kb;
use crate::store::{self, ChannelRecord, IdentityIndex, Store, TenantRecord};
use crate::tenants;

/// The demo channel's Meta phone number id (Meta's own example value).
pub const PHONE_NUMBER_ID: &str = "106540352242922";
/// The demo channel's Graph API token, as the fake Graph API sees it.
pub const ACCESS_TOKEN: &str = "demo-access-token";

/// The demo business: a tenant with its FAQ and one Meta channel with fresh secrets.
pub struct DemoBusiness {
    pub tenant: TenantRecord,
    pub channel: ChannelRecord,
    pub app_secret: String,
    pub verify_token: String,
    pub faq_entries: usize,
}

fn demo_settings() -> tenants::TenantSettings {
    tenants::TenantSettings {
        description: "Warung kopi rumahan: es kopi susu gula aren, kopi tubruk, dan camilan.".into(),
        address: "Jl. Kenanga No. 5, Condongcatur, Sleman, Yogyakarta".into(),
        opening_hours: "Setiap hari 08.00–21.00 WIB, Minggu mulai 10.00".into(),
        tone: "ramah dan santai, panggil pelanggan \"kak\"".into(),
        ..tenants::TenantSettings::default()
    }
}

/// Creates the demo business; the test suite builds on the same one.
pub async fn seed(store: &dyn Store, keys: &Keys, now: DateTime<Utc>) -> anyhow::Result<DemoBusiness> {
    store.use_audit_keys(keys.audit.clone()); // seeding writes audit rows, signed like the app's
    let tenant = tenants::create(store, keys, "Warung Kopi Bu Sri", None, &demo_settings(), now).await?;
    let faq = kb::parse_json(include_str!("faq.json"))?;
    kb::import(store, tenant.id, &faq, false, now).await?;
    let (app_secret, verify_token) = (crypto::generate_key(), crypto::random_token());
    let secrets = MetaSecrets {
        app_secret: app_secret.clone().into(),
        access_token: ACCESS_TOKEN.into(),
        verify_token: verify_token.clone().into(),
    };
    let channel = tenants::add_channel(
        store,
        keys,
        tenant.id,
        Provider::Meta,
        PHONE_NUMBER_ID,
        &ChannelSecrets::Meta(secrets),
        now,
    )
    .await?;
    Ok(DemoBusiness { tenant, channel, app_secret, verify_token, faq_entries: faq.len() })
}

/// Who writes a line of the demo: the customer, or the owner from their own WhatsApp.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Speaker {
    Customer,
    Owner,
}

const SCRIPT: &[(Speaker, &str)] = &[
    (Speaker::Customer, "Halo kak"),
    (Speaker::Customer, "Jam buka tokonya kapan ya?"),
    (Speaker::Customer, "Brp ongkir ke Bekasi kak?"),
    (Speaker::Customer, "Bisa bayar pakai QRIS ga?"),
    (Speaker::Customer, "Kak, pesanan saya dari kemarin belum sampai, saya mau komplain"),
    (Speaker::Owner, "#1 Maaf kak Rina 🙏 Paketnya sudah kami cek, sampai besok pagi ya."),
    (Speaker::Customer, "Oke kak, makasih infonya"),
    (Speaker::Owner, "#1 lepas"),
    (Speaker::Customer, "Ada kopi susu gula aren?"),
];

/// The demo owner's number (Bu Sri's own WhatsApp).
const OWNER_PHONE: &str = "6281100000001";

pub async fn run() -> anyhow::Result<()> {
    let dir = tempdir()?;
    let url = format!("sqlite://{}/demo.db", dir.display());
    let store = store::connect(&url).await?;
    store.migrate(None).await?;
    let keys = throwaway_keys()?;
    let providers = FakeProviders::start().await?;
    let media = crate::media::MediaSettings {
        storage: crate::media::StorageSettings::Dir(dir.join("media")),
        ..crate::media::MediaSettings::default()
    };
    let config = AppConfig { workers: 0, meta_graph_url: providers.meta_url.clone(), media, ..AppConfig::default() };
    let state = AppState::with_system_clock(store.clone(), keys.clone(), config)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(crate::app::serve(listener, state.clone(), shutdown.clone()));

    let now = SystemClock.now();
    let DemoBusiness { tenant, channel, app_secret, faq_entries, .. } = seed(&*store, &keys, now).await?;

    println!("balas demo — {} (tenant {}), {} FAQ entries", tenant.name, tenant.slug, faq_entries);
    println!("server {base}, fake Graph API {}, database {}\n", providers.meta_url, dir.display());

    let customer = FakeCustomer {
        bsuid: Some("ID.48291038475610293847".into()),
        phone: Some("6281234567890".into()),
        name: "Rina".into(),
        username: None,
    };
    let owner = FakeCustomer { bsuid: None, phone: Some(OWNER_PHONE.into()), name: "Bu Sri".into(), username: None };
    crate::owner::add_owner(&*store, &keys, tenant.id, &Phone::parse(OWNER_PHONE)?, None, "cli", now).await?;
    let bsuid = Bsuid::parse(customer.bsuid.as_deref().unwrap_or_default())?;
    let http = reqwest::Client::new();
    let worker = state.worker("demo");
    let webhook = format!("{base}/webhooks/meta/{}", channel.id);
    for (n, (speaker, line)) in SCRIPT.iter().enumerate() {
        let who = if *speaker == Speaker::Owner { &owner } else { &customer };
        let payload = meta_webhook::envelope(
            PHONE_NUMBER_ID,
            &[who],
            vec![who.text(&format!("wamid.DEMO{n:04}"), line, now.timestamp())],
            vec![],
        );
        let body = serde_json::to_vec(&payload)?;
        let response = http
            .post(&webhook)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", meta_webhook::sign(&app_secret, &body))
            .body(body)
            .send()
            .await?;
        match speaker {
            Speaker::Customer => println!("👤 Rina: {line}"),
            Speaker::Owner => println!("🧑‍🍳 Bu Sri (owner, from her own WhatsApp): {line}"),
        }
        println!("   ↳ webhook signed and POSTed: HTTP {}", response.status().as_u16());
        let before = providers.received().len();
        worker.run_until_idle().await?;
        for sent in &providers.received()[before..] {
            let to = if sent.recipient() == OWNER_PHONE { "to Bu Sri" } else { "to Rina" };
            println!("🤖 balas {to}: {}", sent.text().replace('\n', "\n      "));
        }
        let mut tx = store.begin_read(tenant.id).await?;
        let contact = tx
            .contact_by_index(IdentityIndex::Bsuid(&keys.index.bsuid(tenant.id, &bsuid)))
            .await?
            .context("demo contact")?;
        if let Some(conversation) = tx.open_conversation(channel.id, contact.id, crate::chats::DIRECT).await?
            && conversation.state != ConversationState::Bot
        {
            let reason = conversation.escalation_reason.map(|r| r.as_str()).unwrap_or_default();
            println!("   ↳ conversation is with the owner: {} (reason: {reason})", conversation.state);
        }
        tx.commit().await?;
        println!();
    }
    match audit::verify_tenant(&*store, tenant.id).await? {
        audit::Verdict::Intact { rows, .. } => {
            println!("audit log: {rows} rows, hash chain intact")
        }
        audit::Verdict::Broken { seq, reason } => {
            println!("audit log: BROKEN at row {seq}: {reason}")
        }
    }
    println!("fake Graph API received {} messages", providers.received().len());
    shutdown.cancel();
    server.await.context("server task")??;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

fn throwaway_keys() -> anyhow::Result<Keys> {
    let vault = Vault::from_keys(&crypto::generate_key().into())?;
    let index = BlindIndex::from_secret(&crypto::generate_key().into())?;
    let audit = crate::audit::AuditKeys::from_secret(&crypto::generate_key().into())?;
    Ok(Keys { vault: Arc::new(vault), index: Arc::new(index), audit: Arc::new(audit) })
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("balas-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
