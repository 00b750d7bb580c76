//! The G1 login routes that the published web SDK 0.6 calls: `/login/otp` and
//! `/login/otp/check`, which opens the session at once.

use super::otp;
use super::tokens::open_session;
use crate::api::{ApiError, Body};
use crate::extract::Dpop;
use crate::shared::AppState;
use crate::state::*;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LegacyStart {
    identifier: Identifier,
    login_config_id: Option<String>,
    dispatch_id: Option<String>,
}

pub(super) async fn login_otp(
    State(app): State<AppState>,
    Body(body): Body<LegacyStart>,
) -> Result<Response, ApiError> {
    let _ = body.dispatch_id;
    otp::start_login(&app, body.identifier, body.login_config_id.as_deref())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LegacyCheck {
    code: String,
}

pub(super) async fn login_check(
    State(app): State<AppState>,
    Dpop(proof): Dpop,
    headers: HeaderMap,
    Body(body): Body<LegacyCheck>,
) -> Result<Response, ApiError> {
    let mut d = app.data();
    // The right code is what authenticates this request: the jti is checked before the code
    // (so a replay spends no try) and remembered only once the code has passed.
    proof.check(&app, &d)?;
    let step_up_handle = ApiError::unauthorized("no login verification in progress");
    let user_id = otp::pass_login(&app, &mut d, &headers, &body.code, step_up_handle)?;
    let proof = proof.admit(&app, &mut d)?;
    Ok(open_session(
        &app,
        &headers,
        &mut d,
        user_id,
        proof.jkt,
        vec![],
    ))
}
