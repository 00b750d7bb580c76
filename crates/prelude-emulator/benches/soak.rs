//! A bounded soak on loopback: mixed traffic (logins, refreshes, step-ups, bad proofs,
//! unknown paths, codes to fresh identifiers) of 400k requests, with the server's
//! clock moved on between rounds so that what it keeps expires. Prints RSS as it goes and
//! whether it stayed under the ceiling. Stops by itself: 400k requests or 120 s.
//! Run: `cargo bench -p prelude-emulator --bench soak`.

mod common;

use common::{login_at, proof_at, rss_mib};
use p256::ecdsa::SigningKey;
use prelude_emulator::{Config, Emulator};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const TOTAL: u64 = 400_000;
const TIME_LIMIT: Duration = Duration::from_secs(120);
const RSS_CEILING_MIB: f64 = 96.0;
const WORKERS: usize = 8;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let emu = Arc::new(
            Emulator::start(
                Config {
                    log_codes: false,
                    resend_cooldown_secs: 0,
                    ..Config::default()
                },
                "127.0.0.1:0".parse().unwrap(),
            )
            .await
            .unwrap(),
        );
        let http = reqwest::Client::new();
        let base = emu.url();
        let sent = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let baseline = rss_mib();
        let mut peak = baseline;
        let mut round = 0i64;
        println!("RSS at start: {baseline:.1} MiB (server + load generator)");
        while sent.load(Ordering::Relaxed) < TOTAL && started.elapsed() < TIME_LIMIT {
            // Each round: 15 minutes later on the server's clock.
            let offset = round * 900;
            emu.state().set_clock_offset(offset);
            let mut tasks = Vec::new();
            for w in 0..WORKERS {
                let (http, base, emu, sent) = (http.clone(), base.clone(), emu.clone(), sent.clone());
                tasks.push(tokio::spawn(async move {
                    let seed = (round as usize * WORKERS + w) as u32;
                    let key = SigningKey::from_slice(&[(w as u8) + 40; 32]).unwrap();
                    let phone = format!("+3370{:07}", seed % 10_000_000);
                    // A login (3 requests), then refreshes with rotation.
                    let mut rt = login_at(&http, &emu, &key, &phone, offset).await;
                    sent.fetch_add(3, Ordering::Relaxed);
                    let htu = format!("{base}/v1/session/refresh");
                    for _ in 0..200 {
                        let r = http
                            .post(&htu)
                            .header("x-refresh-token", &rt)
                            .header("dpop", proof_at(&key, &htu, offset))
                            .send()
                            .await
                            .unwrap();
                        if let Some(v) = r.headers().get("x-refresh-token") {
                            rt = v.to_str().unwrap().to_owned();
                        }
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    // Replayed and forged proofs, unknown paths, codes to fresh identifiers.
                    let stale = proof_at(&key, &htu, offset);
                    for i in 0..200u32 {
                        let _ = http
                            .post(&htu)
                            .header("x-refresh-token", &rt)
                            .header("dpop", &stale)
                            .send()
                            .await;
                        let _ = http
                            .get(format!("{base}/nowhere/{seed}/{i}"))
                            .send()
                            .await;
                        let _ = http
                            .post(format!("{base}/v1/session/otp"))
                            .json(&json!({"identifier": {"type": "email_address",
                                "value": format!("u{seed}x{i}@soak.example")}}))
                            .send()
                            .await;
                        sent.fetch_add(3, Ordering::Relaxed);
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            round += 1;
            let rss = rss_mib();
            peak = peak.max(rss);
            let (verifications, sessions) = {
                let d = emu.state().data();
                (d.verifications.len(), d.sessions.len())
            };
            println!(
                "round {round:>3}: {:>7} requests, {:>5.1} s, RSS {rss:.1} MiB, kept: {} verifications, {} sessions, {} outbox",
                sent.load(Ordering::Relaxed),
                started.elapsed().as_secs_f64(),
                verifications,
                sessions,
                emu.outbox().len(),
            );
        }
        let n = sent.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        println!("{n} requests in {secs:.1} s ({:.0} req/s)", n as f64 / secs);
        println!(
            "RSS peak {peak:.1} MiB, ceiling {RSS_CEILING_MIB:.0} MiB: {}",
            if peak <= RSS_CEILING_MIB { "held" } else { "EXCEEDED" }
        );
        Arc::try_unwrap(emu).ok().unwrap().shutdown().await;
    });
}
