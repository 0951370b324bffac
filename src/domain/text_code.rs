//! Enums stored as short TEXT codes: one table of variant ⇄ code per enum generates `as_str`,
//! the strict parser, `Display`, `Serialize` and the sqlx `Type`/`Encode`/`Decode` impls, so
//! records hold the enum.

/// `text_code!(Enum, parse_fn; Variant => "code", …)` gives `Enum::as_str`, the strict
/// `Enum::parse_fn(&str) -> Option<Enum>` and TEXT encoding for every sqlx database. An unknown
/// code fails to decode (a `StoreError`), unless a trailing `else Variant` names the variant
/// that takes every unknown code (written back as `"unknown"`).
macro_rules! text_code {
    ($name:ident, $parse:ident; $($variant:ident => $code:literal),+ $(,)? $(; else $fallback:ident)?) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                    $(Self::$fallback => "unknown",)?
                }
            }

            pub fn $parse(raw: &str) -> Option<Self> {
                match raw {
                    $($code => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        $crate::domain::text_code::text_sqlx!($name, |raw| {
            let known = $name::$parse(raw);
            $(let known = known.or(Some($name::$fallback));)?
            known
        });
    };
}

/// TEXT encoding for every sqlx database of an enum with `as_str`, decoded by `decode`; for
/// enums whose variants carry data, where `text_code!` cannot write the table.
macro_rules! text_sqlx {
    ($name:ident, $decode:expr) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        /// JSON (API bodies, exports, audit details) carries the same code as the column.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let raw = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                let known: fn(&str) -> Option<$name> = $decode;
                let known = known(raw);
                // The code itself stays out of the error: only which column type broke.
                known.ok_or_else(|| concat!("not a known ", stringify!($name), " code").into())
            }
        }
    };
}

pub(crate) use {text_code, text_sqlx};

#[cfg(test)]
mod tests {
    use crate::domain::{Direction, TicketStatus};
    use crate::jobs::JobKind;
    use crate::store::StoreError;

    async fn decode<T>(code: &str) -> Result<T, StoreError>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + Send + Unpin,
    {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
        Ok(sqlx::query_scalar::<_, T>("SELECT $1").bind(code).fetch_one(&pool).await?)
    }

    #[tokio::test]
    async fn known_codes_decode_and_an_unknown_one_is_a_store_error() {
        assert_eq!(decode::<Direction>("out").await.unwrap(), Direction::Out);
        assert_eq!(decode::<TicketStatus>("handed_back").await.unwrap(), TicketStatus::HandedBack);
        let broken = decode::<Direction>("sideways").await.unwrap_err();
        assert!(matches!(broken, StoreError::Database(sqlx::Error::ColumnDecode { .. })), "{broken:?}");
        assert!(!broken.to_string().contains("sideways"), "the stored value stays out of the error");
    }

    #[tokio::test]
    async fn an_unknown_job_kind_decodes_so_the_worker_can_dead_letter_it() {
        assert_eq!(decode::<JobKind>("send").await.unwrap(), JobKind::Send);
        assert_eq!(decode::<JobKind>("from_a_newer_release").await.unwrap(), JobKind::Unknown);
    }
}
