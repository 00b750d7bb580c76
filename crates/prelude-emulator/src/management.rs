//! The management API under `/v2/session/apps/{app_id}/` (docs/protocol.md, "Management API").

use crate::api::{ApiError, Body};
use crate::shared::AppState;
use crate::state::*;
use crate::util::{prefixed_id, rfc3339};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prelude_wire::{Code, StepKey};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/config/stepup",
            post(create_stepup).get(get_stepup).put(put_stepup),
        )
        .route("/config/scopes", post(add_scope).delete(delete_scope))
        .route("/config/login/otp", post(create_login_otp))
        .route("/config/passkey", get(get_passkey).put(put_passkey))
}

/// The bearer management key, compared in constant time.
pub fn require_key(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    use subtle::ConstantTimeEq as _;
    let given = crate::api::authorization(headers, "Bearer").unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(app.cfg.management_key.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("a valid management key is required"))
    }
}

fn authorize(app: &AppState, headers: &HeaderMap, app_id: &str) -> Result<(), ApiError> {
    require_key(app, headers)?;
    if app_id != app.cfg.app_id {
        return Err(ApiError::not_found(format!("no app {app_id}")));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepUpBody {
    #[serde(default)]
    step_keys: Vec<Value>,
    allowed_scopes: Vec<ScopeRule>,
    jwks_url: Option<String>,
}

impl StepUpBody {
    fn into_config(self, created_at: i64, updated_at: i64) -> StepUpConfig {
        StepUpConfig {
            jwks_url: self.jwks_url,
            step_keys: self.step_keys,
            allowed_scopes: self.allowed_scopes,
            created_at,
            updated_at,
        }
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 128
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

fn check_rules(body: &StepUpBody) -> Result<(), ApiError> {
    // The managed passkey step is Prelude's, and `completed` is where a challenge stands once
    // done: neither is ever a customer's custom step.
    let declares = |reserved: &str| {
        body.step_keys.iter().any(|k| {
            k.as_str() == Some(reserved)
                || ["key", "name", "step_key"]
                    .iter()
                    .any(|f| k[*f].as_str() == Some(reserved))
        })
    };
    if declares(prelude_wire::VERIFY_PASSKEY) {
        return Err(ApiError::new(
            Code::InvalidRequest,
            "verify_passkey is a managed step and cannot be declared in step_keys",
        ));
    }
    if declares(prelude_wire::COMPLETED) {
        return Err(ApiError::new(
            Code::InvalidRequest,
            "completed is where a challenge stands once done and cannot be declared in step_keys",
        ));
    }
    check_scope_rules(&body.allowed_scopes, body.jwks_url.as_deref())
}

/// The rules a step-up configuration must follow, wherever it comes from (this API or a
/// scenario file).
pub fn check_scope_rules(rules: &[ScopeRule], jwks_url: Option<&str>) -> Result<(), ApiError> {
    let bad = |m: String| Err(ApiError::new(Code::BadRequest, m));
    for r in rules {
        if !valid_key(&r.scope) {
            return bad(format!("scope {:?} is not valid", r.scope));
        }
        match r.mode {
            ScopeMode::Delegated => {
                let Some(d) = &r.delegated else {
                    return bad(format!("{}: mode delegated needs `delegated`", r.scope));
                };
                if url::Url::parse(&d.delegation_hook).is_err() {
                    return bad(format!("{}: delegation_hook is not a URL", r.scope));
                }
            }
            ScopeMode::Managed => {
                if crate::frontend::reserved_kind(&r.scope).is_none() {
                    return bad(format!(
                        "{}: mode managed is only for the reserved prld:<kind>:register scopes",
                        r.scope
                    ));
                }
            }
            ScopeMode::Direct => {
                let Some(d) = &r.direct else {
                    return bad(format!("{}: mode direct needs `direct`", r.scope));
                };
                if !(0..=86_400).contains(&d.granted_for) {
                    return bad(format!("{}: granted_for must be 0 to 86400", r.scope));
                }
                if d.grant_mode != GrantMode::SingleUse && d.granted_for == 0 {
                    return bad(format!(
                        "{}: this grant mode needs granted_for > 0",
                        r.scope
                    ));
                }
                if d.status == Decision::Review && d.steps.is_empty() {
                    return bad(format!("{}: review needs at least one step", r.scope));
                }
                for s in &d.steps {
                    // A step key by the wire's rule: `completed` is no step.
                    if StepKey::parse(&s.key).is_err()
                        || !(0..=86_400).contains(&s.expiration_duration)
                    {
                        return bad(format!("{}: step {:?} is not valid", r.scope, s.key));
                    }
                }
            }
        }
    }
    if let Some(u) = jwks_url
        && url::Url::parse(u).is_err()
    {
        return bad(format!("jwks_url {u:?} is not a URL"));
    }
    if rules.iter().any(|r| r.mode == ScopeMode::Delegated) && jwks_url.is_none() {
        tracing::info!(
            "step-up config has delegated scopes and no jwks_url; custom steps cannot be verified"
        );
    }
    Ok(())
}

fn config_json(c: &StepUpConfig) -> Value {
    json!({"config": {
        "jwks_url": c.jwks_url,
        "step_keys": c.step_keys,
        "allowed_scopes": c.allowed_scopes,
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
    }})
}

async fn create_stepup(
    State(app): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<StepUpBody>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, &app_id)?;
    check_rules(&body)?;
    let now = app.now();
    let mut d = app.data();
    if d.stepup_config.is_some() {
        return Err(ApiError::new(
            Code::StepUpConfigAlreadyExists,
            "a step-up configuration exists; use PUT to replace it",
        ));
    }
    let c = body.into_config(now, now);
    let out = config_json(&c);
    d.stepup_config = Some(c);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

async fn get_stepup(
    State(app): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, &app_id)?;
    let d = app.data();
    let c = d
        .stepup_config
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no step-up configuration"))?;
    Ok(axum::Json(config_json(c)).into_response())
}

async fn put_stepup(
    State(app): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<StepUpBody>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, &app_id)?;
    check_rules(&body)?;
    let now = app.now();
    let mut d = app.data();
    let created_at = d.stepup_config.as_ref().map_or(now, |c| c.created_at);
    d.stepup_config = Some(body.into_config(created_at, now));
    Ok(axum::Json(json!({"message": "step-up configuration replaced"})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeBody {
    scope: String,
}

async fn add_scope(
    State(app): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<ScopeBody>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, &app_id)?;
    if !valid_key(&body.scope) {
        return Err(ApiError::new(
            Code::BadRequest,
            "scope must match ^[a-zA-Z0-9.-_:]+$",
        ));
    }
    let mut d = app.data();
    if !d.scopes.contains(&body.scope) {
        d.scopes.push(body.scope.clone());
    }
    Ok((StatusCode::CREATED, axum::Json(json!({"scopes": d.scopes}))).into_response())
}

async fn delete_scope(
    State(app): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<ScopeBody>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, &app_id)?;
    let mut d = app.data();
    d.scopes.retain(|s| s != &body.scope);
    Ok(axum::Json(json!({"scopes": d.scopes})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginOtpBody {
    config_type: String,
    channel_type: Channel,
    #[serde(default)]
    is_default: bool,
    template_id: Option<String>,
    sender_id: Option<String>,
    #[serde(default)]
    granted_scopes: Vec<String>,
    code_size: Option<u8>,
}

async fn create_login_otp(
    State(app): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<LoginOtpBody>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, &app_id)?;
    if body.config_type != "otp" {
        return Err(ApiError::new(Code::BadRequest, "config_type must be otp"));
    }
    let _ = (&body.template_id, &body.sender_id, body.code_size);
    let now = app.now();
    let c = LoginConfig {
        id: prefixed_id("lcfg"),
        config_type: body.config_type,
        channel_type: body.channel_type,
        is_default: body.is_default,
        granted_scopes: body.granted_scopes,
        created_at: now,
    };
    let out = json!({"login_config": {
        "id": c.id, "config_type": c.config_type, "channel_type": c.channel_type,
        "is_default": c.is_default, "granted_scopes": c.granted_scopes,
        "template_id": body.template_id, "sender_id": body.sender_id,
        "created_at": rfc3339(now), "updated_at": rfc3339(now),
    }});
    app.data().login_configs.push(c);
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

fn passkey_json(c: &PasskeyConfig) -> Value {
    json!({"config": {
        "rp_id": c.rp_id,
        "rp_name": c.rp_name,
        "allowed_origins": c.allowed_origins,
        "user_verification": c.user_verification,
        "attestation_preference": c.attestation_preference,
        "login_enabled": c.login_enabled,
        "granted_scopes": c.granted_scopes,
        "aaguid_allowlist": c.aaguid_allowlist,
        "ios_app_ids": c.ios_app_ids,
        "android_apps": c.android_apps,
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
    }})
}

/// An RP ID: a lower-case host name of dot-separated labels, no scheme, port or path, at most
/// 253 characters.
fn valid_rp_id(rp_id: &str) -> bool {
    !rp_id.is_empty()
        && rp_id.len() <= 253
        && rp_id.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Whether `origin` is an origin (no path, query or fragment) that may run ceremonies for
/// `rp_id`: `https`, or `http` on localhost/127.0.0.1, with a host equal to the RP ID or under it.
fn valid_origin(origin: &str, rp_id: &str) -> bool {
    let Ok(u) = url::Url::parse(origin) else {
        return false;
    };
    let Some(host) = u.host_str() else {
        return false;
    };
    let bare = u.origin().ascii_serialization() == origin;
    let scheme_ok = match u.scheme() {
        "https" => true,
        "http" => matches!(host, "localhost" | "127.0.0.1"),
        _ => false,
    };
    let covered = host == rp_id || host.ends_with(&format!(".{rp_id}"));
    bare && scheme_ok && covered
}

/// The rules a passkey configuration follows, wherever it comes from (this API or a scenario
/// file): docs/protocol.md, "Passkeys".
pub fn check_passkey_config(c: &PasskeyConfig) -> Result<(), ApiError> {
    let bad = |m: String| Err(ApiError::new(Code::InvalidRequest, m));
    if !valid_rp_id(&c.rp_id) {
        return bad(format!(
            "rp_id {:?} must be a lower-case host name without scheme, port or path",
            c.rp_id
        ));
    }
    if c.rp_name.trim().is_empty() || c.rp_name.chars().count() > 64 {
        return bad("rp_name must be 1 to 64 characters".into());
    }
    if c.rp_name.chars().any(char::is_control) {
        return bad("rp_name has control characters".into());
    }
    if c.allowed_origins.is_empty() || c.allowed_origins.len() > 16 {
        return bad("allowed_origins must list 1 to 16 origins".into());
    }
    for o in &c.allowed_origins {
        if !valid_origin(o, &c.rp_id) {
            return bad(format!(
                "allowed origin {o:?} must be https (http only for localhost), have no path, \
                 and its host must be rp_id or under it"
            ));
        }
    }
    if c.granted_scopes.len() > 32 || c.granted_scopes.iter().any(|s| !valid_key(s)) {
        return bad("granted_scopes must be at most 32 valid scopes".into());
    }
    if c.aaguid_allowlist.len() > 64
        || c.aaguid_allowlist
            .iter()
            .any(|a| uuid::Uuid::parse_str(a).map_or(true, |u| u.hyphenated().to_string() != *a))
    {
        return bad("aaguid_allowlist entries must be canonical lower-case UUIDs".into());
    }
    if c.ios_app_ids.len() > 32
        || c.ios_app_ids
            .iter()
            .any(|i| !valid_key(i) || !i.contains('.'))
    {
        return bad("ios_app_ids entries look like <TeamID>.<bundle ID>".into());
    }
    if c.android_apps.len() > 32
        || c.android_apps.iter().any(|a| {
            !valid_key(&a.package_name)
                || a.sha256_cert_fingerprints.len() > 8
                || a.sha256_cert_fingerprints.iter().any(|f| f.len() > 128)
        })
    {
        return bad("android_apps entries need a package_name and up to 8 fingerprints".into());
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasskeyBody {
    rp_id: String,
    rp_name: String,
    allowed_origins: Vec<String>,
    #[serde(default)]
    user_verification: UserVerification,
    #[serde(default)]
    attestation_preference: AttestationPreference,
    #[serde(default)]
    login_enabled: bool,
    #[serde(default)]
    granted_scopes: Vec<String>,
    #[serde(default)]
    aaguid_allowlist: Vec<String>,
    #[serde(default)]
    ios_app_ids: Vec<String>,
    #[serde(default)]
    android_apps: Vec<AndroidApp>,
}

/// `PUT config/passkey`: creates or replaces the whole configuration; `200 {"config"}`.
async fn put_passkey(
    State(app): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    Body(b): Body<PasskeyBody>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, &app_id)?;
    let now = app.now();
    let mut c = PasskeyConfig {
        rp_id: b.rp_id,
        rp_name: b.rp_name,
        allowed_origins: b.allowed_origins,
        user_verification: b.user_verification,
        attestation_preference: b.attestation_preference,
        login_enabled: b.login_enabled,
        granted_scopes: b.granted_scopes,
        aaguid_allowlist: b.aaguid_allowlist,
        ios_app_ids: b.ios_app_ids,
        android_apps: b.android_apps,
        created_at: now,
        updated_at: now,
    };
    check_passkey_config(&c)?;
    let mut d = app.data();
    if let Some(old) = &d.passkey_config {
        c.created_at = old.created_at;
        if old.rp_id != c.rp_id {
            tracing::warn!(old = %old.rp_id, new = %c.rp_id, "passkey rp_id changed: registered passkeys can no longer sign in");
        }
    }
    let out = passkey_json(&c);
    d.passkey_config = Some(c);
    drop(d);
    app.persist.mark();
    Ok(axum::Json(out).into_response())
}

/// `GET config/passkey`: the configuration, or `404 not_found` when there is none.
async fn get_passkey(
    State(app): State<AppState>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, &app_id)?;
    let d = app.data();
    let c = d
        .passkey_config
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no passkey configuration"))?;
    Ok(axum::Json(passkey_json(c)).into_response())
}
