//! Passkeys in the backend against a real emulator, with no window: add after a code
//! step-up, approve `transfer:write` with the PIN and no code, a wrong PIN, sign in with the
//! passkey, delete it after its own step-up, then "no passkey here".
use super::*;
use crate::session::Flow;
use prelude_emulator::{Config, DemoScenario};
use prelude_session::MemoryStore;
use std::collections::BTreeMap;

const PIN: &str = "482916";

async fn setup() -> (Emulator, Backend) {
    let emu = Emulator::start(
        Config {
            resend_cooldown_secs: 0,
            ..Config::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!(
        "countersign-passkeys-{}-{}",
        std::process::id(),
        emu.local_addr().port()
    ));
    let b = Backend::connect(
        Server::Url(emu.url()),
        "unit",
        Some(dir),
        Some(Arc::new(MemoryStore::new())),
    )
    .await
    .unwrap();
    (emu, b)
}

fn last_code(emu: &Emulator) -> String {
    emu.outbox().last().unwrap().code.clone()
}

async fn sign_in(emu: &Emulator, b: &mut Backend) {
    b.resume().await;
    b.start_login("+33612345678").await.unwrap();
    b.verify_login_code(&last_code(emu)).await.unwrap();
}

fn transfer() -> Approval {
    Approval {
        scope: "transfer:write".into(),
        metadata: BTreeMap::from([("amount".into(), "500".into())]),
    }
}

fn audit_outcomes(b: &Backend) -> Vec<(String, String)> {
    b.audit()
        .unwrap()
        .read(100)
        .unwrap()
        .0
        .into_iter()
        .map(|e| (e.scope, e.outcome))
        .collect()
}

/// Adds this computer's passkey: the code step-up for `prld:passkey:write`, then the PIN.
async fn add(emu: &Emulator, b: &mut Backend) {
    b.add_passkey().await.unwrap();
    let v = b.view(None, "system".into());
    assert_eq!(v.stage, Stage::StepUpOtp);
    assert_eq!(v.challenge.unwrap().scope, PASSKEY_WRITE);
    b.verify_step_up_code(&last_code(emu)).await.unwrap();
    let v = b.view(None, "system".into());
    assert_eq!(
        v.stage,
        Stage::Logged,
        "back to the account, asking for the PIN"
    );
    assert!(v.passkey.setup);
    let pin_set = v.passkey.pin_set;
    let confirm = if pin_set { None } else { Some("482917") };
    if !pin_set {
        // The confirmation must match, and nothing is registered until it does.
        assert_eq!(
            b.register_passkey(PIN, confirm).await.unwrap_err().code(),
            "pin_mismatch"
        );
    }
    b.register_passkey(PIN, (!pin_set).then_some(PIN))
        .await
        .unwrap();
    assert!(!b.view(None, "system".into()).passkey.setup);
}

use super::passkeys::PASSKEY_WRITE;

#[tokio::test]
async fn add_approve_with_the_pin_sign_in_and_delete() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    add(&emu, &mut b).await;
    let list = b.list_passkeys().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].place, "here");
    let id = list[0].id.clone();

    // transfer:write by passkey: no code goes out.
    emu.set_scenario(DemoScenario::Passkey);
    let sent = emu.outbox().len();
    b.request_step_up(transfer()).await.unwrap();
    let v = b.view(None, "system".into());
    let step = v.challenge.unwrap().passkey.unwrap();
    assert!(step.available && step.here && step.pin);
    // No PIN, then a wrong one: the approval stays, the tries count down.
    assert_eq!(
        b.approve_with_passkey(None).await.unwrap_err().code(),
        "pin_required"
    );
    let e = b
        .approve_with_passkey(Some("000000".into()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "wrong_pin");
    assert_eq!(
        serde_json::to_value(&e).unwrap()["attemptsRemaining"],
        7,
        "tries left, for the sentence"
    );
    assert_eq!(b.view(None, "system".into()).stage, Stage::StepUpOtp);
    b.approve_with_passkey(Some(PIN.into())).await.unwrap();
    let v = b.view(None, "system".into());
    assert_eq!(v.stage, Stage::Done);
    assert_eq!(v.grant.unwrap().scope, "transfer:write");
    assert_eq!(emu.outbox().len(), sent, "no code was sent");
    assert_eq!(v.passkey.pin_tries_left, 8, "a right PIN refills the tries");
    b.finish_step_up().unwrap();

    // Sign in with this computer.
    b.logout().await.unwrap();
    assert!(b.view(None, "system".into()).passkey.login);
    b.login_with_passkey(Some(PIN.into())).await.unwrap();
    assert_eq!(b.view(None, "system".into()).stage, Stage::Logged);

    // Delete: its own step-up first, then the key goes here too.
    b.delete_passkey(&id).await.unwrap();
    assert_eq!(b.view(None, "system".into()).stage, Stage::StepUpOtp);
    b.verify_step_up_code(&last_code(&emu)).await.unwrap();
    assert_eq!(b.view(None, "system".into()).stage, Stage::Logged);
    assert!(b.list_passkeys().await.unwrap().is_empty());
    assert!(
        b.authenticator
            .local_ids(&b.server_key())
            .unwrap()
            .0
            .is_empty()
    );

    // Now the server sends no options: the client says so at once, the app offers to add a
    // passkey, and after adding, the approval is asked again and passes.
    let e = b.request_step_up(transfer()).await.unwrap_err();
    assert_eq!(e.code(), "needs_passkey");
    let v = b.view(None, "system".into());
    assert_eq!(v.stage, Stage::Logged);
    assert!(v.passkey.waiting);
    add(&emu, &mut b).await;
    let v = b.view(None, "system".into());
    assert_eq!(v.stage, Stage::StepUpOtp, "the approval started again");
    assert!(v.challenge.unwrap().passkey.unwrap().available);
    b.approve_with_passkey(Some(PIN.into())).await.unwrap();
    assert_eq!(b.view(None, "system".into()).stage, Stage::Done);

    let outcomes = audit_outcomes(&b);
    for want in ["passkey_added", "passkey_used", "passkey_removed"] {
        assert!(
            outcomes.iter().any(|(_, o)| o == want),
            "{want} in {outcomes:?}"
        );
    }
    let used = b.audit().unwrap().read(100).unwrap().0;
    assert!(
        used.iter()
            .any(|e| e.outcome == "granted" && e.steps == vec!["verify_passkey".to_owned()]),
        "an approval by passkey is logged with its step"
    );
}

#[tokio::test]
async fn a_signed_challenge_that_says_otherwise_is_refused_before_the_ceremony() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    add(&emu, &mut b).await;
    emu.set_scenario(DemoScenario::Passkey);
    b.request_step_up(transfer()).await.unwrap();
    // What was asked changes under the challenge: the signed one no longer matches it.
    if let Flow::Approving { approving, .. } = b.session.flow_mut() {
        approving
            .attempt
            .approval
            .metadata
            .insert("amount".into(), "9000".into());
    }
    let before = b.authenticator.pin().state().unwrap().tries_left;
    let e = b
        .approve_with_passkey(Some("000000".into()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "challenge_mismatch");
    assert_eq!(
        b.authenticator.pin().state().unwrap().tries_left,
        before,
        "no PIN was checked: the ceremony never ran"
    );
}

#[tokio::test]
async fn the_in_memory_fallback_refuses_to_add_a_passkey() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    b.store = Arc::new(PlatformStore::over(Arc::new(Broken)));
    let _ = b.store.probe_or_fall_back("unit");
    b.authenticator = Backend::local_authenticator(b.store.clone(), "unit");
    let e = b.add_passkey().await.unwrap_err();
    assert_eq!(e.code(), "keyring_unavailable");
    assert_eq!(
        b.view(None, "system".into()).stage,
        Stage::Logged,
        "no step-up was started"
    );
}

struct Broken;
impl SecretStore for Broken {
    fn get(
        &self,
        _: &str,
        _: prelude_session::Item,
    ) -> Result<Option<zeroize::Zeroizing<String>>, prelude_session::StoreError> {
        Err(prelude_session::StoreError("no keyring".into()))
    }
    fn set(
        &self,
        _: &str,
        _: prelude_session::Item,
        _: &str,
    ) -> Result<(), prelude_session::StoreError> {
        Err(prelude_session::StoreError("no keyring".into()))
    }
    fn delete(&self, _: &str, _: prelude_session::Item) -> Result<(), prelude_session::StoreError> {
        Err(prelude_session::StoreError("no keyring".into()))
    }
}

/// The test bench's passkey switches, applied to this computer's honest assertions: each
/// ends in words the person can act on, and the bench says why the emulator refused.
#[tokio::test]
async fn each_passkey_fault_reads_as_its_own_failure() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    add(&emu, &mut b).await;
    emu.set_scenario(DemoScenario::Passkey);
    for (switch, code, check) in [
        ("passkey_wrong_origin", "passkey_step_unavailable", "A5"),
        (
            "passkey_options_uv_discouraged",
            "passkey_step_unavailable",
            "A7",
        ),
        (
            "passkey_counter_behind",
            "passkey_authenticator_blocked",
            "A10",
        ),
    ] {
        let mut faults = serde_json::to_value(prelude_emulator::Faults::default()).unwrap();
        faults[switch] = true.into();
        emu.set_faults(serde_json::from_value(faults).unwrap())
            .unwrap();
        b.request_step_up(transfer()).await.unwrap();
        let e = b.approve_with_passkey(Some(PIN.into())).await.unwrap_err();
        assert_eq!(e.code(), code, "{switch}");
        let refusal = b.demo().bench().await.unwrap().passkey_refusal.unwrap();
        assert_eq!(refusal.ceremony, "assertion", "{switch}");
        assert_eq!(refusal.check, check, "{switch}: {}", refusal.why);
        b.deny_step_up().unwrap();
    }
}

#[tokio::test]
async fn settings_set_the_rp_id_and_origin_of_this_server_only() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    let s = b.passkey_settings().unwrap();
    assert!(!s.fixed && s.rp_id.is_none() && s.origin.is_none());
    assert_eq!(
        b.set_passkey_rp("localhost", "http://localhost")
            .unwrap_err()
            .code(),
        "invalid_input",
        "only https origins are claimed"
    );
    let s = b
        .set_passkey_rp(" localhost ", "https://localhost")
        .unwrap();
    assert_eq!(s.rp_id.as_deref(), Some("localhost"));
    assert_eq!(s.origin.as_deref(), Some("https://localhost"));
    // The seed lists https://localhost: a passkey made with these settings works.
    add(&emu, &mut b).await;
    let s = b.set_passkey_rp("", "").unwrap();
    assert_eq!((s.rp_id, s.origin), (None, None));
}

#[tokio::test]
async fn a_pin_reset_deletes_the_key_here_and_the_list_says_so() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    add(&emu, &mut b).await;
    // Eight wrong PINs block this computer's passkeys.
    emu.set_scenario(DemoScenario::Passkey);
    b.request_step_up(transfer()).await.unwrap();
    for _ in 0..7 {
        let e = b
            .approve_with_passkey(Some("000000".into()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "wrong_pin");
    }
    let e = b
        .approve_with_passkey(Some("000000".into()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "pin_blocked");
    let e = b.approve_with_passkey(Some(PIN.into())).await.unwrap_err();
    assert_eq!(e.code(), "pin_blocked", "the right PIN no longer helps");
    assert_eq!(b.add_passkey().await.unwrap_err().code(), "pin_blocked");
    b.deny_step_up().unwrap();
    b.reset_pin().unwrap();
    let v = b.view(None, "system".into());
    assert!(!v.passkey.pin_set && !v.passkey.login);
    let list = b.list_passkeys().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].place, "gone", "no longer on this computer");
    let outcomes = audit_outcomes(&b);
    assert!(
        outcomes.iter().any(|(_, o)| o == "passkey_reset"),
        "{outcomes:?}"
    );
}

const FINISH: &str = "/v1/session/me/passkeys/register/finish";
const LIST: &str = "/v1/session/me/passkeys";

/// The step-up for `prld:passkey:write`, up to the PIN step; the PIN is set.
async fn up_to_register(emu: &Emulator, b: &mut Backend) {
    b.add_passkey().await.unwrap();
    b.verify_step_up_code(&last_code(emu)).await.unwrap();
    assert!(b.view(None, "system".into()).passkey.setup);
    if !b.view(None, "system".into()).passkey.pin_set {
        b.authenticator.pin().set(PIN).unwrap();
    }
}

fn faults(emu: &Emulator, fail: &[&str], lose: &[&str]) {
    emu.state().set_faults(prelude_emulator::Faults {
        fail_routes: fail.iter().map(|r| (*r).to_owned()).collect(),
        lose_response_routes: lose.iter().map(|r| (*r).to_owned()).collect(),
        ..prelude_emulator::Faults::default()
    });
}

fn keys_here(b: &Backend) -> Vec<String> {
    b.authenticator.local_ids(&b.server_key()).unwrap().0
}

/// `register/finish` took effect but its answer was lost: the server's list shows the
/// credential, so the key stays and the passkey counts as added.
#[tokio::test]
async fn a_lost_finish_answer_keeps_the_key_the_server_stored() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    up_to_register(&emu, &mut b).await;
    faults(&emu, &[], &[FINISH]);
    b.register_passkey(PIN, None).await.unwrap();
    faults(&emu, &[], &[]);
    let here = keys_here(&b);
    assert_eq!(here.len(), 1, "the key the server holds stays");
    let list = b.list_passkeys().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].id.as_str(), list[0].place),
        (here[0].as_str(), "here")
    );
    assert!(audit_outcomes(&b).iter().any(|(_, o)| o == "passkey_added"));
}

/// A 5xx before `register/finish` took effect: the list shows no such credential, so the
/// key goes.
#[tokio::test]
async fn a_failed_finish_the_server_did_not_store_deletes_the_key() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    up_to_register(&emu, &mut b).await;
    faults(&emu, &[FINISH], &[]);
    let e = b.register_passkey(PIN, None).await.unwrap_err();
    assert_eq!(e.code(), "internal");
    assert!(keys_here(&b).is_empty());
    faults(&emu, &[], &[]);
    assert!(b.list_passkeys().await.unwrap().is_empty());

    // A definite refusal (429 before it took effect), even with no list to ask: the key goes.
    up_to_register(&emu, &mut b).await;
    emu.state().set_faults(prelude_emulator::Faults {
        rate_limit_routes: vec![FINISH.into(), LIST.into()],
        ..prelude_emulator::Faults::default()
    });
    let e = b.register_passkey(PIN, None).await.unwrap_err();
    assert_eq!(e.code(), "rate_limited");
    assert!(keys_here(&b).is_empty());
    assert!(
        b.authenticator
            .unconfirmed_ids(&b.server_key())
            .unwrap()
            .is_empty()
    );
}

/// The answer was lost and the list fails too: the key stays, listed as "added, not
/// confirmed"; once the server answers, the list confirms it.
#[tokio::test]
async fn no_list_after_a_lost_finish_keeps_the_key_unconfirmed_until_the_server_answers() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    up_to_register(&emu, &mut b).await;
    faults(&emu, &[LIST], &[FINISH]);
    let e = b.register_passkey(PIN, None).await.unwrap_err();
    assert_eq!(e.code(), "network");
    let here = keys_here(&b);
    assert_eq!(here.len(), 1, "an unknown outcome keeps the key");
    let rows = b.list_passkeys().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].id.as_str(), rows[0].place),
        (here[0].as_str(), "unconfirmed")
    );
    assert!(b.notice.text().unwrap().contains("not confirmed"));
    faults(&emu, &[], &[]);
    let rows = b.list_passkeys().await.unwrap();
    assert_eq!(
        (rows[0].id.as_str(), rows[0].place),
        (here[0].as_str(), "here")
    );
    assert!(
        b.authenticator
            .unconfirmed_ids(&b.server_key())
            .unwrap()
            .is_empty()
    );
}

/// A 5xx with no list, then the server answers without the credential: the key goes; and
/// an unconfirmed key can be deleted here from the list.
#[tokio::test]
async fn an_unconfirmed_key_the_server_lacks_goes_and_can_be_deleted_by_hand() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    up_to_register(&emu, &mut b).await;
    faults(&emu, &[FINISH, LIST], &[]);
    b.register_passkey(PIN, None).await.unwrap_err();
    let id = keys_here(&b).pop().expect("kept while unconfirmed");
    b.delete_passkey(&id).await.unwrap();
    assert_eq!(
        b.view(None, "system".into()).stage,
        Stage::Logged,
        "no step-up"
    );
    assert!(keys_here(&b).is_empty());

    up_to_register(&emu, &mut b).await;
    b.register_passkey(PIN, None).await.unwrap_err();
    assert_eq!(keys_here(&b).len(), 1);
    faults(&emu, &[], &[]);
    assert!(b.list_passkeys().await.unwrap().is_empty());
    assert!(
        keys_here(&b).is_empty(),
        "the server lacks it, so the key goes"
    );
}

/// A program's request that needs a passkey this account lacks stays queued while one is
/// added (the code step-up, the PIN), then its step-up starts again and passes by passkey.
#[tokio::test]
async fn a_programs_request_waits_for_a_new_passkey_then_starts_again() {
    use crate::requests::protocol::{Ask, Status};
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    b.set_number_matching(false);
    emu.set_scenario(DemoScenario::Passkey);
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let source = crate::requests::source::Source::Program(crate::requests::source::Requester {
        executable: "pay".into(),
        script: None,
        pid: 4242,
    });
    let ask = Ask::check("transfer:write", BTreeMap::new(), None, None, false).unwrap();
    let (id, _) = b.enqueue(source, ask, Some(tx)).unwrap();
    let e = b.approve_request(&id).await.unwrap_err();
    assert_eq!(e.code(), "needs_passkey");
    assert!(
        rx.try_recv().is_err(),
        "the requester is not told it failed"
    );
    assert!(b.view(None, "system".into()).passkey.waiting);

    add(&emu, &mut b).await;
    let v = b.view(None, "system".into());
    assert_eq!(
        v.stage,
        Stage::StepUpOtp,
        "the request's step-up started again"
    );
    assert!(v.challenge.unwrap().passkey.unwrap().available);
    b.approve_with_passkey(Some(PIN.into())).await.unwrap();
    assert_eq!(rx.try_recv().unwrap().status, Status::Granted);
}

/// Finding: with a PIN set, the restart at rest left an open lock locked (every start with a
/// PIN starts locked), 10 s after the window closed.
#[tokio::test]
async fn with_a_pin_an_open_lock_is_not_at_rest_a_closed_one_is() {
    let (emu, mut b) = setup().await;
    sign_in(&emu, &mut b).await;
    let lock = crate::lock::Lock::new(None);
    assert!(lock.at_rest(&b), "no PIN: at rest open");
    add(&emu, &mut b).await;
    assert!(b.at_rest());
    assert!(!lock.at_rest(&b), "the restart would lock it");
    lock.carry_in(true, std::time::Duration::ZERO);
    assert!(lock.is_locked());
    assert!(
        lock.at_rest(&b),
        "locked, nothing is lost by starting again"
    );
}
