//! The frontend API under `/v1/session/` and `/.well-known/` (PROTOCOL.md §4).

use crate::api::{ApiError, Body};
use crate::dpop::{self, Proof};
use crate::server::AppState;
use crate::state::*;
use crate::tokens::{KeyUse, peek_claims};
use crate::util::{otp_code, prefixed_id, random_token, rfc3339, secret_hash};
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/otp", post(otp_create))
        .route("/otp/retry", post(otp_retry))
        .route("/otp/check", post(otp_check))
        .route("/login/finalize", post(finalize))
        .route("/login/otp", post(legacy_login_otp))
        .route("/login/otp/retry", post(otp_retry))
        .route("/login/otp/check", post(legacy_login_check))
        .route("/refresh", post(refresh))
        .route("/revoke", post(revoke))
        .route("/stepup/request", post(stepup_request))
        .route("/stepup/continue", post(stepup_continue))
        .route("/me/list", get(me_list))
        .route("/me/revoke", post(me_revoke))
}

pub fn well_known() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/jwks.json",
            get(|State(app): State<AppState>| async move {
                // Access-token keys and the key that signs hook requests.
                let mut set = app.keys.jwks(KeyUse::Access);
                if let Some(keys) = set["keys"].as_array_mut() {
                    keys.push(app.hook_key().jwk.clone());
                }
                axum::Json(set)
            }),
        )
        .route(
            "/.well-known/step-up-jwks.json",
            get(|State(app): State<AppState>| async move {
                axum::Json(app.keys.jwks(KeyUse::StepUp))
            }),
        )
}

// ---------------------------------------------------------------------------------------------
// Request pieces

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn cookie<'a>(headers: &'a HeaderMap, names: &[String]) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| names.iter().any(|n| n == k))
        .map(|(_, v)| v)
}

fn verification_handle(app: &AppState, headers: &HeaderMap) -> Option<String> {
    let id = &app.cfg.app_id;
    header_str(headers, "x-verification-token")
        .or_else(|| {
            cookie(
                headers,
                &[
                    format!("__Host-verification-login_{id}"),
                    format!("__verification-login_{id}"),
                ],
            )
        })
        .map(str::to_owned)
}

fn refresh_handle(app: &AppState, headers: &HeaderMap) -> Option<String> {
    let id = &app.cfg.app_id;
    header_str(headers, "x-refresh-token")
        .or_else(|| {
            cookie(
                headers,
                &[format!("__Host-refresh_{id}"), format!("__refresh_{id}")],
            )
        })
        .map(str::to_owned)
}

fn htu(app: &AppState, headers: &HeaderMap, route: &str) -> String {
    format!("{}/v1/session{route}", app.origin(headers))
}

/// A regular proof (§6.2): verified, nonce enforced when the switch is on, `jti` not replayed.
fn regular_proof(
    app: &AppState,
    headers: &HeaderMap,
    route: &str,
    required: bool,
) -> Result<Option<Proof>, ApiError> {
    let now = app.now();
    let proof = dpop::extract(
        headers,
        "POST",
        &htu(app, headers, route),
        now,
        app.cfg.dpop_window_secs,
    )?;
    let Some(proof) = proof else {
        return if required {
            Err(ApiError::bad_request(
                "missing_dpop_proof",
                "a DPoP proof is required",
            ))
        } else {
            Ok(None)
        };
    };
    let mut d = app.data();
    if d.faults.require_dpop_nonce && proof.nonce.as_deref() != Some(d.dpop_nonce.as_str()) {
        let mut e = ApiError::bad_request(
            "use_dpop_nonce",
            "the DPoP proof must carry the server nonce",
        );
        e.dpop_nonce = Some(d.dpop_nonce.clone());
        return Err(e);
    }
    if !d.remember_jti(&proof.jti, now, 2 * app.cfg.dpop_window_secs) {
        return Err(ApiError::bad_request(
            "invalid_dpop_proof",
            "the proof jti was already used",
        ));
    }
    Ok(Some(proof))
}

/// A challenge-scoped proof (§6.3): its `jti` is the challenge token's, it carries no nonce.
fn challenge_proof(
    app: &AppState,
    headers: &HeaderMap,
    route: &str,
    challenge_jti: &str,
) -> Result<Proof, ApiError> {
    let proof = dpop::require(
        headers,
        "POST",
        &htu(app, headers, route),
        app.now(),
        app.cfg.dpop_window_secs,
    )?;
    if proof.nonce.is_some() {
        return Err(ApiError::bad_request(
            "invalid_dpop_proof",
            "a challenge-scoped proof carries no nonce",
        ));
    }
    if proof.jti != challenge_jti {
        return Err(ApiError::bad_request(
            "invalid_dpop_proof",
            "the proof jti must equal the challenge token jti",
        ));
    }
    Ok(proof)
}

/// Puts the current nonce on a DPoP response. Takes the nonce, not the state, because callers
/// often hold the state lock.
fn with_nonce(nonce: &str, mut resp: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(nonce) {
        resp.headers_mut().insert("dpop-nonce", v);
    }
    resp
}

/// The caller of a Bearer route: the access token must be ours, unexpired, of a live session.
fn bearer(app: &AppState, headers: &HeaderMap) -> Result<(String, String), ApiError> {
    let token = header_str(headers, "authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| ApiError::unauthorized("a Bearer access token is required"))?;
    let claims = app
        .keys
        .verify(KeyUse::Access, token.trim())
        .ok_or_else(|| ApiError::unauthorized("the access token is not valid"))?;
    if claims["exp"].as_i64().unwrap_or(0) <= app.now() {
        return Err(ApiError::unauthorized("the access token has expired"));
    }
    let sid = claims["sid"].as_str().unwrap_or_default().to_owned();
    let d = app.data();
    match d.sessions.get(&sid) {
        Some(s) if !s.revoked => Ok((s.user_id.clone(), sid)),
        _ => Err(ApiError::unauthorized("the session has ended")),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

pub fn validate_identifier(id: &Identifier) -> Result<(), ApiError> {
    let v = id.value.as_str();
    let ok = match id.kind {
        IdentifierType::PhoneNumber => {
            let digits = v.strip_prefix('+').unwrap_or("");
            (7..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
        }
        IdentifierType::EmailAddress => {
            v.len() <= 320
                && !v.chars().any(char::is_whitespace)
                && v.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                })
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_identifier",
            match id.kind {
                IdentifierType::PhoneNumber => {
                    "a phone number must be in E.164 form, like +33612345678"
                }
                IdentifierType::EmailAddress => "the email address is not valid",
            },
        ))
    }
}

fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 128
        && scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
}

pub fn validate_metadata(m: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let bad = |msg: String| Err(ApiError::bad_request("invalid_metadata", msg));
    if m.len() > 5 {
        return bad(format!("at most 5 metadata keys, got {}", m.len()));
    }
    for (k, v) in m {
        if k.is_empty() || k.chars().count() > 12 || !valid_scope(k) {
            return bad(format!(
                "metadata key {k:?} must be 1-12 characters of [a-zA-Z0-9.-_:]"
            ));
        }
        let limit = if k == "identifier" { 320 } else { 32 };
        if v.chars().count() > limit {
            return bad(format!(
                "metadata value for {k:?} is longer than {limit} characters"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// OTP

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OtpCreate {
    identifier: Option<Identifier>,
    challenge_token: Option<String>,
    login_config_id: Option<String>,
    dispatch_id: Option<String>,
    code_challenge: Option<String>,
}

fn verification_response(app: &AppState, handle: &str) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(handle) {
        h.insert("x-verification-token", v);
    }
    let c = format!(
        "__Host-verification-login_{}={handle}; Path=/; Secure; HttpOnly; SameSite=None; Max-Age={}",
        app.cfg.app_id, app.cfg.otp_ttl_secs
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        h.append(header::SET_COOKIE, v);
    }
    resp
}

fn new_code(app: &AppState) -> String {
    app.cfg.fixed_code.clone().unwrap_or_else(otp_code)
}

fn send(app: &AppState, d: &mut Data, v: &Verification, purpose: Purpose) {
    let msg = OutboxMessage {
        id: prefixed_id("msg"),
        channel: v.channel,
        to: v.to.clone(),
        code: v.code.clone(),
        purpose,
        sent_at: rfc3339(app.now()),
    };
    app.push_outbox(d, msg);
}

async fn otp_create(
    State(app): State<AppState>,
    Body(body): Body<OtpCreate>,
) -> Result<Response, ApiError> {
    let _ = (&body.dispatch_id, &body.code_challenge);
    match (body.identifier, body.challenge_token) {
        (Some(id), None) => start_login(&app, id, body.login_config_id.as_deref()),
        (None, Some(token)) => send_step_up_code(&app, &token),
        _ => Err(ApiError::bad_request(
            "bad_request",
            "give exactly one of identifier or challenge_token",
        )),
    }
}

fn start_login(
    app: &AppState,
    id: Identifier,
    login_config_id: Option<&str>,
) -> Result<Response, ApiError> {
    validate_identifier(&id)?;
    let now = app.now();
    let mut d = app.data();
    let channel = id.channel();
    let config = match login_config_id {
        Some(cid) => d
            .login_configs
            .iter()
            .find(|c| c.id == cid)
            .ok_or_else(|| ApiError::bad_request("bad_request", "unknown login_config_id"))?,
        None => d
            .login_configs
            .iter()
            .find(|c| c.channel_type == channel)
            .ok_or_else(|| {
                ApiError::forbidden(
                    "no_login_config",
                    "no login configuration accepts this kind of identifier",
                )
            })?,
    };
    if config.channel_type != channel {
        return Err(ApiError::forbidden(
            "no_login_config",
            "that login configuration does not send to this kind of identifier",
        ));
    }
    let handle = format!("vt_{}", random_token(24));
    let v = Verification {
        to: id.value.clone(),
        target: VerificationTarget::Login(id),
        code: new_code(app),
        channel,
        expires_at: now + app.cfg.otp_ttl_secs,
        last_sent_at: now,
        wrong_attempts: 0,
    };
    send(app, &mut d, &v, Purpose::Login);
    d.verifications.insert(handle.clone(), v);
    Ok(verification_response(app, &handle))
}

async fn otp_retry(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let handle = verification_handle(&app, &headers)
        .ok_or_else(|| ApiError::unauthorized("no verification in progress"))?;
    let now = app.now();
    let mut d = app.data();
    let v = d
        .verifications
        .get(&handle)
        .ok_or_else(|| ApiError::unauthorized("no verification in progress"))?
        .clone();
    if v.expires_at <= now || v.wrong_attempts >= app.cfg.max_wrong_attempts {
        return Err(ApiError::unauthorized(
            "this verification has ended; start a new one",
        ));
    }
    let wait = v.last_sent_at + app.cfg.resend_cooldown_secs - now;
    if wait > 0 {
        return Err(ApiError::rate_limited(format!(
            "wait {wait} s before sending another code"
        )));
    }
    let purpose = match v.target {
        VerificationTarget::Login(_) => Purpose::Login,
        VerificationTarget::StepUp { .. } => Purpose::StepUp,
    };
    send(&app, &mut d, &v, purpose);
    if let Some(v) = d.verifications.get_mut(&handle) {
        v.last_sent_at = now;
    }
    Ok(verification_response(&app, &handle))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OtpCheck {
    code: String,
    challenge_token: Option<String>,
}

/// Checks `code` against a verification; counts wrong tries and kills it after the limit.
fn check_code(app: &AppState, d: &mut Data, handle: &str, code: &str) -> Result<(), ApiError> {
    let now = app.now();
    let max = app.cfg.max_wrong_attempts;
    let v = d
        .verifications
        .get_mut(handle)
        .ok_or_else(|| ApiError::unauthorized("no verification in progress"))?;
    if v.expires_at <= now {
        return Err(ApiError::unauthorized(
            "the code has expired; request a new one",
        ));
    }
    if v.wrong_attempts >= max {
        return Err(ApiError::unauthorized(
            "too many wrong codes; request a new one",
        ));
    }
    if v.code != code.trim() {
        v.wrong_attempts += 1;
        let left = max - v.wrong_attempts;
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_check_code",
            format!("wrong code; {left} attempts left"),
        );
        e.attempts_remaining = Some(left);
        return Err(e);
    }
    d.verifications.remove(handle);
    Ok(())
}

async fn otp_check(
    State(app): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<OtpCheck>,
) -> Result<Response, ApiError> {
    if let Some(token) = body.challenge_token {
        return check_step_up_code(&app, &headers, &token, &body.code);
    }
    let handle = verification_handle(&app, &headers)
        .ok_or_else(|| ApiError::unauthorized("no verification in progress"))?;
    let now = app.now();
    let mut d = app.data();
    let id = match d.verifications.get(&handle).map(|v| &v.target) {
        Some(VerificationTarget::Login(id)) => id.clone(),
        Some(VerificationTarget::StepUp { .. }) => {
            return Err(ApiError::bad_request(
                "missing_challenge_token",
                "a step-up code is checked with its challenge_token",
            ));
        }
        None => return Err(ApiError::unauthorized("no verification in progress")),
    };
    check_code(&app, &mut d, &handle, &body.code)?;
    let user_id = user_for(&mut d, id, now);
    let jti = uuid::Uuid::new_v4().to_string();
    let claims = json!({
        "iss": app.issuer(&headers),
        "sub": user_id,
        "jti": jti,
        "iat": now,
        "exp": now + app.cfg.session_start_ttl_secs,
        "challenge_id": prefixed_id("chl"),
        "current_step": "completed",
        "grant_mode": "session-start",
    });
    drop(d);
    let token = app.keys.sign(KeyUse::StepUp, &claims);
    Ok(axum::Json(json!({"challenge_token": token})).into_response())
}

fn user_for(d: &mut Data, id: Identifier, now: i64) -> String {
    // Users are created on first login.
    if let Some(u) = d.find_user(&id) {
        return u.id.clone();
    }
    let user = User {
        id: prefixed_id("usr"),
        identifiers: vec![id],
        created_at: now,
        grants: vec![],
    };
    let uid = user.id.clone();
    d.users.insert(uid.clone(), user);
    uid
}

// ---------------------------------------------------------------------------------------------
// Sessions and tokens

fn device_from(headers: &HeaderMap) -> (String, String, String) {
    let ua = header_str(headers, "user-agent").unwrap_or("unknown");
    let lower = ua.to_ascii_lowercase();
    let kind = if lower.contains("iphone") || lower.contains("android") || lower.contains("ios") {
        "mobile"
    } else if lower.contains("ipad") || lower.contains("tablet") {
        "tablet"
    } else if lower.contains("linux")
        || lower.contains("windows")
        || lower.contains("mac")
        || lower.contains("countersign")
    {
        "desktop"
    } else {
        "unknown"
    };
    let model: String = ua
        .split_whitespace()
        .next()
        .unwrap_or("unknown")
        .chars()
        .take(64)
        .collect();
    let os = ["Linux", "Windows", "macOS", "Mac OS X", "iOS", "Android"]
        .iter()
        .find(|os| ua.contains(*os))
        .map(|s| s.to_string())
        .unwrap_or_else(|| "unknown".to_owned());
    (kind.to_owned(), model, os)
}

fn active_scopes(d: &Data, session: &Session, now: i64) -> Vec<String> {
    let mut scopes: Vec<String> = session
        .grants
        .iter()
        .chain(
            d.users
                .get(&session.user_id)
                .map(|u| u.grants.as_slice())
                .unwrap_or_default(),
        )
        .filter(|g| g.expires_at > now)
        .map(|g| g.scope.clone())
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

fn mint_access(
    app: &AppState,
    headers: &HeaderMap,
    d: &Data,
    session: &Session,
    extra: Option<&str>,
) -> (String, i64) {
    let now = app.now();
    let mut scopes = active_scopes(d, session, now);
    if let Some(s) = extra
        && !scopes.iter().any(|x| x == s)
    {
        scopes.push(s.to_owned());
    }
    let exp = now + app.cfg.access_ttl_secs;
    let mut claims = json!({
        "iss": app.issuer(headers),
        "sub": session.user_id,
        "sid": session.id,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    if !scopes.is_empty() {
        claims["scope"] = scopes.join(" ").into();
    }
    (app.keys.sign(KeyUse::Access, &claims), exp)
}

fn tokens_response(
    app: &AppState,
    nonce: &str,
    access: String,
    exp: i64,
    rt: &str,
    rt_exp: i64,
) -> Response {
    let mut resp = axum::Json(json!({"access_token": access, "expires_at": exp})).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(rt) {
        h.insert("x-refresh-token", v);
    }
    if let Ok(v) = HeaderValue::from_str(&rfc3339(rt_exp)) {
        h.insert("x-refresh-token-expires-at", v);
    }
    let c = format!(
        "__Host-refresh_{}={rt}; Path=/; Secure; HttpOnly; SameSite=None; Max-Age={}",
        app.cfg.app_id, app.cfg.refresh_ttl_secs
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        h.append(header::SET_COOKIE, v);
    }
    with_nonce(nonce, resp)
}

fn new_refresh_token() -> String {
    format!("rt_{}", random_token(32))
}

/// Creates a session pinned to `jkt` and answers with its first tokens.
fn open_session(
    app: &AppState,
    headers: &HeaderMap,
    d: &mut Data,
    user_id: String,
    jkt: String,
) -> Response {
    let now = app.now();
    let (device_type, device_model, os_version) = device_from(headers);
    let rt = new_refresh_token();
    let session = Session {
        id: prefixed_id("ses"),
        user_id,
        jkt,
        refresh_hash: secret_hash(&rt),
        refresh_expires_at: now + app.cfg.refresh_ttl_secs,
        created_at: now,
        last_seen_at: now,
        revoked: false,
        grants: vec![],
        device_type,
        device_model,
        os_version,
    };
    d.refresh_index.insert(secret_hash(&rt), session.id.clone());
    let (access, exp) = mint_access(app, headers, d, &session, None);
    let rt_exp = session.refresh_expires_at;
    tracing::info!(session = %session.id, user = %session.user_id, "session opened");
    d.sessions.insert(session.id.clone(), session);
    tokens_response(app, &d.dpop_nonce, access, exp, &rt, rt_exp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Finalize {
    challenge_token: String,
    code_verifier: Option<String>,
}

async fn finalize(
    State(app): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<Finalize>,
) -> Result<Response, ApiError> {
    let proof =
        regular_proof(&app, &headers, "/login/finalize", true)?.expect("required proof is present");
    let _ = body.code_verifier;
    let claims = app
        .keys
        .verify(KeyUse::StepUp, &body.challenge_token)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_challenge_token",
                "the challenge token is not valid",
            )
        })?;
    if claims["grant_mode"] != "session-start" {
        return Err(ApiError::bad_request(
            "invalid_challenge_token",
            "this challenge token does not start a session",
        ));
    }
    let now = app.now();
    if claims["exp"].as_i64().unwrap_or(0) <= now {
        return Err(ApiError::bad_request(
            "expired_challenge_token",
            "the login challenge has expired; sign in again",
        ));
    }
    let jti = claims["jti"].as_str().unwrap_or_default().to_owned();
    let user_id = claims["sub"].as_str().unwrap_or_default().to_owned();
    let mut d = app.data();
    if !d.spent_login_jtis.insert(jti) {
        return Err(ApiError::conflict(
            "token_reused",
            "this challenge token was already used",
        ));
    }
    if !d.users.contains_key(&user_id) {
        return Err(ApiError::bad_request(
            "invalid_challenge_token",
            "the user no longer exists",
        ));
    }
    // A previous session of this device ends once the new one exists.
    let previous = refresh_handle(&app, &headers)
        .and_then(|rt| d.refresh_index.get(&secret_hash(&rt)).cloned());
    let resp = open_session(&app, &headers, &mut d, user_id, proof.jkt);
    if let Some(s) = previous.and_then(|sid| d.sessions.get_mut(&sid)) {
        s.revoked = true;
    }
    Ok(resp)
}

/// Finds the live session behind a refresh token; a spent token revokes its session.
fn session_for_refresh(d: &mut Data, rt: &str, now: i64) -> Result<String, ApiError> {
    let hash = secret_hash(rt);
    let sid = d
        .refresh_index
        .get(&hash)
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("unknown refresh token"))?;
    let s = d
        .sessions
        .get_mut(&sid)
        .ok_or_else(|| ApiError::unauthorized("unknown refresh token"))?;
    if s.revoked {
        return Err(ApiError::unauthorized("the session has been revoked"));
    }
    if s.refresh_hash != hash {
        s.revoked = true;
        tracing::warn!(session = %sid, "spent refresh token reused; session revoked");
        return Err(ApiError::unauthorized(
            "refresh token already used; the session has been revoked",
        ));
    }
    if s.refresh_expires_at <= now {
        return Err(ApiError::unauthorized("the refresh token has expired"));
    }
    Ok(sid)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    step_up_token: Option<String>,
}

async fn refresh(
    State(app): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<RefreshBody>,
) -> Result<Response, ApiError> {
    // The proof is checked completely before the refresh token is looked at, so a rejected
    // proof never spends it.
    let proof =
        regular_proof(&app, &headers, "/refresh", true)?.expect("required proof is present");
    let rt = refresh_handle(&app, &headers)
        .ok_or_else(|| ApiError::unauthorized("a refresh token is required"))?;
    let now = app.now();
    let mut d = app.data();
    let sid = session_for_refresh(&mut d, &rt, now)?;
    if d.sessions[&sid].jkt != proof.jkt {
        return Err(ApiError::unauthorized_code(
            "dpop_key_mismatch",
            "the proof is not signed by the session's key",
        ));
    }
    let mut single_use = None;
    if let Some(token) = body.step_up_token {
        single_use = redeem_step_up(&app, &mut d, &sid, &token, now)?;
    }
    let new_rt = new_refresh_token();
    let session = d.sessions.get_mut(&sid).expect("session exists");
    session.refresh_hash = secret_hash(&new_rt);
    session.last_seen_at = now;
    let rt_exp = session.refresh_expires_at;
    let session = session.clone();
    d.refresh_index.insert(secret_hash(&new_rt), sid);
    let (access, exp) = mint_access(&app, &headers, &d, &session, single_use.as_deref());
    Ok(tokens_response(
        &app,
        &d.dpop_nonce,
        access,
        exp,
        &new_rt,
        rt_exp,
    ))
}

/// Applies the grant of a completed challenge; returns a scope for `single-use` grants, which
/// live only on the token minted now.
fn redeem_step_up(
    app: &AppState,
    d: &mut Data,
    sid: &str,
    token: &str,
    now: i64,
) -> Result<Option<String>, ApiError> {
    let claims = app.keys.verify(KeyUse::StepUp, token).ok_or_else(|| {
        ApiError::bad_request("invalid_challenge_token", "the step-up token is not valid")
    })?;
    let cid = claims["challenge_id"].as_str().unwrap_or_default();
    let jti = claims["jti"].as_str().unwrap_or_default();
    let ch = d
        .challenges
        .get_mut(cid)
        .ok_or_else(|| ApiError::bad_request("invalid_challenge_token", "unknown challenge"))?;
    if ch.session_id != sid {
        return Err(ApiError::bad_request(
            "token_mismatch",
            "the step-up token belongs to another session",
        ));
    }
    if ch.current_step().is_some() {
        return Err(ApiError::bad_request(
            "step_not_completed",
            "the challenge still has steps to pass",
        ));
    }
    if ch.redeemed || ch.spent_jtis.contains(jti) || ch.current_jti != jti {
        return Err(ApiError::conflict(
            "token_reused",
            "this step-up token was already used",
        ));
    }
    if ch.expires_at <= now {
        return Err(ApiError::bad_request(
            "expired_challenge_token",
            "the challenge has expired",
        ));
    }
    ch.redeemed = true;
    ch.spent_jtis.insert(jti.to_owned());
    let grant = Grant {
        scope: ch.scope.clone(),
        expires_at: now + ch.granted_for,
    };
    let (mode, user_id, scope) = (ch.grant_mode.clone(), ch.user_id.clone(), ch.scope.clone());
    tracing::info!(challenge = %cid, scope = %scope, mode = ?mode, "step-up granted");
    Ok(apply_grant(d, sid, &user_id, mode, grant))
}

fn apply_grant(
    d: &mut Data,
    sid: &str,
    user_id: &str,
    mode: GrantMode,
    grant: Grant,
) -> Option<String> {
    match mode {
        GrantMode::SingleUse => Some(grant.scope),
        GrantMode::SessionBound => {
            if let Some(s) = d.sessions.get_mut(sid) {
                s.grants.retain(|g| g.scope != grant.scope);
                s.grants.push(grant);
            }
            None
        }
        GrantMode::ProfileBound => {
            if let Some(u) = d.users.get_mut(user_id) {
                u.grants.retain(|g| g.scope != grant.scope);
                u.grants.push(grant);
            }
            None
        }
    }
}

async fn revoke(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let proof = regular_proof(&app, &headers, "/revoke", true)?.expect("required proof is present");
    let rt = refresh_handle(&app, &headers)
        .ok_or_else(|| ApiError::unauthorized("a refresh token is required"))?;
    let now = app.now();
    let mut d = app.data();
    let sid = session_for_refresh(&mut d, &rt, now)?;
    let s = d.sessions.get_mut(&sid).expect("session exists");
    if s.jkt != proof.jkt {
        return Err(ApiError::unauthorized_code(
            "dpop_key_mismatch",
            "the proof is not signed by the session's key",
        ));
    }
    s.revoked = true;
    tracing::info!(session = %sid, "session revoked by its holder");
    Ok(with_nonce(
        &d.dpop_nonce,
        StatusCode::NO_CONTENT.into_response(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Legacy G1 login (published web SDK 0.6)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyStart {
    identifier: Identifier,
    login_config_id: Option<String>,
    dispatch_id: Option<String>,
}

async fn legacy_login_otp(
    State(app): State<AppState>,
    Body(body): Body<LegacyStart>,
) -> Result<Response, ApiError> {
    let _ = body.dispatch_id;
    start_login(&app, body.identifier, body.login_config_id.as_deref())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyCheck {
    code: String,
}

async fn legacy_login_check(
    State(app): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<LegacyCheck>,
) -> Result<Response, ApiError> {
    let proof = regular_proof(&app, &headers, "/login/otp/check", true)?
        .expect("required proof is present");
    let handle = verification_handle(&app, &headers)
        .ok_or_else(|| ApiError::unauthorized("no verification in progress"))?;
    let now = app.now();
    let mut d = app.data();
    let id = match d.verifications.get(&handle).map(|v| &v.target) {
        Some(VerificationTarget::Login(id)) => id.clone(),
        _ => return Err(ApiError::unauthorized("no login verification in progress")),
    };
    check_code(&app, &mut d, &handle, &body.code)?;
    let user_id = user_for(&mut d, id, now);
    Ok(open_session(&app, &headers, &mut d, user_id, proof.jkt))
}

// ---------------------------------------------------------------------------------------------
// Step-up

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepUpRequest {
    scope: String,
    metadata: Option<BTreeMap<String, String>>,
    dispatch_id: Option<String>,
}

fn challenge_claims(app: &AppState, headers: &HeaderMap, ch: &Challenge) -> Value {
    json!({
        "iss": app.issuer(headers),
        "sub": ch.user_id,
        "sid": ch.session_id,
        "jti": ch.current_jti,
        "iat": app.now(),
        "exp": ch.expires_at,
        "challenge_id": ch.id,
        "current_step": ch.current_step_key(),
        "scope_requested": ch.scope,
        "grant_mode": ch.grant_mode,
        // Not a documented claim; lets a client show how long the grant will last.
        "granted_for": ch.granted_for,
        "steps": ch.steps.iter().map(|s| json!({
            "order": s.order, "key": s.key,
            "expiration_duration": s.expiration_duration, "done": s.done,
        })).collect::<Vec<_>>(),
        "metadata": ch.metadata,
    })
}

enum Plan {
    Direct(DirectDecision),
    Hook(String),
}

fn platform_of(user_agent: &str) -> &'static str {
    let ua = user_agent.to_ascii_lowercase();
    if ua.contains("android") {
        "ANDROID"
    } else if ua.contains("iphone") || ua.contains("ipad") || ua.contains("ios") {
        "IOS"
    } else {
        "WEB"
    }
}

async fn stepup_request(
    State(app): State<AppState>,
    ConnectInfo(crate::tls::Peer(peer)): ConnectInfo<crate::tls::Peer>,
    headers: HeaderMap,
    Body(body): Body<StepUpRequest>,
) -> Result<Response, ApiError> {
    let (user_id, sid) = bearer(&app, &headers)?;
    // Swift and Android sign this call, the web SDK does not: a proof is optional, but a bad
    // one is still refused.
    let proof = regular_proof(&app, &headers, "/stepup/request", false)?;
    let _ = body.dispatch_id;
    if !valid_scope(&body.scope) {
        return Err(ApiError::bad_request(
            "bad_request",
            "scope must match ^[a-zA-Z0-9.-_:]+$",
        ));
    }
    let metadata = body.metadata.unwrap_or_default();
    validate_metadata(&metadata)?;
    let (plan, user) = {
        let d = app.data();
        if let Some(p) = &proof
            && d.sessions.get(&sid).is_some_and(|s| s.jkt != p.jkt)
        {
            return Err(ApiError::unauthorized_code(
                "dpop_key_mismatch",
                "the proof is not signed by the session's key",
            ));
        }
        let config = d
            .stepup_config
            .as_ref()
            .ok_or_else(|| ApiError::forbidden("not_configured", "step-up is not configured"))?;
        let rules: Vec<&ScopeRule> = config
            .allowed_scopes
            .iter()
            .filter(|r| r.scope == body.scope)
            .collect();
        if rules.is_empty() {
            return Err(ApiError::forbidden(
                "scope_not_allowed",
                format!("scope {} is not allowed", body.scope),
            ));
        }
        let user = d
            .users
            .get(&user_id)
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("unknown user"))?;
        let user_types: Vec<IdentifierType> = user.identifiers.iter().map(|i| i.kind).collect();
        let plan = rules.iter().find_map(|r| match r.mode {
            ScopeMode::Delegated => r
                .delegated
                .as_ref()
                .map(|x| Plan::Hook(x.delegation_hook.clone())),
            ScopeMode::Direct => r
                .direct
                .as_ref()
                .filter(|dd| {
                    dd.identifier_types.is_empty()
                        || dd.identifier_types.iter().any(|t| user_types.contains(t))
                })
                .cloned()
                .map(Plan::Direct),
        });
        let plan = plan.ok_or_else(|| {
            ApiError::forbidden(
                "direct_scope_identifier_mismatch",
                "no rule for this scope matches the user's identifiers",
            )
        })?;
        (plan, user)
    };
    let decision = match plan {
        Plan::Direct(d) => d,
        Plan::Hook(url) => {
            let user_agent = header_str(&headers, "user-agent").unwrap_or_default();
            let hook_body = json!({
                "scope_requested": body.scope,
                "user_id": user.id,
                "identifiers": user.identifiers,
                "signals": {
                    "user_agent": user_agent,
                    "platform": platform_of(user_agent),
                    "ip": peer.ip().to_string(),
                },
                "metadata": metadata,
            });
            match crate::hook::call_hook(app.http(), app.hook_key(), &url, &hook_body).await {
                Ok(d) => d,
                Err(why) => {
                    tracing::warn!(scope = %body.scope, "step-up hook failed ({why}); treated as block");
                    DirectDecision {
                        identifier_types: vec![],
                        status: Decision::Block,
                        granted_for: 0,
                        grant_mode: GrantMode::SingleUse,
                        steps: vec![],
                    }
                }
            }
        }
    };
    tracing::info!(scope = %body.scope, status = ?decision.status, "step-up decision");
    if decision.status == Decision::Block {
        return Ok(axum::Json(json!({"status": "block"})).into_response());
    }
    let now = app.now();
    let mut steps: Vec<ChallengeStep> = decision
        .steps
        .iter()
        .map(|s| ChallengeStep {
            order: s.order,
            key: s.key.clone(),
            expiration_duration: s.expiration_duration,
            done: false,
            started_at: None,
        })
        .collect();
    steps.sort_by_key(|s| s.order);
    if let Some(first) = steps.first_mut() {
        first.started_at = Some(now);
    }
    let span: i64 = steps.iter().map(|s| s.expiration_duration).sum();
    let ch = Challenge {
        id: prefixed_id("chl"),
        user_id: user_id.clone(),
        session_id: sid.clone(),
        scope: body.scope.clone(),
        metadata,
        status: decision.status,
        grant_mode: decision.grant_mode.clone(),
        granted_for: decision.granted_for,
        steps,
        current_jti: uuid::Uuid::new_v4().to_string(),
        spent_jtis: Default::default(),
        created_at: now,
        expires_at: now + span.clamp(600, 86_400),
        redeemed: false,
    };
    let status = match decision.status {
        Decision::Continue => "continue",
        _ => "review",
    };
    let mut d = app.data();
    if decision.status == Decision::Continue && d.faults.omit_continue_token {
        // The quirk seen on the real service: granted server-side, no token to redeem.
        let grant = Grant {
            scope: ch.scope.clone(),
            expires_at: now + ch.granted_for.max(1),
        };
        let mode = match ch.grant_mode {
            GrantMode::SingleUse => GrantMode::SessionBound,
            m => m,
        };
        apply_grant(&mut d, &sid, &user_id, mode, grant);
        return Ok(axum::Json(json!({"status": "continue"})).into_response());
    }
    let token = app
        .keys
        .sign(KeyUse::StepUp, &challenge_claims(&app, &headers, &ch));
    d.challenges.insert(ch.id.clone(), ch);
    Ok(axum::Json(json!({"status": status, "challenge_token": token})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContinueBody {
    challenge_token: String,
    verification_token: Option<String>,
    passkey_assertion: Option<Value>,
}

fn bad_verification(why: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_verification_token", why)
}

/// Passes a custom step with an RS256 verification token from the customer's backend, checked
/// against the app's `jwks_url` with every claim of PROTOCOL.md §5.4.
async fn stepup_continue(
    State(app): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<ContinueBody>,
) -> Result<Response, ApiError> {
    let (_, sid) = bearer(&app, &headers)?;
    if body.passkey_assertion.is_some() {
        return Err(ApiError::bad_request(
            "bad_request",
            "passkey steps are not emulated",
        ));
    }
    let vt = body
        .verification_token
        .ok_or_else(|| bad_verification("verification_token is required"))?;
    let token_jti = peek_claims(&body.challenge_token)
        .and_then(|c| c["jti"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let proof = challenge_proof(&app, &headers, "/stepup/continue", &token_jti)?;
    let (cid, step, user_id, jwks_url) = {
        let d = app.data();
        let (cid, _) = live_challenge(&app, &d, &body.challenge_token)?;
        let ch = &d.challenges[&cid];
        if ch.session_id != sid {
            return Err(ApiError::bad_request(
                "token_mismatch",
                "the challenge belongs to another session",
            ));
        }
        if d.sessions.get(&sid).is_none_or(|s| s.jkt != proof.jkt) {
            return Err(ApiError::unauthorized_code(
                "dpop_key_mismatch",
                "the proof is not signed by the session's key",
            ));
        }
        let step = ch.current_step_key();
        if step == "completed" {
            return Err(ApiError::bad_request(
                "step_not_found",
                "the challenge has no step left",
            ));
        }
        if otp_step_channel(&step).is_some() {
            return Err(ApiError::bad_request(
                "step_bypassed",
                "this step is passed with a code at /otp/check",
            ));
        }
        let url = d
            .stepup_config
            .as_ref()
            .and_then(|c| c.jwks_url.clone())
            .ok_or_else(|| bad_verification("the app has no jwks_url to verify custom steps"))?;
        (cid, step, ch.user_id.clone(), url)
    };
    let kid = crate::hook::rs256_kid(&vt).map_err(bad_verification)?;
    let jwk = app
        .jwks_cache
        .key(app.http(), &jwks_url, &kid)
        .await
        .map_err(bad_verification)?;
    let claims = crate::hook::verify_rs256(&vt, &jwk).map_err(bad_verification)?;
    let now = app.now();
    let claim = |k: &str| claims[k].as_str().unwrap_or_default().to_owned();
    if claim("sub") != user_id {
        return Err(bad_verification("sub does not match the challenge's user"));
    }
    if claim("challenge_id") != cid {
        return Err(bad_verification("challenge_id does not match"));
    }
    if claim("key") != step {
        return Err(bad_verification("key does not match the current step"));
    }
    if claim("status") != "completed" {
        return Err(bad_verification("status must be completed"));
    }
    if claims["exp"].as_i64().is_none_or(|e| e <= now) {
        return Err(bad_verification("the verification token has expired"));
    }
    if claims["nbf"].as_i64().is_none_or(|n| n > now + 5) {
        return Err(bad_verification("the verification token is not valid yet"));
    }
    if claims["iat"].as_i64().is_none() {
        return Err(bad_verification("iat is missing"));
    }
    let vjti = claim("jti");
    if vjti.is_empty() {
        return Err(bad_verification("jti is missing"));
    }
    let mut d = app.data();
    // The challenge may have moved while the JWKS was fetched.
    let (cid, jti) = live_challenge(&app, &d, &body.challenge_token)?;
    if !d.used_verification_jtis.insert(vjti) {
        return Err(bad_verification("this verification token was already used"));
    }
    Ok(pass_step(&app, &headers, d, &cid, jti, now))
}

/// Passes the current step and answers with the challenge's next token.
fn pass_step(
    app: &AppState,
    headers: &HeaderMap,
    mut d: std::sync::MutexGuard<'_, Data>,
    cid: &str,
    spent_jti: String,
    now: i64,
) -> Response {
    let ch = d.challenges.get_mut(cid).expect("challenge exists");
    advance(ch, spent_jti, now);
    let ch = ch.clone();
    drop(d);
    let token = app
        .keys
        .sign(KeyUse::StepUp, &challenge_claims(app, headers, &ch));
    axum::Json(json!({"challenge_token": token})).into_response()
}

/// Marks the current step passed and issues the next token `jti`.
fn advance(ch: &mut Challenge, spent_jti: String, now: i64) {
    ch.spent_jtis.insert(spent_jti);
    ch.current_jti = uuid::Uuid::new_v4().to_string();
    if let Some(s) = ch.steps.iter_mut().find(|s| !s.done) {
        s.done = true;
    }
    if let Some(next) = ch.steps.iter_mut().find(|s| !s.done) {
        next.started_at = Some(now);
    }
}

/// Resolves a presented challenge token to its live challenge. The token must be the current
/// one: a spent token is `token_reused` (409).
fn live_challenge(app: &AppState, d: &Data, token: &str) -> Result<(String, String), ApiError> {
    let claims = app.keys.verify(KeyUse::StepUp, token).ok_or_else(|| {
        // Tell an expired-looking or foreign token apart only by what we signed.
        ApiError::bad_request(
            "invalid_challenge_token",
            "the challenge token is not valid",
        )
    })?;
    let cid = claims["challenge_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let jti = claims["jti"].as_str().unwrap_or_default().to_owned();
    let ch = d
        .challenges
        .get(&cid)
        .ok_or_else(|| ApiError::bad_request("invalid_challenge_token", "unknown challenge"))?;
    if ch.spent_jtis.contains(&jti) || (ch.redeemed && ch.current_jti == jti) {
        return Err(ApiError::conflict(
            "token_reused",
            "this challenge token was already used",
        ));
    }
    if ch.current_jti != jti {
        return Err(ApiError::bad_request(
            "invalid_challenge_token",
            "this is not the challenge's current token",
        ));
    }
    let now = app.now();
    if ch.expires_at <= now {
        return Err(ApiError::bad_request(
            "expired_challenge_token",
            "the challenge has expired; request the scope again",
        ));
    }
    if let Some(step) = ch.current_step()
        && step
            .started_at
            .is_some_and(|t| t + step.expiration_duration <= now)
    {
        return Err(ApiError::bad_request(
            "expired_challenge_token",
            "this step has expired; request the scope again",
        ));
    }
    Ok((cid, jti))
}

fn otp_step_channel(step: &str) -> Option<(Channel, IdentifierType)> {
    match step {
        "verify_sms" => Some((Channel::Sms, IdentifierType::PhoneNumber)),
        "verify_email" => Some((Channel::Email, IdentifierType::EmailAddress)),
        _ => None,
    }
}

fn send_step_up_code(app: &AppState, token: &str) -> Result<Response, ApiError> {
    let now = app.now();
    let mut d = app.data();
    let (cid, _) = live_challenge(app, &d, token)?;
    let ch = &d.challenges[&cid];
    let step = ch.current_step_key();
    let (channel, kind) = otp_step_channel(&step).ok_or_else(|| {
        ApiError::bad_request(
            "step_not_found",
            format!("the current step {step} is not an OTP step"),
        )
    })?;
    let to = d
        .users
        .get(&ch.user_id)
        .and_then(|u| u.identifiers.iter().find(|i| i.kind == kind))
        .map(|i| i.value.clone())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_identifier",
                match kind {
                    IdentifierType::PhoneNumber => "the user has no phone number for this step",
                    IdentifierType::EmailAddress => "the user has no email address for this step",
                },
            )
        })?;
    // Sending again for the same step is a resend: same code while it lives, after a cooldown.
    let existing = d.verifications.iter().find_map(|(h, v)| match &v.target {
        VerificationTarget::StepUp {
            challenge_id,
            step: s,
        } if *challenge_id == cid && *s == step && v.expires_at > now => {
            Some((h.clone(), v.clone()))
        }
        _ => None,
    });
    if let Some((handle, v)) = existing {
        let wait = v.last_sent_at + app.cfg.resend_cooldown_secs - now;
        if wait > 0 {
            return Err(ApiError::rate_limited(format!(
                "wait {wait} s before sending another code"
            )));
        }
        if v.wrong_attempts < app.cfg.max_wrong_attempts {
            send(app, &mut d, &v, Purpose::StepUp);
            if let Some(v) = d.verifications.get_mut(&handle) {
                v.last_sent_at = now;
            }
            return Ok(verification_response(app, &handle));
        }
        d.verifications.remove(&handle);
    }
    let handle = format!("vt_{}", random_token(24));
    let v = Verification {
        target: VerificationTarget::StepUp {
            challenge_id: cid,
            step,
        },
        code: new_code(app),
        channel,
        to,
        expires_at: now + app.cfg.otp_ttl_secs,
        last_sent_at: now,
        wrong_attempts: 0,
    };
    send(app, &mut d, &v, Purpose::StepUp);
    d.verifications.insert(handle.clone(), v);
    Ok(verification_response(app, &handle))
}

fn check_step_up_code(
    app: &AppState,
    headers: &HeaderMap,
    token: &str,
    code: &str,
) -> Result<Response, ApiError> {
    let claims = peek_claims(token).unwrap_or(Value::Null);
    let token_jti = claims["jti"].as_str().unwrap_or_default().to_owned();
    let proof = challenge_proof(app, headers, "/otp/check", &token_jti)?;
    let now = app.now();
    let mut d = app.data();
    let (cid, jti) = live_challenge(app, &d, token)?;
    let ch = &d.challenges[&cid];
    if d.sessions.get(&ch.session_id).is_none_or(|s| s.revoked) {
        return Err(ApiError::unauthorized("the session has ended"));
    }
    if d.sessions[&ch.session_id].jkt != proof.jkt {
        return Err(ApiError::unauthorized_code(
            "dpop_key_mismatch",
            "the proof is not signed by the session's key",
        ));
    }
    let step = ch.current_step_key();
    if otp_step_channel(&step).is_none() {
        return Err(ApiError::bad_request(
            "step_not_found",
            format!("the current step {step} is not an OTP step"),
        ));
    }
    let from_header = verification_handle(app, headers).filter(|h| {
        matches!(d.verifications.get(h).map(|v| &v.target),
            Some(VerificationTarget::StepUp { challenge_id, step: s }) if *challenge_id == cid && *s == step)
    });
    let handle = from_header
        .or_else(|| {
            d.verifications.iter().find_map(|(h, v)| match &v.target {
                VerificationTarget::StepUp {
                    challenge_id,
                    step: s,
                } if *challenge_id == cid && *s == step => Some(h.clone()),
                _ => None,
            })
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_request",
                "no code was sent for this step; call POST /otp first",
            )
        })?;
    check_code(app, &mut d, &handle, code)?;
    Ok(pass_step(app, headers, d, &cid, jti, now))
}

// ---------------------------------------------------------------------------------------------
// Session listing and revocation

async fn me_list(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (user_id, _) = bearer(&app, &headers)?;
    let limit = match q.get("limit") {
        None => 10,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("invalid_pagination_limit", "limit must be 1 to 100")
            })?,
    };
    let offset = match q.get("offset") {
        None => 0,
        Some(v) => v.parse::<usize>().map_err(|_| {
            ApiError::bad_request("invalid_pagination_offset", "offset must be 0 or more")
        })?,
    };
    let now = app.now();
    let d = app.data();
    let mut all: Vec<&Session> = d
        .sessions
        .values()
        .filter(|s| s.user_id == user_id && !s.revoked && s.refresh_expires_at > now)
        .collect();
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| {
            json!({
                "id": s.id,
                "device_model": s.device_model,
                "device_type": s.device_type,
                "os_version": s.os_version,
                "country_code": "ZZ",
                "created_at": rfc3339(s.created_at),
                "last_seen_at": rfc3339(s.last_seen_at),
                "expires_at": rfc3339(s.refresh_expires_at),
            })
        })
        .collect();
    Ok(
        axum::Json(json!({"sessions": page, "total": all.len(), "limit": limit, "offset": offset}))
            .into_response(),
    )
}

async fn me_revoke(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (user_id, sid) = bearer(&app, &headers)?;
    let mut d = app.data();
    let target = q.get("target").map(String::as_str).unwrap_or("");
    let ids: Vec<String> = match target {
        "all" => d
            .sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .map(|s| s.id.clone())
            .collect(),
        "others" => d
            .sessions
            .values()
            .filter(|s| s.user_id == user_id && s.id != sid)
            .map(|s| s.id.clone())
            .collect(),
        "mine" => vec![sid],
        "session" => {
            let id = q
                .get("session_id")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    ApiError::bad_request("bad_request", "target=session needs a session_id")
                })?;
            match d.sessions.get(id) {
                Some(s) if s.user_id == user_id => vec![id.clone()],
                _ => return Err(ApiError::not_found("no such session")),
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "bad_request",
                "target must be all, others, mine or session",
            ));
        }
    };
    for id in &ids {
        if let Some(s) = d.sessions.get_mut(id) {
            s.revoked = true;
        }
    }
    tracing::info!(count = ids.len(), target, "sessions revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}
