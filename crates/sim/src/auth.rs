//! Bearer token checks, as Graph answers them: no token `401`/104, an unknown token `401`/190, a
//! token that does not reach the node `400`/100 subcode 33 (Graph cannot tell "missing" from "not yours").

use axum::http::{header, HeaderMap};

use crate::config::{is_version, SimNumber};
use crate::error::GraphError;
use crate::state::SimHandle;

/// The token from `Authorization: Bearer …`, or Graph's `access_token` query parameter.
pub(crate) fn token<'a>(headers: &'a HeaderMap, query_token: Option<&'a str>) -> Option<&'a str> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    from_header.or(query_token.filter(|t| !t.is_empty()))
}

/// The numbers a token may act for; errors when there is no token or nobody has it.
pub(crate) fn numbers_of<'a>(sim: &'a SimHandle, headers: &HeaderMap, query_token: Option<&str>) -> Result<Vec<&'a SimNumber>, GraphError> {
    let token = token(headers, query_token).ok_or_else(GraphError::missing_token)?;
    let numbers: Vec<&SimNumber> = sim.config().numbers.iter().filter(|n| n.access_token == token).collect();
    if numbers.is_empty() {
        return Err(GraphError::invalid_token());
    }
    Ok(numbers)
}

/// The business number `phone_number_id`, if the token may use it.
pub(crate) fn authorize_number<'a>(
    sim: &'a SimHandle,
    headers: &HeaderMap,
    query_token: Option<&str>,
    phone_number_id: &str,
    method: &str,
) -> Result<&'a SimNumber, GraphError> {
    numbers_of(sim, headers, query_token)?
        .into_iter()
        .find(|n| n.phone_number_id == phone_number_id)
        .ok_or_else(|| GraphError::unknown_object(method, phone_number_id))
}

/// Checks that the token may read the WhatsApp Business account `waba_id`.
pub(crate) fn authorize_waba(sim: &SimHandle, headers: &HeaderMap, query_token: Option<&str>, waba_id: &str) -> Result<(), GraphError> {
    if numbers_of(sim, headers, query_token)?.iter().any(|n| n.waba_id == waba_id) {
        Ok(())
    } else {
        Err(GraphError::unknown_object("get", waba_id))
    }
}

/// Graph answers an unknown version with error 2500-like path errors; the sim names it plainly.
pub(crate) fn check_version(version: &str) -> Result<(), GraphError> {
    if is_version(version) {
        Ok(())
    } else {
        let mut e = GraphError::invalid_param(format!("Unknown path components: /{version}"));
        e.code = 2500;
        e.message = format!("Unknown path components: /{version}");
        Err(e)
    }
}
