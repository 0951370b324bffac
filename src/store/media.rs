//! The rows of stored media: one per attachment of a customer message. A supertrait of
//! `TenantTx`; the bytes themselves live in the media store (`crate::media`).
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{StoreResult, TenantScoped};
use crate::domain::{ContactId, MessageId, TenantId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MediaRecord {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub contact_id: ContactId,
    pub message_id: MessageId,
    /// Which attachment of the message (0 for the first).
    pub part: i32,
    /// The sealed object's path in the media store; several rows share one when a contact sent
    /// the same file twice.
    pub object_key: String,
    /// HMAC-SHA256 (hex) of the plain bytes, keyed from the contact's data key.
    pub content_hash: String,
    /// The plain SHA-256 (hex), encrypted with the contact's key: listed in the export.
    pub sha256_enc: String,
    pub mime_type: String,
    pub size_bytes: i64,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait MediaOps: TenantScoped + Send {
    /// Records a stored attachment; false when the part was already recorded.
    async fn insert_media(&mut self, media: &MediaRecord) -> StoreResult<bool>;
    async fn media(&mut self, id: Uuid) -> StoreResult<Option<MediaRecord>>;
    async fn media_of_message(&mut self, message: MessageId) -> StoreResult<Vec<MediaRecord>>;
    /// An attachment of `contact` with the same keyed hash, to share its object.
    async fn media_with_hash(&mut self, contact: ContactId, hash: &str) -> StoreResult<Option<MediaRecord>>;
    async fn media_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<MediaRecord>>;
    /// Bytes of files this tenant stored since `since` (the daily cap).
    async fn media_bytes_since(&mut self, since: DateTime<Utc>) -> StoreResult<i64>;
    /// Gives a voice note its transcript as its text (and the meta that says so), once.
    async fn set_transcript(&mut self, message: MessageId, body_enc: &str, meta_enc: Option<&str>)
    -> StoreResult<bool>;
    /// Whether any row of this tenant names `object_key` (the sweeper keeps such objects).
    async fn media_object_known(&mut self, object_key: &str) -> StoreResult<bool>;
}

/// `MediaOps` SQL, the same on both backends. Every statement names its tenant.
macro_rules! media_ops_impl {
    ($ty:ty, time = $time:path) => {
        #[async_trait::async_trait]
        impl $crate::store::MediaOps for $ty {
            async fn insert_media(&mut self, m: &$crate::store::MediaRecord) -> StoreResult<bool> {
                let done = sqlx::query("INSERT INTO media_objects (id, tenant_id, contact_id, message_id, part, object_key, content_hash, sha256_enc, mime_type, size_bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING")
                    .bind(m.id).bind(self.tenant).bind(m.contact_id).bind(m.message_id).bind(m.part).bind(&m.object_key)
                    .bind(&m.content_hash).bind(&m.sha256_enc).bind(&m.mime_type).bind(m.size_bytes).bind($time(m.created_at))
                    .execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn media(&mut self, id: uuid::Uuid) -> StoreResult<Option<$crate::store::MediaRecord>> {
                Ok(sqlx::query_as("SELECT * FROM media_objects WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant).bind(id).fetch_optional(&mut *self.tx).await?)
            }

            async fn media_of_message(&mut self, message: MessageId) -> StoreResult<Vec<$crate::store::MediaRecord>> {
                Ok(sqlx::query_as("SELECT * FROM media_objects WHERE tenant_id = $1 AND message_id = $2 ORDER BY part")
                    .bind(self.tenant).bind(message).fetch_all(&mut *self.tx).await?)
            }

            async fn media_with_hash(&mut self, contact: ContactId, hash: &str) -> StoreResult<Option<$crate::store::MediaRecord>> {
                Ok(sqlx::query_as("SELECT * FROM media_objects WHERE tenant_id = $1 AND contact_id = $2 AND content_hash = $3 ORDER BY created_at LIMIT 1")
                    .bind(self.tenant).bind(contact).bind(hash).fetch_optional(&mut *self.tx).await?)
            }

            async fn media_of_contact(&mut self, contact: ContactId) -> StoreResult<Vec<$crate::store::MediaRecord>> {
                Ok(sqlx::query_as("SELECT * FROM media_objects WHERE tenant_id = $1 AND contact_id = $2 ORDER BY created_at, part")
                    .bind(self.tenant).bind(contact).fetch_all(&mut *self.tx).await?)
            }

            async fn media_bytes_since(&mut self, since: DateTime<Utc>) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM media_objects WHERE tenant_id = $1 AND created_at >= $2")
                    .bind(self.tenant).bind($time(since)).fetch_one(&mut *self.tx).await?)
            }

            async fn set_transcript(&mut self, message: MessageId, body_enc: &str, meta_enc: Option<&str>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE messages SET body_enc = $3, meta_enc = $4 WHERE tenant_id = $1 AND id = $2 AND body_enc IS NULL")
                    .bind(self.tenant).bind(message).bind(body_enc).bind(meta_enc).execute(&mut *self.tx).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn media_object_known(&mut self, object_key: &str) -> StoreResult<bool> {
                let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM media_objects WHERE tenant_id = $1 AND object_key = $2")
                    .bind(self.tenant).bind(object_key).fetch_one(&mut *self.tx).await?;
                Ok(found > 0)
            }
        }
    };
}
