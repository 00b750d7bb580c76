//! One mailbox or phone is one identifier however it is spelt: users, the send cooldown, the
//! lockout, the outbox, the hook, scenario files and the state file all use its canonical form.

mod common;

use common::*;
use prelude_emulator::customer::CustomerBackend;
use prelude_emulator::{Config, Emulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn email(value: &str) -> Value {
    json!({"identifier": {"type": "email_address", "value": value}})
}

fn phone(value: &str) -> Value {
    json!({"identifier": {"type": "phone_number", "value": value}})
}

/// Signs in with `identifier` (as `/otp` takes it) and `key`; returns the access token.
async fn sign_in(t: &T, key: &Key, identifier: Value) -> String {
    let r = t.post("/otp", identifier).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let vt = verification_token(&r);
    let code = t.emu.outbox().last().unwrap().code.clone();
    let r = t.check(&vt, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.json::<Value>().await.unwrap()["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .http
        .post(t.htu("/login/finalize"))
        .header("dpop", key.proof("POST", &t.htu("/login/finalize"), None))
        .json(&json!({"challenge_token": ct}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn sub(access_token: &str) -> Value {
    claims_of(access_token)["sub"].clone()
}

#[tokio::test]
async fn every_spelling_of_one_mailbox_or_phone_is_one_user() {
    let t = T::new().await;
    let key = Key::new(60);
    let demo = sub(&sign_in(&t, &key, email("ada@example.com")).await);
    for spelling in [
        email("Ada@example.com"),
        email("  ADA@Example.COM "),
        phone("+33 6 12 34 56 78"),
        phone("+33 (6) 12-34.56.78"),
    ] {
        assert_eq!(
            sub(&sign_in(&t, &key, spelling.clone()).await),
            demo,
            "{spelling}"
        );
    }
    // A new user is stored canonical, and found again by another spelling (NFC, IDNA).
    let zoe = sub(&sign_in(&t, &key, email("Zoe\u{301}@B\u{fc}cher.example")).await);
    assert_ne!(zoe, demo);
    assert_eq!(
        t.emu.outbox().last().unwrap().to,
        "zo\u{e9}@xn--bcher-kva.example"
    );
    let again = sub(&sign_in(&t, &key, email("zo\u{e9}@xn--bcher-kva.EXAMPLE")).await);
    assert_eq!(again, zoe);
    let users = t.get_json("/emulator/v1/scenario").await["users"].clone();
    assert_eq!(users.as_array().unwrap().len(), 2, "{users}");
    // Seeding a user under another spelling of a taken identifier is a conflict.
    let r = t
        .http
        .post(t.url("/emulator/v1/users"))
        .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
        .json(&json!({"identifiers": [{"type": "email_address", "value": "ADA@example.com"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::CONFLICT, "identifier_already_exists".into())
    );
}

#[tokio::test]
async fn another_spelling_waits_out_the_same_cooldown() {
    let t = T::with(Config::default()).await;
    assert_eq!(
        t.post("/otp", email("ada@example.com")).await.status(),
        StatusCode::NO_CONTENT
    );
    let r = t.post("/otp", email("ADA@example.com")).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into())
    );
    assert_eq!(
        t.post("/otp", phone("+33612345678")).await.status(),
        StatusCode::NO_CONTENT
    );
    let r = t.post("/otp", phone("+33 6 12 34 56 78")).await;
    assert_eq!(code_of(r).await.1, "rate_limited");
    let outbox = t.emu.outbox();
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[0].to, "ada@example.com");
}

#[tokio::test]
async fn every_spelling_shares_one_lockout() {
    let t = T::with(Config {
        resend_cooldown_secs: 0,
        lockout_failures: 3,
        ..Config::default()
    })
    .await;
    let spellings = ["ada@example.com", "Ada@Example.com", "ADA@EXAMPLE.COM"];
    for (i, spelling) in spellings.iter().enumerate() {
        let r = t.post("/otp", email(spelling)).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{spelling}");
        let code = t.emu.outbox().last().unwrap().code.clone();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let r = t.check(&verification_token(&r), wrong).await;
        let want = if i < 2 {
            "bad_check_code"
        } else {
            "too_many_attempts"
        };
        assert_eq!(code_of(r).await.1, want, "{spelling}");
    }
    let r = t.post("/otp", email(" ada@EXAMPLE.com")).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts".into())
    );
}

#[tokio::test]
async fn the_hook_hears_the_canonical_identifier() {
    let t = T::new().await;
    let customer = CustomerBackend::start(json!({"status": "block"}))
        .await
        .unwrap();
    t.put_stepup(delegated(&customer.hook_url(), &customer.jwks_url()))
        .await;
    let at = sign_in(&t, &Key::new(61), email(" Bo@Example.COM")).await;
    let r = t
        .http
        .post(t.htu("/stepup/request"))
        .bearer_auth(&at)
        .json(&json!({"scope": "transfer:write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let call: Value = serde_json::from_slice(&customer.calls()[0].body).unwrap();
    assert_eq!(
        call["identifiers"],
        json!([{"type": "email_address", "value": "bo@example.com"}])
    );
}

#[tokio::test]
async fn a_scenario_giving_one_identifier_to_two_users_is_refused() {
    let t = T::new().await;
    let before = t.get_json("/emulator/v1/scenario").await;
    let mut twice = before.clone();
    twice["users"] = json!([
        {"id": "usr_a", "created_at": 0,
         "identifiers": [{"type": "email_address", "value": "ada@example.com"}]},
        {"id": "usr_b", "created_at": 0,
         "identifiers": [{"type": "email_address", "value": " ADA@Example.com"}]},
    ]);
    let r = t.put_json("/emulator/v1/scenario", &twice).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let message = r.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("usr_a") && message.contains("usr_b"),
        "{message}"
    );
    assert_eq!(t.get_json("/emulator/v1/scenario").await, before);
    // Another spelling alone is imported canonical.
    let mut one = before.clone();
    one["users"] = json!([{"id": "usr_a", "created_at": 0,
        "identifiers": [{"type": "phone_number", "value": "+33 6 12 34 56 78"}]}]);
    let r = t.put_json("/emulator/v1/scenario", &one).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["users"][0]["identifiers"][0]["value"],
        "+33612345678"
    );
}

#[tokio::test]
async fn a_state_file_giving_one_identifier_to_two_users_is_refused() {
    let dir = tempdir();
    let state = dir.join("state.json");
    T::with_state(&state).await.emu.shutdown().await;
    let mut data: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let users = data["users"].as_object_mut().unwrap();
    let demo = users.keys().next().unwrap().clone();
    users.insert(
        "usr_second".into(),
        json!({"id": "usr_second", "created_at": 0, "grants": [],
            "identifiers": [{"type": "phone_number", "value": "+33 6 12 34 56 78"}]}),
    );
    std::fs::write(&state, data.to_string()).unwrap();
    let err = Emulator::start(
        Config {
            state_file: Some(state.clone()),
            ..Config::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains(&demo) && err.contains("usr_second") && err.contains("+33612345678"),
        "{err}"
    );
    // The file is kept as it was, for a person to choose.
    let kept: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(kept, data);
    // A lone non-canonical spelling is read in canonical form.
    data["users"].as_object_mut().unwrap().remove(&demo);
    std::fs::write(&state, data.to_string()).unwrap();
    let emu = restart(&state).await;
    let users = emu.export_scenario().users;
    assert_eq!(users[0].identifiers[0].value, "+33612345678");
    emu.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}
