//! What the emulator's loopback tests share: a DPoP key, a client bound to one emulator, and
//! small readers of responses.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use prelude_emulator::{Config, Emulator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub struct Key(pub SigningKey);

impl Key {
    pub fn new(seed: u8) -> Self {
        let mut b = [seed; 32];
        b[0] = 1;
        Key(SigningKey::from_slice(&b).unwrap())
    }
    pub fn jwk(&self) -> Value {
        let p = self.0.verifying_key().to_sec1_point(false);
        let b = p.as_bytes();
        json!({"kty": "EC", "crv": "P-256", "x": B64.encode(&b[1..33]), "y": B64.encode(&b[33..65])})
    }
    pub fn sign_parts(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig: Signature = self.0.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.to_bytes()))
    }
    pub fn proof(&self, htm: &str, htu: &str, nonce: Option<&str>) -> String {
        let mut claims =
            json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": htm, "htu": htu, "iat": now()});
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        self.sign_parts(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()}),
            &claims,
        )
    }
}

pub struct T {
    pub emu: Emulator,
    pub http: reqwest::Client,
}

impl T {
    /// An emulator whose sends have no cooldown, so tests may sign in again at once.
    pub async fn new() -> Self {
        Self::with(Config {
            resend_cooldown_secs: 0,
            ..Config::default()
        })
        .await
    }
    pub async fn with(cfg: Config) -> Self {
        let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        T {
            emu,
            http: reqwest::Client::new(),
        }
    }
    pub fn url(&self, p: &str) -> String {
        format!("{}{p}", self.emu.url())
    }
    pub fn htu(&self, route: &str) -> String {
        self.url(&format!("/v1/session{route}"))
    }
    pub async fn post(&self, route: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.htu(route))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// POST /otp/check of a verification started at /otp.
    pub async fn check(&self, vt: &str, code: &str) -> reqwest::Response {
        self.http
            .post(self.htu("/otp/check"))
            .header("x-verification-token", vt)
            .json(&json!({"code": code}))
            .send()
            .await
            .unwrap()
    }

    /// Login up to the session-start challenge token.
    pub async fn challenge(&self, phone: &str) -> String {
        let r = self
            .post(
                "/otp",
                json!({"identifier": {"type": "phone_number", "value": phone}}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let vt = verification_token(&r);
        let code = self.emu.outbox().last().unwrap().code.clone();
        let r = self.check(&vt, &code).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.unwrap()["challenge_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A full login; returns (access token, refresh token).
    pub async fn login(&self, key: &Key) -> (String, String) {
        let ct = self.challenge("+33612345678").await;
        let r = self
            .http
            .post(self.htu("/login/finalize"))
            .header(
                "dpop",
                key.proof("POST", &self.htu("/login/finalize"), None),
            )
            .json(&json!({"challenge_token": ct}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
        assert!(r.headers().contains_key("x-refresh-token-expires-at"));
        assert!(r.headers().contains_key("dpop-nonce"));
        let body: Value = r.json().await.unwrap();
        assert!(body["expires_at"].as_i64().unwrap() > now());
        (body["access_token"].as_str().unwrap().to_owned(), rt)
    }

    pub async fn refresh(&self, key: &Key, rt: &str, dpop: Option<String>) -> reqwest::Response {
        let dpop = dpop.unwrap_or_else(|| key.proof("POST", &self.htu("/refresh"), None));
        self.http
            .post(self.htu("/refresh"))
            .header("x-refresh-token", rt)
            .header("dpop", dpop)
            .send()
            .await
            .unwrap()
    }
}

pub async fn code_of(r: reqwest::Response) -> (StatusCode, String) {
    let s = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (s, v["code"].as_str().unwrap_or("<none>").to_owned())
}

pub fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(&B64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

impl T {
    pub async fn put_stepup(&self, cfg: Value) {
        let r = self
            .http
            .put(self.url("/v2/session/apps/demo/config/stepup"))
            .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
            .json(&cfg)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    pub async fn request(&self, at: &str, scope: &str) -> Value {
        let r = self
            .http
            .post(self.htu("/stepup/request"))
            .bearer_auth(at)
            .json(&json!({"scope": scope, "metadata": {"amount": "500", "currency": "EUR"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }
}

/// The `X-Verification-Token` an /otp call answered with.
pub fn verification_token(r: &reqwest::Response) -> String {
    r.headers()["x-verification-token"]
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn delegated(hook: &str, jwks: &str) -> Value {
    json!({"jwks_url": jwks, "allowed_scopes": [{"scope": "transfer:write", "mode": "delegated",
        "delegated": {"delegation_hook": hook}}]})
}

impl T {
    /// An emulator that keeps its state in `state`.
    pub async fn with_state(state: &std::path::Path) -> Self {
        Self::with(Config {
            state_file: Some(state.to_owned()),
            ..Config::default()
        })
        .await
    }

    /// PUTs JSON to a route of this emulator.
    pub async fn put_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// GETs a route of this emulator as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A fresh folder under the system's temp dir.
pub fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("emu-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// base64url without padding, for hand-made tokens.
pub fn b64(text: &str) -> String {
    B64.encode(text)
}

/// base64url without padding of raw bytes (a signature).
pub fn b64_bytes(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// The `prelude-emulator` binary with `args`, once it says it listens: the child and its URL.
pub fn spawn_binary(args: &[&std::ffi::OsStr]) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_prelude-emulator"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    (child, url)
}

/// An in-process emulator over an existing state file.
pub async fn restart(state: &std::path::Path) -> Emulator {
    Emulator::start(
        Config {
            state_file: Some(state.to_owned()),
            ..Config::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}
