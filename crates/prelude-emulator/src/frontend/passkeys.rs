//! Passkeys (docs/protocol.md, "Passkeys"; PASSKEYS.md §3): registration under
//! `me/passkeys/register/*`, the signed-in user's list, rename and delete, and the
//! `verify_passkey` step-up step (its request options and `stepup/continue` with an assertion).

use super::challenge::{live_challenge, pass_step};
use crate::api::{ApiError, Body};
use crate::extract::{Caller, ChallengeDpop, MaybeDpop, same_key};
use crate::shared::AppState;
use crate::state::*;
use crate::tokens::peek_claims;
use crate::util::{b64, random_token, secret_hash};
use crate::webauthn::{self, AttestationPolicy, Policy, Refusal, StoredKey};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use prelude_wire::{PASSKEY_WRITE_SCOPE, VERIFY_PASSKEY};
use serde::Deserialize;
use serde_json::{Value, json};

/// Lifetime of a registration token and of the ceremonies' `timeout`, in seconds.
const CEREMONY_SECS: i64 = 300;
/// A user holds at most this many passkeys.
const MAX_PASSKEYS_PER_USER: usize = 20;
/// The origin the `passkey_wrong_origin` switch checks against instead of the configured ones.
const OTHER_ORIGIN: &str = "https://elsewhere.invalid";
/// The stored sign counter the `passkey_counter_behind` switch checks against (at least).
const COUNTER_AHEAD: u32 = 1 << 31;
/// Refused assertions after which a step-up challenge ends.
pub(super) const MAX_REFUSED_ASSERTIONS: u32 = 5;
/// `username` and `display_name` are at most this many bytes of UTF-8; `nickname` at most
/// this many characters.
const MAX_NAME: usize = 64;

/// An error with a passkey code, at the status prelude-wire gives it.
fn not_configured() -> ApiError {
    ApiError::new(
        Code::PasskeyNotConfigured,
        "passkeys are not configured for this app",
    )
}

/// Whether the session holds `prld:passkey:write` from a session-bound or profile-bound grant.
fn holds_write_scope(d: &Data, sid: &str, now: i64) -> bool {
    let Some(s) = d.sessions.get(sid) else {
        return false;
    };
    let live = |g: &Grant| g.scope == PASSKEY_WRITE_SCOPE && g.expires_at > now;
    s.grants.iter().any(live)
        || d.users
            .get(&s.user_id)
            .is_some_and(|u| u.grants.iter().any(live))
}

fn consume_write_scope(d: &mut Data, sid: &str) {
    let Some(s) = d.sessions.get_mut(sid) else {
        return;
    };
    s.grants.retain(|g| g.scope != PASSKEY_WRITE_SCOPE);
    let user_id = s.user_id.clone();
    if let Some(u) = d.users.get_mut(&user_id) {
        u.grants.retain(|g| g.scope != PASSKEY_WRITE_SCOPE);
    }
}

fn insufficient_scope() -> ApiError {
    ApiError::new(
        Code::InsufficientScope,
        "this needs prld:passkey:write on the session (a session-bound or profile-bound step-up grant)",
    )
}

/// A regular proof is optional on these routes; one that is sent must be the session's key's.
fn admit_optional(
    app: &AppState,
    d: &mut Data,
    sid: &str,
    proof: Option<crate::extract::Pending>,
) -> Result<(), ApiError> {
    if let Some(p) = proof {
        same_key(d, sid, p.jkt())?;
        p.admit(app, d)?;
    }
    Ok(())
}

/// The user handle of a user: the UTF-8 bytes of its `usr_…` id, base64url.
fn user_handle(user_id: &str) -> String {
    b64(user_id.as_bytes())
}

fn descriptor(id: &str) -> Value {
    json!({"id": id, "type": "public-key"})
}

/// A credential as the API shows it (PASSKEYS.md §4.6).
fn credential_json(p: &StoredPasskey) -> Value {
    json!({
        "credential_id": p.credential_id,
        "nickname": p.nickname,
        "transports": p.transports,
        "backup_state": p.backup_state,
        "created_at": p.created_at,
        "last_used_at": p.last_used_at,
    })
}

/// The credential snapshot of the `user.passkey.*` webhooks: no key, counter or AAGUID.
fn event_payload(p: &StoredPasskey, sid: &str, at_field: &str, now: i64) -> Value {
    let mut v = json!({
        "user_id": p.user_id,
        "session_id": sid,
        "credential": {
            "credential_id": p.credential_id,
            "nickname": p.nickname,
            "transports": p.transports,
            "backup_state": p.backup_state,
        },
    });
    v[at_field] = crate::util::rfc3339(now).into();
    v
}

/// Text from outside: within `max` (bytes or characters, as `count` measures) and free of
/// control characters.
fn check_text(
    name: &str,
    value: &str,
    max: usize,
    count: fn(&str) -> usize,
) -> Result<(), ApiError> {
    if count(value) > max || value.chars().any(char::is_control) {
        return Err(ApiError::new(
            Code::BadRequest,
            format!("{name} must be at most {max} long, without control characters"),
        ));
    }
    Ok(())
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

// ---------------------------------------------------------------------------------------------
// Registration

#[derive(Deserialize)]
pub(super) struct BeginBody {
    username: String,
    display_name: Option<String>,
    nickname: Option<String>,
}

/// `POST me/passkeys/register/begin`: creation options and a single-use registration token.
pub(super) async fn register_begin(
    State(app): State<AppState>,
    Caller { user_id, sid }: Caller,
    MaybeDpop(proof): MaybeDpop,
    Body(body): Body<BeginBody>,
) -> Result<Response, ApiError> {
    if body.username.trim().is_empty() {
        return Err(ApiError::new(
            Code::BadRequest,
            "username must not be empty",
        ));
    }
    check_text("username", &body.username, MAX_NAME, str::len)?;
    let display_name = body.display_name.unwrap_or_else(|| body.username.clone());
    check_text("display_name", &display_name, MAX_NAME, str::len)?;
    if let Some(n) = &body.nickname {
        check_text("nickname", n, MAX_NAME, chars)?;
    }
    let now = app.now();
    let mut d = app.data();
    admit_optional(&app, &mut d, &sid, proof)?;
    let config = d.passkey_config.clone().ok_or_else(not_configured)?;
    if !holds_write_scope(&d, &sid, now) {
        return Err(insufficient_scope());
    }
    let mine: Vec<String> = d
        .passkeys
        .values()
        .filter(|p| p.user_id == user_id)
        .map(|p| p.credential_id.clone())
        .collect();
    if mine.len() >= MAX_PASSKEYS_PER_USER {
        return Err(ApiError::new(
            Code::Conflict,
            format!("a user holds at most {MAX_PASSKEYS_PER_USER} passkeys; delete one first"),
        ));
    }
    let challenge = random_token(32);
    let token = random_token(32);
    // One ceremony at a time per session: a new begin replaces an unfinished one.
    d.registrations.retain(|_, r| r.session_id != sid);
    d.registrations.insert(
        secret_hash(&token),
        PendingRegistration {
            session_id: sid,
            user_id: user_id.clone(),
            challenge: challenge.clone(),
            nickname: body.nickname.filter(|n| !n.is_empty()),
            expires_at: now + CEREMONY_SECS,
        },
    );
    let resident = if config.login_enabled {
        "required"
    } else {
        "preferred"
    };
    let options = json!({
        "rp": {"id": config.rp_id, "name": config.rp_name},
        "user": {"id": user_handle(&user_id), "name": body.username, "displayName": display_name},
        "challenge": challenge,
        "pubKeyCredParams": [{"type": "public-key", "alg": webauthn::ES256}],
        "timeout": CEREMONY_SECS * 1000,
        "excludeCredentials": mine.iter().map(|id| descriptor(id)).collect::<Vec<_>>(),
        "authenticatorSelection": {
            "residentKey": resident,
            "requireResidentKey": config.login_enabled,
            "userVerification": config.user_verification.as_str(),
        },
        "attestation": config.attestation_preference.as_str(),
    });
    tracing::info!(user = %user_id, "passkey registration begun");
    Ok(axum::Json(json!({"public_key": options, "registration_token": token})).into_response())
}

#[derive(Deserialize)]
pub(super) struct FinishBody {
    registration_token: String,
    attestation: Value,
}

fn registration_failed(user_id: &str, refusal: &Refusal) -> ApiError {
    tracing::warn!(user = %user_id, check = refusal.check, "passkey registration refused: {}", refusal.why);
    ApiError::new(
        Code::PasskeyRegistrationFailed,
        format!("the attestation was refused ({refusal})"),
    )
}

/// `POST me/passkeys/register/finish`: verifies the attestation (WebAuthn L3 §7.1), stores the
/// credential and consumes `prld:passkey:write`.
pub(super) async fn register_finish(
    State(app): State<AppState>,
    Caller { user_id, sid }: Caller,
    MaybeDpop(proof): MaybeDpop,
    Body(body): Body<FinishBody>,
) -> Result<Response, ApiError> {
    let now = app.now();
    let mut d = app.data();
    admit_optional(&app, &mut d, &sid, proof)?;
    // R1: the token is spent by this call, whatever its outcome.
    let pending = d
        .registrations
        .remove(&secret_hash(&body.registration_token))
        .filter(|r| r.expires_at > now && r.session_id == sid && r.user_id == user_id);
    let Some(pending) = pending else {
        let refusal = Refusal {
            check: "R1",
            why: "the registration token is unknown, spent, expired or another session's".into(),
            counter_regression: false,
        };
        return Err(registration_failed(&user_id, &refusal));
    };
    let config = d.passkey_config.clone().ok_or_else(not_configured)?;
    // R2
    if !holds_write_scope(&d, &sid, now) {
        tracing::warn!(user = %user_id, check = "R2", "passkey registration refused: prld:passkey:write is gone");
        return Err(insufficient_scope());
    }
    let policy = Policy {
        rp_id: &config.rp_id,
        origins: &config.allowed_origins,
        uv_required: config.user_verification == UserVerification::Required,
    };
    let attestation = AttestationPolicy {
        preference: config.attestation_preference.as_str(),
        aaguid_allowlist: &config.aaguid_allowlist,
        accept_unverified: d.faults.passkey_accept_unverified_attestation,
    };
    let new =
        webauthn::verify_registration(body.attestation, &pending.challenge, &policy, &attestation)
            .map_err(|r| registration_failed(&user_id, &r))?;
    // R15
    let (stored, already) = match d.passkeys.get(&new.credential_id) {
        Some(p) if p.user_id == user_id => (p.clone(), true),
        Some(_) => {
            let refusal = Refusal {
                check: "R15",
                why: "the credential ID is registered to another user".into(),
                counter_regression: false,
            };
            return Err(registration_failed(&user_id, &refusal));
        }
        None => {
            let p = StoredPasskey {
                credential_id: new.credential_id.clone(),
                user_id: user_id.clone(),
                public_key: b64(&new.cose_key),
                alg: webauthn::ES256,
                sign_count: new.sign_count,
                uv_initialized: new.uv,
                transports: new.transports,
                backup_eligible: new.backup_eligible,
                backup_state: new.backup_state,
                aaguid: new.aaguid,
                nickname: pending.nickname,
                created_at: now,
                last_used_at: now,
                blocked: false,
            };
            d.passkeys.insert(p.credential_id.clone(), p.clone());
            let payload = event_payload(&p, &sid, "registered_at", now);
            d.record_event("user.passkey.registered", now, payload);
            (p, false)
        }
    };
    // R16: every successful finish consumes the scope, an idempotent one too.
    consume_write_scope(&mut d, &sid);
    drop(d);
    app.persist.mark();
    tracing::info!(user = %user_id, credential = %stored.credential_id, already_registered = already, "passkey registered");
    Ok(
        axum::Json(json!({"credential": credential_json(&stored), "already_registered": already}))
            .into_response(),
    )
}

// ---------------------------------------------------------------------------------------------
// Management

/// `GET me/passkeys`: the caller's passkeys, oldest first.
pub(super) async fn list(
    State(app): State<AppState>,
    Caller { user_id, sid }: Caller,
    MaybeDpop(proof): MaybeDpop,
) -> Result<Response, ApiError> {
    let mut d = app.data();
    admit_optional(&app, &mut d, &sid, proof)?;
    let mut mine: Vec<&StoredPasskey> = d
        .passkeys
        .values()
        .filter(|p| p.user_id == user_id)
        .collect();
    mine.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then(a.credential_id.cmp(&b.credential_id))
    });
    let credentials: Vec<Value> = mine.into_iter().map(credential_json).collect();
    Ok(axum::Json(json!({"credentials": credentials})).into_response())
}

#[derive(Deserialize)]
pub(super) struct RenameBody {
    nickname: String,
}

/// `PATCH me/passkeys/{credential_id}`: sets the nickname (empty clears it); `204`.
pub(super) async fn rename(
    State(app): State<AppState>,
    Caller { user_id, sid }: Caller,
    MaybeDpop(proof): MaybeDpop,
    Path(id): Path<String>,
    Body(body): Body<RenameBody>,
) -> Result<Response, ApiError> {
    check_text("nickname", &body.nickname, MAX_NAME, chars)?;
    let mut d = app.data();
    admit_optional(&app, &mut d, &sid, proof)?;
    let p = d
        .passkeys
        .get_mut(&id)
        .filter(|p| p.user_id == user_id)
        .ok_or_else(|| ApiError::not_found("no such passkey"))?;
    p.nickname = Some(body.nickname).filter(|n| !n.is_empty());
    drop(d);
    app.persist.mark();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE me/passkeys/{credential_id}`: needs `prld:passkey:write` (not consumed); `204`.
pub(super) async fn delete(
    State(app): State<AppState>,
    Caller { user_id, sid }: Caller,
    MaybeDpop(proof): MaybeDpop,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let now = app.now();
    let mut d = app.data();
    admit_optional(&app, &mut d, &sid, proof)?;
    if d.passkeys.get(&id).is_none_or(|p| p.user_id != user_id) {
        return Err(ApiError::not_found("no such passkey"));
    }
    if d.faults.passkey_delete_requires_scope && !holds_write_scope(&d, &sid, now) {
        return Err(insufficient_scope());
    }
    if let Some(p) = d.passkeys.remove(&id) {
        let payload = event_payload(&p, &sid, "deleted_at", now);
        d.record_event("user.passkey.deleted", now, payload);
    }
    drop(d);
    app.persist.mark();
    tracing::info!(user = %user_id, credential = %id, "passkey deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// The verify_passkey step

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

/// Counts a refused assertion against its challenge (ending it at the limit), logs why, and
/// gives the error the client sees.
fn refuse_assertion(d: &mut Data, cid: &str, refusal: &Refusal, blocked: bool) -> ApiError {
    let mut ended = false;
    if let Some(ch) = d.challenges.get_mut(cid)
        && let Some(p) = ch.passkey.as_mut()
    {
        p.refused += 1;
        ended = p.refused >= MAX_REFUSED_ASSERTIONS;
    }
    if ended {
        d.challenges.remove(cid);
    }
    tracing::warn!(challenge = %cid, check = refusal.check, ended, "passkey assertion refused: {}", refusal.why);
    if blocked {
        ApiError::new(
            Code::PasskeyAuthenticatorBlocked,
            format!("this passkey is blocked ({refusal}); delete it and add it again"),
        )
    } else {
        ApiError::new(
            Code::PasskeyStepUnavailable,
            format!("the passkey assertion was refused ({refusal})"),
        )
    }
}

/// `stepup/continue {challenge_token, passkey_assertion}`: checks A1–A10 and passes the step.
/// Bearer is optional (one SDK sends none) but must be the challenge's session when sent; the
/// challenge-scoped proof is required.
pub(super) fn continue_with_passkey(
    app: &AppState,
    caller: Option<Caller>,
    proof: ChallengeDpop,
    token: &str,
    assertion: Value,
) -> Result<Response, ApiError> {
    let token_jti = peek_claims(token)
        .and_then(|c| c["jti"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let proof = proof.bound_to(&token_jti)?;
    let now = app.now();
    let mut d = app.data();
    let (cid, jti) = live_challenge(app, &d, token)?;
    let ch = d.challenges[&cid].clone();
    if let Some(c) = &caller
        && c.sid != ch.session_id
    {
        return Err(ApiError::unauthorized(
            "the access token is another session's than the challenge's",
        ));
    }
    if d.sessions.get(&ch.session_id).is_none_or(|s| s.revoked) {
        return Err(ApiError::unauthorized("the session has ended"));
    }
    same_key(&d, &ch.session_id, &proof.jkt)?;
    let step = ch.current_step_key();
    if step == "completed" {
        return Err(ApiError::new(
            Code::StepNotFound,
            "the challenge has no step left",
        ));
    }
    if step != VERIFY_PASSKEY {
        return Err(ApiError::new(
            Code::StepBypassed,
            format!("the current step is {step}, not {VERIFY_PASSKEY}"),
        ));
    }
    let (Some(request), Some(config)) = (ch.passkey.clone(), d.passkey_config.clone()) else {
        tracing::warn!(challenge = %cid, "passkey assertion refused: no passkey request was issued for this step");
        return Err(ApiError::new(
            Code::PasskeyStepUnavailable,
            "no passkey request was issued for this step: passkeys are not configured or the user has none",
        ));
    };
    // The options are bound to the token that carried them (§5.6).
    if request.jti != jti {
        tracing::warn!(challenge = %cid, "passkey assertion refused: the request belongs to an earlier token");
        return Err(ApiError::new(
            Code::PasskeyStepUnavailable,
            "the passkey request belongs to an earlier token",
        ));
    }
    let head = match webauthn::assertion_head(assertion) {
        Ok(h) => h,
        Err(r) => return Err(refuse_assertion(&mut d, &cid, &r, false)),
    };
    // A3, A4
    if !request.allow.contains(&head.credential_id) {
        let r = Refusal {
            check: "A3",
            why: "the credential is not one of allowCredentials".into(),
            counter_regression: false,
        };
        return Err(refuse_assertion(&mut d, &cid, &r, false));
    }
    let Some(stored) = d
        .passkeys
        .get(&head.credential_id)
        .filter(|p| p.user_id == ch.user_id)
        .cloned()
    else {
        let r = Refusal {
            check: "A4",
            why: "the credential is not registered to the challenge's user".into(),
            counter_regression: false,
        };
        return Err(refuse_assertion(&mut d, &cid, &r, false));
    };
    if let Some(h) = &head.user_handle
        && *h != ch.user_id.as_bytes()
    {
        let r = Refusal {
            check: "A4",
            why: "userHandle is not the challenge's user".into(),
            counter_regression: false,
        };
        return Err(refuse_assertion(&mut d, &cid, &r, false));
    }
    let faults = d.faults.clone();
    if stored.blocked || faults.passkey_blocked {
        let r = Refusal {
            check: "A4",
            why: if stored.blocked {
                "the credential was blocked after a sign counter regression".into()
            } else {
                "the passkey_blocked switch treats every credential as blocked".into()
            },
            counter_regression: false,
        };
        return Err(refuse_assertion(&mut d, &cid, &r, true));
    }
    let cose = webauthn::unb64_lenient(&stored.public_key).unwrap_or_default();
    let other_origins = [OTHER_ORIGIN.to_owned()];
    let policy = Policy {
        rp_id: &config.rp_id,
        origins: if faults.passkey_wrong_origin {
            &other_origins
        } else {
            &config.allowed_origins
        },
        uv_required: request.uv_required,
    };
    let key = StoredKey {
        cose_key: &cose,
        sign_count: if faults.passkey_counter_behind {
            stored.sign_count.max(COUNTER_AHEAD)
        } else {
            stored.sign_count
        },
        backup_eligible: stored.backup_eligible,
    };
    let asserted = match webauthn::verify_assertion(&head, &request.challenge, &policy, &key) {
        Ok(a) => a,
        Err(r) => {
            let blocked = r.counter_regression && d.faults.passkey_block_on_counter_regression;
            if blocked && let Some(p) = d.passkeys.get_mut(&stored.credential_id) {
                p.blocked = true;
            }
            return Err(refuse_assertion(&mut d, &cid, &r, blocked));
        }
    };
    // §5.7
    if let Some(p) = d.passkeys.get_mut(&stored.credential_id) {
        p.sign_count = asserted.sign_count;
        p.backup_state = asserted.backup_state;
        p.uv_initialized |= asserted.uv;
        p.last_used_at = now;
    }
    tracing::info!(challenge = %cid, credential = %stored.credential_id, "passkey step passed");
    pass_step(app, d, &cid, jti, now)
}

// ---------------------------------------------------------------------------------------------
// Sign-in with a passkey

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
        "current_step": "completed",
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
