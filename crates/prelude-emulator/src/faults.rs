//! The test bench's fault switches (`GET/PUT /emulator/v1/faults`, docs/protocol.md
//! "Emulator"): what they are, their defaults and their ranges.

use serde::{Deserialize, Serialize};

/// The switches of `GET/PUT /emulator/v1/faults`. A missing field takes its default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Demand a DPoP nonce on DPoP-signed routes.
    pub require_dpop_nonce: bool,
    /// Seconds added to the server clock (tokens, `Date`, proof `iat` window); the clock's
    /// offset. Within ±7 days.
    pub clock_skew_secs: i64,
    /// Paths (e.g. `/v1/session/refresh`) answered with 500 `internal`.
    pub fail_routes: Vec<String>,
    /// Paths answered with 429 `rate_limited`.
    pub rate_limit_routes: Vec<String>,
    /// Delay before every response, in milliseconds; at most 120 000.
    pub delay_ms: u64,
    /// On `continue`, answer with no challenge token (a quirk seen on the real service).
    pub omit_continue_token: bool,
    /// Challenge tokens sign other metadata than was asked: each value gets a `0` appended
    /// (`500` becomes `5000`), and a request with none gains `payee: Mallory`. The challenge
    /// itself keeps what was asked; only what its tokens say changes.
    pub rewrite_signed_metadata: bool,
    /// The customer's delegated hook cannot be reached (its scopes are blocked).
    pub hook_unreachable: bool,
    /// Codes reach the demo phone and mailbox this many milliseconds late; at most 120 000.
    pub message_delay_ms: u64,
    /// Codes are never delivered (the verification exists; the message never arrives).
    pub messages_lost: bool,
    /// Paths whose request is carried out but whose answer is lost: the connection drops
    /// mid-response (a network that flaps at the worst moment).
    pub lose_response_routes: Vec<String>,
    /// `DELETE me/passkeys/{id}` needs `prld:passkey:write` on the session (on by default).
    pub passkey_delete_requires_scope: bool,
    /// A sign counter that did not grow blocks its credential (on by default). Off, that
    /// assertion is refused (`400 passkey_step_unavailable`) and the credential stays usable.
    pub passkey_block_on_counter_regression: bool,
    /// Registration accepts an attestation statement it cannot verify (a format other than
    /// `none`) when the configuration asks for attestation (off by default).
    pub passkey_accept_unverified_attestation: bool,
    /// Test bench: assertions are checked against a stored sign counter raised far ahead, as
    /// if the authenticator's counter went backwards (a clone); the credential gets blocked
    /// unless `passkey_block_on_counter_regression` is off.
    pub passkey_counter_behind: bool,
    /// Test bench: the step's request options say `userVerification: "discouraged"` while
    /// the check still requires UV when the configuration does.
    pub passkey_options_uv_discouraged: bool,
    /// Test bench: assertions are checked against another `allowed_origins`
    /// (`https://elsewhere.invalid`), so every origin is wrong.
    pub passkey_wrong_origin: bool,
    /// Test bench: every credential is treated as blocked while this is on.
    pub passkey_blocked: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            require_dpop_nonce: false,
            clock_skew_secs: 0,
            fail_routes: Vec::new(),
            rate_limit_routes: Vec::new(),
            delay_ms: 0,
            omit_continue_token: false,
            rewrite_signed_metadata: false,
            hook_unreachable: false,
            message_delay_ms: 0,
            messages_lost: false,
            lose_response_routes: Vec::new(),
            passkey_delete_requires_scope: true,
            passkey_block_on_counter_regression: true,
            passkey_accept_unverified_attestation: false,
            passkey_counter_behind: false,
            passkey_options_uv_discouraged: false,
            passkey_wrong_origin: false,
            passkey_blocked: false,
        }
    }
}

/// The clock moves at most a week either way.
pub const MAX_CLOCK_OFFSET_SECS: i64 = 7 * 86_400;
pub const MAX_DELAY_MS: u64 = 120_000;
const MAX_FAULT_ROUTES: usize = 32;

impl Faults {
    /// The first field out of range, and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.clock_skew_secs.abs() > MAX_CLOCK_OFFSET_SECS {
            return Err((
                "clock_skew_secs",
                format!("must be within ±{MAX_CLOCK_OFFSET_SECS} s (7 days)"),
            ));
        }
        if self.delay_ms > MAX_DELAY_MS {
            return Err(("delay_ms", format!("must be 0 to {MAX_DELAY_MS}")));
        }
        if self.message_delay_ms > MAX_DELAY_MS {
            return Err(("message_delay_ms", format!("must be 0 to {MAX_DELAY_MS}")));
        }
        for (name, routes) in [
            ("fail_routes", &self.fail_routes),
            ("rate_limit_routes", &self.rate_limit_routes),
            ("lose_response_routes", &self.lose_response_routes),
        ] {
            if routes.len() > MAX_FAULT_ROUTES
                || routes.iter().any(|r| !r.starts_with('/') || r.len() > 256)
            {
                return Err((
                    name,
                    format!(
                        "at most {MAX_FAULT_ROUTES} paths, each starting with / and at most 256 bytes"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Brings every value into range; says what was changed.
    pub fn repair(&mut self) -> Vec<String> {
        let mut notes = vec![];
        if self.clock_skew_secs.abs() > MAX_CLOCK_OFFSET_SECS {
            notes.push(format!(
                "clock_skew_secs {} reset to 0",
                self.clock_skew_secs
            ));
            self.clock_skew_secs = 0;
        }
        if self.delay_ms > MAX_DELAY_MS {
            notes.push(format!("delay_ms {} reset to 0", self.delay_ms));
            self.delay_ms = 0;
        }
        if self.message_delay_ms > MAX_DELAY_MS {
            notes.push(format!(
                "message_delay_ms {} reset to 0",
                self.message_delay_ms
            ));
            self.message_delay_ms = 0;
        }
        for (name, routes) in [
            ("fail_routes", &mut self.fail_routes),
            ("rate_limit_routes", &mut self.rate_limit_routes),
            ("lose_response_routes", &mut self.lose_response_routes),
        ] {
            let before = routes.len();
            routes.retain(|r| r.starts_with('/') && r.len() <= 256);
            routes.truncate(MAX_FAULT_ROUTES);
            if routes.len() != before {
                notes.push(format!(
                    "{name}: {} bad paths dropped",
                    before - routes.len()
                ));
            }
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_faults_are_refused_and_repaired() {
        let bad = Faults {
            clock_skew_secs: 300_000_000_000,
            ..Default::default()
        };
        assert_eq!(bad.check().unwrap_err().0, "clock_skew_secs");
        let mut f = Faults {
            delay_ms: 10_000_000,
            ..bad
        };
        assert_eq!(f.repair().len(), 2);
        assert_eq!(f, Faults::default());
    }
}
