//! Prints DPoP-verified `/refresh` requests per second over loopback, with p50/p99 latency and
//! the process's RSS after the run, beside the raw P-256 verify rates (the client's `p256` and
//! the emulator's ring) measured in the same run.
//! Run: `cargo bench -p prelude-emulator --bench refresh`.

mod common;

use common::{login, proof, rss_mib};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey};
use prelude_emulator::{Config, Emulator};
use std::time::{Duration, Instant};

const SESSIONS: usize = 16;
const PER_SESSION: usize = 1_000;

fn rate(n: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    // Raw verify rates, one thread each.
    let key = SigningKey::from_slice(&[9u8; 32]).unwrap();
    let msg = [0x42u8; 300];
    let sig: Signature = key.sign(&msg);
    let vk = *key.verifying_key();
    let p256_rate = rate(2_000, || {
        vk.verify(std::hint::black_box(&msg), &sig).unwrap();
    });
    let point = vk.to_sec1_point(false);
    let ring_key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        point.as_bytes().to_vec(),
    );
    let sig_bytes = sig.to_bytes();
    let ring_rate = rate(20_000, || {
        ring_key
            .verify(std::hint::black_box(&msg), &sig_bytes)
            .unwrap();
    });

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (rps, mut lat) = rt.block_on(async {
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
                    let mut lat = Vec::with_capacity(proofs.len());
                    for p in proofs {
                        let t = Instant::now();
                        let r = http
                            .post(&htu)
                            .header("x-refresh-token", &rt)
                            .header("dpop", p)
                            .send()
                            .await
                            .unwrap();
                        assert!(r.status().is_success(), "{}", r.status());
                        rt = r.headers()["x-refresh-token"].to_str().unwrap().to_owned();
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.unwrap());
        }
        let elapsed: Duration = start.elapsed();
        emu.shutdown().await;
        ((SESSIONS * PER_SESSION) as f64 / elapsed.as_secs_f64(), lat)
    });
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!("p256 0.14 verify (raw, one thread):   {p256_rate:>9.0} /s");
    println!("ring verify (raw, one thread):        {ring_rate:>9.0} /s");
    println!(
        "DPoP-verified /refresh:               {rps:>9.0} req/s  ({SESSIONS} sessions in parallel over loopback, client in the same process, {cores} cores)"
    );
    println!(
        "latency:                              p50 {:.2} ms, p99 {:.2} ms",
        pct(0.50),
        pct(0.99)
    );
    println!(
        "RSS after the run (server + client):  {:>9.1} MiB",
        rss_mib()
    );
    println!(
        "refreshes per raw ring verify/core: {:>9.3}",
        rps / (ring_rate * cores)
    );
}
