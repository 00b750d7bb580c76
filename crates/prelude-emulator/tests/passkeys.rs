//! Passkeys over loopback HTTP: the emulator as a WebAuthn relying party, driven by the
//! prelude-passkey test authenticator. The whole flow runs: step-up for prld:passkey:write by
//! SMS code → register → a verify_passkey approval → refresh carries the scope → list, rename,
//! delete; and the configuration, restarts, hooks and scenarios around it.

mod common;
mod passkey_env;

use common::*;
use passkey_env::*;
use prelude_passkey::{FLAG_UP, FLAG_UV, b64};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn the_passkey_config_is_validated_stored_and_read_back() {
    let t = unconfigured().await;
    let get = || {
        t.http
            .get(t.url(MGMT))
            .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
            .send()
    };
    assert_eq!(
        code_of(get().await.unwrap()).await,
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    let r = t
        .http
        .put(t.url(MGMT))
        .json(&config("required"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for bad in [
        json!({"rp_id": "https://localhost", "rp_name": "x", "allowed_origins": [ORIGIN]}),
        json!({"rp_id": "Localhost", "rp_name": "x", "allowed_origins": [ORIGIN]}),
        json!({"rp_id": "localhost", "rp_name": "x", "allowed_origins": []}),
        json!({"rp_id": "localhost", "rp_name": "x", "allowed_origins": ["https://localhost/path"]}),
        json!({"rp_id": "example.com", "rp_name": "x", "allowed_origins": ["http://example.com"]}),
        json!({"rp_id": "example.com", "rp_name": "x", "allowed_origins": ["https://example.org"]}),
        json!({"rp_id": "localhost", "rp_name": "", "allowed_origins": [ORIGIN]}),
        json!({"rp_id": "localhost", "rp_name": "x", "allowed_origins": [ORIGIN], "user_verification": "always"}),
        json!({"rp_id": "localhost", "rp_name": "x", "allowed_origins": [ORIGIN], "aaguid_allowlist": ["nope"]}),
    ] {
        let (status, _) = code_of(t.put_mgmt(MGMT, &bad).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = t.put_mgmt(MGMT, &config("preferred")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let put: Value = r.json().await.unwrap();
    assert_eq!(put["config"]["user_verification"], "preferred");
    assert_eq!(put["config"]["login_enabled"], false);
    let got: Value = get().await.unwrap().json().await.unwrap();
    assert_eq!(got["config"]["rp_id"], "localhost");
    assert_eq!(got["config"]["allowed_origins"], json!([ORIGIN]));
    // verify_passkey is a managed step, never a declared custom step key.
    let r = t
        .http
        .put(t.url("/v2/session/apps/demo/config/stepup"))
        .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
        .json(&json!({"step_keys": [{"key": "verify_passkey"}], "allowed_scopes": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    ); // Nor is `completed`, where a challenge stands once done: not declared, not a step.
    let put = |body: Value| {
        t.http
            .put(t.url("/v2/session/apps/demo/config/stepup"))
            .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
            .json(&body)
            .send()
    };
    for declared in [json!("completed"), json!({"key": "completed"})] {
        let r = put(json!({"step_keys": [declared], "allowed_scopes": []}))
            .await
            .unwrap();
        assert_eq!(
            code_of(r).await,
            (StatusCode::BAD_REQUEST, "invalid_request".into())
        );
    }
    let step = json!({"order": 1, "key": "completed", "expiration_duration": 60});
    let r = put(
        json!({"step_keys": [], "allowed_scopes": [{"scope": "x:y", "mode": "direct",
        "direct": {"identifier_types": [], "status": "review", "grant_mode": "single-use",
                   "granted_for": 60, "steps": [step]}}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "bad_request".into())
    );
}

#[tokio::test]
async fn the_whole_flow_step_up_register_approve_list_rename_delete() {
    let mut e = Env::new("required").await;
    // No passkey yet: the challenge carries no options, and continuing cannot pass.
    let v = e.t.request(&e.at, "passkey:demo").await;
    assert!(v.get("public_key_credential_request_options").is_none());
    let ct = str_of(&v, "challenge_token");
    assert_eq!(claims_of(&ct)["current_step"], "verify_passkey");
    let cred0 = authenticator(3, "localhost", &b64("x"));
    let r = e
        .cont(&ct, &cred0.assertion("AAAA", ORIGIN, FLAG_UP | FLAG_UV, 1))
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "passkey_step_unavailable".into())
    );

    // Registration needs the scope, and consumes it.
    let r = e
        .call(
            reqwest::Method::POST,
            "/me/passkeys/register/begin",
            Some(json!({"username": "ada"})),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::FORBIDDEN, "insufficient_scope".into())
    );
    let cred = e.register(5).await;
    let claims = e.refresh(None).await;
    assert!(
        !claims["scope"]
            .as_str()
            .unwrap_or("")
            .contains("prld:passkey:write")
    );
    assert_eq!(claims["has_passkey"], true);
    let r = e
        .call(
            reqwest::Method::POST,
            "/me/passkeys/register/begin",
            Some(json!({"username": "ada"})),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::FORBIDDEN, "insufficient_scope".into())
    );

    // A verify_passkey approval, redeemed at refresh.
    let (ct, challenge) = e.passkey_challenge().await;
    let r = e
        .cont(
            &ct,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 1),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let done = str_of(&r.json::<Value>().await.unwrap(), "challenge_token");
    assert_eq!(claims_of(&done)["current_step"], "completed");
    let claims = e.refresh(Some(&done)).await;
    assert!(
        claims["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "passkey:demo")
    );

    // List, rename, delete.
    let list: Value = e
        .call(reqwest::Method::GET, "/me/passkeys", None)
        .await
        .json()
        .await
        .unwrap();
    let items = list["credentials"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let id = str_of(&items[0], "credential_id");
    assert_eq!(id, b64(cred.id()));
    assert_eq!(items[0]["nickname"], "laptop");
    assert_eq!(items[0]["backup_state"], false);
    assert!(items[0]["last_used_at"].as_i64().unwrap() >= items[0]["created_at"].as_i64().unwrap());
    let path = format!("/me/passkeys/{id}");
    let r = e
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"nickname": "work laptop"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = e
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"nickname": "x".repeat(65)})),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "bad_request".into())
    );
    let r = e
        .call(
            reqwest::Method::PATCH,
            "/me/passkeys/unknown",
            Some(json!({"nickname": "a"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let list: Value = e
        .call(reqwest::Method::GET, "/me/passkeys", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["credentials"][0]["nickname"], "work laptop");
    let r = e
        .call(reqwest::Method::PATCH, &path, Some(json!({"nickname": ""})))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let list: Value = e
        .call(reqwest::Method::GET, "/me/passkeys", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["credentials"][0]["nickname"], Value::Null);

    let r = e.call(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::FORBIDDEN, "insufficient_scope".into())
    );
    e.write_scope().await;
    let r = e.call(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = e.call(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let list: Value = e
        .call(reqwest::Method::GET, "/me/passkeys", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["credentials"], json!([]));
    assert_eq!(e.refresh(None).await["has_passkey"], false);

    // The webhook events, recorded rather than sent: no key, counter or AAGUID.
    let events = e.t.get_json("/emulator/v1/events").await["events"].clone();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["user.passkey.registered", "user.passkey.deleted"]);
    let registered = &events[0]["payload"];
    assert_eq!(registered["credential"]["credential_id"], id);
    assert_eq!(registered["user_id"], claims_of(&e.at)["sub"]);
    assert!(
        registered["session_id"]
            .as_str()
            .unwrap()
            .starts_with("ses_")
    );
    assert!(registered["registered_at"].is_string());
    assert!(events[1]["payload"]["deleted_at"].is_string());
    assert!(registered["credential"].get("public_key").is_none());
}

#[tokio::test]
async fn an_otp_step_hands_over_to_the_passkey_step_with_options() {
    let mut e = Env::new("required").await;
    let cred = e.register(6).await;
    let v = e.t.request(&e.at, "transfer:write").await;
    assert!(v.get("public_key_credential_request_options").is_none());
    let ct = str_of(&v, "challenge_token");
    let next = e.pass_sms(&ct).await;
    let options = &next["public_key_credential_request_options"];
    assert_eq!(options["userVerification"], "required");
    assert_eq!(
        options["allowCredentials"],
        json!([{"id": b64(cred.id()), "type": "public-key"}])
    );
    let ct = str_of(&next, "challenge_token");
    // A code for a passkey step, or a custom token, or both kinds of proof, are refused.
    let r = e.t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "step_bypassed".into())
    );
    let cont = |body: Value| {
        e.t.http
            .post(e.t.htu("/stepup/continue"))
            .bearer_auth(&e.at)
            .header("dpop", e.cdpop("/stepup/continue", &ct))
            .json(&body)
            .send()
    };
    let r = cont(json!({"challenge_token": ct, "verification_token": "x"}))
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "step_bypassed".into())
    );
    let r =
        cont(json!({"challenge_token": ct, "verification_token": "x", "passkey_assertion": {}}))
            .await
            .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "bad_request".into())
    );
    // Without Bearer (as one SDK sends it) the challenge-scoped proof suffices.
    let assertion = cred.assertion(
        options["challenge"].as_str().unwrap(),
        ORIGIN,
        FLAG_UP | FLAG_UV,
        1,
    );
    let r =
        e.t.http
            .post(e.t.htu("/stepup/continue"))
            .header("dpop", e.cdpop("/stepup/continue", &ct))
            .json(&json!({"challenge_token": ct, "passkey_assertion": assertion}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let done = str_of(&r.json::<Value>().await.unwrap(), "challenge_token");
    let claims = e.refresh(Some(&done)).await;
    assert!(claims["scope"].as_str().unwrap().contains("transfer:write"));
}

/// Registered passkeys are state: they survive a restart of an emulator with a state file.
#[tokio::test]
async fn passkeys_survive_a_restart() {
    let dir = tempdir();
    let state = dir.join("state.json");
    let t = T::with_state(&state).await;
    let key = Key::new(9);
    let (at, rt) = t.login(&key).await;
    t.put_stepup(stepup_rules()).await;
    assert_eq!(
        t.put_mgmt(MGMT, &config("required")).await.status(),
        StatusCode::OK
    );
    let mut e = Env { t, key, at, rt };
    let cred = e.register(13).await;
    let T { emu, http } = e.t;
    emu.shutdown().await;
    e.t = T {
        emu: restart(&state).await,
        http,
    };
    let list: Value = e
        .call(reqwest::Method::GET, "/me/passkeys", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["credentials"][0]["credential_id"], b64(cred.id()));
    let (ct, challenge) = e.passkey_challenge().await;
    let r = e
        .cont(
            &ct,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 1),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// A step list from the customer's hook may hold verify_passkey too.
#[tokio::test]
async fn a_hook_decision_may_ask_for_a_passkey() {
    let mut e = Env::new("required").await;
    let cred = e.register(30).await;
    let customer = prelude_emulator::customer::CustomerBackend::start(json!({
        "status": "review", "granted_for": 60, "grant_mode": "single-use",
        "steps": [{"order": 1, "key": "verify_passkey", "expiration_duration": 300}]}))
    .await
    .unwrap();
    let mut rules = stepup_rules();
    rules["jwks_url"] = json!(customer.jwks_url());
    rules["allowed_scopes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"scope": "payout:write", "mode": "delegated",
                     "delegated": {"delegation_hook": customer.hook_url()}}));
    e.t.put_stepup(rules).await;
    let v = e.t.request(&e.at, "payout:write").await;
    let ct = str_of(&v, "challenge_token");
    let challenge = str_of(&v["public_key_credential_request_options"], "challenge");
    let r = e
        .cont(
            &ct,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 1),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let done = str_of(&r.json::<Value>().await.unwrap(), "challenge_token");
    assert!(
        e.refresh(Some(&done)).await["scope"]
            .as_str()
            .unwrap()
            .contains("payout:write")
    );
}

/// The scenario file carries the passkey configuration and no credential; importing one
/// without a user takes that user's passkeys along.
#[tokio::test]
async fn scenarios_carry_the_configuration_not_the_credentials() {
    let mut e = Env::new("required").await;
    let cred = e.register(31).await;
    let exported = e.t.get_json("/emulator/v1/scenario").await;
    assert_eq!(exported["passkey"]["rp_id"], "localhost");
    let text = exported.to_string();
    assert!(!text.contains(&b64(cred.id())), "no credential in {text}");
    assert!(!text.contains("public_key"));
    let mut bad = exported.clone();
    bad["passkey"]["allowed_origins"] = json!(["https://elsewhere.example"]);
    let r = e.t.put_json("/emulator/v1/scenario", &bad).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let mut empty = exported.clone();
    empty["users"] = json!([]);
    assert!(
        e.t.put_json("/emulator/v1/scenario", &empty)
            .await
            .status()
            .is_success()
    );
    assert!(e.t.emu.state().data().passkeys.is_empty());
}
