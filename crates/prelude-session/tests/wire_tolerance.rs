//! What a conforming server may send that the emulator does not: fractional NumericDates, and
//! auth schemes and media types in any case. Served by a stand-in on loopback.

mod common;

use common::*;
use serde_json::json;

/// A far-off expiry, with a fraction.
const EXP: f64 = 4_102_444_800.75;

/// Answers `/refresh` with tokens whose NumericDates all carry a fraction, and
/// `/stepup/request` with a challenge whose `exp` and step duration do too.
fn fractional(head: &str) -> Vec<u8> {
    let json = [("content-type", "application/json")];
    if head.starts_with("POST /v1/session/refresh ") {
        let access = unsigned_jwt(&json!({
            "sub": "usr_1", "sid": "ses_1", "scope": "transfer:write",
            "iat": 1_795_974_767.25, "nbf": 1_795_974_767.0, "exp": EXP,
        }));
        let body = json!({ "access_token": access, "expires_at": EXP });
        let headers = [json[0], ("x-refresh-token", "rt_2")];
        return http_answer("200 OK", &headers, body.to_string().as_bytes());
    }
    if head.starts_with("POST /v1/session/stepup/request ") {
        let challenge = unsigned_jwt(&json!({
            "jti": "chj_1", "challenge_id": "chl_1", "current_step": "verify_sms",
            "scope_requested": "transfer:write", "grant_mode": "session-bound",
            "granted_for": 300.5, "iat": 1_795_974_767.25, "exp": EXP,
            "steps": [{"order": 1, "key": "verify_sms", "expiration_duration": 600.0, "done": false}],
        }));
        let body = json!({ "status": "review", "challenge_token": challenge });
        return http_answer("200 OK", &json, body.to_string().as_bytes());
    }
    http_answer(
        "404 Not Found",
        &json,
        br#"{"code":"not_found","message":"no"}"#,
    )
}

#[tokio::test]
async fn fractional_numeric_dates_are_read_as_numbers() {
    let url = stand_in(fractional).await;
    let c = signed_in_client(&url);
    let user = c
        .refresh()
        .await
        .expect("a fractional expires_at and exp are accepted");
    assert_eq!(user.profile.expires_at, Some(4_102_444_800));
    assert_eq!(user.profile.session_id.as_deref(), Some("ses_1"));
    assert!(c.access_token().is_some(), "not taken as expired");

    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    assert_eq!(ch.challenge_id, "chl_1");
    assert_eq!(
        ch.expires_at,
        Some(4_102_444_800),
        "the challenge's exp is read"
    );
    assert_eq!(ch.granted_for, Some(300));
    assert_eq!(
        ch.steps.len(),
        1,
        "a fractional step duration keeps the step"
    );
    assert_eq!(ch.steps[0].expiration_duration, 600);
    assert_eq!(ch.progress(), Some((1, 1)));
}

/// The claims of the DPoP proof in a request head, if any.
fn proof_claims(head: &str) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let proof = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("dpop"))?
        .1
        .trim();
    let payload = proof.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The bearer token in a request head, whatever the case of its scheme.
fn bearer(head: &str) -> Option<String> {
    let (_, v) = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn tokens(access: &str) -> Vec<u8> {
    let jwt = unsigned_jwt(
        &json!({"sub": "usr_1", "sid": "ses_1", "exp": 4_102_444_800_i64, "n": access}),
    );
    let body = json!({ "access_token": jwt, "expires_at": 4_102_444_800_i64 });
    http_answer(
        "200 OK",
        &[
            ("Content-Type", "Application/JSON; charset=utf-8"),
            ("X-Refresh-Token", "rt_2"),
        ],
        body.to_string().as_bytes(),
    )
}

#[tokio::test]
async fn a_dpop_nonce_challenge_is_understood_in_any_case() {
    for (challenge, nonce_header) in [
        (r#"DPoP error="use_dpop_nonce""#, "DPoP-Nonce"),
        (r#"dpop error="use_dpop_nonce""#, "dpop-nonce"),
        (r#"DPOP ERROR=use_dpop_nonce"#, "DPOP-NONCE"),
        (
            r#"Bearer realm="x", dPoP algs="ES256", error="use_dpop_nonce""#,
            "Dpop-Nonce",
        ),
    ] {
        // RFC 9449 §9: a 401 whose only word is the challenge, and the nonce to use.
        let url = stand_in(move |head| {
            let nonce = proof_claims(head).and_then(|c| c["nonce"].as_str().map(str::to_owned));
            if nonce.as_deref() == Some("n-1") {
                return tokens("at_1");
            }
            http_answer(
                "401 Unauthorized",
                &[
                    ("WWW-Authenticate", challenge),
                    (nonce_header, "n-1"),
                    ("Content-Type", "text/plain"),
                ],
                b"nonce please",
            )
        })
        .await;
        let c = signed_in_client(&url);
        let user = c
            .refresh()
            .await
            .unwrap_or_else(|e| panic!("{challenge}: {e:?}"));
        assert_eq!(
            user.profile.session_id.as_deref(),
            Some("ses_1"),
            "{challenge}"
        );
    }
}

#[tokio::test]
async fn bearer_challenges_are_understood_in_any_case() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let refreshes = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = refreshes.clone();
    let url = stand_in(move |head| {
        if head.starts_with("POST /v1/session/refresh ") {
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            return tokens(&format!("at_{n}"));
        }
        let at = bearer(head).and_then(|t| common_claim(&t));
        match at.as_deref() {
            // The first access token is refused the RFC 6750 way: refresh, then replay.
            Some("at_1") => http_answer(
                "401 Unauthorized",
                &[("www-authenticate", r#"BEARER error="invalid_token""#)],
                b"",
            ),
            Some(_) if head.starts_with("POST /v1/session/stepup/request ") => http_answer(
                "403 Forbidden",
                &[(
                    "WWW-Authenticate",
                    r#"bearer error="insufficient_scope", error_description="more""#,
                )],
                b"",
            ),
            Some(_) => http_answer(
                "200 OK",
                &[("content-type", "APPLICATION/JSON")],
                br#"{"sessions":[],"total":0,"limit":20,"offset":0}"#,
            ),
            None => http_answer("400 Bad Request", &[], b""),
        }
    })
    .await;
    let c = signed_in_client(&url);
    let list = c
        .list_sessions(None, None)
        .await
        .expect("invalid_token leads to one refresh and a replay");
    assert_eq!(list.total, 0);
    assert_eq!(refreshes.load(Ordering::SeqCst), 2);
    let e = c.request_step_up("transfer:write", None).await.unwrap_err();
    assert!(
        matches!(e, prelude_session::Error::InsufficientScope),
        "{e:?}"
    );
}

/// The `n` claim of a stand-in access token: which one it is.
fn common_claim(jwt: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v["n"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_by_its_type() {
    let url =
        stand_in(|_| http_answer("200 OK", &[("Content-Type", "text/html")], b"<html>")).await;
    let c = signed_in_client(&url);
    let e = c.refresh().await.unwrap_err();
    assert_eq!(e.code(), "generic");
    assert!(e.to_string().contains("text/html, not JSON"), "{e}");
}

/// Answers each `/stepup/request` with `continue` and a challenge token whose signed record
/// is incomplete in its own way, in turn: no `scope_requested`, a `scope_requested` that is
/// not text, metadata whose values are not text.
fn incomplete_record(head: &str) -> Vec<u8> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static TURN: AtomicUsize = AtomicUsize::new(0);
    let json = [("content-type", "application/json")];
    if head.starts_with("POST /v1/session/refresh ") {
        return fractional(head);
    }
    if !head.starts_with("POST /v1/session/stepup/request ") {
        return http_answer(
            "404 Not Found",
            &json,
            br#"{"code":"not_found","message":"no"}"#,
        );
    }
    let mut claims = json!({
        "jti": "chj_1", "challenge_id": "chl_1", "current_step": "completed",
        "scope_requested": "transfer:write", "grant_mode": "session-bound",
        "exp": EXP, "steps": [], "metadata": {},
    });
    match TURN.fetch_add(1, Ordering::SeqCst) {
        0 => {
            claims.as_object_mut().unwrap().remove("scope_requested");
        }
        1 => claims["scope_requested"] = json!(["transfer:write"]),
        _ => claims["metadata"] = json!({"amount": 5000, "payee": "Mallory"}),
    }
    let body = json!({ "status": "continue", "challenge_token": unsigned_jwt(&claims) });
    http_answer("200 OK", &json, body.to_string().as_bytes())
}

/// A challenge token whose signed record does not say which scope, or whose metadata is not
/// text, cannot be compared with what was asked: it is refused, never read as the scope that
/// was asked, or as no metadata.
#[tokio::test]
async fn a_challenge_token_without_a_readable_record_is_refused() {
    let url = stand_in(incomplete_record).await;
    let c = signed_in_client(&url);
    for case in [
        "no scope_requested",
        "a scope_requested list",
        "numbers in metadata",
    ] {
        let e = c
            .request_step_up("transfer:write", None)
            .await
            .map(|ch| (ch.scope, ch.metadata))
            .unwrap_err();
        assert!(
            matches!(e, prelude_session::Error::InvalidChallengeToken { .. }),
            "{case}: {e:?}"
        );
    }
}
