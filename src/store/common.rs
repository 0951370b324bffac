//! The transaction itself, the same on both backends: its tenant, commit and savepoints. The
//! aggregate traits it joins are each written once in their own `*_sql.rs` macro and expanded
//! for each backend, which passes its transaction type, how it binds a timestamp, and the few
//! methods whose SQL differs (`$specific`).
//!
//! Every query names its tenant (`tenant_id = $1`), on SQLite because there is no RLS and on
//! PostgreSQL as a second fence next to it.

macro_rules! tenant_tx_impl {
    ($ty:ty) => {
        impl $crate::store::TenantScoped for $ty {
            fn tenant_id(&self) -> TenantId {
                self.tenant
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::TenantTx for $ty {
            async fn commit(self: Box<Self>) -> StoreResult<()> {
                Ok(self.tx.commit().await?)
            }

            async fn savepoint(&mut self) -> StoreResult<()> {
                sqlx::query("SAVEPOINT balas_savepoint").execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn rollback_to_savepoint(&mut self) -> StoreResult<()> {
                sqlx::query("ROLLBACK TO SAVEPOINT balas_savepoint").execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn release_savepoint(&mut self) -> StoreResult<()> {
                sqlx::query("RELEASE SAVEPOINT balas_savepoint").execute(&mut *self.tx).await?;
                Ok(())
            }
        }
    };
}
