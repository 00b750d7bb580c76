//! Prints DPoP-verified `/refresh` requests per second over loopback, beside the raw P-256
//! verify rate of the same crate measured in the same run. Run: `cargo bench -p prelude-emulator`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey};
use prelude_emulator::{Config, Emulator};
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SESSIONS: usize = 8;
const PER_SESSION: usize = 250;

fn proof(key: &SigningKey, htu: &str) -> String {
    let p = key.verifying_key().to_sec1_point(false);
    let b = p.as_bytes();
    let header = json!({"typ": "dpop+jwt", "alg": "ES256",
        "jwk": {"kty": "EC", "crv": "P-256", "x": B64.encode(&b[1..33]), "y": B64.encode(&b[33..65])}});
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
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

async fn login(http: &reqwest::Client, emu: &Emulator, key: &SigningKey, phone: &str) -> String {
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
    let code = emu.outbox().last().unwrap().code.clone();
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
        .header("dpop", proof(key, &format!("{base}/login/finalize")))
        .json(&json!({"challenge_token": ct}))
        .send()
        .await
        .unwrap();
    r.headers()["x-refresh-token"].to_str().unwrap().to_owned()
}

fn main() {
    // Raw verify rate.
    let key = SigningKey::from_slice(&[9u8; 32]).unwrap();
    let msg = [0x42u8; 300];
    let sig: Signature = key.sign(&msg);
    let vk = *key.verifying_key();
    let n = 2_000u32;
    let t = Instant::now();
    for _ in 0..n {
        vk.verify(std::hint::black_box(&msg), &sig).unwrap();
    }
    let verify_rate = n as f64 / t.elapsed().as_secs_f64();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let rps = rt.block_on(async {
        let emu = Emulator::start(
            Config {
                log_codes: false,
                resend_cooldown_secs: 0,
                ..Config::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let http = reqwest::Client::new();
        let htu = format!("{}/v1/session/refresh", emu.url());
        let mut work = Vec::new();
        for i in 0..SESSIONS {
            let k = SigningKey::from_slice(&[i as u8 + 20; 32]).unwrap();
            let rt = login(&http, &emu, &k, &format!("+3361234{:04}", i)).await;
            // Proofs are made before the clock starts: we measure the server.
            let proofs: Vec<String> = (0..PER_SESSION).map(|_| proof(&k, &htu)).collect();
            work.push((rt, proofs));
        }
        let start = Instant::now();
        let tasks: Vec<_> = work
            .into_iter()
            .map(|(mut rt, proofs)| {
                let http = http.clone();
                let htu = htu.clone();
                tokio::spawn(async move {
                    for p in proofs {
                        let r = http
                            .post(&htu)
                            .header("x-refresh-token", &rt)
                            .header("dpop", p)
                            .send()
                            .await
                            .unwrap();
                        assert!(r.status().is_success(), "{}", r.status());
                        rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let elapsed: Duration = start.elapsed();
        emu.shutdown().await;
        (SESSIONS * PER_SESSION) as f64 / elapsed.as_secs_f64()
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!("p256 verify (raw, one thread): {verify_rate:>9.0} /s");
    println!(
        "DPoP-verified /refresh:        {rps:>9.0} req/s  ({SESSIONS} sessions in parallel over loopback, client in the same process, {cores} cores)"
    );
    println!(
        "refreshes per raw verify/core: {:>9.3}",
        rps / (verify_rate * cores)
    );
}
