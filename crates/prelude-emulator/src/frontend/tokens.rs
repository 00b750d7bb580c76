//! Session tokens: finalize a login, refresh (rotating the refresh token, redeeming a
//! completed step-up), and revoke.

use super::grants::{active_scopes, redeem_step_up};
use super::request::{header_str, refresh_handle, with_nonce};
use crate::api::{ApiError, Body};
use crate::extract::{Dpop, Pending, same_key};
use crate::shared::AppState;
use crate::state::*;
use crate::tokens::KeyUse;
use crate::util::{prefixed_id, random_token, rfc3339, secret_hash};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use prelude_wire::time::numeric_date;
use serde::Deserialize;
use serde_json::json;

/// The device a session signs in from, read from its `User-Agent` in the SDKs' shape
/// `Product/version (Vendor; OS version)` (docs/protocol.md §2.1): `(device_type,
/// device_model, os_version)` as `me/list` reports them (§4.9). The model is the product name
/// (the vendor for Prelude's own SDKs); the OS is the comment part that names one, as written,
/// with its version. What it does not name is `unknown` [INF].
pub(super) fn device_from(headers: &HeaderMap) -> (String, String, String) {
    const OSES: [(&str, &str); 8] = [
        ("ipados", "iPadOS"),
        ("ios", "iOS"),
        ("android", "Android"),
        ("mac os x", "macOS"),
        ("macos", "macOS"),
        ("windows", "Windows"),
        ("linux", "Linux"),
        ("web", "Web"),
    ];
    let ua = header_str(headers, "user-agent").unwrap_or("");
    let product = ua.split_whitespace().next().unwrap_or("");
    let name = product.split('/').next().unwrap_or("");
    let comment = ua
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or("", |(c, _)| c);
    let parts: Vec<&str> = comment.split(';').map(str::trim).collect();
    // The comment names the OS; a UA without one may name it as a later word.
    let words: Vec<&str> = ua.split_whitespace().skip(1).collect();
    let os = parts.iter().chain(words.iter()).find_map(|p| {
        let lower = p.to_ascii_lowercase();
        OSES.iter().find_map(|(key, canonical)| {
            let rest = lower.strip_prefix(key)?;
            // A version may follow the name ("iOS 17.4.0"); another word may not ("webkit").
            (rest.is_empty() || rest.starts_with(' '))
                .then(|| format!("{canonical}{}", &p[key.len()..]))
        })
    });
    let kind = match os.as_deref().map(|o| o.split(' ').next().unwrap_or("")) {
        Some("iOS" | "Android") => "mobile",
        Some("iPadOS") => "tablet",
        Some("Linux" | "Windows" | "macOS") => "desktop",
        _ => "unknown",
    };
    let model = match (name, parts.first()) {
        ("Prelude", Some(vendor)) if !vendor.is_empty() => *vendor,
        ("", _) => "unknown",
        (n, _) => n,
    };
    let cap = |s: &str| {
        s.chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect::<String>()
    };
    (
        kind.to_owned(),
        cap(model),
        os.map_or_else(|| "unknown".to_owned(), |o| cap(&o)),
    )
}

#[cfg(test)]
mod device_tests {
    use super::device_from;
    use axum::http::{HeaderMap, HeaderValue};

    fn read(ua: &str) -> (String, String, String) {
        let mut h = HeaderMap::new();
        h.insert("user-agent", HeaderValue::from_str(ua).unwrap());
        device_from(&h)
    }

    #[test]
    fn the_sdks_user_agent_names_the_device() {
        let t = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(
            read("Prelude/0.3.0 (Apple; iOS 17.4.0)"),
            t("mobile", "Apple", "iOS 17.4.0")
        );
        assert_eq!(
            read("Countersign/0.1.0 (Linux)"),
            t("desktop", "Countersign", "Linux")
        );
        assert_eq!(
            read("Countersign/0.1.0 (linux)"),
            t("desktop", "Countersign", "Linux")
        );
        assert_eq!(
            read("Foo/1 (Acme; Android 14)"),
            t("mobile", "Foo", "Android 14")
        );
        assert_eq!(
            read("Foo/1 (Acme; iPadOS 17)"),
            t("tablet", "Foo", "iPadOS 17")
        );
        assert_eq!(read("curl/8.5.0"), t("unknown", "curl", "unknown"));
        assert_eq!(read("Pixel-8 Android"), t("mobile", "Pixel-8", "Android"));
        assert_eq!(read("Foo/1 (webkit)"), t("unknown", "Foo", "unknown"));
        assert_eq!(read(""), t("unknown", "unknown", "unknown"));
    }
}

pub(super) fn mint_access(
    app: &AppState,
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
        "iss": app.origins.issuer,
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
    // Flips on the first registration and the last deletion; only where passkeys exist.
    if d.passkey_config.is_some() {
        claims["has_passkey"] = d
            .passkeys
            .values()
            .any(|p| p.user_id == session.user_id)
            .into();
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
pub(super) fn open_session(
    app: &AppState,
    headers: &HeaderMap,
    d: &mut Data,
    user_id: String,
    jkt: String,
    grants: Vec<Grant>,
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
        grants,
        device_type,
        device_model,
        os_version,
    };
    d.refresh_index.insert(secret_hash(&rt), session.id.clone());
    let (access, exp) = mint_access(app, d, &session, None);
    let rt_exp = session.refresh_expires_at;
    tracing::info!(session = %session.id, user = %session.user_id, "session opened");
    d.sessions.insert(session.id.clone(), session);
    tokens_response(app, &d.dpop_nonce, access, exp, &rt, rt_exp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Finalize {
    challenge_token: String,
    code_verifier: Option<String>,
}

pub(super) async fn finalize(
    State(app): State<AppState>,
    Dpop(proof): Dpop,
    headers: HeaderMap,
    Body(body): Body<Finalize>,
) -> Result<Response, ApiError> {
    let _ = body.code_verifier;
    let claims = app
        .keys
        .verify(KeyUse::StepUp, &body.challenge_token)
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidChallengeToken,
                "the challenge token is not valid",
            )
        })?;
    if claims["grant_mode"] != "session-start" {
        return Err(ApiError::new(
            Code::InvalidChallengeToken,
            "this challenge token does not start a session",
        ));
    }
    let now = app.now();
    let exp = numeric_date(&claims["exp"]).unwrap_or(0.0);
    if exp <= now as f64 {
        return Err(ApiError::new(
            Code::ExpiredChallengeToken,
            "the login challenge has expired; sign in again",
        ));
    }
    let jti = claims["jti"].as_str().unwrap_or_default().to_owned();
    let user_id = claims["sub"].as_str().unwrap_or_default().to_owned();
    // At most MAX_NUMERIC_DATE, so it fits.
    let exp = exp.ceil() as i64;
    let mut d = app.data();
    if d.spent_login_tokens.contains_key(&jti) {
        return Err(ApiError::new(
            Code::TokenReused,
            "this challenge token was already used",
        ));
    }
    if !d.users.contains_key(&user_id) {
        return Err(ApiError::new(
            Code::InvalidChallengeToken,
            "the user no longer exists",
        ));
    }
    // The login is valid: only now is the proof's jti remembered, then the token spent.
    let proof = proof.admit(&app, &mut d)?;
    d.spent_login_tokens.insert(jti, exp);
    // A previous session of this device ends once the new one exists. "This device" means
    // bound to the key that signs this finalize: a forwarded token of any other session is
    // ignored, so no one can end a session that is not theirs.
    let previous = refresh_handle(&app, &headers).and_then(|rt| {
        let sid = d.refresh_index.get(&secret_hash(&rt)).cloned();
        match sid.as_ref().and_then(|sid| d.sessions.get(sid)) {
            Some(s) if s.jkt == proof.jkt => sid,
            Some(s) => {
                tracing::warn!(
                    session = %s.id,
                    "finalize: the forwarded refresh token's session is bound to another key; header ignored"
                );
                None
            }
            None => {
                tracing::info!("finalize: the forwarded refresh token is unknown; header ignored");
                None
            }
        }
    });
    // A passkey sign-in carries the passkey configuration's granted_scopes: they last as
    // long as the session's refresh token.
    let until = now + app.cfg.refresh_ttl_secs;
    let grants = claims["granted_scopes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .map(|scope| Grant {
                    scope: scope.to_owned(),
                    expires_at: until,
                })
                .collect()
        })
        .unwrap_or_default();
    let resp = open_session(&app, &headers, &mut d, user_id, proof.jkt, grants);
    if let Some(sid) = previous {
        d.end_session(&sid);
    }
    Ok(resp)
}

/// The live session behind a refresh token, held by the proof's key. The key is checked
/// before anything else, then the proof's jti is remembered: a proof from another key
/// changes nothing, and in particular never sets off reuse detection, so a stolen spent token
/// cannot end its holder's session.
fn session_for_refresh(
    app: &AppState,
    d: &mut Data,
    rt: &str,
    proof: Pending,
) -> Result<String, ApiError> {
    let hash = secret_hash(rt);
    let sid = d
        .refresh_index
        .get(&hash)
        .filter(|sid| d.sessions.contains_key(*sid))
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("unknown refresh token"))?;
    same_key(d, &sid, proof.jkt())?;
    proof.admit(app, d)?;
    let now = app.now();
    let s = d
        .sessions
        .get_mut(&sid)
        .ok_or_else(|| ApiError::unauthorized("unknown refresh token"))?;
    if s.revoked {
        return Err(ApiError::unauthorized("the session has been revoked"));
    }
    if s.refresh_hash != hash {
        d.end_session(&sid);
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

/// The live session whose refresh token the request carries, held by the proof's key; with
/// the state still locked.
fn holder<'a>(
    app: &'a AppState,
    headers: &HeaderMap,
    proof: Pending,
) -> Result<(std::sync::MutexGuard<'a, Data>, String), ApiError> {
    let rt = refresh_handle(app, headers)
        .ok_or_else(|| ApiError::unauthorized("a refresh token is required"))?;
    let mut d = app.data();
    let sid = session_for_refresh(app, &mut d, &rt, proof)?;
    Ok((d, sid))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RefreshBody {
    step_up_token: Option<String>,
}

pub(super) async fn refresh(
    State(app): State<AppState>,
    // The proof is checked completely before the refresh token is looked at, so a rejected
    // proof never spends it.
    Dpop(proof): Dpop,
    headers: HeaderMap,
    Body(body): Body<RefreshBody>,
) -> Result<Response, ApiError> {
    let now = app.now();
    let (mut d, sid) = holder(&app, &headers, proof)?;
    let mut single_use = None;
    if let Some(token) = body.step_up_token {
        single_use = redeem_step_up(&app, &mut d, &sid, &token, now)?;
    }
    let new_rt = new_refresh_token();
    let Some(session) = d.sessions.get_mut(&sid) else {
        return Err(ApiError::unauthorized("unknown refresh token"));
    };
    let spent = std::mem::replace(&mut session.refresh_hash, secret_hash(&new_rt));
    session.last_seen_at = now;
    let rt_exp = session.refresh_expires_at;
    let session = session.clone();
    d.refresh_index.insert(secret_hash(&new_rt), sid);
    d.refresh_spent_at.insert(spent, now);
    let (access, exp) = mint_access(&app, &d, &session, single_use.as_deref());
    Ok(tokens_response(
        &app,
        &d.dpop_nonce,
        access,
        exp,
        &new_rt,
        rt_exp,
    ))
}

pub(super) async fn revoke(
    State(app): State<AppState>,
    Dpop(proof): Dpop,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (mut d, sid) = holder(&app, &headers, proof)?;
    d.end_session(&sid);
    tracing::info!(session = %sid, "session revoked by its holder");
    Ok(with_nonce(
        &d.dpop_nonce,
        StatusCode::NO_CONTENT.into_response(),
    ))
}
