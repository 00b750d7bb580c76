//! Sign-in with a passkey: `login/passkey/begin` and `login/passkey/finish`, whose every
//! refusal is a deliberate `401` (docs/protocol.md, "Passkeys").

use super::passkeys::*;
use crate::api::{ApiError, Body};
use crate::shared::AppState;
use crate::state::*;
use crate::util::{random_token, secret_hash};
use crate::webauthn::{self, Policy, Refusal, StoredKey};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use serde::Deserialize;
use serde_json::{Value, json};

/// At most this many sign-ins may be open at once (each lives 300 s).
const MAX_OPEN_LOGINS: usize = 10_000;

fn login_throttle_key(peer: std::net::SocketAddr) -> String {
    format!("passkey-login:{}", peer.ip())
}

/// Refused sign-ins count against the client address like wrong codes count against an
/// identifier; a locked-out address is `429 rate_limited`.
fn login_not_locked(app: &AppState, d: &Data, who: &str) -> Result<(), ApiError> {
    match d.throttle.locked_for(who, app.now()) {
        Some(wait) => Err(ApiError::too_many(
            Code::RateLimited,
            format!("too many refused passkey sign-ins from this address; wait {wait} s"),
            wait,
        )),
        None => Ok(()),
    }
}

#[derive(Deserialize)]
pub(super) struct LoginBeginBody {
    #[serde(default)]
    dispatch_id: Option<String>,
}

/// `POST login/passkey/begin`: request options with an empty `allowCredentials`
/// (discoverable credentials) and a single-use login token.
pub(super) async fn login_begin(
    State(app): State<AppState>,
    axum::extract::ConnectInfo(crate::tls::Peer(peer)): axum::extract::ConnectInfo<
        crate::tls::Peer,
    >,
    Body(body): Body<LoginBeginBody>,
) -> Result<Response, ApiError> {
    let _ = body.dispatch_id;
    let now = app.now();
    let mut d = app.data();
    login_not_locked(&app, &d, &login_throttle_key(peer))?;
    let config = d
        .passkey_config
        .clone()
        .filter(|c| c.login_enabled)
        .ok_or_else(|| {
            ApiError::new(
                Code::PasskeyNotConfigured,
                "passkey sign-in is not enabled for this app",
            )
        })?;
    if d.passkey_logins.len() >= MAX_OPEN_LOGINS {
        return Err(ApiError::too_many(
            Code::RateLimited,
            "too many passkey sign-ins are open; try again shortly",
            60,
        ));
    }
    let challenge = random_token(32);
    let token = random_token(32);
    d.passkey_logins.insert(
        secret_hash(&token),
        PendingLogin {
            challenge: challenge.clone(),
            expires_at: now + CEREMONY_SECS,
        },
    );
    let options = json!({
        "challenge": challenge,
        "rpId": config.rp_id,
        "timeout": CEREMONY_SECS * 1000,
        "allowCredentials": [],
        "userVerification": config.user_verification.as_str(),
    });
    Ok(axum::Json(json!({"public_key": options, "login_token": token})).into_response())
}

#[derive(Deserialize)]
pub(super) struct LoginFinishBody {
    login_token: String,
    assertion: Value,
}

/// `POST login/passkey/finish`: checks the assertion (A2–A10, the user found from
/// `userHandle`) and answers a session-start challenge token for `login/finalize`. Every
/// failure is `401 unauthorized` on purpose, indistinguishable from an unknown credential;
/// the log says which check refused it.
pub(super) async fn login_finish(
    State(app): State<AppState>,
    axum::extract::ConnectInfo(crate::tls::Peer(peer)): axum::extract::ConnectInfo<
        crate::tls::Peer,
    >,
    Body(body): Body<LoginFinishBody>,
) -> Result<Response, ApiError> {
    let now = app.now();
    let who = login_throttle_key(peer);
    let mut d = app.data();
    login_not_locked(&app, &d, &who)?;
    let outcome = check_login(&mut d, &body.login_token, body.assertion, now);
    let (user_id, granted) = match outcome {
        Ok(ok) => ok,
        Err(r) => {
            d.throttle.failed(&who, now, &app.cfg);
            d.note_passkey_refusal("sign-in", r.check, &r.why);
            tracing::warn!(check = r.check, "passkey sign-in refused: {}", r.why);
            return Err(ApiError::unauthorized("the passkey sign-in was refused"));
        }
    };
    drop(d);
    app.persist.mark();
    let mut claims = json!({
        "iss": app.origins.issuer,
        "sub": user_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now,
        "exp": now + app.cfg.session_start_ttl_secs,
        "challenge_id": crate::util::prefixed_id("chl"),
        "current_step": prelude_wire::COMPLETED,
        "grant_mode": "session-start",
    });
    if !granted.is_empty() {
        claims["granted_scopes"] = granted.into();
    }
    tracing::info!(user = %user_id, "passkey sign-in passed");
    let token = app.keys.sign(crate::tokens::KeyUse::StepUp, &claims);
    Ok(axum::Json(json!({"challenge_token": token})).into_response())
}

fn login_refusal(check: &'static str, why: &str) -> Refusal {
    Refusal {
        check,
        why: why.to_owned(),
        counter_regression: false,
    }
}

/// The checks of a passkey sign-in; the token is spent whatever the outcome.
fn check_login(
    d: &mut Data,
    token: &str,
    assertion: Value,
    now: i64,
) -> Result<(String, Vec<String>), Refusal> {
    let pending = d
        .passkey_logins
        .remove(&secret_hash(token))
        .filter(|l| l.expires_at > now)
        .ok_or_else(|| login_refusal("A1", "the login token is unknown, spent or expired"))?;
    let config = d
        .passkey_config
        .clone()
        .filter(|c| c.login_enabled)
        .ok_or_else(|| login_refusal("A1", "passkey sign-in is not enabled"))?;
    let head = webauthn::assertion_head(assertion)?;
    let handle = head
        .user_handle
        .clone()
        .ok_or_else(|| login_refusal("A4", "userHandle is missing"))?;
    let user_id = String::from_utf8(handle)
        .ok()
        .filter(|u| d.users.contains_key(u))
        .ok_or_else(|| login_refusal("A4", "userHandle names no user"))?;
    let stored = d
        .passkeys
        .get(&head.credential_id)
        .filter(|p| p.user_id == user_id)
        .cloned()
        .ok_or_else(|| login_refusal("A4", "the credential is not that user's"))?;
    if stored.blocked {
        return Err(login_refusal(
            "A4",
            "the credential was blocked after a sign counter regression",
        ));
    }
    let cose = webauthn::unb64_lenient(&stored.public_key).unwrap_or_default();
    let policy = Policy {
        rp_id: &config.rp_id,
        origins: &config.allowed_origins,
        uv_required: config.user_verification == UserVerification::Required,
    };
    let key = StoredKey {
        cose_key: &cose,
        sign_count: stored.sign_count,
        backup_eligible: stored.backup_eligible,
    };
    let block = d.faults.passkey_block_on_counter_regression;
    let asserted = webauthn::verify_assertion(&head, &pending.challenge, &policy, &key)
        .inspect_err(|r| {
            if r.counter_regression
                && block
                && let Some(p) = d.passkeys.get_mut(&stored.credential_id)
            {
                p.blocked = true;
            }
        })?;
    if let Some(p) = d.passkeys.get_mut(&stored.credential_id) {
        p.sign_count = asserted.sign_count;
        p.backup_state = asserted.backup_state;
        p.uv_initialized |= asserted.uv;
        p.last_used_at = now;
    }
    Ok((user_id, config.granted_scopes))
}
