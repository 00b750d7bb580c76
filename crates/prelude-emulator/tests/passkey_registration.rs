//! Passkey registration over loopback HTTP: every check of docs/protocol.md "Passkeys" is
//! refused with its code, the configuration is followed, and bad bodies are clear 400s.

mod common;
mod passkey_env;

use common::*;
use passkey_env::*;
use prelude_passkey::{
    CeremonyType, Credential, FLAG_BS, FLAG_UP, FLAG_UV, b64, client_data_json, unb64,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Registration: each check refused with `400 passkey_registration_failed`, the token spent.
#[tokio::test]
async fn every_registration_check_is_refused() {
    let mut e = Env::new("required").await;
    e.write_scope().await;
    type Make = Box<dyn Fn(&Value, &Credential) -> prelude_passkey::RegistrationResponse>;
    let good = |o: &Value, c: &Credential, origin: &str, flags: u8| {
        c.registration(o["challenge"].as_str().unwrap(), origin, flags)
            .unwrap()
    };
    let cases: Vec<(&str, Make)> = vec![
        (
            "type",
            Box::new(move |o, c| {
                let mut r = good(o, c, ORIGIN, FLAG_UP | FLAG_UV);
                r.kind = "password".into();
                r
            }),
        ),
        (
            "clientData.type",
            Box::new(move |o, c| {
                let mut r = good(o, c, ORIGIN, FLAG_UP | FLAG_UV);
                r.response.client_data_json = b64(client_data_json(
                    CeremonyType::Get,
                    o["challenge"].as_str().unwrap(),
                    ORIGIN,
                ));
                r
            }),
        ),
        (
            "challenge",
            Box::new(move |_, c| {
                c.registration(&b64([1u8; 32]), ORIGIN, FLAG_UP | FLAG_UV)
                    .unwrap()
            }),
        ),
        (
            "origin",
            Box::new(move |o, c| good(o, c, "https://evil.example", FLAG_UP | FLAG_UV)),
        ),
        (
            "rpIdHash",
            Box::new(move |o, c| {
                let other = Credential::from_secret(
                    &[4u8; 32],
                    c.id().to_vec(),
                    "example.com",
                    c.user_handle().to_vec(),
                )
                .unwrap();
                good(o, &other, ORIGIN, FLAG_UP | FLAG_UV)
            }),
        ),
        ("UP", Box::new(move |o, c| good(o, c, ORIGIN, FLAG_UV))),
        ("UV", Box::new(move |o, c| good(o, c, ORIGIN, FLAG_UP))),
        (
            "BS without BE",
            Box::new(move |o, c| good(o, c, ORIGIN, FLAG_UP | FLAG_UV | FLAG_BS)),
        ),
        (
            "alg",
            Box::new(move |o, c| {
                // The COSE key's alg -7 (0x26) becomes -8 (EdDSA, 0x27), not offered.
                let mut r = good(o, c, ORIGIN, FLAG_UP | FLAG_UV);
                let mut att = unb64(&r.response.attestation_object).unwrap();
                let at = att
                    .windows(4)
                    .position(|w| w == [0xa5, 0x01, 0x02, 0x03])
                    .unwrap()
                    + 4;
                assert_eq!(att[at], 0x26);
                att[at] = 0x27;
                r.response.attestation_object = b64(att);
                r
            }),
        ),
        (
            "point not on the curve",
            Box::new(move |o, c| {
                let mut r = good(o, c, ORIGIN, FLAG_UP | FLAG_UV);
                let mut att = unb64(&r.response.attestation_object).unwrap();
                let n = att.len();
                att[n - 1] ^= 1;
                r.response.attestation_object = b64(att);
                r
            }),
        ),
        (
            "attestation trailing bytes",
            Box::new(move |o, c| {
                let mut r = good(o, c, ORIGIN, FLAG_UP | FLAG_UV);
                let mut att = unb64(&r.response.attestation_object).unwrap();
                att.push(0);
                r.response.attestation_object = b64(att);
                r
            }),
        ),
        (
            "id is not rawId",
            Box::new(move |o, c| {
                let mut r = good(o, c, ORIGIN, FLAG_UP | FLAG_UV);
                r.id = b64([9u8; 32]);
                r
            }),
        ),
    ];
    for (name, make) in cases {
        let (options, token) = e.begin().await;
        let cred = authenticator(7, "localhost", options["user"]["id"].as_str().unwrap());
        let r = e.finish(&token, &make(&options, &cred)).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::BAD_REQUEST, "passkey_registration_failed"),
            "{name}: {body}"
        );
        // The message (and the log) names the failed check.
        let check = match name {
            "type" | "id is not rawId" => "R3",
            "clientData.type" | "challenge" | "origin" => "R5-R7",
            "attestation trailing bytes" => "R9",
            "rpIdHash" => "R10",
            "UP" | "UV" | "BS without BE" => "R11",
            _ => "R12",
        };
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("({check}: ")),
            "{name}: {message}"
        );
        // The token is spent by the failed call.
        let att = cred
            .registration(
                options["challenge"].as_str().unwrap(),
                ORIGIN,
                FLAG_UP | FLAG_UV,
            )
            .unwrap();
        let (s, code) = code_of(e.finish(&token, &att).await).await;
        assert_eq!(
            (s, code.as_str()),
            (StatusCode::BAD_REQUEST, "passkey_registration_failed"),
            "{name}: replay"
        );
    }
    let list: Value = e
        .call(reqwest::Method::GET, "/me/passkeys", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["credentials"], json!([]), "nothing was stored");
    // The scope survived the refusals; a good registration then succeeds, and again is idempotent.
    let (options, token) = e.begin().await;
    let cred = authenticator(7, "localhost", options["user"]["id"].as_str().unwrap());
    let att = cred
        .registration(
            options["challenge"].as_str().unwrap(),
            ORIGIN,
            FLAG_UP | FLAG_UV,
        )
        .unwrap();
    let r = e.finish(&token, &att).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["already_registered"],
        false
    );
    e.write_scope().await;
    let (options, token) = e.begin().await;
    assert_eq!(options["excludeCredentials"][0]["id"], b64(cred.id()));
    let att = cred
        .registration(
            options["challenge"].as_str().unwrap(),
            ORIGIN,
            FLAG_UP | FLAG_UV,
        )
        .unwrap();
    let r = e.finish(&token, &att).await;
    assert_eq!(r.json::<Value>().await.unwrap()["already_registered"], true);
    let events = e.t.get_json("/emulator/v1/events").await;
    assert_eq!(
        events["events"].as_array().unwrap().len(),
        1,
        "no event for a repeat"
    );
}

/// Registration without configuration is refused; under `preferred`, UV may be absent.
#[tokio::test]
async fn registration_follows_the_configuration() {
    let mut e = Env::new("preferred").await;
    e.write_scope().await;
    let (options, token) = e.begin().await;
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    assert_eq!(
        options["pubKeyCredParams"],
        json!([{"type": "public-key", "alg": -7}])
    );
    let cred = authenticator(8, "localhost", options["user"]["id"].as_str().unwrap());
    let att = cred
        .registration(options["challenge"].as_str().unwrap(), ORIGIN, FLAG_UP)
        .unwrap();
    assert_eq!(e.finish(&token, &att).await.status(), StatusCode::OK);
    let (ct, challenge) = e.passkey_challenge().await;
    let r = e
        .cont(&ct, &cred.assertion(&challenge, ORIGIN, FLAG_UP, 1))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "UV is not required under preferred"
    );

    let t = unconfigured().await;
    let key = Key::new(4);
    let (at, _) = t.login(&key).await;
    let r = t
        .http
        .post(t.htu("/me/passkeys/register/begin"))
        .bearer_auth(at)
        .json(&json!({"username": "ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::FORBIDDEN, "passkey_not_configured".into())
    );
}

/// Bad bodies are 400s, never a 500 or a 401.
#[tokio::test]
async fn malformed_ceremony_bodies_are_clear_400s() {
    let mut e = Env::new("required").await;
    e.write_scope().await;
    let r = e
        .call(
            reqwest::Method::POST,
            "/me/passkeys/register/begin",
            Some(json!({"username": ""})),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "bad_request".into())
    );
    let r = e
        .call(
            reqwest::Method::POST,
            "/me/passkeys/register/begin",
            Some(json!({"username": "a\u{7}"})),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "bad_request".into())
    );
    let (_, token) = e.begin().await;
    for att in [
        json!(null),
        json!({"id": 1}),
        json!({"id": "AA", "rawId": "AA", "type": "public-key",
        "response": {"clientDataJSON": "!!", "attestationObject": "AA"}}),
    ] {
        let (s, code) = code_of(e.finish(&token, &att).await).await;
        assert_eq!(
            (s, code.as_str()),
            (StatusCode::BAD_REQUEST, "passkey_registration_failed")
        );
    }
    let cred = e.register(12).await;
    let (ct, _) = e.passkey_challenge().await;
    for a in [
        json!("x"),
        json!({}),
        json!({"id": "AA", "rawId": "AA", "type": "public-key",
        "response": {"clientDataJSON": "", "authenticatorData": "", "signature": ""}}),
    ] {
        let (s, code) = code_of(e.cont(&ct, &a).await).await;
        assert_eq!(
            (s, code.as_str()),
            (StatusCode::BAD_REQUEST, "passkey_step_unavailable"),
            "{a}"
        );
    }
    let _ = cred;
}
