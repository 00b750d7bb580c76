//! The stable codes the app sends to its UI and its requesters: the wire's own codes
//! (`prelude_wire::Code`) and the codes the app and its session client add.

use prelude_session::Error as SessionError;
use prelude_wire::Code;

macro_rules! app_codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, )*) => {
        /// A code that is not a wire code: one the session client or the app gives a failure
        /// of its own (a timeout, a refused plain-HTTP server, a wrong PIN, …).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        pub enum AppCode {
            $( $(#[$doc])* #[serde(rename = $text)] $variant, )*
        }

        impl AppCode {
            /// Every app code, in the order they are declared.
            pub const ALL: &'static [AppCode] = &[$(AppCode::$variant),*];

            /// The snake_case spelling, e.g. `"no_tries_left"`.
            pub const fn as_str(self) -> &'static str {
                match self { $(AppCode::$variant => $text,)* }
            }
        }
    };
}

app_codes! {
    /// A wrong one-time code (the wire says `bad_check_code`).
    InvalidOtpCode = "invalid_otp_code",
    /// The app has no step-up configuration (the wire says `not_configured`).
    StepUpNotConfigured = "step_up_not_configured",
    Timeout = "timeout",
    Network = "network",
    KeyringUnavailable = "keyring_unavailable",
    InvalidInput = "invalid_input",
    PlainHttpRefused = "plain_http_refused",
    ResponseTooLarge = "response_too_large",
    ClockSkewTooLarge = "clock_skew_too_large",
    PasskeyAlreadyRegistered = "passkey_already_registered",
    Cancelled = "cancelled",
    /// A wire code the vocabulary does not know, or a response that could not be read.
    Generic = "generic",
    StepUpBlocked = "step_up_blocked",
    WrongStage = "wrong_stage",
    NotSignedIn = "not_signed_in",
    ChallengeMismatch = "challenge_mismatch",
    ChallengeTextRefused = "challenge_text_refused",
    GrantUnverifiable = "grant_unverifiable",
    NoRequest = "no_request",
    NumberMismatch = "number_mismatch",
    NumberNotPicked = "number_not_picked",
    NoEmailForStep = "no_email_for_step",
    NoPhoneForStep = "no_phone_for_step",
    CustomStepElsewhere = "custom_step_elsewhere",
    NoTriesLeft = "no_tries_left",
    CodeEnded = "code_ended",
    DemoOnly = "demo_only",
    Emulator = "emulator",
    Settings = "settings",
    ConnectionFailed = "connection_failed",
    Audit = "audit",
    Startup = "startup",
    PinMismatch = "pin_mismatch",
    NeedsPasskey = "needs_passkey",
    LookalikeIdentifier = "lookalike_identifier",
    PinPolicy = "pin_policy",
    PinAlreadySet = "pin_already_set",
    PinNotSet = "pin_not_set",
    PinRequired = "pin_required",
    WrongPin = "wrong_pin",
    PinBlocked = "pin_blocked",
    NoPasskeyHere = "no_passkey_here",
    PasskeyWrongRp = "passkey_wrong_rp",
    NoUserPresence = "no_user_presence",
    PasskeyUnsupported = "passkey_unsupported",
    PasskeyDamaged = "passkey_damaged",
    /// Countersign is locked: only the lock's own commands answer.
    Locked = "locked",
    /// A PIN try at the lock came before the wait after the last wrong one was over.
    LockWait = "lock_wait",
}

/// An error's code as the UI and requesters read it: serialised as its snake_case string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(untagged)]
pub enum ErrorCode {
    /// A code of the Prelude wire (docs/protocol.md, "Errors"), passed on as the server said it.
    Wire(Code),
    /// A code of the app or its session client.
    App(AppCode),
}

impl ErrorCode {
    /// The snake_case spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Wire(c) => c.as_str(),
            ErrorCode::App(c) => c.as_str(),
        }
    }

    /// The code of a session client failure, by its variant. A wire code the session carries
    /// as text is read as a [`Code`]; one the vocabulary does not know falls to the session's
    /// general code for that family, as its own `code()` does.
    pub fn of_session(e: &SessionError) -> Self {
        use ErrorCode::{App, Wire};
        match e {
            SessionError::InvalidOtpCode { .. } => App(AppCode::InvalidOtpCode),
            SessionError::InvalidChallengeToken { .. } => Wire(Code::InvalidChallengeToken),
            SessionError::ExpiredChallengeToken => Wire(Code::ExpiredChallengeToken),
            SessionError::TokenReused => Wire(Code::TokenReused),
            SessionError::MissingChallengeToken => Wire(Code::MissingChallengeToken),
            SessionError::ScopeNotAllowed { .. } => Wire(Code::ScopeNotAllowed),
            SessionError::Forbidden { code, .. } => match Code::parse(code) {
                Some(Code::NotConfigured) => App(AppCode::StepUpNotConfigured),
                Some(Code::NoLoginConfig) => Wire(Code::NoLoginConfig),
                _ => Wire(Code::Forbidden),
            },
            SessionError::InsufficientScope => Wire(Code::InsufficientScope),
            SessionError::Unauthorized { .. } => Wire(Code::Unauthorized),
            SessionError::RateLimited { .. } => Wire(Code::RateLimited),
            SessionError::LockedOut { .. } => Wire(Code::TooManyAttempts),
            SessionError::BadRequest { code, .. } => match Code::parse(code) {
                Some(c @ (Code::InvalidIdentifier | Code::InvalidMetadata)) => Wire(c),
                _ => Wire(Code::BadRequest),
            },
            SessionError::NotFound { .. } => Wire(Code::NotFound),
            SessionError::Conflict { .. } => Wire(Code::Conflict),
            SessionError::IdentifierAlreadyExists { .. } => Wire(Code::IdentifierAlreadyExists),
            SessionError::Internal { .. } => Wire(Code::Internal),
            SessionError::Timeout => App(AppCode::Timeout),
            SessionError::Network(_) => App(AppCode::Network),
            SessionError::KeyringUnavailable(_) => App(AppCode::KeyringUnavailable),
            SessionError::InvalidInput(_) => App(AppCode::InvalidInput),
            SessionError::PlainHttp { .. } => App(AppCode::PlainHttpRefused),
            SessionError::ResponseTooLarge { .. } => App(AppCode::ResponseTooLarge),
            SessionError::ClockSkew { .. } => App(AppCode::ClockSkewTooLarge),
            SessionError::PasskeyNotConfigured { .. } => Wire(Code::PasskeyNotConfigured),
            SessionError::PasskeyRegistrationFailed { .. } => Wire(Code::PasskeyRegistrationFailed),
            SessionError::PasskeyStepUnavailable { .. } => Wire(Code::PasskeyStepUnavailable),
            SessionError::PasskeyAuthenticatorBlocked { .. } => {
                Wire(Code::PasskeyAuthenticatorBlocked)
            }
            SessionError::PasskeyAlreadyRegistered => App(AppCode::PasskeyAlreadyRegistered),
            SessionError::Cancelled => App(AppCode::Cancelled),
            SessionError::Generic { .. } => App(AppCode::Generic),
        }
    }
}

impl From<Code> for ErrorCode {
    fn from(c: Code) -> Self {
        ErrorCode::Wire(c)
    }
}

impl From<AppCode> for ErrorCode {
    fn from(c: AppCode) -> Self {
        ErrorCode::App(c)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tests and logs compare a code with its spelling.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_s_refusal_of_a_bad_line_is_the_app_s_invalid_input_code() {
        // `countersign status` tells an app older than itself by this code.
        assert_eq!(
            countersign_requests::protocol::INVALID_INPUT,
            AppCode::InvalidInput.as_str()
        );
    }

    fn session_errors() -> Vec<SessionError> {
        let text = |c: &str| (c.to_owned(), "why".to_owned());
        let (code, message) = text("not_configured");
        let (c2, m2) = text("invalid_identifier");
        let (c3, m3) = text("something_new");
        vec![
            SessionError::InvalidOtpCode {
                attempts_remaining: Some(1),
            },
            SessionError::ExpiredChallengeToken,
            SessionError::TokenReused,
            SessionError::MissingChallengeToken,
            SessionError::InsufficientScope,
            SessionError::Forbidden { code, message },
            SessionError::BadRequest {
                code: c2,
                message: m2,
            },
            SessionError::BadRequest {
                code: c3.clone(),
                message: m3.clone(),
            },
            SessionError::Generic {
                code: c3,
                message: m3,
            },
            SessionError::Timeout,
            SessionError::Network("down".into()),
            SessionError::KeyringUnavailable("locked".into()),
            SessionError::InvalidInput("bad".into()),
            SessionError::PlainHttp {
                host: "192.0.2.1".into(),
            },
            SessionError::ResponseTooLarge { limit: 1 },
            SessionError::ClockSkew { skew_secs: 1 << 30 },
            SessionError::PasskeyAlreadyRegistered,
            SessionError::Cancelled,
        ]
    }

    #[test]
    fn a_session_error_keeps_the_code_its_client_gives_it() {
        for e in session_errors() {
            assert_eq!(ErrorCode::of_session(&e).as_str(), e.code(), "{e:?}");
        }
    }

    #[test]
    fn codes_serialise_as_their_spelling_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        let all = Code::ALL
            .iter()
            .map(|&c| ErrorCode::from(c))
            .chain(AppCode::ALL.iter().map(|&c| ErrorCode::from(c)));
        for c in all {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert!(seen.insert(c.as_str()), "{c} twice");
        }
    }
}
