mod common;

use common::*;
use prelude_session::{Error, Identifier};

#[tokio::test]
async fn login_by_phone_refresh_and_logout() {
    let emu = emulator().await;
    let c = client(&emu);
    let user = login(&emu, &c, PHONE).await;
    let sid = user.profile.session_id.clone().expect("sid claim");
    assert!(sid.starts_with("ses_"));
    assert!(user.profile.user_id.as_deref().unwrap().starts_with("usr_"));
    let msg = last_code(&emu);
    assert_eq!(msg.to, PHONE);
    assert_eq!(msg.channel, prelude_emulator::Channel::Sms);

    let again = c.refresh().await.unwrap();
    assert_eq!(again.profile.session_id.as_deref(), Some(sid.as_str()));
    assert_eq!(emu.state().request_count("/v1/session/refresh"), 1);

    c.logout().await.unwrap();
    assert!(c.profile().is_none());
    assert!(!c.has_stored_session().unwrap());
    assert!(matches!(c.refresh().await, Err(Error::Unauthorized { .. })));
    assert_eq!(emu.state().request_count("/v1/session/revoke"), 1);
}

#[tokio::test]
async fn login_by_email_goes_to_the_mailbox() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, "ada@example.com").await;
    let msg = last_code(&emu);
    assert_eq!(msg.channel, prelude_emulator::Channel::Email);
    assert_eq!(msg.to, "ada@example.com");
}

#[tokio::test]
async fn wrong_code_then_right_code() {
    let emu = emulator().await;
    let c = client(&emu);
    c.start_otp_login(&Identifier::parse(PHONE).unwrap())
        .await
        .unwrap();
    let right = last_code(&emu).code;
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    match c.check_otp(wrong).await {
        Err(Error::InvalidOtpCode { attempts_remaining }) => {
            assert_eq!(attempts_remaining, Some(4))
        }
        other => panic!("expected a wrong-code error, got {other:?}"),
    }
    c.check_otp(&right)
        .await
        .expect("the right code still works");
}

#[tokio::test]
async fn login_and_refresh_over_https_with_the_emulators_certificate() {
    let emu = emulator_with(prelude_emulator::Config {
        tls: true,
        ..prelude_emulator::Config::default()
    })
    .await;
    assert!(emu.url().starts_with("https://"));
    let mut cfg =
        prelude_session::ClientConfig::new(prelude_session::Endpoint::url(&emu.url()).unwrap());
    cfg.extra_root_pem = Some(emu.cert_pem().unwrap().as_bytes().to_vec());
    let c = prelude_session::SessionClient::new(
        cfg,
        std::sync::Arc::new(prelude_session::MemoryStore::new()),
    )
    .unwrap();
    login(&emu, &c, PHONE).await;
    c.refresh().await.expect("DPoP htu uses https");
    // Without the certificate, the connection is refused.
    let untrusted = client(&emu);
    assert!(matches!(
        untrusted
            .start_otp_login(&Identifier::parse(PHONE).unwrap())
            .await,
        Err(Error::Network(_))
    ));
}

#[tokio::test]
async fn resend_then_lockout_after_five_wrong_codes() {
    let emu = emulator().await;
    let c = client(&emu);
    c.start_otp_login(&Identifier::parse("ada@example.com").unwrap())
        .await
        .unwrap();
    assert!(
        matches!(c.resend_otp().await, Err(Error::RateLimited { .. })),
        "cooldown"
    );
    move_clock(&emu, 31);
    c.resend_otp().await.unwrap();
    assert_eq!(emu.outbox().len(), 2);
    let right = last_code(&emu).code;
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        assert!(matches!(
            c.check_otp(wrong).await,
            Err(Error::InvalidOtpCode { .. })
        ));
    }
    assert!(
        matches!(c.check_otp(&right).await, Err(Error::Unauthorized { .. })),
        "the right code is refused once the verification is dead"
    );
}

/// What the README says of `--print-access-token`: the token carries no `cnf`, so it is a
/// bearer secret that works from any program, with no proof and no key.
#[tokio::test]
async fn the_access_token_is_a_bearer_secret_usable_by_whoever_holds_it() {
    use secrecy::ExposeSecret;
    let emu = emulator().await;
    let c = client(&emu);
    let user = login(&emu, &c, PHONE).await;
    assert!(
        !user.profile.claims.contains_key("cnf"),
        "not bound to a key"
    );
    let token = c.access_token().expect("a fresh token");
    prelude_session::use_ring();
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/session/me/list", emu.url()))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "another program, no DPoP proof"
    );
}
