//! Approvals asked by programs, at the backend against a real emulator: the click answers the
//! request shown, a grant is checked before it is redeemed, and a requester's token carries
//! nothing another approval granted.

use super::*;
use crate::requests::protocol::{Ask, Outcome, Status};
use crate::requests::source::Source;
use prelude_emulator::state::{
    Decision, DirectDecision, GrantMode, IdentifierType, ScopeMode, ScopeRule,
};
use prelude_emulator::{Config, DemoScenario, Faults};
use prelude_session::MemoryStore;
use std::collections::BTreeMap;
use tokio::sync::oneshot;

async fn signed_in() -> (Emulator, Backend, PathBuf) {
    let cfg = Config {
        resend_cooldown_secs: 0,
        ..Config::default()
    };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!(
        "countersign-requests-{}-{}",
        std::process::id(),
        emu.local_addr().port()
    ));
    let mut b = Backend::connect(
        Server::Url(emu.url()),
        "requests",
        Some(dir.clone()),
        Some(Arc::new(MemoryStore::new())),
    )
    .await
    .unwrap();
    b.resume().await;
    // Number matching has tests of its own (matching_tests.rs).
    b.set_number_matching(false);
    b.start_login("+33612345678").await.unwrap();
    b.verify_login_code(&last_code(&emu)).await.unwrap();
    (emu, b, dir)
}

fn last_code(emu: &Emulator) -> String {
    emu.outbox().last().unwrap().code.clone()
}

fn ask(scope: &str, meta: &[(&str, &str)], want_token: bool) -> Ask {
    let metadata = meta
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Ask::check(scope, metadata, None, None, want_token).unwrap()
}

/// A request from a local program; the receiver gets its one answer.
fn from_program(b: &mut Backend, name: &str, ask: Ask) -> (String, oneshot::Receiver<Outcome>) {
    let (tx, rx) = oneshot::channel();
    let source = Source::Program(crate::requests::source::Requester {
        executable: name.into(),
        script: None,
        pid: 4242,
    });
    let (id, _) = b.enqueue(source, ask, Some(tx)).unwrap();
    (id, rx)
}

fn view(b: &Backend) -> AppView {
    b.view(None, "system".into())
}

fn newest_audit(b: &Backend) -> crate::audit::AuditEntry {
    b.audit().unwrap().read(1).unwrap().0.remove(0)
}

/// `read:logs` is granted at once (one click), session-bound for 300 s.
fn allow_read_logs(emu: &Emulator) {
    let mut d = emu.state().data();
    d.scopes.push("read:logs".into());
    let cfg = d.stepup_config.as_mut().unwrap();
    cfg.allowed_scopes.push(ScopeRule {
        scope: "read:logs".into(),
        mode: ScopeMode::Direct,
        delegated: None,
        direct: Some(DirectDecision {
            identifier_types: vec![IdentifierType::PhoneNumber],
            status: Decision::Continue,
            granted_for: 300,
            grant_mode: GrantMode::SessionBound,
            steps: vec![],
        }),
    });
}

fn faults(emu: &Emulator, f: Faults) {
    emu.state().set_faults(f);
}

/// Finding: a requester got a token carrying a scope an earlier approval granted.
#[tokio::test]
async fn a_requester_never_gets_a_token_with_another_approvals_scope() {
    let (emu, mut b, dir) = signed_in().await;
    allow_read_logs(&emu);

    // Alone in the session, the program's own scope goes out with the token.
    let (id, mut rx) = from_program(&mut b, "logs", ask("read:logs", &[], true));
    b.approve_request(&id).await.unwrap();
    let first = rx.try_recv().unwrap();
    assert_eq!(first.status, Status::Granted);
    assert_eq!(first.code, None);
    assert!(first.access_token.is_some(), "nothing else in the token");
    b.finish_step_up().unwrap();

    // The person approves a transfer in the app.
    let transfer = Approval {
        scope: "transfer:write".into(),
        metadata: BTreeMap::from([("amount".into(), "500".into())]),
    };
    b.request_step_up(transfer).await.unwrap();
    b.verify_step_up_code(&last_code(&emu)).await.unwrap();
    b.finish_step_up().unwrap();

    // Within that grant's lifetime, the same one-click request gets no token.
    let (id, mut rx) = from_program(&mut b, "logs", ask("read:logs", &[], true));
    b.approve_request(&id).await.unwrap();
    let o = rx.try_recv().unwrap();
    assert_eq!(o.status, Status::Granted);
    assert_eq!(o.code.as_deref(), Some("token_withheld"));
    assert_eq!(o.access_token, None);
    assert!(
        b.session.client().has_scope("transfer:write") && b.session.client().has_scope("read:logs"),
        "the session's token carries both, so handing it out would give more than asked"
    );
    b.finish_step_up().unwrap();

    // A program asking for the transfer scope is refused the token too: it carries read:logs,
    // which another request's step-up granted.
    let (id, mut rx) = from_program(&mut b, "pay", ask("transfer:write", &[], true));
    b.approve_request(&id).await.unwrap();
    b.verify_step_up_code(&last_code(&emu)).await.unwrap();
    let o = rx.try_recv().unwrap();
    assert_eq!(o.status, Status::Granted);
    assert_eq!(o.code.as_deref(), Some("token_withheld"));
    assert_eq!(o.access_token, None);
    let _ = std::fs::remove_dir_all(dir);
}

/// Finding: a click landed on the request queued behind the one shown, which had just gone.
#[tokio::test]
async fn a_click_answers_only_the_request_it_was_given_for() {
    let (emu, mut b, dir) = signed_in().await;
    let (a, _rx_a) = from_program(
        &mut b,
        "payroll",
        ask("transfer:write", &[("amount", "5")], false),
    );
    let (next, mut rx_next) = from_program(
        &mut b,
        "mallory",
        ask(
            "transfer:write",
            &[("amount", "5000"), ("payee", "Mallory")],
            false,
        ),
    );
    assert_eq!(view(&b).request.unwrap().id, a, "A is on screen");

    // A's requester closes its connection just as the person clicks "Continue to approve".
    assert!(b.withdraw_request(&a));
    let sent = emu.outbox().len();
    let asked = emu.state().request_count("/v1/session/stepup/request");
    b.approve_request(&a).await.unwrap();
    assert_eq!(
        emu.state().request_count("/v1/session/stepup/request"),
        asked,
        "no step-up started"
    );
    assert_eq!(emu.outbox().len(), sent, "no code went out");
    let v = view(&b);
    assert_eq!(v.stage, Stage::Request, "no step-up screen");
    assert_eq!(v.request.as_ref().unwrap().id, next, "B is shown next");
    assert!(
        v.notice
            .as_deref()
            .is_some_and(|n| n.contains("no longer waiting")),
        "{:?}",
        v.notice
    );
    assert!(rx_next.try_recv().is_err(), "B is untouched");

    // A stale deny or report does not answer B either.
    b.deny_request(&a, false).unwrap();
    b.deny_request(&a, true).unwrap();
    assert!(rx_next.try_recv().is_err(), "B is still untouched");
    assert_eq!(view(&b).request.unwrap().id, next);

    // Nor during B's step-up: a click meant for A leaves it running.
    b.approve_request(&next).await.unwrap();
    assert_eq!(emu.outbox().len(), sent + 1, "B's own code went out");
    b.deny_request(&a, false).unwrap();
    assert_eq!(view(&b).stage, Stage::StepUpOtp);
    assert!(rx_next.try_recv().is_err());
    b.deny_request(&next, false).unwrap();
    assert_eq!(rx_next.try_recv().unwrap().status, Status::Denied);
    let _ = std::fs::remove_dir_all(dir);
}

/// Finding: a grant was redeemed before its signed metadata was compared with what was asked.
#[tokio::test]
async fn a_grant_that_says_otherwise_is_never_redeemed() {
    let (emu, mut b, dir) = signed_in().await;
    emu.set_scenario(DemoScenario::Granted);
    faults(
        &emu,
        Faults {
            rewrite_signed_metadata: true,
            ..Faults::default()
        },
    );
    let (id, mut rx) = from_program(
        &mut b,
        "pay",
        ask("transfer:write", &[("amount", "500")], true),
    );
    let e = b.approve_request(&id).await.unwrap_err();
    assert_eq!(e.code(), "challenge_mismatch");
    let o = rx.try_recv().unwrap();
    assert_eq!(o.status, Status::Refused);
    assert_eq!(o.code.as_deref(), Some("challenge_mismatch"));
    assert_eq!(o.access_token, None);
    b.session.client().refresh().await.unwrap();
    assert!(
        !b.session.client().has_scope("transfer:write"),
        "nothing was redeemed, so the session does not carry the scope"
    );
    let logged = newest_audit(&b);
    assert_eq!(logged.outcome, "refused");
    assert_eq!(logged.error_code.as_deref(), Some("challenge_mismatch"));
    assert!(logged.requester.is_some());

    // The last token is checked too: the server changes what it signs after the code.
    emu.set_scenario(DemoScenario::ReviewSms);
    faults(&emu, Faults::default());
    let (id, mut rx) = from_program(
        &mut b,
        "pay",
        ask("transfer:write", &[("amount", "500")], false),
    );
    b.approve_request(&id).await.unwrap();
    faults(
        &emu,
        Faults {
            rewrite_signed_metadata: true,
            ..Faults::default()
        },
    );
    let e = b.verify_step_up_code(&last_code(&emu)).await.unwrap_err();
    assert_eq!(e.code(), "challenge_mismatch");
    assert_eq!(view(&b).stage, Stage::Logged);
    assert_eq!(rx.try_recv().unwrap().status, Status::Refused);
    b.session.client().refresh().await.unwrap();
    assert!(!b.session.client().has_scope("transfer:write"));
    assert_eq!(
        newest_audit(&b).error_code.as_deref(),
        Some("challenge_mismatch")
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A grant with no challenge token has no signed record: refused when metadata was asked.
#[tokio::test]
async fn a_grant_without_a_signed_record_is_refused_with_metadata() {
    let (emu, mut b, dir) = signed_in().await;
    emu.set_scenario(DemoScenario::Granted);
    faults(
        &emu,
        Faults {
            omit_continue_token: true,
            ..Faults::default()
        },
    );
    let (id, mut rx) = from_program(
        &mut b,
        "pay",
        ask("transfer:write", &[("amount", "500")], true),
    );
    let e = b.approve_request(&id).await.unwrap_err();
    assert_eq!(e.code(), "grant_unverifiable");
    let o = rx.try_recv().unwrap();
    assert_eq!(o.status, Status::Refused);
    assert_eq!(o.code.as_deref(), Some("grant_unverifiable"));
    assert_eq!(o.access_token, None);
    assert_eq!(view(&b).stage, Stage::Logged);
    let logged = newest_audit(&b);
    assert_eq!(logged.outcome, "refused");
    assert_eq!(logged.error_code.as_deref(), Some("grant_unverifiable"));

    // A bare scope has nothing to check beyond itself: it is taken.
    b.request_step_up(Approval {
        scope: "transfer:write".into(),
        metadata: BTreeMap::new(),
    })
    .await
    .unwrap();
    assert_eq!(view(&b).stage, Stage::Done);
    assert!(b.session.client().has_scope("transfer:write"));
    let _ = std::fs::remove_dir_all(dir);
}

/// A page that keeps opening links, valid or not, brings the window forward only as often as
/// links are admitted: each time it comes forward the answers settle again, so unlimited
/// links would keep a program's request from ever being answered.
#[tokio::test]
async fn links_past_the_limit_change_nothing_on_screen() {
    use crate::approvals::LinkTaken;
    let (_emu, mut b, dir) = signed_in().await;
    let (program, _rx) = from_program(&mut b, "deploy", ask("transfer:write", &[], false));
    let link = |n: u32| format!("countersign://approve?scope=transfer:write&amount={n}");
    assert!(matches!(b.take_link(&link(1)), LinkTaken::Queued(_)));
    // The same link again, in other capitals: already waiting.
    assert_eq!(
        b.take_link("COUNTERSIGN://Approve?scope=transfer:write&amount=1"),
        LinkTaken::Ignored
    );
    // A link that cannot be read is said once it is admitted, and counts against the limit.
    assert_eq!(
        b.take_link("countersign://approve?scope=transfer:write&payee=%E2%80%AEx"),
        LinkTaken::Noticed
    );
    assert!(view(&b).notice.unwrap().contains("ignored"));
    // Why a link was refused may quote it; a notice quotes at most a few lines of it.
    let long = "k".repeat(5000);
    assert_eq!(
        b.take_link(&format!(
            "countersign://approve?scope=transfer:write&{long}=1&{long}=2"
        )),
        LinkTaken::Noticed
    );
    let notice = view(&b).notice.unwrap();
    assert!(
        notice.chars().count() < 250,
        "{} characters",
        notice.chars().count()
    );
    assert!(notice.contains("kkk…"), "{notice}");
    for n in 2..=3 {
        assert!(matches!(b.take_link(&link(n)), LinkTaken::Queued(_)));
    }
    // Past five a minute, whatever comes changes nothing.
    for text in [link(4), "countersign://nope".to_owned(), link(5)] {
        assert_eq!(b.take_link(&text), LinkTaken::Ignored, "{text}");
    }
    assert_eq!(
        view(&b).request.unwrap().id,
        program,
        "the program's request stays first"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A notice that names a requester draws its name isolated: right-to-left letters in a path
/// ("/tmp/אבג 123") would otherwise reorder the sentence around it.
#[tokio::test]
async fn a_notice_draws_the_requester_isolated() {
    let (_emu, mut b, dir) = signed_in().await;
    let (tx, _rx) = oneshot::channel();
    let source = Source::Program(crate::requests::source::Requester {
        executable: "/tmp/אבג 123".into(),
        script: None,
        pid: 4242,
    });
    let (id, _) = b
        .enqueue(source, ask("transfer:write", &[], false), Some(tx))
        .unwrap();
    assert!(b.withdraw_request(&id));
    let notice = serde_json::to_value(view(&b)).unwrap()["notice"].clone();
    assert_eq!(
        notice,
        serde_json::json!([
            "The request from ",
            {"isolate": "/tmp/אבג 123 (pid 4242)"},
            " stopped waiting, so it was closed."
        ])
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Approval fatigue: after "Deny and report", the same program is refused unseen, and the
/// person is told once; another program (or the same interpreter running another script)
/// still reaches the screen; Settings' unmute lets it ask again.
#[tokio::test]
async fn a_reported_program_is_muted_and_told_once() {
    let (_emu, mut b, dir) = signed_in().await;
    let (id, rx) = from_program(&mut b, "/usr/bin/spam", ask("transfer:write", &[], false));
    b.deny_request(&id, true).unwrap();
    assert_eq!(rx.await.unwrap().status, Status::Reported);

    let source = || {
        Source::Program(crate::requests::source::Requester {
            executable: "/usr/bin/spam".into(),
            script: None,
            pid: 4343,
        })
    };
    let again = b
        .enqueue(source(), ask("transfer:write", &[], false), None)
        .unwrap_err();
    assert_eq!(again.status, Status::Denied);
    assert_eq!(again.status.exit_code(), 1);
    assert_eq!(again.code.as_deref(), Some("muted"));
    let v = view(&b);
    assert!(v.request.is_none(), "nothing reaches the screen");
    let notice = v.notice.unwrap();
    assert!(
        notice.contains("/usr/bin/spam") && notice.contains("20 minutes"),
        "{notice}"
    );
    let logged = newest_audit(&b);
    assert_eq!(logged.outcome, "denied");
    assert_eq!(logged.error_code.as_deref(), Some("muted"));
    assert_eq!(
        logged.requester.as_deref(),
        Some("/usr/bin/spam (pid 4343)")
    );

    b.notice.clear();
    let third = b
        .enqueue(source(), ask("transfer:write", &[], false), None)
        .unwrap_err();
    assert_eq!(third.code.as_deref(), Some("muted"));
    assert!(view(&b).notice.is_none(), "the person is told once");
    assert_eq!(b.approvals().muted_programs().len(), 1);

    // Another program is not muted.
    let (other, _rx) = from_program(
        &mut b,
        "/usr/bin/payroll",
        ask("transfer:write", &[], false),
    );
    assert_eq!(view(&b).request.unwrap().id, other);

    b.unmute_programs();
    assert!(b.approvals().muted_programs().is_empty());
    assert!(
        b.enqueue(source(), ask("transfer:write", &[], false), None)
            .is_ok()
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Approval fatigue: a fourth request within a minute from one program is refused with
/// `rate_limited` (exit 3) and never shown; another program still gets through.
#[tokio::test]
async fn a_program_gets_three_requests_a_minute() {
    let (_emu, mut b, dir) = signed_in().await;
    for _ in 0..3 {
        from_program(&mut b, "/usr/bin/loop", ask("transfer:write", &[], false));
    }
    let source = Source::Program(crate::requests::source::Requester {
        executable: "/usr/bin/loop".into(),
        script: None,
        pid: 4242,
    });
    let fourth = b
        .enqueue(source, ask("transfer:write", &[], false), None)
        .unwrap_err();
    assert_eq!(fourth.status, Status::Refused);
    assert_eq!(fourth.status.exit_code(), 3);
    assert_eq!(fourth.code.as_deref(), Some("rate_limited"));
    let logged = newest_audit(&b);
    assert_eq!(logged.outcome, "refused");
    assert_eq!(logged.error_code.as_deref(), Some("rate_limited"));
    assert_eq!(b.approvals().len(), 3, "the fourth never joined the queue");
    from_program(&mut b, "/usr/bin/other", ask("transfer:write", &[], false));
    assert_eq!(b.approvals().len(), 4);
    let _ = std::fs::remove_dir_all(dir);
}

/// Finding: the offer to sign out the other sessions stayed on after the report's notice was
/// replaced, so it stood beside a sentence about something else.
#[tokio::test]
async fn the_sign_out_offer_goes_with_the_reports_notice() {
    let (_emu, mut b, _dir) = signed_in().await;
    let (id, _rx) = from_program(&mut b, "/usr/bin/spam", ask("transfer:write", &[], false));
    b.deny_request(&id, true).unwrap();
    let v = view(&b);
    assert_eq!(
        v.notice.as_deref(),
        Some("Denied and reported. The program was told.")
    );
    assert!(v.report_offer);
    assert_eq!(
        b.take_link("countersign://approve?scope=transfer:write&payee=%E2%80%AEx"),
        crate::approvals::LinkTaken::Noticed
    );
    let v = view(&b);
    assert!(v.notice.unwrap().contains("link was ignored"));
    assert!(!v.report_offer, "the offer belonged to the report's notice");
}

/// A request's times are one unit, named in the field: when it came and when it times out,
/// both Unix milliseconds, the timeout apart.
#[tokio::test]
async fn a_request_says_its_times_in_milliseconds() {
    let (_emu, mut b, _dir) = signed_in().await;
    let before = crate::approvals::now_ms();
    let asked = ask("transfer:write", &[("amount", "5")], false);
    let timeout_ms = asked.timeout_secs as i64 * 1000;
    from_program(&mut b, "payroll", asked);
    let r = view(&b).request.unwrap();
    let after = crate::approvals::now_ms();
    assert!(
        (before..=after).contains(&r.received_ms),
        "{before} ≤ {} ≤ {after}",
        r.received_ms
    );
    assert_eq!(r.expires_ms - r.received_ms, timeout_ms);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["receivedMs"], r.received_ms);
    assert_eq!(json["expiresMs"], r.expires_ms);
    assert!(json.get("receivedAt").is_none() && json.get("expiresAt").is_none());
}
