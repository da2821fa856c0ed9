//! Media replies: the file an agent attached is uploaded to Meta (`POST /{phone-number-id}/media`)
//! when its reply is sent, not when it is written, so a reply held for days or resent after a failure
//! never names an upload Meta has forgotten. An upload is reused for a day per business number and
//! file, so retries and the same file sent to many customers upload once.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use windowdesk_store::{OutboxJob, Store};
use windowdesk_whatsapp::client::{pending_media_kind, with_media_id, ApiError, CloudApi};
use windowdesk_whatsapp::errors::ErrorClass;

use super::NumberSender;

/// How long an uploaded media id is reused (Meta keeps uploads for 30 days).
const REUSE_FOR: Duration = Duration::from_secs(24 * 3600);

pub(super) struct Uploads {
    dir: PathBuf,
    /// (business number id, sha256) → (media id, uploaded at).
    cache: Mutex<HashMap<(i64, String), (String, Instant)>>,
}

fn error(title: String, class: ErrorClass) -> ApiError {
    ApiError { http_status: None, code: None, title, details: None, class }
}

impl Uploads {
    pub(super) fn new(dir: PathBuf) -> Self {
        Uploads { dir, cache: Mutex::new(HashMap::new()) }
    }

    /// The send request as it goes to Meta: unchanged, or, for a media reply, with the id of its file
    /// uploaded now (or recently).
    pub(super) async fn prepare<'j>(
        &self,
        store: &dyn Store,
        api: &CloudApi,
        number: &NumberSender,
        job: &'j OutboxJob,
    ) -> Result<Cow<'j, str>, ApiError> {
        // Cheap test first: most requests are text or templates.
        if !job.request.contains("\"type\":\"image\"")
            && !job.request.contains("\"type\":\"video\"")
            && !job.request.contains("\"type\":\"audio\"")
            && !job.request.contains("\"type\":\"document\"")
        {
            return Ok(Cow::Borrowed(&job.request));
        }
        let request: serde_json::Value = serde_json::from_str(&job.request)
            .map_err(|e| error(format!("the queued request cannot be read: {e}"), ErrorClass::Permanent { auth: false }))?;
        if pending_media_kind(&request).is_none() {
            return Ok(Cow::Borrowed(&job.request));
        }
        let media = store
            .message_media(job.message_id)
            .await
            .map_err(|e| error(format!("cannot read the attachment's record: {e}"), ErrorClass::Transient))?;
        let (Some(sha256), Some(mime_type)) =
            (media.as_ref().and_then(|m| m.sha256.clone()), media.as_ref().and_then(|m| m.mime_type.clone()))
        else {
            return Err(error("the attached file is not recorded with this message".into(), ErrorClass::Permanent { auth: false }));
        };
        let key = (job.business_number_id, sha256.clone());
        let cached = self.cache.lock().ok().and_then(|c| c.get(&key).filter(|(_, at)| at.elapsed() < REUSE_FOR).map(|(id, _)| id.clone()));
        let media_id = match cached {
            Some(id) => id,
            None => {
                let path = crate::media::file_path(&self.dir, &sha256)
                    .ok_or_else(|| error("the attachment's content hash is malformed".into(), ErrorClass::Permanent { auth: false }))?;
                let bytes = tokio::fs::read(&path).await.map_err(|e| {
                    error(
                        format!("the attached file is missing from the media directory ({}): {e}", path.display()),
                        ErrorClass::Permanent { auth: false },
                    )
                })?;
                let filename = request
                    .get("document")
                    .and_then(|d| d.get("filename"))
                    .and_then(serde_json::Value::as_str)
                    .map_or_else(|| format!("{}.{}", &sha256[..12], extension(&mime_type)), str::to_owned);
                let id =
                    api.upload_media(&number.phone_number_id, number.access_token.expose_secret(), bytes, &mime_type, &filename).await?;
                tracing::debug!(message_id = job.message_id, media_id = %id, "attachment uploaded");
                if let Ok(mut c) = self.cache.lock() {
                    c.retain(|_, (_, at)| at.elapsed() < REUSE_FOR);
                    c.insert(key, (id.clone(), Instant::now()));
                }
                id
            }
        };
        Ok(Cow::Owned(with_media_id(request, &media_id).to_string()))
    }

    /// Forgets the uploads of the number whose send Meta refused (an id may have expired there): the next
    /// try uploads again.
    pub(super) fn forget(&self, job: &OutboxJob) {
        if let Ok(mut c) = self.cache.lock() {
            c.retain(|(bn, _), _| *bn != job.business_number_id);
        }
    }
}

/// A file name's extension for an upload without one (Meta wants a file name on the part).
fn extension(mime_type: &str) -> &'static str {
    match mime_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "audio/aac" => "aac",
        "audio/amr" => "amr",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "audio/ogg" => "ogg",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        _ => "bin",
    }
}
