//! The WebAuthn request a `verify_passkey` step issues when it becomes current
//! (docs/protocol.md, "Passkeys"): its options for the client, and its challenge kept on the
//! step-up challenge.

use super::passkeys::{CEREMONY_SECS, descriptor};
use crate::state::*;
use crate::util::random_token;
use prelude_wire::VERIFY_PASSKEY;
use serde_json::{Value, json};

/// When the challenge's current step is `verify_passkey`, issues its WebAuthn request and
/// returns the request options; `None` (and no request) when the app has no passkey
/// configuration or the user no usable passkey.
pub(super) fn arm_passkey_step(d: &mut Data, cid: &str) -> Option<Value> {
    let config = d.passkey_config.clone();
    let uv_discouraged = d.faults.passkey_options_uv_discouraged;
    let passkeys = &d.passkeys;
    let ch = d.challenges.get_mut(cid)?;
    ch.passkey = None;
    if ch.current_step_key() != VERIFY_PASSKEY {
        return None;
    }
    let config = config?;
    let mut allow: Vec<String> = passkeys
        .values()
        .filter(|p| p.user_id == ch.user_id && !p.blocked)
        .map(|p| p.credential_id.clone())
        .collect();
    allow.sort();
    if allow.is_empty() {
        return None;
    }
    let challenge = random_token(32);
    let uv = config.user_verification;
    let options = json!({
        "challenge": challenge,
        "rpId": config.rp_id,
        "timeout": CEREMONY_SECS * 1000,
        "allowCredentials": allow.iter().map(|id| descriptor(id)).collect::<Vec<_>>(),
        "userVerification": if uv_discouraged {
            UserVerification::Discouraged.as_str()
        } else {
            uv.as_str()
        },
    });
    ch.passkey = Some(StepPasskey {
        challenge,
        jti: ch.current_jti.clone(),
        allow,
        uv_required: uv == UserVerification::Required,
        refused: 0,
    });
    Some(options)
}
