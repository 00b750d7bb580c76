//! What the step-up routes share: the live challenge behind a token, passing a step, and the
//! OTP steps (sending and checking their codes).

use super::request::verification_handle;
use super::verify::{
    self, new_code, not_locked, room_for_verification, send, verification_response,
};
use crate::api::ApiError;
use crate::extract::{ChallengeDpop, same_key};
use crate::shared::AppState;
use crate::state::*;
use crate::tokens::{KeyUse, peek_claims};
use crate::util::random_token;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Passes the current step and answers with the challenge's next token.
pub(super) fn pass_step(
    app: &AppState,
    mut d: std::sync::MutexGuard<'_, Data>,
    cid: &str,
    spent_jti: String,
    now: i64,
) -> Result<Response, ApiError> {
    let ch = d
        .challenges
        .get_mut(cid)
        .ok_or_else(|| ApiError::new(Code::InvalidChallengeToken, "unknown challenge"))?;
    advance(ch, spent_jti, now);
    super::register::attach_when_done(&mut d, cid);
    // When the next step is verify_passkey, its request options go with the new token.
    let options = super::passkey_request::arm_passkey_step(&mut d, cid);
    let ch = d.challenges[cid].clone();
    let rewrite = d.faults.rewrite_signed_metadata;
    drop(d);
    app.persist.mark();
    let token = app
        .keys
        .sign(KeyUse::StepUp, &challenge_claims(app, &ch, rewrite));
    let mut body = json!({"challenge_token": token});
    if let Some(o) = options {
        body["public_key_credential_request_options"] = o;
    }
    Ok(axum::Json(body).into_response())
}

/// Marks the current step passed and issues the next token `jti`.
fn advance(ch: &mut Challenge, spent_jti: String, now: i64) {
    ch.spent_jtis.insert(spent_jti);
    ch.current_jti = uuid::Uuid::new_v4().to_string();
    if let Some(s) = ch.steps.iter_mut().find(|s| !s.done) {
        s.done = true;
    }
    if let Some(next) = ch.steps.iter_mut().find(|s| !s.done) {
        next.started_at = Some(now);
    }
}

/// Resolves a presented challenge token to its live challenge. The token must be the current
/// one: a spent token is `token_reused` (409).
pub(super) fn live_challenge(
    app: &AppState,
    d: &Data,
    token: &str,
) -> Result<(String, String), ApiError> {
    let claims = app.keys.verify(KeyUse::StepUp, token).ok_or_else(|| {
        // Tell an expired-looking or foreign token apart only by what we signed.
        ApiError::new(
            Code::InvalidChallengeToken,
            "the challenge token is not valid",
        )
    })?;
    let cid = claims["challenge_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let jti = claims["jti"].as_str().unwrap_or_default().to_owned();
    let ch = d
        .challenges
        .get(&cid)
        .ok_or_else(|| ApiError::new(Code::InvalidChallengeToken, "unknown challenge"))?;
    if ch.spent_jtis.contains(&jti) || (ch.redeemed && ch.current_jti == jti) {
        return Err(ApiError::new(
            Code::TokenReused,
            "this challenge token was already used",
        ));
    }
    if ch.current_jti != jti {
        return Err(ApiError::new(
            Code::InvalidChallengeToken,
            "this is not the challenge's current token",
        ));
    }
    let now = app.now();
    if ch.expires_at <= now {
        return Err(ApiError::new(
            Code::ExpiredChallengeToken,
            "the challenge has expired; request the scope again",
        ));
    }
    if let Some(step) = ch.current_step()
        && step
            .started_at
            .is_some_and(|t| t + step.expiration_duration <= now)
    {
        return Err(ApiError::new(
            Code::ExpiredChallengeToken,
            "this step has expired; request the scope again",
        ));
    }
    Ok((cid, jti))
}

/// A `verify_passkey` step is passed with an assertion at `/stepup/continue`, never a code.
fn passkey_step_bypassed(step: &str) -> Result<(), ApiError> {
    if step == prelude_wire::VERIFY_PASSKEY {
        return Err(ApiError::new(
            Code::StepBypassed,
            "this step is passed with a passkey assertion at /stepup/continue",
        ));
    }
    Ok(())
}

/// The channel of a code step and the identifier kind it sends to; `None` for other steps.
pub(super) fn otp_step_channel(step: &str) -> Option<(Channel, IdentifierType)> {
    match prelude_wire::StepKey::parse(step).ok()? {
        prelude_wire::StepKey::VerifySms => Some((Channel::Sms, IdentifierType::PhoneNumber)),
        prelude_wire::StepKey::VerifyEmail => Some((Channel::Email, IdentifierType::EmailAddress)),
        _ => None,
    }
}

pub(super) fn send_code(
    app: &AppState,
    token: &str,
    proof: ChallengeDpop,
) -> Result<Response, ApiError> {
    let proof = proof.optional()?;
    let now = app.now();
    let mut d = app.data();
    let (cid, _) = live_challenge(app, &d, token)?;
    let ch = &d.challenges[&cid];
    let purpose = super::register::purpose(ch);
    // A code for an ended session could never be checked.
    if d.sessions.get(&ch.session_id).is_none_or(|s| s.revoked) {
        return Err(ApiError::unauthorized("the session has ended"));
    }
    // The SDKs sign no send; a proof that is sent must be the session's key's, before a code
    // goes out or a cooldown starts.
    if let Some(p) = &proof {
        same_key(&d, &ch.session_id, &p.jkt)?;
    }
    // The code works no longer than its challenge step does, so it expires with it.
    let step_ends = ch
        .current_step()
        .and_then(|s| {
            s.started_at
                .map(|t| t.saturating_add(s.expiration_duration))
        })
        .unwrap_or(ch.expires_at)
        .min(ch.expires_at);
    let step = ch.current_step_key();
    passkey_step_bypassed(&step)?;
    let (channel, kind) = otp_step_channel(&step).ok_or_else(|| {
        ApiError::new(
            Code::StepNotFound,
            format!("the current step {step} is not an OTP step"),
        )
    })?;
    let to = super::register::destination(ch)
        .or_else(|| {
            d.users
                .get(&ch.user_id)
                .and_then(|u| u.identifiers.iter().find(|i| i.kind == kind))
                .map(|i| i.value.clone())
        })
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidIdentifier,
                match kind {
                    IdentifierType::PhoneNumber => "the user has no phone number for this step",
                    IdentifierType::EmailAddress => "the user has no email address for this step",
                },
            )
        })?;
    not_locked(app, &d, &to)?;
    // Sending again for the same step is a resend: same code while it lives, after a cooldown.
    let existing = d.verifications.iter().find_map(|(h, v)| match &v.target {
        VerificationTarget::StepUp {
            challenge_id,
            step: s,
        } if *challenge_id == cid && *s == step && v.expires_at > now => {
            Some((h.clone(), v.clone()))
        }
        _ => None,
    });
    if let Some((handle, v)) = existing {
        let exhausted = v.wrong_attempts >= app.cfg.max_wrong_attempts;
        let wait = v.last_sent_at + app.cfg.resend_cooldown_secs - now;
        // A code with no tries left is replaced at once: the person's way out is a new code
        // (the lockout per identifier still bounds how often).
        if wait > 0 && !exhausted {
            return Err(ApiError::too_many(
                Code::RateLimited,
                format!("wait {wait} s before sending another code"),
                wait,
            ));
        }
        if v.wrong_attempts < app.cfg.max_wrong_attempts {
            send(app, &mut d, &v, purpose);
            if let Some(v) = d.verifications.get_mut(&handle) {
                v.last_sent_at = now;
            }
            return Ok(verification_response(app, &handle));
        }
        d.verifications.remove(&handle);
    }
    room_for_verification(app, &mut d)?;
    let handle = format!("vt_{}", random_token(24));
    let v = Verification {
        id: crate::util::prefixed_id("vrf"),
        target: VerificationTarget::StepUp {
            challenge_id: cid,
            step,
        },
        code: new_code(app),
        channel,
        to,
        expires_at: (now + app.cfg.otp_ttl_secs).min(step_ends),
        last_sent_at: now,
        wrong_attempts: 0,
    };
    send(app, &mut d, &v, purpose);
    d.verifications.insert(handle.clone(), v);
    Ok(verification_response(app, &handle))
}

pub(super) fn check_code(
    app: &AppState,
    proof: ChallengeDpop,
    headers: &HeaderMap,
    token: &str,
    code: &str,
) -> Result<Response, ApiError> {
    let claims = peek_claims(token).unwrap_or(Value::Null);
    let token_jti = claims["jti"].as_str().unwrap_or_default().to_owned();
    let proof = proof.bound_to(&token_jti)?;
    let now = app.now();
    let mut d = app.data();
    let (cid, jti) = live_challenge(app, &d, token)?;
    let ch = &d.challenges[&cid];
    if d.sessions.get(&ch.session_id).is_none_or(|s| s.revoked) {
        return Err(ApiError::unauthorized("the session has ended"));
    }
    same_key(&d, &ch.session_id, &proof.jkt)?;
    let step = ch.current_step_key();
    passkey_step_bypassed(&step)?;
    if otp_step_channel(&step).is_none() {
        return Err(ApiError::new(
            Code::StepNotFound,
            format!("the current step {step} is not an OTP step"),
        ));
    }
    let from_header = verification_handle(app, headers).filter(|h| {
        matches!(d.verifications.get(h).map(|v| &v.target),
            Some(VerificationTarget::StepUp { challenge_id, step: s }) if *challenge_id == cid && *s == step)
    });
    let handle = from_header
        .or_else(|| {
            d.verifications.iter().find_map(|(h, v)| match &v.target {
                VerificationTarget::StepUp {
                    challenge_id,
                    step: s,
                } if *challenge_id == cid && *s == step => Some(h.clone()),
                _ => None,
            })
        })
        .ok_or_else(|| {
            ApiError::new(
                Code::BadRequest,
                "no code was sent for this step; call POST /otp first",
            )
        })?;
    super::register::still_free(&d, &d.challenges[&cid])?;
    verify::check_code(app, &mut d, &handle, code)?;
    pass_step(app, d, &cid, jti, now)
}

/// The claims of a challenge's current token; `rewrite` is the `rewrite_signed_metadata`
/// switch (docs/protocol.md, "Emulator").
pub(super) fn challenge_claims(app: &AppState, ch: &Challenge, rewrite: bool) -> Value {
    let metadata = if rewrite {
        rewritten(&ch.metadata)
    } else {
        ch.metadata.clone()
    };
    json!({
        "iss": app.origins.issuer,
        "sub": ch.user_id,
        "sid": ch.session_id,
        "jti": ch.current_jti,
        "iat": app.now(),
        "exp": ch.expires_at,
        "challenge_id": ch.id,
        "current_step": ch.current_step_key(),
        "scope_requested": ch.scope,
        "grant_mode": ch.grant_mode,
        // Not a documented claim; lets a client show how long the grant will last.
        "granted_for": ch.granted_for,
        "steps": ch.steps.iter().map(|s| json!({
            "order": s.order, "key": s.key,
            "expiration_duration": s.expiration_duration, "done": s.done,
        })).collect::<Vec<_>>(),
        "metadata": metadata,
    })
}

/// Metadata that differs from `asked` in every value, or in having an entry at all.
fn rewritten(asked: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    if asked.is_empty() {
        return BTreeMap::from([("payee".to_owned(), "Mallory".to_owned())]);
    }
    asked
        .iter()
        .map(|(k, v)| (k.clone(), format!("{v}0")))
        .collect()
}
