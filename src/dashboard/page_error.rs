//! Errors as HTML pages (in both languages, since some come before we know the reader's), or
//! as a redirect (to the login or unlock page). Internal causes are logged by `ApiError`.
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use crate::error::ApiError;

#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub indonesian: String,
    pub english: String,
    /// Answer with a 303 to here instead of a page.
    pub redirect: Option<&'static str>,
}

impl PageError {
    pub fn new(status: StatusCode, indonesian: impl Into<String>, english: impl Into<String>) -> Self {
        Self { status, indonesian: indonesian.into(), english: english.into(), redirect: None }
    }

    pub fn redirect(to: &'static str) -> Self {
        Self { redirect: Some(to), ..Self::new(StatusCode::SEE_OTHER, "", "") }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Halaman atau data tidak ditemukan.", "Page or record not found.")
    }

    pub fn bad_request() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Permintaan tidak valid.", "Malformed request.")
    }

    pub fn too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Isian formulir terlalu panjang.", "The form is too large.")
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Anda tidak punya akses ke halaman ini.", "You may not open this page.")
    }

    /// A missing or wrong CSRF token: nothing was changed.
    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Formulir kedaluwarsa atau tidak sah; muat ulang halaman lalu coba lagi.",
            "The form expired or is not valid; reload the page and try again.",
        )
    }
}

/// 4xx details are ours and safe to show; a 500's cause stays in the log.
impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        match e.status {
            StatusCode::NOT_FOUND => Self::not_found(),
            StatusCode::FORBIDDEN => Self::forbidden(),
            StatusCode::UNAUTHORIZED => Self::redirect("/dashboard/login"),
            StatusCode::TOO_MANY_REQUESTS => {
                Self::new(e.status, "Terlalu banyak permintaan; tunggu sebentar.", "Too many requests; wait a moment.")
            }
            s if s.is_client_error() => Self::new(s, e.detail.clone(), e.detail),
            s => Self::new(
                s,
                "Terjadi kesalahan di pihak kami; coba lagi.",
                "Something went wrong on our side; try again.",
            ),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let Some(to) = self.redirect {
            return Redirect::to(to).into_response();
        }
        let markup = html! {
            (maud::DOCTYPE)
            html lang="id" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { "balas" }
                    link rel="stylesheet" href="/dashboard/assets/style.css";
                }
                body {
                    main.narrow {
                        h1 { (self.status.as_u16()) }
                        p.error { (self.indonesian) }
                        p.error lang="en" { (self.english) }
                        p { a href="/dashboard" { "← Dasbor / Dashboard" } }
                    }
                }
            }
        };
        let mut response = (self.status, markup).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/html; charset=utf-8"));
        response
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<crate::usecase::UseCaseError> for PageError {
    fn from(e: crate::usecase::UseCaseError) -> Self {
        ApiError::from(e).into()
    }
}
