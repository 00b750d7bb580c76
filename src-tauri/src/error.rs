//! The app's error type, sent to the UI as `{code, message, reason, restartable, transient,
//! unreachable, pinFault, badInput, lookalike, noAddress, addPasskey, …}`
//! with stable codes.

use crate::codes::{AppCode, ErrorCode};
use prelude_wire::Channel;
use serde::ser::SerializeStruct;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Session(#[source] prelude_session::Error),
    /// Plain `http://` to a server that is not this computer. The way to a standalone emulator
    /// elsewhere is HTTPS, with its certificate trusted through `--ca-file`.
    #[error(
        "plain http:// is refused for {host}: only this computer (localhost, 127.0.0.0/8, ::1) \
         is reached without TLS, since refresh tokens and codes would cross the network in \
         clear. Use https://; for a standalone emulator on another machine, start it with \
         --tls --cert-out FILE and give Countersign that file with --ca-file FILE or \
         COUNTERSIGN_CA_FILE"
    )]
    PlainHttp { host: String },
    /// The hook (or a direct rule) denied the scope.
    #[error("the approval was denied for this scope")]
    StepUpBlocked,
    /// An action that does not apply where the flow is (its button is not on this screen).
    #[error("that action does not apply to this screen")]
    WrongStage,
    /// The code on screen has no tries left; a new code is the way on.
    #[error("this code has no tries left; send a new code")]
    NoTriesLeft,
    /// The login code expired, or its verification ended, before it was right.
    #[error("this code has expired or can no longer be used; send a new code")]
    CodeEnded,
    /// A custom step on a real server: the customer's own app completes it.
    #[error("this step is completed in the app that asked for the approval")]
    CustomStepElsewhere,
    /// The server's challenge does not carry what was asked (scope or metadata differ).
    #[error("the server's challenge does not match what was asked, so it was refused")]
    ChallengeMismatch,
    /// The server's challenge carries metadata that cannot be shown as it is signed (a
    /// character that reorders or hides text, or nothing visible).
    #[error(
        "the server's challenge holds text that cannot be shown as signed ({0}), so it was refused"
    )]
    ChallengeText(String),
    /// The server granted an approval with metadata at once, but with no challenge token: no
    /// signed record says what was granted, so it is not taken (docs/protocol.md, "Step-up").
    #[error(
        "the server granted this without a signed record of what was approved, so it was not accepted"
    )]
    GrantUnverifiable,
    /// A step sends its code to an address the account does not have (an email step for a
    /// user with only a phone number).
    #[error("{source}")]
    NoAddressForStep {
        /// The channel the step sends its code by: the account has no address for it.
        channel: prelude_wire::Channel,
        source: prelude_session::Error,
    },
    /// The person picked a number other than the requester's: the request is denied.
    #[error(
        "the number picked is not the one the program's terminal shows, so the request was denied"
    )]
    NumberMismatch,
    /// "Continue to approve" before the number was picked.
    #[error("pick the number the program's terminal shows first")]
    NumberNotPicked,
    /// No request is waiting for an answer.
    #[error("no request is waiting")]
    NoRequest,
    /// A command that needs a signed-in user.
    #[error("you are not signed in")]
    NotSignedIn,
    /// A demo-only command while talking to a real server.
    #[error("this is only available with the built-in demo server")]
    DemoOnly,
    #[error("the demo server failed: {0}")]
    Emulator(String),
    #[error("settings could not be saved: {0}")]
    Settings(String),
    #[error("{0}")]
    InvalidInput(String),
    /// One form field's value cannot be used: `field` names it (`amount`, `currency`,
    /// `payee`), so the screen marks that field and says why under it.
    #[error("{why}")]
    InvalidField { field: &'static str, why: String },
    #[error("could not reach the server: {0}")]
    Connection(String),
    #[error("the approval log could not be read or written: {0}")]
    Audit(String),
    /// The server chosen at start could not be set up (bad app id, port in use, …).
    #[error("{0}")]
    Startup(String),
    /// This computer's passkey authenticator refused (docs/protocol.md, "Countersign as the
    /// authenticator").
    #[error("{0}")]
    Authenticator(#[from] crate::authenticator::AuthenticatorError),
    /// The approval is passed by passkey and the server has none of this account's to offer
    /// (`passkey_step_unavailable` at `stepup/request`): one can be added here.
    #[error("{0}")]
    NeedsPasskey(#[source] prelude_session::Error),
    /// The new PIN and its confirmation differ.
    #[error("the two PINs differ")]
    PinMismatch,
    /// An email address that could pass for another (mixed scripts, or letters that read as
    /// plain Latin ones): no code is sent until the person confirms it.
    #[error("this address could pass for another: {0}")]
    LookalikeIdentifier(String),
    /// Countersign is locked: unlock first.
    #[error("Countersign is locked")]
    Locked,
    /// A wrong PIN at the lock makes the next try wait (1, 2, 4 … s).
    #[error("wait {seconds} s before the next PIN try")]
    LockWait { seconds: u64 },
}

impl AppError {
    /// The error's stable code: the session's own for its failures, the app's for the rest.
    pub fn code(&self) -> ErrorCode {
        use AppCode as A;
        let app = match self {
            AppError::Session(e) => return ErrorCode::of_session(e),
            AppError::Authenticator(e) => return e.code(),
            AppError::PlainHttp { .. } => A::PlainHttpRefused,
            AppError::StepUpBlocked => A::StepUpBlocked,
            AppError::WrongStage => A::WrongStage,
            AppError::NotSignedIn => A::NotSignedIn,
            AppError::ChallengeMismatch => A::ChallengeMismatch,
            AppError::ChallengeText(_) => A::ChallengeTextRefused,
            AppError::GrantUnverifiable => A::GrantUnverifiable,
            AppError::NoRequest => A::NoRequest,
            AppError::NumberMismatch => A::NumberMismatch,
            AppError::NumberNotPicked => A::NumberNotPicked,
            AppError::NoAddressForStep {
                channel: Channel::Email,
                ..
            } => A::NoEmailForStep,
            AppError::NoAddressForStep {
                channel: Channel::Sms,
                ..
            } => A::NoPhoneForStep,
            AppError::CustomStepElsewhere => A::CustomStepElsewhere,
            AppError::NoTriesLeft => A::NoTriesLeft,
            AppError::CodeEnded => A::CodeEnded,
            AppError::DemoOnly => A::DemoOnly,
            AppError::Emulator(_) => A::Emulator,
            AppError::Settings(_) => A::Settings,
            AppError::InvalidInput(_) | AppError::InvalidField { .. } => A::InvalidInput,
            AppError::Connection(_) => A::ConnectionFailed,
            AppError::Audit(_) => A::Audit,
            AppError::Startup(_) => A::Startup,
            AppError::PinMismatch => A::PinMismatch,
            AppError::NeedsPasskey(_) => A::NeedsPasskey,
            AppError::LookalikeIdentifier(_) => A::LookalikeIdentifier,
            AppError::Locked => A::Locked,
            AppError::LockWait { .. } => A::LockWait,
        };
        ErrorCode::App(app)
    }

    /// Whether the approval this error ended can be asked again at once: the challenge died
    /// (expired, spent or refused), not the request. The approval is closed as failed on these.
    pub fn is_restartable(&self) -> bool {
        matches!(
            self,
            AppError::Session(
                prelude_session::Error::ExpiredChallengeToken
                    | prelude_session::Error::TokenReused
                    | prelude_session::Error::InvalidChallengeToken { .. }
            )
        )
    }

    /// Whether the same call may succeed later (the server was unreachable, busy or failed):
    /// the session client's judgement, and ours for a server we could not reach at all.
    pub fn is_transient(&self) -> bool {
        match self {
            AppError::Connection(_) => true,
            AppError::Session(e) | AppError::NeedsPasskey(e) => e.is_transient(),
            AppError::NoAddressForStep { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// Whether the server gave no usable answer (not reached, timed out, or failed itself):
    /// the header's server badge then says it did not answer.
    pub fn is_unreachable(&self) -> bool {
        use prelude_session::Error as S;
        let gone = |e: &S| matches!(e, S::Timeout | S::Network(_) | S::Internal { .. });
        match self {
            AppError::Connection(_) | AppError::Startup(_) => true,
            AppError::Session(e) | AppError::NeedsPasskey(e) => gone(e),
            AppError::NoAddressForStep { source, .. } => gone(source),
            _ => false,
        }
    }

    /// The plain explanation behind the error, without a wire code, where there is one: the
    /// server's short message, or our own input check's. The UI's wording table decides whether
    /// a person reads it; the full technical message goes to its "Details".
    pub fn reason(&self) -> Option<&str> {
        match self {
            AppError::Session(e) => e.reason(),
            AppError::InvalidInput(why)
            | AppError::Startup(why)
            | AppError::InvalidField { why, .. }
            | AppError::LookalikeIdentifier(why) => Some(why),
            AppError::Authenticator(crate::authenticator::AuthenticatorError::InvalidSetting(
                why,
            )) => Some(why),
            _ => None,
        }
    }

    /// Remaining tries after a wrong code, when the server said.
    fn attempts_remaining(&self) -> Option<u32> {
        match self {
            AppError::Session(prelude_session::Error::InvalidOtpCode { attempts_remaining }) => {
                *attempts_remaining
            }
            AppError::Authenticator(crate::authenticator::AuthenticatorError::WrongPin {
                tries_left,
            }) => Some(*tries_left),
            _ => None,
        }
    }
}

impl serde::Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("AppError", 12)?;
        st.serialize_field("code", &self.code())?;
        // Both may carry the server's own words: shown under "Details", never able to
        // reorder or hide the text around them.
        let message = self.to_string();
        st.serialize_field("message", &prelude_wire::text::neutralised(&message))?;
        st.serialize_field(
            "reason",
            &self.reason().map(prelude_wire::text::neutralised),
        )?;
        st.serialize_field("attemptsRemaining", &self.attempts_remaining())?;
        let field = match self {
            AppError::InvalidField { field, .. } => Some(*field),
            _ => None,
        };
        st.serialize_field("field", &field)?;
        st.serialize_field("restartable", &self.is_restartable())?;
        st.serialize_field("transient", &self.is_transient())?;
        st.serialize_field("unreachable", &self.is_unreachable())?;
        // What the screen marks, so the UI decides by a flag and spells no code: the PIN field
        // (a PIN typed wrong, missing or too weak), the field typed into (input refused), the
        // look-alike offer, and a step whose code has no address to go to.
        let code = self.code();
        let app = |c: AppCode| code == ErrorCode::App(c);
        st.serialize_field(
            "pinFault",
            &[AppCode::WrongPin, AppCode::PinRequired, AppCode::PinPolicy]
                .into_iter()
                .any(app),
        )?;
        st.serialize_field("badInput", &app(AppCode::InvalidInput))?;
        st.serialize_field("lookalike", &app(AppCode::LookalikeIdentifier))?;
        st.serialize_field(
            "noAddress",
            &matches!(self, AppError::NoAddressForStep { .. }),
        )?;
        // The approval needs a passkey this computer lacks: "Add a passkey" goes beside it.
        st.serialize_field("addPasskey", &matches!(self, AppError::NeedsPasskey(_)))?;
        st.end()
    }
}

pub type AppResult<T> = Result<T, AppError>;

impl From<prelude_session::Error> for AppError {
    /// A refused plain-HTTP server gets the app's words, which name `--ca-file`.
    fn from(e: prelude_session::Error) -> Self {
        match e {
            prelude_session::Error::PlainHttp { host } => AppError::PlainHttp { host },
            e => AppError::Session(e),
        }
    }
}

/// A value that breaks a wire rule (an identifier typed) is bad input, as the session client
/// says it.
impl From<prelude_wire::RuleError> for AppError {
    fn from(e: prelude_wire::RuleError) -> Self {
        AppError::Session(e.into())
    }
}

/// The sentence a person reads for an error, where it differs from the technical message;
/// what the server said in it is neutralised (a requester prints it to a terminal).
pub fn for_people(e: &AppError) -> String {
    match e {
        AppError::StepUpBlocked => "Your hook denied this scope.".to_owned(),
        other => prelude_wire::text::neutralised(&other.to_string()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_code_and_message() {
        let e = AppError::Session(prelude_session::Error::InvalidOtpCode {
            attempts_remaining: Some(3),
        });
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "invalid_otp_code");
        assert_eq!(v["attemptsRemaining"], 3);
        assert!(v["message"].is_string());
        assert!(v["reason"].is_null());
        let bad = AppError::Session(prelude_session::Error::BadRequest {
            code: "invalid_identifier".into(),
            message: "the user has no email address for this step".into(),
        });
        let v = serde_json::to_value(&bad).unwrap();
        assert_eq!(v["code"], "invalid_identifier");
        assert_eq!(v["reason"], "the user has no email address for this step");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("(invalid_identifier)")
        );
        let v = serde_json::to_value(AppError::StepUpBlocked).unwrap();
        assert_eq!(v["code"], "step_up_blocked");
        assert!(v["field"].is_null());
        let v = serde_json::to_value(AppError::InvalidField {
            field: "amount",
            why: "enter an amount above 0".into(),
        })
        .unwrap();
        assert_eq!(v["code"], "invalid_input");
        assert_eq!(v["field"], "amount");
        assert_eq!(v["reason"], "enter an amount above 0");
    }

    #[test]
    fn transport_refusals_keep_their_codes_and_name_the_way_out() {
        let plain: AppError = prelude_session::Error::PlainHttp {
            host: "192.0.2.10".into(),
        }
        .into();
        let v = serde_json::to_value(&plain).unwrap();
        assert_eq!(v["code"], "plain_http_refused");
        let m = v["message"].as_str().unwrap();
        for words in [
            "192.0.2.10",
            "127.0.0.0/8",
            "--ca-file",
            "COUNTERSIGN_CA_FILE",
            "--tls",
        ] {
            assert!(m.contains(words), "{words} not in {m}");
        }
        for (e, code) in [
            (
                prelude_session::Error::ResponseTooLarge { limit: 1 << 20 },
                "response_too_large",
            ),
            (
                prelude_session::Error::ClockSkew {
                    skew_secs: 40 * 86_400,
                },
                "clock_skew_too_large",
            ),
        ] {
            let v = serde_json::to_value(AppError::from(e)).unwrap();
            assert_eq!(v["code"], code);
        }
    }

    #[test]
    fn the_servers_words_cannot_reorder_the_details() {
        let e = AppError::Session(prelude_session::Error::BadRequest {
            code: "bad_request".into(),
            message: "denied \u{202E}gnihton\u{2028}".into(),
        });
        let v = serde_json::to_value(&e).unwrap();
        for field in ["message", "reason"] {
            let text = v[field].as_str().unwrap();
            assert!(
                text.contains("denied \u{FFFD}gnihton\u{FFFD}"),
                "{field}: {text:?}"
            );
        }
        assert!(!for_people(&e).contains('\u{202E}'));
    }

    #[test]
    fn the_ui_is_told_which_errors_restart_and_which_pass() {
        let flags = |e: AppError| {
            let v = serde_json::to_value(&e).unwrap();
            (v["restartable"].as_bool(), v["transient"].as_bool())
        };
        for e in [
            prelude_session::Error::ExpiredChallengeToken,
            prelude_session::Error::TokenReused,
            prelude_session::Error::InvalidChallengeToken {
                code: "step_not_found".into(),
                message: "gone".into(),
            },
        ] {
            assert_eq!(flags(AppError::Session(e)), (Some(true), Some(false)));
        }
        for e in [
            prelude_session::Error::Timeout,
            prelude_session::Error::Network("refused".into()),
            prelude_session::Error::Internal {
                message: "down".into(),
            },
            prelude_session::Error::RateLimited {
                message: "slow down".into(),
            },
        ] {
            assert_eq!(flags(AppError::Session(e)), (Some(false), Some(true)));
        }
        assert_eq!(
            flags(AppError::Connection("no route".into())),
            (Some(false), Some(true))
        );
        for e in [
            AppError::StepUpBlocked,
            AppError::NoTriesLeft,
            AppError::Session(prelude_session::Error::InvalidOtpCode {
                attempts_remaining: Some(2),
            }),
        ] {
            assert_eq!(flags(e), (Some(false), Some(false)));
        }
        // The server badge's "did not answer": no answer at all, or the server failed; a rate
        // limit is an answer.
        let unreachable = |e: AppError| serde_json::to_value(&e).unwrap()["unreachable"].as_bool();
        for e in [
            AppError::Session(prelude_session::Error::Timeout),
            AppError::Session(prelude_session::Error::Network("refused".into())),
            AppError::Session(prelude_session::Error::Internal {
                message: "down".into(),
            }),
            AppError::Connection("no route".into()),
            AppError::Startup("port taken".into()),
        ] {
            assert_eq!(unreachable(e), Some(true));
        }
        for e in [
            AppError::Session(prelude_session::Error::RateLimited {
                message: "slow down".into(),
            }),
            AppError::Session(prelude_session::Error::TokenReused),
            AppError::NoTriesLeft,
        ] {
            assert_eq!(unreachable(e), Some(false));
        }
    }

    #[test]
    fn a_missing_address_is_named_by_the_steps_channel() {
        let e = |channel| AppError::NoAddressForStep {
            channel,
            source: prelude_session::Error::BadRequest {
                code: "invalid_identifier".into(),
                message: "no address".into(),
            },
        };
        assert_eq!(e(Channel::Email).code(), "no_email_for_step");
        assert_eq!(e(Channel::Sms).code(), "no_phone_for_step");
    }

    /// The UI marks fields by these flags, not by codes: each is set for its own errors only.
    #[test]
    fn flags_say_what_the_screen_marks() {
        use crate::authenticator::AuthenticatorError as Au;
        let flags = |e: AppError| {
            let v = serde_json::to_value(&e).unwrap();
            [
                "pinFault",
                "badInput",
                "lookalike",
                "noAddress",
                "addPasskey",
            ]
            .map(|f| v[f].as_bool().unwrap_or_else(|| panic!("{f} missing")))
        };
        for e in [
            Au::WrongPin { tries_left: 2 },
            Au::PinRequired,
            Au::PinPolicy,
        ] {
            assert_eq!(
                flags(AppError::Authenticator(e)),
                [true, false, false, false, false]
            );
        }
        assert_eq!(
            flags(AppError::Authenticator(Au::PinBlocked)),
            [false, false, false, false, false]
        );
        assert_eq!(
            flags(AppError::InvalidInput("no".into())),
            [false, true, false, false, false]
        );
        assert_eq!(
            flags(AppError::Session(prelude_session::Error::InvalidInput(
                "no".into()
            ))),
            [false, true, false, false, false]
        );
        assert_eq!(
            flags(AppError::LookalikeIdentifier("mixed".into())),
            [false, false, true, false, false]
        );
        let no_address = AppError::NoAddressForStep {
            channel: Channel::Sms,
            source: prelude_session::Error::Timeout,
        };
        assert_eq!(flags(no_address), [false, false, false, true, false]);
        assert_eq!(
            flags(AppError::NoTriesLeft),
            [false, false, false, false, false]
        );
        let needs = AppError::NeedsPasskey(prelude_session::Error::Timeout);
        assert_eq!(flags(needs), [false, false, false, false, true]);
    }
}
