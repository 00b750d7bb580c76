//! What the emulator's benches share: DPoP proofs, a login, and the process's RSS.
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use prelude_emulator::Emulator;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn proof(key: &SigningKey, htu: &str) -> String {
    proof_at(key, htu, 0)
}

/// A proof whose `iat` is `offset` seconds from real time (for a moved server clock).
pub fn proof_at(key: &SigningKey, htu: &str, offset: i64) -> String {
    let p = key.verifying_key().to_sec1_point(false);
    let b = p.as_bytes();
    let header = json!({"typ": "dpop+jwt", "alg": "ES256",
        "jwk": {"kty": "EC", "crv": "P-256", "x": B64.encode(&b[1..33]), "y": B64.encode(&b[33..65])}});
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + offset;
    let claims =
        json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST", "htu": htu, "iat": iat});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(sig.to_bytes()))
}

pub async fn login(
    http: &reqwest::Client,
    emu: &Emulator,
    key: &SigningKey,
    phone: &str,
) -> String {
    login_at(http, emu, key, phone, 0).await
}

/// A login whose proofs follow a server clock moved by `offset` seconds.
pub async fn login_at(
    http: &reqwest::Client,
    emu: &Emulator,
    key: &SigningKey,
    phone: &str,
    offset: i64,
) -> String {
    let base = format!("{}/v1/session", emu.url());
    let r = http
        .post(format!("{base}/otp"))
        .json(&json!({"identifier": {"type": "phone_number", "value": phone}}))
        .send()
        .await
        .unwrap();
    let vt = r.headers()["x-verification-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let code = emu
        .outbox()
        .iter()
        .rev()
        .find(|m| m.to == phone)
        .unwrap()
        .code
        .clone();
    let r = http
        .post(format!("{base}/otp/check"))
        .header("x-verification-token", vt)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    let ct = r.json::<serde_json::Value>().await.unwrap()["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = http
        .post(format!("{base}/login/finalize"))
        .header(
            "dpop",
            proof_at(key, &format!("{base}/login/finalize"), offset),
        )
        .json(&json!({"challenge_token": ct}))
        .send()
        .await
        .unwrap();
    r.headers()["x-refresh-token"].to_str().unwrap().to_owned()
}

pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
