//! Refresh coalescing, nonce and clock-skew retries, races and failures, against the emulator.

mod common;

use common::*;
use prelude_emulator::Faults;
use prelude_session::{Error, RevokeTarget};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_refreshes_make_one_request() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    // The one refresh stays in flight long enough for every call to start while it is.
    emu.state().set_faults(Faults {
        delay_ms: 300,
        ..Faults::default()
    });
    let before = emu.state().request_count("/v1/session/refresh");
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.refresh().await })
        })
        .collect();
    let mut sids = std::collections::HashSet::new();
    for t in tasks {
        let user = t
            .await
            .unwrap()
            .expect("every caller gets the refreshed user");
        sids.insert(user.profile.session_id.unwrap());
    }
    assert_eq!(sids.len(), 1);
    assert_eq!(emu.state().request_count("/v1/session/refresh") - before, 1);
}

#[tokio::test]
async fn a_nonce_demanded_mid_session_is_learned_and_kept() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    emu.state().set_faults(Faults {
        require_dpop_nonce: true,
        ..Faults::default()
    });
    let before = emu.state().request_count("/v1/session/refresh");
    c.refresh().await.expect("one retry with the nonce");
    assert_eq!(emu.state().request_count("/v1/session/refresh") - before, 2);
    c.refresh().await.unwrap();
    assert_eq!(
        emu.state().request_count("/v1/session/refresh") - before,
        3,
        "the nonce was kept: no second retry"
    );
}

#[tokio::test]
async fn server_clock_ten_minutes_off_either_way() {
    for shift in [600, -600] {
        let emu = emulator().await;
        let c = client(&emu);
        login(&emu, &c, PHONE).await;
        emu.state().set_faults(Faults {
            clock_skew_secs: shift,
            ..Faults::default()
        });
        let before = emu.state().request_count("/v1/session/refresh");
        c.refresh()
            .await
            .unwrap_or_else(|e| panic!("shift {shift}: {e}"));
        assert_eq!(
            emu.state().request_count("/v1/session/refresh") - before,
            2,
            "one skew retry"
        );
        c.refresh().await.unwrap();
        assert_eq!(
            emu.state().request_count("/v1/session/refresh") - before,
            3,
            "skew remembered"
        );
        // Step-up proofs use the learned skew too.
        let ch = c.request_step_up("transfer:write", None).await.unwrap();
        c.send_step_up_otp(&ch).await.unwrap();
        let done = c
            .submit_step_up_otp(&ch, &last_code(&emu).code)
            .await
            .unwrap();
        c.redeem_step_up(&done).await.unwrap();
    }
}

#[tokio::test]
async fn a_learned_skew_is_dropped_when_the_server_clock_is_set_back() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    emu.state().set_faults(Faults {
        clock_skew_secs: 660,
        ..Faults::default()
    });
    c.refresh().await.expect("skew learned");
    // Back to real time: the skew learned above is stale, and one retry drops it.
    emu.state().set_faults(Faults::default());
    let before = emu.state().request_count("/v1/session/refresh");
    c.refresh()
        .await
        .expect("the stale skew is dropped, not fatal");
    assert_eq!(
        emu.state().request_count("/v1/session/refresh") - before,
        2,
        "one retry"
    );
    c.refresh().await.unwrap();
    assert_eq!(
        emu.state().request_count("/v1/session/refresh") - before,
        3,
        "no skew any more"
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_and_the_call_replayed() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    // The server's clock passes the 60 s token's expiry; the client's does not know yet.
    move_clock(&emu, 61);
    let before = emu.state().request_count("/v1/session/refresh");
    let list = c.list_sessions(None, None).await.unwrap();
    assert_eq!(list.total, 1);
    assert_eq!(emu.state().request_count("/v1/session/refresh") - before, 1);
    assert_eq!(
        emu.state().request_count("/v1/session/me/list"),
        2,
        "one 401, one replay"
    );
}

#[tokio::test]
async fn logout_racing_a_refresh_wins() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    emu.state().set_faults(Faults {
        delay_ms: 300,
        ..Faults::default()
    });
    let before = emu.state().request_count("/v1/session/refresh");
    let r = c.clone();
    let refresh = tokio::spawn(async move { r.refresh().await });
    // The refresh is at the server (held by the delay) when the logout starts.
    arrived(&emu, "/v1/session/refresh", before, 1).await;
    c.logout().await.unwrap();
    let _ = refresh.await.unwrap();
    assert!(
        c.profile().is_none(),
        "the refresh must not bring the session back"
    );
    assert!(!c.has_stored_session().unwrap());
    emu.state().set_faults(Faults::default());
    assert!(matches!(c.refresh().await, Err(Error::Unauthorized { .. })));
}

#[tokio::test]
async fn list_and_revoke_sessions() {
    let emu = emulator().await;
    let a = client(&emu);
    let b = client(&emu);
    login(&emu, &a, PHONE).await;
    move_clock(&emu, 31);
    login(&emu, &b, PHONE).await;
    let list = a.list_sessions(Some(10), Some(0)).await.unwrap();
    assert_eq!(list.total, 2);
    assert!(matches!(
        a.revoke_sessions(RevokeTarget::Session(String::new().into()))
            .await,
        Err(Error::InvalidInput(_))
    ));
    a.revoke_sessions(RevokeTarget::Others).await.unwrap();
    assert!(b.refresh().await.is_err());
    assert_eq!(a.list_sessions(None, None).await.unwrap().total, 1);
    a.revoke_sessions(RevokeTarget::Mine).await.unwrap();
    assert!(
        a.profile().is_none(),
        "revoking its own session wipes the client"
    );
    assert!(!a.has_stored_session().unwrap());
}

#[tokio::test]
async fn an_internal_error_surfaces_as_internal() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    emu.state().set_faults(Faults {
        fail_routes: vec!["/v1/session/stepup/request".into()],
        ..Faults::default()
    });
    let e = c.request_step_up("transfer:write", None).await.unwrap_err();
    assert!(matches!(e, Error::Internal { .. }), "{e:?}");
    assert!(e.is_transient());
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let emu = emulator().await;
    let mut cfg =
        prelude_session::ClientConfig::new(prelude_session::Endpoint::url(&emu.url()).unwrap());
    cfg.timeout = Duration::from_millis(300);
    let c = prelude_session::SessionClient::new(cfg, Arc::new(prelude_session::MemoryStore::new()))
        .unwrap();
    emu.state().set_faults(Faults {
        delay_ms: 1500,
        ..Faults::default()
    });
    let e = c
        .start_otp_login(&prelude_session::Identifier::parse(PHONE).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout), "{e:?}");
}

#[tokio::test]
async fn an_expired_challenge_is_refused_before_the_network() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    let mut ch = c.request_step_up("transfer:write", None).await.unwrap();
    c.send_step_up_otp(&ch).await.unwrap();
    ch.expires_at = Some(1);
    let before = emu.state().request_count("/v1/session/otp/check");
    assert!(matches!(
        c.submit_step_up_otp(&ch, "123456").await,
        Err(Error::ExpiredChallengeToken)
    ));
    assert_eq!(emu.state().request_count("/v1/session/otp/check"), before);
}

#[tokio::test]
async fn concurrent_challenges_do_not_share_state() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    let first = c.request_step_up("transfer:write", None).await.unwrap();
    let second = c.request_step_up("transfer:write", None).await.unwrap();
    assert_ne!(first.challenge_id, second.challenge_id);
    c.send_step_up_otp(&first).await.unwrap();
    let code_first = last_code(&emu).code;
    c.send_step_up_otp(&second).await.unwrap();
    let code_second = last_code(&emu).code;
    for (ch, code) in [(&first, &code_first), (&second, &code_second)] {
        let done = c.submit_step_up_otp(ch, code).await.unwrap();
        assert!(done.is_completed());
        c.redeem_step_up(&done).await.unwrap();
    }
}

#[tokio::test]
async fn metadata_limits_are_checked_locally() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    let before = emu.state().request_count("/v1/session/stepup/request");
    let too_long = std::collections::BTreeMap::from([("amount".to_owned(), "9".repeat(33))]);
    assert!(matches!(
        c.request_step_up("transfer:write", Some(too_long)).await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(
        emu.state().request_count("/v1/session/stepup/request"),
        before
    );
}
