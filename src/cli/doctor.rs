//! `balas doctor --tenant T`: checks a tenant's setup and says, in plain words, what is wrong
//! and the command that fixes it: channels, the templates that reach people outside the
//! 24-hour window, owner numbers, the FAQ, the LLM and e-mail. Exit 1 when anything is wrong.
use std::io::Write;

use crate::channels::templates::{self, TemplatePurpose};
use crate::config::Keys;
use crate::owner::OwnerContact;
use crate::owner::template_notice::template_problems;
use crate::store::{Store, TenantRecord};

/// What the doctor knows of the process's own configuration.
pub struct Setup {
    pub llm: bool,
    pub smtp: bool,
}

/// Prints one line per check; returns how many problems it found.
pub async fn run(store: &dyn Store, keys: &Keys, tenant: &TenantRecord, setup: &Setup) -> anyhow::Result<usize> {
    let mut tx = store.begin_read(tenant.id).await?;
    let key = crate::tenants::data_key(&mut *tx, keys).await?;
    let channels = tx.channels().await?;
    let owners = tx.owners().await?;
    let faq = tx.kb_entries().await?.len();
    let language = &tenant.settings.language;
    let template_problems = template_problems(&mut *tx, language).await?;
    tx.commit().await?;

    let slug = &tenant.slug;
    let mut problems = Vec::new();
    let mut fine = Vec::new();
    if channels.is_empty() {
        problems.push(format!("no WhatsApp channel: customers cannot reach the bot. Connect one: balas channel add --tenant {slug} --provider meta|twilio|fonnte …"));
    }
    for channel in &channels {
        let broken: Vec<_> = template_problems.iter().filter(|p| p.channel.id == channel.id).collect();
        if channel.provider == "fonnte" {
            fine.push(format!("channel {} (fonnte): no 24-hour window, no templates needed", channel.id));
        } else if broken.is_empty() {
            fine.push(format!(
                "channel {} ({}): owner notice and reminder templates approved ({language})",
                channel.id, channel.provider
            ));
        }
        for p in broken {
            let name = templates::template(p.purpose).name;
            let what = if p.purpose == TemplatePurpose::OwnerReminder { "reminder" } else { "notice" };
            let named = if channel.provider == "twilio" { " --name HX…" } else { "" };
            problems.push(format!(
                "channel {} ({}): template {name} for {} is {} in {language}; an owner who has not written in 24 hours gets no WhatsApp {what}. Create it (balas template print --provider {} --language {language}), then record it: balas template set --tenant {slug} --channel {} --purpose {} --language {language}{named} --status approved",
                channel.id, channel.provider, p.purpose.as_str(), p.status, channel.provider, channel.id, p.purpose.as_str(),
            ));
        }
    }
    if owners.is_empty() {
        problems.push(format!("no owner number: hand-overs reach nobody on WhatsApp. Add one: balas owner add --tenant {slug} --phone +62…"));
    } else {
        fine.push(format!("{} owner number(s)", owners.len()));
    }
    let with_email =
        owners.iter().filter_map(|o| OwnerContact::open(o, &key).ok()).filter(|c| c.email.is_some()).count();
    match (setup.smtp, with_email) {
        (true, 0) => problems.push(format!("SMTP is set but no owner has an e-mail address: a bounced notice has no fallback. balas owner add --tenant {slug} --phone … --email …")),
        (false, n) if n > 0 => problems.push("owners have e-mail addresses but SMTP is not set: a bounced notice has no fallback. Set BALAS_SMTP_URL and BALAS_SMTP_FROM".into()),
        (false, _) => problems.push("no e-mail fallback: a notice that bounces on a closed window is lost until the owner writes. Set BALAS_SMTP_URL and give owners an --email".into()),
        (true, _) => fine.push(format!("e-mail fallback for {with_email} owner(s)")),
    }
    if faq == 0 {
        problems.push(format!(
            "the FAQ is empty: the bot can answer nothing by itself. balas kb import --tenant {slug} faq.csv"
        ));
    } else {
        fine.push(format!("{faq} FAQ entries"));
    }
    if setup.llm {
        fine.push("LLM configured".into());
    } else {
        fine.push("no LLM key: the offline FAQ responder answers (set BALAS_LLM_API_KEY for the LLM)".into());
    }

    let mut out = std::io::stdout().lock();
    writeln!(out, "balas doctor: {slug}")?;
    for line in &fine {
        writeln!(out, "  ok       {line}")?;
    }
    for line in &problems {
        writeln!(out, "  PROBLEM  {line}")?;
    }
    writeln!(out, "{} problem(s)", problems.len())?;
    Ok(problems.len())
}
