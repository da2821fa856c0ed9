//! Media replies: a file (image, video, audio, document) sent on a ticket, with an optional caption.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::PathId;
use super::fallbacks::{outbound_out, OutboundOut};
use super::window::window_closed;
use crate::attachments::{post_attachment as post, FileForm, Mode};
use crate::replies::ReplyOutcome;
use crate::AppState;

/// The form of a media reply (`multipart/form-data`).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the form; the handler reads it part by part
pub struct AttachmentForm {
    /// The file, with its `Content-Type` (or a file name whose extension says it). Meta's types and
    /// limits apply: JPEG or PNG images up to 5 MB; MP4 or 3GPP video and AAC, AMR, MP3, M4A or Opus
    /// audio up to 16 MB; PDF, text, Word, Excel or PowerPoint documents up to 100 MB.
    #[schema(value_type = String, format = Binary)]
    file: String,
    /// Shown under an image, video or document (at most 1,024 characters); audio takes none.
    caption: Option<String>,
    /// `true`: hold the file until the customer writes again (only while the window is closed and the
    /// number's fallbacks include holding), instead of sending it now.
    hold: Option<bool>,
}

#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/attachments", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body(content = AttachmentForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Committed to the outbox (or held); the file is uploaded to Meta and sent by media id when it goes out",
         body = OutboundOut),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
        (status = 409, description = "`window_closed`: the window is closed (details: window_end, options; `hold=true` holds the file), \
         or the ticket is closed", body = super::error::ErrorBody),
        (status = 413, description = "The request is larger than any file WhatsApp accepts", body = super::error::ErrorBody),
        (status = 415, description = "The body is not multipart/form-data", body = super::error::ErrorBody),
        (status = 422, description = "No file, a type WhatsApp does not accept, a file over its kind's limit, or a caption on audio or over \
         1,024 characters (the message names the field)", body = super::error::ErrorBody),
    )
)]
pub async fn post_attachment(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    request: Request,
) -> Result<(StatusCode, Json<OutboundOut>), ApiError> {
    let multipart = Multipart::from_request(request, &state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(crate::attachments::MAX_UPLOAD_BODY_BYTES)
        } else if e.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE || e.status() == StatusCode::BAD_REQUEST {
            ApiError::UnsupportedMediaType("the body must be multipart/form-data with a `file` part".into())
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    let mut form = FileForm::read(&state.media_dir, multipart).await?;
    let Some(file) = form.file.take() else {
        return Err(ApiError::invalid("file", "a file is required (a multipart part named `file`)"));
    };
    let mode = match form.field("hold").map(str::trim) {
        None | Some("" | "false" | "0") => Mode::Send,
        Some("true" | "1") => Mode::Hold,
        Some(other) => return Err(ApiError::invalid("hold", format!("must be true or false, got {other:?}"))),
    };
    let caption = form.field("caption").map(str::to_owned);
    match post(&state, id, file, caption.as_deref(), &caller.actor(), mode).await? {
        ReplyOutcome::Blocked { window_end, options } => Err(window_closed(window_end, &options)),
        outcome => outbound_out(id, outcome),
    }
}
