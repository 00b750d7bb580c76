//! The words of the step-up wire (docs/protocol.md, "Step-up"): step keys and where a challenge
//! stands, delivery channels, identifier kinds and grant modes, each serialised as the wire
//! spells it.

use crate::{RuleError, broken};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The step key of the managed passkey step (PASSKEYS.md §1.1). It is a step key in
/// `direct.steps[]` and hook answers, never a declared custom `step_keys` entry.
pub const VERIFY_PASSKEY: &str = "verify_passkey";
/// Where a challenge stands once every step passed: `current_step: "completed"`.
pub const COMPLETED: &str = "completed";
/// The reserved scope that gates passkey registration and deletion (PASSKEYS.md §1.2).
pub const PASSKEY_WRITE_SCOPE: &str = "prld:passkey:write";
/// The reserved scope that adds a phone number to the signed-in user, after a `verify_sms`
/// step whose code goes to that number (docs/protocol.md, "Registering an identifier").
pub const PHONE_REGISTER_SCOPE: &str = "prld:phone:register";
/// The reserved scope that adds an email address to the signed-in user, after a
/// `verify_email` step whose code goes to that address (docs/protocol.md, "Registering an
/// identifier").
pub const EMAIL_REGISTER_SCOPE: &str = "prld:email:register";
/// The longest step key, in bytes: the management API's limit for keys.
pub const MAX_STEP_KEY_CHARS: usize = 128;

/// A step of a challenge. The managed steps are Prelude's; anything else is the customer's
/// own step (`Custom`), which their backend passes with a verification receipt.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StepKey {
    /// `verify_sms`: a code sent by SMS to the user's phone number.
    VerifySms,
    /// `verify_email`: a code sent by email.
    VerifyEmail,
    /// `verify_passkey`: a WebAuthn assertion (docs/protocol.md, "Passkeys").
    VerifyPasskey,
    /// A custom step key declared in the app's `step_keys`.
    Custom(String),
}

impl StepKey {
    /// The managed steps, Prelude's own; every other step key is [`StepKey::Custom`].
    pub const MANAGED: [StepKey; 3] = [
        StepKey::VerifySms,
        StepKey::VerifyEmail,
        StepKey::VerifyPasskey,
    ];

    /// Reads a step key as the wire spells it. A managed name gives its variant; anything
    /// else is `Custom`. `"completed"` is not a step: see [`CurrentStep`].
    ///
    /// # Errors
    /// A [`RuleError`] on `step` for `"completed"`, an empty key, one over
    /// [`MAX_STEP_KEY_CHARS`] bytes, or characters outside `[A-Za-z0-9._:-]`.
    pub fn parse(key: &str) -> Result<StepKey, RuleError> {
        Ok(match key {
            "verify_sms" => StepKey::VerifySms,
            "verify_email" => StepKey::VerifyEmail,
            VERIFY_PASSKEY => StepKey::VerifyPasskey,
            other => StepKey::custom(other)?,
        })
    }

    /// A custom step key as a customer declares it (`step_keys`).
    ///
    /// # Errors
    /// A [`RuleError`] on `step` for a reserved name (`completed`, `verify_passkey`), an
    /// empty key, one over [`MAX_STEP_KEY_CHARS`] bytes, or characters outside
    /// `[A-Za-z0-9._:-]`.
    pub fn custom(key: &str) -> Result<StepKey, RuleError> {
        if key == COMPLETED || key == VERIFY_PASSKEY {
            return Err(broken(
                "step",
                format!("{key} is reserved and cannot be a custom step key"),
            ));
        }
        let ok = !key.is_empty()
            && key.len() <= MAX_STEP_KEY_CHARS
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
        if !ok {
            return Err(broken(
                "step",
                format!("a step key is 1 to {MAX_STEP_KEY_CHARS} letters, digits or . _ : -"),
            ));
        }
        Ok(StepKey::Custom(key.to_owned()))
    }

    /// The wire spelling, e.g. `"verify_sms"`.
    pub fn as_str(&self) -> &str {
        match self {
            StepKey::VerifySms => "verify_sms",
            StepKey::VerifyEmail => "verify_email",
            StepKey::VerifyPasskey => VERIFY_PASSKEY,
            StepKey::Custom(k) => k,
        }
    }

    /// The channel a code step sends on; `None` for passkey and custom steps.
    pub fn channel(&self) -> Option<Channel> {
        match self {
            StepKey::VerifySms => Some(Channel::Sms),
            StepKey::VerifyEmail => Some(Channel::Email),
            _ => None,
        }
    }
}

impl fmt::Display for StepKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StepKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StepKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StepKey::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// Where a challenge stands (`current_step`): at a step, or done.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CurrentStep {
    /// The step to pass next.
    Step(StepKey),
    /// Every step passed: `"completed"`.
    Completed,
}

impl CurrentStep {
    /// Reads `current_step` as the wire spells it.
    ///
    /// # Errors
    /// What [`StepKey::parse`] refuses, except `"completed"`, which is [`Self::Completed`].
    pub fn parse(text: &str) -> Result<CurrentStep, RuleError> {
        if text == COMPLETED {
            Ok(CurrentStep::Completed)
        } else {
            StepKey::parse(text).map(CurrentStep::Step)
        }
    }

    /// The wire spelling: the step key, or `"completed"`.
    pub fn as_str(&self) -> &str {
        match self {
            CurrentStep::Step(k) => k.as_str(),
            CurrentStep::Completed => COMPLETED,
        }
    }

    /// The step, unless completed.
    pub fn step(&self) -> Option<&StepKey> {
        match self {
            CurrentStep::Step(k) => Some(k),
            CurrentStep::Completed => None,
        }
    }
}

impl fmt::Display for CurrentStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CurrentStep {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CurrentStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CurrentStep::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// Where a one-time code is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 2] = [Channel::Sms, Channel::Email];

    /// The wire spelling: `"sms"` or `"email"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

/// The kind of an identifier (`identifier.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// `phone_number`, in E.164.
    PhoneNumber,
    /// `email_address`.
    EmailAddress,
}

impl IdentifierKind {
    /// Every identifier kind.
    pub const ALL: [IdentifierKind; 2] =
        [IdentifierKind::PhoneNumber, IdentifierKind::EmailAddress];

    /// The wire spelling: `"phone_number"` or `"email_address"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::PhoneNumber => "phone_number",
            IdentifierKind::EmailAddress => "email_address",
        }
    }

    /// The channel codes for this kind go out on.
    pub const fn channel(self) -> Channel {
        match self {
            IdentifierKind::PhoneNumber => Channel::Sms,
            IdentifierKind::EmailAddress => Channel::Email,
        }
    }
}

/// How long a completed challenge's scope lasts (`grant_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrantMode {
    /// `single-use`: the scope is on one access token, the one the redeeming refresh returns.
    SingleUse,
    /// `session-bound`: the scope stays on the session for `granted_for` seconds.
    SessionBound,
    /// `profile-bound`: the scope stays on every session of the user for `granted_for` seconds.
    ProfileBound,
}

impl GrantMode {
    /// Every grant mode.
    pub const ALL: [GrantMode; 3] = [
        GrantMode::SingleUse,
        GrantMode::SessionBound,
        GrantMode::ProfileBound,
    ];

    /// The grant mode for a wire spelling; `None` for one this vocabulary does not know.
    pub fn parse(wire: &str) -> Option<GrantMode> {
        GrantMode::ALL.into_iter().find(|m| m.as_str() == wire)
    }

    /// The wire spelling, e.g. `"single-use"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GrantMode::SingleUse => "single-use",
            GrantMode::SessionBound => "session-bound",
            GrantMode::ProfileBound => "profile-bound",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn step_keys_read_and_write_as_the_wire_spells_them() {
        for (text, key) in [
            ("verify_sms", StepKey::VerifySms),
            ("verify_email", StepKey::VerifyEmail),
            ("verify_passkey", StepKey::VerifyPasskey),
            ("confirm_in_app", StepKey::Custom("confirm_in_app".into())),
        ] {
            assert_eq!(StepKey::parse(text).unwrap(), key);
            assert_eq!(serde_json::to_value(&key).unwrap(), json!(text));
            assert_eq!(serde_json::from_value::<StepKey>(json!(text)).unwrap(), key);
        }
        assert_eq!(StepKey::VerifySms.channel(), Some(Channel::Sms));
        assert_eq!(StepKey::VerifyPasskey.channel(), None);
    }

    #[test]
    fn reserved_names_are_refused_as_custom_steps() {
        for reserved in ["completed", "verify_passkey"] {
            assert_eq!(StepKey::custom(reserved).unwrap_err().field, "step");
        }
        assert!(StepKey::parse("completed").is_err());
        assert!(serde_json::from_value::<StepKey>(json!("completed")).is_err());
        for bad in ["", "a b", "é", &"k".repeat(129)] {
            assert!(StepKey::custom(bad).is_err(), "{bad:?}");
        }
        assert!(StepKey::custom(&"k".repeat(128)).is_ok());
    }

    #[test]
    fn completed_is_where_a_challenge_stands() {
        assert_eq!(
            CurrentStep::parse("completed").unwrap(),
            CurrentStep::Completed
        );
        assert_eq!(
            CurrentStep::parse("verify_email").unwrap(),
            CurrentStep::Step(StepKey::VerifyEmail)
        );
        assert_eq!(
            serde_json::to_value(CurrentStep::Completed).unwrap(),
            json!("completed")
        );
        assert_eq!(CurrentStep::Completed.step(), None);
    }

    #[test]
    fn channels_kinds_and_grant_modes_use_the_wire_spelling() {
        assert_eq!(serde_json::to_value(Channel::Sms).unwrap(), json!("sms"));
        assert_eq!(Channel::Email.as_str(), "email");
        for k in [IdentifierKind::PhoneNumber, IdentifierKind::EmailAddress] {
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
        assert_eq!(IdentifierKind::EmailAddress.channel(), Channel::Email);
        for m in GrantMode::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), json!(m.as_str()));
            assert_eq!(GrantMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(GrantMode::parse("for-ever"), None);
        for c in Channel::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), json!(c.as_str()));
        }
        for k in StepKey::MANAGED {
            assert_eq!(StepKey::parse(k.as_str()).unwrap(), k);
        }
    }
}
