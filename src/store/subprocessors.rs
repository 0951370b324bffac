//! The sub-processors a tenant is under and the changes announced to it. A supertrait of
//! `TenantTx`; what changes mean lives in `crate::privacy::subprocessor_changes`.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{StoreResult, TenantScoped};
use crate::domain::TenantId;

/// One sub-processor the tenant is under.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct RecordedSubprocessor {
    /// `kind:host` (or `kind:name` without a host).
    pub key: String,
    pub kind: String,
    pub name: String,
    pub host: Option<String>,
    pub since: DateTime<Utc>,
}

/// One announced change.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct SubprocessorChangeRecord {
    pub id: Uuid,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub key: String,
    pub kind: String,
    pub name: String,
    pub host: Option<String>,
    /// `added` or `removed`.
    pub change: String,
    /// The list before and after, as JSON.
    pub diff: String,
    /// `pending`, `accepted` (by the owner, early), `objected` or `effective`.
    pub state: String,
    pub announced_at: DateTime<Utc>,
    pub effective_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait SubprocessorOps: TenantScoped + Send {
    async fn recorded_subprocessors(&mut self) -> StoreResult<Vec<RecordedSubprocessor>>;
    async fn record_subprocessor(&mut self, entry: &RecordedSubprocessor) -> StoreResult<()>;
    async fn forget_subprocessor(&mut self, key: &str) -> StoreResult<()>;
    async fn insert_subprocessor_change(&mut self, change: &SubprocessorChangeRecord) -> StoreResult<()>;
    /// Every change, newest first.
    async fn subprocessor_changes(&mut self) -> StoreResult<Vec<SubprocessorChangeRecord>>;
    /// Moves a change from `from` to `to` naming who decided; false when it was not in `from`.
    async fn decide_subprocessor_change(
        &mut self,
        id: Uuid,
        from: &str,
        to: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

/// `SubprocessorOps` SQL, the same on both backends. Every statement names its tenant.
macro_rules! subprocessor_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::SubprocessorOps for $ty {
            async fn recorded_subprocessors(&mut self) -> StoreResult<Vec<$crate::store::RecordedSubprocessor>> {
                Ok(sqlx::query_as("SELECT key, kind, name, host, since FROM tenant_subprocessors WHERE tenant_id = $1 ORDER BY kind, key")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn record_subprocessor(&mut self, e: &$crate::store::RecordedSubprocessor) -> StoreResult<()> {
                sqlx::query("INSERT INTO tenant_subprocessors (tenant_id, key, kind, name, host, since) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, key) DO NOTHING")
                    .bind(self.tenant).bind(&e.key).bind(&e.kind).bind(&e.name).bind(&e.host).bind($time(e.since))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn forget_subprocessor(&mut self, key: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM tenant_subprocessors WHERE tenant_id = $1 AND key = $2")
                    .bind(self.tenant).bind(key).execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn insert_subprocessor_change(&mut self, c: &$crate::store::SubprocessorChangeRecord) -> StoreResult<()> {
                sqlx::query("INSERT INTO subprocessor_changes (id, tenant_id, key, kind, name, host, change, diff, state, announced_at, effective_at, decided_by, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
                    .bind(c.id).bind(self.tenant).bind(&c.key).bind(&c.kind).bind(&c.name).bind(&c.host).bind(&c.change)
                    .bind(&c.diff).bind(&c.state).bind($time(c.announced_at)).bind($time(c.effective_at))
                    .bind(&c.decided_by).bind(c.decided_at.map($time))
                    .execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn subprocessor_changes(&mut self) -> StoreResult<Vec<$crate::store::SubprocessorChangeRecord>> {
                Ok(sqlx::query_as("SELECT * FROM subprocessor_changes WHERE tenant_id = $1 ORDER BY announced_at DESC, id DESC")
                    .bind(self.tenant).fetch_all(&mut *self.tx).await?)
            }

            async fn decide_subprocessor_change(
                &mut self,
                id: uuid::Uuid,
                from: &str,
                to: &str,
                by: &str,
                at: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE subprocessor_changes SET state = $4, decided_by = $5, decided_at = $6 WHERE tenant_id = $1 AND id = $2 AND state = $3")
                    .bind(self.tenant).bind(id).bind(from).bind(to).bind(by).bind($time(at))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
