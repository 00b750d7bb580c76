//! The frontend API under `/v1/session/` and `/.well-known/` (docs/protocol.md): the routes,
//! split by domain into OTP login, tokens, step-up (requests, codes, custom and passkey steps),
//! grants, `/me`, passkeys, and the legacy login aliases the published web SDK 0.6 still calls.
//! Below the routes sit the shared pieces: `request` (headers, wire rules), `verify` (codes
//! sent and locked out), `challenge` (a challenge's token and steps), `passkey_request`.

mod challenge;
mod custom;
mod grants;
mod legacy;
mod me;
mod otp;
mod passkey_login;
mod passkey_request;
mod passkey_step;
mod passkeys;
mod register;
pub(crate) mod request;
mod step_up;
mod tokens;
mod verify;

pub(crate) use register::reserved_kind;

use crate::shared::AppState;
use crate::tokens::KeyUse;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, patch, post};

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
        .route("/login/passkey/begin", post(passkey_login::login_begin))
        .route("/login/passkey/finish", post(passkey_login::login_finish))
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
