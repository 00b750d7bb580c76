//! DPoP proofs as peers' bug reports tried them: fractional NumericDates, a foreign key on a
//! session route, another device's refresh token at finalize, and a replay cache that throwaway
//! keys must not fill.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A proof with these claims, signed by `key`.
fn proof_with(key: &Key, claims: Value) -> String {
    key.sign_parts(
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
        &claims,
    )
}

#[tokio::test]
async fn a_fractional_iat_is_a_numeric_date() {
    let t = T::new().await;
    let key = Key::new(40);
    let (_, mut rt) = t.login(&key).await;
    let htu = t.htu("/refresh");
    let now = t.emu.now() as f64;
    for iat in [json!(now + 0.25), json!(now), json!(now - 0.75)] {
        let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
            "htu": htu, "iat": iat});
        let r = t.refresh(&key, &rt, Some(proof_with(&key, claims))).await;
        assert_eq!(r.status(), StatusCode::OK, "iat {iat}");
        rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    }
    // A fraction outside the window is still outside it, and a non-number is no date.
    for iat in [
        json!(now + 300.5),
        json!(now.to_string()),
        json!(null),
        json!(1e300),
    ] {
        let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
            "htu": htu, "iat": iat});
        let r = t.refresh(&key, &rt, Some(proof_with(&key, claims))).await;
        assert_eq!(
            code_of(r).await,
            (StatusCode::BAD_REQUEST, "invalid_dpop_proof".into()),
            "iat {iat}"
        );
    }
}

#[tokio::test]
async fn a_foreign_key_never_sets_off_reuse_detection() {
    let t = T::new().await;
    let (key, thief) = (Key::new(41), Key::new(42));
    let (_, spent) = t.login(&key).await;
    let r = t.refresh(&key, &spent, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let current = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    // The spent token, or the current one, with a valid proof of another key: refused for the
    // key, and nothing else happens.
    for (route, rt) in [
        ("/refresh", &spent),
        ("/revoke", &spent),
        ("/refresh", &current),
        ("/revoke", &current),
    ] {
        let r = t
            .http
            .post(t.htu(route))
            .header("x-refresh-token", rt)
            .header("dpop", thief.proof("POST", &t.htu(route), None))
            .send()
            .await
            .unwrap();
        assert_eq!(
            code_of(r).await,
            (StatusCode::UNAUTHORIZED, "dpop_key_mismatch".into()),
            "{route}"
        );
    }
    // The holder's session still refreshes.
    let r = t.refresh(&key, &current, None).await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// A challenge-scoped proof for `ct` at `route`, signed by `key`.
fn challenge_proof(t: &T, key: &Key, ct: &str, route: &str) -> String {
    let jti = claims_of(ct)["jti"].as_str().unwrap().to_owned();
    proof_with(
        key,
        json!({"jti": jti, "htm": "POST", "htu": t.htu(route), "iat": now()}),
    )
}

#[tokio::test]
async fn a_foreign_key_at_a_step_up_check_moves_no_counter() {
    let t = T::new().await;
    let (key, thief) = (Key::new(43), Key::new(44));
    let (at, _) = t.login(&key).await;
    let ct = t.request(&at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let vt = verification_token(&r);
    let code = t.emu.outbox().last().unwrap().code.clone();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let check = |by: &Key, code: &str| {
        t.http
            .post(t.htu("/otp/check"))
            .header("dpop", challenge_proof(&t, by, &ct, "/otp/check"))
            .header("x-verification-token", &vt)
            .json(&json!({"code": code, "challenge_token": ct}))
            .send()
    };
    // Wrong codes and the right one, from another key: no try is spent, the code stays live.
    for _ in 0..6 {
        let r = check(&thief, wrong).await.unwrap();
        assert_eq!(
            code_of(r).await,
            (StatusCode::UNAUTHORIZED, "dpop_key_mismatch".into())
        );
    }
    let r = check(&thief, &code).await.unwrap();
    assert_eq!(code_of(r).await.1, "dpop_key_mismatch");
    assert_eq!(t.emu.outbox().last().unwrap().status, prelude_emulator::CodeStatus::Live);
    // The holder still has every try.
    let r = check(&key, wrong).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["attempts_remaining"], 4);
    let r = check(&key, &code).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Signs in `phone` and finalizes with `key`, forwarding `previous` as the device's earlier
/// refresh token; returns the new refresh token.
async fn finalize_forwarding(t: &T, key: &Key, phone: &str, previous: &str) -> String {
    let ct = t.challenge(phone).await;
    let r = t
        .http
        .post(t.htu("/login/finalize"))
        .header("dpop", key.proof("POST", &t.htu("/login/finalize"), None))
        .header("x-refresh-token", previous)
        .json(&json!({"challenge_token": ct}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.headers()["x-refresh-token"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn finalize_ends_only_a_session_of_its_own_key() {
    let t = T::new().await;
    let (ada, bob) = (Key::new(45), Key::new(46));
    let (_, ada_rt) = t.login(&ada).await;
    // Another device forwards Ada's token: ignored, Ada's session lives on.
    let bob_rt = finalize_forwarding(&t, &bob, "+33612345699", &ada_rt).await;
    let r = t.refresh(&ada, &ada_rt, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let ada_rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    // The same device signing in again ends its earlier session.
    let new_rt = finalize_forwarding(&t, &ada, "+33612345678", &ada_rt).await;
    let r = t.refresh(&ada, &ada_rt, None).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    assert_eq!(t.refresh(&ada, &new_rt, None).await.status(), StatusCode::OK);
    assert_eq!(t.refresh(&bob, &bob_rt, None).await.status(), StatusCode::OK);
}
