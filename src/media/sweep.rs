//! The sweeper: deletes a tenant's sealed objects that no row names, left by a crash between
//! upload and commit, by retention (which deletes rows only) or by an erasure whose object
//! deletion failed. An object younger than `GRACE` may belong to a fetch still recording it;
//! its age is read from its name (a UUIDv7, stamped by the clock when it was written).
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{MediaStorage, StorageError};
use crate::core::Core;
use crate::domain::TenantId;
use crate::store::StoreError;

const GRACE: Duration = Duration::hours(1);

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A fresh object id, stamped with `now` (the sweeper reads its age from it).
pub fn object_id(now: DateTime<Utc>) -> Uuid {
    let seconds = u64::try_from(now.timestamp()).unwrap_or_default();
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, seconds, now.timestamp_subsec_nanos()))
}

/// Deletes the tenant's unnamed objects older than the grace period; returns how many.
pub async fn sweep_tenant(core: &Core, tenant: TenantId, now: DateTime<Utc>) -> Result<u64, SweepError> {
    let storage = &core.media.storage;
    let mut deleted = 0;
    for path in storage.list(&MediaStorage::tenant_prefix(tenant)).await? {
        if !old_enough(&path, now) {
            continue;
        }
        let mut tx = core.store.begin(tenant).await?;
        let known = tx.media_object_known(&path).await?;
        tx.commit().await?;
        if !known {
            storage.delete(&path).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Whether the object was written before the grace period (a name that is not ours: yes).
fn old_enough(path: &str, now: DateTime<Utc>) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((seconds, nanos)) = Uuid::parse_str(name).ok().and_then(|id| id.get_timestamp()).map(|t| t.to_unix())
    else {
        return true;
    };
    let written = DateTime::from_timestamp(i64::try_from(seconds).unwrap_or(i64::MAX), nanos).unwrap_or_default();
    written < now - GRACE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_old_by_the_time_in_its_name() {
        let now = Utc::now();
        let fresh = format!("m/t/c/{}", object_id(now - Duration::minutes(5)));
        let stale = format!("m/t/c/{}", object_id(now - Duration::hours(2)));
        assert!(!old_enough(&fresh, now));
        assert!(old_enough(&stale, now));
        assert!(old_enough("m/t/c/not-a-uuid", now));
    }
}
