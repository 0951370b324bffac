//! `application/x-www-form-urlencoded` bodies: small (else a 413 page), each field once;
//! anything else is a 400 page.
use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};

use super::PageError;
use super::session::Session;
use crate::app::AppState;
use crate::ingress::read_body;

/// A reply text or FAQ answer at most, with room for the other fields.
pub const MAX_FORM_BYTES: usize = 32 * 1024;

pub struct Form {
    fields: HashMap<String, String>,
}

impl Form {
    pub async fn read(headers: &HeaderMap, body: Body) -> Result<Self, PageError> {
        let form_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form_type {
            return Err(PageError::bad_request());
        }
        // Oversized is a 413 like the API's; an unreadable body a 400.
        let raw = read_body(headers, body, MAX_FORM_BYTES).await.map_err(|e| {
            if e.status == StatusCode::PAYLOAD_TOO_LARGE { PageError::too_large() } else { PageError::bad_request() }
        })?;
        Self::parse(&raw)
    }

    /// Refuses bytes that are not UTF-8 after decoding and fields given twice.
    pub fn parse(raw: &[u8]) -> Result<Self, PageError> {
        let mut fields = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(raw) {
            if key.contains('\u{FFFD}') || value.contains('\u{FFFD}') {
                return Err(PageError::bad_request());
            }
            if fields.insert(key.into_owned(), value.into_owned()).is_some() {
                return Err(PageError::bad_request());
            }
        }
        Ok(Self { fields })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A field the form always sends: missing is a malformed request.
    pub fn required(&self, name: &str) -> Result<&str, PageError> {
        self.get(name).ok_or_else(PageError::bad_request)
    }
}

/// A signed-in reader's form whose CSRF token was checked: a handler that takes it cannot
/// forget the check (the CSRF refusal comes before any role check).
pub struct CheckedForm {
    pub session: Session,
    pub form: Form,
}

impl axum::extract::FromRequest<AppState> for CheckedForm {
    type Rejection = PageError;

    async fn from_request(request: axum::extract::Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        let session =
            <Session as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, state).await?;
        let form = Form::read(&parts.headers, body).await?;
        session.check_csrf(&form)?;
        Ok(Self { session, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_bad_bytes_are_refused() {
        assert_eq!(Form::parse(b"a=1&b=x+y").unwrap().get("b"), Some("x y"));
        assert!(Form::parse(b"a=1&a=2").is_err());
        assert!(Form::parse(b"a=%FF").is_err());
        assert!(Form::parse(b"a=1").unwrap().required("b").is_err());
    }
}
