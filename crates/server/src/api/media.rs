//! `GET /api/v1/messages/{id}/media`: a message's downloaded media, with its type.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::auth::ApiCaller;
use super::error::{ApiError, PathId};
use crate::AppState;

#[utoipa::path(
    get, path = "/api/v1/messages/{id}/media", tag = "messages",
    params(("id" = i64, Path, description = "Message id")),
    responses(
        (status = 200, description = "The media file, with its content type (voice notes: audio/ogg)", content_type = "application/octet-stream"),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 404, description = "No such message, or it has no media", body = super::error::ErrorBody),
        (status = 409, description = "Not downloaded (yet): `details.state` is `pending` or `failed`, with the error", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_media(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Response, ApiError> {
    let media = state.store.message_media(id).await?.ok_or_else(|| ApiError::NotFound(format!("message {id} has no media")))?;
    let (Some(sha256), Some(mime_type)) = (media.sha256.as_deref(), media.mime_type.as_deref()) else {
        let what = if media.state == "failed" { "could not be downloaded" } else { "is not downloaded yet" };
        return Err(ApiError::conflict(format!(
            "the media of message {id} {what}{}",
            media.error.map(|e| format!(": {e}")).unwrap_or_default()
        )));
    };
    let path = crate::media::file_path(&state.media_dir, sha256).ok_or_else(|| ApiError::NotFound(format!("message {id} has no media")))?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| ApiError::NotFound(format!("the media file of message {id} is missing: {e}")))?;
    // Browsers play Opus voice notes as `audio/ogg`; the `codecs` parameter only confuses some.
    let content_type = if mime_type.starts_with("audio/ogg") { "audio/ogg" } else { mime_type };
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CACHE_CONTROL, "private, max-age=86400".to_owned())], Body::from(bytes))
        .into_response())
}
