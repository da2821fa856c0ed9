//! `GET /api/v1/messages/{id}/media`: a message's downloaded media, with its type.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::PathId;
use crate::media::Unavailable;
use crate::AppState;

#[utoipa::path(
    get, path = "/api/v1/messages/{id}/media", tag = "messages",
    params(("id" = i64, Path, description = "Message id")),
    responses(
        (status = 200, description = "The media file, with its content type: pictures (except SVG), audio (voice notes: audio/ogg), \
                                        video and PDF as themselves, anything else as application/octet-stream with \
                                        `Content-Disposition: attachment`",
         content(("image/*"), ("audio/*"), ("video/*"), ("application/pdf"), ("application/octet-stream"))),
        (status = 404, description = "No such message, or it has no media", body = super::error::ErrorBody),
        (status = 409, description = "Not downloaded yet, or the download failed; the message says which", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_media(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Response, ApiError> {
    match crate::media::load(&state, id).await {
        Ok(file) => Ok(file.into_response()),
        Err(Unavailable::NotFound(m)) => Err(ApiError::NotFound(m)),
        Err(Unavailable::NotReady(m)) => Err(ApiError::conflict(m)),
        Err(Unavailable::Store(e)) => Err(e.into()),
    }
}
