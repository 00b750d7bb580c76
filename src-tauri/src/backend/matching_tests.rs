//! Number matching at the backend against a real emulator: only the right pick leads on, the
//! number is signed and checked with the rest, a wrong pick denies and mutes, and the
//! numbers of waiting requests never cross.

use super::*;
use crate::approvals::LinkTaken;
use crate::requests::matching::{MATCH_KEY, NUMBERS};
use crate::requests::protocol::{Ask, Outcome, Status};
use crate::requests::source::{Requester, Source};
use prelude_emulator::{Config, DemoScenario, Faults};
use prelude_session::MemoryStore;
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
        "countersign-matching-{}-{}",
        std::process::id(),
        emu.local_addr().port()
    ));
    let mut b = Backend::connect(
        Server::Url(emu.url()),
        "matching",
        Some(dir.clone()),
        Some(Arc::new(MemoryStore::new())),
    )
    .await
    .unwrap();
    b.resume().await;
    b.start_login("+33612345678").await.unwrap();
    b.verify_login_code(&last_code(&emu)).await.unwrap();
    (emu, b, dir)
}

fn last_code(emu: &Emulator) -> String {
    emu.outbox().last().unwrap().code.clone()
}

fn ask(meta: &[(&str, &str)]) -> Ask {
    let metadata = meta
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Ask::check("transfer:write", metadata, None, None, false).unwrap()
}

fn program(name: &str) -> Source {
    Source::Program(Requester {
        executable: name.into(),
        script: None,
        pid: 4242,
    })
}

/// A program's request; its id, its number, and the receiver of its one answer.
fn from_program(b: &mut Backend, name: &str, ask: Ask) -> (String, u8, oneshot::Receiver<Outcome>) {
    let (tx, rx) = oneshot::channel();
    let (id, _) = b.enqueue(program(name), ask, Some(tx)).unwrap();
    let n = b
        .approvals()
        .match_number(&id)
        .expect("a program's request has a number");
    (id, n, rx)
}

/// One of the numbers offered for `id` that is not its own.
fn wrong(b: &Backend, id: &str) -> u8 {
    let v = b.view(None, "system".into()).request.unwrap();
    assert_eq!(v.id, id);
    let own = b.approvals().match_number(id).unwrap();
    *v.matching
        .unwrap()
        .choices
        .iter()
        .find(|n| **n != own)
        .unwrap()
}

fn newest_audit(b: &Backend) -> crate::audit::AuditEntry {
    b.audit().unwrap().read(1).unwrap().0.remove(0)
}

#[tokio::test]
async fn the_right_pick_leads_on_and_the_number_is_signed_but_never_shown() {
    let (emu, mut b, dir) = signed_in().await;
    let (id, n, mut rx) = from_program(&mut b, "/usr/bin/pay", ask(&[("amount", "500")]));
    assert!(NUMBERS.contains(&n));
    let v = b.view(None, "system".into()).request.unwrap();
    let m = v.matching.unwrap();
    assert_eq!(m.choices.len(), 3);
    assert!(m.choices.contains(&n) && !m.picked);
    assert!(!v.matching_off);
    assert_eq!(v.metadata, vec![("amount".into(), "500".into())]);

    // Not before the pick.
    let e = b.approve_request(&id).await.unwrap_err();
    assert_eq!(e.code(), "number_not_picked");
    assert_eq!(b.pick_number(&id, 100).unwrap_err().code(), "invalid_input");
    b.pick_number(&id, n).unwrap();
    let v = b.view(None, "system".into()).request.unwrap();
    let m = v.matching.unwrap();
    assert!(m.picked);
    assert_eq!(m.chosen, Some(n));
    b.approve_request(&id).await.unwrap();

    // The server signed it with the rest; the screen lists only what was asked.
    let ch = &b.session.flow().approving().unwrap().challenge;
    assert_eq!(ch.metadata[MATCH_KEY], format!("{n:02}"));
    assert_eq!(ch.metadata["amount"], "500");
    let shown = b.view(None, "system".into()).challenge.unwrap().metadata;
    assert_eq!(shown, vec![("amount".into(), "500".into())]);
    b.verify_step_up_code(&last_code(&emu)).await.unwrap();
    let grant = b.view(None, "system".into()).grant.unwrap();
    assert_eq!(grant.metadata, vec![("amount".into(), "500".into())]);
    let o = rx.try_recv().unwrap();
    assert_eq!(o.status, Status::Granted);
    assert!(
        !o.metadata.contains_key(MATCH_KEY),
        "the requester gets what it asked"
    );
    let logged = newest_audit(&b);
    assert_eq!(logged.outcome, "granted");
    assert!(
        !logged.metadata.contains_key(MATCH_KEY),
        "the history lists no number"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The number is part of what the signed record must say: a server that signs another is
/// refused, even when nothing else was asked.
#[tokio::test]
async fn a_signed_record_with_another_number_is_refused() {
    let (emu, mut b, dir) = signed_in().await;
    emu.set_scenario(DemoScenario::Granted);
    emu.state().set_faults(Faults {
        rewrite_signed_metadata: true,
        ..Faults::default()
    });
    let (id, n, mut rx) = from_program(&mut b, "/usr/bin/pay", ask(&[]));
    b.pick_number(&id, n).unwrap();
    let e = b.approve_request(&id).await.unwrap_err();
    assert_eq!(e.code(), "challenge_mismatch");
    assert_eq!(rx.try_recv().unwrap().status, Status::Refused);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_wrong_pick_denies_with_number_mismatch_and_mutes_the_program() {
    let (_emu, mut b, dir) = signed_in().await;
    let (id, _, mut rx) = from_program(&mut b, "/usr/bin/spam", ask(&[]));
    let bad = wrong(&b, &id);
    b.pick_number(&id, bad).unwrap();
    let o = rx.try_recv().unwrap();
    assert_eq!(o.status, Status::Denied);
    assert_eq!(o.status.exit_code(), 1);
    assert_eq!(o.code.as_deref(), Some("number_mismatch"));
    let v = b.view(None, "system".into());
    assert!(v.request.is_none());
    assert!(v.notice.unwrap().contains("20 minutes"));
    let logged = newest_audit(&b);
    assert_eq!(logged.outcome, "denied");
    assert_eq!(logged.error_code.as_deref(), Some("number_mismatch"));
    let again = b
        .enqueue(program("/usr/bin/spam"), ask(&[]), None)
        .unwrap_err();
    assert_eq!(again.code.as_deref(), Some("muted"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn offered_numbers_never_show_another_waiting_requests_number() {
    let (_emu, mut b, dir) = signed_in().await;
    let mut seen: Vec<(u8, Vec<u8>)> = vec![];
    for i in 0..20 {
        let (id, n, _rx) = from_program(&mut b, &format!("/usr/bin/p{i}"), ask(&[]));
        let choices = b
            .approvals()
            .pending(&id)
            .unwrap()
            .matching
            .clone()
            .unwrap()
            .choices;
        for (other, _) in &seen {
            assert!(!choices.contains(other), "{choices:?} offers {other}");
        }
        for (_, offered) in &seen {
            assert!(!offered.contains(&n), "{n} was offered for another");
        }
        seen.push((n, choices.to_vec()));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn five_entries_leave_no_room_unless_matching_is_off() {
    let (_emu, mut b, dir) = signed_in().await;
    let five = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")];
    let refused = b
        .enqueue(program("/usr/bin/a"), ask(&five), None)
        .unwrap_err();
    assert_eq!(refused.status, Status::Refused);
    assert_eq!(refused.status.exit_code(), 3);
    assert_eq!(refused.code.as_deref(), Some("metadata_full"));
    let why = refused.reason.unwrap();
    assert!(
        why.contains("at most 4 --meta") && why.contains("Settings"),
        "{why}"
    );
    assert!(
        b.enqueue(program("/usr/bin/b"), ask(&five[..4]), None)
            .is_ok()
    );

    // Off: the request is shown without numbers, and the screen says matching is off.
    b.approvals = Default::default();
    b.set_number_matching(false);
    let (id, _) = b.enqueue(program("/usr/bin/c"), ask(&five), None).unwrap();
    assert_eq!(b.approvals().match_number(&id), None);
    let v = b.view(None, "system".into()).request.unwrap();
    assert!(v.matching.is_none() && v.matching_off);
    b.approve_request(&id).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_link_gets_no_number() {
    let (_emu, mut b, dir) = signed_in().await;
    let taken = b.take_link("countersign://approve?scope=transfer:write&amount=5");
    assert!(matches!(taken, LinkTaken::Queued(_)), "{taken:?}");
    let v = b.view(None, "system".into()).request.unwrap();
    assert!(v.from_link && v.matching.is_none() && !v.matching_off);
    let _ = std::fs::remove_dir_all(dir);
}
