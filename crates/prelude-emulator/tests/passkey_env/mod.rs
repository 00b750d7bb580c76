//! What the passkey tests share: the emulator set up as a relying party with a signed-in
//! session (`Env`), the rules they use, and the requests of each ceremony.
#![allow(dead_code)]

use crate::common::*;
use prelude_passkey::{Credential, FLAG_UP, FLAG_UV, b64, unb64};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const ORIGIN: &str = "https://localhost";
pub const MGMT: &str = "/v2/session/apps/demo/config/passkey";

pub fn config(uv: &str) -> Value {
    json!({"rp_id": "localhost", "rp_name": "Countersign (emulator)",
           "allowed_origins": [ORIGIN], "user_verification": uv})
}

pub fn stepup_rules() -> Value {
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

pub struct Env {
    pub t: T,
    pub key: Key,
    pub at: String,
    pub rt: String,
}

pub fn str_of(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
        .to_owned()
}

/// A credential for `rp_id`, its secret and ID drawn from `seed`.
pub fn authenticator(seed: u8, rp_id: &str, user_handle: &str) -> Credential {
    let mut secret = [seed; 32];
    secret[0] = 1;
    Credential::from_secret(&secret, vec![seed; 32], rp_id, unb64(user_handle).unwrap()).unwrap()
}

impl Env {
    pub async fn new(uv: &str) -> Self {
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

    pub fn cdpop(&self, route: &str, token: &str) -> String {
        let jti = str_of(&claims_of(token), "jti");
        self.key.sign_parts(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.jwk()}),
            &json!({"jti": jti, "htm": "POST", "htu": self.t.htu(route), "iat": now()}),
        )
    }

    /// Sends the SMS code of an SMS step and checks it; the `/otp/check` answer.
    pub async fn pass_sms(&self, ct: &str) -> Value {
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
    pub async fn refresh(&mut self, step_up: Option<&str>) -> Value {
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
    pub async fn write_scope(&mut self) {
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

    pub async fn call(
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

    pub async fn begin(&self) -> (Value, String) {
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

    pub async fn finish(
        &self,
        token: &str,
        attestation: &impl serde::Serialize,
    ) -> reqwest::Response {
        self.call(
            reqwest::Method::POST,
            "/me/passkeys/register/finish",
            Some(json!({"registration_token": token, "attestation": attestation})),
        )
        .await
    }

    /// Scope, then a registered credential with sign count 0.
    pub async fn register(&mut self, seed: u8) -> Credential {
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
    pub async fn cont(&self, ct: &str, assertion: &impl serde::Serialize) -> reqwest::Response {
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
    pub async fn passkey_challenge(&self) -> (String, String) {
        let v = self.t.request(&self.at, "passkey:demo").await;
        let o = &v["public_key_credential_request_options"];
        assert_eq!(o["rpId"], "localhost");
        (str_of(&v, "challenge_token"), str_of(o, "challenge"))
    }
}

/// An emulator without the demo seed's passkey configuration.
pub async fn unconfigured() -> T {
    let t = T::new().await;
    t.emu.state().data().passkey_config = None;
    t
}

impl T {
    pub async fn put_mgmt(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

impl Env {
    pub async fn login_begin(&self) -> (String, String) {
        let r = self.t.post("/login/passkey/begin", json!({})).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["public_key"]["allowCredentials"], json!([]));
        (
            str_of(&v, "login_token"),
            str_of(&v["public_key"], "challenge"),
        )
    }

    pub async fn login_finish(
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

/// An attestation object of another format than `none`, around the credential's authData.
pub fn packed_attestation(att: &mut prelude_passkey::RegistrationResponse) {
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

pub async fn put_faults(t: &T, body: Value) {
    let r = t.put_json("/emulator/v1/faults", &body).await;
    assert!(r.status().is_success());
}

/// A passkey:demo step-up answered as an honest authenticator would, with sign count `n`:
/// the status, code and message of `stepup/continue`.
pub async fn honest_attempt(e: &Env, cred: &Credential, n: u32) -> (StatusCode, String, String) {
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
