//! The providers' media downloads, served by the fake providers' server:
//! - Meta: `GET /{version}/{media-id}` (Bearer) describes a file with a link that expires
//!   (`expire_links`: 404 afterwards, like Meta's after 5 minutes); `GET /meta-cdn/{link}`
//!   (Bearer) serves it.
//! - Twilio: `GET /2010-04-01/Accounts/{AC}/Messages/{MM}/Media/{ME}` (Basic) redirects with
//!   307 to its CDN, a different host (`localhost` instead of `127.0.0.1`), which serves it.
//! - Fonnte: `GET /fonnte-files/{name}`, without credentials.
//! - Meta uploads: `POST /{version}/{phone-number-id}/media` (multipart, Bearer) answers an id; a
//!   media message must name an uploaded id or a link, else it fails with 131053.
//!
//! Every download request is recorded with its host and whether it carried `Authorization`.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

/// One request for media, as the fake saw it.
#[derive(Debug, Clone)]
pub struct MediaRequest {
    pub path: String,
    pub host: String,
    pub authorization: Option<String>,
}

/// A file the fake serves.
#[derive(Clone)]
struct File {
    key: String,
    mime: String,
    bytes: Bytes,
    /// Meta's lookup may point elsewhere (a foreign host, for the guard's tests).
    link_override: Option<String>,
}

#[derive(Default)]
pub struct MediaFiles {
    files: Mutex<Vec<File>>,
    /// Issued Meta links: (link id, file key, still valid).
    links: Mutex<Vec<(String, String, bool)>>,
    requests: Mutex<Vec<MediaRequest>>,
    counter: AtomicU64,
    /// This server's port, for the Twilio CDN redirect to `localhost`.
    port: Mutex<u16>,
    /// Uploaded to Meta: (id, the upload's MIME type, its size in bytes).
    uploads: Mutex<Vec<(String, String, usize)>>,
}

/// Meta's "media upload error", for a media message naming no uploaded id.
const MEDIA_UPLOAD_ERROR: i64 = 131053;
const MEDIA_TYPES: [&str; 5] = ["image", "audio", "video", "document", "sticker"];

impl MediaFiles {
    pub fn set_port(&self, port: u16) {
        if let Ok(mut p) = self.port.lock() {
            *p = port;
        }
    }

    fn put(&self, key: &str, mime: &str, bytes: &[u8], link_override: Option<String>) {
        if let Ok(mut files) = self.files.lock() {
            files.retain(|f| f.key != key);
            let bytes = Bytes::copy_from_slice(bytes);
            files.push(File { key: key.to_string(), mime: mime.to_string(), bytes, link_override });
        }
    }

    /// A file under a Meta media id; returns its SHA-256 as Meta writes it (base64).
    pub fn put_meta(&self, media_id: &str, mime: &str, bytes: &[u8]) -> String {
        self.put(&format!("meta:{media_id}"), mime, bytes, None);
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    }

    /// A Meta media id whose lookup answers a download link of `link` (any host).
    pub fn put_meta_linking(&self, media_id: &str, mime: &str, link: &str) {
        self.put(&format!("meta:{media_id}"), mime, b"", Some(link.to_string()));
    }

    /// A file under a Twilio media SID (`ME…`).
    pub fn put_twilio(&self, media_sid: &str, mime: &str, bytes: &[u8]) {
        self.put(&format!("twilio:{media_sid}"), mime, bytes, None);
    }

    pub fn put_fonnte(&self, name: &str, mime: &str, bytes: &[u8]) {
        self.put(&format!("fonnte:{name}"), mime, bytes, None);
    }

    /// Every Meta link issued so far stops working (404), as after Meta's 5 minutes.
    pub fn expire_links(&self) {
        if let Ok(mut links) = self.links.lock() {
            links.iter_mut().for_each(|l| l.2 = false);
        }
    }

    /// What was uploaded to Meta: (id, MIME type, bytes).
    pub fn uploads(&self) -> Vec<(String, String, usize)> {
        self.uploads.lock().map(|u| u.clone()).unwrap_or_default()
    }

    /// The error a Meta media message gets: one naming neither an uploaded id nor a link.
    pub fn refused_send(&self, body: &serde_json::Value) -> Option<i64> {
        let kind = body["type"].as_str().filter(|k| MEDIA_TYPES.contains(k))?;
        let media = &body[kind];
        if media["link"].is_string() {
            return None;
        }
        let id = media["id"].as_str().unwrap_or_default();
        let uploaded = self.uploads.lock().ok().is_some_and(|u| u.iter().any(|(known, _, _)| known == id));
        (!uploaded).then_some(MEDIA_UPLOAD_ERROR)
    }

    pub fn requests(&self) -> Vec<MediaRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn file(&self, key: &str) -> Option<File> {
        self.files.lock().ok()?.iter().find(|f| f.key == key).cloned()
    }

    fn note(&self, path: String, headers: &HeaderMap) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
        let authorization = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).map(str::to_string);
        if let Ok(mut r) = self.requests.lock() {
            r.push(MediaRequest { path, host, authorization });
        }
    }
}

pub fn router(files: Arc<MediaFiles>) -> Router {
    Router::new()
        .route("/{version}/{media_id}", get(meta_lookup))
        .route("/{version}/{media_id}/media", axum::routing::post(meta_upload))
        .route("/meta-cdn/{link}", get(meta_download))
        .route("/2010-04-01/Accounts/{sid}/Messages/{message}/Media/{media}", get(twilio_media))
        .route("/twilio-cdn/{media}", get(twilio_cdn))
        .route("/fonnte-files/{name}", get(fonnte_file))
        .with_state(files)
}

fn graph_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, axum::Json(json!({ "error": { "message": message, "type": "OAuthException", "code": code } })))
        .into_response()
}

fn serve(file: &File) -> Response {
    ([(header::CONTENT_TYPE, file.mime.clone())], file.bytes.clone()).into_response()
}

async fn meta_lookup(
    State(files): State<Arc<MediaFiles>>,
    Path((_version, media_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    files.note(format!("/lookup/{media_id}"), &headers);
    if !headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).is_some_and(|a| a.starts_with("Bearer ")) {
        return graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token.");
    }
    let Some(file) = files.file(&format!("meta:{media_id}")) else {
        return graph_error(StatusCode::BAD_REQUEST, 100, "Unsupported get request.");
    };
    let link = format!("l{}", files.counter.fetch_add(1, Ordering::Relaxed));
    if let Ok(mut links) = files.links.lock() {
        links.push((link.clone(), file.key.clone(), true));
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let url = file.link_override.clone().unwrap_or_else(|| format!("http://{host}/meta-cdn/{link}"));
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&file.bytes));
    axum::Json(json!({
        "messaging_product": "whatsapp", "url": url, "mime_type": file.mime, "sha256": sha,
        "file_size": file.bytes.len().to_string(), "id": media_id,
    }))
    .into_response()
}

/// A multipart upload: `messaging_product=whatsapp` and a `file` part with its type.
async fn meta_upload(State(files): State<Arc<MediaFiles>>, headers: HeaderMap, body: Bytes) -> Response {
    files.note("/upload".into(), &headers);
    if !headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).is_some_and(|a| a.starts_with("Bearer ")) {
        return graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token.");
    }
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    let text = String::from_utf8_lossy(&body);
    let product = text.contains("name=\"messaging_product\"") && text.contains("whatsapp");
    let file_type = text.split("name=\"file\"").last().and_then(|rest| {
        let line = rest.lines().find(|l| l.to_ascii_lowercase().starts_with("content-type:"))?;
        Some(line.split_once(':')?.1.trim().to_string())
    });
    let (true, true, Some(mime)) = (multipart, product, file_type) else {
        return graph_error(StatusCode::BAD_REQUEST, 100, "Param file must be a file with one of the supported types.");
    };
    let id = format!("UP{}", files.counter.fetch_add(1, Ordering::Relaxed));
    if let Ok(mut uploads) = files.uploads.lock() {
        uploads.push((id.clone(), mime, body.len()));
    }
    axum::Json(json!({ "id": id })).into_response()
}

async fn meta_download(State(files): State<Arc<MediaFiles>>, Path(link): Path<String>, headers: HeaderMap) -> Response {
    files.note(format!("/meta-cdn/{link}"), &headers);
    if headers.get(header::AUTHORIZATION).is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let key = files
        .links
        .lock()
        .ok()
        .and_then(|l| l.iter().find(|(id, _, valid)| *id == link && *valid).map(|l| l.1.clone()));
    match key.and_then(|k| files.file(&k)) {
        Some(file) => serve(&file),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn twilio_media(
    State(files): State<Arc<MediaFiles>>,
    Path((_sid, _message, media)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    files.note(format!("/twilio/{media}"), &headers);
    if !headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).is_some_and(|a| a.starts_with("Basic ")) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if files.file(&format!("twilio:{media}")).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let port = files.port.lock().map(|p| *p).unwrap_or_default();
    Redirect::temporary(&format!("http://localhost:{port}/twilio-cdn/{media}")).into_response()
}

async fn twilio_cdn(State(files): State<Arc<MediaFiles>>, Path(media): Path<String>, headers: HeaderMap) -> Response {
    files.note(format!("/twilio-cdn/{media}"), &headers);
    match files.file(&format!("twilio:{media}")) {
        Some(file) => serve(&file),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn fonnte_file(State(files): State<Arc<MediaFiles>>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    files.note(format!("/fonnte-files/{name}"), &headers);
    match files.file(&format!("fonnte:{name}")) {
        Some(file) => serve(&file),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
