//! Prints: DPoP proof build+sign time beside a raw ES256 signature by p256 (which signs the
//! proofs and the assertions), the median wall time of a full login + step-up flow against the
//! embedded emulator, and a passkey step-up (request → assertion → redeem, three requests)
//! beside a code step-up (four), with a per-request breakdown. Run: `cargo bench -p prelude-session --bench client`.

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use prelude_emulator::{Config, Emulator};
use prelude_session::{ClientConfig, DpopKey, Endpoint, Identifier, MemoryStore, SessionClient};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One in-memory credential, user presence and verification always given; the time spent
/// building assertions is kept apart.
struct BenchAuthenticator {
    held: Mutex<Option<(prelude_passkey::Credential, u32)>>,
    signing: Mutex<Duration>,
}

impl prelude_session::Authenticator for BenchAuthenticator {
    fn make_credential(
        &self,
        o: &prelude_session::CreationOptions,
    ) -> prelude_session::Result<prelude_session::Attestation> {
        let user = prelude_passkey::unb64(&o.user.id).unwrap();
        let cred =
            prelude_passkey::Credential::from_secret(&[7u8; 32], vec![9; 32], "localhost", user)
                .unwrap();
        let flags = prelude_passkey::FLAG_UP | prelude_passkey::FLAG_UV;
        let att = cred.registration(&o.challenge, ORIGIN, flags).unwrap();
        *self.held.lock().unwrap() = Some((cred, 0));
        Ok(prelude_session::Attestation(att))
    }
    fn get_assertion(
        &self,
        o: &prelude_session::RequestOptions,
    ) -> prelude_session::Result<prelude_session::Assertion> {
        let t = Instant::now();
        let mut held = self.held.lock().unwrap();
        let (cred, n) = held.as_mut().unwrap();
        *n += 1;
        let flags = prelude_passkey::FLAG_UP | prelude_passkey::FLAG_UV;
        let a = cred.assertion(&o.challenge, ORIGIN, flags, *n);
        *self.signing.lock().unwrap() += t.elapsed();
        Ok(prelude_session::Assertion(a))
    }
}

const ORIGIN: &str = "https://localhost";

/// Configures passkeys and the rules the comparison uses through the management API.
async fn configure(emu: &Emulator) {
    let http = reqwest::Client::new();
    let rule = |scope: &str, key: &str, mode: &str| {
        serde_json::json!({"scope": scope, "mode": "direct",
            "direct": {"identifier_types": [], "status": "review", "grant_mode": mode,
                       "granted_for": 300,
                       "steps": [{"order": 1, "key": key, "expiration_duration": 300}]}})
    };
    for (path, body) in [
        (
            "/v2/session/apps/demo/config/stepup",
            serde_json::json!({"allowed_scopes": [
                rule("prld:passkey:write", "verify_sms", "session-bound"),
                rule("transfer:write", "verify_sms", "single-use"),
                rule("passkey:demo", "verify_passkey", "single-use"),
            ]}),
        ),
        (
            "/v2/session/apps/demo/config/passkey",
            serde_json::json!({"rp_id": "localhost", "rp_name": "bench",
                               "allowed_origins": [ORIGIN], "user_verification": "required"}),
        ),
    ] {
        let r = http
            .put(format!("{}{path}", emu.url()))
            .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

/// A signed-in client holding a registered passkey.
async fn passkey_client(emu: &Emulator, a: &BenchAuthenticator) -> SessionClient {
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
    let (_, done) = code_step_up(emu, &c, "prld:passkey:write").await;
    c.redeem_step_up(&done).await.unwrap();
    let reg = prelude_session::PasskeyRegistration {
        username: "+33612345678".into(),
        ..Default::default()
    };
    c.register_passkey(a, &reg).await.unwrap();
    c
}

/// request, otp, otp/check: each call's time, and the completed challenge.
async fn code_step_up(
    emu: &Emulator,
    c: &SessionClient,
    scope: &str,
) -> ([Duration; 3], prelude_session::StepUpChallenge) {
    let t = Instant::now();
    let ch = c.request_step_up(scope, None).await.unwrap();
    let request = t.elapsed();
    let t = Instant::now();
    c.send_step_up_otp(&ch).await.unwrap();
    let otp = t.elapsed();
    let code = emu.outbox().last().unwrap().code.clone();
    let t = Instant::now();
    let done = c.submit_step_up_otp(&ch, &code).await.unwrap();
    assert!(done.is_completed());
    ([request, otp, t.elapsed()], done)
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

/// Code step-up (request, otp, otp/check, refresh) beside the passkey step-up (request,
/// stepup/continue with the assertion, refresh), median milliseconds per request.
async fn compare_step_ups(emu: &Emulator) {
    configure(emu).await;
    let a = BenchAuthenticator {
        held: Mutex::new(None),
        signing: Mutex::new(Duration::ZERO),
    };
    let c = passkey_client(emu, &a).await;
    let runs = 25;
    let mut code: [Vec<Duration>; 5] = Default::default();
    let mut pk: [Vec<Duration>; 4] = Default::default();
    for _ in 0..runs {
        let t0 = Instant::now();
        let (parts, done) = code_step_up(emu, &c, "transfer:write").await;
        let t = Instant::now();
        c.redeem_step_up(&done).await.unwrap();
        let refresh = t.elapsed();
        for (i, d) in parts.into_iter().chain([refresh, t0.elapsed()]).enumerate() {
            code[i].push(d);
        }

        let t0 = Instant::now();
        let ch = c.request_step_up("passkey:demo", None).await.unwrap();
        let request = t0.elapsed();
        let t = Instant::now();
        let done = c.continue_step_up_with_passkey(&ch, &a).await.unwrap();
        let cont = t.elapsed();
        let t = Instant::now();
        c.redeem_step_up(&done).await.unwrap();
        let refresh = t.elapsed();
        for (i, d) in [request, cont, refresh, t0.elapsed()]
            .into_iter()
            .enumerate()
        {
            pk[i].push(d);
        }
    }
    let [c_req, c_otp, c_check, c_ref, c_total] = code.map(median);
    let [p_req, p_cont, p_ref, p_total] = pk.map(median);
    let signing = a.signing.lock().unwrap().as_secs_f64() * 1e3 / f64::from(runs);
    println!("code step-up (4 requests):    {c_total:>7.2} ms median of {runs}");
    println!(
        "  stepup/request {c_req:.2} · otp {c_otp:.2} · otp/check {c_check:.2} · refresh {c_ref:.2}"
    );
    println!(
        "passkey step-up (3 requests): {p_total:>7.2} ms median of {runs} ({:.2}x the code step-up)",
        p_total / c_total
    );
    println!(
        "  stepup/request {p_req:.2} · stepup/continue {p_cont:.2} (assertion {signing:.3} of it) · refresh {p_ref:.2}"
    );
    println!("  (the PIN's KDF is the app's, outside this library, and not counted)");
}

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
        "raw ES256 sign, p256:  {:>8.1} µs/op  (proof overhead {:.2}x)",
        raw.as_secs_f64() * 1e6,
        proof.as_secs_f64() / raw.as_secs_f64()
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let emu = Emulator::start(
            Config {
                resend_cooldown_secs: 0,
                log_codes: false,
                // One session opens every challenge of the comparison.
                max_open_challenges: 256,
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
        compare_step_ups(&emu).await;
        emu.shutdown().await;
    });
}
