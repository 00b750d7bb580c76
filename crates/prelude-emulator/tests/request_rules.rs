//! How the emulator reads the framing of a request: auth schemes and media types without
//! regard to case, and a frontend body that is not JSON refused before anything happens.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn auth_schemes_are_matched_without_regard_to_case() {
    let t = T::new().await;
    let key = Key::new(5);
    let (at, _) = t.login(&key).await;
    for scheme in ["Bearer", "BEARER", "bearer", "bEaReR"] {
        for sep in [" ", "  ", "\t"] {
            let r = t
                .http
                .get(t.htu("/me/list"))
                .header("authorization", format!("{scheme}{sep}{at}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{scheme:?}{sep:?}");
        }
    }
    // Another scheme, a scheme run into its token, or two headers: still refused.
    for bad in [
        format!("Basic {at}"),
        format!("Bearer{at}"),
        "Bearer ".into(),
    ] {
        let r = t
            .http
            .get(t.htu("/me/list"))
            .header("authorization", bad.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad:?}");
    }
    let r = t
        .http
        .get(t.htu("/me/list"))
        .header("authorization", format!("Bearer {at}"))
        .header("authorization", format!("Bearer {at}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "two Authorization headers"
    );

    // The management key, on the management API and the control plane.
    let mgmt = prelude_emulator::DEFAULT_MANAGEMENT_KEY;
    let r = t
        .http
        .get(t.url("/v2/session/apps/demo/config/stepup"))
        .header("authorization", format!("BEARER {mgmt}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = t
        .http
        .post(t.url("/emulator/v1/users"))
        .header("authorization", format!("bearer {mgmt}"))
        .json(&json!({"identifiers": [{"type": "email_address", "value": "case@example.com"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_dpop_typ_is_a_media_type_matched_without_regard_to_case() {
    let t = T::new().await;
    let key = Key::new(6);
    let htu = t.htu("/login/finalize");
    for (typ, ok) in [
        ("DPoP+JWT", true),
        ("application/dpop+jwt", true),
        ("Application/DPOP+jwt", true),
        ("jwt", false),
        ("text/dpop+jwt", false),
    ] {
        let ct = t.challenge("+33612345678").await;
        let claims = json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
            "htu": htu, "iat": now()});
        let proof = key.sign_parts(
            &json!({"typ": typ, "alg": "ES256", "jwk": key.jwk()}),
            &claims,
        );
        let r = t
            .http
            .post(&htu)
            .header("dpop", proof)
            .json(&json!({"challenge_token": ct}))
            .send()
            .await
            .unwrap();
        if ok {
            assert_eq!(r.status(), StatusCode::OK, "{typ}");
        } else {
            assert_eq!(
                code_of(r).await,
                (StatusCode::BAD_REQUEST, "invalid_dpop_proof".into()),
                "{typ}"
            );
        }
    }
}

/// Every frontend POST, with a body its route would otherwise read.
const FRONTEND_POSTS: [&str; 13] = [
    "/otp",
    "/otp/retry",
    "/otp/check",
    "/login/finalize",
    "/login/otp",
    "/login/otp/retry",
    "/login/otp/check",
    "/refresh",
    "/revoke",
    "/stepup/request",
    "/stepup/continue",
    "/me/revoke",
    "/otp?x=1",
];

#[tokio::test]
async fn a_frontend_body_that_is_not_json_is_refused_before_anything_happens() {
    let t = T::new().await;
    let body = r#"{"identifier": {"type": "phone_number", "value": "+33612345678"}}"#;
    // What a page may send without a preflight, and a body that says nothing of its type.
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
        None,
    ] {
        for route in FRONTEND_POSTS {
            let mut r = t.http.post(t.htu(route)).body(body);
            if let Some(ct) = content_type {
                r = r.header("content-type", ct);
            }
            let r = r.send().await.unwrap();
            assert!(r.headers().get("x-verification-token").is_none());
            assert!(r.headers().get("set-cookie").is_none());
            assert_eq!(
                code_of(r).await,
                (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type".into()
                ),
                "{route} as {content_type:?}"
            );
        }
    }
    assert!(t.emu.outbox().is_empty(), "no code went out");
    // Two Content-Type headers are as good as none.
    let r = t
        .http
        .post(t.htu("/otp"))
        .header("content-type", "application/json")
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(t.emu.outbox().is_empty(), "no code went out");
}

#[tokio::test]
async fn json_in_any_case_and_bodies_of_nothing_pass() {
    let t = T::new().await;
    let body = r#"{"identifier": {"type": "phone_number", "value": "+33612345678"}}"#;
    for ct in [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "APPLICATION/JSON ; Charset=\"UTF-8\"",
    ] {
        let r = t
            .http
            .post(t.htu("/otp"))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{ct}");
    }
    assert_eq!(t.emu.outbox().len(), 4);
    // No body, or whitespace only, needs no type: the route itself answers.
    let vt = verification_token(&t.post("/otp", serde_json::from_str(body).unwrap()).await);
    for (ct, blank) in [
        (Some("text/plain"), ""),
        (None, ""),
        (Some("text/plain"), " \r\n\t "),
        (None, "\n"),
    ] {
        let mut r = t
            .http
            .post(t.htu("/otp/retry"))
            .header("x-verification-token", &vt)
            .body(blank);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{ct:?} {blank:?}");
    }
    // A blank body reads as `{}`, which /otp refuses for what it lacks, not for its type.
    let r = t
        .http
        .post(t.htu("/otp"))
        .header("content-type", "text/plain")
        .body("  ")
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(r).await.0, StatusCode::BAD_REQUEST);
    // The web SDK 0.6 sends its bodiless POSTs as JSON: that passes too.
    let r = t
        .http
        .post(t.htu("/otp/retry"))
        .header("content-type", "application/json")
        .header("x-verification-token", &vt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // A GET carries no body to check.
    let r = t
        .http
        .get(t.url("/.well-known/jwks.json"))
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

// The stand-in for the customer's backend listens on loopback inside the app: the same guard.

#[tokio::test]
async fn the_customer_backend_takes_the_emulators_guard() {
    use prelude_emulator::customer::{CustomerBackend, KEPT_CALLS};
    let customer = CustomerBackend::start(json!({"status": "block"}))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let hook = customer.hook_url();
    let call = |body: String| {
        http.post(&hook)
            .header("content-type", "application/json")
            .body(body)
    };
    // DNS rebinding: the page's own name in Host, on the hook and on the JWKS.
    let r = call("{}".into())
        .header("host", "rebind.evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::MISDIRECTED_REQUEST, "forbidden_host".into())
    );
    let r = http
        .get(customer.jwks_url())
        .header("host", "rebind.evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
    // A page of another origin, and a simple request's type.
    let r = call("{}".into())
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::FORBIDDEN, "forbidden_origin".into())
    );
    let r = http
        .post(&hook)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // 2 MB is refused before it is kept.
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = call(big).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(customer.calls().is_empty(), "nothing refused was kept");

    // Its own Host, in any case, and a JSON type with parameters.
    let r = http
        .post(&hook)
        .header("content-type", "Application/JSON; charset=utf-8")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http.get(customer.jwks_url()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Many calls: only the newest few are kept.
    for i in 0..60 {
        let r = call(json!({ "n": i }).to_string()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let kept = customer.calls();
    assert_eq!(kept.len(), KEPT_CALLS);
    let n = |c: &prelude_emulator::customer::HookCall| {
        serde_json::from_slice::<serde_json::Value>(&c.body).unwrap()["n"].as_i64()
    };
    assert_eq!(n(kept.last().unwrap()), Some(59), "the newest is kept");
    assert_eq!(n(&kept[0]), Some(60 - KEPT_CALLS as i64), "oldest go first");
}

/// Writes `head` to the customer backend and waits (on the test's paused clock) for the
/// connection to be answered or closed; `None` when it is still held a minute later.
async fn held(addr: &str, head: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(60), s.read(&mut buf))
        .await
        .ok()?
        .unwrap_or(0);
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

// A client that sends its headers or its body a byte at a time holds nothing for long: the
// emulator's header and body timeouts apply to the customer backend too. The clock is
// paused, so the timeouts pass at once.
#[tokio::test(start_paused = true)]
async fn the_customer_backend_cuts_off_slow_clients() {
    use prelude_emulator::customer::CustomerBackend;
    let customer = CustomerBackend::start(json!({"status": "block"}))
        .await
        .unwrap();
    let url = customer.hook_url();
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/hook")
        .to_owned();
    let head = format!(
        "POST /hook HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 60000\r\n\r\n{{\"pad\": \""
    );
    let answer = held(&addr, &head)
        .await
        .expect("a body that never ends is cut off");
    assert!(
        answer.starts_with("HTTP/1.1 4") && answer.contains("timeout"),
        "{answer:?}"
    );
    let answer = held(&addr, &format!("POST /hook HTTP/1.1\r\nhost: {addr}\r\n"))
        .await
        .expect("headers that never end are cut off");
    assert!(!answer.starts_with("HTTP/1.1 2"), "{answer:?}");
    assert!(customer.calls().is_empty());
}
