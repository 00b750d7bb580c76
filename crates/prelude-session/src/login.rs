//! OTP login and logout (docs/protocol.md, "Login").

use crate::error::{Error, Result};
use crate::http::{Call, Proof};
use crate::store::Item;
use crate::{Identifier, SessionClient, User};
use prelude_wire::routes;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::Ordering;

#[derive(Deserialize)]
pub(crate) struct ChallengeReply {
    pub challenge_token: Option<String>,
    /// Present when the step now current is `verify_passkey` (docs/protocol.md, "Passkeys").
    #[serde(default)]
    pub public_key_credential_request_options: Option<serde_json::Value>,
}

impl SessionClient {
    /// Sends a login code to a phone number or email address.
    pub async fn start_otp_login(&self, identifier: &Identifier) -> Result<()> {
        identifier.check()?;
        let call = Call::post(routes::OTP).body(json!({ "identifier": identifier }));
        let reply = self.send(&call, None).await?;
        self.local().login_verification =
            reply.header("x-verification-token").map(SecretString::from);
        Ok(())
    }

    /// Sends the login code again.
    pub async fn resend_otp(&self) -> Result<()> {
        let mut call = Call::post(routes::OTP_RETRY);
        call.verification = Some(self.login_verification()?);
        let reply = self.send(&call, None).await?;
        if let Some(v) = reply.header("x-verification-token") {
            self.local().login_verification = Some(SecretString::from(v));
        }
        Ok(())
    }

    fn login_verification(&self) -> Result<SecretString> {
        self.local()
            .login_verification
            .clone()
            .ok_or_else(|| Error::InvalidInput("no login is in progress; send a code first".into()))
    }

    /// Checks the login code, then finalizes: the session is bound to this device's key.
    pub async fn check_otp(&self, code: &str) -> Result<User> {
        let code = code.trim();
        prelude_wire::check_code(code).map_err(|e| Error::InvalidInput(e.message))?;
        let epoch = self.inner.epoch.load(Ordering::SeqCst);
        let mut check = Call::post(routes::OTP_CHECK).body(json!({ "code": code }));
        check.verification = Some(self.login_verification()?);
        let reply = self.send(&check, None).await?;
        let token = reply
            .json::<ChallengeReply>()?
            .challenge_token
            .ok_or(Error::MissingChallengeToken)?;
        let user = self.finalize_login(&token, epoch, "login").await?;
        self.local().login_verification = None;
        tracing::info!(session = ?user.profile.session_id, "signed in");
        Ok(user)
    }

    /// `POST /login/finalize` with a regular DPoP proof: the login challenge token becomes a
    /// session bound to this device's key (docs/protocol.md, "Login").
    pub(crate) async fn finalize_login(&self, token: &str, epoch: u64, what: &str) -> Result<User> {
        let mut finalize = Call::post(routes::LOGIN_FINALIZE)
            .body(json!({ "challenge_token": token }))
            .proof(Proof::Regular);
        // The previous session of this device, if any, ends once the new one exists.
        finalize.refresh_token = self.stored_refresh_token().ok().flatten();
        let reply = self.send(&finalize, None).await?;
        self.accept_tokens(&reply, epoch, what)
    }

    /// Signs out: wipes the local state first, then revokes the session on the server with a
    /// proof from a snapshot of the key. A failed `/revoke` is reported, the wipe stands.
    pub async fn logout(&self) -> Result<()> {
        let slot = self.inner.refresh_slot.lock().await;
        let key = self.existing_key();
        let nonce = self.nonce().ok().flatten();
        let refresh = self.stored_refresh_token();
        let wiped = self.wipe_local();
        drop(slot);
        if let (Ok(Some(key)), Ok(Some(rt))) = (key, refresh) {
            let mut call = Call::post(routes::REVOKE).proof(Proof::Snapshot { key, nonce });
            call.refresh_token = Some(rt);
            match self.send(&call, None).await {
                Ok(_) => {}
                // Already gone on the server: the goal is reached.
                Err(Error::Unauthorized { code, .. })
                    if code == prelude_wire::Code::Unauthorized.as_str() => {}
                Err(e) => {
                    wiped?;
                    return Err(e);
                }
            }
        }
        tracing::info!("signed out");
        wiped
    }

    /// Forgets everything about the session on this device and bumps the epoch.
    pub(crate) fn wipe_local(&self) -> Result<()> {
        self.inner.epoch.fetch_add(1, Ordering::SeqCst);
        {
            let mut l = self.local();
            l.access = None;
            l.key = None;
            l.nonce = None;
            l.skew = None;
            l.login_verification = None;
            l.step_up_verifications.clear();
            l.active_step_up = None;
        }
        let mut first_err = None;
        for item in [
            Item::RefreshToken,
            Item::DpopKey,
            Item::DpopNonce,
            Item::ClockSkew,
            Item::ActiveStepUp,
        ] {
            if let Err(e) = self.store_delete(item) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Whether the cached access token carries `scope` (without a network call).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.profile().is_some_and(|p| p.has_scope(scope))
    }
}
