//! Step-up over real loopback HTTP: decisions (direct and by the customer's hook), custom
//! steps, grants and step expiry.

mod common;

use common::*;
use prelude_emulator::Config;
use prelude_emulator::customer::CustomerBackend;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn the_hook_gets_a_signed_request_and_decides() {
    let t = T::new().await;
    let customer = CustomerBackend::start(json!({"status": "review", "granted_for": 300,
        "grant_mode": "session-bound",
        "steps": [{"order": 1, "key": "verify_sms", "expiration_duration": 600}]}))
    .await
    .unwrap();
    t.put_stepup(delegated(&customer.hook_url(), &customer.jwks_url()))
        .await;
    let (at, _) = t.login(&Key::new(30)).await;
    let r = t.request(&at, "transfer:write").await;
    assert_eq!(r["status"], "review");
    assert_eq!(
        claims_of(r["challenge_token"].as_str().unwrap())["current_step"],
        "verify_sms"
    );

    let calls = customer.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    let body: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(body["scope_requested"], "transfer:write");
    assert!(body["user_id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(body["identifiers"][0]["value"], "+33612345678");
    assert_eq!(body["metadata"]["amount"], "500");
    assert_eq!(body["signals"]["ip"], "127.0.0.1");
    assert_eq!(
        call.user_agent.as_deref(),
        Some("Prelude-SessionStepUpHook/1.0")
    );
    // The signature verifies with the key published in the app's JWKS.
    let jwks: Value = t
        .http
        .get(t.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = call.key_id.clone().unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    assert!(prelude_emulator::hook::verify_pss(
        jwk,
        &call.body,
        call.signature.as_deref().unwrap()
    ));
    assert!(!prelude_emulator::hook::verify_pss(
        jwk,
        b"tampered",
        call.signature.as_deref().unwrap()
    ));
}

#[tokio::test]
async fn a_broken_or_slow_hook_is_a_block() {
    let t = T::new().await;
    let customer = CustomerBackend::start(json!({"status": "review", "steps": []}))
        .await
        .unwrap();
    t.put_stepup(delegated(&customer.hook_url(), &customer.jwks_url()))
        .await;
    let (at, _) = t.login(&Key::new(31)).await;
    assert_eq!(
        t.request(&at, "transfer:write").await["status"],
        "block",
        "invalid answer"
    );
    customer.answer_raw(vec![b' '; 70_000]);
    assert_eq!(
        t.request(&at, "transfer:write").await["status"],
        "block",
        "oversized answer"
    );
    customer.answer(json!({"status": "continue", "granted_for": 60, "grant_mode": "single-use"}));
    customer.delay(Duration::from_millis(5_500));
    let started = std::time::Instant::now();
    assert_eq!(
        t.request(&at, "transfer:write").await["status"],
        "block",
        "too slow"
    );
    assert!(
        started.elapsed() < Duration::from_millis(5_400),
        "gave up after 5 s"
    );
    customer.delay(Duration::ZERO);
    assert_eq!(t.request(&at, "transfer:write").await["status"], "continue");
}

#[tokio::test]
async fn a_custom_step_passes_with_a_verification_token() {
    let t = T::new().await;
    let customer = CustomerBackend::start(json!({"status": "review", "granted_for": 300,
        "grant_mode": "single-use",
        "steps": [{"order": 1, "key": "kyc_review", "expiration_duration": 600}]}))
    .await
    .unwrap();
    t.put_stepup(delegated(&customer.hook_url(), &customer.jwks_url()))
        .await;
    let key = Key::new(32);
    let (at, rt) = t.login(&key).await;
    let ct = t.request(&at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = claims_of(&ct);
    assert_eq!(c["current_step"], "kyc_review");
    let cid = c["challenge_id"].as_str().unwrap();
    let sub = c["sub"].as_str().unwrap();
    let jti = c["jti"].as_str().unwrap();
    let htu = t.htu("/stepup/continue");
    let cproof = |jti: &str| {
        key.sign_parts(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
            &json!({"jti": jti, "htm": "POST", "htu": htu, "iat": now()}),
        )
    };
    let cont = |vt: String, proof: String| {
        t.http
            .post(&htu)
            .bearer_auth(&at)
            .header("dpop", proof)
            .json(&json!({"challenge_token": ct, "verification_token": vt}))
            .send()
    };
    // Wrong claims are refused, each for its own reason.
    for bad in [
        customer.verification_token("usr_other", cid, "kyc_review"),
        customer.verification_token(sub, "chl_other", "kyc_review"),
        customer.verification_token(sub, cid, "other_step"),
        customer.sign(
            &json!({"sub": sub, "challenge_id": cid, "key": "kyc_review", "status": "pending",
            "iat": now(), "nbf": now(), "exp": now() + 60, "jti": "j1"}),
        ),
        customer.sign(
            &json!({"sub": sub, "challenge_id": cid, "key": "kyc_review", "status": "completed",
            "iat": now() - 600, "nbf": now() - 600, "exp": now() - 1, "jti": "j2"}),
        ),
        "not.a.token".to_owned(),
    ] {
        let r = cont(bad, cproof(jti)).await.unwrap();
        assert_eq!(code_of(r).await.1, "invalid_verification_token");
    }
    // A regular proof (its own jti) is not a challenge proof.
    let r = cont(
        customer.verification_token(sub, cid, "kyc_review"),
        key.proof("POST", &htu, None),
    )
    .await
    .unwrap();
    assert_eq!(code_of(r).await.1, "invalid_dpop_proof");
    let good = customer.verification_token(sub, cid, "kyc_review");
    let r = cont(good.clone(), cproof(jti)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let done = r.json::<Value>().await.unwrap()["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims_of(&done)["current_step"], "completed");
    assert_ne!(claims_of(&done)["jti"], c["jti"]);
    // The spent challenge token cannot be replayed.
    let r = cont(good, cproof(jti)).await.unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::CONFLICT, "token_reused".into())
    );
    // Redeem: a single-use grant is on this token only.
    let r = t
        .http
        .post(t.htu("/refresh"))
        .header("x-refresh-token", &rt)
        .header("dpop", key.proof("POST", &t.htu("/refresh"), None))
        .json(&json!({"step_up_token": done}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rt2 = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    let at2 = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims_of(&at2)["scope"], "transfer:write");
    let r = t.refresh(&key, &rt2, None).await;
    let at3 = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        claims_of(&at3).get("scope").is_none(),
        "single-use: gone on the next token"
    );
}

#[tokio::test]
async fn a_verification_token_with_fractional_dates_passes() {
    let t = T::new().await;
    let customer = CustomerBackend::start(json!({"status": "review", "granted_for": 300,
        "grant_mode": "single-use",
        "steps": [{"order": 1, "key": "kyc_review", "expiration_duration": 600}]}))
    .await
    .unwrap();
    t.put_stepup(delegated(&customer.hook_url(), &customer.jwks_url()))
        .await;
    let key = Key::new(33);
    let (at, _) = t.login(&key).await;
    let mut ct = t.request(&at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let htu = t.htu("/stepup/continue");
    let now = t.emu.now() as f64;
    let cont = |ct: String, vt: String| {
        let jti = claims_of(&ct)["jti"].as_str().unwrap().to_owned();
        let proof = key.sign_parts(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
            &json!({"jti": jti, "htm": "POST", "htu": htu, "iat": now}),
        );
        t.http
            .post(&htu)
            .bearer_auth(&at)
            .header("dpop", proof)
            .json(&json!({"challenge_token": ct, "verification_token": vt}))
            .send()
    };
    let c = claims_of(&ct);
    let (sub, cid) = (
        c["sub"].as_str().unwrap(),
        c["challenge_id"].as_str().unwrap(),
    );
    let claims = |jti: &str, iat: Value, nbf: Value, exp: Value| {
        json!({"sub": sub, "challenge_id": cid, "key": "kyc_review", "status": "completed",
            "iat": iat, "nbf": nbf, "exp": exp, "jti": jti})
    };
    // Dates that are not numbers, or a fractional exp already past, are refused.
    for bad in [
        claims("b1", json!(now.to_string()), json!(now), json!(now + 60.0)),
        claims("b2", json!(now), json!("soon"), json!(now + 60.0)),
        claims("b3", json!(now), json!(now), json!(null)),
        claims("b4", json!(now - 60.0), json!(now - 60.0), json!(now - 0.5)),
        claims("b5", json!(now), json!(now + 30.5), json!(now + 60.0)),
    ] {
        let r = cont(ct.clone(), customer.sign(&bad)).await.unwrap();
        assert_eq!(code_of(r).await.1, "invalid_verification_token", "{bad}");
    }
    // Fractions, and integers written with `.0`, are NumericDates (RFC 7519 §2).
    let good = claims(
        "g1",
        json!(now - 0.25),
        json!(now + 0.0),
        json!(now + 60.75),
    );
    let r = cont(ct.clone(), customer.sign(&good)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    ct = r.json::<Value>().await.unwrap()["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims_of(&ct)["current_step"], "completed");
}

// ---------------------------------------------------------------------------------------------
// Configuration errors, grant modes, expiry, fault switches, CORS and TLS

#[tokio::test]
async fn step_up_errors_without_configuration_or_permission() {
    let t = T::with(Config {
        bare: true,
        ..Config::default()
    })
    .await;
    let key = prelude_emulator::DEFAULT_MANAGEMENT_KEY;
    t.http
        .post(t.url("/v2/session/apps/demo/config/login/otp"))
        .bearer_auth(key)
        .json(&json!({"config_type": "otp", "channel_type": "sms"}))
        .send()
        .await
        .unwrap();
    let (at, _) = t.login(&Key::new(40)).await;
    let ask = |scope: &'static str, metadata: Value| {
        t.http
            .post(t.htu("/stepup/request"))
            .bearer_auth(&at)
            .json(&json!({"scope": scope, "metadata": metadata}))
            .send()
    };
    assert_eq!(
        code_of(ask("transfer:write", json!({})).await.unwrap()).await,
        (StatusCode::FORBIDDEN, "not_configured".into())
    );
    t.put_stepup(json!({"allowed_scopes": [{"scope": "transfer:write", "mode": "direct",
        "direct": {"identifier_types": ["email_address"], "status": "continue", "granted_for": 60, "grant_mode": "session-bound"}}]}))
        .await;
    assert_eq!(
        code_of(ask("payroll:write", json!({})).await.unwrap()).await,
        (StatusCode::FORBIDDEN, "scope_not_allowed".into())
    );
    assert_eq!(
        code_of(ask("transfer:write", json!({})).await.unwrap()).await,
        (
            StatusCode::FORBIDDEN,
            "direct_scope_identifier_mismatch".into()
        )
    );
    let six = json!({"a": "1", "b": "1", "c": "1", "d": "1", "e": "1", "f": "1"});
    assert_eq!(
        code_of(ask("transfer:write", six).await.unwrap()).await.1,
        "invalid_metadata"
    );
    let long = json!({"amount": "9".repeat(33)});
    assert_eq!(
        code_of(ask("transfer:write", long).await.unwrap()).await.1,
        "invalid_metadata"
    );
    let key_too_long = json!({"thirteenchars": "1"});
    assert_eq!(
        code_of(ask("transfer:write", key_too_long).await.unwrap())
            .await
            .1,
        "invalid_metadata"
    );
}

/// Completes a one-step SMS challenge and redeems it; returns the new access token's claims and
/// the rotated refresh token.
async fn grant(t: &T, key: &Key, at: &str, rt: &str) -> (Value, String) {
    let ct = t.request(at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    let vt = verification_token(&r);
    let code = t.emu.outbox().last().unwrap().code.clone();
    let jti = claims_of(&ct)["jti"].as_str().unwrap().to_owned();
    let htu = t.htu("/otp/check");
    let proof = key.sign_parts(
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
        &json!({"jti": jti, "htm": "POST", "htu": htu, "iat": now()}),
    );
    let r = t
        .http
        .post(&htu)
        .header("dpop", proof)
        .header("x-verification-token", vt)
        .json(&json!({"code": code, "challenge_token": ct}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let done = r.json::<Value>().await.unwrap()["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .http
        .post(t.htu("/refresh"))
        .header("x-refresh-token", rt)
        .header("dpop", key.proof("POST", &t.htu("/refresh"), None))
        .json(&json!({"step_up_token": done}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    (
        claims_of(
            r.json::<Value>().await.unwrap()["access_token"]
                .as_str()
                .unwrap(),
        ),
        rt,
    )
}

#[tokio::test]
async fn profile_bound_grants_reach_every_session_of_the_user() {
    let t = T::new().await;
    t.put_stepup(
        json!({"allowed_scopes": [{"scope": "transfer:write", "mode": "direct",
        "direct": {"status": "review", "granted_for": 300, "grant_mode": "profile-bound",
                   "steps": [{"order": 1, "key": "verify_sms", "expiration_duration": 600}]}}]}),
    )
    .await;
    let (k1, k2) = (Key::new(41), Key::new(42));
    let (at1, rt1) = t.login(&k1).await;
    let (_, rt2) = t.login(&k2).await;
    let (c, _) = grant(&t, &k1, &at1, &rt1).await;
    assert_eq!(c["scope"], "transfer:write");
    let r = t.refresh(&k2, &rt2, None).await;
    let other = claims_of(
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        other["scope"], "transfer:write",
        "the other session of the same user has it too"
    );
}

#[tokio::test]
async fn session_bound_grants_last_for_their_session_only() {
    let t = T::new().await;
    let (k1, k2) = (Key::new(43), Key::new(44));
    let (at1, rt1) = t.login(&k1).await;
    let (_, rt2) = t.login(&k2).await;
    let (c, rt1) = grant(&t, &k1, &at1, &rt1).await;
    assert_eq!(c["scope"], "transfer:write");
    let r = t.refresh(&k1, &rt1, None).await;
    let again = claims_of(
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        again["scope"], "transfer:write",
        "a plain refresh keeps it within granted_for"
    );
    let r = t.refresh(&k2, &rt2, None).await;
    let other = claims_of(
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap(),
    );
    assert!(other.get("scope").is_none(), "not on another session");
}

#[tokio::test]
async fn a_step_expires_on_its_own_clock() {
    let t = T::new().await;
    let key = Key::new(45);
    let (at, _) = t.login(&key).await;
    let ct = t.request(&at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        t.post("/otp", json!({"challenge_token": ct}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    t.emu.state().set_faults(prelude_emulator::Faults {
        clock_skew_secs: 601,
        ..Default::default()
    });
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "expired_challenge_token".into())
    );
}
