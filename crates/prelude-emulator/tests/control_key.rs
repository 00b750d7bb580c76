//! The control plane and the management key: a key of one's own guards every `/emulator/v1`
//! route, and the public default key never serves beyond loopback.

mod common;

use common::*;
use prelude_emulator::{Config, Emulator};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const OWN: &str = "an-operator-key-of-its-own";

/// Every control route, with a body it accepts.
fn routes(scenario: &Value) -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/outbox", None),
        (Method::DELETE, "/outbox", None),
        (Method::POST, "/reset", None),
        (Method::GET, "/faults", None),
        (Method::PUT, "/faults", Some(json!({"delay_ms": 0}))),
        (Method::GET, "/clock", None),
        (Method::PUT, "/clock", Some(json!({"offset_secs": 0}))),
        (Method::GET, "/scenario", None),
        (Method::PUT, "/scenario", Some(scenario.clone())),
        (Method::GET, "/stats", None),
        (
            Method::POST,
            "/users",
            Some(
                json!({"identifiers": [{"type": "email_address", "value": "seeded@example.com"}]}),
            ),
        ),
    ]
}

async fn send(
    t: &T,
    (method, path, body): &(Method, &str, Option<Value>),
    auth: Option<&str>,
) -> reqwest::Response {
    let mut r = t
        .http
        .request(method.clone(), t.url(&format!("/emulator/v1{path}")));
    if let Some(b) = body {
        r = r.json(b);
    }
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn a_key_of_ones_own_guards_every_control_route() {
    let t = T::with(Config {
        management_key: OWN.into(),
        resend_cooldown_secs: 0,
        ..Config::default()
    })
    .await;
    let phone = json!({"identifier": {"type": "phone_number", "value": "+33612345678"}});
    assert_eq!(t.post("/otp", phone).await.status(), StatusCode::NO_CONTENT);
    let scenario = serde_json::to_value(t.emu.export_scenario()).unwrap();
    let faults = t.emu.faults();
    let wrong = format!("Bearer {}", prelude_emulator::DEFAULT_MANAGEMENT_KEY);
    let near = format!("Bearer {OWN}x");
    for route in routes(&scenario) {
        for auth in [None, Some(wrong.as_str()), Some(near.as_str())] {
            let r = send(&t, &route, auth).await;
            assert_eq!(
                code_of(r).await,
                (StatusCode::UNAUTHORIZED, "unauthorized".into()),
                "{} {} with {auth:?}",
                route.0,
                route.1
            );
        }
    }
    // Nothing was cleared, reset or switched (and no user seeded: the POST below makes one).
    assert_eq!(t.emu.outbox().len(), 1, "the code is still there");
    assert_eq!(t.emu.faults(), faults);

    let own = format!("Bearer {OWN}");
    for route in routes(&scenario) {
        let r = send(&t, &route, Some(own.as_str())).await;
        assert!(
            r.status().is_success(),
            "{} {}: {}",
            route.0,
            route.1,
            r.status()
        );
    }
    // The scheme is matched without regard to case here too.
    let r = send(
        &t,
        &(Method::GET, "/outbox", None),
        Some(&format!("BEARER {OWN}")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_public_default_key_on_loopback_leaves_the_control_plane_open() {
    let t = T::new().await;
    let scenario = serde_json::to_value(t.emu.export_scenario()).unwrap();
    for route in routes(&scenario) {
        let r = send(&t, &route, None).await;
        if route.1 == "/users" {
            // Seeding users decides who logs in as whom: it always takes the key.
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        } else {
            assert!(r.status().is_success(), "{} {}", route.0, route.1);
        }
    }
}

async fn start(cfg: Config, addr: &str) -> Result<Emulator, prelude_emulator::Error> {
    Emulator::start(cfg, addr.parse().unwrap()).await
}

#[tokio::test]
async fn the_public_key_is_refused_beyond_loopback() {
    let public = || Config::default();
    for (cfg, addr, named) in [
        (public(), "0.0.0.0:0", "listening on 0.0.0.0:0"),
        (public(), "[::]:0", "listening on [::]:0"),
        (
            Config {
                public_url: Some("https://emu.example".into()),
                ..public()
            },
            "127.0.0.1:0",
            "--public-url https://emu.example",
        ),
        (
            Config {
                allow_hosts: vec!["lab.local:4010".into()],
                ..public()
            },
            "127.0.0.1:0",
            "--allow-host lab.local:4010",
        ),
    ] {
        let Err(e) = start(cfg, addr).await else {
            panic!("{named}: started with the public key");
        };
        let said = e.to_string();
        for words in [named, "beyond this computer", "public", "--management-key"] {
            assert!(said.contains(words), "{said}");
        }
    }
    // Loopback names are loopback; a key of one's own may serve anywhere.
    for cfg in [
        Config {
            public_url: Some("http://localhost:4010".into()),
            ..public()
        },
        Config {
            allow_hosts: vec!["127.0.0.1".into(), "[::1]:4010".into()],
            ..public()
        },
    ] {
        start(cfg, "127.0.0.1:0").await.unwrap().shutdown().await;
    }
    let own = Config {
        management_key: OWN.into(),
        ..public()
    };
    start(own, "0.0.0.0:0").await.unwrap().shutdown().await;
}

#[tokio::test]
async fn a_key_that_cannot_be_sent_as_a_bearer_token_is_refused_at_start() {
    for key in [
        "",
        " own-key",
        "own key",
        "own-key\n",
        "clé",
        &"k".repeat(257),
    ] {
        let cfg = Config {
            management_key: key.into(),
            ..Config::default()
        };
        let Err(e) = start(cfg, "127.0.0.1:0").await else {
            panic!("{key:?} was accepted");
        };
        assert!(e.to_string().contains("management key"), "{e}");
    }
}

#[test]
fn the_binary_says_why_it_will_not_listen_beyond_loopback() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prelude-emulator"))
        .args(["--listen", "0.0.0.0:0"])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("default management key is public") && said.contains("--management-key"),
        "{said}"
    );
}
