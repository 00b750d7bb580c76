//! The emulator under a hostile web page, a hostile client and a careless tester: each test
//! here failed on the emulator before it was hardened.

mod common;

use common::*;
use prelude_emulator::{Config, Faults};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

async fn get_with(t: &T, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut r = t.http.get(t.url(path));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn a_foreign_host_or_origin_reaches_nothing() {
    let t = T::new().await;
    let phone = json!({"identifier": {"type": "phone_number", "value": "+33612345678"}});
    assert_eq!(t.post("/otp", phone).await.status(), StatusCode::NO_CONTENT);
    // DNS rebinding: the page's own name in Host.
    for path in [
        "/emulator/v1/outbox",
        "/v1/session/me/list",
        "/.well-known/jwks.json",
    ] {
        let r = get_with(&t, path, &[("host", "evil.example")]).await;
        assert_eq!(
            code_of(r).await,
            (StatusCode::MISDIRECTED_REQUEST, "forbidden_host".into()),
            "{path}"
        );
    }
    // A page on another origin, even with a simple request that needs no preflight.
    let r = get_with(
        &t,
        "/emulator/v1/outbox",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::FORBIDDEN, "forbidden_origin".into())
    );
    let r = t
        .http
        .post(t.url("/emulator/v1/reset"))
        .header("origin", "https://evil.example")
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(t.emu.outbox().len(), 1, "the reset did not happen");
    // The emulator's own origin and plain tools (no Origin) still work.
    let own = t.emu.url();
    let r = get_with(&t, "/emulator/v1/outbox", &[("origin", own.as_str())]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = get_with(&t, "/emulator/v1/outbox", &[("host", "localhost")]).await;
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST, "another port");
    let port = t.emu.local_addr().port();
    let local = format!("localhost:{port}");
    let r = get_with(&t, "/emulator/v1/outbox", &[("host", local.as_str())]).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn seeding_users_takes_the_management_key() {
    let t = T::new().await;
    let body = json!({"identifiers": [
        {"type": "email_address", "value": "victim@example.com"},
        {"type": "phone_number", "value": "+33700000001"}]});
    let r = t
        .http
        .post(t.url("/emulator/v1/users"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );
    let r = t
        .http
        .post(t.url("/emulator/v1/users"))
        .bearer_auth("emu_mgmt_demo_kez")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a near miss");
    let r = t
        .http
        .post(t.url("/emulator/v1/users"))
        .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_embedded_emulator_serves_no_control_plane() {
    let t = T::with(Config {
        control_plane: false,
        management_key: "a-random-key-for-this-run".into(),
        ..Config::default()
    })
    .await;
    for path in ["/emulator/v1/outbox", "/emulator/v1/faults"] {
        let r = get_with(&t, path, &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = t
        .http
        .get(t.url("/v2/session/apps/demo/config/stepup"))
        .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the public key is not it"
    );
    // The frontend API is still there.
    let phone = json!({"identifier": {"type": "phone_number", "value": "+33612345678"}});
    assert_eq!(t.post("/otp", phone).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn fault_values_out_of_range_are_refused_and_repaired() {
    let dir = tempdir();
    let state = dir.join("state.json");
    let t = T::with_state(&state).await;
    for (body, field) in [
        (
            json!({"clock_skew_secs": 300_000_000_000i64}),
            "clock_skew_secs",
        ),
        (json!({"clock_skew_secs": -604_801}), "clock_skew_secs"),
        (json!({"delay_ms": 120_001}), "delay_ms"),
        (json!({"fail_routes": ["no-slash"]}), "fail_routes"),
    ] {
        let r = t.put_json("/emulator/v1/faults", &body).await;
        let (status, code) = (r.status(), r.json::<Value>().await.unwrap());
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(code["code"], "invalid_request");
        assert!(code["message"].as_str().unwrap().contains(field), "{code}");
    }
    let r = get_with(&t, "/.well-known/jwks.json", &[]).await;
    assert_eq!(r.status(), StatusCode::OK, "still serving");
    assert!(r.headers().contains_key("date"));
    let r = t
        .put_json("/emulator/v1/clock", &json!({"offset_secs": 700_000}))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    t.emu.shutdown().await;
    // A state file edited by hand with a wild value is repaired when it loads.
    let mut saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    saved["faults"]["clock_skew_secs"] = json!(300_000_000_000i64);
    saved["faults"]["delay_ms"] = json!(u64::MAX);
    std::fs::write(&state, saved.to_string()).unwrap();
    let emu = restart(&state).await;
    assert_eq!(emu.notices().len(), 2, "{:?}", emu.notices());
    assert_eq!(emu.state().data().faults, Faults::default());
    let r = reqwest::get(format!("{}/.well-known/jwks.json", emu.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    emu.shutdown().await;
}

#[tokio::test]
async fn proofs_with_extreme_or_foreign_values_are_refused() {
    let t = T::new().await;
    let key = Key::new(3);
    let (_, rt) = t.login(&key).await;
    let htu = t.htu("/refresh");
    for iat in [i64::MIN, i64::MAX, now() - 10_000] {
        let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
            "htu": htu, "iat": iat});
        let proof = key.sign_parts(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
            &claims,
        );
        let r = t.refresh(&key, &rt, Some(proof)).await;
        assert_eq!(
            code_of(r).await,
            (StatusCode::BAD_REQUEST, "invalid_dpop_proof".into()),
            "iat {iat}"
        );
    }
    // A proof made for another origin, even when Host claims to be that origin.
    let foreign = key.proof("POST", "http://evil.example/v1/session/refresh", None);
    let r = t
        .http
        .post(t.htu("/refresh"))
        .header("host", "evil.example")
        .header("x-refresh-token", &rt)
        .header("dpop", &foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
    let r = t.refresh(&key, &rt, Some(foreign)).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_dpop_proof".into())
    );
    // Under a loopback alias the proof names that alias, and the issuer stays ours.
    let port = t.emu.local_addr().port();
    let alias = format!("http://localhost:{port}/v1/session/refresh");
    let r = t
        .http
        .post(&alias)
        .header("x-refresh-token", &rt)
        .header("dpop", key.proof("POST", &alias, None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let at: Value = r.json().await.unwrap();
    let iss = claims_of(at["access_token"].as_str().unwrap())["iss"].clone();
    assert_eq!(iss, format!("127.0.0.1:{port}"));
}

#[tokio::test]
async fn a_second_code_within_the_cooldown_is_throttled() {
    let t = T::with(Config::default()).await;
    let phone = json!({"identifier": {"type": "phone_number", "value": "+33612345678"}});
    assert_eq!(
        t.post("/otp", phone.clone()).await.status(),
        StatusCode::NO_CONTENT
    );
    let r = t.post("/otp", phone.clone()).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "rate_limited");
    assert_eq!(t.emu.outbox().len(), 1);
    // Another identifier is not held up.
    let other = json!({"identifier": {"type": "phone_number", "value": "+33612345679"}});
    assert_eq!(t.post("/otp", other).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn wrong_codes_lock_the_identifier_out_across_verifications() {
    let t = T::with(Config {
        resend_cooldown_secs: 0,
        lockout_failures: 7,
        ..Config::default()
    })
    .await;
    let phone = json!({"identifier": {"type": "phone_number", "value": "+33612345678"}});
    let mut vt = String::new();
    // Five wrong codes end a verification; a new verification does not reset the count.
    for i in 0..7 {
        if i % 5 == 0 {
            let r = t.post("/otp", phone.clone()).await;
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            vt = verification_token(&r);
        }
        let r = t.check(&vt, "000000").await;
        let (status, code) = code_of(r).await;
        if i < 6 {
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::UNAUTHORIZED, "bad_check_code"),
                "try {i}"
            );
        } else {
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            );
        }
    }
    // Locked: no new code, and even the right one is refused.
    let r = t.post("/otp", phone.clone()).await;
    assert_eq!(code_of(r).await.1, "too_many_attempts");
    let right = t.emu.outbox().last().unwrap().code.clone();
    let r = t.check(&vt, &right).await;
    assert_eq!(code_of(r).await.1, "too_many_attempts");
    // The lockout ends with its time.
    let offset = 16 * 60;
    t.emu.state().set_clock_offset(offset);
    let r = t.post("/otp", phone).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn open_challenges_per_session_are_capped() {
    let t = T::with(Config {
        resend_cooldown_secs: 0,
        max_open_challenges: 3,
        ..Config::default()
    })
    .await;
    let (at, _) = t.login(&Key::new(4)).await;
    for _ in 0..3 {
        assert_eq!(t.request(&at, "transfer:write").await["status"], "review");
    }
    let r = t
        .http
        .post(t.htu("/stepup/request"))
        .bearer_auth(&at)
        .json(&json!({"scope": "transfer:write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "too_many_challenges".into())
    );
}

#[tokio::test]
async fn memory_stays_bounded() {
    let t = T::with(Config {
        resend_cooldown_secs: 0,
        outbox_cap: 3,
        ..Config::default()
    })
    .await;
    for i in 0..300 {
        let _ = get_with(&t, &format!("/random/{i}/{}", uuid::Uuid::new_v4()), &[]).await;
    }
    let stats: Value = get_with(&t, "/emulator/v1/stats", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["(unmatched)"], 300);
    assert!(stats.as_object().unwrap().len() < 5, "{stats}");
    for i in 0..5 {
        let id =
            json!({"identifier": {"type": "phone_number", "value": format!("+3361234560{i}")}});
        assert_eq!(t.post("/otp", id).await.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(t.emu.outbox().len(), 3, "the outbox keeps the newest");
    assert_eq!(t.emu.outbox()[2].to, "+33612345604");
    // Everything that has ended is forgotten.
    let key = Key::new(5);
    let (at, rt) = t.login(&key).await;
    t.request(&at, "transfer:write").await;
    let r = t.refresh(&key, &rt, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let app = t.emu.state();
    {
        let d = app.data();
        assert!(!d.verifications.is_empty() && !d.challenges.is_empty());
        assert!(!d.seen_jtis.is_empty() && !d.spent_login_tokens.is_empty());
    }
    // Spent refresh tokens are remembered for a day, for reuse detection; then only the
    // current one stays.
    let next_day = app.now() + 2 * 86_400;
    app.data().purge(next_day, &app.cfg);
    {
        let d = app.data();
        assert!(d.refresh_spent_at.is_empty());
        assert_eq!(d.refresh_index.len(), d.sessions.len());
        assert!(!d.sessions.is_empty());
    }
    let later = app.now() + 40 * 86_400;
    app.data().purge(later, &app.cfg);
    let d = app.data();
    assert!(d.verifications.is_empty());
    assert!(d.challenges.is_empty());
    assert!(d.seen_jtis.is_empty());
    assert!(d.spent_login_tokens.is_empty());
    assert!(d.sessions.is_empty(), "refresh tokens last 30 days");
    assert!(d.refresh_index.is_empty());
}

#[cfg(unix)]
#[tokio::test]
async fn the_state_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir().join("emu");
    let state = dir.join("state.json");
    let t = T::with_state(&state).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o600);
    assert_eq!(mode(&dir), 0o700);
    t.emu.shutdown().await;
    // An old world-readable file is tightened when it loads.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o644)).unwrap();
    let emu = restart(&state).await;
    assert_eq!(mode(&state), 0o600);
    emu.shutdown().await;
}

#[tokio::test]
async fn saves_are_coalesced_off_the_request_path() {
    let dir = tempdir();
    let state = dir.join("state.json");
    let t = T::with_state(&state).await;
    let before = std::fs::metadata(&state).unwrap().modified().unwrap();
    let faults = json!({"delay_ms": 1});
    for _ in 0..50 {
        let r = t.put_json("/emulator/v1/faults", &faults).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Written within about a second, compact, and the request did not wait for it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::metadata(&state).unwrap().modified().unwrap() == before {
        assert!(Instant::now() < deadline, "never saved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(!text.contains("\n "), "compact JSON");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["faults"]["delay_ms"], 1);
}

/// The binary, killed with SIGKILL while it writes, leaves a state file that loads.
#[cfg(unix)]
#[test]
fn kill_9_during_writes_never_corrupts_the_state() {
    let dir = tempdir();
    let state = dir.join("state.json");
    for round in 0..3 {
        let (mut child, base) = spawn_binary(&[
            "--resend-cooldown".as_ref(),
            "0".as_ref(),
            "--state".as_ref(),
            state.as_os_str(),
        ]);
        let addr = base.trim_start_matches("http://").to_owned();
        // Raw requests on one connection: a stream of writes until the kill.
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        let started = Instant::now();
        let mut i = 0u32;
        while started.elapsed() < Duration::from_millis(1_500 + 300 * round) {
            let body = format!(
                r#"{{"identifier":{{"type":"phone_number","value":"+3370{:07}"}}}}"#,
                i
            );
            let req = format!(
                "POST /v1/session/otp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(req.as_bytes()).unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).unwrap();
            i += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let text = std::fs::read(&state).unwrap();
        let v: Value = serde_json::from_slice(&text).expect("the state file parses after kill -9");
        assert!(
            v["outbox"].as_array().is_some_and(|o| !o.is_empty()),
            "round {round}"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "state.json")
        .collect();
    // A kill may leave one temp file; the next start removes it.
    assert!(leftovers.len() <= 1, "{leftovers:?}");
}

#[tokio::test]
async fn a_slow_client_is_cut_off_and_shutdown_does_not_wait_for_it() {
    let t = T::with(Config {
        header_timeout: Duration::from_millis(500),
        ..Config::default()
    })
    .await;
    let addr = t.emu.local_addr();
    let slow = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        started.elapsed()
    });
    let held = tokio::task::spawn_blocking(move || slow.join().unwrap())
        .await
        .unwrap();
    assert!(held < Duration::from_secs(5), "closed after {held:?}");
    // A client that never finishes its request does not hold up shutdown either.
    let mut stuck = std::net::TcpStream::connect(addr).unwrap();
    stuck
        .write_all(b"POST /v1/session/otp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    let started = Instant::now();
    t.emu.shutdown().await;
    assert!(
        started.elapsed() <= prelude_emulator::SHUTDOWN_LIMIT + Duration::from_secs(1),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert!(
        std::net::TcpListener::bind(addr).is_ok(),
        "the port is free"
    );
}

#[tokio::test]
async fn jwks_failures_are_cached_and_their_detail_stays_in_the_log() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A customer JWKS that counts its fetches and knows no key.
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { axum::Json(json!({"keys": []})) }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks = format!("http://{}/jwks.json", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let t = T::new().await;
    t.put_stepup(
        json!({"jwks_url": jwks, "allowed_scopes": [{"scope": "transfer:write",
        "mode": "direct", "direct": {"status": "review", "granted_for": 60,
        "grant_mode": "session-bound", "steps": [{"order": 1, "key": "check_in_app",
        "expiration_duration": 600}]}}]}),
    )
    .await;
    let key = Key::new(6);
    let (at, _) = t.login(&key).await;
    for _ in 0..3 {
        let ch = t.request(&at, "transfer:write").await["challenge_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let jti = claims_of(&ch)["jti"].as_str().unwrap().to_owned();
        let header = json!({"alg": "RS256", "kid": "unknown-kid", "typ": "JWT"});
        let vt = format!(
            "{}.{}.c2ln",
            common::b64(&header.to_string()),
            common::b64("{}")
        );
        let claims = json!({"jti": jti, "htm": "POST",
            "htu": t.htu("/stepup/continue"), "iat": now()});
        let proof = key.sign_parts(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}),
            &claims,
        );
        let r = t
            .http
            .post(t.htu("/stepup/continue"))
            .bearer_auth(&at)
            .header("dpop", proof)
            .json(&json!({"challenge_token": ch, "verification_token": vt}))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "invalid_verification_token", "{body}");
        let msg = body["message"].as_str().unwrap();
        assert!(!msg.contains("127.0.0.1") && !msg.contains("kid"), "{msg}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "fetched once, then cached");
}
