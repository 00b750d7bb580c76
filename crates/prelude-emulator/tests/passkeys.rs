//! Passkeys over loopback HTTP: the emulator as a WebAuthn relying party, driven by the
//! prelude-passkey test authenticator. Every check of docs/protocol.md "Passkeys" is refused
//! with its code, and the whole flow runs: step-up for prld:passkey:write by SMS code →
//! register → a verify_passkey approval → refresh carries the scope → list, rename, delete.

mod common;

use common::*;
use prelude_passkey::{
    CeremonyType, Credential, FLAG_BE, FLAG_BS, FLAG_UP, FLAG_UV, authenticator_data, b64,
    client_data_json, unb64,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ORIGIN: &str = "https://localhost";
const MGMT: &str = "/v2/session/apps/demo/config/passkey";

fn config(uv: &str) -> Value {
    json!({"rp_id": "localhost", "rp_name": "Countersign (emulator)",
           "allowed_origins": [ORIGIN], "user_verification": uv})
}

fn stepup_rules() -> Value {
    let direct = |steps: Value, mode: &str, secs: i64| {
        json!({"identifier_types": [], "status": "review", "grant_mode": mode,
               "granted_for": secs, "steps": steps})
    };
    let sms = json!({"order": 1, "key": "verify_sms", "expiration_duration": 300});
    let pk =
        |order: u32| json!({"order": order, "key": "verify_passkey", "expiration_duration": 300});
    json!({"allowed_scopes": [
        {"scope": "prld:passkey:write", "mode": "direct",
         "direct": direct(json!([sms]), "session-bound", 300)},
        {"scope": "passkey:demo", "mode": "direct",
         "direct": direct(json!([pk(1)]), "single-use", 60)},
        {"scope": "transfer:write", "mode": "direct",
         "direct": direct(json!([sms, pk(2)]), "single-use", 60)},
    ]})
}

struct Env {
    t: T,
    key: Key,
    at: String,
    rt: String,
}

fn str_of(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
        .to_owned()
}

/// A credential for `rp_id`, its secret and ID drawn from `seed`.
fn authenticator(seed: u8, rp_id: &str, user_handle: &str) -> Credential {
    let mut secret = [seed; 32];
    secret[0] = 1;
    Credential::from_secret(&secret, vec![seed; 32], rp_id, unb64(user_handle).unwrap()).unwrap()
}

impl Env {
    async fn new(uv: &str) -> Self {
        // Room for the many challenges one test opens on one session.
        let t = T::with(prelude_emulator::Config {
            resend_cooldown_secs: 0,
            max_open_challenges: 64,
            ..Default::default()
        })
        .await;
        let key = Key::new(9);
        let (at, rt) = t.login(&key).await;
        t.put_stepup(stepup_rules()).await;
        let r = t.put_mgmt(MGMT, &config(uv)).await;
        assert_eq!(r.status(), StatusCode::OK);
        Env { t, key, at, rt }
    }

    fn cdpop(&self, route: &str, token: &str) -> String {
        let jti = str_of(&claims_of(token), "jti");
        self.key.sign_parts(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.jwk()}),
            &json!({"jti": jti, "htm": "POST", "htu": self.t.htu(route), "iat": now()}),
        )
    }

    /// Sends the SMS code of an SMS step and checks it; the `/otp/check` answer.
    async fn pass_sms(&self, ct: &str) -> Value {
        let r = self.t.post("/otp", json!({"challenge_token": ct})).await;
        let vt = verification_token(&r);
        let code = self.t.emu.outbox().last().unwrap().code.clone();
        let r = self
            .t
            .http
            .post(self.t.htu("/otp/check"))
            .header("dpop", self.cdpop("/otp/check", ct))
            .header("x-verification-token", vt)
            .json(&json!({"code": code, "challenge_token": ct}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// `POST /refresh`, redeeming `step_up` if given; the new access token's claims.
    async fn refresh(&mut self, step_up: Option<&str>) -> Value {
        let body = step_up.map_or(json!({}), |t| json!({"step_up_token": t}));
        let r = self
            .t
            .http
            .post(self.t.htu("/refresh"))
            .header("x-refresh-token", &self.rt)
            .header(
                "dpop",
                self.key.proof("POST", &self.t.htu("/refresh"), None),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        self.rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
        self.at = str_of(&r.json::<Value>().await.unwrap(), "access_token");
        claims_of(&self.at)
    }

    /// Step-up for prld:passkey:write with an SMS code, redeemed on the session.
    async fn write_scope(&mut self) {
        let ct = str_of(
            &self.t.request(&self.at, "prld:passkey:write").await,
            "challenge_token",
        );
        let done = str_of(&self.pass_sms(&ct).await, "challenge_token");
        let claims = self.refresh(Some(&done)).await;
        assert!(
            claims["scope"]
                .as_str()
                .unwrap()
                .contains("prld:passkey:write")
        );
    }

    async fn call(
        &self,
        method: reqwest::Method,
        route: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut rb = self
            .t
            .http
            .request(method, self.t.htu(route))
            .bearer_auth(&self.at);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.unwrap()
    }

    async fn begin(&self) -> (Value, String) {
        let r = self
            .call(
                reqwest::Method::POST,
                "/me/passkeys/register/begin",
                Some(json!({"username": "+33612345678", "nickname": "laptop"})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        (v["public_key"].clone(), str_of(&v, "registration_token"))
    }

    async fn finish(&self, token: &str, attestation: &impl serde::Serialize) -> reqwest::Response {
        self.call(
            reqwest::Method::POST,
            "/me/passkeys/register/finish",
            Some(json!({"registration_token": token, "attestation": attestation})),
        )
        .await
    }

    /// Scope, then a registered credential with sign count 0.
    async fn register(&mut self, seed: u8) -> Credential {
        self.write_scope().await;
        let (options, token) = self.begin().await;
        let cred = authenticator(seed, "localhost", options["user"]["id"].as_str().unwrap());
        let att = cred
            .registration(
                options["challenge"].as_str().unwrap(),
                ORIGIN,
                FLAG_UP | FLAG_UV,
            )
            .unwrap();
        let r = self.finish(&token, &att).await;
        assert_eq!(r.status(), StatusCode::OK);
        cred
    }

    /// `stepup/continue` with an assertion, Bearer and the challenge-scoped proof.
    async fn cont(&self, ct: &str, assertion: &impl serde::Serialize) -> reqwest::Response {
        self.t
            .http
            .post(self.t.htu("/stepup/continue"))
            .bearer_auth(&self.at)
            .header("dpop", self.cdpop("/stepup/continue", ct))
            .json(&json!({"challenge_token": ct, "passkey_assertion": assertion}))
            .send()
            .await
            .unwrap()
    }

    /// A passkey:demo challenge: (token, WebAuthn challenge).
    async fn passkey_challenge(&self) -> (String, String) {
        let v = self.t.request(&self.at, "passkey:demo").await;
        let o = &v["public_key_credential_request_options"];
        assert_eq!(o["rpId"], "localhost");
        (str_of(&v, "challenge_token"), str_of(o, "challenge"))
    }
}

impl T {
    async fn put_mgmt(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

/// An emulator without the demo seed's passkey configuration.
async fn unconfigured() -> T {
    let t = T::new().await;
    t.emu.state().data().passkey_config = None;
    t
}

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

impl Env {
    async fn login_begin(&self) -> (String, String) {
        let r = self.t.post("/login/passkey/begin", json!({})).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["public_key"]["allowCredentials"], json!([]));
        (
            str_of(&v, "login_token"),
            str_of(&v["public_key"], "challenge"),
        )
    }

    async fn login_finish(
        &self,
        token: &str,
        assertion: &impl serde::Serialize,
    ) -> reqwest::Response {
        self.t
            .post(
                "/login/passkey/finish",
                json!({"login_token": token, "assertion": assertion}),
            )
            .await
    }
}

/// Sign-in with a passkey, then `login/finalize`; every refusal is a deliberate 401.
#[tokio::test]
async fn passkey_sign_in_opens_a_session_and_refuses_with_401() {
    let mut e = Env::new("required").await;
    let r = e.t.post("/login/passkey/begin", json!({})).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::FORBIDDEN, "passkey_not_configured".into())
    );
    let mut cfg = config("required");
    cfg["login_enabled"] = json!(true);
    cfg["granted_scopes"] = json!(["profile:read"]);
    assert_eq!(e.t.put_mgmt(MGMT, &cfg).await.status(), StatusCode::OK);
    e.write_scope().await;
    let (options, token) = e.begin().await;
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    let cred = authenticator(20, "localhost", options["user"]["id"].as_str().unwrap());
    let att = cred
        .registration(
            options["challenge"].as_str().unwrap(),
            ORIGIN,
            FLAG_UP | FLAG_UV,
        )
        .unwrap();
    assert_eq!(e.finish(&token, &att).await.status(), StatusCode::OK);
    let user = str_of(&claims_of(&e.at), "sub");

    let (token, challenge) = e.login_begin().await;
    let r = e
        .login_finish(
            &token,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 1),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let ct = str_of(&r.json::<Value>().await.unwrap(), "challenge_token");
    assert_eq!(claims_of(&ct)["grant_mode"], "session-start");
    let device = Key::new(21);
    let r =
        e.t.http
            .post(e.t.htu("/login/finalize"))
            .header(
                "dpop",
                device.proof("POST", &e.t.htu("/login/finalize"), None),
            )
            .json(&json!({"challenge_token": ct}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let at = claims_of(&str_of(&r.json::<Value>().await.unwrap(), "access_token"));
    assert_eq!(at["sub"], user);
    assert_eq!(at["scope"], "profile:read");
    assert_eq!(at["has_passkey"], true);
    // The login token was spent.
    let r = e
        .login_finish(
            &token,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 2),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );

    type Make<'a> = Box<dyn Fn(&str) -> prelude_passkey::AuthenticationResponse + 'a>;
    let refused: Vec<(&str, Make)> = vec![
        (
            "no userHandle",
            Box::new(|ch| {
                let mut a = cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 3);
                a.response.user_handle = None;
                a
            }),
        ),
        (
            "origin",
            Box::new(|ch| cred.assertion(ch, "https://evil.example", FLAG_UP | FLAG_UV, 3)),
        ),
        ("UV", Box::new(|ch| cred.assertion(ch, ORIGIN, FLAG_UP, 3))),
        (
            "unknown credential",
            Box::new(|ch| {
                authenticator(22, "localhost", &b64(cred.user_handle())).assertion(
                    ch,
                    ORIGIN,
                    FLAG_UP | FLAG_UV,
                    3,
                )
            }),
        ),
        (
            "counter backwards",
            Box::new(|ch| cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 1)),
        ),
        (
            "blocked",
            Box::new(|ch| cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 9)),
        ),
    ];
    for (name, make) in refused {
        let (token, challenge) = e.login_begin().await;
        let r = e.login_finish(&token, &make(&challenge)).await;
        assert_eq!(
            code_of(r).await,
            (StatusCode::UNAUTHORIZED, "unauthorized".into()),
            "{name}"
        );
    }
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

/// An attestation object of another format than `none`, around the credential's authData.
fn packed_attestation(att: &mut prelude_passkey::RegistrationResponse) {
    let auth = unb64(att.response.authenticator_data.as_deref().unwrap()).unwrap();
    let mut e = minicbor::Encoder::new(Vec::new());
    e.map(3).unwrap();
    e.str("fmt").unwrap().str("packed").unwrap();
    e.str("attStmt").unwrap().map(2).unwrap();
    e.str("alg").unwrap().i64(-7).unwrap();
    e.str("sig").unwrap().bytes(&[0x30, 0x00]).unwrap();
    e.str("authData").unwrap().bytes(&auth).unwrap();
    att.response.attestation_object = b64(e.into_writer());
}

async fn put_faults(t: &T, body: Value) {
    let r = t.put_json("/emulator/v1/faults", &body).await;
    assert!(r.status().is_success());
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

/// Refused sign-ins count against the client address until it is locked out for a while.
#[tokio::test]
async fn refused_sign_ins_lock_the_address_out() {
    let e = Env::new("required").await;
    let mut cfg = config("required");
    cfg["login_enabled"] = json!(true);
    assert_eq!(e.t.put_mgmt(MGMT, &cfg).await.status(), StatusCode::OK);
    let mut locked = false;
    for _ in 0..20 {
        let r = e.login_finish("no-such-token", &json!({})).await;
        match r.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers().contains_key("retry-after"));
                locked = true;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(locked, "the address is locked out");
    let r = e.t.post("/login/passkey/begin", json!({})).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into())
    );
}

/// A passkey:demo step-up answered as an honest authenticator would, with sign count `n`:
/// the status, code and message of `stepup/continue`.
async fn honest_attempt(e: &Env, cred: &Credential, n: u32) -> (StatusCode, String, String) {
    let v = e.t.request(&e.at, "passkey:demo").await;
    let ct = str_of(&v, "challenge_token");
    let o = &v["public_key_credential_request_options"];
    // An honest authenticator verifies the user only when asked to.
    let flags = if o["userVerification"] == "discouraged" {
        FLAG_UP
    } else {
        FLAG_UP | FLAG_UV
    };
    let r = e
        .cont(
            &ct,
            &cred.assertion(&str_of(o, "challenge"), ORIGIN, flags, n),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    let text = |k: &str| body[k].as_str().unwrap_or("").to_owned();
    (status, text("code"), text("message"))
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
