//! Inbound media: downloaded after the ingest commit from the durable `media_jobs` queue (I5), stored
//! content-addressed on disk (SPEC 12), served to authenticated callers with their type. A failing
//! download is retried with backoff and shows on the message; it never blocks ingest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use windowdesk_core::Clock;
use windowdesk_store::{MediaJob, MediaOutcome, Store};
use windowdesk_whatsapp::client::CloudApi;
use windowdesk_whatsapp::errors::ErrorClass;

/// After this many failed tries a download is given up and shows as failed on the message.
const MAX_ATTEMPTS: i64 = 8;

/// The path of a stored file: `<dir>/<first two hex digits>/<sha256>`.
pub fn file_path(dir: &Path, sha256: &str) -> Option<PathBuf> {
    let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| dir.join(&sha256[..2]).join(sha256))
}

/// Why a message's media cannot be served.
#[derive(Debug)]
pub enum Unavailable {
    /// No such message, it has no media, or the file is gone.
    NotFound(String),
    /// Not downloaded yet, or the download failed (the message says which, with the error).
    NotReady(String),
    Store(windowdesk_store::StoreError),
}

/// A stored file, ready to serve.
pub struct MediaFile {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl MediaFile {
    /// Pictures, sound, video and PDFs show in the page; anything else is a download, so a file a
    /// customer sent is never rendered as a page of this site.
    fn inline(&self) -> bool {
        let t = self.content_type.as_str();
        (t.starts_with("image/") && !t.contains("svg")) || t.starts_with("audio/") || t.starts_with("video/") || t == "application/pdf"
    }
}

impl axum::response::IntoResponse for MediaFile {
    fn into_response(self) -> axum::response::Response {
        use axum::http::header;
        let disposition = if self.inline() { "inline" } else { "attachment" };
        let content_type = if self.inline() { self.content_type } else { "application/octet-stream".to_owned() };
        (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_DISPOSITION, disposition.to_owned()),
                (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
                (header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox".to_owned()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            ],
            self.bytes,
        )
            .into_response()
    }
}

/// Loads a message's downloaded media. Voice notes (`audio/ogg; codecs=opus`) are served as
/// `audio/ogg`, which every browser plays; the `codecs` parameter only confuses some.
pub async fn load(state: &crate::AppState, message_id: i64) -> Result<MediaFile, Unavailable> {
    let media = state
        .store
        .message_media(message_id)
        .await
        .map_err(Unavailable::Store)?
        .ok_or_else(|| Unavailable::NotFound(format!("message {message_id} has no media")))?;
    let (Some(sha256), Some(mime_type)) = (media.sha256.as_deref(), media.mime_type.as_deref()) else {
        let what = if media.state == "failed" { "could not be downloaded" } else { "is not downloaded yet" };
        return Err(Unavailable::NotReady(format!(
            "the media of message {message_id} {what}{}",
            media.error.map(|e| format!(": {e}")).unwrap_or_default()
        )));
    };
    let path = file_path(&state.media_dir, sha256).ok_or_else(|| Unavailable::NotFound(format!("message {message_id} has no media")))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| Unavailable::NotFound(format!("the media file of message {message_id} is missing: {e}")))?;
    let content_type = if mime_type.starts_with("audio/ogg") { "audio/ogg".to_owned() } else { mime_type.to_owned() };
    Ok(MediaFile { content_type, bytes })
}

pub struct MediaWorker {
    pub store: Arc<dyn Store>,
    pub api: CloudApi,
    /// Access token per business number id.
    pub tokens: HashMap<i64, SecretString>,
    pub dir: PathBuf,
    pub max_bytes: usize,
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Notify>,
    /// With several instances, one downloads (the `media` lease): files are content-addressed and
    /// written atomically, so two downloading the same file would be harmless, but twice the traffic.
    pub lease: crate::singleton::Singleton,
}

impl MediaWorker {
    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            if !self.lease.mine().await {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
            let jobs = match self.store.due_media_jobs(self.clock.now(), 16).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the media queue failed");
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
            for job in jobs {
                let outcome = self.fetch(&job).await;
                if let MediaOutcome::Failed { error } = &outcome {
                    tracing::warn!(wamid = %job.wamid, %error, "media download failed for good");
                }
                if let Err(e) = self.store.finish_media_job(job.id, &outcome, self.clock.now()).await {
                    tracing::warn!(error = %e, "recording a media download failed; it will be tried again");
                }
            }
        }
        self.lease.release().await;
    }

    async fn fetch(&self, job: &MediaJob) -> MediaOutcome {
        let Some(token) = self.tokens.get(&job.business_number_id) else {
            return MediaOutcome::Failed { error: "the business number is no longer configured".into() };
        };
        let result = async {
            let info = self.api.media_info(&job.media_id, token.expose_secret()).await?;
            let (bytes, content_type) = self.api.download(&info.url, token.expose_secret(), self.max_bytes).await?;
            Ok::<_, windowdesk_whatsapp::client::ApiError>((info, bytes, content_type))
        }
        .await;
        match result {
            Ok((info, bytes, content_type)) => {
                let sha256 = hex::encode(Sha256::digest(&bytes));
                let mime_type = info.mime_type.or(content_type).unwrap_or_else(|| "application/octet-stream".into());
                let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
                match self.write(&sha256, &bytes).await {
                    Ok(()) => MediaOutcome::Stored { sha256, mime_type, size },
                    Err(e) => self.retry(job, format!("cannot write the media file: {e}")),
                }
            }
            Err(e) if e.class == ErrorClass::Transient => self.retry(job, e.to_string()),
            Err(e) => MediaOutcome::Failed { error: e.to_string() },
        }
    }

    fn retry(&self, job: &MediaJob, error: String) -> MediaOutcome {
        if job.attempts + 1 >= MAX_ATTEMPTS {
            return MediaOutcome::Failed { error };
        }
        let delay = Duration::from_secs(2u64.saturating_pow(u32::try_from(job.attempts + 1).unwrap_or(10)).min(3600));
        MediaOutcome::Retry { next_attempt_at: self.clock.now().plus(delay), error }
    }

    /// Content-addressed and atomic: a file is either absent or complete.
    async fn write(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = file_path(&self.dir, sha256).ok_or_else(|| std::io::Error::other("bad content hash"))?;
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await
    }
}
