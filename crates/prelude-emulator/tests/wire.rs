//! The emulator over real loopback HTTP: routes, error codes and every DPoP rule.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::*;
use prelude_emulator::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn login_refresh_rotation_and_revoke() {
    let t = T::new().await;
    let key = Key::new(7);
    let (_, rt1) = t.login(&key).await;
    let r = t.refresh(&key, &rt1, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let rt2 = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    // Reusing the spent token is refused and ends the session: the fresh one dies too.
    assert_eq!(
        code_of(t.refresh(&key, &rt1, None).await).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    assert_eq!(
        code_of(t.refresh(&key, &rt2, None).await).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn revoke_ends_the_session() {
    let t = T::new().await;
    let key = Key::new(8);
    let (_, rt) = t.login(&key).await;
    let r = t
        .http
        .post(t.htu("/revoke"))
        .header("x-refresh-token", &rt)
        .header("dpop", key.proof("POST", &t.htu("/revoke"), None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        code_of(t.refresh(&key, &rt, None).await).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_rejected_proof_never_spends_the_refresh_token() {
    let t = T::new().await;
    let key = Key::new(9);
    let (_, rt) = t.login(&key).await;
    let other = Key::new(10);
    assert_eq!(
        code_of(t.refresh(&other, &rt, None).await).await,
        (StatusCode::UNAUTHORIZED, "dpop_key_mismatch".into())
    );
    let bad = key.proof("GET", &t.htu("/refresh"), None);
    assert_eq!(
        code_of(t.refresh(&key, &rt, Some(bad)).await).await.1,
        "invalid_dpop_proof"
    );
    assert_eq!(t.refresh(&key, &rt, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_dpop_rule_has_its_refusal() {
    let t = T::new().await;
    let key = Key::new(11);
    let (_, rt) = t.login(&key).await;
    let htu = t.htu("/refresh");
    let jwk = key.jwk();
    let claims = || json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST", "htu": htu, "iat": now()});
    let mut with_d = jwk.clone();
    with_d["d"] = "AAAA".into();
    let cases: Vec<(&str, String)> = vec![
        (
            "typ",
            key.sign_parts(
                &json!({"typ": "JWT", "alg": "ES256", "jwk": jwk}),
                &claims(),
            ),
        ),
        (
            "alg none",
            key.sign_parts(
                &json!({"typ": "dpop+jwt", "alg": "none", "jwk": jwk}),
                &claims(),
            ),
        ),
        (
            "alg HS256",
            key.sign_parts(
                &json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}),
                &claims(),
            ),
        ),
        (
            "private jwk",
            key.sign_parts(
                &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": with_d}),
                &claims(),
            ),
        ),
        ("htm", key.proof("PUT", &htu, None)),
        ("htu", key.proof("POST", &t.htu("/revoke"), None)),
        ("iat", {
            let mut c = claims();
            c["iat"] = (now() - 3600).into();
            key.sign_parts(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}), &c)
        }),
        ("signature", {
            let p = key.proof("POST", &htu, None);
            let (head, _) = p.rsplit_once('.').unwrap();
            format!("{head}.{}", B64.encode([7u8; 64]))
        }),
        ("not a jws", "abc.def".to_owned()),
    ];
    for (rule, proof) in cases {
        let (s, c) = code_of(t.refresh(&key, &rt, Some(proof)).await).await;
        assert_eq!(
            (s, c.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_dpop_proof"),
            "rule {rule}"
        );
    }
    // A replayed jti.
    let p = key.proof("POST", &htu, None);
    let r = t.refresh(&key, &rt, Some(p.clone())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let rt2 = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    assert_eq!(
        code_of(t.refresh(&key, &rt2, Some(p)).await).await.1,
        "invalid_dpop_proof"
    );
    // Two proofs.
    let r = t
        .http
        .post(&htu)
        .header("x-refresh-token", &rt2)
        .header("dpop", key.proof("POST", &htu, None))
        .header("dpop", key.proof("POST", &htu, None))
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(r).await.1, "invalid_dpop_proof");
    // No proof at all.
    let r = t
        .http
        .post(&htu)
        .header("x-refresh-token", &rt2)
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(r).await.1, "missing_dpop_proof");
    // htu is compared after normalisation: upper-case host and a query are fine.
    let loud = htu.replace("http://", "HTTP://") + "?x=1";
    assert_eq!(
        t.refresh(&key, &rt2, Some(key.proof("POST", &loud, None)))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn nonce_is_demanded_when_switched_on() {
    let t = T::new().await;
    let key = Key::new(12);
    let (_, rt) = t.login(&key).await;
    let r = t
        .put_json("/emulator/v1/faults", &json!({"require_dpop_nonce": true}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = t.refresh(&key, &rt, None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let nonce = r.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "use_dpop_nonce");
    let p = key.proof("POST", &t.htu("/refresh"), Some(&nonce));
    assert_eq!(t.refresh(&key, &rt, Some(p)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_input_gets_a_4xx_never_a_5xx() {
    let t = T::new().await;
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("not json", t.http.post(t.htu("/otp")).body("{")),
        ("wrong type", t.http.post(t.htu("/otp")).json(&json!({"identifier": 5}))),
        ("unknown field", t.http.post(t.htu("/otp")).json(&json!({"identifier": {"type": "phone_number", "value": "+33612345678"}, "extra": 1}))),
        ("both", t.http.post(t.htu("/otp")).json(&json!({"identifier": {"type": "phone_number", "value": "+33612345678"}, "challenge_token": "x"}))),
        ("neither", t.http.post(t.htu("/otp")).json(&json!({}))),
        ("bad phone", t.http.post(t.htu("/otp")).json(&json!({"identifier": {"type": "phone_number", "value": "0612"}}))),
        ("bad email", t.http.post(t.htu("/otp")).json(&json!({"identifier": {"type": "email_address", "value": "a@b"}}))),
        ("huge", t.http.post(t.htu("/otp")).body("x".repeat(200_000))),
        ("check without verification", t.http.post(t.htu("/otp/check")).json(&json!({"code": "123456"}))),
        ("finalize garbage", t.http.post(t.htu("/login/finalize")).json(&json!({"challenge_token": 1}))),
        ("stepup without bearer", t.http.post(t.htu("/stepup/request")).json(&json!({"scope": "transfer:write"}))),
        ("list without bearer", t.http.get(t.htu("/me/list"))),
        ("no route", t.http.get(t.url("/v1/session/nope"))),
        ("wrong method", t.http.get(t.htu("/refresh"))),
        ("management without key", t.http.get(t.url("/v2/session/apps/demo/config/stepup"))),
        ("faults garbage", t.http.put(t.url("/emulator/v1/faults")).json(&json!({"delay_ms": "slow"}))),
    ];
    for (what, req) in cases {
        let r = req.send().await.unwrap();
        let s = r.status();
        assert!(s.is_client_error(), "{what}: {s}");
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            v["code"].is_string() && v["message"].is_string(),
            "{what}: {v}"
        );
    }
    let r = t
        .post(
            "/otp",
            json!({"identifier": {"type": "phone_number", "value": "12"}}),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_identifier".into())
    );
}

#[tokio::test]
async fn wrong_codes_kill_the_verification_after_five() {
    let t = T::new().await;
    let r = t
        .post(
            "/otp",
            json!({"identifier": {"type": "email_address", "value": "bob@example.com"}}),
        )
        .await;
    let vt = verification_token(&r);
    let right = t.emu.outbox().last().unwrap().code.clone();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for left in (0..5).rev() {
        let r = t.check(&vt, wrong).await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "bad_check_code");
        assert_eq!(v["attempts_remaining"], left);
    }
    let r = t.check(&vt, &right).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
}

#[tokio::test]
async fn verification_travels_as_a_cookie_too() {
    let t = T::new().await;
    let r = t
        .post(
            "/otp",
            json!({"identifier": {"type": "phone_number", "value": "+33612345678"}}),
        )
        .await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("__Host-verification-login_demo="),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let code = t.emu.outbox().last().unwrap().code.clone();
    let r = t
        .http
        .post(t.htu("/otp/check"))
        .header("cookie", pair)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn resend_has_a_cooldown() {
    let t = T::with(Config::default()).await;
    let r = t
        .post(
            "/otp",
            json!({"identifier": {"type": "phone_number", "value": "+33612345678"}}),
        )
        .await;
    let vt = verification_token(&r);
    let r = t
        .http
        .post(t.htu("/otp/retry"))
        .header("x-verification-token", &vt)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into())
    );
}

#[tokio::test]
async fn management_config_lifecycle() {
    let t = T::with(Config {
        bare: true,
        ..Config::default()
    })
    .await;
    let key = prelude_emulator::DEFAULT_MANAGEMENT_KEY;
    let base = t.url("/v2/session/apps/demo");
    // Bare: no login configuration.
    let r = t
        .post(
            "/otp",
            json!({"identifier": {"type": "phone_number", "value": "+33612345678"}}),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::FORBIDDEN, "no_login_config".into())
    );
    let r = t.http.post(format!("{base}/config/login/otp")).bearer_auth(key)
        .json(&json!({"config_type": "otp", "channel_type": "sms", "is_default": true, "code_size": 6})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(
        r.json::<Value>().await.unwrap()["login_config"]["id"]
            .as_str()
            .unwrap()
            .starts_with("lcfg_")
    );
    let cfg = json!({"step_keys": [], "allowed_scopes": [{"scope": "transfer:write", "mode": "delegated",
        "delegated": {"delegation_hook": "https://example.com/hook"}}]});
    let r = t
        .http
        .post(format!("{base}/config/stepup"))
        .bearer_auth(key)
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = t
        .http
        .post(format!("{base}/config/stepup"))
        .bearer_auth(key)
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::CONFLICT, "step_up_config_already_exists".into())
    );
    let r = t
        .http
        .post(format!("{base}/config/scopes"))
        .bearer_auth(key)
        .json(&json!({"scope": "transfer:write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = t
        .http
        .get(format!("{base}/config/stepup"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = t
        .http
        .get(format!("{base}/config/stepup"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["config"]["allowed_scopes"][0]["mode"],
        "delegated"
    );
}

#[tokio::test]
async fn state_survives_a_restart_and_a_corrupt_file_is_kept() {
    let dir = std::env::temp_dir().join(format!("emu-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let cfg = Config {
        state_file: Some(file.clone()),
        ..Config::default()
    };
    let key = Key::new(13);
    let rt = {
        let t = T::with(cfg.clone()).await;
        let (_, rt) = t.login(&key).await;
        t.emu.shutdown().await;
        rt
    };
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(&rt),
        "the state file must not hold a usable refresh token"
    );
    let t = T::with(cfg.clone()).await;
    assert_eq!(t.refresh(&key, &rt, None).await.status(), StatusCode::OK);
    t.emu.shutdown().await;

    std::fs::write(&file, "{ not json").unwrap();
    let t = T::with(cfg).await;
    assert_eq!(t.emu.notices().len(), 1, "the corrupt file is reported");
    let aside: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read_to_string(aside[0].path()).unwrap(),
        "{ not json"
    );
    t.emu.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Delegated hooks and custom steps

#[tokio::test]
async fn fault_switches_answer_as_told() {
    let t = T::new().await;
    let r = t.put_json("/emulator/v1/faults", &json!({"rate_limit_routes": ["/v1/session/otp"], "fail_routes": ["/v1/session/otp/retry"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = t
        .post(
            "/otp",
            json!({"identifier": {"type": "phone_number", "value": "+33612345678"}}),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into())
    );
    let r = t.post("/otp/retry", json!({})).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::INTERNAL_SERVER_ERROR, "internal".into())
    );
    let faults: Value = t
        .http
        .get(t.url("/emulator/v1/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["rate_limit_routes"][0], "/v1/session/otp");
    assert_eq!(
        t.http
            .post(t.url("/emulator/v1/reset"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    let r = t
        .post(
            "/otp",
            json!({"identifier": {"type": "phone_number", "value": "+33612345678"}}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::NO_CONTENT,
        "reset clears the switches"
    );
    assert_eq!(
        t.http
            .delete(t.url("/emulator/v1/outbox"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert!(t.emu.outbox().is_empty());
}

/// `me/list` names each session's device from its User-Agent in the SDKs' shape
/// (docs/protocol.md §2.1, §4.9): model, type, OS with its version, and when it was last seen.
#[tokio::test]
async fn the_session_list_names_the_device_and_when_it_was_last_seen() {
    let mut t = T::new().await;
    t.http = reqwest::Client::builder()
        .user_agent("Prelude/0.3.0 (Apple; iOS 17.4.0)")
        .build()
        .unwrap();
    let key = Key::new(31);
    let (at, _) = t.login(&key).await;
    let r = t
        .http
        .get(t.htu("/me/list"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let list: Value = r.json().await.unwrap();
    let s = &list["sessions"][0];
    assert_eq!(s["device_model"], "Apple");
    assert_eq!(s["device_type"], "mobile");
    assert_eq!(s["os_version"], "iOS 17.4.0");
    let seen = s["last_seen_at"].as_str().unwrap();
    assert!(seen.ends_with('Z') && seen.len() >= 20, "{seen}");
}
