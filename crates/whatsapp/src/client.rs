//! A client for the Cloud API endpoints the desk calls, with a configurable base URL (Meta's Graph API,
//! or the simulator) and version.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::errors::{classify, ErrorClass};

/// Where and how to reach the Cloud API.
#[derive(Clone, Debug)]
pub struct CloudApi {
    http: reqwest::Client,
    base_url: String,
    version: String,
}

/// Why a call failed, with Meta's code when the body had one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{title}{}", details.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct ApiError {
    /// `None` when no HTTP answer came (timeout, connection refused).
    pub http_status: Option<u16>,
    pub code: Option<i64>,
    pub title: String,
    pub details: Option<String>,
    pub class: ErrorClass,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorObject,
}

#[derive(Debug, Deserialize)]
struct ErrorObject {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Debug, Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SendResponse {
    messages: Vec<SentMessage>,
}

#[derive(Debug, Deserialize)]
struct SentMessage {
    id: String,
}

impl CloudApi {
    /// `base_url` without a trailing slash, e.g. `https://graph.facebook.com`; `version` e.g. `v23.0`.
    pub fn new(base_url: &str, version: &str, timeout: Duration) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| ApiError {
                http_status: None,
                code: None,
                title: format!("cannot build HTTP client: {e}"),
                details: None,
                class: ErrorClass::Permanent { auth: false },
            })?;
        Ok(CloudApi { http, base_url: base_url.trim_end_matches('/').to_owned(), version: version.trim_matches('/').to_owned() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}/{}", self.base_url, self.version, path.trim_start_matches('/'))
    }

    /// `POST /{version}/{phone_number_id}/messages`: returns the wamid Meta assigned.
    pub async fn send_message(&self, phone_number_id: &str, access_token: &str, body: &str) -> Result<String, ApiError> {
        let response = self
            .http
            .post(self.url(&format!("{phone_number_id}/messages")))
            .bearer_auth(access_token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        let (status, bytes) = successful(response).await?;
        let parsed: SendResponse = serde_json::from_slice(&bytes).map_err(|e| ApiError {
            http_status: Some(status.as_u16()),
            code: None,
            title: format!("unexpected answer from the Cloud API: {e}"),
            details: None,
            class: ErrorClass::Transient,
        })?;
        parsed.messages.into_iter().next().map(|m| m.id).ok_or_else(|| ApiError {
            http_status: Some(status.as_u16()),
            code: None,
            title: "the Cloud API answered without a message id".into(),
            details: None,
            class: ErrorClass::Transient,
        })
    }
}

impl CloudApi {
    /// `POST /{version}/{phone_number_id}/messages` with `"status": "read"`: marks the customer's
    /// message `wamid` (and every earlier one) read, showing them blue ticks; with `typing`, also
    /// shows them a typing indicator (`"typing_indicator": {"type": "text"}`), which WhatsApp
    /// dismisses when the business answers or after 25 seconds.
    pub async fn mark_read(&self, phone_number_id: &str, access_token: &str, wamid: &str, typing: bool) -> Result<(), ApiError> {
        let mut body = serde_json::json!({"messaging_product": "whatsapp", "status": "read", "message_id": wamid});
        if typing {
            body["typing_indicator"] = serde_json::json!({"type": "text"});
        }
        let response = self
            .http
            .post(self.url(&format!("{phone_number_id}/messages")))
            .bearer_auth(access_token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        successful(response).await.map(|_| ())
    }
}

#[derive(Debug, Deserialize)]
struct UploadResponse {
    id: String,
}

impl CloudApi {
    /// `POST /{version}/{phone_number_id}/media` (multipart: `messaging_product`, `type`, `file`):
    /// uploads a file for this business number and returns Meta's media id, which a send then names.
    pub async fn upload_media(
        &self,
        phone_number_id: &str,
        access_token: &str,
        bytes: Vec<u8>,
        mime_type: &str,
        filename: &str,
    ) -> Result<String, ApiError> {
        let unexpected = |status: Option<u16>, why: String| ApiError {
            http_status: status,
            code: None,
            title: format!("unexpected answer to a media upload: {why}"),
            details: None,
            class: ErrorClass::Transient,
        };
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str(mime_type)
            .map_err(|e| ApiError { class: ErrorClass::Permanent { auth: false }, ..unexpected(None, e.to_string()) })?;
        let form =
            reqwest::multipart::Form::new().text("messaging_product", "whatsapp").text("type", mime_type.to_owned()).part("file", part);
        let response = self.http.post(self.url(&format!("{phone_number_id}/media"))).bearer_auth(access_token).multipart(form);
        let (status, bytes) = successful(response).await?;
        let parsed: UploadResponse = serde_json::from_slice(&bytes).map_err(|e| unexpected(Some(status.as_u16()), e.to_string()))?;
        Ok(parsed.id)
    }
}

/// `GET /{media-id}`: where to download a media file, and what it is.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct MediaInfo {
    pub url: String,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
}

impl CloudApi {
    /// `GET /{version}/{media_id}`.
    pub async fn media_info(&self, media_id: &str, access_token: &str) -> Result<MediaInfo, ApiError> {
        let (status, bytes) = successful(self.http.get(self.url(media_id)).bearer_auth(access_token)).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError {
            http_status: Some(status.as_u16()),
            code: None,
            title: format!("unexpected media answer from the Cloud API: {e}"),
            details: None,
            class: ErrorClass::Transient,
        })
    }

    /// Downloads the media URL that `media_info` returned (it needs the bearer token too). Refuses
    /// bodies larger than `max_bytes`.
    pub async fn download(&self, url: &str, access_token: &str, max_bytes: usize) -> Result<(Vec<u8>, Option<String>), ApiError> {
        let mut response = self.http.get(url).bearer_auth(access_token).send().await.map_err(network_error)?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.map_err(network_error)?;
            return Err(error_from_body(status.as_u16(), &bytes));
        }
        let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network_error)? {
            body.extend_from_slice(&chunk);
            if body.len() > max_bytes {
                return Err(ApiError {
                    http_status: Some(status.as_u16()),
                    code: None,
                    title: format!("the media file is larger than {max_bytes} bytes"),
                    details: None,
                    class: ErrorClass::Permanent { auth: false },
                });
            }
        }
        Ok((body, content_type))
    }
}

/// One page of `GET /{waba-id}/message_templates`.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplatePage {
    /// Template objects as Meta sent them.
    pub templates: Vec<Value>,
    /// The cursor of the next page, when Meta says there is one (`paging.next`).
    pub after: Option<String>,
}

impl CloudApi {
    /// `GET /{version}/{waba_id}/message_templates?limit=…&after=…`. The next page is requested with
    /// `paging.cursors.after` against this client's base URL (rather than by fetching `paging.next`,
    /// which names Meta's host), and only while Meta says a next page exists.
    pub async fn template_page(
        &self,
        waba_id: &str,
        access_token: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<TemplatePage, ApiError> {
        let mut query: Vec<(&str, String)> =
            vec![("limit", limit.to_string()), ("fields", "name,language,status,category,parameter_format,components,id".to_owned())];
        if let Some(after) = after {
            query.push(("after", after.to_owned()));
        }
        let response = self.http.get(self.url(&format!("{waba_id}/message_templates"))).bearer_auth(access_token).query(&query);
        let (status, bytes) = successful(response).await?;
        let unexpected = |why: String| ApiError {
            http_status: Some(status.as_u16()),
            code: None,
            title: format!("unexpected template list from the Cloud API: {why}"),
            details: None,
            class: ErrorClass::Transient,
        };
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| unexpected(e.to_string()))?;
        let templates = match body.get("data") {
            Some(Value::Array(items)) => items.clone(),
            _ => return Err(unexpected("no data array".into())),
        };
        let paging = body.get("paging");
        let after = paging
            .filter(|p| p.get("next").is_some_and(|n| !n.is_null()))
            .and_then(|p| p.get("cursors"))
            .and_then(|c| c.get("after"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(TemplatePage { templates, after })
    }
}

/// Sends a request and reads its whole answer; an HTTP error status becomes Meta's error, read from
/// the body.
async fn successful(request: reqwest::RequestBuilder) -> Result<(reqwest::StatusCode, bytes::Bytes), ApiError> {
    let response = request.send().await.map_err(network_error)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(network_error)?;
    if !status.is_success() {
        return Err(error_from_body(status.as_u16(), &bytes));
    }
    Ok((status, bytes))
}

fn network_error(e: reqwest::Error) -> ApiError {
    let title = if e.is_timeout() { "the Cloud API did not answer in time".to_owned() } else { format!("cannot reach the Cloud API: {e}") };
    ApiError { http_status: e.status().map(|s| s.as_u16()), code: None, title, details: None, class: classify(None, None) }
}

/// Reads Meta's error body (`{"error": {"code", "message", "error_data": {"details"}}}`).
pub fn error_from_body(http_status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => {
            let code = b.error.code;
            ApiError {
                http_status: Some(http_status),
                code,
                title: b.error.title.or(b.error.message).unwrap_or_else(|| format!("HTTP {http_status}")),
                details: b.error.error_data.and_then(|d| d.details),
                class: classify(code, Some(http_status)),
            }
        }
        Err(_) => ApiError {
            http_status: Some(http_status),
            code: None,
            title: format!("HTTP {http_status} from the Cloud API"),
            details: None,
            class: classify(None, Some(http_status)),
        },
    }
}

/// The send request for a free-form text reply.
pub fn text_message(to: crate::Recipient<'_>, body: &str) -> Value {
    let mut m = to.envelope();
    m.insert("type".into(), "text".into());
    m.insert("text".into(), json!({"preview_url": false, "body": body}));
    Value::Object(m)
}

/// The request as a reply to one of the customer's messages: WhatsApp shows it quoted above the
/// reply (`context.message_id`).
pub fn replying_to(mut request: Value, wamid: &str) -> Value {
    request["context"] = json!({"message_id": wamid});
    request
}

/// The send request for a media message (`image`, `video`, `audio`, `document`) without its media
/// id: the dispatcher uploads the file when it sends and sets `id` then (see [`with_media_id`]), so a
/// reply held for days or resent after a failure never names an expired upload.
pub fn media_message(to: crate::Recipient<'_>, kind: &str, caption: Option<&str>, filename: Option<&str>) -> Value {
    let mut m = to.envelope();
    m.insert("type".into(), kind.into());
    let mut media = serde_json::Map::new();
    if let Some(caption) = caption.filter(|c| !c.is_empty() && kind != "audio") {
        media.insert("caption".into(), caption.into());
    }
    if let Some(filename) = filename.filter(|_| kind == "document") {
        media.insert("filename".into(), filename.into());
    }
    m.insert(kind.into(), Value::Object(media));
    Value::Object(m)
}

/// The media kind of a send request that still waits for its upload: `Some("image")` for
/// `{"type": "image", "image": {"caption": …}}` without an `id` or `link`.
pub fn pending_media_kind(request: &Value) -> Option<&str> {
    let kind = request.get("type")?.as_str()?;
    let media = request.get(kind)?.as_object()?;
    (matches!(kind, "image" | "video" | "audio" | "document") && !media.contains_key("id") && !media.contains_key("link")).then_some(kind)
}

/// The request with the uploaded file's media id set.
pub fn with_media_id(mut request: Value, media_id: &str) -> Value {
    if let Some(kind) = pending_media_kind(&request).map(str::to_owned) {
        request[kind.as_str()]["id"] = media_id.into();
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_error_bodies_are_read() {
        let e = error_from_body(
            400,
            br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"A"}}"#,
        );
        assert_eq!(e.code, Some(131_047));
        assert_eq!(e.class, ErrorClass::WindowClosed);
        assert!(e.details.unwrap().contains("24 hours"));
        let e = error_from_body(503, b"<html>busy</html>");
        assert_eq!((e.code, e.class), (None, ErrorClass::Transient));
    }

    #[test]
    fn media_messages_get_their_id_at_send_time() {
        let v = media_message(crate::Recipient::Phone("15550001234"), "document", Some("Your invoice"), Some("invoice.pdf"));
        assert_eq!(v["document"], serde_json::json!({"caption": "Your invoice", "filename": "invoice.pdf"}));
        assert_eq!(pending_media_kind(&v), Some("document"));
        let sent = with_media_id(v, "1234");
        assert_eq!(sent["document"]["id"], "1234");
        assert_eq!(pending_media_kind(&sent), None);
        let audio = media_message(crate::Recipient::Phone("15550001234"), "audio", Some("dropped"), Some("a.mp3"));
        assert_eq!(audio["audio"], serde_json::json!({}), "audio takes neither caption nor filename");
        assert_eq!(pending_media_kind(&text_message(crate::Recipient::Phone("1"), "hi")), None);
    }

    #[test]
    fn text_message_shape() {
        let v = text_message(crate::Recipient::Phone("15550001234"), "hi");
        assert_eq!(v["to"], "15550001234");
        let v = text_message(crate::Recipient::Bsuid("US.13491208655302741918"), "hi");
        assert_eq!((v.get("to"), v["recipient"].as_str()), (None, Some("US.13491208655302741918")));
        assert_eq!(v["text"]["body"], "hi");
        assert_eq!(v["messaging_product"], "whatsapp");
    }
}
