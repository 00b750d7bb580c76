//! One error type for the client, mapped from the wire codes of docs/protocol.md, "Errors".

use prelude_wire::Code;

/// Everything a [`crate::SessionClient`] call can fail with. No variant carries a response body
/// or a secret; `message` fields are the server's short explanation or ours.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `bad_check_code`: the code was wrong; the same verification can be retried.
    #[error("wrong code")]
    InvalidOtpCode {
        /// Tries left on this verification, when the server says.
        attempts_remaining: Option<u32>,
    },
    /// `invalid_challenge_token` and its family, or a blocked challenge used locally.
    #[error("invalid challenge: {message}")]
    InvalidChallengeToken {
        /// The wire code as the server sent it.
        code: String,
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// The challenge expired (checked locally before `/otp/check`, or said by the server).
    #[error("the challenge has expired")]
    ExpiredChallengeToken,
    /// `token_reused`: a spent challenge token was submitted again.
    #[error("this challenge token was already used")]
    TokenReused,
    /// The server answered without the challenge token the flow needs.
    #[error("the server did not return a challenge token")]
    MissingChallengeToken,
    /// `scope_not_allowed`.
    #[error("scope not allowed: {message}")]
    ScopeNotAllowed {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `forbidden`, `not_configured`, `auth_blocked`, `no_login_config` and the other 403s.
    #[error("forbidden ({code}): {message}")]
    Forbidden {
        /// The wire code as the server sent it.
        code: String,
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `insufficient_scope`: step up, then retry.
    #[error("insufficient scope")]
    InsufficientScope,
    /// `unauthorized` and the DPoP family after their retries; also a session revoked while a
    /// refresh was in flight, or no session at all.
    #[error("unauthorized ({code}): {message}")]
    Unauthorized {
        /// The wire code as the server sent it.
        code: String,
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `rate_limited`, `too_many_requests`, `too_many_challenges`: try again later.
    #[error("rate limited: {message}")]
    RateLimited {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `too_many_attempts`: too many wrong codes for this identifier; it is locked out for a
    /// while, and even the right code is refused until then.
    #[error("locked out: {message}")]
    LockedOut {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// 400s: `bad_request`, `invalid_identifier`, `invalid_metadata`, pagination, …
    #[error("bad request ({code}): {message}")]
    BadRequest {
        /// The wire code as the server sent it.
        code: String,
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `not_found`: no such session, passkey or route.
    #[error("not found: {message}")]
    NotFound {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `conflict`: a state conflict that is not a replay.
    #[error("conflict: {message}")]
    Conflict {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `identifier_already_exists` (409): the phone number or email address is already on an
    /// account, this one or another's (docs/protocol.md, "Registering an identifier"). The
    /// SDKs fold it into `Conflict`; it is its own case here so a UI can say which.
    #[error("identifier already exists: {message}")]
    IdentifierAlreadyExists {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `internal`: the server failed.
    #[error("the server failed: {message}")]
    Internal {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// The request did not complete in time.
    #[error("the request timed out")]
    Timeout,
    /// The server could not be reached.
    #[error("network error: {0}")]
    Network(String),
    /// The OS keyring is missing, locked or refused access. Nothing was written elsewhere.
    #[error("the system keyring is unavailable: {0}")]
    KeyringUnavailable(String),
    /// Input refused before any request (identifier, metadata, session id, endpoint).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A plain `http://` server that is not this computer: refused before any request, since
    /// refresh tokens and codes would cross the network in clear. Only loopback (`localhost`,
    /// 127.0.0.0/8, `::1`) is reached without TLS (docs/protocol.md, "Choices").
    #[error(
        "plain http:// is refused for {host}: only this computer (localhost, 127.0.0.0/8, ::1) is \
         reached without TLS, since refresh tokens and codes would cross the network in clear; \
         use https://"
    )]
    PlainHttp {
        /// The host refused.
        host: String,
    },
    /// A response body over `limit` bytes ([`crate::MAX_RESPONSE_BYTES`]); reading stopped
    /// there.
    #[error("the server's answer is larger than {limit} bytes, so it was not read")]
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The server's `Date` is further from this computer's clock than
    /// [`crate::MAX_CLOCK_SKEW_SECS`] either way, so it is not adopted. `skew_secs` is
    /// server − local, in seconds.
    #[error("{}", clock_words(*skew_secs))]
    ClockSkew {
        /// Server − local, in seconds.
        skew_secs: i64,
    },
    /// `passkey_not_configured`: the app has no passkey configuration, or passkey sign-in is
    /// off (docs/protocol.md, "Passkeys").
    #[error("passkeys are not configured: {message}")]
    PasskeyNotConfigured {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `passkey_registration_failed`: the server refused the new credential, or its answer to
    /// `register/begin`/`finish` lacked the options, token or credential.
    #[error("the passkey could not be registered: {message}")]
    PasskeyRegistrationFailed {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `passkey_step_unavailable`: a `verify_passkey` step came without request options (the
    /// user has no usable passkey; raised locally, before any ceremony), or the server refused
    /// the assertion.
    #[error("no passkey can be used for this step: {message}")]
    PasskeyStepUnavailable {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// `passkey_authenticator_blocked`: the server blocked the credential (a sign counter that
    /// went backwards, or an operator's block); delete it and register again.
    #[error("this passkey is blocked: {message}")]
    PasskeyAuthenticatorBlocked {
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
    /// The authenticator already holds one of the credentials `excludeCredentials` lists
    /// (WebAuthn `InvalidStateError`); raised by an [`crate::Authenticator`], never by the
    /// server.
    #[error("a passkey for this account is already on this computer")]
    PasskeyAlreadyRegistered,
    /// The person declined the ceremony; raised by an [`crate::Authenticator`].
    #[error("cancelled")]
    Cancelled,
    /// Any other wire code, or a response we could not read.
    #[error("error {code}: {message}")]
    Generic {
        /// The wire code as the server sent it.
        code: String,
        /// The server's short explanation, at most 200 characters.
        message: String,
    },
}

impl Error {
    /// A stable snake_case code for this error, for UIs to branch on.
    pub fn code(&self) -> &str {
        match self {
            Error::InvalidOtpCode { .. } => "invalid_otp_code",
            Error::InvalidChallengeToken { .. } => Code::InvalidChallengeToken.as_str(),
            Error::ExpiredChallengeToken => Code::ExpiredChallengeToken.as_str(),
            Error::TokenReused => Code::TokenReused.as_str(),
            Error::MissingChallengeToken => Code::MissingChallengeToken.as_str(),
            Error::ScopeNotAllowed { .. } => Code::ScopeNotAllowed.as_str(),
            Error::Forbidden { code, .. } => match Code::parse(code) {
                Some(Code::NotConfigured) => "step_up_not_configured",
                Some(Code::NoLoginConfig) => Code::NoLoginConfig.as_str(),
                _ => Code::Forbidden.as_str(),
            },
            Error::InsufficientScope => Code::InsufficientScope.as_str(),
            Error::Unauthorized { .. } => Code::Unauthorized.as_str(),
            Error::RateLimited { .. } => Code::RateLimited.as_str(),
            Error::LockedOut { .. } => Code::TooManyAttempts.as_str(),
            Error::BadRequest { code, .. } => match Code::parse(code) {
                Some(c @ (Code::InvalidIdentifier | Code::InvalidMetadata)) => c.as_str(),
                _ => Code::BadRequest.as_str(),
            },
            Error::NotFound { .. } => Code::NotFound.as_str(),
            Error::Conflict { .. } => Code::Conflict.as_str(),
            Error::IdentifierAlreadyExists { .. } => Code::IdentifierAlreadyExists.as_str(),
            Error::Internal { .. } => Code::Internal.as_str(),
            Error::Timeout => "timeout",
            Error::Network(_) => "network",
            Error::KeyringUnavailable(_) => "keyring_unavailable",
            Error::InvalidInput(_) => "invalid_input",
            Error::PlainHttp { .. } => "plain_http_refused",
            Error::ResponseTooLarge { .. } => "response_too_large",
            Error::ClockSkew { .. } => "clock_skew_too_large",
            Error::PasskeyNotConfigured { .. } => Code::PasskeyNotConfigured.as_str(),
            Error::PasskeyRegistrationFailed { .. } => Code::PasskeyRegistrationFailed.as_str(),
            Error::PasskeyStepUnavailable { .. } => Code::PasskeyStepUnavailable.as_str(),
            Error::PasskeyAuthenticatorBlocked { .. } => Code::PasskeyAuthenticatorBlocked.as_str(),
            Error::PasskeyAlreadyRegistered => "passkey_already_registered",
            Error::Cancelled => "cancelled",
            Error::Generic { .. } => "generic",
        }
    }

    /// Maps a wire error by its [`Code`] (docs/protocol.md, "Errors"); a code this vocabulary
    /// does not know is [`Error::Generic`], or [`Error::Internal`] for a bare `http_5xx`.
    /// `message` is cut short so a misbehaving server cannot smuggle a large body (or a token
    /// in it) through our error values.
    pub(crate) fn from_wire(status: u16, code: &str, message: &str, attempts: Option<u32>) -> Self {
        let message: String = message.chars().take(200).collect();
        let code_s = code.to_owned();
        let Some(known) = Code::parse(code) else {
            return if status >= 500 && code.starts_with("http_") {
                Error::Internal { message }
            } else {
                Error::Generic {
                    code: code_s,
                    message,
                }
            };
        };
        match known {
            Code::BadCheckCode => Error::InvalidOtpCode {
                attempts_remaining: attempts,
            },
            Code::InvalidChallengeToken
            | Code::StepNotCompleted
            | Code::StepNotFound
            | Code::StepBypassed
            | Code::TokenMismatch => Error::InvalidChallengeToken {
                code: code_s,
                message,
            },
            Code::ExpiredChallengeToken => Error::ExpiredChallengeToken,
            Code::TokenReused => Error::TokenReused,
            Code::MissingChallengeToken => Error::MissingChallengeToken,
            Code::ScopeNotAllowed => Error::ScopeNotAllowed { message },
            Code::Forbidden
            | Code::AuthBlocked
            | Code::NotConfigured
            | Code::DirectScopeIdentifierMismatch
            | Code::InvalidVerifyConfiguration
            | Code::SuspendedAccount
            | Code::InvalidApiKey
            | Code::EmailVerificationNotAllowed
            | Code::NoLoginConfig
            | Code::ForbiddenHost
            | Code::ForbiddenOrigin => Error::Forbidden {
                code: code_s,
                message,
            },
            Code::InsufficientScope => Error::InsufficientScope,
            Code::PasskeyNotConfigured => Error::PasskeyNotConfigured { message },
            Code::PasskeyRegistrationFailed => Error::PasskeyRegistrationFailed { message },
            Code::PasskeyStepUnavailable => Error::PasskeyStepUnavailable { message },
            Code::PasskeyAuthenticatorBlocked => Error::PasskeyAuthenticatorBlocked { message },
            Code::Unauthorized
            | Code::InvalidDpopProof
            | Code::DpopKeyMismatch
            | Code::MissingDpopProof
            | Code::UseDpopNonce => Error::Unauthorized {
                code: code_s,
                message,
            },
            Code::RateLimited | Code::TooManyRequests | Code::TooManyChallenges => {
                Error::RateLimited { message }
            }
            Code::TooManyAttempts => Error::LockedOut { message },
            Code::Internal | Code::InternalServerError => Error::Internal { message },
            Code::NotFound => Error::NotFound { message },
            Code::Conflict => Error::Conflict { message },
            Code::IdentifierAlreadyExists => Error::IdentifierAlreadyExists { message },
            Code::BadRequest
            | Code::InvalidIdentifier
            | Code::InvalidMetadata
            | Code::InvalidPaginationLimit
            | Code::InvalidPaginationOffset
            | Code::InvalidVerificationToken => Error::BadRequest {
                code: code_s,
                message,
            },
            // Known codes that name no case of their own here.
            Code::InvalidRequest
            | Code::UnsupportedMediaType
            | Code::MethodNotAllowed
            | Code::StepUpConfigAlreadyExists => Error::Generic {
                code: code_s,
                message,
            },
        }
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Error::Unauthorized {
            code: Code::Unauthorized.as_str().into(),
            message: message.into(),
        }
    }

    pub(crate) fn decoding(what: &str) -> Self {
        Error::Generic {
            code: "decoding_failed".into(),
            message: what.into(),
        }
    }

    /// The server's own short explanation, or our input check's, without any wire code: the
    /// part a UI may show to a person beside its own sentence.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::InvalidChallengeToken { message, .. }
            | Error::ScopeNotAllowed { message }
            | Error::Forbidden { message, .. }
            | Error::Unauthorized { message, .. }
            | Error::RateLimited { message }
            | Error::LockedOut { message }
            | Error::BadRequest { message, .. }
            | Error::NotFound { message }
            | Error::Conflict { message }
            | Error::IdentifierAlreadyExists { message }
            | Error::Internal { message }
            | Error::PasskeyNotConfigured { message }
            | Error::PasskeyRegistrationFailed { message }
            | Error::PasskeyStepUnavailable { message }
            | Error::PasskeyAuthenticatorBlocked { message }
            | Error::Generic { message, .. } => Some(message.as_str()),
            Error::InvalidInput(why) => Some(why.as_str()),
            _ => None,
        }
        .filter(|m| !m.trim().is_empty())
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Timeout | Error::Network(_) | Error::Internal { .. } | Error::RateLimited { .. }
        )
    }
}

/// A value that breaks a wire rule is bad input, in the rule's words.
impl From<prelude_wire::RuleError> for Error {
    fn from(e: prelude_wire::RuleError) -> Self {
        Error::InvalidInput(e.message)
    }
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Error::Timeout
        } else {
            // reqwest's Display can include the URL, never headers or bodies.
            Error::Network(e.without_url().to_string())
        }
    }
}

/// The crate's result: its [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The words for [`Error::ClockSkew`]: which clock is ahead, by about how many days.
fn clock_words(skew_secs: i64) -> String {
    let days = (skew_secs.unsigned_abs() + 43_200) / 86_400;
    let ahead = if skew_secs > 0 { "ahead of" } else { "behind" };
    format!(
        "this computer's clock, or the server's, is off: the server's time is about {days} days \
         {ahead} this computer's, more than the {} days that are corrected for; check the date \
         and time",
        crate::MAX_CLOCK_SKEW_SECS / 86_400
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_codes_map_to_stable_codes() {
        let cases = [
            ("bad_check_code", "invalid_otp_code"),
            ("step_not_found", "invalid_challenge_token"),
            ("token_reused", "token_reused"),
            ("scope_not_allowed", "scope_not_allowed"),
            ("not_configured", "step_up_not_configured"),
            ("dpop_key_mismatch", "unauthorized"),
            ("too_many_requests", "rate_limited"),
            ("too_many_attempts", "too_many_attempts"),
            ("too_many_challenges", "rate_limited"),
            ("internal", "internal"),
            ("invalid_identifier", "invalid_identifier"),
            ("passkey_not_configured", "passkey_not_configured"),
            ("passkey_registration_failed", "passkey_registration_failed"),
            ("passkey_step_unavailable", "passkey_step_unavailable"),
            (
                "passkey_authenticator_blocked",
                "passkey_authenticator_blocked",
            ),
            ("something_new", "generic"),
        ];
        for (wire, ours) in cases {
            assert_eq!(
                Error::from_wire(400, wire, "m", None).code(),
                ours,
                "{wire}"
            );
        }
    }

    #[test]
    fn a_clock_far_off_is_said_in_words() {
        let ahead = Error::ClockSkew {
            skew_secs: 40 * 86_400,
        };
        assert_eq!(ahead.code(), "clock_skew_too_large");
        let s = ahead.to_string();
        assert!(
            s.starts_with("this computer's clock, or the server's, is off"),
            "{s}"
        );
        assert!(s.contains("40 days ahead of"), "{s}");
        let behind = Error::ClockSkew {
            skew_secs: -(31 * 86_400 + 5),
        };
        assert!(behind.to_string().contains("31 days behind"), "{behind}");
    }

    #[test]
    fn messages_are_bounded() {
        let long = "x".repeat(10_000);
        match Error::from_wire(400, "bad_request", &long, None) {
            Error::BadRequest { message, .. } => assert_eq!(message.len(), 200),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_code_of_the_vocabulary_is_mapped_on_purpose() {
        // A code the server answers with becomes its own case; only these four stay generic.
        let generic = [
            Code::InvalidRequest,
            Code::UnsupportedMediaType,
            Code::MethodNotAllowed,
            Code::StepUpConfigAlreadyExists,
        ];
        for &c in Code::ALL {
            let e = Error::from_wire(c.status(), c.as_str(), "m", None);
            assert_eq!(
                matches!(e, Error::Generic { .. }),
                generic.contains(&c),
                "{c}: {e:?}"
            );
        }
        assert_eq!(
            Error::from_wire(503, "http_503", "m", None).code(),
            "internal"
        );
        assert_eq!(
            Error::from_wire(418, "http_418", "m", None).code(),
            "generic"
        );
    }
}
