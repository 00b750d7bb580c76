//! Passkeys (docs/protocol.md, "Passkeys"; PASSKEYS.md §3): registration under
//! `me/passkeys/register/*`, the signed-in user's list, rename and delete, and the
//! `verify_passkey` step-up step (its request options and `stepup/continue` with an assertion).

use crate::api::{ApiError, Body};
use crate::attestation::{self, AttestationPolicy};
use crate::extract::{Caller, MaybeDpop, same_key};
use crate::shared::AppState;
use crate::state::*;
use crate::util::{b64, random_token, secret_hash};
use crate::webauthn::{self, Policy, Refusal};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use prelude_wire::PASSKEY_WRITE_SCOPE;
use serde::Deserialize;
use serde_json::{Value, json};

/// Lifetime of a registration token and of the ceremonies' `timeout`, in seconds.
pub(super) const CEREMONY_SECS: i64 = 300;
/// A user holds at most this many passkeys.
pub(super) const MAX_PASSKEYS_PER_USER: usize = 20;
/// The origin the `passkey_wrong_origin` switch checks against instead of the configured ones.
pub(super) const OTHER_ORIGIN: &str = "https://elsewhere.invalid";
/// The stored sign counter the `passkey_counter_behind` switch checks against (at least).
pub(super) const COUNTER_AHEAD: u32 = 1 << 31;
/// Refused assertions after which a step-up challenge ends.
pub(super) const MAX_REFUSED_ASSERTIONS: u32 = 5;
/// `username` and `display_name` are at most this many bytes of UTF-8; `nickname` at most
/// this many characters.
pub(super) const MAX_NAME: usize = 64;

/// `403 passkey_not_configured`.
pub(super) fn not_configured() -> ApiError {
    ApiError::new(
        Code::PasskeyNotConfigured,
        "passkeys are not configured for this app",
    )
}

/// Whether the session holds `prld:passkey:write` from a session-bound or profile-bound grant.
pub(super) fn holds_write_scope(d: &Data, sid: &str, now: i64) -> bool {
    let Some(s) = d.sessions.get(sid) else {
        return false;
    };
    let live = |g: &Grant| g.scope == PASSKEY_WRITE_SCOPE && g.expires_at > now;
    s.grants.iter().any(live)
        || d.users
            .get(&s.user_id)
            .is_some_and(|u| u.grants.iter().any(live))
}

pub(super) fn consume_write_scope(d: &mut Data, sid: &str) {
    let Some(s) = d.sessions.get_mut(sid) else {
        return;
    };
    s.grants.retain(|g| g.scope != PASSKEY_WRITE_SCOPE);
    let user_id = s.user_id.clone();
    if let Some(u) = d.users.get_mut(&user_id) {
        u.grants.retain(|g| g.scope != PASSKEY_WRITE_SCOPE);
    }
}

pub(super) fn insufficient_scope() -> ApiError {
    ApiError::new(
        Code::InsufficientScope,
        "this needs prld:passkey:write on the session (a session-bound or profile-bound step-up grant)",
    )
}

/// A regular proof is optional on these routes; one that is sent must be the session's key's.
pub(super) fn admit_optional(
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
pub(super) fn user_handle(user_id: &str) -> String {
    b64(user_id.as_bytes())
}

pub(super) fn descriptor(id: &str) -> Value {
    json!({"id": id, "type": "public-key"})
}

/// A credential as the API shows it (PASSKEYS.md §4.6).
pub(super) fn credential_json(p: &StoredPasskey) -> Value {
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
pub(super) fn event_payload(p: &StoredPasskey, sid: &str, at_field: &str, now: i64) -> Value {
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
pub(super) fn check_text(
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

pub(super) fn chars(s: &str) -> usize {
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

pub(super) fn registration_failed(d: &mut Data, user_id: &str, refusal: &Refusal) -> ApiError {
    d.note_passkey_refusal("registration", refusal.check, &refusal.why);
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
        return Err(registration_failed(&mut d, &user_id, &refusal));
    };
    let config = d.passkey_config.clone().ok_or_else(not_configured)?;
    // R2
    if !holds_write_scope(&d, &sid, now) {
        d.note_passkey_refusal("registration", "R2", "prld:passkey:write is gone");
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
    let new = attestation::verify_registration(
        body.attestation,
        &pending.challenge,
        &policy,
        &attestation,
    )
    .map_err(|r| registration_failed(&mut d, &user_id, &r))?;
    // R15
    let (stored, already) = match d.passkeys.get(&new.credential_id) {
        Some(p) if p.user_id == user_id => (p.clone(), true),
        Some(_) => {
            let refusal = Refusal {
                check: "R15",
                why: "the credential ID is registered to another user".into(),
                counter_regression: false,
            };
            return Err(registration_failed(&mut d, &user_id, &refusal));
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

// The refusal lives on the state, but only the ceremonies here and in the passkey step and
// sign-in files record one.
impl Data {
    /// Keeps why a passkey ceremony was refused, for the test bench.
    pub fn note_passkey_refusal(&mut self, ceremony: &str, check: &str, why: &str) {
        self.last_passkey_refusal = Some(PasskeyRefusal {
            at: crate::util::unix_now(),
            ceremony: ceremony.into(),
            check: check.into(),
            why: why.into(),
        });
    }
}
