//! The error codes of the wire (`{code, message}`, docs/protocol.md "Errors"), each with the
//! HTTP status the server answers it with, so neither side spells a code or picks a status twice.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal => $status:literal, )*) => {
        /// An error code of the Prelude Session API as the server sends it. Serialised as its
        /// wire string (`Code::BadCheckCode` ↔ `"bad_check_code"`); [`Code::status`] is the
        /// HTTP status that goes with it. Codes of the real service that the emulator never
        /// sends are here too, so the client maps them by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Code {
            $( $(#[$doc])* #[serde(rename = $wire)] $variant, )*
        }

        impl Code {
            /// Every code, in the order they are declared.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The wire string, e.g. `"bad_check_code"`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $wire,)* }
            }

            /// The HTTP status the server answers this code with. A route may answer another
            /// status in a documented case (`413` for a body over the limit is `bad_request`).
            pub const fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            /// The code for a wire string; `None` for one this vocabulary does not know.
            pub fn parse(wire: &str) -> Option<Code> {
                match wire { $($wire => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    /// A malformed request: body, field or header (400; 413 when the body is too large).
    BadRequest = "bad_request" => 400,
    /// An OAuth-style malformed request (`/revoke`, RFC 7009 §2.2.1).
    InvalidRequest = "invalid_request" => 400,
    InvalidIdentifier = "invalid_identifier" => 400,
    InvalidMetadata = "invalid_metadata" => 400,
    InvalidPaginationLimit = "invalid_pagination_limit" => 400,
    InvalidPaginationOffset = "invalid_pagination_offset" => 400,
    /// No valid access token, or a session that ended (401).
    Unauthorized = "unauthorized" => 401,
    /// A wrong one-time code; the same verification may be tried again (401).
    BadCheckCode = "bad_check_code" => 401,
    RateLimited = "rate_limited" => 429,
    /// The real service's spelling of a rate limit.
    TooManyRequests = "too_many_requests" => 429,
    /// Too many wrong codes for an identifier: locked out for a while (429).
    TooManyAttempts = "too_many_attempts" => 429,
    TooManyChallenges = "too_many_challenges" => 429,
    MissingDpopProof = "missing_dpop_proof" => 400,
    InvalidDpopProof = "invalid_dpop_proof" => 400,
    /// RFC 9449 §8: retry with the nonce in the `DPoP-Nonce` header (400).
    UseDpopNonce = "use_dpop_nonce" => 400,
    /// The proof's key is not the one the session is bound to (401).
    DpopKeyMismatch = "dpop_key_mismatch" => 401,
    InvalidChallengeToken = "invalid_challenge_token" => 400,
    ExpiredChallengeToken = "expired_challenge_token" => 400,
    MissingChallengeToken = "missing_challenge_token" => 400,
    /// A spent token was submitted again (409).
    TokenReused = "token_reused" => 409,
    TokenMismatch = "token_mismatch" => 400,
    StepNotFound = "step_not_found" => 400,
    StepNotCompleted = "step_not_completed" => 400,
    StepBypassed = "step_bypassed" => 400,
    InvalidVerificationToken = "invalid_verification_token" => 400,
    ScopeNotAllowed = "scope_not_allowed" => 403,
    /// The app has no step-up configuration (403).
    NotConfigured = "not_configured" => 403,
    NoLoginConfig = "no_login_config" => 403,
    DirectScopeIdentifierMismatch = "direct_scope_identifier_mismatch" => 403,
    Forbidden = "forbidden" => 403,
    AuthBlocked = "auth_blocked" => 403,
    InvalidVerifyConfiguration = "invalid_verify_configuration" => 403,
    SuspendedAccount = "suspended_account" => 403,
    InvalidApiKey = "invalid_api_key" => 403,
    EmailVerificationNotAllowed = "email_verification_not_allowed" => 403,
    /// A Host the emulator does not serve on this route (421).
    ForbiddenHost = "forbidden_host" => 421,
    ForbiddenOrigin = "forbidden_origin" => 403,
    UnsupportedMediaType = "unsupported_media_type" => 415,
    MethodNotAllowed = "method_not_allowed" => 405,
    NotFound = "not_found" => 404,
    /// The session lacks a scope the route needs, e.g. `prld:passkey:write` (403).
    InsufficientScope = "insufficient_scope" => 403,
    /// A state conflict that is not a token replay, e.g. too many passkeys (409).
    Conflict = "conflict" => 409,
    StepUpConfigAlreadyExists = "step_up_config_already_exists" => 409,
    IdentifierAlreadyExists = "identifier_already_exists" => 409,
    Internal = "internal" => 500,
    /// The real service's spelling of a failure of its own.
    InternalServerError = "internal_server_error" => 500,
    /// The app has no passkey configuration, or passkey login is off (403).
    PasskeyNotConfigured = "passkey_not_configured" => 403,
    /// A registration ceremony was refused: a bad or spent registration token, or an
    /// attestation that fails a WebAuthn check (400).
    PasskeyRegistrationFailed = "passkey_registration_failed" => 400,
    /// A `verify_passkey` step cannot pass: no options were issued (no configuration or no
    /// usable credential) or the assertion failed a WebAuthn check (400).
    PasskeyStepUnavailable = "passkey_step_unavailable" => 400,
    /// The credential is blocked after its sign counter went backwards (403).
    PasskeyAuthenticatorBlocked = "passkey_authenticator_blocked" => 403,
}

impl Code {
    /// Whether this is one of the passkey codes (PASSKEYS.md §7). None of them is answered
    /// with 401: the SDKs refresh and replay a request after a 401, which would resubmit
    /// single-use ceremony material. `login/passkey/finish` answers every failure
    /// `401 unauthorized` on purpose and uses none of them.
    pub const fn is_passkey(self) -> bool {
        matches!(
            self,
            Code::PasskeyNotConfigured
                | Code::PasskeyRegistrationFailed
                | Code::PasskeyStepUnavailable
                | Code::PasskeyAuthenticatorBlocked
                | Code::InsufficientScope
                | Code::Conflict
        )
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_serialises_as_its_wire_string_and_back() {
        for &code in Code::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::json!(code.as_str()));
            assert_eq!(serde_json::from_value::<Code>(json).unwrap(), code);
            assert_eq!(Code::parse(code.as_str()), Some(code));
            assert_eq!(code.to_string(), code.as_str());
            assert!((400..600).contains(&code.status()), "{code}");
        }
        assert_eq!(Code::parse("something_new"), None);
    }

    #[test]
    fn wire_strings_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for &code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }

    #[test]
    fn passkey_codes_are_never_401() {
        for &code in Code::ALL.iter().filter(|c| c.is_passkey()) {
            assert!(
                code.status() != 401 && (400..500).contains(&code.status()),
                "{code}"
            );
        }
        assert_eq!(Code::PasskeyAuthenticatorBlocked.status(), 403);
        assert_eq!(Code::PasskeyStepUnavailable.status(), 400);
        assert_eq!(Code::PasskeyRegistrationFailed.status(), 400);
        assert_eq!(Code::PasskeyNotConfigured.status(), 403);
        assert_eq!(Code::InsufficientScope.status(), 403);
        assert_eq!(Code::Conflict.status(), 409);
        assert!(!Code::Unauthorized.is_passkey());
    }
}
