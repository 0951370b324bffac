//! `balas template list|print`: the WhatsApp templates balas ships, and the requests that
//! create them at Meta or Twilio. Submitting them and syncing their status are not built yet.
use std::io::Write;

use clap::{Subcommand, ValueEnum};

use crate::channels::templates::{self, Template, Translation};

#[derive(Subcommand)]
pub enum TemplateCommand {
    /// The purposes, and the template balas ships for each.
    List,
    /// Print the requests that create the templates, one per language.
    Print {
        #[arg(long, value_enum)]
        provider: TemplateProvider,
        /// Only this language (id or en).
        #[arg(long)]
        language: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TemplateProvider {
    Meta,
    Twilio,
}

/// `graph_url` is `BALAS_META_GRAPH_URL`, so the printed path has the version balas sends with.
pub fn run(command: &TemplateCommand, graph_url: &str) -> anyhow::Result<()> {
    // Written, not printed: a closed pipe (`| head`) ends the command instead of panicking.
    let mut out = std::io::stdout().lock();
    match command {
        TemplateCommand::List => {
            writeln!(out, "{:<24}  {:<32}  {:<9}  BUTTONS (id)", "PURPOSE", "TEMPLATE", "LANGUAGES")?;
            for t in templates::catalogue() {
                let languages: Vec<&str> = t.translations.iter().map(|tr| tr.language).collect();
                let buttons = t.translation("id").buttons.join(", ");
                writeln!(out, "{:<24}  {:<32}  {:<9}  {buttons}", t.purpose.as_str(), t.name, languages.join(","))?;
            }
        }
        TemplateCommand::Print { provider, language } => {
            for t in templates::catalogue() {
                for tr in t.translations.iter().filter(|tr| language.as_deref().is_none_or(|l| l == tr.language)) {
                    write_requests(&mut out, t, tr, *provider, graph_url.trim_end_matches('/'))?;
                }
            }
        }
    }
    Ok(())
}

fn write_requests(
    out: &mut impl Write,
    t: &Template,
    tr: &Translation,
    provider: TemplateProvider,
    graph_url: &str,
) -> anyhow::Result<()> {
    match provider {
        TemplateProvider::Meta => {
            writeln!(out, "POST {graph_url}/{{WABA-ID}}/message_templates")?;
            writeln!(out, "{}\n", serde_json::to_string(&t.meta_create_request(tr))?)?;
        }
        TemplateProvider::Twilio => {
            writeln!(out, "POST https://content.twilio.com/v1/Content")?;
            writeln!(out, "{}", serde_json::to_string(&t.twilio_content_request(tr))?)?;
            writeln!(out, "POST https://content.twilio.com/v1/Content/{{HX-SID}}/ApprovalRequests/whatsapp")?;
            writeln!(out, "{}\n", serde_json::to_string(&t.twilio_approval_request(tr))?)?;
        }
    }
    Ok(())
}
