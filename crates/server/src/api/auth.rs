//! Bearer-token authentication: `Authorization: Bearer wdk_…`. The token is looked up by its hash.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use windowdesk_store::tokens::TOKEN_PREFIX;

use super::error::ApiError;
use crate::AppState;

/// The authenticated caller: a handler that takes one only runs for a valid, unrevoked token.
#[derive(Clone, Copy, Debug)]
pub struct ApiCaller {
    pub token_id: i64,
}

impl ApiCaller {
    /// How the caller appears in ticket events and as a message author (T6).
    pub fn actor(&self) -> String {
        format!("api:{}", self.token_id)
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthorized("missing Authorization header: send `Authorization: Bearer wdk_…`".into()))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into()))?;
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(ApiError::Unauthorized("invalid or revoked token".into()));
        }
        match state.store.verify_api_token(token, state.clock.now()).await? {
            Some(row) => Ok(ApiCaller { token_id: row.id }),
            None => Err(ApiError::Unauthorized("invalid or revoked token".into())),
        }
    }
}
