//! `GET /api/v1/messages/{id}/media`: a message's downloaded media, with its type.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::auth::ApiCaller;
use super::error::{ApiError, PathId};
use crate::media::Unavailable;
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
    match crate::media::load(&state, id).await {
        Ok(file) => Ok(file.into_response()),
        Err(Unavailable::NotFound(m)) => Err(ApiError::NotFound(m)),
        Err(Unavailable::NotReady(m)) => Err(ApiError::conflict(m)),
        Err(Unavailable::Store(e)) => Err(e.into()),
    }
}
