//! The reserved scopes `prld:email:register` and `prld:phone:register` over loopback HTTP:
//! the code goes to the new identifier, no hook is called, the identifier joins the user when
//! the step passes, and every malformed or taken identifier is refused with its code.

mod common;

use common::*;
use prelude_emulator::{DemoScenario, Purpose};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A signed-in user: access token, refresh token, DPoP key.
struct Signed {
    at: String,
    rt: String,
    key: Key,
}

/// Signs a new user in with `phone` (a phone-only account).
async fn sign_in_phone(t: &T, seed: u8, phone: &str) -> Signed {
    let key = Key::new(seed);
    let ct = t.challenge(phone).await;
    let r = t
        .http
        .post(t.htu("/login/finalize"))
        .header("dpop", key.proof("POST", &t.htu("/login/finalize"), None))
        .json(&json!({"challenge_token": ct}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
    let at = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    Signed { at, rt, key }
}

async fn ask(t: &T, at: &str, body: Value) -> reqwest::Response {
    t.http
        .post(t.htu("/stepup/request"))
        .bearer_auth(at)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn register(t: &T, at: &str, scope: &str, value: &str) -> reqwest::Response {
    ask(
        t,
        at,
        json!({"scope": scope, "metadata": {"identifier": value}}),
    )
    .await
}

/// Checks `code` for the challenge `ct` with a proof bound to it.
async fn check(t: &T, key: &Key, ct: &str, code: &str) -> reqwest::Response {
    let jti = claims_of(ct)["jti"].as_str().unwrap().to_owned();
    let htu = t.htu("/otp/check");
    let proof = key.sign_parts(
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
        &json!({"jti": jti, "htm": "POST", "htu": htu, "iat": now()}),
    );
    t.http
        .post(&htu)
        .header("dpop", proof)
        .json(&json!({"code": code, "challenge_token": ct}))
        .send()
        .await
        .unwrap()
}

/// The identifiers of the user `sub`, as the emulator's scenario export lists them.
async fn identifiers_of(t: &T, sub: &str) -> Vec<Value> {
    let users = t.get_json("/emulator/v1/scenario").await["users"].clone();
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == sub)
        .map(|u| u["identifiers"].as_array().unwrap().clone())
        .unwrap_or_default()
}

fn sub(at: &str) -> String {
    claims_of(at)["sub"].as_str().unwrap().to_owned()
}

/// Requests `scope` for `value`, sends the code; answers the challenge token and the code.
async fn started(t: &T, at: &str, scope: &str, value: &str) -> (String, String) {
    let r = register(t, at, scope, value).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "review", "{body}");
    let ct = body["challenge_token"].as_str().unwrap().to_owned();
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let code = t.emu.outbox().last().unwrap().code.clone();
    (ct, code)
}

#[tokio::test]
async fn an_email_is_added_by_a_code_sent_to_it_and_then_receives_step_up_codes() {
    let t = T::new().await;
    let s = sign_in_phone(&t, 70, "+33611110001").await;
    assert_eq!(identifiers_of(&t, &sub(&s.at)).await.len(), 1);

    let r = register(&t, &s.at, "prld:email:register", "  Grace@Example.COM ").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let ct = body["challenge_token"].as_str().unwrap().to_owned();
    let claims = claims_of(&ct);
    // The signed token says what will be added, in its canonical form.
    assert_eq!(claims["current_step"], "verify_email");
    assert_eq!(claims["scope_requested"], "prld:email:register");
    assert_eq!(claims["metadata"]["identifier"], "grace@example.com");

    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let sent = t.emu.outbox().last().unwrap().clone();
    assert_eq!(sent.to, "grace@example.com");
    assert_eq!(sent.purpose, Purpose::Register);
    // Nothing changes before the code is checked.
    assert_eq!(identifiers_of(&t, &sub(&s.at)).await.len(), 1);

    let r = check(&t, &s.key, &ct, &sent.code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let done = r.json::<Value>().await.unwrap()["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims_of(&done)["current_step"], "completed");
    assert_eq!(
        identifiers_of(&t, &sub(&s.at)).await,
        vec![
            json!({"type": "phone_number", "value": "+33611110001"}),
            json!({"type": "email_address", "value": "grace@example.com"}),
        ]
    );
    // The completed challenge redeems like any other.
    let r = t
        .http
        .post(t.htu("/refresh"))
        .header("x-refresh-token", &s.rt)
        .header("dpop", s.key.proof("POST", &t.htu("/refresh"), None))
        .json(&json!({"step_up_token": done}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // "Email, then SMS" now reaches the new address first.
    t.emu.set_scenario(DemoScenario::EmailThenSms);
    let ct = t.request(&s.at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims_of(&ct)["current_step"], "verify_email");
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(t.emu.outbox().last().unwrap().to, "grace@example.com");
    // And it signs in the same user.
    let r = t
        .post(
            "/otp",
            json!({"identifier": {"type": "email_address", "value": "grace@example.com"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let vt = verification_token(&r);
    let code = t.emu.outbox().last().unwrap().code.clone();
    let r = t.check(&vt, &code).await;
    let ct = r.json::<Value>().await.unwrap()["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims_of(&ct)["sub"], sub(&s.at));
}

#[tokio::test]
async fn a_phone_is_added_with_an_sms_to_it() {
    let t = T::new().await;
    let s = sign_in_phone(&t, 71, "+33611110002").await;
    let (ct, code) = started(&t, &s.at, "prld:phone:register", "+44 20 7946 0018").await;
    assert_eq!(claims_of(&ct)["current_step"], "verify_sms");
    assert_eq!(t.emu.outbox().last().unwrap().to, "+442079460018");
    // Sent again, by either route, it is still the code that adds the number.
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let vt = verification_token(&r);
    let r = t
        .http
        .post(t.htu("/otp/retry"))
        .header("x-verification-token", &vt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let sent = t.emu.outbox();
    assert!(
        sent[sent.len() - 3..]
            .iter()
            .all(|m| m.purpose == Purpose::Register && m.to == "+442079460018" && m.code == code)
    );
    assert_eq!(check(&t, &s.key, &ct, &code).await.status(), StatusCode::OK);
    assert!(
        identifiers_of(&t, &sub(&s.at))
            .await
            .contains(&json!({"type": "phone_number", "value": "+442079460018"}))
    );
}

#[tokio::test]
async fn the_hook_is_never_called_for_a_reserved_scope() {
    let t = T::new().await;
    // Whatever entry declares the scope (here a delegated one whose hook cannot answer),
    // Prelude runs its own step: no hook, no block.
    t.put_stepup(
        json!({"jwks_url": "http://127.0.0.1:9/jwks", "allowed_scopes": [
        {"scope": "prld:email:register", "mode": "delegated",
         "delegated": {"delegation_hook": "http://127.0.0.1:9/hook"}}]}),
    )
    .await;
    let s = sign_in_phone(&t, 72, "+33611110003").await;
    let (ct, code) = started(&t, &s.at, "prld:email:register", "hook@example.com").await;
    assert_eq!(check(&t, &s.key, &ct, &code).await.status(), StatusCode::OK);
    assert_eq!(identifiers_of(&t, &sub(&s.at)).await.len(), 2);
}

#[tokio::test]
async fn a_wrong_or_abandoned_code_adds_nothing() {
    let t = T::new().await;
    let s = sign_in_phone(&t, 73, "+33611110004").await;
    let (ct, code) = started(&t, &s.at, "prld:email:register", "nope@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, c) = code_of(check(&t, &s.key, &ct, wrong).await).await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::UNAUTHORIZED, "bad_check_code")
    );
    assert_eq!(identifiers_of(&t, &sub(&s.at)).await.len(), 1);
}

#[tokio::test]
async fn malformed_requests_are_refused_with_their_code() {
    let t = T::new().await;
    let s = sign_in_phone(&t, 74, "+33611110005").await;
    let long = format!("{}@example.com", "a".repeat(320));
    for (body, status, code) in [
        // No identifier, or metadata that is not the shape of one.
        (
            json!({"scope": "prld:email:register"}),
            400,
            "invalid_metadata",
        ),
        (
            json!({"scope": "prld:email:register", "metadata": {}}),
            400,
            "invalid_metadata",
        ),
        (
            json!({"scope": "prld:email:register", "metadata": {"identifier": 42}}),
            400,
            "bad_request",
        ),
        (
            json!({"scope": "prld:email:register", "metadata": {"identifier": null}}),
            400,
            "bad_request",
        ),
        (
            json!({"scope": "prld:email:register", "metadata": {"identifier": ["a@b.example"]}}),
            400,
            "bad_request",
        ),
        (
            json!({"scope": "prld:email:register", "metadata": "a@b.example"}),
            400,
            "bad_request",
        ),
        (
            json!({"scope": "prld:email:register", "metadata": {"identifier": long}}),
            400,
            "invalid_metadata",
        ),
        // Values that are not an identifier of the scope's kind.
        (
            json!({"scope": "prld:email:register", "metadata": {"identifier": ""}}),
            400,
            "invalid_identifier",
        ),
        (
            json!({"scope": "prld:email:register", "metadata": {"identifier": "not an email"}}),
            400,
            "invalid_identifier",
        ),
        (
            json!({"scope": "prld:email:register", "metadata": {"identifier": "+33611110099"}}),
            400,
            "invalid_identifier",
        ),
        (
            json!({"scope": "prld:phone:register", "metadata": {"identifier": "a@b.example"}}),
            400,
            "invalid_identifier",
        ),
        (
            json!({"scope": "prld:phone:register", "metadata": {"identifier": "0611110099"}}),
            400,
            "invalid_identifier",
        ),
        (
            json!({"scope": "prld:phone:register", "metadata": {"identifier": "+33 6\u{202E}1111"}}),
            400,
            "invalid_identifier",
        ),
        // A scope that only looks reserved is an ordinary one, not in the configuration.
        (
            json!({"scope": "prld:fax:register", "metadata": {"identifier": "a@b.example"}}),
            403,
            "scope_not_allowed",
        ),
    ] {
        let (got, c) = code_of(ask(&t, &s.at, body.clone()).await).await;
        assert_eq!((got.as_u16(), c.as_str()), (status, code), "{body}");
    }
    // Addresses that would not read as they are on the account: a bidi override, an
    // invisible character, a control character.
    for value in [
        "moc.evil\u{202E}@example.com",
        "a\u{200B}b@example.com",
        "a\u{7}b@example.com",
    ] {
        let (got, c) = code_of(register(&t, &s.at, "prld:email:register", value).await).await;
        assert_eq!(
            (got, c.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_identifier"),
            "{value:?}"
        );
    }
    // Without a session there is no one to add it to.
    let (got, c) =
        code_of(register(&t, "not-a-token", "prld:email:register", "a@b.example").await).await;
    assert_eq!(
        (got, c.as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    assert_eq!(identifiers_of(&t, &sub(&s.at)).await.len(), 1);
}

#[tokio::test]
async fn a_taken_identifier_is_a_conflict_however_it_is_spelt() {
    let t = T::new().await;
    let s = sign_in_phone(&t, 75, "+33611110006").await;
    // The demo user's email, and this user's own phone, in other spellings.
    for (scope, value) in [
        ("prld:email:register", "ADA@example.com"),
        ("prld:email:register", " ada@EXAMPLE.com"),
        ("prld:phone:register", "+33 6 12 34 56 78"),
        ("prld:phone:register", "+33 6 11 11 00 06"),
    ] {
        let (got, c) = code_of(register(&t, &s.at, scope, value).await).await;
        assert_eq!(
            (got, c.as_str()),
            (StatusCode::CONFLICT, "identifier_already_exists"),
            "{value}"
        );
    }
    assert_eq!(t.emu.outbox().len(), 1, "no code went out");
}

/// An address that mixes scripts in one part could pass for another account's: refused
/// before any code, when added and when signing in; one wholly in another script is not.
#[tokio::test]
async fn an_address_mixing_scripts_in_one_part_is_refused() {
    let t = T::new().await;
    let s = sign_in_phone(&t, 79, "+33611110009").await;
    let sent = t.emu.outbox().len();
    // A Cyrillic а beside the demo user's ada@example.com: local part, domain, its xn-- form.
    for value in [
        "\u{430}da@example.com",
        "ada@ex\u{430}mple.com",
        "ada@xn--exmple-4nf.com",
    ] {
        let (got, c) = code_of(register(&t, &s.at, "prld:email:register", value).await).await;
        assert_eq!(
            (got, c.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_identifier"),
            "{value}"
        );
        let r = t
            .post(
                "/otp",
                json!({"identifier": {"type": "email_address", "value": value}}),
            )
            .await;
        assert_eq!(
            code_of(r).await.1,
            "invalid_identifier",
            "sign-in with {value}"
        );
    }
    assert_eq!(t.emu.outbox().len(), sent, "no code went out");
    let r = register(
        &t,
        &s.at,
        "prld:email:register",
        "\u{438}\u{432}\u{430}\u{43d}@\u{43f}\u{43e}\u{447}\u{442}\u{430}.\u{440}\u{444}",
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "a wholly Cyrillic address");
}

#[tokio::test]
async fn an_identifier_taken_while_the_code_was_on_its_way_is_refused_before_a_try() {
    let t = T::new().await;
    let a = sign_in_phone(&t, 76, "+33611110007").await;
    let b = sign_in_phone(&t, 77, "+33611110008").await;
    let (ct_a, code_a) = started(&t, &a.at, "prld:email:register", "shared@example.com").await;
    let (ct_b, code_b) = started(&t, &b.at, "prld:email:register", "Shared@Example.com").await;
    assert_eq!(
        check(&t, &b.key, &ct_b, &code_b).await.status(),
        StatusCode::OK
    );
    let (got, c) = code_of(check(&t, &a.key, &ct_a, &code_a).await).await;
    assert_eq!(
        (got, c.as_str()),
        (StatusCode::CONFLICT, "identifier_already_exists")
    );
    assert_eq!(identifiers_of(&t, &sub(&a.at)).await.len(), 1);
    assert_eq!(identifiers_of(&t, &sub(&b.at)).await.len(), 2);
    // A first sign-in with the address makes it taken just the same.
    let (ct, code) = started(&t, &a.at, "prld:email:register", "walkin@example.com").await;
    let r = t
        .post(
            "/otp",
            json!({"identifier": {"type": "email_address", "value": "walkin@example.com"}}),
        )
        .await;
    let vt = verification_token(&r);
    let login_code = t.emu.outbox().last().unwrap().code.clone();
    assert_eq!(t.check(&vt, &login_code).await.status(), StatusCode::OK);
    let (got, c) = code_of(check(&t, &a.key, &ct, &code).await).await;
    assert_eq!(
        (got, c.as_str()),
        (StatusCode::CONFLICT, "identifier_already_exists")
    );
}

#[tokio::test]
async fn an_account_holds_at_most_ten_identifiers() {
    // Room for the eleven challenges this opens (completed ones count until redeemed).
    let t = T::with(prelude_emulator::Config {
        resend_cooldown_secs: 0,
        max_open_challenges: 20,
        ..prelude_emulator::Config::default()
    })
    .await;
    let s = sign_in_phone(&t, 78, "+33611110009").await;
    for i in 0..8 {
        let (ct, code) = started(
            &t,
            &s.at,
            "prld:email:register",
            &format!("n{i}@example.com"),
        )
        .await;
        assert_eq!(check(&t, &s.key, &ct, &code).await.status(), StatusCode::OK);
    }
    // Two registrations open at nine: the second to pass its code finds the account full.
    assert_eq!(identifiers_of(&t, &sub(&s.at)).await.len(), 9);
    let (ct_a, code_a) = started(&t, &s.at, "prld:email:register", "n8@example.com").await;
    let (ct_b, code_b) = started(&t, &s.at, "prld:email:register", "n9@example.com").await;
    assert_eq!(
        check(&t, &s.key, &ct_a, &code_a).await.status(),
        StatusCode::OK
    );
    let (got, c) = code_of(check(&t, &s.key, &ct_b, &code_b).await).await;
    assert_eq!((got, c.as_str()), (StatusCode::CONFLICT, "conflict"));
    assert_eq!(identifiers_of(&t, &sub(&s.at)).await.len(), 10);
    let (got, c) =
        code_of(register(&t, &s.at, "prld:email:register", "n10@example.com").await).await;
    assert_eq!((got, c.as_str()), (StatusCode::CONFLICT, "conflict"));
}

#[tokio::test]
async fn the_reserved_scopes_must_be_allowed_and_only_they_may_be_managed() {
    let t = T::new().await;
    let s = sign_in_phone(&t, 79, "+33611110010").await;
    t.put_stepup(json!({"allowed_scopes": [{"scope": "prld:phone:register", "mode": "managed"}]}))
        .await;
    let (got, c) = code_of(register(&t, &s.at, "prld:email:register", "a@b.example").await).await;
    assert_eq!(
        (got, c.as_str()),
        (StatusCode::FORBIDDEN, "scope_not_allowed")
    );
    let r = t
        .http
        .put(t.url("/v2/session/apps/demo/config/stepup"))
        .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
        .json(&json!({"allowed_scopes": [{"scope": "transfer:write", "mode": "managed"}]}))
        .send()
        .await
        .unwrap();
    let (got, c) = code_of(r).await;
    assert_eq!((got, c.as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
}

/// A demo state saved by a version from before identifiers could be added and passkeys
/// existed gains both at its next start, once, and keeps the rules it had.
#[tokio::test]
async fn an_older_demo_state_gains_what_the_seed_now_has_once() {
    let dir = tempdir();
    let state = dir.join("state.json");
    T::with_state(&state).await.emu.shutdown().await;
    let read = || -> Value { serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap() };
    let mut data = read();
    // As the older version wrote it: no revision, no passkeys, no reserved scopes, and its own
    // rule for the transfer.
    let obj = data.as_object_mut().unwrap();
    obj.remove("seed_revision");
    obj.remove("passkey_config");
    obj.insert("scopes".into(), json!(["transfer:write"]));
    let rules = data["stepup_config"]["allowed_scopes"]
        .as_array_mut()
        .unwrap();
    rules.retain(|r| r["scope"] == "transfer:write");
    rules[0]["direct"]["granted_for"] = json!(123);
    let own = rules.clone();
    std::fs::write(&state, data.to_string()).unwrap();

    let emu = restart(&state).await;
    {
        let d = emu.state().data();
        let scopes: Vec<&str> = d
            .stepup_config
            .as_ref()
            .unwrap()
            .allowed_scopes
            .iter()
            .map(|r| r.scope.as_str())
            .collect();
        for s in [
            "prld:passkey:write",
            "passkey:demo",
            "prld:email:register",
            "prld:phone:register",
        ] {
            assert_eq!(
                scopes.iter().filter(|x| **x == s).count(),
                1,
                "{s} in {scopes:?}"
            );
        }
        assert!(
            d.scopes.iter().any(|s| s == "passkey:demo"),
            "{:?}",
            d.scopes
        );
        assert_eq!(d.passkey_config.as_ref().unwrap().rp_id, "localhost");
    }
    emu.shutdown().await;
    let upgraded = read();
    let transfer: Vec<Value> = upgraded["stepup_config"]["allowed_scopes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["scope"] == "transfer:write")
        .cloned()
        .collect();
    assert_eq!(transfer, own, "the state's own rules are kept as they were");
    assert_eq!(upgraded["seed_revision"], 1);

    // Once: what a tester removes afterwards stays removed.
    let mut data = upgraded;
    data.as_object_mut()
        .unwrap()
        .insert("passkey_config".into(), Value::Null);
    std::fs::write(&state, data.to_string()).unwrap();
    let emu = restart(&state).await;
    assert!(emu.state().data().passkey_config.is_none());
    emu.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}
