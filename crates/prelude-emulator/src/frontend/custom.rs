//! `/stepup/continue`: a custom step passed with an RS256 verification token that the
//! customer's backend signed, checked against the app's `jwks_url`.

use super::challenge::{live_challenge, otp_step_channel, pass_step};
use crate::api::{ApiError, Body};
use crate::extract::{ChallengeDpop, MaybeCaller, same_key};
use crate::shared::AppState;
use crate::tokens::peek_claims;
use axum::extract::State;
use axum::response::Response;
use prelude_wire::Code;
use prelude_wire::time::numeric_date;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContinueBody {
    challenge_token: String,
    verification_token: Option<String>,
    passkey_assertion: Option<Value>,
}

fn bad_verification(why: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidVerificationToken, why)
}

/// Passes a custom step with an RS256 verification token from the customer's backend, checked
/// against the app's `jwks_url` with every claim docs/protocol.md lists under "Custom steps".
pub(super) async fn continue_step(
    State(app): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    proof: ChallengeDpop,
    Body(body): Body<ContinueBody>,
) -> Result<Response, ApiError> {
    let vt = match (body.verification_token, body.passkey_assertion) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::new(
                Code::BadRequest,
                "give exactly one of verification_token or passkey_assertion",
            ));
        }
        (None, Some(assertion)) => {
            return super::passkey_step::continue_with_passkey(
                &app,
                caller,
                proof,
                &body.challenge_token,
                assertion,
            );
        }
        (Some(vt), None) => vt,
    };
    // A custom step is continued by the signed-in session itself.
    let sid = caller
        .ok_or_else(|| ApiError::unauthorized("a Bearer access token is required"))?
        .sid;
    let token_jti = peek_claims(&body.challenge_token)
        .and_then(|c| c["jti"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let proof = proof.bound_to(&token_jti)?;
    let (cid, step, user_id, jwks_url) = {
        let d = app.data();
        let (cid, _) = live_challenge(&app, &d, &body.challenge_token)?;
        let ch = &d.challenges[&cid];
        if ch.session_id != sid {
            return Err(ApiError::new(
                Code::TokenMismatch,
                "the challenge belongs to another session",
            ));
        }
        same_key(&d, &sid, &proof.jkt)?;
        let step = ch.current_step_key();
        if step == prelude_wire::COMPLETED {
            return Err(ApiError::new(
                Code::StepNotFound,
                "the challenge has no step left",
            ));
        }
        if otp_step_channel(&step).is_some() || step == prelude_wire::VERIFY_PASSKEY {
            return Err(ApiError::new(
                Code::StepBypassed,
                "this step is passed with a code at /otp/check",
            ));
        }
        let url = d
            .stepup_config
            .as_ref()
            .and_then(|c| c.jwks_url.clone())
            .ok_or_else(|| bad_verification("the app has no jwks_url to verify custom steps"))?;
        (cid, step, ch.user_id.clone(), url)
    };
    let kid = crate::hook::rs256_kid(&vt).map_err(|e| bad_verification(e.to_string()))?;
    let jwk = app
        .jwks_cache
        .key(app.http(), &jwks_url, &kid)
        .await
        .map_err(|why| {
            // Where the customer's JWKS lives and how it failed is for the operator's log.
            tracing::warn!("custom step not verified: {why}");
            bad_verification("the verification token could not be checked")
        })?;
    let claims =
        crate::hook::verify_rs256(&vt, &jwk).map_err(|e| bad_verification(e.to_string()))?;
    let now = app.now();
    let claim = |k: &str| claims[k].as_str().unwrap_or_default().to_owned();
    if claim("sub") != user_id {
        return Err(bad_verification("sub does not match the challenge's user"));
    }
    if claim("challenge_id") != cid {
        return Err(bad_verification("challenge_id does not match"));
    }
    if claim("key") != step {
        return Err(bad_verification("key does not match the current step"));
    }
    if claim("status") != prelude_wire::COMPLETED {
        return Err(bad_verification("status must be completed"));
    }
    // NumericDates may carry fractions (RFC 7519 §2); each is compared as a number.
    let date = |k: &str| numeric_date(&claims[k]);
    let exp = date("exp").ok_or_else(|| bad_verification("exp is missing or not a NumericDate"))?;
    if exp <= now as f64 {
        return Err(bad_verification("the verification token has expired"));
    }
    let nbf = date("nbf").ok_or_else(|| bad_verification("nbf is missing or not a NumericDate"))?;
    if nbf > (now + 5) as f64 {
        return Err(bad_verification("the verification token is not valid yet"));
    }
    if date("iat").is_none() {
        return Err(bad_verification("iat is missing or not a NumericDate"));
    }
    let vjti = claim("jti");
    if vjti.is_empty() {
        return Err(bad_verification("jti is missing"));
    }
    let mut d = app.data();
    // The challenge may have moved while the JWKS was fetched.
    let (cid, jti) = live_challenge(&app, &d, &body.challenge_token)?;
    // Remembered until it expires; `exp` is at most MAX_NUMERIC_DATE, so it fits.
    if d.used_verification_tokens
        .insert(vjti, exp.ceil() as i64)
        .is_some()
    {
        return Err(bad_verification("this verification token was already used"));
    }
    pass_step(&app, d, &cid, jti, now)
}
