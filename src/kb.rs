//! The tenant's FAQ / knowledge base: its use cases (add, edit, delete one entry; import a
//! CSV or JSON file), each audited, for the API, the dashboard and the CLI alike.
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, AuditEntry};
use crate::domain::{EscalationId, KbEntryId, TenantId};
use crate::store::{GapOps, KbEntry, KbVersionRecord, Store, StoreResult, TenantTx};
use crate::usecase::{UseCaseError, UseCaseResult};

/// Longest accepted answer: one WhatsApp message.
const MAX_ANSWER_CHARS: usize = 4096;
const MAX_QUESTION_CHARS: usize = 1000;

/// One FAQ entry as written by the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaqItem {
    pub question: String,
    pub answer: String,
    pub keywords: String,
}

impl FaqItem {
    /// The stored entry for this item under `id` in `tenant`'s FAQ.
    pub fn into_entry(self, id: KbEntryId, tenant: TenantId, now: DateTime<Utc>) -> KbEntry {
        KbEntry {
            id,
            tenant_id: tenant,
            question: self.question,
            answer: self.answer,
            keywords: self.keywords,
            version: 1,
            created_at: now,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error("cannot read {0}: {1}")]
    Io(String, std::io::Error),
    #[error("the file must end in .csv or .json")]
    UnknownFormat,
    #[error("CSV: {0}")]
    Csv(String),
    #[error("JSON: expected an array of {{question, answer, keywords?}} objects (line {line}, column {column})")]
    Json { line: usize, column: usize },
    #[error("entry {0}: question and answer must both be non-empty")]
    Empty(usize),
    #[error("entry {0}: question over {MAX_QUESTION_CHARS} or answer over {MAX_ANSWER_CHARS} characters")]
    TooLong(usize),
    #[error("the file holds no entries")]
    NoEntries,
}

pub fn read_file(path: &Path) -> Result<Vec<FaqItem>, KbError> {
    let text = std::fs::read_to_string(path).map_err(|e| KbError::Io(path.display().to_string(), e))?;
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => parse_csv(&text),
        Some("json") => parse_json(&text),
        _ => Err(KbError::UnknownFormat),
    }
}

/// Header row required: `question,answer[,keywords]` (or `pertanyaan,jawaban[,kata_kunci]`).
pub fn parse_csv(text: &str) -> Result<Vec<FaqItem>, KbError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| KbError::Csv(e.to_string()))?.clone();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h.to_ascii_lowercase().as_str()));
    let question =
        column(&["question", "pertanyaan"]).ok_or_else(|| KbError::Csv("no question/pertanyaan column".into()))?;
    let answer = column(&["answer", "jawaban"]).ok_or_else(|| KbError::Csv("no answer/jawaban column".into()))?;
    let keywords = column(&["keywords", "kata_kunci"]);
    let mut items = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| KbError::Csv(format!("row {}: {}", i + 2, e.kind_label())))?;
        let field = |idx: Option<usize>| idx.and_then(|x| record.get(x)).unwrap_or("").to_string();
        items.push(FaqItem { question: field(Some(question)), answer: field(Some(answer)), keywords: field(keywords) });
    }
    validate(items)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonFile {
    List(Vec<JsonItem>),
    Wrapped { entries: Vec<JsonItem> },
}

#[derive(Deserialize)]
struct JsonItem {
    #[serde(alias = "pertanyaan")]
    question: String,
    #[serde(alias = "jawaban")]
    answer: String,
    #[serde(default, alias = "kata_kunci")]
    keywords: Keywords,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Keywords {
    #[default]
    None,
    Text(String),
    List(Vec<String>),
}

pub fn parse_json(text: &str) -> Result<Vec<FaqItem>, KbError> {
    let file: JsonFile =
        serde_json::from_str(text).map_err(|e| KbError::Json { line: e.line(), column: e.column() })?;
    let items = match file {
        JsonFile::List(items) | JsonFile::Wrapped { entries: items } => items,
    };
    validate(
        items
            .into_iter()
            .map(|i| FaqItem {
                question: i.question.trim().to_string(),
                answer: i.answer.trim().to_string(),
                keywords: match i.keywords {
                    Keywords::None => String::new(),
                    Keywords::Text(t) => t,
                    Keywords::List(l) => l.join(" "),
                },
            })
            .collect(),
    )
}

fn validate(items: Vec<FaqItem>) -> Result<Vec<FaqItem>, KbError> {
    if items.is_empty() {
        return Err(KbError::NoEntries);
    }
    for (i, item) in items.iter().enumerate() {
        check(item, i + 1)?;
    }
    Ok(items)
}

/// One entry's limits; `n` numbers it in the error.
pub fn check(item: &FaqItem, n: usize) -> Result<(), KbError> {
    if item.question.trim().is_empty() || item.answer.trim().is_empty() {
        return Err(KbError::Empty(n));
    }
    if item.question.chars().count() > MAX_QUESTION_CHARS || item.answer.chars().count() > MAX_ANSWER_CHARS {
        return Err(KbError::TooLong(n));
    }
    Ok(())
}

trait CsvErrorLabel {
    fn kind_label(&self) -> &'static str;
}

impl CsvErrorLabel for csv::Error {
    /// CSV errors can quote field content; report only what went wrong.
    fn kind_label(&self) -> &'static str {
        match self.kind() {
            csv::ErrorKind::Utf8 { .. } => "not valid UTF-8",
            csv::ErrorKind::UnequalLengths { .. } => "wrong number of fields",
            _ => "unreadable row",
        }
    }
}

/// Replaces (or, with `append`, extends) the tenant's FAQ; returns (removed, added).
pub async fn import(
    store: &dyn Store,
    tenant: TenantId,
    items: &[FaqItem],
    append: bool,
    now: DateTime<Utc>,
) -> StoreResult<(u64, usize)> {
    let mut tx = store.begin(tenant).await?;
    let mut removed = 0;
    if !append {
        for old in tx.kb_entries().await? {
            record_version(&mut *tx, &old, "deleted", Written::by("cli"), now).await?;
        }
        removed = tx.clear_kb_entries().await?;
    }
    for item in items {
        let entry = item.clone().into_entry(KbEntryId::new(), tenant, now);
        tx.insert_kb_entry(&entry).await?;
        record_version(&mut *tx, &entry, "created", Written::by("cli"), now).await?;
    }
    let entry = AuditEntry::new("cli", "kb.imported", "tenant", Some(tenant.to_string()))
        .detail(json!({ "removed": removed, "added": items.len() }));
    audit::append(&mut *tx, vec![entry], now).await?;
    tx.commit().await?;
    Ok((removed, items.len()))
}

/// An entry as typed, trimmed and checked (non-empty, not too long).
pub fn checked_item(question: &str, answer: &str, keywords: String) -> Result<FaqItem, KbError> {
    let item = FaqItem { question: question.trim().into(), answer: answer.trim().into(), keywords };
    check(&item, 1)?;
    Ok(item)
}

/// Who wrote a version of an entry, and the ticket it came from (a question the bot could not answer).
#[derive(Debug, Clone, Copy)]
pub struct Written<'a> {
    pub actor: &'a str,
    pub ticket: Option<EscalationId>,
}

impl<'a> Written<'a> {
    pub fn by(actor: &'a str) -> Self {
        Self { actor, ticket: None }
    }
}

/// Appends the entry's current form to its history.
async fn record_version(
    tx: &mut (impl GapOps + ?Sized),
    entry: &KbEntry,
    change: &str,
    written: Written<'_>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let version = KbVersionRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id: entry.tenant_id,
        entry_id: entry.id,
        // A deletion is a version of its own, after the last edit.
        version: if change == "deleted" { entry.version + 1 } else { entry.version },
        change: change.into(),
        question: entry.question.clone(),
        answer: entry.answer.clone(),
        keywords: entry.keywords.clone(),
        actor: written.actor.into(),
        escalation_id: written.ticket,
        created_at: now,
    };
    tx.insert_kb_version(&version).await
}

/// The audit row of an entry's change: its version and, when it came from a ticket, which.
fn kb_audit(action: &'static str, entry: &KbEntry, written: Written<'_>) -> AuditEntry {
    AuditEntry::new(written.actor, action, "kb_entry", Some(entry.id.to_string()))
        .detail(json!({ "version": entry.version, "ticket_id": written.ticket }))
}

/// Adds an entry inside the caller's transaction, versioned; the audit row is returned.
pub async fn create_in(
    tx: &mut dyn TenantTx,
    tenant: TenantId,
    item: FaqItem,
    written: Written<'_>,
    now: DateTime<Utc>,
) -> StoreResult<(KbEntry, AuditEntry)> {
    let entry = item.into_entry(KbEntryId::new(), tenant, now);
    tx.insert_kb_entry(&entry).await?;
    record_version(&mut *tx, &entry, "created", written, now).await?;
    let audit = kb_audit("kb.created", &entry, written);
    Ok((entry, audit))
}

/// Adds an entry to `tenant`'s FAQ, audited `kb.created` naming `actor`.
pub async fn create_entry(
    store: &dyn Store,
    tenant: TenantId,
    actor: &str,
    item: FaqItem,
    now: DateTime<Utc>,
) -> StoreResult<KbEntry> {
    let mut tx = store.begin(tenant).await?;
    let (entry, audit) = create_in(&mut *tx, tenant, item, Written::by(actor), now).await?;
    audit::append(&mut *tx, vec![audit], now).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Rewrites an entry of `tenant`'s FAQ as its next version, audited `kb.updated`; not found
/// when it is not the tenant's.
pub async fn update_entry(
    store: &dyn Store,
    tenant: TenantId,
    actor: &str,
    id: KbEntryId,
    item: FaqItem,
    now: DateTime<Utc>,
) -> UseCaseResult<KbEntry> {
    let mut tx = store.begin(tenant).await?;
    let Some(old) = tx.kb_entry(id).await? else { return Err(not_found()) };
    let mut entry = item.into_entry(id, tenant, old.created_at);
    entry.version = tx.update_kb_entry(&entry).await?.ok_or_else(not_found)?;
    record_version(&mut *tx, &entry, "updated", Written::by(actor), now).await?;
    audit::append(&mut *tx, vec![kb_audit("kb.updated", &entry, Written::by(actor))], now).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Deletes an entry of `tenant`'s FAQ, audited `kb.deleted` (its text stays in its history);
/// not found when it is not the tenant's.
pub async fn delete_entry(
    store: &dyn Store,
    tenant: TenantId,
    actor: &str,
    id: KbEntryId,
    now: DateTime<Utc>,
) -> UseCaseResult<()> {
    let mut tx = store.begin(tenant).await?;
    let Some(old) = tx.kb_entry(id).await? else { return Err(not_found()) };
    if !tx.delete_kb_entry(id).await? {
        return Err(not_found());
    }
    record_version(&mut *tx, &old, "deleted", Written::by(actor), now).await?;
    audit::append(&mut *tx, vec![kb_audit("kb.deleted", &old, Written::by(actor))], now).await?;
    tx.commit().await?;
    Ok(())
}

/// Every version of an entry of `tenant`'s FAQ, oldest first (a deleted entry's too); not found
/// when there is no such entry and never was. An entry older than versioning has none yet.
pub async fn versions(store: &dyn Store, tenant: TenantId, id: KbEntryId) -> UseCaseResult<Vec<KbVersionRecord>> {
    let mut tx = store.begin_read(tenant).await?;
    let versions = tx.kb_versions(id).await?;
    let exists = !versions.is_empty() || tx.kb_entry(id).await?.is_some();
    tx.commit().await?;
    if !exists {
        return Err(not_found());
    }
    Ok(versions)
}

/// No FAQ entry with this id in the tenant (also for an id that does not parse).
pub fn not_found() -> UseCaseError {
    UseCaseError::not_found("kb_entry_not_found", "no FAQ entry with this id in your tenant")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_indonesian_headers_and_quotes() {
        let items = parse_csv("pertanyaan,jawaban,kata_kunci\n\"Jam buka?\",\"Setiap hari, 08.00-21.00\",buka tutup\n")
            .unwrap();
        assert_eq!(
            items,
            vec![FaqItem {
                question: "Jam buka?".into(),
                answer: "Setiap hari, 08.00-21.00".into(),
                keywords: "buka tutup".into()
            }]
        );
    }

    #[test]
    fn csv_without_answer_column_is_refused() {
        assert!(matches!(parse_csv("question,reply\na,b\n"), Err(KbError::Csv(_))));
    }

    #[test]
    fn json_list_and_wrapped_forms() {
        let list =
            parse_json(r#"[{"question":"Ongkir?","answer":"Mulai 10rb","keywords":["ongkir","kirim"]}]"#).unwrap();
        assert_eq!(list[0].keywords, "ongkir kirim");
        let wrapped = parse_json(r#"{"entries":[{"pertanyaan":"Ongkir?","jawaban":"Mulai 10rb"}]}"#).unwrap();
        assert_eq!(wrapped[0].question, "Ongkir?");
    }

    #[test]
    fn empty_answers_and_files_are_refused_with_the_entry_number() {
        assert!(matches!(
            parse_json(r#"[{"question":"a","answer":"b"},{"question":"c","answer":" "}]"#),
            Err(KbError::Empty(2))
        ));
        assert!(matches!(parse_json("[]"), Err(KbError::NoEntries)));
        assert!(matches!(parse_json("{"), Err(KbError::Json { .. })));
    }
}
