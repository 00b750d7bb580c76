//! The pieces of a frontend request the routes share: headers and cookies that carry
//! handles, the nonce on DPoP answers, and the wire rules of prelude-wire as API errors.

use crate::api::ApiError;
use crate::shared::AppState;
use crate::state::Identifier;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use prelude_wire::{Code, IdentifierKind};
use std::collections::BTreeMap;

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn cookie<'a>(headers: &'a HeaderMap, names: &[String]) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| names.iter().any(|n| n == k))
        .map(|(_, v)| v)
}

pub(super) fn verification_handle(app: &AppState, headers: &HeaderMap) -> Option<String> {
    let id = &app.cfg.app_id;
    header_str(headers, "x-verification-token")
        .or_else(|| {
            cookie(
                headers,
                &[
                    format!("__Host-verification-login_{id}"),
                    format!("__verification-login_{id}"),
                ],
            )
        })
        .map(str::to_owned)
}

pub(super) fn refresh_handle(app: &AppState, headers: &HeaderMap) -> Option<String> {
    let id = &app.cfg.app_id;
    header_str(headers, "x-refresh-token")
        .or_else(|| {
            cookie(
                headers,
                &[format!("__Host-refresh_{id}"), format!("__refresh_{id}")],
            )
        })
        .map(str::to_owned)
}

/// Puts the current nonce on a DPoP response. Takes the nonce, not the state, because callers
/// often hold the state lock.
pub(super) fn with_nonce(nonce: &str, mut resp: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(nonce) {
        resp.headers_mut().insert("dpop-nonce", v);
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// The wire rules, from prelude-wire, as API errors

/// The identifier in its canonical form, or `400 invalid_identifier`: also for an email
/// address that mixes scripts inside its part before `@` or inside a domain label, which could
/// pass for another account's (docs/protocol.md, "Identifiers", [INF]).
pub fn canonical_identifier(id: &Identifier) -> Result<Identifier, ApiError> {
    let id = id
        .canonical()
        .map_err(|e| ApiError::rule(Code::InvalidIdentifier, e))?;
    if id.kind == IdentifierKind::EmailAddress && prelude_wire::text::email_mixes_scripts(&id.value)
    {
        return Err(ApiError::new(
            Code::InvalidIdentifier,
            "that email address mixes scripts (say Latin and Cyrillic) inside one part, so it could pass for another",
        ));
    }
    Ok(id)
}

pub(super) fn validate_scope(scope: &str) -> Result<(), ApiError> {
    prelude_wire::check_scope(scope).map_err(|e| ApiError::rule(Code::BadRequest, e))
}

pub(super) fn validate_metadata(m: &BTreeMap<String, String>) -> Result<(), ApiError> {
    prelude_wire::check_metadata(m).map_err(|e| ApiError::rule(Code::InvalidMetadata, e))
}
