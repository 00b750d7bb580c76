//! The fault matrix (docs/acceptance-testing.md), row by row, for the rows whose truth is in
//! the backend: the app's session owner against a real emulator over loopback. Each test shows
//! the outcome a person meets: a clear, coded error, a retry that works, and no session or
//! approval lost. Rows whose truth is on screen are end-to-end tests (see the page's table).

use super::*;
use prelude_emulator::{Config, Faults};
use prelude_session::MemoryStore;
use std::collections::BTreeMap;
use std::net::SocketAddr;

fn cfg() -> Config {
    Config {
        resend_cooldown_secs: 0,
        ..Config::default()
    }
}

async fn backend_for(emu_url: String, store: Arc<MemoryStore>, dir: &std::path::Path) -> Backend {
    Backend::connect(
        Server::Url(emu_url),
        "matrix",
        Some(dir.to_owned()),
        Some(store as Arc<dyn SecretStore>),
    )
    .await
    .unwrap()
}

fn last_code(emu: &Emulator) -> String {
    emu.outbox().last().unwrap().code.clone()
}

async fn signed_in(emu: &Emulator, b: &mut Backend) {
    b.resume().await;
    b.start_login("+33612345678").await.unwrap();
    b.verify_login_code(&last_code(emu)).await.unwrap();
    assert!(b.signed_in());
}

/// A new emulator, and a backend with a memory store signed in to it; the dir holds the
/// backend's files.
async fn signed_in_fresh(tag: &str) -> (Emulator, Backend, PathBuf) {
    let emu = Emulator::start(cfg(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = temp_dir(&format!("matrix-{tag}"));
    let mut b = backend_for(emu.url(), Arc::new(MemoryStore::new()), &dir).await;
    signed_in(&emu, &mut b).await;
    (emu, b, dir)
}

fn transfer() -> Approval {
    Approval {
        scope: "transfer:write".into(),
        metadata: BTreeMap::from([("amount".into(), "500".into())]),
    }
}

fn stage(b: &Backend) -> Stage {
    b.view(None, "system".into()).stage
}

fn set(emu: &Emulator, f: Faults) {
    emu.state().set_faults(f);
}

/// Row 1: the server is down when the app starts. Sending a code fails clearly; once the
/// server is up, the same action works.
#[tokio::test]
async fn row_01_server_down_at_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let dir = temp_dir("matrix-down-at-start");
    let store = Arc::new(MemoryStore::new());
    let mut b = backend_for(format!("http://{addr}"), store, &dir).await;
    b.resume().await;
    assert_eq!(stage(&b), Stage::Login);
    let e = b.start_login("+33612345678").await.unwrap_err();
    assert_eq!(e.code(), "network", "{e}");
    assert_eq!(stage(&b), Stage::Login);
    let emu = Emulator::start(cfg(), addr).await.unwrap();
    b.start_login("+33612345678").await.unwrap();
    b.verify_login_code(&last_code(&emu)).await.unwrap();
    assert_eq!(stage(&b), Stage::Logged);
}

/// Row 2: the server goes down in the middle of a step-up. The code cannot be checked, the
/// approval stays open, and once the server is back the same code passes.
#[tokio::test]
async fn row_02_server_down_mid_step_up() {
    let dir = temp_dir("matrix-down-mid");
    let state = dir.join("emulator.json");
    let emu_cfg = || Config {
        state_file: Some(state.clone()),
        ..cfg()
    };
    let emu = Emulator::start(emu_cfg(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = emu.local_addr();
    let mut b = backend_for(emu.url(), Arc::new(MemoryStore::new()), &dir).await;
    signed_in(&emu, &mut b).await;
    b.request_step_up(transfer()).await.unwrap();
    let code = last_code(&emu);
    emu.shutdown().await;
    let e = b.verify_step_up_code(&code).await.unwrap_err();
    assert_eq!(e.code(), "network", "{e}");
    assert_eq!(stage(&b), Stage::StepUpOtp, "the approval is still open");
    let _emu = Emulator::start(emu_cfg(), addr).await.unwrap();
    b.verify_step_up_code(&code).await.unwrap();
    assert_eq!(stage(&b), Stage::Done);
}

/// Row 3: 5xx on /refresh while resuming. The stored session is kept (not wiped), the person
/// is told, and the next start resumes it.
#[tokio::test]
async fn row_03_server_error_on_refresh() {
    let emu = Emulator::start(cfg(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = temp_dir("matrix-refresh-5xx");
    let store = Arc::new(MemoryStore::new());
    let mut b = backend_for(emu.url(), store.clone(), &dir).await;
    signed_in(&emu, &mut b).await;
    set(
        &emu,
        Faults {
            fail_routes: vec!["/v1/session/refresh".into()],
            ..Faults::default()
        },
    );
    let mut again = backend_for(emu.url(), store.clone(), &dir).await;
    again.resume().await;
    let v = again.view(None, "system".into());
    assert_eq!(v.stage, Stage::Login);
    assert!(
        v.notice
            .as_deref()
            .is_some_and(|n| n.contains("to resume your session")),
        "{:?}",
        v.notice
    );
    set(&emu, Faults::default());
    let mut third = backend_for(emu.url(), store, &dir).await;
    third.resume().await;
    assert_eq!(stage(&third), Stage::Logged, "the session was not lost");
}

/// Row 4 at the backend: 5xx on the code check keeps the approval; the same code passes after.
#[tokio::test]
async fn row_04_server_error_on_code_check() {
    let emu = Emulator::start(cfg(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = temp_dir("matrix-check-5xx");
    let mut b = backend_for(emu.url(), Arc::new(MemoryStore::new()), &dir).await;
    signed_in(&emu, &mut b).await;
    b.request_step_up(transfer()).await.unwrap();
    let code = last_code(&emu);
    set(
        &emu,
        Faults {
            fail_routes: vec!["/v1/session/otp/check".into()],
            ..Faults::default()
        },
    );
    let e = b.verify_step_up_code(&code).await.unwrap_err();
    assert_eq!(e.code(), "internal");
    assert_eq!(stage(&b), Stage::StepUpOtp);
    set(&emu, Faults::default());
    b.verify_step_up_code(&code).await.unwrap();
    assert_eq!(stage(&b), Stage::Done);
}

/// Rows 6, 7 and 8: a nonce demanded mid-session, and the server clock 10 minutes ahead or
/// behind. Nothing shows: the client learns the nonce and the skew and retries once.
#[tokio::test]
async fn rows_06_to_08_nonce_and_clock_skew_mid_session() {
    for faults in [
        Faults {
            require_dpop_nonce: true,
            ..Faults::default()
        },
        Faults {
            clock_skew_secs: 600,
            ..Faults::default()
        },
        Faults {
            clock_skew_secs: -600,
            ..Faults::default()
        },
    ] {
        let emu = Emulator::start(cfg(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = temp_dir("matrix-nonce-skew");
        let mut b = backend_for(emu.url(), Arc::new(MemoryStore::new()), &dir).await;
        signed_in(&emu, &mut b).await;
        set(&emu, faults.clone());
        b.request_step_up(transfer())
            .await
            .unwrap_or_else(|e| panic!("{faults:?}: {e}"));
        b.verify_step_up_code(&last_code(&emu))
            .await
            .unwrap_or_else(|e| panic!("{faults:?}: {e}"));
        assert_eq!(stage(&b), Stage::Done, "{faults:?}");
    }
}

/// Row 9: the answer to a refresh is lost after the server rotated the refresh token, so the
/// next refresh presents the old one. The server cannot tell that from a stolen token being
/// replayed, and ends the session (reuse detection); the app says the session has ended and
/// asks to sign in again. It does not retry with the old token, and loses nothing else.
#[tokio::test]
async fn row_09_rotated_refresh_answer_lost() {
    let (emu, mut b, _dir) = signed_in_fresh("refresh-lost").await;
    set(
        &emu,
        Faults {
            lose_response_routes: vec!["/v1/session/refresh".into()],
            ..Faults::default()
        },
    );
    let e = b.session.client().refresh().await.unwrap_err();
    assert_eq!(e.code(), "network", "{e}");
    set(&emu, Faults::default());
    // The next refresh comes when the access token lapses; it presents the old token.
    emu.set_clock_offset(61).unwrap();
    let e = b.list_sessions().await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e}");
    b.note_failure(&e);
    let v = b.view(None, "system".into());
    assert_eq!(v.stage, Stage::Login);
    assert_eq!(
        v.notice.as_deref(),
        Some("Your session has ended. Sign in again.")
    );
    // Signing in again works at once.
    b.start_login("+33612345678").await.unwrap();
    b.verify_login_code(&last_code(&emu)).await.unwrap();
    assert_eq!(stage(&b), Stage::Logged);
}

/// Row 10: a refresh racing a logout. The logout wins: no session is left stored, and the
/// refresh does not bring one back.
#[tokio::test]
async fn row_10_refresh_racing_logout() {
    let emu = Emulator::start(cfg(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = temp_dir("matrix-race-logout");
    let store = Arc::new(MemoryStore::new());
    let mut b = backend_for(emu.url(), store.clone(), &dir).await;
    signed_in(&emu, &mut b).await;
    let c = b.session.client().clone();
    let (_refresh, logout) = tokio::join!(c.refresh(), b.logout());
    logout.unwrap();
    assert_eq!(stage(&b), Stage::Login);
    assert!(
        !b.session.client().has_stored_session().unwrap(),
        "nothing stored"
    );
    let mut again = backend_for(emu.url(), store, &dir).await;
    again.resume().await;
    assert_eq!(stage(&again), Stage::Login, "no session comes back");
}

/// Row 11: a refresh racing the completion of a step-up. Both settle on one session, which
/// carries the scope.
#[tokio::test]
async fn row_11_refresh_racing_step_up_completion() {
    let (emu, mut b, _dir) = signed_in_fresh("race-step-up").await;
    let session = b.session.client().session_id();
    b.request_step_up(transfer()).await.unwrap();
    let code = last_code(&emu);
    let c = b.session.client().clone();
    let (refresh, verify) = tokio::join!(c.refresh(), b.verify_step_up_code(&code));
    verify.unwrap();
    refresh.unwrap();
    assert_eq!(stage(&b), Stage::Done);
    let user = b.session.client().refresh().await.unwrap();
    assert!(
        user.profile.has_scope("transfer:write"),
        "the scope survived the race"
    );
    assert_eq!(
        b.session.client().session_id(),
        session,
        "one session throughout"
    );
}

/// Row 13 at the backend: a grant whose time is up (clock moved) is gone from the session.
#[tokio::test]
async fn row_13_expired_grant_leaves_the_session() {
    let (emu, mut b, _dir) = signed_in_fresh("grant-expired").await;
    b.request_step_up(transfer()).await.unwrap();
    b.verify_step_up_code(&last_code(&emu)).await.unwrap();
    let scopes = |b: &Backend| b.view(None, "system".into()).user.unwrap().scopes;
    assert!(scopes(&b).contains(&"transfer:write".to_owned()));
    emu.set_clock_offset(301).unwrap();
    b.session.client().refresh().await.unwrap();
    assert!(
        !scopes(&b).contains(&"transfer:write".to_owned()),
        "{:?}",
        scopes(&b)
    );
}

struct LockedStore;

impl SecretStore for LockedStore {
    fn get(
        &self,
        _: &str,
        _: prelude_session::store::Item,
    ) -> Result<Option<zeroize::Zeroizing<String>>, prelude_session::store::StoreError> {
        Err(prelude_session::store::StoreError(
            "the collection is locked".into(),
        ))
    }
    fn set(
        &self,
        _: &str,
        _: prelude_session::store::Item,
        _: &str,
    ) -> Result<(), prelude_session::store::StoreError> {
        Err(prelude_session::store::StoreError(
            "the collection is locked".into(),
        ))
    }
    fn delete(
        &self,
        _: &str,
        _: prelude_session::store::Item,
    ) -> Result<(), prelude_session::store::StoreError> {
        Err(prelude_session::store::StoreError(
            "the collection is locked".into(),
        ))
    }
}

/// Row 15: a keyring that stays locked. The person is told that the session will not be
/// remembered, and can still sign in and approve; nothing goes to a file.
#[tokio::test]
async fn row_15_locked_keyring() {
    let emu = Emulator::start(cfg(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = temp_dir("matrix-locked");
    let mut b = Backend::connect(
        Server::Url(emu.url()),
        "matrix",
        Some(dir.clone()),
        Some(Arc::new(LockedStore)),
    )
    .await
    .unwrap();
    signed_in(&emu, &mut b).await;
    let v = b.view(None, "system".into());
    assert!(
        v.store_warning
            .as_deref()
            .is_some_and(|w| w.contains("locked")),
        "{:?}",
        v.store_warning
    );
    b.request_step_up(transfer()).await.unwrap();
    b.verify_step_up_code(&last_code(&emu)).await.unwrap();
    assert_eq!(stage(&b), Stage::Done);
}

/// Row 21: the network drops the answer to a code submission. The server passed the step
/// once, spending the challenge token; the answer that carried the next token is gone, so the
/// retry with the same code is refused (`token_reused`) and cannot count twice. The app ends
/// that approval with "This approval was already used." and "Start again"; the session stays,
/// and the new approval is granted once.
#[tokio::test]
async fn row_21_answer_to_a_code_lost() {
    let (emu, mut b, _dir) = signed_in_fresh("flap").await;
    let session = b.session.client().session_id();
    b.request_step_up(transfer()).await.unwrap();
    let code = last_code(&emu);
    set(
        &emu,
        Faults {
            lose_response_routes: vec!["/v1/session/otp/check".into()],
            ..Faults::default()
        },
    );
    let e = b.verify_step_up_code(&code).await.unwrap_err();
    assert_eq!(e.code(), "network", "{e}");
    assert_eq!(stage(&b), Stage::StepUpOtp);
    set(&emu, Faults::default());
    let e = b.verify_step_up_code(&code).await.unwrap_err();
    assert_eq!(e.code(), "token_reused", "{e}");
    assert_eq!(
        stage(&b),
        Stage::Logged,
        "the approval ended; the session stays"
    );
    let user = b.session.client().refresh().await.unwrap();
    assert!(
        !user.profile.has_scope("transfer:write"),
        "nothing granted behind the person's back"
    );
    b.request_step_up(transfer()).await.unwrap();
    b.verify_step_up_code(&last_code(&emu)).await.unwrap();
    assert_eq!(stage(&b), Stage::Done);
    assert_eq!(b.session.client().session_id(), session);
}

/// Row 22: rate limited on resend. A clear code with the server's wait; the approval and its
/// code stay, and the code still passes.
#[tokio::test]
async fn row_22_rate_limited_on_resend() {
    let emu = Emulator::start(
        Config {
            resend_cooldown_secs: 30,
            ..Config::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = temp_dir("matrix-resend-429");
    let mut b = backend_for(emu.url(), Arc::new(MemoryStore::new()), &dir).await;
    signed_in(&emu, &mut b).await;
    emu.set_clock_offset(31).unwrap();
    b.request_step_up(transfer()).await.unwrap();
    let code = last_code(&emu);
    let e = b.resend_step_up_code().await.unwrap_err();
    assert_eq!(e.code(), "rate_limited", "{e}");
    assert_eq!(stage(&b), Stage::StepUpOtp);
    b.verify_step_up_code(&code).await.unwrap();
    assert_eq!(stage(&b), Stage::Done);
}

/// Row 5: an answer that never comes. After the client's 10 s the person reads "The server
/// did not answer in time" (`timeout`); the approval stays open and the code still passes.
#[tokio::test]
async fn row_05_an_answer_that_never_comes() {
    let (emu, mut b, _dir) = signed_in_fresh("timeout").await;
    b.request_step_up(transfer()).await.unwrap();
    let code = last_code(&emu);
    set(
        &emu,
        Faults {
            delay_ms: 12_000,
            ..Faults::default()
        },
    );
    let e = b.verify_step_up_code(&code).await.unwrap_err();
    assert_eq!(e.code(), "timeout", "{e}");
    assert_eq!(stage(&b), Stage::StepUpOtp);
    set(&emu, Faults::default());
    b.verify_step_up_code(&code).await.unwrap();
    assert_eq!(stage(&b), Stage::Done);
}

/// Row 14: too many wrong codes for one phone. After a code's five tries the app offers a new
/// code; ten wrong codes within the hour lock the phone (`too_many_attempts`), the right code
/// too; a quarter of an hour later it signs in.
#[tokio::test]
async fn row_14_lockout_after_too_many_wrong_codes() {
    let emu = Emulator::start(cfg(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = temp_dir("matrix-lockout");
    let mut b = backend_for(emu.url(), Arc::new(MemoryStore::new()), &dir).await;
    b.resume().await;
    b.start_login("+33612345678").await.unwrap();
    let wrong = |code: &str| if code == "000000" { "111111" } else { "000000" }.to_owned();
    let mut locked = None;
    for attempt in 1..=12 {
        let code = last_code(&emu);
        match b.verify_login_code(&wrong(&code)).await {
            Err(e) if e.code() == "too_many_attempts" => {
                locked = Some(attempt);
                break;
            }
            Err(e)
                if e.code() == "no_tries_left" || b.view(None, "system".into()).code_exhausted =>
            {
                b.resend_login_code().await.unwrap();
            }
            Err(e) => assert_eq!(e.code(), "invalid_otp_code", "{e}"),
            Ok(()) => panic!("a wrong code passed"),
        }
    }
    let at = locked.expect("locked out within twelve wrong codes");
    assert!(at >= 10, "locked after {at}");
    assert_eq!(stage(&b), Stage::Code);
    let right = last_code(&emu);
    let e = b.verify_login_code(&right).await.unwrap_err();
    assert!(
        ["too_many_attempts", "no_tries_left"].contains(&e.code().as_str()),
        "the right code is refused while locked: {e}"
    );
    emu.set_clock_offset(901).unwrap();
    b.resend_login_code().await.unwrap();
    b.verify_login_code(&last_code(&emu)).await.unwrap();
    assert_eq!(stage(&b), Stage::Logged);
}
