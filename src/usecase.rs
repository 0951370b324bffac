//! The error every use case (FAQ, tickets, settings, users, auth) returns, by kind: what the
//! caller can fix, what is missing or not theirs, what is not allowed, what clashes, and our
//! own faults. The API and the dashboard map it (`From<UseCaseError>`); a fault is never a 4xx.
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// The input is invalid; `code` is the stable error code the API answers with.
    #[error("{detail}")]
    Invalid { code: &'static str, detail: String },
    /// No such record in the tenant.
    #[error("{detail}")]
    NotFound { code: &'static str, detail: String },
    /// The actor may not do this (e.g. a limit only the operator sets).
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    /// The record is not in a state that allows it.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// A broken invariant or an unavailable resource on our side; logged, answered opaquely.
    #[error("{0}")]
    Fault(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UseCaseError {
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Invalid { code, detail: detail.into() }
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::NotFound { code, detail: detail.into() }
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Forbidden { code, detail: detail.into() }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict { code, detail: detail.into() }
    }
}

pub type UseCaseResult<T> = Result<T, UseCaseError>;
