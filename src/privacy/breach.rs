//! Breach reporting: from the audit log, who read, exported or changed which records in a time
//! window, and how many distinct data subjects (contacts) those records concern, per tenant
//! and per actor. The policies promise a notice within 72 hours naming the nature of the breach,
//! the categories of data and the approximate number of data subjects and records; this is the
//! evidence for it. The report holds ids, action names and counts only: never text or numbers.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::domain::{ContactId, ConversationId, DsarId, EscalationId, MessageId, OwnerMessageId, TenantId};
use crate::store::{AuditRow, ConversationOps, OwnerOps, PrivacyOps, Store, StoreResult, TenantRecord};

pub use super::audit_actions::{ACTIONS, Category, NONE, classify};

/// Bumped whenever a field changes meaning or goes away (adding fields keeps it).
pub const FORMAT_VERSION: u32 = 1;

/// Who an audited record is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Contact(String),
    /// It should name a contact but the record is gone (erased) or never named one (an erasure).
    Unresolved,
    /// Not about one contact: a listing, a user, an owner, a setting.
    NoContact,
}

/// The subject of a record that needs no lookup; `None` when the tenant's tables must say.
pub fn direct(subject_type: &str, id: &str) -> Option<Subject> {
    match subject_type {
        "contact" => Some(Subject::Contact(id.to_string())),
        // Erasures are audited anonymously by design.
        "erasure" => Some(Subject::Unresolved),
        "conversation" | "message" | "escalation" | "owner_message" | "request" => None,
        _ => Some(Subject::NoContact),
    }
}

/// Looks the record up in the tenant's tables; a missing record or a bad id is `Unresolved`.
async fn lookup(
    tx: &mut (impl ConversationOps + OwnerOps + PrivacyOps + ?Sized),
    subject_type: &str,
    id: &str,
) -> StoreResult<Subject> {
    let contact: Option<Option<ContactId>> = match subject_type {
        "conversation" => match id.parse::<ConversationId>() {
            Ok(id) => tx.conversation(id).await?.map(|c| Some(c.contact_id)),
            Err(_) => None,
        },
        "message" => match id.parse::<MessageId>() {
            Ok(id) => tx.message(id).await?.map(|m| Some(m.contact_id)),
            Err(_) => None,
        },
        "escalation" => match id.parse::<EscalationId>() {
            Ok(id) => tx.escalation(id).await?.map(|e| Some(e.contact_id)),
            Err(_) => None,
        },
        "owner_message" => match id.parse::<OwnerMessageId>() {
            Ok(id) => tx.owner_message(id).await?.map(|m| m.contact_id),
            Err(_) => None,
        },
        // A request's contact is cleared when the contact is erased: then it is unresolved.
        "request" => match id.parse::<DsarId>() {
            Ok(id) => tx.dsar(id).await?.and_then(|r| r.contact_id).map(Some),
            Err(_) => None,
        },
        _ => return Ok(direct(subject_type, id).unwrap_or(Subject::NoContact)),
    };
    Ok(match contact {
        Some(Some(c)) => Subject::Contact(c.to_string()),
        Some(None) => Subject::NoContact,
        None => Subject::Unresolved,
    })
}

/// The counts of one category, for one tenant or one actor.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub events: u64,
    /// Items shown by listings (`*.listed` details), not deduplicated: an upper bound.
    pub listed_items: u64,
    pub actions: BTreeMap<String, u64>,
    pub data: BTreeSet<&'static str>,
    /// Distinct records by type.
    pub records: BTreeMap<String, BTreeSet<String>>,
    pub contacts: BTreeSet<String>,
    pub unresolved: BTreeSet<(String, String)>,
    pub without_contact: BTreeSet<(String, String)>,
}

impl Tally {
    fn add(&mut self, row: &AuditRow, data: &'static str, subject: Option<&Subject>) {
        self.events += 1;
        *self.actions.entry(row.action.clone()).or_default() += 1;
        self.data.insert(data);
        if row.action.ends_with(".listed") {
            let detail: Value = serde_json::from_str(&row.detail).unwrap_or(Value::Null);
            self.listed_items += detail["count"].as_u64().unwrap_or(0);
        }
        let (Some(id), Some(subject)) = (&row.subject_id, subject) else { return };
        self.records.entry(row.subject_type.clone()).or_default().insert(id.clone());
        let key = (row.subject_type.clone(), id.clone());
        match subject {
            Subject::Contact(c) => {
                self.contacts.insert(c.clone());
            }
            Subject::Unresolved => {
                self.unresolved.insert(key);
            }
            Subject::NoContact => {
                self.without_contact.insert(key);
            }
        }
    }

    pub fn record_count(&self) -> usize {
        self.records.values().map(BTreeSet::len).sum()
    }

    /// Counts only (per actor).
    pub fn summary(&self) -> Value {
        json!({
            "events": self.events,
            "records": self.record_count(),
            "subjects": self.contacts.len(),
            "unresolved_records": self.unresolved.len(),
            "records_without_contact": self.without_contact.len(),
            "listed_items": self.listed_items,
            "actions": self.actions,
            "data_categories": self.data,
        })
    }

    /// Counts plus which records and contacts (per tenant).
    pub fn full(&self) -> Value {
        let mut v = self.summary();
        v["record_ids"] = json!(self.records);
        v["contact_ids"] = json!(self.contacts);
        v
    }
}

/// One tenant's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantReport {
    pub tenant_id: TenantId,
    pub slug: String,
    pub categories: BTreeMap<Category, Tally>,
    pub actors: BTreeMap<String, BTreeMap<Category, Tally>>,
}

impl TenantReport {
    /// Distinct contacts over every category but `internal`.
    pub fn subjects(&self) -> BTreeSet<&String> {
        self.concerned().flat_map(|t| t.contacts.iter()).collect()
    }

    /// Distinct records (of any category but `internal`) whose contact could not be found.
    pub fn unresolved(&self) -> BTreeSet<&(String, String)> {
        self.concerned().flat_map(|t| t.unresolved.iter()).collect()
    }

    pub fn records(&self) -> BTreeSet<(&String, &String)> {
        self.concerned().flat_map(|t| t.records.iter().flat_map(|(k, ids)| ids.iter().map(move |id| (k, id)))).collect()
    }

    fn concerned(&self) -> impl Iterator<Item = &Tally> {
        self.categories.iter().filter(|(c, _)| c.concerns_subjects()).map(|(_, t)| t)
    }

    pub fn to_json(&self) -> Value {
        let categories: BTreeMap<&str, Value> = Category::ALL
            .iter()
            .map(|c| (c.as_str(), self.categories.get(c).cloned().unwrap_or_default().full()))
            .collect();
        let actors: BTreeMap<&String, BTreeMap<&str, Value>> = self
            .actors
            .iter()
            .map(|(actor, cats)| (actor, cats.iter().map(|(c, t)| (c.as_str(), t.summary())).collect()))
            .collect();
        json!({
            "tenant_id": self.tenant_id,
            "slug": self.slug,
            "events": self.categories.values().map(|t| t.events).sum::<u64>(),
            "records": self.records().len(),
            "subjects": self.subjects().len(),
            "unresolved_records": self.unresolved().len(),
            "categories": categories,
            "actors": actors,
        })
    }
}

/// Groups one tenant's audit rows (already filtered) by category and actor. `resolved` holds
/// the subject of every record `direct` cannot answer; one missing from it counts as unresolved.
pub fn group(
    tenant: TenantId,
    slug: &str,
    rows: &[AuditRow],
    resolved: &HashMap<(String, String), Subject>,
) -> TenantReport {
    let mut report = TenantReport {
        tenant_id: tenant,
        slug: slug.to_string(),
        categories: BTreeMap::new(),
        actors: BTreeMap::new(),
    };
    for row in rows {
        let (category, data) = classify(&row.action);
        let subject = row.subject_id.as_ref().map(|id| {
            direct(&row.subject_type, id).unwrap_or_else(|| {
                resolved.get(&(row.subject_type.clone(), id.clone())).cloned().unwrap_or(Subject::Unresolved)
            })
        });
        report.categories.entry(category).or_default().add(row, data, subject.as_ref());
        let by_actor = report.actors.entry(row.actor.clone()).or_default();
        by_actor.entry(category).or_default().add(row, data, subject.as_ref());
    }
    report
}

/// Which rows a report covers: `since` inclusive, `until` exclusive, optionally one actor.
#[derive(Debug, Clone)]
pub struct Filter {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub actor: Option<String>,
}

impl Filter {
    pub fn matches(&self, row: &AuditRow) -> bool {
        row.at >= self.since && row.at < self.until && self.actor.as_ref().is_none_or(|a| *a == row.actor)
    }
}

/// Reads the tenant's whole chain (rows are ordered by seq, and `at` may step back slightly
/// between concurrent transactions), keeps the matching rows and resolves their subjects.
pub async fn collect_tenant(store: &dyn Store, tenant: &TenantRecord, filter: &Filter) -> StoreResult<TenantReport> {
    let mut tx = store.begin_read(tenant.id).await?;
    let rows = crate::audit::rows_matching(&mut *tx, |row| filter.matches(row)).await?;
    let mut resolved = HashMap::new();
    for row in &rows {
        let Some(id) = &row.subject_id else { continue };
        let key = (row.subject_type.clone(), id.clone());
        if direct(&key.0, &key.1).is_some() || resolved.contains_key(&key) {
            continue;
        }
        let subject = lookup(&mut *tx, &key.0, &key.1).await?;
        resolved.insert(key, subject);
    }
    tx.commit().await?;
    Ok(group(tenant.id, &tenant.slug, &rows, &resolved))
}

/// The whole report: the filter and one entry per tenant.
pub struct BreachReport {
    pub generated_at: DateTime<Utc>,
    pub filter: Filter,
    pub tenants: Vec<TenantReport>,
}

impl BreachReport {
    pub fn to_json(&self) -> Value {
        // Contacts belong to one tenant, so per-tenant counts add up.
        let sum = |f: &dyn Fn(&TenantReport) -> usize| self.tenants.iter().map(f).sum::<usize>();
        let mut totals = json!({
            "subjects": sum(&|t| t.subjects().len()),
            "records": sum(&|t| t.records().len()),
            "unresolved_records": sum(&|t| t.unresolved().len()),
        });
        for c in Category::ALL {
            let of = |f: &dyn Fn(&Tally) -> usize| sum(&|t| t.categories.get(&c).map_or(0, f));
            totals[c.as_str()] = json!({
                "events": of(&|t| t.events as usize),
                "records": of(&Tally::record_count),
                "subjects": of(&|t| t.contacts.len()),
                "unresolved_records": of(&|t| t.unresolved.len()),
            });
        }
        json!({
            "format": "balas.breach-report",
            "version": FORMAT_VERSION,
            "generated_at": self.generated_at,
            "window": { "since": self.filter.since, "until": self.filter.until, "until_exclusive": true },
            "actor": self.filter.actor,
            "tenants": self.tenants.iter().map(TenantReport::to_json).collect::<Vec<_>>(),
            "totals": totals,
        })
    }

    /// A few lines an operator can paste into a breach notice.
    pub fn to_text(&self) -> String {
        let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        let who = self.filter.actor.as_ref().map_or("all actors".to_string(), |a| format!("actor {a}"));
        let mut out = format!(
            "Audit log from {} up to (not including) {}, {who}.\n",
            at(self.filter.since),
            at(self.filter.until)
        );
        for t in &self.tenants {
            let (records, gone) = (t.records().len(), t.unresolved().len());
            out.push_str(&format!(
                "Tenant {} ({}): {} in {}",
                t.slug,
                t.tenant_id,
                plural(t.subjects().len(), "customer"),
                plural(records, "record")
            ));
            if gone > 0 {
                out.push_str(&format!(
                    ", and {} whose customer can no longer be identified (erased)",
                    plural(gone, "record")
                ));
            }
            out.push_str(".\n");
            for c in [Category::Read, Category::Exported, Category::Changed, Category::Other] {
                if let Some(tally) = t.categories.get(&c) {
                    out.push_str(&format!("  {}: {}\n", c.as_str(), line(tally)));
                }
            }
            for (actor, cats) in &t.actors {
                let parts: Vec<String> = [Category::Read, Category::Exported, Category::Changed, Category::Other]
                    .iter()
                    .filter_map(|c| cats.get(c).map(|t| format!("{} {}", c.as_str(), short(t))))
                    .collect();
                if !parts.is_empty() {
                    out.push_str(&format!("  by {actor}: {}\n", parts.join("; ")));
                }
            }
        }
        if self.tenants.iter().all(|t| t.records().is_empty()) {
            out.push_str("No personal data was read, exported or changed in this window.\n");
        }
        out
    }
}

fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn short(t: &Tally) -> String {
    format!("{} of {}", plural(t.record_count(), "record"), plural(t.contacts.len(), "customer"))
}

fn line(t: &Tally) -> String {
    let mut s = format!("{}, {}", plural(t.events as usize, "event"), short(t));
    if !t.unresolved.is_empty() {
        s.push_str(&format!(" (+{} unidentifiable)", t.unresolved.len()));
    }
    if t.listed_items > 0 {
        s.push_str(&format!("; listings showed up to {} items", t.listed_items));
    }
    let data: Vec<&str> = t.data.iter().copied().filter(|d| *d != NONE).collect();
    if !data.is_empty() {
        s.push_str(&format!("; data: {}", data.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::{Changed, Exported, Internal, Read};

    fn row(actor: &str, action: &str, subject_type: &str, id: &str) -> AuditRow {
        AuditRow {
            tenant_id: TenantId::new(),
            seq: 1,
            at: Utc::now(),
            actor: actor.into(),
            action: action.into(),
            subject_type: subject_type.into(),
            subject_id: Some(id.into()),
            detail: "{}".into(),
            prev_hash: String::new(),
            hash: String::new(),
            key_id: None,
        }
    }

    #[test]
    fn records_and_subjects_are_counted_distinct_per_category_and_actor() {
        let rows = vec![
            row("api:a", "conversation.read", "conversation", "conv1"),
            row("api:a", "conversation.read", "conversation", "conv1"),
            row("api:a", "conversation.read", "conversation", "conv2"),
            row("api:b", "conversation.read", "conversation", "conv3"),
            row("api:b", "conversation.read", "conversation", "gone"),
            row("api:b", "contact.exported", "contact", "c1"),
            AuditRow { detail: r#"{"count": 7}"#.into(), ..row("api:a", "conversation.listed", "tenant", "t") },
            row("worker", "job.claimed", "job", "j1"),
            row("api:b", "contact.erased", "erasure", "e1"),
            row("api:b", "brand.new_action", "message", "m1"),
        ];
        let resolved = HashMap::from([
            (("conversation".into(), "conv1".into()), Subject::Contact("c1".into())),
            (("conversation".into(), "conv2".into()), Subject::Contact("c1".into())),
            (("conversation".into(), "conv3".into()), Subject::Contact("c2".into())),
            (("message".into(), "m1".into()), Subject::Contact("c3".into())),
        ]);
        let report = group(TenantId::new(), "toko", &rows, &resolved);
        let read = &report.categories[&Read];
        assert_eq!((read.events, read.record_count(), read.contacts.len()), (6, 5, 2));
        assert_eq!((read.unresolved.len(), read.without_contact.len(), read.listed_items), (1, 1, 7));
        assert_eq!(read.actions["conversation.read"], 5);
        let exported = &report.categories[&Exported];
        assert_eq!((exported.events, exported.record_count(), exported.contacts.len()), (1, 1, 1));
        let changed = &report.categories[&Changed];
        assert_eq!(
            (changed.events, changed.contacts.len(), changed.unresolved.len()),
            (1, 0, 1),
            "erasures are anonymous"
        );
        assert_eq!(report.categories[&Category::Other].actions["brand.new_action"], 1, "unknown actions are kept");
        assert_eq!(report.categories[&Internal].events, 1);
        let a = &report.actors["api:a"][&Read];
        assert_eq!((a.events, a.record_count(), a.contacts.len()), (4, 3, 1));
        let b = &report.actors["api:b"];
        assert_eq!((b[&Read].record_count(), b[&Read].contacts.len(), b[&Read].unresolved.len()), (2, 1, 1));
        assert!(!report.actors["worker"].contains_key(&Read));
        assert_eq!(report.subjects().len(), 3, "c1, c2 and c3; the job names no one");
        assert_eq!(report.unresolved().len(), 2);
        let json = report.to_json();
        assert_eq!(
            json["categories"]["read"]["record_ids"]["conversation"],
            json!(["conv1", "conv2", "conv3", "gone"])
        );
        assert_eq!(json["actors"]["api:b"]["exported"]["subjects"], 1);
        assert_eq!(json["subjects"], 3);
    }

    #[test]
    fn the_window_is_half_open_and_the_actor_exact() {
        let since = Utc::now();
        let until = since + chrono::Duration::hours(24);
        let filter = Filter { since, until, actor: Some("api:a".into()) };
        let at = |t, actor: &str| AuditRow { at: t, ..row(actor, "conversation.read", "conversation", "x") };
        assert!(filter.matches(&at(since, "api:a")));
        assert!(!filter.matches(&at(until, "api:a")));
        assert!(!filter.matches(&at(since - chrono::Duration::microseconds(1), "api:a")));
        assert!(!filter.matches(&at(since, "api:ab")));
    }

    #[test]
    fn every_audited_action_is_classified_once() {
        let mut seen = BTreeSet::new();
        for (action, ..) in ACTIONS {
            assert!(seen.insert(*action), "{action} is listed twice");
        }
        let mut missing = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let source = std::fs::read_to_string(&path).unwrap();
                    let markers = ["AuditEntry::new(", "let action", "let (action", "fn audit_name"];
                    let calls = markers.iter().flat_map(|m| source.split(m).skip(1));
                    for call in calls {
                        let args = call.char_indices().nth(300).map_or(call, |(i, _)| &call[..i]);
                        for literal in args.split('"').skip(1).step_by(2) {
                            let action_like = literal.contains('.')
                                && literal.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.');
                            if action_like && classify(literal).0 == Category::Other {
                                missing.push(format!("{literal} ({})", path.display()));
                            }
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "add these to ACTIONS: {missing:?}");
    }
}
