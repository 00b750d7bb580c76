//! Codes sent and checked, shared by login and step-up: the verification handle's answer, a
//! new code and its delivery, and the lockout after too many wrong codes.

use crate::api::ApiError;
use crate::shared::AppState;
use crate::state::*;
use crate::util::{otp_code, prefixed_id, rfc3339};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use subtle::ConstantTimeEq as _;

pub(super) fn verification_response(app: &AppState, handle: &str) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(handle) {
        h.insert("x-verification-token", v);
    }
    let c = format!(
        "__Host-verification-login_{}={handle}; Path=/; Secure; HttpOnly; SameSite=None; Max-Age={}",
        app.cfg.app_id, app.cfg.otp_ttl_secs
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        h.append(header::SET_COOKIE, v);
    }
    resp
}

pub(super) fn new_code(app: &AppState) -> String {
    app.cfg.fixed_code.clone().unwrap_or_else(otp_code)
}

pub(super) fn send(app: &AppState, d: &mut Data, v: &Verification, purpose: Purpose) {
    let now = app.now();
    let msg = OutboxMessage {
        id: prefixed_id("msg"),
        channel: v.channel,
        to: v.to.clone(),
        code: v.code.clone(),
        purpose,
        sent_at: rfc3339(now),
        status: CodeStatus::Live,
        expires_at: v.expires_at,
        verification_id: v.id.clone(),
    };
    app.push_outbox(d, msg);
    d.throttle.sent(&v.to, now);
}

/// Refuses `who` while it is locked out.
pub(super) fn not_locked(app: &AppState, d: &Data, who: &str) -> Result<(), ApiError> {
    match d.throttle.locked_for(who, app.now()) {
        Some(left) => Err(locked(left)),
        None => Ok(()),
    }
}

pub(super) fn locked(left: i64) -> ApiError {
    ApiError::too_many(
        Code::TooManyAttempts,
        format!(
            "too many wrong codes for this identifier; try again in {} min",
            (left + 59) / 60
        ),
        left,
    )
}

/// Room for one more verification, after forgetting the ended ones if needed.
pub(super) fn room_for_verification(app: &AppState, d: &mut Data) -> Result<(), ApiError> {
    if d.verifications.len() >= app.cfg.max_verifications {
        d.forget_expired_verifications(app.now());
    }
    if d.verifications.len() >= app.cfg.max_verifications {
        return Err(ApiError::too_many(
            Code::RateLimited,
            "too many verifications in progress; try again later",
            30,
        ));
    }
    Ok(())
}

/// Checks `code` against a verification in constant time; counts wrong tries against the
/// verification and the identifier, and ends the verification after its limit.
pub(super) fn check_code(
    app: &AppState,
    d: &mut Data,
    handle: &str,
    code: &str,
) -> Result<(), ApiError> {
    let now = app.now();
    let max = app.cfg.max_wrong_attempts;
    let v = d
        .verifications
        .get_mut(handle)
        .ok_or_else(|| ApiError::unauthorized("no verification in progress"))?;
    if v.expires_at <= now {
        return Err(ApiError::unauthorized(
            "the code has expired; request a new one",
        ));
    }
    if let Some(left) = d.throttle.locked_for(&v.to, now) {
        return Err(locked(left));
    }
    if v.wrong_attempts >= max {
        return Err(ApiError::unauthorized(
            "too many wrong codes; request a new one",
        ));
    }
    if !bool::from(v.code.as_bytes().ct_eq(code.trim().as_bytes())) {
        v.wrong_attempts += 1;
        let left = max - v.wrong_attempts;
        let who = v.to.clone();
        if left == 0 {
            let sent = v.clone();
            d.mark_code(&sent, CodeStatus::NoTriesLeft);
        }
        if d.throttle.failed(&who, now, &app.cfg) {
            tracing::warn!("identifier locked out after too many wrong codes");
            return Err(locked(app.cfg.lockout_secs));
        }
        let mut e = ApiError::new(
            Code::BadCheckCode,
            format!("wrong code; {left} attempts left"),
        );
        e.attempts_remaining = Some(left);
        return Err(e);
    }
    if let Some(v) = d.verifications.remove(handle) {
        d.mark_code(&v, CodeStatus::Used);
    }
    Ok(())
}
