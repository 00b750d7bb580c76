//! What a conforming server may send that the emulator does not, such as fractional
//! NumericDates. Served by a stand-in on loopback.

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
