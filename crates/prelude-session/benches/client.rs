//! Prints: DPoP proof build+sign time beside raw P-256 signing, and the median wall time of a
//! full login + step-up flow against the embedded emulator. Run: `cargo bench -p prelude-session`.

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use prelude_emulator::{Config, Emulator};
use prelude_session::{ClientConfig, DpopKey, Endpoint, Identifier, MemoryStore, SessionClient};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn per_op(n: u32, f: impl FnMut()) -> Duration {
    let mut f = f;
    for _ in 0..n / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed() / n
}

async fn flow(emu: &Emulator) -> Duration {
    let t = Instant::now();
    let c = SessionClient::new(
        ClientConfig::new(Endpoint::url(&emu.url()).unwrap()),
        Arc::new(MemoryStore::new()),
    )
    .unwrap();
    c.start_otp_login(&Identifier::parse("+33612345678").unwrap())
        .await
        .unwrap();
    let code = emu.outbox().last().unwrap().code.clone();
    c.check_otp(&code).await.unwrap();
    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    c.send_step_up_otp(&ch).await.unwrap();
    let code = emu.outbox().last().unwrap().code.clone();
    let done = c.submit_step_up_otp(&ch, &code).await.unwrap();
    assert!(done.is_completed());
    c.redeem_step_up(&done).await.unwrap();
    assert!(c.has_scope("transfer:write"));
    t.elapsed()
}

fn main() {
    let n = 2_000;
    let key = DpopKey::generate();
    let proof = per_op(n, || {
        let jti = uuid::Uuid::new_v4().to_string();
        std::hint::black_box(key.proof(
            "POST",
            "https://demo.session.prelude.dev/v1/session/refresh",
            &jti,
            1_800_000_000,
            Some("nonce"),
        ));
    });
    let raw_key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let msg = [0x5au8; 300];
    let raw = per_op(n, || {
        let s: Signature = raw_key.sign(&msg);
        std::hint::black_box(s);
    });
    println!(
        "dpop proof build+sign: {:>8.1} µs/op",
        proof.as_secs_f64() * 1e6
    );
    println!(
        "raw p256 ecdsa sign:   {:>8.1} µs/op  (proof overhead {:.2}x)",
        raw.as_secs_f64() * 1e6,
        proof.as_secs_f64() / raw.as_secs_f64()
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let emu = Emulator::start(
            Config {
                resend_cooldown_secs: 0,
                log_codes: false,
                ..Config::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        flow(&emu).await;
        let mut times = Vec::new();
        for _ in 0..25 {
            times.push(flow(&emu).await);
        }
        times.sort();
        println!(
            "login + step-up flow:  {:>8.2} ms median of {} (min {:.2}, max {:.2})",
            times[times.len() / 2].as_secs_f64() * 1e3,
            times.len(),
            times[0].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
        emu.shutdown().await;
    });
}
