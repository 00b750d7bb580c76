//! OTP login: `/otp` (also sends step-up codes), `/otp/retry` and `/otp/check`, with the abuse
//! limits of a real OTP service: one send per identifier per cooldown, one live verification
//! per identifier, and a lockout after too many wrong codes across verifications.

use super::request::{canonical_identifier, verification_handle};
use super::verify::{
    check_code, new_code, not_locked, room_for_verification, send, verification_response,
};
use crate::api::{ApiError, Body};
use crate::shared::AppState;
use crate::state::*;
use crate::tokens::KeyUse;
use crate::util::{prefixed_id, random_token};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OtpCreate {
    identifier: Option<Identifier>,
    challenge_token: Option<String>,
    login_config_id: Option<String>,
    dispatch_id: Option<String>,
    code_challenge: Option<String>,
}

pub(super) async fn create(
    State(app): State<AppState>,
    proof: crate::extract::ChallengeDpop,
    Body(body): Body<OtpCreate>,
) -> Result<Response, ApiError> {
    let _ = (&body.dispatch_id, &body.code_challenge);
    match (body.identifier, body.challenge_token) {
        (Some(id), None) => start_login(&app, id, body.login_config_id.as_deref()),
        (None, Some(token)) => super::challenge::send_code(&app, &token, proof),
        _ => Err(ApiError::new(
            Code::BadRequest,
            "give exactly one of identifier or challenge_token",
        )),
    }
}

pub(super) fn start_login(
    app: &AppState,
    id: Identifier,
    login_config_id: Option<&str>,
) -> Result<Response, ApiError> {
    // One mailbox or phone is one identifier however it is spelt: users, the cooldown, the
    // lockout and the outbox all key on the canonical form.
    let id = canonical_identifier(&id)?;
    let now = app.now();
    let mut d = app.data();
    let channel = id.channel();
    let config = match login_config_id {
        Some(cid) => d
            .login_configs
            .iter()
            .find(|c| c.id == cid)
            .ok_or_else(|| ApiError::new(Code::BadRequest, "unknown login_config_id"))?,
        None => d
            .login_configs
            .iter()
            .find(|c| c.channel_type == channel)
            .ok_or_else(|| {
                ApiError::new(
                    Code::NoLoginConfig,
                    "no login configuration accepts this kind of identifier",
                )
            })?,
    };
    if config.channel_type != channel {
        return Err(ApiError::new(
            Code::NoLoginConfig,
            "that login configuration does not send to this kind of identifier",
        ));
    }
    not_locked(app, &d, &id.value)?;
    // A new code replaces one that has no tries left at once; otherwise one per cooldown.
    let exhausted = d.verifications.values().any(|v| {
        matches!(&v.target, VerificationTarget::Login(i) if *i == id)
            && v.wrong_attempts >= app.cfg.max_wrong_attempts
    });
    if let Some(wait) = d
        .throttle
        .send_wait(&id.value, now, app.cfg.resend_cooldown_secs)
        .filter(|_| !exhausted)
    {
        return Err(ApiError::too_many(
            Code::RateLimited,
            format!("a code was just sent; wait {wait} s before asking for another"),
            wait,
        ));
    }
    // One live login verification per identifier: a new one replaces the old, so asking again
    // never adds attempts. The old code stops working, and its message says why.
    let mut replaced = vec![];
    d.verifications.retain(|_, v| {
        let same = matches!(&v.target, VerificationTarget::Login(i) if *i == id);
        if same {
            replaced.push(v.clone());
        }
        !same
    });
    for v in replaced {
        d.mark_code(&v, CodeStatus::Replaced);
    }
    room_for_verification(app, &mut d)?;
    let handle = format!("vt_{}", random_token(24));
    let v = Verification {
        id: prefixed_id("vrf"),
        to: id.value.clone(),
        target: VerificationTarget::Login(id),
        code: new_code(app),
        channel,
        expires_at: now + app.cfg.otp_ttl_secs,
        last_sent_at: now,
        wrong_attempts: 0,
    };
    send(app, &mut d, &v, Purpose::Login);
    d.verifications.insert(handle.clone(), v);
    Ok(verification_response(app, &handle))
}

pub(super) async fn retry(
    State(app): State<AppState>,
    proof: crate::extract::ChallengeDpop,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let handle = verification_handle(&app, &headers)
        .ok_or_else(|| ApiError::unauthorized("no verification in progress"))?;
    let now = app.now();
    let mut d = app.data();
    let v = d
        .verifications
        .get(&handle)
        .ok_or_else(|| ApiError::unauthorized("no verification in progress"))?
        .clone();
    // A proof sent with a step-up resend must be valid and the session's key's, before a
    // code goes out. A login resend takes none, and any header there is ignored as before.
    if let VerificationTarget::StepUp { challenge_id, .. } = &v.target
        && let Some(p) = proof.optional()?
    {
        let sid = d
            .challenges
            .get(challenge_id)
            .map(|c| c.session_id.clone())
            .unwrap_or_default();
        crate::extract::same_key(&d, &sid, &p.jkt)?;
    }
    if v.expires_at <= now || v.wrong_attempts >= app.cfg.max_wrong_attempts {
        return Err(ApiError::unauthorized(
            "this verification has ended; start a new one",
        ));
    }
    not_locked(&app, &d, &v.to)?;
    let wait = v.last_sent_at + app.cfg.resend_cooldown_secs - now;
    if wait > 0 {
        return Err(ApiError::too_many(
            Code::RateLimited,
            format!("wait {wait} s before sending another code"),
            wait,
        ));
    }
    let purpose = match v.target {
        VerificationTarget::Login(_) => Purpose::Login,
        VerificationTarget::StepUp {
            ref challenge_id, ..
        } => d
            .challenges
            .get(challenge_id)
            .map_or(Purpose::StepUp, super::register::purpose),
    };
    send(&app, &mut d, &v, purpose);
    if let Some(v) = d.verifications.get_mut(&handle) {
        v.last_sent_at = now;
    }
    Ok(verification_response(&app, &handle))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OtpCheck {
    code: String,
    challenge_token: Option<String>,
}

pub(super) async fn check(
    State(app): State<AppState>,
    proof: crate::extract::ChallengeDpop,
    headers: HeaderMap,
    Body(body): Body<OtpCheck>,
) -> Result<Response, ApiError> {
    if let Some(token) = body.challenge_token {
        return super::challenge::check_code(&app, proof, &headers, &token, &body.code);
    }
    let now = app.now();
    let mut d = app.data();
    let step_up_handle = ApiError::new(
        Code::MissingChallengeToken,
        "a step-up code is checked with its challenge_token",
    );
    let user_id = pass_login(&app, &mut d, &headers, &body.code, step_up_handle)?;
    let claims = json!({
        "iss": app.origins.issuer,
        "sub": user_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now,
        "exp": now + app.cfg.session_start_ttl_secs,
        "challenge_id": prefixed_id("chl"),
        "current_step": prelude_wire::COMPLETED,
        "grant_mode": "session-start",
    });
    drop(d);
    let token = app.keys.sign(KeyUse::StepUp, &claims);
    Ok(axum::Json(json!({"challenge_token": token})).into_response())
}

/// Checks the login code of the request's verification; on success the verification is over
/// and the user exists (made at the first login). `step_up_handle` is the answer when the
/// handle is a step-up code's.
pub(super) fn pass_login(
    app: &AppState,
    d: &mut Data,
    headers: &HeaderMap,
    code: &str,
    step_up_handle: ApiError,
) -> Result<String, ApiError> {
    let handle = verification_handle(app, headers)
        .ok_or_else(|| ApiError::unauthorized("no verification in progress"))?;
    let id = match d.verifications.get(&handle).map(|v| &v.target) {
        Some(VerificationTarget::Login(id)) => id.clone(),
        Some(VerificationTarget::StepUp { .. }) => return Err(step_up_handle),
        None => return Err(ApiError::unauthorized("no verification in progress")),
    };
    check_code(app, d, &handle, code)?;
    Ok(user_for(d, id, app.now()))
}

fn user_for(d: &mut Data, id: Identifier, now: i64) -> String {
    // Users are created on first login.
    if let Some(u) = d.find_user(&id) {
        return u.id.clone();
    }
    crate::demo::add_user(d, vec![id], now)
}
