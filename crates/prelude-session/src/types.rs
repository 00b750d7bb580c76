//! Public value types.

use crate::error::{Error, Result};
use prelude_wire::{ChallengeId, Channel, CurrentStep, Scope, SessionId};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The kind of an identifier (`identifier.type`): the wire vocabulary's, re-exported here.
pub use prelude_wire::IdentifierKind;

/// A phone number (E.164) or an email address: the wire vocabulary's, re-exported here. Its
/// constructors and checks give a `prelude_wire::RuleError`, which `?` turns into
/// [`Error::InvalidInput`].
pub use prelude_wire::Identifier;

/// What the access token says about the signed-in user.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    /// `sub`: the user, e.g. `usr_…`.
    pub user_id: Option<String>,
    /// `sid`: this session, e.g. `ses_…`.
    pub session_id: Option<SessionId>,
    /// `scope`, split on spaces (or read from an array): what the access token grants now.
    pub scopes: Vec<String>,
    /// Unix seconds, from the token's `exp` (not corrected for clock skew); a fractional
    /// NumericDate is rounded toward the past.
    pub expires_at: Option<i64>,
    /// Every claim, including the ones above.
    pub claims: Map<String, Value>,
}

impl Profile {
    pub(crate) fn from_claims(claims: Map<String, Value>) -> Self {
        let scopes = match claims.get("scope") {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => vec![],
        };
        Self {
            user_id: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            session_id: claims
                .get("sid")
                .and_then(Value::as_str)
                .map(SessionId::from),
            expires_at: claims.get("exp").and_then(crate::util::numeric_date),
            scopes,
            claims,
        }
    }

    /// Whether the access token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The signed-in user. The access token itself stays inside the client.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    /// What the current access token says.
    pub profile: Profile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// The server's decision on a step-up request (`status`, docs/protocol.md "Step-up").
pub enum StepUpStatus {
    /// Granted at once (or a challenge to complete, per the server generation).
    #[serde(rename = "continue")]
    Continue,
    /// Complete the steps.
    #[serde(rename = "review")]
    Review,
    /// Denied.
    #[serde(rename = "block")]
    Blocked,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// One step of a challenge, as its token lists them (`steps[]`).
pub struct StepUpStep {
    /// 1-based position among the steps.
    pub order: u32,
    /// The step key: `verify_sms`, `verify_email`, `verify_passkey` or a custom key.
    pub key: String,
    /// Seconds the step lasts once current; a fraction is rounded down.
    #[serde(deserialize_with = "crate::util::de_numeric_date")]
    pub expiration_duration: i64,
    /// Whether the step was passed.
    pub done: bool,
}

/// One step-up challenge. A value: concurrent challenges don't share state. Its token is
/// private to the crate and never printed.
#[derive(Clone)]
pub struct StepUpChallenge {
    /// The decision: review (steps to pass), continue (granted) or blocked.
    pub status: StepUpStatus,
    /// `challenge_id`, e.g. `chl_…`; empty when no token came with the answer.
    pub challenge_id: ChallengeId,
    /// `verify_sms`, `verify_email`, a custom step key, or `completed`; `None` when blocked.
    pub current_step: Option<String>,
    /// `scope_requested` as the server signed it (the asked scope for an unsigned answer).
    pub scope: Scope,
    /// Every step, passed or not, in order.
    pub steps: Vec<StepUpStep>,
    /// The metadata as the server signed it: at most 5 entries.
    pub metadata: BTreeMap<String, String>,
    /// `single-use`, `session-bound` or `profile-bound`, as the token says.
    pub grant_mode: Option<String>,
    /// Seconds the grant lasts once completed, when the server says.
    pub granted_for: Option<i64>,
    /// Unix seconds on the local clock (corrected for server skew).
    pub expires_at: Option<i64>,
    pub(crate) token: Option<SecretString>,
    pub(crate) jti: Option<String>,
    /// The WebAuthn request options that came with a `verify_passkey` step
    /// (`public_key_credential_request_options`, docs/protocol.md "Passkeys").
    pub(crate) passkey_options: Option<prelude_passkey::RequestOptions>,
}

impl std::fmt::Debug for StepUpChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepUpChallenge")
            .field("status", &self.status)
            .field("challenge_id", &self.challenge_id)
            .field("current_step", &self.current_step)
            .field("scope", &self.scope)
            .field("steps", &self.steps)
            .field("expires_at", &self.expires_at)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("passkey_options", &self.passkey_options.is_some())
            .finish()
    }
}

impl StepUpChallenge {
    /// The server denied the scope (`block`).
    pub fn is_blocked(&self) -> bool {
        self.status == StepUpStatus::Blocked
    }
    /// No step is left: the challenge waits for [`crate::SessionClient::redeem_step_up`].
    pub fn is_completed(&self) -> bool {
        self.current_step.as_deref() == Some(prelude_wire::COMPLETED)
    }
    /// Whether the server signed this challenge (a challenge token came with it), so its
    /// `scope` and `metadata` are the server's record. A `continue` answered without a token
    /// is not: its scope is the one asked and its metadata is empty (docs/protocol.md,
    /// "Step-up").
    pub fn is_signed(&self) -> bool {
        self.token.is_some()
    }
    /// Whether the current step is `verify_passkey` and the server sent the request options
    /// for it, so [`crate::SessionClient::continue_step_up_with_passkey`] can run.
    pub fn has_passkey_options(&self) -> bool {
        self.passkey_options.is_some()
    }
    /// The `userVerification` of the passkey request options (`required`, `preferred` or
    /// `discouraged`), when the step has options: an app asks for its PIN only under
    /// `required`.
    pub fn passkey_user_verification(&self) -> Option<&str> {
        self.passkey_options
            .as_ref()
            .map(|o| o.user_verification.as_deref().unwrap_or("preferred"))
    }
    /// 1-based number of the current step and the total, when known.
    pub fn progress(&self) -> Option<(usize, usize)> {
        let total = self.steps.len();
        let done = self.steps.iter().filter(|s| s.done).count();
        (total > 0 && done < total).then_some((done + 1, total))
    }
    /// Where the challenge stands in the wire's vocabulary: at a step or completed; `None`
    /// when blocked, or when the server named something no step key can be. It reads
    /// [`Self::current_step`], which stays for the callers that match on the text.
    pub fn position(&self) -> Option<CurrentStep> {
        CurrentStep::parse(self.current_step.as_deref()?).ok()
    }
    /// The channel of the current step, `"sms"` or `"email"`, when it is an OTP step.
    pub fn otp_channel(&self) -> Option<&'static str> {
        let position = self.position()?;
        position.step()?.channel().map(Channel::as_str)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// One of the user's sessions (`GET me/list`, docs/protocol.md "Sessions").
pub struct SessionView {
    /// The session id, e.g. `ses_…`.
    pub id: SessionId,
    #[serde(default)]
    /// The device model the session was opened from, as the client said.
    pub device_model: Option<String>,
    #[serde(default)]
    /// `ANDROID`, `IOS` or `WEB`, when known.
    pub device_type: Option<String>,
    #[serde(default)]
    /// The OS version the client sent.
    pub os_version: Option<String>,
    #[serde(default)]
    /// ISO 3166-1 alpha-2 country of the address that opened it, when known.
    pub country_code: Option<String>,
    #[serde(default)]
    /// RFC 3339 UTC.
    pub created_at: Option<String>,
    #[serde(default)]
    /// RFC 3339 UTC.
    pub last_seen_at: Option<String>,
    #[serde(default)]
    /// RFC 3339 UTC.
    pub expires_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// A page of the user's sessions.
pub struct SessionList {
    /// This page, newest first.
    pub sessions: Vec<SessionView>,
    /// Sessions in all.
    pub total: u64,
    /// The page size asked for.
    pub limit: u64,
    /// How many sessions came before this page.
    pub offset: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// Which sessions `POST me/revoke` ends (docs/protocol.md, "Sessions").
pub enum RevokeTarget {
    /// Every session of the user, this one too.
    All,
    /// Every session but this one.
    Others,
    /// This session.
    Mine,
    /// One session by id; this one when the id is its own.
    Session(SessionId),
}

/// Checks metadata against the limits of `/stepup/request` before sending it.
pub fn validate_metadata(m: &BTreeMap<String, String>) -> Result<()> {
    prelude_wire::check_metadata(m).map_err(|e| Error::InvalidInput(e.message))
}

/// Checks a scope against the wire rule (1 to 128 of `[a-zA-Z0-9.-_:]`) before sending it.
///
/// # Errors
/// [`Error::InvalidInput`] with the rule's sentence.
pub fn validate_scope(scope: &str) -> Result<()> {
    prelude_wire::check_scope(scope).map_err(|e| Error::InvalidInput(e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_parse_like_a_person_types_them() {
        assert_eq!(
            Identifier::parse(" +33 6 12-34.56 78 ").unwrap(),
            Identifier::phone("+33612345678").unwrap()
        );
        assert_eq!(
            Identifier::parse("ada@example.com").unwrap().kind,
            IdentifierKind::EmailAddress
        );
        for bad in [
            "",
            "0612345678",
            "+0612345678",
            "+12",
            "a@b",
            "@example.com",
            "a b@c.d",
        ] {
            assert!(Identifier::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn metadata_limits() {
        let mut m = BTreeMap::new();
        m.insert("amount".to_owned(), "500".to_owned());
        assert!(validate_metadata(&m).is_ok());
        m.insert("waytoolongkey".to_owned(), "x".to_owned());
        assert!(validate_metadata(&m).is_err());
        m.remove("waytoolongkey");
        m.insert("currency".to_owned(), "x".repeat(33));
        assert!(validate_metadata(&m).is_err());
        let six: BTreeMap<_, _> = (0..6).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(validate_metadata(&six).is_err());
    }

    #[test]
    fn challenge_debug_hides_the_token() {
        let c = StepUpChallenge {
            status: StepUpStatus::Review,
            challenge_id: "chl_1".into(),
            current_step: Some("verify_sms".into()),
            scope: Scope::new("transfer:write").unwrap(),
            steps: vec![],
            metadata: BTreeMap::new(),
            grant_mode: None,
            granted_for: None,
            expires_at: None,
            token: Some(SecretString::from("eyJ.secret.token")),
            jti: None,
            passkey_options: None,
        };
        let s = format!("{c:?}");
        assert!(!s.contains("secret"));
        assert!(s.contains("[redacted]"));
    }

    #[test]
    fn a_challenge_says_where_it_stands_in_the_wire_vocabulary() {
        let at = |step: Option<&str>| StepUpChallenge {
            status: StepUpStatus::Review,
            challenge_id: "chl_1".into(),
            current_step: step.map(str::to_owned),
            scope: Scope::new("transfer:write").unwrap(),
            steps: vec![],
            metadata: BTreeMap::new(),
            grant_mode: None,
            granted_for: None,
            expires_at: None,
            token: None,
            jti: None,
            passkey_options: None,
        };
        assert_eq!(at(Some("verify_sms")).otp_channel(), Some("sms"));
        assert_eq!(at(Some("verify_email")).otp_channel(), Some("email"));
        assert_eq!(at(Some("verify_passkey")).otp_channel(), None);
        assert_eq!(
            at(Some("completed")).position(),
            Some(CurrentStep::Completed)
        );
        assert!(at(Some("completed")).is_completed());
        assert_eq!(
            at(Some("confirm_in_app")).position(),
            Some(CurrentStep::Step(prelude_wire::StepKey::Custom(
                "confirm_in_app".into()
            )))
        );
        assert_eq!(at(None).position(), None);
        assert_eq!(at(Some("no such step!")).position(), None);
    }
}
