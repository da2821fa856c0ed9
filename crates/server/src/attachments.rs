//! Files agents attach to WhatsApp replies (SPEC 8). A file arrives as a multipart part, is streamed
//! to disk while it is hashed (never more than the largest size Meta accepts), checked against Meta's
//! types and limits ([`windowdesk_core::attachment`]), and stored content-addressed beside inbound
//! media. The reply then takes the one path every sender takes (the send decision, the outbox, held
//! and failed like text); the dispatcher uploads the file to Meta when it sends it.

use std::path::{Path, PathBuf};

use axum::extract::multipart::Field;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use windowdesk_core::attachment::{self, human_size, Attachment, MediaKind};
use windowdesk_core::{decide, Outgoing, SendDecision};
use windowdesk_store::{Channel, Enqueued, NewOutbound, OutboundMedia};
use windowdesk_whatsapp::client::media_message;

use crate::replies::{commit, hold_expiry, outbound, send_hold_notice, Outlook, ReplyError, ReplyOutcome};
use crate::AppState;

/// The largest file the desk reads: Meta's largest limit (documents, 100 MB). Each kind's own limit is
/// checked once the type is known.
pub const MAX_FILE_BYTES: u64 = 100_000_000;

/// What an upload route's request body may reach: the file and the form around it.
pub const MAX_UPLOAD_BODY_BYTES: usize = 101 * 1024 * 1024;

/// The routes that take a file: `POST /api/v1/tickets/{id}/attachments` and the composer's
/// `POST /tickets/{id}/attachment`; their bodies may reach [`MAX_UPLOAD_BODY_BYTES`].
pub fn is_upload_path(path: &str) -> bool {
    let ticket_route = |prefix: &str, suffix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
    };
    ticket_route("/api/v1/tickets/", "/attachments") || ticket_route("/tickets/", "/attachment")
}

/// A received file, on disk under a temporary name until [`Upload::keep`] moves it to its
/// content-addressed place; removed when dropped otherwise.
pub struct Upload {
    tmp: Option<PathBuf>,
    pub sha256: String,
    pub size: u64,
    /// The type the uploader declared (the part's `Content-Type`).
    pub declared_type: Option<String>,
    pub filename: Option<String>,
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ReplyError {
    ReplyError::Invalid { field: field.to_owned(), message: message.into() }
}

/// A file name as the customer will see it on a document: the last path segment, without control
/// characters, at most 240 characters.
fn clean_filename(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).take(240).collect();
    let cleaned = cleaned.trim().to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

impl Upload {
    /// Streams a multipart `file` part to a temporary file in the media directory, hashing it; refuses
    /// it (and removes what was written) once it passes [`MAX_FILE_BYTES`].
    pub async fn receive(media_dir: &Path, mut field: Field<'_>) -> Result<Upload, ReplyError> {
        let filename = field.file_name().and_then(clean_filename);
        let declared_type = field.content_type().map(str::to_owned);
        let dir = media_dir.join("incoming");
        tokio::fs::create_dir_all(&dir).await.map_err(|e| io_error("cannot create the media directory", &e))?;
        let tmp = dir.join(format!("{}-{:016x}", std::process::id(), rand::random::<u64>()));
        let mut upload = Upload { tmp: Some(tmp.clone()), sha256: String::new(), size: 0, declared_type, filename };
        let mut out = tokio::fs::File::create(&tmp).await.map_err(|e| io_error("cannot store the file", &e))?;
        let mut hasher = Sha256::new();
        loop {
            let chunk = match field.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(invalid("file", format!("the upload did not arrive whole: {}", e.body_text()))),
            };
            upload.size += chunk.len() as u64;
            if upload.size > MAX_FILE_BYTES {
                return Err(invalid(
                    "file",
                    format!("the file is larger than {}, the most WhatsApp accepts for any file", human_size(MAX_FILE_BYTES)),
                ));
            }
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(|e| io_error("cannot store the file", &e))?;
        }
        out.sync_all().await.map_err(|e| io_error("cannot store the file", &e))?;
        upload.sha256 = hex::encode(hasher.finalize());
        Ok(upload)
    }

    /// Meta's verdict on this file with this caption, before anything is stored or sent.
    pub fn check(&self, caption: Option<&str>) -> Result<Attachment, ReplyError> {
        attachment::check(self.declared_type.as_deref(), self.filename.as_deref(), self.size, caption).map_err(|e| {
            invalid(
                if matches!(e, attachment::AttachmentError::CaptionOnAudio | attachment::AttachmentError::CaptionTooLong) {
                    "caption"
                } else {
                    "file"
                },
                e.to_string(),
            )
        })
    }

    /// Moves the file to `<media dir>/<aa>/<sha256>` (already there when someone sent the same bytes).
    async fn keep(&mut self, media_dir: &Path) -> Result<(), ReplyError> {
        let path = crate::media::file_path(media_dir, &self.sha256).ok_or_else(|| invalid("file", "the file could not be hashed"))?;
        let Some(tmp) = self.tmp.take() else { return Ok(()) };
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| io_error("cannot create the media directory", &e))?;
        }
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            self.tmp = Some(tmp);
            return Err(io_error("cannot store the file", &e));
        }
        Ok(())
    }
}

fn io_error(what: &str, e: &std::io::Error) -> ReplyError {
    tracing::error!(error = %e, "{what}");
    ReplyError::Store(windowdesk_store::StoreError::Io(format!("{what}: {e}")))
}

/// A form with a file: the `file` part received to disk, the other fields as text.
pub struct FileForm {
    pub file: Option<Upload>,
    pub fields: std::collections::HashMap<String, String>,
}

impl FileForm {
    /// Reads a multipart body: one `file` part (an empty part, a file input left empty, counts as
    /// none) and text fields of at most 16 kB each.
    pub async fn read(media_dir: &Path, mut form: axum::extract::Multipart) -> Result<FileForm, ReplyError> {
        let unreadable =
            |e: axum::extract::multipart::MultipartError| invalid("body", format!("the form could not be read: {}", e.body_text()));
        let mut out = FileForm { file: None, fields: std::collections::HashMap::new() };
        while let Some(field) = form.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                if out.file.is_some() {
                    return Err(invalid("file", "send one file per message"));
                }
                let upload = Upload::receive(media_dir, field).await?;
                if upload.size > 0 || upload.filename.is_some() {
                    out.file = Some(upload);
                }
                continue;
            }
            let text = field.text().await.map_err(unreadable)?;
            if text.len() > 16 * 1024 {
                return Err(invalid(&name, "is longer than 16 kB"));
            }
            out.fields.insert(name, text);
        }
        Ok(out)
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// How an attachment goes: sent now (the window must be open), or held until the customer writes again
/// (offered while it is closed, like a held text reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Send,
    Hold,
}

/// Sends (or holds) `upload` as a media reply on a ticket, with an optional caption. The window
/// decides exactly as for a text reply: blocked while closed, with the ways out.
pub async fn post_attachment(
    state: &AppState,
    ticket_id: i64,
    mut upload: Upload,
    caption: Option<&str>,
    author: &str,
    mode: Mode,
) -> Result<ReplyOutcome, ReplyError> {
    let caption = caption.map(str::trim).filter(|c| !c.is_empty());
    let checked = upload.check(caption)?;
    let mut o = Outlook::load_window(state, ticket_id).await?;
    o.writable()?;
    let mut decision = decide(&o.context(), &Outgoing::FreeForm);
    if matches!(decision, SendDecision::Blocked { .. }) || mode == Mode::Hold {
        o.load_ways_out(state).await?;
        decision = decide(&o.context(), &Outgoing::FreeForm);
    }
    let hold_until = match (decision, mode) {
        (SendDecision::Send { .. }, Mode::Send) => None,
        (SendDecision::Send { .. }, Mode::Hold) => {
            return Err(ReplyError::Conflict("the window is open: send the file now instead of holding it".into()));
        }
        (SendDecision::Blocked { window_end, options }, Mode::Send) => return Ok(ReplyOutcome::Blocked { window_end, options }),
        (SendDecision::Blocked { options, .. }, Mode::Hold) => Some(hold_expiry(&options, None, o.now)?),
        (SendDecision::Invalid { reason, .. }, _) => return Err(invalid("file", reason)),
    };
    upload.keep(&state.media_dir).await?;
    let kind = checked.kind;
    let filename = upload.filename.clone().or_else(|| (kind == MediaKind::Document).then(|| "document".to_owned()));
    let request = media_message(o.recipient(), kind.as_str(), caption, filename.as_deref()).to_string();
    let media = OutboundMedia {
        sha256: upload.sha256.clone(),
        mime_type: checked.mime_type,
        size: i64::try_from(upload.size).unwrap_or(i64::MAX),
        filename,
    };
    let msg = NewOutbound {
        body: caption.map(str::to_owned),
        free_form: true,
        window_end: o.window_end(),
        hold_until,
        media: Some(media),
        ..outbound(&o, kind.as_str(), "", author, request, Channel::Whatsapp)
    };
    let Enqueued { message_id, .. } = commit(state, &o, msg).await?;
    Ok(match hold_until {
        None => ReplyOutcome::Queued { message_id, window_end: o.window_end() },
        Some(expires_at) => {
            let notice = send_hold_notice(state, &o, author).await;
            ReplyOutcome::Held { message_id, expires_at, notice }
        }
    })
}

/// The `accept` attribute of the composer's file picker: every type Meta takes.
pub fn accept_attribute() -> String {
    MediaKind::ALL
        .iter()
        .flat_map(|k| k.mime_types().iter().copied())
        .chain([".amr", ".ogg", ".opus", ".3gp"])
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_filename("C:\\Users\\ana\\factura.pdf").as_deref(), Some("factura.pdf"));
        assert_eq!(clean_filename("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(clean_filename("a\u{0}b\n.pdf").as_deref(), Some("ab.pdf"));
        assert_eq!(clean_filename("  "), None);
    }

    #[test]
    fn upload_routes_are_known_by_their_path() {
        assert!(is_upload_path("/api/v1/tickets/12/attachments"));
        assert!(is_upload_path("/tickets/12/attachment"));
        assert!(!is_upload_path("/api/v1/tickets/12/replies"));
        assert!(!is_upload_path("/api/v1/tickets//attachments"));
        assert!(!is_upload_path("/webhooks/whatsapp"));
    }

    #[test]
    fn the_picker_offers_what_meta_takes() {
        let accept = accept_attribute();
        assert!(accept.contains("image/jpeg") && accept.contains("application/pdf") && accept.contains(".amr"));
        assert!(!accept.contains("image/webp"));
    }
}
