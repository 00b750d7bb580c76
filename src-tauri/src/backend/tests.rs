//! The backend against a real emulator, with no window.
use super::*;
use crate::http::test_connection;
use prelude_emulator::{Config, DemoScenario};
use prelude_session::MemoryStore;
use std::collections::BTreeMap;

async fn setup() -> (Emulator, Backend, PathBuf) {
    setup_with(Config {
        resend_cooldown_secs: 0,
        ..Config::default()
    })
    .await
}

async fn setup_with(cfg: Config) -> (Emulator, Backend, PathBuf) {
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!(
        "countersign-backend-{}-{}",
        std::process::id(),
        emu.local_addr().port()
    ));
    let b = Backend::connect(
        Server::Url(emu.url()),
        "unit",
        Some(dir.clone()),
        Some(Arc::new(MemoryStore::new())),
    )
    .await
    .unwrap();
    (emu, b, dir)
}

fn view(b: &Backend) -> AppView {
    b.view(None, "system".into())
}

fn transfer() -> Approval {
    Approval {
        scope: "transfer:write".into(),
        metadata: BTreeMap::from([("amount".into(), "500".into())]),
    }
}

#[tokio::test]
async fn the_whole_story_without_a_window() {
    let (emu, mut b, dir) = setup().await;
    b.resume().await;
    let v = view(&b);
    assert_eq!(v.stage, Stage::Login);
    assert!(v.server.demo, "an emulator URL shows the demo inbox");
    assert!(
        !v.server.scenarios,
        "scenarios are for the embedded emulator only"
    );

    b.start_login("+33 6 12 34 56 78").await.unwrap();
    assert_eq!(view(&b).stage, Stage::Code);
    assert_eq!(view(&b).identifier.as_deref(), Some("+33612345678"));
    let code = emu.outbox().last().unwrap().code.clone();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let e = b.verify_login_code(wrong).await.unwrap_err();
    assert_eq!(e.code(), "invalid_otp_code");
    assert_eq!(view(&b).stage, Stage::Code);
    b.verify_login_code(&code).await.unwrap();
    let v = view(&b);
    assert_eq!(v.stage, Stage::Logged);
    assert!(v.user.unwrap().session_id.unwrap().starts_with("ses_"));

    b.request_step_up(transfer()).await.unwrap();
    let v = view(&b);
    assert_eq!(v.stage, Stage::StepUpOtp);
    let c = v.challenge.unwrap();
    assert_eq!((c.step, c.step_count, c.channel), (1, 1, Some("sms")));
    assert_eq!(c.destination.as_deref(), Some("+33 •••• 5678"));
    assert!(c.expires_ms.unwrap() > 0 && c.resend_ms.is_some());
    let code = emu.outbox().last().unwrap().code.clone();
    b.verify_step_up_code(wrong).await.unwrap_err();
    b.verify_step_up_code(&code).await.unwrap();
    let v = view(&b);
    assert_eq!(v.stage, Stage::Done);
    let g = v.grant.unwrap();
    assert_eq!(g.scope, "transfer:write");
    assert_eq!(g.grant_mode.as_deref(), Some("session-bound"));
    assert!(g.expires_ms.is_some());
    b.finish_step_up().unwrap();
    assert_eq!(view(&b).stage, Stage::Logged);

    // Blocked, then denied: each attempt is in the log, newest first.
    emu.set_scenario(DemoScenario::Blocked);
    assert_eq!(
        b.request_step_up(transfer()).await.unwrap_err().code(),
        "step_up_blocked"
    );
    emu.set_scenario(DemoScenario::ReviewSms);
    b.request_step_up(transfer()).await.unwrap();
    b.deny_step_up().unwrap();
    assert_eq!(view(&b).stage, Stage::Logged);
    let (log, bad) = b.audit().unwrap().read(10).unwrap();
    assert_eq!(bad, 0);
    let outcomes: Vec<&str> = log.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["denied", "blocked", "granted"]);
    assert_eq!(log[2].steps, ["verify_sms"]);
    assert_eq!(log[2].wrong_codes, 1);
    assert_eq!(log[1].error_code.as_deref(), Some("step_up_blocked"));
    let text = std::fs::read_to_string(b.audit().unwrap().path()).unwrap();
    assert!(!text.contains(&code), "no code in the audit log");

    b.logout().await.unwrap();
    assert_eq!(view(&b).stage, Stage::Login);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_embedded_server_keeps_the_session_across_a_restart() {
    let dir = super::temp_dir("restart");
    let store: Arc<dyn prelude_session::SecretStore> = Arc::new(MemoryStore::new());
    let connect = || {
        Backend::connect(
            Server::Embedded,
            "unit",
            Some(dir.clone()),
            Some(store.clone()),
        )
    };
    let mut b = connect().await.unwrap();
    b.resume().await;
    b.start_login("+33612345678").await.unwrap();
    let code = b
        .demo()
        .emulator()
        .unwrap()
        .outbox()
        .last()
        .unwrap()
        .code
        .clone();
    b.verify_login_code(&code).await.unwrap();
    let session = view(&b).user.unwrap().session_id;
    assert!(session.is_some());
    let demo = std::mem::take(&mut b.demo);
    let port = demo.emulator().unwrap().local_addr().port();
    demo.shutdown().await;
    drop(b);

    // Hold the old port so the new emulator must listen on another one.
    let _held = std::net::TcpListener::bind(("127.0.0.1", port));
    let mut b = connect().await.unwrap();
    assert_ne!(b.demo().emulator().unwrap().local_addr().port(), port);
    b.resume().await;
    let v = view(&b);
    assert_eq!(v.stage, Stage::Logged, "the stored session is resumed");
    assert_eq!(v.user.unwrap().session_id, session);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn commands_out_of_place_are_refused_clearly() {
    let (_emu, mut b, _dir) = setup().await;
    assert_eq!(
        b.request_step_up(transfer()).await.unwrap_err().code(),
        "not_signed_in"
    );
    assert_eq!(
        b.verify_step_up_code("123456").await.unwrap_err().code(),
        "not_signed_in"
    );
    assert_eq!(
        b.start_login("0612").await.unwrap_err().code(),
        "invalid_input"
    );
    assert_eq!(
        b.demo_mut()
            .set_scenario("blocked")
            .await
            .unwrap_err()
            .code(),
        "demo_only"
    );
    assert_eq!(b.deny_step_up().unwrap_err().code(), "not_signed_in");
    assert_eq!(b.change_identifier().unwrap_err().code(), "wrong_stage");
}

#[tokio::test]
async fn a_custom_step_is_passed_with_the_stand_in_customer_backend() {
    let dir = super::temp_dir("custom");
    let mut b = Backend::connect(
        Server::Embedded,
        "unit",
        Some(dir.clone()),
        Some(Arc::new(MemoryStore::new())),
    )
    .await
    .unwrap();
    b.resume().await;
    b.demo_mut().set_scenario("email_then_app").await.unwrap();
    b.start_login("+33612345678").await.unwrap();
    let code = b
        .demo()
        .emulator()
        .unwrap()
        .outbox()
        .last()
        .unwrap()
        .code
        .clone();
    b.verify_login_code(&format!("Your code is {code}."))
        .await
        .unwrap();
    assert_eq!(
        b.complete_custom_step().await.unwrap_err().code(),
        "wrong_stage"
    );
    b.request_step_up(transfer()).await.unwrap();
    let c = view(&b).challenge.unwrap();
    assert_eq!((c.step, c.step_count, c.channel), (1, 2, Some("email")));
    assert_eq!(
        b.complete_custom_step().await.unwrap_err().code(),
        "wrong_stage",
        "an OTP step is not confirmed by the app"
    );
    let code = b
        .demo()
        .emulator()
        .unwrap()
        .outbox()
        .last()
        .unwrap()
        .code
        .clone();
    b.verify_step_up_code(&code).await.unwrap();
    let c = view(&b).challenge.unwrap();
    assert_eq!((c.step, c.channel, c.custom_here), (2, None, true));
    assert_eq!(c.step_key, prelude_emulator::APP_STEP);
    b.complete_custom_step().await.unwrap();
    assert_eq!(view(&b).stage, Stage::Done);
    let (log, _) = b.audit().unwrap().read(1).unwrap();
    assert_eq!(log[0].steps, ["verify_email", prelude_emulator::APP_STEP]);
    b.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_connection_test_tells_a_prelude_server_from_anything_else() {
    let (emu, _b, _dir) = setup().await;
    let ok = test_connection(&Server::Url(emu.url())).await.unwrap();
    assert!(ok.contains("signing key"), "{ok}");
    // What it means and what to do, without "key(s)".
    assert!(
        ok.contains("answers like a Prelude server") && ok.contains("Save and switch"),
        "{ok}"
    );
    assert!(!ok.contains("(s)"), "{ok}");
    let e = test_connection(&Server::Url("http://127.0.0.1:9".into()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "connection_failed");
    assert_eq!(
        test_connection(&Server::Url("not a url".into()))
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
}

#[tokio::test]
async fn a_code_with_no_tries_left_asks_for_a_new_one_at_once() {
    // Ten wrong codes in all: below this emulator's lockout, which has a test of its own.
    let (emu, mut b, dir) = setup_with(Config {
        lockout_failures: 20,
        ..Config::default()
    })
    .await;
    b.resume().await;
    b.start_login("+33612345678").await.unwrap();
    let wrong = |right: &str| {
        if right == "000000" {
            "111111"
        } else {
            "000000"
        }
        .to_owned()
    };
    let right = emu.outbox().last().unwrap().code.clone();
    for _ in 0..5 {
        let e = b.verify_login_code(&wrong(&right)).await.unwrap_err();
        assert_eq!(e.code(), "invalid_otp_code");
    }
    let v = view(&b);
    assert!(v.code_exhausted);
    assert!(
        v.login_resend_ms.is_none(),
        "a new code may be sent at once"
    );
    let checks = emu.state().request_count("/v1/session/otp/check");
    assert_eq!(
        b.verify_login_code(&right).await.unwrap_err().code(),
        "no_tries_left"
    );
    assert_eq!(
        emu.state().request_count("/v1/session/otp/check"),
        checks,
        "refused without asking the server"
    );
    b.resend_login_code().await.unwrap();
    assert!(!view(&b).code_exhausted);
    let right = emu.outbox().last().unwrap().code.clone();
    b.verify_login_code(&right).await.unwrap();
    assert_eq!(view(&b).stage, Stage::Logged);

    // The same on a step: five wrong codes, then a new code at once, and the approval goes on.
    b.request_step_up(transfer()).await.unwrap();
    let right = emu.outbox().last().unwrap().code.clone();
    for _ in 0..5 {
        b.verify_step_up_code(&wrong(&right)).await.unwrap_err();
    }
    let v = view(&b);
    assert!(v.code_exhausted && v.challenge.unwrap().resend_ms.is_none());
    assert_eq!(v.stage, Stage::StepUpOtp, "still approving; nothing ended");
    b.resend_step_up_code().await.unwrap();
    let new = emu.outbox().last().unwrap().code.clone();
    b.verify_step_up_code(&new).await.unwrap();
    assert_eq!(view(&b).stage, Stage::Done);
    let (log, _) = b.audit().unwrap().read(1).unwrap();
    assert_eq!(log[0].wrong_codes, 5);
    let _ = std::fs::remove_dir_all(dir);
}

/// "We sent a code…" is only said once a code went out: a step whose sending failed (this
/// user has no email address) says so, and the error explains why.
#[tokio::test]
async fn a_step_whose_code_could_not_be_sent_does_not_claim_it_was() {
    let (emu, mut b, _dir) = setup().await;
    emu.set_scenario(DemoScenario::EmailThenSms);
    b.resume().await;
    b.start_login("+33699999999").await.unwrap();
    b.verify_login_code(&emu.outbox().last().unwrap().code.clone())
        .await
        .unwrap();
    let e = b.request_step_up(transfer()).await.unwrap_err();
    assert_eq!(e.code(), "no_email_for_step", "{e}");
    let c = view(&b).challenge.expect("the approval stays open");
    assert_eq!(c.channel, Some("email"));
    assert!(!c.code_sent, "no code went out");
}

#[tokio::test]
async fn plain_http_elsewhere_is_refused_and_https_is_reached_with_the_ca_file() {
    let elsewhere = Server::Url("http://192.0.2.10:4010".into());
    let refusals = [
        Server::parse("url", "http://192.0.2.10:4010").unwrap_err(),
        test_connection(&elsewhere).await.unwrap_err(),
        Backend::connect(elsewhere, "unit", None, Some(Arc::new(MemoryStore::new())))
            .await
            .err()
            .unwrap(),
    ];
    for e in refusals {
        assert_eq!(e.code(), "plain_http_refused");
        assert!(e.to_string().contains("--ca-file"), "{e}");
    }
    assert!(Server::parse("url", "http://localhost:4010").is_ok());

    // The way to a standalone emulator on another machine: HTTPS, its certificate trusted.
    let emu = Emulator::start(
        Config {
            tls: true,
            resend_cooldown_secs: 0,
            ..Config::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    crate::http::trust(emu.cert_pem().unwrap().as_bytes().to_vec()).unwrap();
    let server = Server::Url(emu.url());
    assert!(emu.url().starts_with("https://"));
    let reached = test_connection(&server).await.unwrap();
    assert!(reached.contains("signing key"), "{reached}");
    let mut b = Backend::connect(server, "unit", None, Some(Arc::new(MemoryStore::new())))
        .await
        .unwrap();
    b.resume().await;
    b.start_login("+33612345678").await.unwrap();
    let code = emu.outbox().last().unwrap().code.clone();
    b.verify_login_code(&code).await.unwrap();
    assert!(b.signed_in());
}

/// A server whose challenge carries text that reads otherwise than it is signed (here it
/// echoes what a client without our checks sent): the challenge is dropped, the requester is
/// refused with a stable code, and the audit log records it, spelled out.
#[tokio::test]
async fn a_challenge_with_text_that_cannot_be_shown_is_refused() {
    use crate::requests::protocol::{Ask, Status};
    use crate::requests::source::Source;
    let (emu, mut b, dir) = setup().await;
    b.resume().await;
    b.start_login("+33612345678").await.unwrap();
    let code = emu.outbox().last().unwrap().code.clone();
    b.verify_login_code(&code).await.unwrap();
    let sent = emu.outbox().len();

    // The app's own path: what the server signed holds U+202E.
    let reversed = Approval {
        scope: "transfer:write".into(),
        metadata: BTreeMap::from([("payee".into(), "\u{202E}dtL EMCA".into())]),
    };
    let e = b.request_step_up(reversed).await.unwrap_err();
    assert_eq!(e.code(), "challenge_text_refused");
    assert!(
        e.to_string().contains("payee") && e.to_string().contains("U+202E"),
        "{e}"
    );
    let v = view(&b);
    assert_eq!(v.stage, Stage::Logged);
    assert!(v.challenge.is_none());
    assert_eq!(emu.outbox().len(), sent, "no code went out for it");

    // A request that got past the requester's checks unchecked (built here directly).
    let ask = Ask {
        scope: "transfer:write".into(),
        metadata: BTreeMap::from([("amount".into(), "5\u{2067}000".into())]),
        reason: None,
        timeout_secs: 60,
        want_token: false,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (id, _) = b.enqueue(Source::Link, ask, Some(tx)).unwrap();
    let e = b.approve_request(&id).await.unwrap_err();
    assert_eq!(e.code(), "challenge_text_refused");
    let outcome = rx.await.unwrap();
    assert_eq!(outcome.status, Status::Refused);
    assert_eq!(outcome.code.as_deref(), Some("challenge_text_refused"));
    assert!(!outcome.reason.unwrap_or_default().contains('\u{2067}'));

    let (log, _) = b.audit().unwrap().read(2).unwrap();
    for entry in &log {
        assert_eq!(entry.outcome, "refused");
        assert_eq!(entry.error_code.as_deref(), Some("challenge_text_refused"));
    }
    let raw = std::fs::read_to_string(b.audit().unwrap().path()).unwrap();
    assert!(
        !raw.contains('\u{202E}') && !raw.contains('\u{2067}'),
        "{raw}"
    );
    assert!(raw.contains(r"\\u{202E}dtL EMCA"), "{raw}");
    b.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
