//! Passkey sign-in over loopback HTTP: a session opens, every refusal is a deliberate 401, and
//! refused sign-ins lock the address out for a while.

mod common;
mod passkey_env;

use common::*;
use passkey_env::*;
use prelude_passkey::{FLAG_UP, FLAG_UV, b64};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Sign-in with a passkey, then `login/finalize`; every refusal is a deliberate 401.
#[tokio::test]
async fn passkey_sign_in_opens_a_session_and_refuses_with_401() {
    let mut e = Env::new("required").await;
    let r = e.t.post("/login/passkey/begin", json!({})).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::FORBIDDEN, "passkey_not_configured".into())
    );
    let mut cfg = config("required");
    cfg["login_enabled"] = json!(true);
    cfg["granted_scopes"] = json!(["profile:read"]);
    assert_eq!(e.t.put_mgmt(MGMT, &cfg).await.status(), StatusCode::OK);
    e.write_scope().await;
    let (options, token) = e.begin().await;
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    let cred = authenticator(20, "localhost", options["user"]["id"].as_str().unwrap());
    let att = cred
        .registration(
            options["challenge"].as_str().unwrap(),
            ORIGIN,
            FLAG_UP | FLAG_UV,
        )
        .unwrap();
    assert_eq!(e.finish(&token, &att).await.status(), StatusCode::OK);
    let user = str_of(&claims_of(&e.at), "sub");

    let (token, challenge) = e.login_begin().await;
    let r = e
        .login_finish(
            &token,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 1),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let ct = str_of(&r.json::<Value>().await.unwrap(), "challenge_token");
    assert_eq!(claims_of(&ct)["grant_mode"], "session-start");
    let device = Key::new(21);
    let r =
        e.t.http
            .post(e.t.htu("/login/finalize"))
            .header(
                "dpop",
                device.proof("POST", &e.t.htu("/login/finalize"), None),
            )
            .json(&json!({"challenge_token": ct}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let at = claims_of(&str_of(&r.json::<Value>().await.unwrap(), "access_token"));
    assert_eq!(at["sub"], user);
    assert_eq!(at["scope"], "profile:read");
    assert_eq!(at["has_passkey"], true);
    // The login token was spent.
    let r = e
        .login_finish(
            &token,
            &cred.assertion(&challenge, ORIGIN, FLAG_UP | FLAG_UV, 2),
        )
        .await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".into())
    );

    type Make<'a> = Box<dyn Fn(&str) -> prelude_passkey::AuthenticationResponse + 'a>;
    let refused: Vec<(&str, Make)> = vec![
        (
            "no userHandle",
            Box::new(|ch| {
                let mut a = cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 3);
                a.response.user_handle = None;
                a
            }),
        ),
        (
            "origin",
            Box::new(|ch| cred.assertion(ch, "https://evil.example", FLAG_UP | FLAG_UV, 3)),
        ),
        ("UV", Box::new(|ch| cred.assertion(ch, ORIGIN, FLAG_UP, 3))),
        (
            "unknown credential",
            Box::new(|ch| {
                authenticator(22, "localhost", &b64(cred.user_handle())).assertion(
                    ch,
                    ORIGIN,
                    FLAG_UP | FLAG_UV,
                    3,
                )
            }),
        ),
        (
            "counter backwards",
            Box::new(|ch| cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 1)),
        ),
        (
            "blocked",
            Box::new(|ch| cred.assertion(ch, ORIGIN, FLAG_UP | FLAG_UV, 9)),
        ),
    ];
    for (name, make) in refused {
        let (token, challenge) = e.login_begin().await;
        let r = e.login_finish(&token, &make(&challenge)).await;
        assert_eq!(
            code_of(r).await,
            (StatusCode::UNAUTHORIZED, "unauthorized".into()),
            "{name}"
        );
    }
}

/// Refused sign-ins count against the client address until it is locked out for a while.
#[tokio::test]
async fn refused_sign_ins_lock_the_address_out() {
    let e = Env::new("required").await;
    let mut cfg = config("required");
    cfg["login_enabled"] = json!(true);
    assert_eq!(e.t.put_mgmt(MGMT, &cfg).await.status(), StatusCode::OK);
    let mut locked = false;
    for _ in 0..20 {
        let r = e.login_finish("no-such-token", &json!({})).await;
        match r.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers().contains_key("retry-after"));
                locked = true;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(locked, "the address is locked out");
    let r = e.t.post("/login/passkey/begin", json!({})).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into())
    );
}
