//! Passkey assertions in a verify_passkey step over loopback HTTP: every check is refused with
//! its code and never a 401, a 401 spends nothing, and the switches change the policy.

mod common;
mod passkey_env;

use common::*;
use passkey_env::*;
use prelude_passkey::{
    CeremonyType, FLAG_BE, FLAG_BS, FLAG_UP, FLAG_UV, authenticator_data, b64, client_data_json,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Assertions: each check refused with its code, never a 401.
#[tokio::test]
async fn every_assertion_check_is_refused() {
    let mut e = Env::new("required").await;
    let cred = e.register(10).await;
    let stranger = authenticator(11, "localhost", &b64(cred.user_handle()));
    let get = |ch: &str| client_data_json(CeremonyType::Get, ch, ORIGIN);
    let auth = |rp: &str, flags: u8, n: u32| authenticator_data(rp, flags, n, None).unwrap();
    type Make<'a> = Box<dyn Fn(&str) -> prelude_passkey::AuthenticationResponse + 'a>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "type",
            Box::new(|ch| {
                let mut a = cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 1);
                a.kind = "password".into();
                a
            }),
        ),
        (
            "clientData.type",
            Box::new(|ch| {
                cred.assertion_from_parts(
                    &auth("localhost", FLAG_UP | FLAG_UV, 1),
                    client_data_json(CeremonyType::Create, ch, ORIGIN).as_bytes(),
                )
            }),
        ),
        (
            "challenge",
            Box::new(|_| cred.assertion(&b64([2u8; 32]), ORIGIN, FLAG_UP | FLAG_UV, 1)),
        ),
        (
            "origin",
            Box::new(|ch| cred.assertion(ch, "https://localhost:8443", FLAG_UP | FLAG_UV, 1)),
        ),
        (
            "crossOrigin",
            Box::new(|ch| {
                cred.assertion_from_parts(
                    &auth("localhost", FLAG_UP | FLAG_UV, 1),
                    get(ch)
                        .replace("\"crossOrigin\":false", "\"crossOrigin\":true")
                        .as_bytes(),
                )
            }),
        ),
        (
            "rpIdHash",
            Box::new(|ch| {
                cred.assertion_from_parts(
                    &auth("example.com", FLAG_UP | FLAG_UV, 1),
                    get(ch).as_bytes(),
                )
            }),
        ),
        ("UP", Box::new(|ch| cred.assertion(ch, ORIGIN, FLAG_UV, 1))),
        ("UV", Box::new(|ch| cred.assertion(ch, ORIGIN, FLAG_UP, 1))),
        (
            "BE changed",
            Box::new(|ch| cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV | FLAG_BE, 1)),
        ),
        (
            "BS without BE",
            Box::new(|ch| cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV | FLAG_BS, 1)),
        ),
        (
            "signature",
            Box::new(|ch| {
                let mut a = cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 1);
                a.response.signature = stranger
                    .assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 1)
                    .response
                    .signature;
                a
            }),
        ),
        (
            "raw r||s signature",
            Box::new(|ch| {
                let mut a = cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 1);
                a.response.signature = b64([7u8; 64]);
                a
            }),
        ),
        (
            "credential not allowed",
            Box::new(|ch| stranger.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 1)),
        ),
        (
            "userHandle",
            Box::new(|ch| {
                let mut a = cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 1);
                a.response.user_handle = Some(b64("usr_someone_else"));
                a
            }),
        ),
        (
            "trailing authenticatorData",
            Box::new(|ch| {
                let mut data = auth("localhost", FLAG_UP | FLAG_UV, 1);
                data.push(0);
                cred.assertion_from_parts(&data, get(ch).as_bytes())
            }),
        ),
    ];
    for (name, make) in &cases {
        let (ct, challenge) = e.passkey_challenge().await;
        let r = e.cont(&ct, &make(&challenge)).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            (status, body["code"].as_str().unwrap_or("<none>")),
            (StatusCode::BAD_REQUEST, "passkey_step_unavailable"),
            "{name}: {body}"
        );
        let check = match *name {
            "type" => "A2",
            "credential not allowed" => "A3",
            "userHandle" => "A4",
            "clientData.type" | "challenge" | "origin" | "crossOrigin" => "A5",
            "rpIdHash" | "trailing authenticatorData" => "A6",
            "UP" | "UV" => "A7",
            "BE changed" | "BS without BE" => "A8",
            _ => "A9",
        };
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("({check}: ")),
            "{name}: {message}"
        );
    }
    // A good assertion after refusals passes; replaying it is token_reused.
    let (ct, challenge) = e.passkey_challenge().await;
    let good = cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 5);
    let _ = e.cont(&ct, &cases[2].1(&challenge)).await;
    let r = e.cont(&ct, &good).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        code_of(e.cont(&ct, &good).await).await,
        (StatusCode::CONFLICT, "token_reused".into())
    );

    // The attempt limit: five refusals end the challenge.
    let (ct, challenge) = e.passkey_challenge().await;
    for _ in 0..5 {
        let r = e
            .cont(&ct, &cred.assertion(&challenge, ORIGIN, FLAG_UP, 6))
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    let r = e
        .cont(
            &ct,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 6),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_challenge_token".into())
    );

    // A counter that goes backwards blocks the credential, for honest assertions too.
    let (ct, challenge) = e.passkey_challenge().await;
    let r = e
        .cont(
            &ct,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 4),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (
            StatusCode::FORBIDDEN,
            "passkey_authenticator_blocked".into()
        )
    );
    let r = e
        .cont(
            &ct,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 50),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (
            StatusCode::FORBIDDEN,
            "passkey_authenticator_blocked".into()
        )
    );
    // A blocked credential gets no options any more.
    let v = e.t.request(&e.at, "passkey:demo").await;
    assert!(v.get("public_key_credential_request_options").is_none());
}

/// A 401 (no or bad Bearer) comes before anything single-use is spent, so the SDKs' refresh and
/// replay is safe; a DPoP proof on these routes is optional but must be the session key's.
#[tokio::test]
async fn a_401_spends_nothing_and_proofs_must_be_the_sessions() {
    let mut e = Env::new("required").await;
    e.write_scope().await;
    let (options, token) = e.begin().await;
    let cred = authenticator(40, "localhost", options["user"]["id"].as_str().unwrap());
    let att = cred
        .registration(
            options["challenge"].as_str().unwrap(),
            ORIGIN,
            FLAG_UP | FLAG_UV,
        )
        .unwrap();
    let body = json!({"registration_token": token, "attestation": att});
    let url = e.t.htu("/me/passkeys/register/finish");
    let r = e.t.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    let r =
        e.t.http
            .post(&url)
            .bearer_auth("not-a-token")
            .json(&body)
            .send()
            .await
            .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    let stranger = Key::new(41);
    let r =
        e.t.http
            .post(&url)
            .bearer_auth(&e.at)
            .header("dpop", stranger.proof("POST", &url, None))
            .json(&body)
            .send()
            .await
            .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "dpop_key_mismatch".into())
    );
    // The replay with the session's own proof still finds the registration token unspent.
    let r =
        e.t.http
            .post(&url)
            .bearer_auth(&e.at)
            .header("dpop", e.key.proof("POST", &url, None))
            .json(&body)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The step: a foreign Bearer is a 401 before the assertion is looked at; the honest
    // request then passes.
    let (ct, challenge) = e.passkey_challenge().await;
    let assertion = cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 1);
    let other = T::login(&e.t, &Key::new(42)).await.0;
    let r =
        e.t.http
            .post(e.t.htu("/stepup/continue"))
            .bearer_auth(other)
            .header("dpop", e.cdpop("/stepup/continue", &ct))
            .json(&json!({"challenge_token": ct, "passkey_assertion": assertion}))
            .send()
            .await
            .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    let r =
        e.t.http
            .post(e.t.htu("/stepup/continue"))
            .bearer_auth(&e.at)
            .json(&json!({"challenge_token": ct, "passkey_assertion": assertion}))
            .send()
            .await
            .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "the challenge-scoped proof is required"
    );
    assert_eq!(e.cont(&ct, &assertion).await.status(), StatusCode::OK);
}

/// The switches of docs/protocol.md "Passkeys": deleting without the scope, a counter that
/// does not block, and attestation accepted unverified.
#[tokio::test]
async fn the_passkey_switches_change_the_policy() {
    let mut e = Env::new("required").await;
    let faults = e.t.get_json("/emulator/v1/faults").await;
    assert_eq!(faults["passkey_delete_requires_scope"], true);
    assert_eq!(faults["passkey_block_on_counter_regression"], true);
    assert_eq!(faults["passkey_accept_unverified_attestation"], false);

    // A packed statement: accepted under the `none` preference, refused when attestation is
    // asked for, accepted then with the switch.
    let mut cfg = config("required");
    cfg["attestation_preference"] = json!("direct");
    assert_eq!(e.t.put_mgmt(MGMT, &cfg).await.status(), StatusCode::OK);
    e.write_scope().await;
    let (options, token) = e.begin().await;
    let cred = authenticator(50, "localhost", options["user"]["id"].as_str().unwrap());
    let mut att = cred
        .registration(
            options["challenge"].as_str().unwrap(),
            ORIGIN,
            FLAG_UP | FLAG_UV,
        )
        .unwrap();
    packed_attestation(&mut att);
    let (s, code) = code_of(e.finish(&token, &att).await).await;
    assert_eq!(
        (s, code.as_str()),
        (StatusCode::BAD_REQUEST, "passkey_registration_failed")
    );
    put_faults(&e.t, json!({"passkey_accept_unverified_attestation": true})).await;
    let (options, token) = e.begin().await;
    let mut att = cred
        .registration(
            options["challenge"].as_str().unwrap(),
            ORIGIN,
            FLAG_UP | FLAG_UV,
        )
        .unwrap();
    packed_attestation(&mut att);
    assert_eq!(e.finish(&token, &att).await.status(), StatusCode::OK);

    // A counter that does not grow is refused, and the credential stays usable.
    put_faults(&e.t, json!({"passkey_block_on_counter_regression": false})).await;
    let (ct, challenge) = e.passkey_challenge().await;
    let r = e
        .cont(
            &ct,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 3),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (ct, challenge) = e.passkey_challenge().await;
    let r = e
        .cont(
            &ct,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 2),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "passkey_step_unavailable".into())
    );
    let r = e
        .cont(
            &ct,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 4),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Deleting without the scope.
    put_faults(&e.t, json!({"passkey_delete_requires_scope": false})).await;
    let path = format!("/me/passkeys/{}", b64(cred.id()));
    assert_eq!(
        e.call(reqwest::Method::DELETE, &path, None).await.status(),
        StatusCode::NO_CONTENT
    );
}

/// The test bench's faults make honest assertions fail the way a tester wants to show.
#[tokio::test]
async fn the_test_bench_faults_refuse_honest_assertions() {
    let mut e = Env::new("required").await;
    let cred = e.register(60).await;
    let mut n = 0;
    for (switch, status, code, check) in [
        (
            "passkey_wrong_origin",
            StatusCode::BAD_REQUEST,
            "passkey_step_unavailable",
            "A5",
        ),
        (
            "passkey_options_uv_discouraged",
            StatusCode::BAD_REQUEST,
            "passkey_step_unavailable",
            "A7",
        ),
        (
            "passkey_blocked",
            StatusCode::FORBIDDEN,
            "passkey_authenticator_blocked",
            "A4",
        ),
    ] {
        put_faults(&e.t, json!({ switch: true })).await;
        let (s, c, m) = {
            n += 1;
            honest_attempt(&e, &cred, n).await
        };
        assert_eq!((s, c.as_str()), (status, code), "{switch}: {m}");
        assert!(m.contains(&format!("({check}: ")), "{switch}: {m}");
        put_faults(&e.t, json!({})).await;
        let (s, _, m) = {
            n += 1;
            honest_attempt(&e, &cred, n).await
        };
        assert_eq!(s, StatusCode::OK, "{switch} off: {m}");
    }
    // A counter behind blocks the credential for good.
    put_faults(&e.t, json!({"passkey_counter_behind": true})).await;
    let (s, c, m) = {
        n += 1;
        honest_attempt(&e, &cred, n).await
    };
    assert_eq!(
        (s, c.as_str()),
        (StatusCode::FORBIDDEN, "passkey_authenticator_blocked"),
        "{m}"
    );
    assert!(m.contains("(A10: "), "{m}");
    put_faults(&e.t, json!({})).await;
    let v = e.t.request(&e.at, "passkey:demo").await;
    assert!(v.get("public_key_credential_request_options").is_none());
}
