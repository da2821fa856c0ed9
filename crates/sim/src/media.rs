//! Media: `GET /{version}/{media-id}` (the URL and facts of a file), the download URL it hands out,
//! `DELETE /{version}/{media-id}`, and `POST /{version}/{phone-number-id}/media` (multipart upload).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::{authorize_number, check_version, numbers_of};
use crate::error::GraphError;
use crate::state::{new_numeric_id, SimHandle};

/// A stored file.
#[derive(Clone, Debug)]
pub(crate) struct MediaItem {
    pub bytes: Bytes,
    pub mime_type: String,
    pub filename: Option<String>,
    /// The business number it belongs to (uploaded by it, or sent to it by a customer).
    pub phone_number_id: String,
}

/// What the sim tells about a stored file (the shape of Meta's answer, minus the URL).
#[derive(Clone, Debug, Serialize)]
pub struct MediaInfo {
    pub id: String,
    pub mime_type: String,
    /// Hex SHA-256, as `GET /{media-id}` gives it.
    pub sha256: String,
    /// Base64 SHA-256, as webhooks give it.
    pub sha256_base64: String,
    pub file_size: usize,
    pub filename: Option<String>,
    pub phone_number_id: String,
}

impl MediaItem {
    fn info(&self, id: &str) -> MediaInfo {
        let digest = Sha256::digest(&self.bytes);
        MediaInfo {
            id: id.to_owned(),
            mime_type: self.mime_type.clone(),
            sha256: hex::encode(digest),
            sha256_base64: STANDARD.encode(digest),
            file_size: self.bytes.len(),
            filename: self.filename.clone(),
            phone_number_id: self.phone_number_id.clone(),
        }
    }
}

impl SimHandle {
    /// Stores a file for a business number and returns its media id (what an upload does).
    pub fn add_media(&self, phone_number_id: &str, bytes: impl Into<Bytes>, mime_type: &str, filename: Option<&str>) -> MediaInfo {
        let id = new_numeric_id();
        let item = MediaItem {
            bytes: bytes.into(),
            mime_type: mime_type.to_owned(),
            filename: filename.map(str::to_owned),
            phone_number_id: phone_number_id.to_owned(),
        };
        let info = item.info(&id);
        self.lock().media.insert(id, item);
        info
    }

    pub fn media_info(&self, media_id: &str) -> Option<MediaInfo> {
        self.lock().media.get(media_id).map(|m| m.info(media_id))
    }

    /// The bytes of a stored file.
    pub fn media_bytes(&self, media_id: &str) -> Option<Bytes> {
        self.lock().media.get(media_id).map(|m| m.bytes.clone())
    }

    /// The download URL `GET /{media-id}` hands out.
    pub fn media_url(&self, media_id: &str) -> String {
        format!("{}/lookaside/whatsapp_business/attachments?mid={media_id}&source=getMedia", self.base_url())
    }
}

fn find_media(sim: &SimHandle, headers: &HeaderMap, q: &HashMap<String, String>, media_id: &str, method: &str) -> Result<(), GraphError> {
    let numbers = numbers_of(sim, headers, q.get("access_token").map(String::as_str))?;
    let owner = sim.lock().media.get(media_id).map(|m| m.phone_number_id.clone());
    let allowed = owner
        .is_some_and(|owner| numbers.iter().any(|n| n.phone_number_id == owner) && q.get("phone_number_id").is_none_or(|p| *p == owner));
    if allowed {
        Ok(())
    } else {
        Err(GraphError::unknown_object(method, media_id))
    }
}

/// `GET /{version}/{media-id}`, and `GET /{version}/{phone-number-id}` (the number's facts), which
/// share the route.
pub(crate) async fn retrieve(
    State(sim): State<SimHandle>,
    Path((version, media_id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if sim.number(&media_id).is_some() {
        return phone_number(&sim, &version, &media_id, &q, &headers).unwrap_or_else(IntoResponse::into_response);
    }
    if let Err(e) = check_version(&version).and_then(|()| find_media(&sim, &headers, &q, &media_id, "get")) {
        return e.into_response();
    }
    match sim.media_info(&media_id) {
        Some(info) => Json(json!({
            "messaging_product": "whatsapp",
            "url": sim.media_url(&media_id),
            "mime_type": info.mime_type,
            "sha256": info.sha256,
            "file_size": info.file_size.to_string(),
            "id": info.id,
        }))
        .into_response(),
        None => GraphError::unknown_object("get", &media_id).into_response(),
    }
}

/// `GET /{version}/{phone-number-id}`: the default fields, plus `code_verification_status` and
/// `name_status` when asked for (`fields=`).
fn phone_number(
    sim: &SimHandle,
    version: &str,
    phone_number_id: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, GraphError> {
    check_version(version)?;
    let n = authorize_number(sim, headers, q.get("access_token").map(String::as_str), phone_number_id, "get")?;
    let mut info = json!({
        "id": n.phone_number_id,
        "display_phone_number": n.display_number,
        "verified_name": n.verified_name,
        "quality_rating": "GREEN",
    });
    let fields = q.get("fields").map(String::as_str).unwrap_or_default();
    if fields.contains("code_verification_status") {
        info["code_verification_status"] = json!("VERIFIED");
    }
    if fields.contains("name_status") {
        info["name_status"] = json!("APPROVED");
    }
    Ok(Json(info).into_response())
}

/// `DELETE /{version}/{media-id}`.
pub(crate) async fn delete(
    State(sim): State<SimHandle>,
    Path((version, media_id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = check_version(&version).and_then(|()| find_media(&sim, &headers, &q, &media_id, "delete")) {
        return e.into_response();
    }
    sim.lock().media.remove(&media_id);
    Json(json!({"success": true})).into_response()
}

/// The download URL: the bytes, with the bearer token required as at Meta.
pub(crate) async fn download(State(sim): State<SimHandle>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    let Some(media_id) = q.get("mid") else {
        return GraphError::required("mid").into_response();
    };
    if let Err(e) = find_media(&sim, &headers, &q, media_id, "get") {
        return e.into_response();
    }
    let Some(item) = sim.lock().media.get(media_id).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut resp = item.bytes.into_response();
    let content_type = HeaderValue::from_str(&item.mime_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    resp.headers_mut().insert(header::CONTENT_TYPE, content_type);
    if let Some(name) = item.filename.as_deref().and_then(|n| HeaderValue::from_str(&format!("attachment; filename=\"{n}\"")).ok()) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, name);
    }
    resp
}

/// `POST /{version}/{phone-number-id}/media`: form fields `messaging_product`, `file`, optional `type`.
pub(crate) async fn upload(
    State(sim): State<SimHandle>,
    Path((version, phone_number_id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let number = match check_version(&version)
        .and_then(|()| authorize_number(&sim, &headers, q.get("access_token").map(String::as_str), &phone_number_id, "post"))
    {
        Ok(n) => n.phone_number_id.clone(),
        Err(e) => return e.into_response(),
    };
    let Ok(mut multipart) = multipart else {
        return GraphError::invalid_param("the body must be multipart/form-data with the fields messaging_product and file")
            .into_response();
    };
    let mut product = None;
    let mut declared_type = None;
    let mut file: Option<(Bytes, Option<String>, Option<String>)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return GraphError::invalid_param(format!("malformed multipart body: {e}")).into_response(),
        };
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                let content_type = field.content_type().map(str::to_owned);
                let filename = field.file_name().map(str::to_owned);
                match field.bytes().await {
                    Ok(b) => file = Some((b, content_type, filename)),
                    Err(e) => return GraphError::invalid_param(format!("file: {e}")).into_response(),
                }
            }
            "messaging_product" => product = field.text().await.ok(),
            "type" => declared_type = field.text().await.ok(),
            _ => {}
        }
    }
    if product.as_deref() != Some("whatsapp") {
        return GraphError::required("messaging_product").into_response();
    }
    let Some((bytes, content_type, filename)) = file else {
        return GraphError::required("file").into_response();
    };
    let Some(mime) = declared_type.or(content_type).filter(|m| m.contains('/')) else {
        return GraphError::invalid_param("type: the file's MIME type is required (the `type` field or the file part's Content-Type)")
            .into_response();
    };
    let info = sim.add_media(&number, bytes, &mime, filename.as_deref());
    Json(json!({ "id": info.id })).into_response()
}

/// A shared, cheap copy of sample bytes.
pub(crate) fn sample_bytes(bytes: &'static [u8]) -> Bytes {
    Bytes::from_static(bytes)
}
