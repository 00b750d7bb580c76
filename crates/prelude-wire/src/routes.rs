//! The route paths of the frontend API (docs/protocol.md, "Routes"), relative to
//! [`FRONTEND_BASE`] unless they start with `/.well-known/`; the server's router and the client's
//! calls both use these, so a path is spelled once.

/// Where the frontend API lives on a host: `https://{app_id}.session.prelude.dev/v1/session`.
pub const FRONTEND_BASE: &str = "/v1/session";
/// The management API's base for one app: [`management_base`] gives it with the app id.
pub const MANAGEMENT_PREFIX: &str = "/v2/session/apps";
/// The emulator's own routes (outbox, faults, clock, reset): not part of Prelude's API.
pub const EMULATOR_BASE: &str = "/emulator/v1";

/// `POST`: start an OTP login.
pub const OTP: &str = "/otp";
/// `POST`: send the code again.
pub const OTP_RETRY: &str = "/otp/retry";
/// `POST`: check a login or step-up code.
pub const OTP_CHECK: &str = "/otp/check";
/// `POST`: exchange a login challenge token for tokens, with a DPoP proof.
pub const LOGIN_FINALIZE: &str = "/login/finalize";
/// `POST`: the web SDK 0.6's login alias of [`OTP`].
pub const LOGIN_OTP: &str = "/login/otp";
/// `POST`: the web SDK 0.6's alias of [`OTP_RETRY`].
pub const LOGIN_OTP_RETRY: &str = "/login/otp/retry";
/// `POST`: the web SDK 0.6's alias of [`OTP_CHECK`].
pub const LOGIN_OTP_CHECK: &str = "/login/otp/check";
/// `POST`: rotate the refresh token; also redeems a completed step-up challenge.
pub const REFRESH: &str = "/refresh";
/// `POST`: end this session.
pub const REVOKE: &str = "/revoke";
/// `POST`: ask for a scope.
pub const STEPUP_REQUEST: &str = "/stepup/request";
/// `POST`: pass a custom or passkey step.
pub const STEPUP_CONTINUE: &str = "/stepup/continue";
/// `GET`: the user's sessions.
pub const ME_LIST: &str = "/me/list";
/// `POST`: end one of the user's sessions.
pub const ME_REVOKE: &str = "/me/revoke";
/// `POST`: start a passkey sign-in.
pub const LOGIN_PASSKEY_BEGIN: &str = "/login/passkey/begin";
/// `POST`: finish a passkey sign-in with the assertion.
pub const LOGIN_PASSKEY_FINISH: &str = "/login/passkey/finish";
/// `GET`: the user's passkeys.
pub const ME_PASSKEYS: &str = "/me/passkeys";
/// `POST`: creation options and a registration token.
pub const PASSKEY_REGISTER_BEGIN: &str = "/me/passkeys/register/begin";
/// `POST`: the attestation for a registration token.
pub const PASSKEY_REGISTER_FINISH: &str = "/me/passkeys/register/finish";
/// `PATCH`/`DELETE` one passkey, as the router's pattern; [`passkey`] fills it in.
pub const PASSKEY_ITEM: &str = "/me/passkeys/{credential_id}";
/// The keys that sign access tokens (and hook requests), as a JWK set.
pub const JWKS: &str = "/.well-known/jwks.json";
/// The keys that sign step-up challenge tokens.
pub const STEP_UP_JWKS: &str = "/.well-known/step-up-jwks.json";

/// `GET`/`DELETE`: the emulator's outbox of sent codes, under [`EMULATOR_BASE`].
pub const EMULATOR_OUTBOX: &str = "/outbox";
/// `GET`/`PUT`: the emulator's fault switches, under [`EMULATOR_BASE`].
pub const EMULATOR_FAULTS: &str = "/faults";
/// `GET`: the emulator's last refused passkey ceremony, under [`EMULATOR_BASE`].
pub const EMULATOR_PASSKEY_REFUSAL: &str = "/passkeys/refusal";
/// `GET`/`PUT`: the emulator's clock offset, under [`EMULATOR_BASE`].
pub const EMULATOR_CLOCK: &str = "/clock";
/// `GET`/`PUT`: the emulator's scenario file, under [`EMULATOR_BASE`].
pub const EMULATOR_SCENARIO: &str = "/scenario";

/// Every route of the frontend API, relative to [`FRONTEND_BASE`] (the `/.well-known/` ones
/// absolute), so a check can look for any of them.
pub const FRONTEND: &[&str] = &[
    OTP,
    OTP_RETRY,
    OTP_CHECK,
    LOGIN_FINALIZE,
    LOGIN_OTP,
    LOGIN_OTP_RETRY,
    LOGIN_OTP_CHECK,
    REFRESH,
    REVOKE,
    STEPUP_REQUEST,
    STEPUP_CONTINUE,
    ME_LIST,
    ME_REVOKE,
    LOGIN_PASSKEY_BEGIN,
    LOGIN_PASSKEY_FINISH,
    ME_PASSKEYS,
    PASSKEY_REGISTER_BEGIN,
    PASSKEY_REGISTER_FINISH,
    PASSKEY_ITEM,
    JWKS,
    STEP_UP_JWKS,
];

/// Every emulator route, relative to [`EMULATOR_BASE`].
pub const EMULATOR: &[&str] = &[
    EMULATOR_OUTBOX,
    EMULATOR_FAULTS,
    EMULATOR_PASSKEY_REFUSAL,
    EMULATOR_CLOCK,
    EMULATOR_SCENARIO,
];

/// The bases every absolute path of the APIs starts with.
pub const BASES: &[&str] = &[FRONTEND_BASE, MANAGEMENT_PREFIX, EMULATOR_BASE];

/// [`PASSKEY_ITEM`] for one credential ID. The caller checks that the ID is one path segment
/// (base64url), since it is not escaped here.
pub fn passkey(credential_id: &str) -> String {
    format!("{ME_PASSKEYS}/{credential_id}")
}

/// A frontend route as an absolute path: `/v1/session/otp` for [`OTP`].
pub fn frontend(route: &str) -> String {
    format!("{FRONTEND_BASE}{route}")
}

/// An emulator route as an absolute path: `/emulator/v1/faults` for [`EMULATOR_FAULTS`].
pub fn emulator(route: &str) -> String {
    format!("{EMULATOR_BASE}{route}")
}

/// The management API's base for `app_id`: `/v2/session/apps/{app_id}`.
pub fn management_base(app_id: &str) -> String {
    format!("{MANAGEMENT_PREFIX}/{app_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_built_as_documented() {
        assert_eq!(frontend(OTP_CHECK), "/v1/session/otp/check");
        assert_eq!(passkey("q83v_-9"), "/me/passkeys/q83v_-9");
        assert_eq!(management_base("demo"), "/v2/session/apps/demo");
        assert_eq!(emulator(EMULATOR_OUTBOX), "/emulator/v1/outbox");
    }
}
