//! Understanding a customer's photo or voice note, for tenants that turned it on
//! (`understand_media`): a voice note goes to the transcription endpoint and is answered like
//! typed text; a photo goes with its caption to the LLM chain when its models take images.
//! It waits for the file's fetch; whatever fails leaves the tenant's media policy to answer.
use base64::Engine;
use serde_json::json;

use super::WorkerDeps;
use crate::audit::AuditEntry;
use crate::contacts;
use crate::core::Core;
use crate::crypto::DataKey;
use crate::domain::{MessageKind, MessageMeta};
use crate::jobs::{JobFailure, JobKind, JobState};
use crate::llm::Attempt;
use crate::store::{JobOutcome, JobRecord, MessageRecord, StoreResult, TenantRecord, TenantTx};

/// What understanding the message gave.
#[derive(Debug)]
pub enum Understood {
    /// Not for understanding (its kind, the tenant's setting, nothing configured to do it).
    NotAsked,
    /// The file is still being fetched: the respond job waits for it.
    Pending,
    /// A voice note's words, answered like typed text.
    Transcript(String),
    /// A photo as a `data:` URL, for a vision-capable model.
    Image(String),
    /// The photo went to the model, which gave no usable answer: the media policy answers.
    ImageUnanswered,
    /// It could not be understood (the class, for the audit): the media policy answers.
    Failed(String),
}

/// The understanding step's outcome and the calls it made (recorded like LLM calls).
pub struct Understanding {
    pub understood: Understood,
    pub attempts: Vec<Attempt>,
}

impl Understanding {
    fn just(understood: Understood) -> Self {
        Self { understood, attempts: Vec::new() }
    }

    pub fn none() -> Self {
        Self::just(Understood::NotAsked)
    }
}

impl Understood {
    pub fn transcript(&self) -> Option<&str> {
        match self {
            Self::Transcript(words) => Some(words),
            _ => None,
        }
    }

    pub fn image(&self) -> Option<&str> {
        match self {
            Self::Image(url) => Some(url),
            _ => None,
        }
    }
}

/// How long a respond job waits for its file before it looks again; the fetch wakes it sooner.
const FILE_WAIT_SECS: i64 = 30;

/// The file is still being fetched: the respond job runs again when the fetch ends (it wakes
/// it) or after `FILE_WAIT_SECS`, with its attempts untouched.
pub async fn wait_for_file(core: &Core, worker: &str, job: &JobRecord) -> Result<Vec<JobRecord>, JobFailure> {
    let now = core.clock.now();
    let mut tx = core.store.begin(job.tenant_id).await?;
    let later = JobOutcome::Later { run_at: now + chrono::Duration::seconds(FILE_WAIT_SECS) };
    tx.finish_job(job.id, worker, &later, now).await?;
    tx.commit().await?;
    Ok(Vec::new())
}

/// Stores a voice note's transcript as its text, encrypted like typed text, and audits the
/// step (never the words); a failure is audited with its class.
pub async fn record(
    tx: &mut dyn TenantTx,
    message: &MessageRecord,
    key: &DataKey,
    meta: &MessageMeta,
    understood: &Understood,
) -> StoreResult<Vec<AuditEntry>> {
    let subject = Some(message.id.to_string());
    Ok(match understood {
        Understood::Transcript(words) => {
            let meta = contacts::seal_meta(&MessageMeta { transcribed: true, ..meta.clone() }, key);
            tx.set_transcript(message.id, &key.encrypt(words), meta.as_deref()).await?;
            let chars = words.chars().count();
            vec![AuditEntry::new("worker", "media.transcribed", "message", subject).detail(json!({ "chars": chars }))]
        }
        Understood::Image(_) => vec![AuditEntry::new("worker", "media.sent_to_model", "message", subject)],
        Understood::ImageUnanswered => vec![
            AuditEntry::new("worker", "media.sent_to_model", "message", subject.clone()),
            AuditEntry::new("worker", "media.not_understood", "message", subject)
                .detail(json!({ "why": "model_unavailable" })),
        ],
        Understood::Failed(why) => {
            vec![AuditEntry::new("worker", "media.not_understood", "message", subject).detail(json!({ "why": why }))]
        }
        Understood::NotAsked | Understood::Pending => Vec::new(),
    })
}

/// What became of a photo once the reply was decided: `answered` is `None` when the model was
/// not asked (its rate or budget), else whether it gave a usable answer.
pub fn settle(understood: Understood, answered: Option<bool>) -> Understood {
    match (understood, answered) {
        (Understood::Image(_), None) => Understood::Failed("model_not_asked".into()),
        (Understood::Image(_), Some(false)) => Understood::ImageUnanswered,
        (other, _) => other,
    }
}

/// How long a reply waits for its file: past it the media policy answers the customer.
const FILE_PATIENCE_SECS: i64 = 120;

/// The customer's message (written in a group or not) understood, when the tenant wants it and
/// balas can; `tokens_used` is this month's, against the tenant's budget.
pub async fn understand(
    core: &Core,
    deps: &WorkerDeps,
    (tenant, llm): (&TenantRecord, Option<&crate::llm::Llm>),
    (message, in_group): (&MessageRecord, bool),
    key: &DataKey,
    tokens_used: i64,
) -> Result<Understanding, JobFailure> {
    let transcribe = message.kind == MessageKind::Audio && deps.transcriber.is_some();
    let see = message.kind == MessageKind::Image && llm.is_some_and(crate::llm::Llm::vision);
    // A group message the bot will not answer is not worth a call.
    let in_silent_group = in_group && !tenant.settings.answer_groups;
    if !tenant.settings.understand_media || !(transcribe || see) || in_silent_group {
        return Ok(Understanding::just(Understood::NotAsked));
    }
    let mut tx = core.store.begin_read(message.tenant_id).await?;
    let stored = tx.media_of_message(message.id).await?.into_iter().next();
    let fetch = tx.job_of(JobKind::MediaFetch, message.id.0).await?;
    tx.commit().await?;
    let Some(media) = stored else {
        let fetching = fetch.is_some_and(|j| matches!(j.state, JobState::Queued | JobState::Running));
        let waited = core.clock.now() - message.created_at;
        return Ok(Understanding::just(match (fetching, waited.num_seconds() < FILE_PATIENCE_SECS) {
            (true, true) => Understood::Pending,
            (true, false) => Understood::Failed("file_late".into()),
            (false, _) => Understood::Failed("no_file".into()),
        }));
    };
    if tokens_used >= tenant.settings.monthly_token_budget {
        return Ok(Understanding::just(Understood::Failed("over_budget".into())));
    }
    // A photo's call is counted where the reply asks the model; a transcription here.
    if transcribe && !deps.llm_allows(tenant.id, message.contact_id) {
        return Ok(Understanding::just(Understood::Failed("rate_limited".into())));
    }
    let Some(bytes) = core.media.open_for_job(key, &media.object_key).await? else {
        return Ok(Understanding::just(Understood::Failed("file_gone".into())));
    };
    match (transcribe, &deps.transcriber) {
        (true, Some(transcriber)) => {
            let language = &tenant.settings.language;
            let (result, attempt) = transcriber.transcribe(bytes, &media.mime_type, language).await;
            let understood = match result {
                Ok(text) => Understood::Transcript(text),
                Err(class) => Understood::Failed(format!("transcription_{class}")),
            };
            Ok(Understanding { understood, attempts: vec![attempt] })
        }
        _ => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
            Ok(Understanding::just(Understood::Image(format!("data:{};base64,{encoded}", media.mime_type))))
        }
    }
}
