//! DPoP proofs as peers' bug reports tried them: fractional NumericDates, a foreign key on a
//! session route, another device's refresh token at finalize, and a replay cache that throwaway
//! keys must not fill.

mod common;

use common::*;
use prelude_emulator::Config;
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
    // Exponent notation is a JSON number too (written by hand: serde_json never emits it).
    for iat in [
        format!("{}e0", now as i64),
        format!("{}e-3", now as i64 * 1000),
    ] {
        use p256::ecdsa::signature::Signer as _;
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()});
        let payload = format!(
            r#"{{"jti":"{}","htm":"POST","htu":"{htu}","iat":{iat}}}"#,
            uuid::Uuid::new_v4()
        );
        let input = format!("{}.{}", b64(&header.to_string()), b64(&payload));
        let sig: p256::ecdsa::Signature = key.0.sign(input.as_bytes());
        let proof = format!("{input}.{}", b64_bytes(&sig.to_bytes()));
        let r = t.refresh(&key, &rt, Some(proof)).await;
        assert_eq!(r.status(), StatusCode::OK, "iat {iat}");
        rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    }
    // A fraction outside the window (300 s) is still outside it, and a non-number is no date.
    // Well outside: the server reads its clock a second or more after `now` on a busy machine.
    for iat in [
        json!(now + 330.5),
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
    assert_eq!(
        t.emu.outbox().last().unwrap().status,
        prelude_emulator::CodeStatus::Live
    );
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
    assert_eq!(
        t.refresh(&ada, &new_rt, None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        t.refresh(&bob, &bob_rt, None).await.status(),
        StatusCode::OK
    );
}

/// A key no one has used before, as a flood would make them.
fn throwaway() -> Key {
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    b[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    // Below the P-256 group order, so every draw is a key.
    b[0] = 1;
    Key(p256::ecdsa::SigningKey::from_slice(&b).unwrap())
}

#[tokio::test]
async fn a_flood_from_throwaway_keys_never_locks_out_a_real_client() {
    let t = T::with(Config {
        resend_cooldown_secs: 0,
        replay_cache_cap: 20,
        replay_per_key_cap: 5,
        ..Config::default()
    })
    .await;
    let key = Key::new(47);
    let (_, mut rt) = t.login(&key).await;
    // A login token already spent, and one that was never ours.
    let spent = t.challenge("+33612345698").await;
    let r = t
        .http
        .post(t.htu("/login/finalize"))
        .header(
            "dpop",
            throwaway().proof("POST", &t.htu("/login/finalize"), None),
        )
        .json(&json!({"challenge_token": spent}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let remembered = t.emu.state().data().seen_jtis.len();
    // Three times the cache's size in valid proofs from throwaway keys, with the longest
    // jti allowed, at every route that takes a regular proof: none authenticates anything.
    for i in 0..60 {
        let route = ["/login/finalize", "/refresh", "/revoke"][i % 3];
        let jti = format!("{i:0>64}");
        let proof = proof_with(
            &throwaway(),
            json!({"jti": jti, "htm": "POST", "htu": t.htu(route), "iat": now()}),
        );
        let token = if i % 2 == 0 { spent.as_str() } else { "x.y.z" };
        let mut req = t
            .http
            .post(t.htu(route))
            .header("dpop", proof)
            .header("x-refresh-token", &rt);
        if route == "/login/finalize" {
            req = req.json(&json!({"challenge_token": token}));
        }
        let r = req.send().await.unwrap();
        let (status, code) = code_of(r).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "proof {i}: {code}");
        assert!(status.is_client_error(), "proof {i}: {status}");
    }
    assert_eq!(t.emu.state().data().seen_jtis.len(), remembered);
    for _ in 0..3 {
        let r = t.refresh(&key, &rt, None).await;
        assert_eq!(r.status(), StatusCode::OK);
        rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    }
}

#[tokio::test]
async fn one_key_is_bounded_in_the_replay_cache_and_holds_up_no_other() {
    let t = T::with(Config {
        resend_cooldown_secs: 0,
        replay_per_key_cap: 3,
        ..Config::default()
    })
    .await;
    let (ada, bob) = (Key::new(48), Key::new(49));
    let (_, mut ada_rt) = t.login(&ada).await;
    let (_, mut bob_rt) = t.login(&bob).await;
    for _ in 0..2 {
        let r = t.refresh(&bob, &bob_rt, None).await;
        assert_eq!(r.status(), StatusCode::OK);
        bob_rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    }
    // Bob's key is at its bound: refused without spending the token.
    let r = t.refresh(&bob, &bob_rt, None).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into())
    );
    // Ada is not held up.
    for _ in 0..2 {
        let r = t.refresh(&ada, &ada_rt, None).await;
        assert_eq!(r.status(), StatusCode::OK);
        ada_rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    }
    // Once Bob's proofs leave the window, his unspent token works again.
    let later = t.emu.clock_offset() + 301;
    t.emu.set_clock_offset(later).unwrap();
    let proof = proof_with(
        &bob,
        json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
            "htu": t.htu("/refresh"), "iat": t.emu.now()}),
    );
    assert_eq!(
        t.refresh(&bob, &bob_rt, Some(proof)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_jti_over_64_bytes_is_refused() {
    let t = T::new().await;
    let key = Key::new(50);
    let (_, rt) = t.login(&key).await;
    let htu = t.htu("/refresh");
    let long = proof_with(
        &key,
        json!({"jti": "j".repeat(65), "htm": "POST", "htu": htu, "iat": now()}),
    );
    let r = t.refresh(&key, &rt, Some(long)).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_dpop_proof".into())
    );
    let longest = proof_with(
        &key,
        json!({"jti": "j".repeat(64), "htm": "POST", "htu": htu, "iat": now()}),
    );
    assert_eq!(
        t.refresh(&key, &rt, Some(longest)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_foreign_key_at_a_step_up_send_starts_no_cooldown() {
    let t = T::with(Config::default()).await;
    let (key, thief) = (Key::new(51), Key::new(52));
    let (at, _) = t.login(&key).await;
    let ct = t.request(&at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = t.emu.outbox().len();
    // The SDKs sign no send, but a proof that is sent must be the session's key's.
    let r = t
        .http
        .post(t.htu("/otp"))
        .header("dpop", challenge_proof(&t, &thief, &ct, "/otp"))
        .json(&json!({"challenge_token": ct}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "dpop_key_mismatch".into())
    );
    assert_eq!(t.emu.outbox().len(), sent, "no code went out");
    // So the holder's send is the first, not a resend within the cooldown.
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let vt = verification_token(&r);
    // A resend signed by another key is refused too.
    let r = t
        .http
        .post(t.htu("/otp/retry"))
        .header("dpop", challenge_proof(&t, &thief, &ct, "/otp/retry"))
        .header("x-verification-token", &vt)
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(r).await.1, "dpop_key_mismatch");
    assert_eq!(t.emu.outbox().len(), sent + 1);
}
