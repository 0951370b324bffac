//! `POST /dashboard/tickets/{id}/file`: a photo or document attached to a reply from the ticket
//! page, as `multipart/form-data` in the form's order (CSRF token, caption, file). The bytes
//! stream into the sealed media store (`owner::attach`); a refusal comes back on the page.
use axum::Router;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::response::Response;
use axum::routing::post;

use super::PageError;
use super::session::{CSRF_FIELD, Session};
use crate::app::AppState;
use crate::domain::EscalationId;
use crate::owner::attach::{Attached, Chunks, send_file};

/// WhatsApp's largest file (a 100 MB document) and the form's other fields; the use case holds
/// each file to its own kind's limit and ours while it streams.
const MAX_UPLOAD_BYTES: usize = 101 * 1024 * 1024;
/// The CSRF token and the caption, at most.
const MAX_TEXT_FIELD_BYTES: usize = 8 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/dashboard/tickets/{id}/file", post(attach)).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
}

async fn attach(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let mut multipart = multipart.map_err(|_| PageError::bad_request())?;
    // The CSRF refusal comes before any role check, as for every other form.
    let csrf = text_field(&mut multipart, CSRF_FIELD).await?;
    session.check_csrf_token(&csrf)?;
    session.require_content()?;
    let id: EscalationId = id.parse().map_err(|_| PageError::not_found())?;
    let caption = text_field(&mut multipart, "caption").await?;
    let field = multipart.next_field().await.map_err(|_| PageError::bad_request())?;
    let Some(field) = field.filter(|f| f.name() == Some("file")) else { return Err(PageError::bad_request()) };
    let mime_type = declared_type(&field);
    let mut chunks = FieldChunks(field);
    let file = Attached { mime_type: &mime_type, caption: &caption, chunks: &mut chunks };
    super::inbox::back_to_ticket(id, "file", send_file(&state, &session.caller, &session.actor(), id, file).await)
}

/// The next field, which must be `name`, as text.
async fn text_field(multipart: &mut Multipart, name: &str) -> Result<String, PageError> {
    let field = multipart.next_field().await.map_err(|_| PageError::bad_request())?;
    let Some(mut field) = field.filter(|f| f.name() == Some(name)) else { return Err(PageError::bad_request()) };
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| PageError::bad_request())? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_TEXT_FIELD_BYTES {
            return Err(PageError::too_large());
        }
    }
    String::from_utf8(bytes).map_err(|_| PageError::bad_request())
}

/// The browser's type for the file, or the one its name's extension says when the browser
/// sent none or a generic one.
fn declared_type(field: &Field<'_>) -> String {
    let sent = field.content_type().filter(|t| *t != "application/octet-stream");
    let by_name = || {
        let extension = field.file_name()?.rsplit_once('.')?.1.to_ascii_lowercase();
        crate::media::mime_of_extension(&extension)
    };
    sent.or_else(by_name).unwrap_or("application/octet-stream").to_string()
}

struct FieldChunks<'a>(Field<'a>);

#[async_trait::async_trait]
impl Chunks for FieldChunks<'_> {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, &'static str> {
        match self.0.chunk().await {
            Ok(chunk) => Ok(chunk.map(|c| c.to_vec())),
            Err(_) => Err("upload_broken"),
        }
    }
}
