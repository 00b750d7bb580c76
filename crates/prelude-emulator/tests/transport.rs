//! Over real loopback sockets: CORS for browser origins, HTTPS with the emulator's own
//! certificate, and a silent TLS client.

mod common;

use common::*;
use prelude_emulator::{Config, Emulator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

async fn preflight(t: &T, path: &str, origin: &str, method: &str) -> reqwest::header::HeaderMap {
    let r = t
        .http
        .request(reqwest::Method::OPTIONS, t.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "dpop,x-refresh-token,content-type",
        )
        .send()
        .await
        .unwrap();
    r.headers().clone()
}

#[tokio::test]
async fn cors_goes_to_loopback_and_named_origins_only() {
    let t = T::with(Config {
        cors_origins: vec!["https://app.example.com".into()],
        ..Config::default()
    })
    .await;
    // A named origin: allowed, with credentials, DPoP headers accepted and exposed.
    let h = preflight(&t, "/v1/session/refresh", "https://app.example.com", "POST").await;
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("dpop")
    );
    let r = t
        .http
        .post(t.htu("/otp"))
        .header("origin", "https://app.example.com")
        .json(&json!({"identifier": {"type": "phone_number", "value": "+33699999999"}}))
        .send()
        .await
        .unwrap();
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for h in [
        "x-refresh-token",
        "x-refresh-token-expires-at",
        "dpop-nonce",
        "x-verification-token",
    ] {
        assert!(exposed.contains(h), "{h} not exposed: {exposed}");
    }
    // A loopback dev server: allowed, but never with credentials.
    let h = preflight(&t, "/v1/session/refresh", "http://localhost:5173", "POST").await;
    assert_eq!(h["access-control-allow-origin"], "http://localhost:5173");
    assert!(!h.contains_key("access-control-allow-credentials"));
    // Any other origin: nothing granted, on any route.
    for path in [
        "/v1/session/refresh",
        "/emulator/v1/faults",
        "/v2/session/apps/demo/config/stepup",
    ] {
        let h = preflight(&t, path, "https://evil.example", "PUT").await;
        assert!(!h.contains_key("access-control-allow-origin"), "{path}");
        assert!(
            !h.contains_key("access-control-allow-credentials"),
            "{path}"
        );
    }
    // The control plane grants no loopback page either, unless named.
    let h = preflight(&t, "/emulator/v1/faults", "http://localhost:5173", "PUT").await;
    assert!(!h.contains_key("access-control-allow-origin"));
    let h = preflight(&t, "/emulator/v1/faults", "https://app.example.com", "PUT").await;
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert!(!h.contains_key("access-control-allow-credentials"));
}

/// An HTTPS client that trusts the emulator's self-signed certificate.
fn trusting(pem: &str, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .timeout(timeout)
        .build()
        .unwrap()
}

#[tokio::test]
async fn tls_serves_https_and_writes_its_certificate() {
    let dir = std::env::temp_dir().join(format!("emu-tls-{}", std::process::id()));
    let out = dir.join("cert.pem");
    let emu = Emulator::start(
        Config {
            tls: true,
            cert_out: Some(out.clone()),
            ..Config::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let pem = std::fs::read_to_string(&out).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let http = trusting(&pem, Duration::from_secs(10));
    let r = http
        .get(format!("{}/.well-known/step-up-jwks.json", emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let jwks: Value = r.json().await.unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert!(
        reqwest::get(format!("{}/.well-known/jwks.json", emu.url()))
            .await
            .is_err(),
        "untrusted without the certificate"
    );
    emu.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_certificate_names_the_public_url_and_every_allowed_host() {
    // What `--ca-file` is for: a standalone emulator reached by a name of another machine.
    let emu = Emulator::start(
        Config {
            tls: true,
            public_url: Some("https://emu.test".into()),
            allow_hosts: vec!["Lab.Test".into(), "box.test:8443".into()],
            // Names beyond loopback need a management key of one's own.
            management_key: "a-key-of-our-own".into(),
            ..Config::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let addr = emu.local_addr();
    let pem = emu.cert_pem().unwrap();
    for name in ["emu.test", "lab.test", "box.test", "localhost"] {
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .resolve(name, addr)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let r = http
            .get(format!(
                "https://{name}:{}/.well-known/jwks.json",
                addr.port()
            ))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        // box.test is allowed at port 8443 only: TLS passes, the Host guard answers.
        let want = if name == "box.test" {
            StatusCode::MISDIRECTED_REQUEST
        } else {
            StatusCode::OK
        };
        assert_eq!(r.status(), want, "{name}");
    }
    // A name the emulator does not answer to is not in its certificate either.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .resolve("other.test", addr)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = http
        .get(format!("https://other.test:{}/", addr.port()))
        .send()
        .await;
    assert!(r.is_err(), "hostname verification fails for other.test");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_silent_tls_client_holds_up_nobody_and_shutdown_frees_the_port() {
    let emu = Emulator::start(
        Config {
            tls: true,
            ..Config::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let addr = emu.local_addr();
    // Connects and never says a word: its handshake can only end by the 5 s limit.
    let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let http = trusting(emu.cert_pem().unwrap(), Duration::from_secs(3));
    let r = http
        .get(format!("{}/.well-known/jwks.json", emu.url()))
        .send()
        .await
        .expect("served while another client's handshake is pending");
    assert_eq!(r.status(), StatusCode::OK);
    emu.shutdown().await;
    tokio::net::TcpListener::bind(addr)
        .await
        .expect("the port is free once the emulator has stopped");
}
