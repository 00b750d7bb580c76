//! The `verify_passkey` step: `stepup/continue {challenge_token, passkey_assertion}` checked
//! against the request the step issued (checks A1–A10 of docs/protocol.md, "Passkeys").

use super::challenge::{live_challenge, pass_step};
use super::passkeys::*;
use crate::api::ApiError;
use crate::extract::{Caller, ChallengeDpop, same_key};
use crate::shared::AppState;
use crate::state::*;
use crate::tokens::peek_claims;
use crate::webauthn::{self, Policy, Refusal, StoredKey};
use axum::response::Response;
use prelude_wire::Code;
use prelude_wire::VERIFY_PASSKEY;
use serde_json::Value;

/// Counts a refused assertion against its challenge (ending it at the limit), logs why, and
/// gives the error the client sees.
fn refuse_assertion(d: &mut Data, cid: &str, refusal: &Refusal, blocked: bool) -> ApiError {
    let mut ended = false;
    if let Some(ch) = d.challenges.get_mut(cid)
        && let Some(p) = ch.passkey.as_mut()
    {
        p.refused += 1;
        ended = p.refused >= MAX_REFUSED_ASSERTIONS;
    }
    if ended {
        d.challenges.remove(cid);
    }
    d.note_passkey_refusal("assertion", refusal.check, &refusal.why);
    tracing::warn!(challenge = %cid, check = refusal.check, ended, "passkey assertion refused: {}", refusal.why);
    if blocked {
        ApiError::new(
            Code::PasskeyAuthenticatorBlocked,
            format!("this passkey is blocked ({refusal}); delete it and add it again"),
        )
    } else {
        ApiError::new(
            Code::PasskeyStepUnavailable,
            format!("the passkey assertion was refused ({refusal})"),
        )
    }
}

/// `stepup/continue {challenge_token, passkey_assertion}`: checks A1–A10 and passes the step.
/// Bearer is optional (one SDK sends none) but must be the challenge's session when sent; the
/// challenge-scoped proof is required.
pub(super) fn continue_with_passkey(
    app: &AppState,
    caller: Option<Caller>,
    proof: ChallengeDpop,
    token: &str,
    assertion: Value,
) -> Result<Response, ApiError> {
    let token_jti = peek_claims(token)
        .and_then(|c| c["jti"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let proof = proof.bound_to(&token_jti)?;
    let now = app.now();
    let mut d = app.data();
    let (cid, jti) = live_challenge(app, &d, token)?;
    let ch = d.challenges[&cid].clone();
    if let Some(c) = &caller
        && c.sid != ch.session_id
    {
        return Err(ApiError::unauthorized(
            "the access token is another session's than the challenge's",
        ));
    }
    if d.sessions.get(&ch.session_id).is_none_or(|s| s.revoked) {
        return Err(ApiError::unauthorized("the session has ended"));
    }
    same_key(&d, &ch.session_id, &proof.jkt)?;
    let step = ch.current_step_key();
    if step == prelude_wire::COMPLETED {
        return Err(ApiError::new(
            Code::StepNotFound,
            "the challenge has no step left",
        ));
    }
    if step != VERIFY_PASSKEY {
        return Err(ApiError::new(
            Code::StepBypassed,
            format!("the current step is {step}, not {VERIFY_PASSKEY}"),
        ));
    }
    let (Some(request), Some(config)) = (ch.passkey.clone(), d.passkey_config.clone()) else {
        d.note_passkey_refusal(
            "assertion",
            "",
            "no passkey request was issued for this step",
        );
        tracing::warn!(challenge = %cid, "passkey assertion refused: no passkey request was issued for this step");
        return Err(ApiError::new(
            Code::PasskeyStepUnavailable,
            "no passkey request was issued for this step: passkeys are not configured or the user has none",
        ));
    };
    // The options are bound to the token that carried them (§5.6).
    if request.jti != jti {
        d.note_passkey_refusal(
            "assertion",
            "A1",
            "the passkey request belongs to an earlier token",
        );
        tracing::warn!(challenge = %cid, "passkey assertion refused: the request belongs to an earlier token");
        return Err(ApiError::new(
            Code::PasskeyStepUnavailable,
            "the passkey request belongs to an earlier token",
        ));
    }
    let head = match webauthn::assertion_head(assertion) {
        Ok(h) => h,
        Err(r) => return Err(refuse_assertion(&mut d, &cid, &r, false)),
    };
    // A3, A4
    if !request.allow.contains(&head.credential_id) {
        let r = Refusal {
            check: "A3",
            why: "the credential is not one of allowCredentials".into(),
            counter_regression: false,
        };
        return Err(refuse_assertion(&mut d, &cid, &r, false));
    }
    let Some(stored) = d
        .passkeys
        .get(&head.credential_id)
        .filter(|p| p.user_id == ch.user_id)
        .cloned()
    else {
        let r = Refusal {
            check: "A4",
            why: "the credential is not registered to the challenge's user".into(),
            counter_regression: false,
        };
        return Err(refuse_assertion(&mut d, &cid, &r, false));
    };
    if let Some(h) = &head.user_handle
        && *h != ch.user_id.as_bytes()
    {
        let r = Refusal {
            check: "A4",
            why: "userHandle is not the challenge's user".into(),
            counter_regression: false,
        };
        return Err(refuse_assertion(&mut d, &cid, &r, false));
    }
    let faults = d.faults.clone();
    if stored.blocked || faults.passkey_blocked {
        let r = Refusal {
            check: "A4",
            why: if stored.blocked {
                "the credential was blocked after a sign counter regression".into()
            } else {
                "the passkey_blocked switch treats every credential as blocked".into()
            },
            counter_regression: false,
        };
        return Err(refuse_assertion(&mut d, &cid, &r, true));
    }
    let cose = webauthn::unb64_lenient(&stored.public_key).unwrap_or_default();
    let other_origins = [OTHER_ORIGIN.to_owned()];
    let policy = Policy {
        rp_id: &config.rp_id,
        origins: if faults.passkey_wrong_origin {
            &other_origins
        } else {
            &config.allowed_origins
        },
        uv_required: request.uv_required,
    };
    let key = StoredKey {
        cose_key: &cose,
        sign_count: if faults.passkey_counter_behind {
            stored.sign_count.max(COUNTER_AHEAD)
        } else {
            stored.sign_count
        },
        backup_eligible: stored.backup_eligible,
    };
    let asserted = match webauthn::verify_assertion(&head, &request.challenge, &policy, &key) {
        Ok(a) => a,
        Err(r) => {
            let blocked = r.counter_regression && d.faults.passkey_block_on_counter_regression;
            if blocked && let Some(p) = d.passkeys.get_mut(&stored.credential_id) {
                p.blocked = true;
            }
            return Err(refuse_assertion(&mut d, &cid, &r, blocked));
        }
    };
    // §5.7
    if let Some(p) = d.passkeys.get_mut(&stored.credential_id) {
        p.sign_count = asserted.sign_count;
        p.backup_state = asserted.backup_state;
        p.uv_initialized |= asserted.uv;
        p.last_used_at = now;
    }
    tracing::info!(challenge = %cid, credential = %stored.credential_id, "passkey step passed");
    pass_step(app, d, &cid, jti, now)
}
