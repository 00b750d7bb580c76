//! Passkeys: registration, the `verify_passkey` step-up step, passkey sign-in and management
//! (docs/protocol.md, "Passkeys"), around an [`Authenticator`] the app supplies.

use crate::error::{Error, Result};
use crate::http::{Call, Proof};
use crate::util::unix_now;
use crate::{SessionClient, StepUpChallenge, User};
use prelude_passkey::{
    AuthenticationResponse, CreationOptions, PasskeyCredential, RegistrationResponse,
    RequestOptions,
};
use prelude_wire::routes;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// The longest `username` and `display_name`, in bytes of UTF-8, and `nickname`, in
/// characters, that `register/begin` takes (docs/protocol.md, "Passkeys").
pub const MAX_PASSKEY_NAME: usize = 64;

/// The longest credential ID the client sends in a path: 1023 bytes (WebAuthn L3 §5.1) as
/// base64url without padding.
const MAX_CREDENTIAL_ID_CHARS: usize = 1364;

/// A new credential as the authenticator answers `create` (WebAuthn L3
/// `RegistrationResponseJSON`). `Debug` shows the credential ID only.
pub struct Attestation(pub RegistrationResponse);

impl std::fmt::Debug for Attestation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attestation")
            .field("id", &self.0.id)
            .field("response", &"[redacted]")
            .finish()
    }
}

/// An assertion as the authenticator answers `get` (WebAuthn L3
/// `AuthenticationResponseJSON`). It answers one challenge: a secret until spent, so `Debug`
/// shows the credential ID only.
pub struct Assertion(pub AuthenticationResponse);

impl std::fmt::Debug for Assertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assertion")
            .field("id", &self.0.id)
            .field("response", &"[redacted]")
            .finish()
    }
}

/// A WebAuthn authenticator: the app's (Countersign on this computer) or a test's. The client
/// hands it the server's options untouched and sends back what it answers; it keeps no key.
///
/// Both calls run on the caller's task and must not wait for the person: collect user presence
/// (the click) and user verification (the PIN) first, then call the client.
pub trait Authenticator: Send + Sync {
    /// The `create` ceremony (WebAuthn L3 §6.3.2) for `options`, the `public_key` of
    /// `register/begin`.
    ///
    /// # Errors
    /// [`Error::PasskeyAlreadyRegistered`] when it holds a credential that
    /// `excludeCredentials` lists; [`Error::Cancelled`]; any other error of the crate
    /// (for example [`Error::KeyringUnavailable`]). `register/finish` is then not sent.
    fn make_credential(&self, options: &CreationOptions) -> Result<Attestation>;

    /// The `get` ceremony (WebAuthn L3 §6.3.3) for `options`, from a `verify_passkey` step or
    /// `login/passkey/begin`. The sign counter is stored before the assertion is returned.
    ///
    /// # Errors
    /// [`Error::Cancelled`]; [`Error::PasskeyStepUnavailable`] when it holds none of the
    /// credentials `allowCredentials` lists; any other error of the crate.
    fn get_assertion(&self, options: &RequestOptions) -> Result<Assertion>;
}

/// What `register/begin` takes: the WebAuthn `user.name` (usually the email address or phone
/// number, 1 to 64 bytes), an optional `user.displayName` (the server falls back to
/// `username`) and an optional label kept by the server (at most 64 characters).
#[derive(Clone, Debug, Default)]
pub struct PasskeyRegistration {
    /// `user.name`: 1 to 64 bytes of UTF-8, no control characters.
    pub username: String,
    /// `user.displayName`, at most 64 bytes; `username` when absent.
    pub display_name: Option<String>,
    /// The server-side label, at most 64 characters.
    pub nickname: Option<String>,
}

/// The server's answer to a registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredPasskey {
    /// The credential as the server keeps it (id, nickname, dates).
    pub credential: PasskeyCredential,
    /// The server already held this credential (an idempotent success).
    pub already_registered: bool,
}

#[derive(Deserialize)]
struct BeginReply {
    public_key: Option<Value>,
    registration_token: Option<String>,
}

#[derive(Deserialize)]
struct FinishReply {
    credential: Option<PasskeyCredential>,
    #[serde(default)]
    already_registered: bool,
}

#[derive(Deserialize)]
struct ListReply {
    #[serde(default)]
    credentials: Vec<PasskeyCredential>,
}

#[derive(Deserialize)]
struct LoginBeginReply {
    public_key: Option<Value>,
    login_token: Option<String>,
}

fn registration_failed(message: &str) -> Error {
    Error::PasskeyRegistrationFailed {
        message: message.into(),
    }
}

fn check_text(what: &str, value: &str, max_bytes: usize) -> Result<()> {
    if value.len() > max_bytes {
        return Err(Error::InvalidInput(format!(
            "the {what} is longer than {max_bytes} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::InvalidInput(format!(
            "the {what} contains control characters"
        )));
    }
    Ok(())
}

fn check_nickname(nickname: &str) -> Result<()> {
    if nickname.chars().count() > MAX_PASSKEY_NAME {
        return Err(Error::InvalidInput(format!(
            "the nickname is longer than {MAX_PASSKEY_NAME} characters"
        )));
    }
    check_text("nickname", nickname, usize::MAX)
}

/// A credential ID is base64url without padding (PASSKEYS.md §4.1), so it is one path segment
/// as it stands; anything else is refused rather than escaped into another route.
fn credential_route(id: &str) -> Result<String> {
    if id.is_empty() {
        return Err(Error::InvalidInput("the credential id is empty".into()));
    }
    if id.len() > MAX_CREDENTIAL_ID_CHARS
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::InvalidInput(
            "the credential id is not base64url of at most 1023 bytes".into(),
        ));
    }
    Ok(routes::passkey(id))
}

impl SessionClient {
    /// Registers a passkey made by `authenticator`: `POST me/passkeys/register/begin`, the
    /// `create` ceremony, `POST me/passkeys/register/finish`, then a plain refresh, so the next
    /// access token drops the consumed `prld:passkey:write` and shows `has_passkey`
    /// (docs/protocol.md, "Passkeys"; the Swift SDK's `registerPasskey`).
    ///
    /// The session needs a session- or profile-bound `prld:passkey:write` grant: step up for it
    /// first. A success consumes it.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty or too long `username`, `display_name` or
    /// `nickname` (no request is sent); [`Error::InsufficientScope`];
    /// [`Error::PasskeyNotConfigured`]; [`Error::PasskeyRegistrationFailed`] when the server
    /// refuses the credential or answers without options, token or credential; the
    /// authenticator's own error (then `finish` is not sent); the refresh's errors.
    pub async fn register_passkey(
        &self,
        authenticator: &dyn Authenticator,
        registration: &PasskeyRegistration,
    ) -> Result<RegisteredPasskey> {
        let username = registration.username.trim();
        if username.is_empty() {
            return Err(Error::InvalidInput("the username is empty".into()));
        }
        check_text("username", username, MAX_PASSKEY_NAME)?;
        let mut body = json!({ "username": username });
        if let Some(d) = registration.display_name.as_deref().map(str::trim) {
            check_text("display name", d, MAX_PASSKEY_NAME)?;
            if !d.is_empty() {
                body["display_name"] = json!(d);
            }
        }
        if let Some(n) = registration.nickname.as_deref().map(str::trim) {
            check_nickname(n)?;
            if !n.is_empty() {
                body["nickname"] = json!(n);
            }
        }
        let begin = Call::post(routes::PASSKEY_REGISTER_BEGIN)
            .body(body)
            .proof(Proof::Regular)
            .bearer();
        let reply: BeginReply = self.call(&begin).await?.json()?;
        let token = reply
            .registration_token
            .filter(|t| !t.is_empty())
            .map(SecretString::from)
            .ok_or_else(|| registration_failed("the server sent no registration token"))?;
        let options: CreationOptions = reply
            .public_key
            .and_then(|o| serde_json::from_value(o).ok())
            .ok_or_else(|| registration_failed("the server sent no usable creation options"))?;
        let attestation = authenticator.make_credential(&options)?;
        let finish = Call::post(routes::PASSKEY_REGISTER_FINISH)
            .body(json!({
                "registration_token": token.expose_secret(),
                "attestation": attestation.0,
            }))
            .proof(Proof::Regular)
            .bearer();
        let reply: FinishReply = self.call(&finish).await?.json()?;
        let credential = reply
            .credential
            .ok_or_else(|| registration_failed("the server sent no credential"))?;
        self.invalidate_access();
        self.refresh().await?;
        tracing::info!("passkey registered");
        Ok(RegisteredPasskey {
            credential,
            already_registered: reply.already_registered,
        })
    }

    /// Passes a `verify_passkey` step: the `get` ceremony with the options that came with the
    /// challenge, then `POST stepup/continue {challenge_token, passkey_assertion}` with Bearer
    /// and a challenge-scoped DPoP proof (docs/protocol.md, "Passkeys"; the Swift SDK's
    /// `continueStepUpWithPasskey`). Answers the challenge that follows, as
    /// [`Self::submit_step_up_otp`] does: a completed one is **not yet redeemed**; compare its
    /// signed scope and metadata, then call [`Self::redeem_step_up`].
    ///
    /// # Errors
    /// Before any ceremony or request: [`Error::InvalidChallengeToken`] for a blocked
    /// challenge, [`Error::PasskeyStepUnavailable`] for one without passkey options,
    /// [`Error::ExpiredChallengeToken`]. Then the authenticator's error, and the server's:
    /// [`Error::PasskeyStepUnavailable`] (assertion refused),
    /// [`Error::PasskeyAuthenticatorBlocked`], [`Error::TokenReused`], …
    pub async fn continue_step_up_with_passkey(
        &self,
        challenge: &StepUpChallenge,
        authenticator: &dyn Authenticator,
    ) -> Result<StepUpChallenge> {
        let token = Self::usable_token(challenge)?;
        let options =
            challenge
                .passkey_options
                .as_ref()
                .ok_or_else(|| Error::PasskeyStepUnavailable {
                    message: "this step came without passkey request options".into(),
                })?;
        if challenge.expires_at.is_some_and(|e| e <= unix_now()) {
            return Err(Error::ExpiredChallengeToken);
        }
        let assertion = authenticator.get_assertion(options)?;
        let call = Call::post(routes::STEPUP_CONTINUE)
            .body(json!({
                "challenge_token": token.expose_secret(),
                "passkey_assertion": assertion.0,
            }))
            .proof(Proof::Challenge(challenge.jti.clone()))
            .bearer();
        let reply = self.call(&call).await?;
        self.advance(challenge, reply)
    }

    /// Signs in with a passkey: `POST login/passkey/begin`, the `get` ceremony (empty
    /// `allowCredentials`: the authenticator offers its credentials for the RP),
    /// `POST login/passkey/finish`, then `POST login/finalize` with a DPoP proof, keeping the
    /// tokens as an OTP login does (docs/protocol.md, "Passkeys"; the Swift SDK's
    /// `loginWithPasskey`).
    ///
    /// # Errors
    /// [`Error::PasskeyNotConfigured`] when passkey sign-in is off;
    /// [`Error::MissingChallengeToken`] when `begin` or `finish` answers without its token or
    /// options; the authenticator's error; [`Error::Unauthorized`] for any refused assertion
    /// (the server does not say why, on purpose); [`Error::RateLimited`].
    pub async fn login_with_passkey(&self, authenticator: &dyn Authenticator) -> Result<User> {
        let epoch = self.inner.epoch.load(Ordering::SeqCst);
        let begin = Call::post(routes::LOGIN_PASSKEY_BEGIN).body(json!({}));
        let reply: LoginBeginReply = self.send(&begin, None).await?.json()?;
        let login_token = reply
            .login_token
            .filter(|t| !t.is_empty())
            .map(SecretString::from)
            .ok_or(Error::MissingChallengeToken)?;
        let options: RequestOptions =
            serde_json::from_value(reply.public_key.ok_or(Error::MissingChallengeToken)?)
                .map_err(|_| Error::decoding("the passkey request options are malformed"))?;
        let assertion = authenticator.get_assertion(&options)?;
        let finish = Call::post(routes::LOGIN_PASSKEY_FINISH).body(json!({
            "login_token": login_token.expose_secret(),
            "assertion": assertion.0,
        }));
        let token = self
            .send(&finish, None)
            .await?
            .json::<crate::login::ChallengeReply>()?
            .challenge_token
            .filter(|t| !t.is_empty())
            .ok_or(Error::MissingChallengeToken)?;
        let user = self.finalize_login(&token, epoch, "passkey login").await?;
        tracing::info!(session = ?user.profile.session_id, "signed in with a passkey");
        Ok(user)
    }

    /// The user's passkeys, oldest first (`GET me/passkeys`).
    ///
    /// # Errors
    /// [`Error::Unauthorized`] without a session; the server's other errors.
    pub async fn list_passkeys(&self) -> Result<Vec<PasskeyCredential>> {
        let call = Call::get(routes::ME_PASSKEYS)
            .proof(Proof::Regular)
            .bearer();
        Ok(self.call(&call).await?.json::<ListReply>()?.credentials)
    }

    /// Sets a passkey's label; an empty `nickname` clears it (`PATCH me/passkeys/{id}`). No
    /// refresh: nothing in the token changes.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an ID that is not base64url or a nickname over 64
    /// characters (no request is sent); [`Error::NotFound`] for an ID that is not the user's.
    pub async fn rename_passkey(&self, credential_id: &str, nickname: &str) -> Result<()> {
        let route = credential_route(credential_id)?;
        let nickname = nickname.trim();
        check_nickname(nickname)?;
        let mut call = Call::post(&route)
            .body(json!({ "nickname": nickname }))
            .proof(Proof::Regular)
            .bearer();
        call.method = Method::PATCH;
        self.call(&call).await?;
        Ok(())
    }

    /// Deletes a passkey (`DELETE me/passkeys/{id}`), then refreshes, since the last one gone
    /// flips `has_passkey`. The emulator, by default, wants a `prld:passkey:write` grant for
    /// it: step up first.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an ID that is not base64url (no request is sent);
    /// [`Error::InsufficientScope`]; [`Error::NotFound`]; the refresh's errors.
    pub async fn delete_passkey(&self, credential_id: &str) -> Result<()> {
        let route = credential_route(credential_id)?;
        let mut call = Call::get(&route).proof(Proof::Regular).bearer();
        call.method = Method::DELETE;
        self.call(&call).await?;
        self.invalidate_access();
        self.refresh().await?;
        tracing::info!("passkey deleted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_ids_stay_one_path_segment() {
        assert_eq!(credential_route("q83v_-9").unwrap(), "/me/passkeys/q83v_-9");
        for bad in ["", "a/b", "..", "a%2Fb", "a b", "a?x=1", "ab=="] {
            assert_eq!(
                credential_route(bad).unwrap_err().code(),
                "invalid_input",
                "{bad}"
            );
        }
        assert!(credential_route(&"a".repeat(MAX_CREDENTIAL_ID_CHARS + 1)).is_err());
    }

    #[test]
    fn nicknames_are_counted_in_characters() {
        assert!(check_nickname(&"é".repeat(64)).is_ok());
        assert!(check_nickname(&"é".repeat(65)).is_err());
        assert!(check_nickname("a\nb").is_err());
    }
}
