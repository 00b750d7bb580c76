//! The frontend API under `/v1/session/` and `/.well-known/` (docs/protocol.md), split by
//! domain: OTP login, tokens, step-up (requests, codes, custom steps), grants, `/me`, and
//! the legacy login aliases the published web SDK 0.6 still calls.

mod challenge;
mod custom;
mod grants;
mod legacy;
mod me;
mod otp;
mod passkeys;
mod step_up;
mod tokens;

use crate::api::ApiError;
use crate::shared::AppState;
use crate::state::Identifier;
use crate::tokens::KeyUse;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, patch, post};
use prelude_wire::Code;
use std::collections::BTreeMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/otp", post(otp::create))
        .route("/otp/retry", post(otp::retry))
        .route("/otp/check", post(otp::check))
        .route("/login/finalize", post(tokens::finalize))
        .route("/login/otp", post(legacy::login_otp))
        .route("/login/otp/retry", post(otp::retry))
        .route("/login/otp/check", post(legacy::login_check))
        .route("/refresh", post(tokens::refresh))
        .route("/revoke", post(tokens::revoke))
        .route("/stepup/request", post(step_up::request))
        .route("/stepup/continue", post(custom::continue_step))
        .route("/me/list", get(me::list))
        .route("/me/revoke", post(me::revoke))
        .route("/login/passkey/begin", post(passkeys::login_begin))
        .route("/login/passkey/finish", post(passkeys::login_finish))
        .route("/me/passkeys", get(passkeys::list))
        .route(
            "/me/passkeys/register/begin",
            post(passkeys::register_begin),
        )
        .route(
            "/me/passkeys/register/finish",
            post(passkeys::register_finish),
        )
        .route(
            "/me/passkeys/{credential_id}",
            patch(passkeys::rename).delete(passkeys::delete),
        )
}

pub fn well_known() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/jwks.json",
            get(|State(app): State<AppState>| async move {
                // Access-token keys and the key that signs hook requests.
                let mut set = app.keys.jwks(KeyUse::Access);
                if let Some(keys) = set["keys"].as_array_mut() {
                    keys.push(app.hook_key().jwk.clone());
                }
                axum::Json(set)
            }),
        )
        .route(
            "/.well-known/step-up-jwks.json",
            get(|State(app): State<AppState>| async move {
                axum::Json(app.keys.jwks(KeyUse::StepUp))
            }),
        )
}

// ---------------------------------------------------------------------------------------------
// Request pieces

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

fn verification_handle(app: &AppState, headers: &HeaderMap) -> Option<String> {
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

fn refresh_handle(app: &AppState, headers: &HeaderMap) -> Option<String> {
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
fn with_nonce(nonce: &str, mut resp: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(nonce) {
        resp.headers_mut().insert("dpop-nonce", v);
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// The wire rules, from prelude-wire, as API errors

/// The identifier in its canonical form, or `400 invalid_identifier`.
pub fn canonical_identifier(id: &Identifier) -> Result<Identifier, ApiError> {
    id.canonical()
        .map_err(|e| ApiError::rule(Code::InvalidIdentifier, e))
}

fn validate_scope(scope: &str) -> Result<(), ApiError> {
    prelude_wire::check_scope(scope).map_err(|e| ApiError::rule(Code::BadRequest, e))
}

fn validate_metadata(m: &BTreeMap<String, String>) -> Result<(), ApiError> {
    prelude_wire::check_metadata(m).map_err(|e| ApiError::rule(Code::InvalidMetadata, e))
}
