//! Step-up challenges (docs/protocol.md, "Step-up").

use crate::error::{Error, Result};
use crate::http::{Call, Proof};
use crate::login::ChallengeReply;
use crate::store::Item;
use crate::util::{jwt_claims, unix_now};
use crate::{SessionClient, StepUpChallenge, StepUpStatus, StepUpStep, validate_metadata};
use prelude_wire::{ChallengeId, Scope, routes};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct StepUpReply {
    status: StepUpStatus,
    challenge_token: Option<String>,
    public_key_credential_request_options: Option<Value>,
}

/// Keeps the request options of a `verify_passkey` step on the challenge. A `verify_passkey`
/// step without them cannot pass (the user has no usable passkey, or the app none configured),
/// so it is refused here, before any ceremony, as the SDKs do (docs/protocol.md, "Passkeys").
///
/// # Errors
/// [`Error::PasskeyStepUnavailable`] for a `verify_passkey` step without options; a decoding
/// error for options that are not WebAuthn request options.
pub(crate) fn attach_passkey_options(
    challenge: &mut StepUpChallenge,
    options: Option<Value>,
) -> Result<()> {
    if challenge.current_step.as_deref() != Some(prelude_wire::VERIFY_PASSKEY) {
        return Ok(());
    }
    let options =
        options
            .filter(|v| !v.is_null())
            .ok_or_else(|| Error::PasskeyStepUnavailable {
                message:
                    "the server sent no passkey request options: no passkey is registered for \
                      this account, or passkeys are not configured"
                        .into(),
            })?;
    let options = serde_json::from_value(options)
        .map_err(|_| Error::decoding("the passkey request options are malformed"))?;
    challenge.passkey_options = Some(options);
    Ok(())
}

fn invalid(message: &str) -> Error {
    Error::InvalidChallengeToken {
        code: prelude_wire::Code::InvalidChallengeToken.as_str().into(),
        message: message.into(),
    }
}

/// Reads a challenge token's claims (never verified locally) into a challenge value.
fn decode(status: StepUpStatus, token: String, clock_offset: i64) -> Result<StepUpChallenge> {
    let claims = jwt_claims(&token).ok_or_else(|| invalid("the challenge token is malformed"))?;
    let challenge_id = claims
        .get("challenge_id")
        .and_then(Value::as_str)
        .map(ChallengeId::from)
        .ok_or_else(|| invalid("the challenge token has no challenge_id"))?;
    let steps: Vec<StepUpStep> = claims
        .get("steps")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    // The signed record (scope and metadata) is what the caller compares with what it asked:
    // a token that does not say which scope, or whose metadata is not text, is refused rather
    // than read as what was asked, or as no metadata.
    let metadata: BTreeMap<String, String> = match claims.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| invalid("the challenge token's metadata is not text"))?,
    };
    let signed_scope = claims
        .get("scope_requested")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the challenge token names no scope_requested"))?;
    let signed_scope = Scope::new(signed_scope)
        .map_err(|_| invalid("the challenge token's scope_requested is no scope"))?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    // NumericDates and second counts may carry a fraction (RFC 7519 §2).
    let number = |k: &str| claims.get(k).and_then(crate::util::numeric_date);
    Ok(StepUpChallenge {
        status,
        challenge_id,
        current_step: text("current_step"),
        scope: signed_scope,
        steps,
        metadata,
        grant_mode: text("grant_mode"),
        granted_for: number("granted_for"),
        expires_at: number("exp").map(|e| e + clock_offset),
        jti: text("jti"),
        token: Some(SecretString::from(token)),
        passkey_options: None,
    })
}

impl StepUpChallenge {
    /// An answer with no challenge token: blocked, or granted with nothing to redeem.
    fn untokened(status: StepUpStatus, scope: &Scope, current_step: Option<&str>) -> Self {
        Self {
            status,
            challenge_id: ChallengeId::default(),
            current_step: current_step.map(str::to_owned),
            scope: scope.clone(),
            steps: vec![],
            metadata: BTreeMap::new(),
            grant_mode: None,
            granted_for: None,
            expires_at: None,
            token: None,
            jti: None,
            passkey_options: None,
        }
    }
}

impl SessionClient {
    /// Asks for `scope` with `metadata` (at most 5 entries; docs/protocol.md, "Step-up").
    /// Never sends a code by itself: call [`Self::send_step_up_otp`] for OTP steps. A blocked
    /// answer is a challenge with [`StepUpStatus::Blocked`], not an error.
    ///
    /// `scope` is a [`Scope`], or a text that is one (`"transfer:write"`, a `&String`).
    ///
    /// A scope granted at once (`continue`) comes back completed and **not yet redeemed**:
    /// compare its signed [`StepUpChallenge::scope`] and [`StepUpChallenge::metadata`] with
    /// what was asked, then call [`Self::redeem_step_up`]. Unlike the SDKs, nothing is
    /// redeemed before the caller looked (docs/protocol.md, "Step-up", redeeming).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a scope or metadata the wire refuses; the server's errors
    /// (`scope_not_allowed`, `not_configured`, …); [`Error::MissingChallengeToken`] for a
    /// `review` without a token; [`Error::InvalidChallengeToken`] for a malformed token.
    pub async fn request_step_up<S>(
        &self,
        scope: S,
        metadata: Option<BTreeMap<String, String>>,
    ) -> Result<StepUpChallenge>
    where
        S: TryInto<Scope, Error = prelude_wire::RuleError>,
    {
        let scope: Scope = scope.try_into()?;
        let scope = &scope;
        let mut body = json!({ "scope": scope });
        if let Some(m) = metadata.filter(|m| !m.is_empty()) {
            validate_metadata(&m)?;
            body["metadata"] = json!(m);
        }
        let call = Call::post(routes::STEPUP_REQUEST)
            .body(body)
            .proof(Proof::Regular)
            .bearer();
        let reply = self.call(&call).await?;
        let offset = reply.clock_offset()?;
        let r: StepUpReply = reply.json()?;
        let challenge = match (r.status, r.challenge_token) {
            (StepUpStatus::Blocked, _) => {
                StepUpChallenge::untokened(StepUpStatus::Blocked, scope, None)
            }
            (status, Some(token)) => {
                let mut ch = decode(status, token, offset)?;
                attach_passkey_options(&mut ch, r.public_key_credential_request_options)?;
                if ch.is_completed() {
                    // Granted at once: the caller checks it, then redeems it.
                    if status != StepUpStatus::Continue {
                        return Err(invalid("the challenge is already completed"));
                    }
                    return Ok(ch);
                }
                ch
            }
            // Granted server-side with nothing signed to redeem: a plain refresh picks it up,
            // once the caller accepts it.
            (StepUpStatus::Continue, None) => {
                return Ok(StepUpChallenge::untokened(
                    StepUpStatus::Continue,
                    scope,
                    Some(prelude_wire::COMPLETED),
                ));
            }
            (StepUpStatus::Review, None) => return Err(Error::MissingChallengeToken),
        };
        self.set_active(scope, Some(&challenge))?;
        Ok(challenge)
    }

    /// Redeems a completed challenge: the session is refreshed and its access token carries
    /// the scope (`POST /refresh {"step_up_token"}`, docs/protocol.md, "Step-up", step 5).
    /// Call it only after checking the challenge's signed scope and metadata. A grant that
    /// came with no token ([`StepUpChallenge::is_signed`] is false) is picked up by a plain
    /// refresh.
    ///
    /// # Errors
    /// [`Error::InvalidChallengeToken`] for a challenge that is blocked or has steps left;
    /// the server's refusal of the token (`token_reused`, `expired_challenge_token`, …) or of
    /// the refresh.
    pub async fn redeem_step_up(&self, challenge: &StepUpChallenge) -> Result<()> {
        if challenge.is_blocked() || !challenge.is_completed() {
            return Err(invalid("only a completed challenge can be redeemed"));
        }
        match &challenge.token {
            Some(token) => self.complete_step_up(&challenge.scope, token).await,
            None => {
                self.invalidate_access();
                self.refresh().await.map(|_| ())
            }
        }
    }

    pub(crate) fn usable_token(challenge: &StepUpChallenge) -> Result<SecretString> {
        if challenge.is_blocked() {
            return Err(invalid("this step-up was blocked"));
        }
        challenge.token.clone().ok_or(Error::MissingChallengeToken)
    }

    /// Sends (or re-sends) the code of the current OTP step.
    pub async fn send_step_up_otp(&self, challenge: &StepUpChallenge) -> Result<()> {
        let token = Self::usable_token(challenge)?;
        let call =
            Call::post(routes::OTP).body(json!({ "challenge_token": token.expose_secret() }));
        let reply = self.send(&call, None).await?;
        if let Some(v) = reply.header("x-verification-token") {
            self.local()
                .step_up_verifications
                .insert(challenge.challenge_id.clone(), SecretString::from(v));
        }
        Ok(())
    }

    /// Submits the code of the current step; answers the challenge that follows. When it
    /// [`StepUpChallenge::is_completed`], nothing is redeemed yet: check its signed scope and
    /// metadata, then call [`Self::redeem_step_up`]. Otherwise it is the next step (send its
    /// code if it is an OTP step). The Swift SDK's `submitStepUpOTP` answers `nil` and
    /// redeems at once instead.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a code that is not 4 to 8 digits;
    /// [`Error::ExpiredChallengeToken`] (checked locally first); [`Error::InvalidOtpCode`] for
    /// a wrong code; the server's other refusals.
    pub async fn submit_step_up_otp(
        &self,
        challenge: &StepUpChallenge,
        code: &str,
    ) -> Result<StepUpChallenge> {
        let token = Self::usable_token(challenge)?;
        let code = code.trim();
        prelude_wire::check_code(code).map_err(|e| Error::InvalidInput(e.message))?;
        if challenge.expires_at.is_some_and(|e| e <= unix_now()) {
            return Err(Error::ExpiredChallengeToken);
        }
        let mut call = Call::post(routes::OTP_CHECK)
            .body(json!({ "code": code, "challenge_token": token.expose_secret() }))
            .proof(Proof::Challenge(challenge.jti.clone()));
        call.verification = self
            .local()
            .step_up_verifications
            .get(&challenge.challenge_id)
            .cloned();
        let reply = self.send(&call, None).await?;
        self.local()
            .step_up_verifications
            .remove(&challenge.challenge_id);
        self.advance(challenge, reply)
    }

    /// Advances a custom step with a verification token from your backend; answers the
    /// challenge that follows, as [`Self::submit_step_up_otp`] does (a completed one is not
    /// redeemed yet).
    ///
    /// # Errors
    /// [`Error::ExpiredChallengeToken`] (checked locally first); the server's refusal of the
    /// verification token (`invalid_verification_token`, `step_bypassed`, `token_reused`, …).
    pub async fn continue_step_up(
        &self,
        challenge: &StepUpChallenge,
        verification_token: &str,
    ) -> Result<StepUpChallenge> {
        let token = Self::usable_token(challenge)?;
        if challenge.expires_at.is_some_and(|e| e <= unix_now()) {
            return Err(Error::ExpiredChallengeToken);
        }
        let call = Call::post(routes::STEPUP_CONTINUE)
            .body(json!({
                "challenge_token": token.expose_secret(),
                "verification_token": verification_token,
            }))
            .proof(Proof::Challenge(challenge.jti.clone()))
            .bearer();
        let reply = self.call(&call).await?;
        self.advance(challenge, reply)
    }

    pub(crate) fn advance(
        &self,
        challenge: &StepUpChallenge,
        reply: crate::http::Reply,
    ) -> Result<StepUpChallenge> {
        let offset = reply.clock_offset()?;
        let body = reply.json::<ChallengeReply>()?;
        let next = body.challenge_token.ok_or(Error::MissingChallengeToken)?;
        let mut next = decode(challenge.status, next, offset)?;
        if let Err(e) =
            attach_passkey_options(&mut next, body.public_key_credential_request_options)
        {
            // A step that cannot pass is not offered again.
            self.set_active(&challenge.scope, None)?;
            return Err(e);
        }
        // A completed challenge is not offered again after a restart: it is redeemed now or
        // never.
        self.set_active(&challenge.scope, (!next.is_completed()).then_some(&next))?;
        Ok(next)
    }

    /// Drains any in-flight plain refresh (it would mint an unscoped token), then redeems the
    /// completed challenge in the same slot, so callers queued behind get the scoped token.
    async fn complete_step_up(&self, scope: &str, token: &SecretString) -> Result<()> {
        self.invalidate_access();
        let _slot = self.inner.refresh_slot.lock().await;
        self.refresh_locked(Some(token)).await?;
        self.set_active(scope, None)
    }

    /// Keeps the challenge in progress in memory and in the secret store (its token is a
    /// secret), so a restart can offer it again. `scope` is the one the call is about: a
    /// registration (`prld:<kind>:register`) never takes or clears the slot, so an approval
    /// open meanwhile is still offered after a restart, and a registration never comes back
    /// as one (docs/protocol.md, "Registering an identifier").
    fn set_active(&self, scope: &str, challenge: Option<&StepUpChallenge>) -> Result<()> {
        if prelude_wire::text::is_registration(scope) {
            return Ok(());
        }
        self.local().active_step_up = challenge.cloned();
        match challenge.and_then(|c| c.token.as_ref().map(|t| (c, t))) {
            Some((c, token)) => {
                let saved = zeroize::Zeroizing::new(
                    json!({
                        "status": c.status,
                        "scope": c.scope,
                        "token": token.expose_secret(),
                        "passkey_options": c.passkey_options,
                    })
                    .to_string(),
                );
                self.store_set(Item::ActiveStepUp, &saved)
            }
            None => self.store_delete(Item::ActiveStepUp),
        }
    }

    /// The challenge that was in progress when the app last stopped, if it has not expired.
    pub fn restore_step_up(&self) -> Result<Option<StepUpChallenge>> {
        let Some(saved) = self.store_get(Item::ActiveStepUp)? else {
            return Ok(None);
        };
        #[derive(Deserialize)]
        struct Saved {
            status: StepUpStatus,
            token: String,
            #[serde(default)]
            passkey_options: Option<Value>,
        }
        let restored = serde_json::from_str::<Saved>(&saved)
            .ok()
            .and_then(|s| {
                let mut c = decode(s.status, s.token, 0).ok()?;
                attach_passkey_options(&mut c, s.passkey_options).ok()?;
                Some(c)
            })
            .filter(|c| c.expires_at.is_some_and(|e| e > unix_now()) && !c.is_completed());
        match &restored {
            Some(c) => self.local().active_step_up = Some(c.clone()),
            None => self.store_delete(Item::ActiveStepUp)?,
        }
        Ok(restored)
    }

    /// The challenge in progress, if any.
    pub fn active_step_up(&self) -> Option<StepUpChallenge> {
        self.local().active_step_up.clone()
    }

    /// Forgets the challenge in progress (the server lets it expire).
    pub fn cancel_step_up(&self) -> Result<()> {
        {
            let mut l = self.local();
            if let Some(c) = l.active_step_up.take() {
                l.step_up_verifications.remove(&c.challenge_id);
            }
        }
        self.store_delete(Item::ActiveStepUp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn token(claims: Value) -> String {
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.sig", b64(json!({"alg": "ES256"})), b64(claims))
    }

    /// A challenge names its id and scope by their types, and a token whose signed scope is
    /// no scope is refused, not read as a text.
    #[test]
    fn a_challenge_names_its_id_and_scope_by_their_types() {
        let claims = |scope: &str| json!({"challenge_id": "chl_1", "scope_requested": scope, "current_step": "verify_sms"});
        let ch = decode(StepUpStatus::Review, token(claims("transfer:write")), 0).unwrap();
        assert_eq!(ch.challenge_id, ChallengeId::from("chl_1"));
        assert_eq!(ch.scope, Scope::new("transfer:write").unwrap());
        for bad in ["", "a b", "transfer\u{202E}write"] {
            let e = decode(StepUpStatus::Review, token(claims(bad)), 0).unwrap_err();
            assert!(
                matches!(e, Error::InvalidChallengeToken { .. }),
                "{bad:?}: {e:?}"
            );
        }
    }
}
