//! `register_identifier` against the real emulator over HTTP: adding an email address or a
//! phone number by a code sent to it, the dead end it opens, and each refusal as its own error.

mod common;

use common::*;
use prelude_emulator::{Channel, DemoScenario};
use prelude_session::{Error, Identifier, IdentifierKind, MemoryStore};
use std::sync::Arc;

#[tokio::test]
async fn an_email_added_by_its_code_opens_the_email_then_sms_step_up() {
    let emu = emulator().await;
    emu.set_scenario(DemoScenario::EmailThenSms);
    let c = client(&emu);
    login(&emu, &c, "+14155550123").await;
    // Before: the first step has nowhere to send its code.
    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    assert!(matches!(
        c.send_step_up_otp(&ch).await,
        Err(Error::BadRequest { code, .. }) if code == "invalid_identifier"
    ));
    c.cancel_step_up().unwrap();

    let id = Identifier {
        kind: IdentifierKind::EmailAddress,
        value: " Grace@Example.COM".into(),
    };
    let reg = c.register_identifier(&id).await.unwrap();
    assert_eq!(reg.scope, "prld:email:register");
    assert_eq!(reg.current_step.as_deref(), Some("verify_email"));
    assert_eq!(reg.metadata["identifier"], "grace@example.com");
    c.send_step_up_otp(&reg).await.unwrap();
    let mail = last_code(&emu);
    assert_eq!(
        (mail.channel, mail.to.as_str()),
        (Channel::Email, "grace@example.com")
    );
    let done = c.submit_step_up_otp(&reg, &mail.code).await.unwrap();
    assert!(done.is_completed());
    c.redeem_step_up(&done).await.unwrap();

    // After: the same approval reaches the new address, then the phone, and is granted.
    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    c.send_step_up_otp(&ch).await.unwrap();
    assert_eq!(last_code(&emu).to, "grace@example.com");
    let next = c
        .submit_step_up_otp(&ch, &last_code(&emu).code)
        .await
        .unwrap();
    c.send_step_up_otp(&next).await.unwrap();
    assert_eq!(last_code(&emu).channel, Channel::Sms);
    let done = c
        .submit_step_up_otp(&next, &last_code(&emu).code)
        .await
        .unwrap();
    c.redeem_step_up(&done).await.unwrap();
    assert!(c.has_scope("transfer:write"));
}

#[tokio::test]
async fn a_phone_is_added_by_an_sms_to_it() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, "someone@example.org").await;
    let id = Identifier {
        kind: IdentifierKind::PhoneNumber,
        value: "+44 20 7946 0018".into(),
    };
    let reg = c.register_identifier(&id).await.unwrap();
    assert_eq!(reg.scope, "prld:phone:register");
    assert_eq!(reg.current_step.as_deref(), Some("verify_sms"));
    c.send_step_up_otp(&reg).await.unwrap();
    let sms = last_code(&emu);
    assert_eq!(
        (sms.channel, sms.to.as_str()),
        (Channel::Sms, "+442079460018")
    );
    let done = c.submit_step_up_otp(&reg, &sms.code).await.unwrap();
    c.redeem_step_up(&done).await.unwrap();
    // The new number signs the same user in (past the send cooldown).
    move_clock(&emu, 31);
    let other = client(&emu);
    let user = login(&emu, &other, "+442079460018").await;
    assert_eq!(user.profile.user_id, c.profile().unwrap().user_id);
}

#[tokio::test]
async fn a_taken_identifier_is_its_own_error_and_sends_nothing() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, "+14155550124").await;
    let sent = emu.outbox().len();
    for id in [
        Identifier::email("ADA@example.com").unwrap(),
        Identifier::phone("+14155550124").unwrap(),
    ] {
        match c.register_identifier(&id).await {
            Err(e @ Error::IdentifierAlreadyExists { .. }) => {
                assert_eq!(e.code(), "identifier_already_exists")
            }
            other => panic!("expected identifier_already_exists, got {other:?}"),
        }
    }
    assert_eq!(emu.outbox().len(), sent);
    assert!(c.active_step_up().is_none());
}

/// A look-alike of the demo user's `ada@example.com`, with a Cyrillic `а` in one part: the
/// emulator refuses it as `invalid_identifier` and no code goes out.
#[tokio::test]
async fn an_address_mixing_scripts_is_refused_and_sends_nothing() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, "+14155550125").await;
    let sent = emu.outbox().len();
    for value in ["\u{430}da@example.com", "ada@ex\u{430}mple.com"] {
        let id = Identifier::email(value).unwrap();
        match c.register_identifier(&id).await {
            Err(Error::BadRequest { code, .. }) => assert_eq!(code, "invalid_identifier"),
            other => panic!("expected invalid_identifier for {value}, got {other:?}"),
        }
    }
    assert_eq!(emu.outbox().len(), sent);
    assert!(c.active_step_up().is_none());
}

#[tokio::test]
async fn malformed_identifiers_are_refused_before_any_request() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, "+14155550125").await;
    let before = emu.state().request_count("/v1/session/stepup/request");
    for (kind, value) in [
        (IdentifierKind::EmailAddress, ""),
        (IdentifierKind::EmailAddress, "no-at-sign"),
        (IdentifierKind::EmailAddress, "+14155550199"),
        (IdentifierKind::PhoneNumber, "grace@example.com"),
        (IdentifierKind::PhoneNumber, "0611110099"),
        (IdentifierKind::PhoneNumber, "+33 6\u{202E}1111"),
        (IdentifierKind::EmailAddress, "moc.evil\u{202E}@example.com"),
        (IdentifierKind::EmailAddress, "a\u{200B}b@example.com"),
    ] {
        let id = Identifier {
            kind,
            value: value.into(),
        };
        assert!(
            matches!(
                c.register_identifier(&id).await,
                Err(Error::InvalidInput(_))
            ),
            "{value:?}"
        );
    }
    assert_eq!(
        emu.state().request_count("/v1/session/stepup/request"),
        before
    );
}

#[tokio::test]
async fn a_wrong_code_leaves_the_account_as_it_was() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, "+14155550126").await;
    let reg = c
        .register_identifier(&Identifier::email("late@example.com").unwrap())
        .await
        .unwrap();
    c.send_step_up_otp(&reg).await.unwrap();
    let code = last_code(&emu).code;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert!(matches!(
        c.submit_step_up_otp(&reg, wrong).await,
        Err(Error::InvalidOtpCode { .. })
    ));
    // Signing in with it makes a new user: it was never added.
    move_clock(&emu, 31);
    let other = client(&emu);
    let user = login(&emu, &other, "late@example.com").await;
    assert_ne!(user.profile.user_id, c.profile().unwrap().user_id);
}

#[tokio::test]
async fn an_open_approval_outlives_a_registration_which_is_never_restored_as_one() {
    let emu = emulator().await;
    emu.set_scenario(DemoScenario::EmailThenSms);
    let store = Arc::new(MemoryStore::new());
    let c = client_with_store(&emu, store.clone());
    login(&emu, &c, "+14155550127").await;
    let approval = c.request_step_up("transfer:write", None).await.unwrap();
    let restored = |store: &Arc<MemoryStore>| {
        client_with_store(&emu, store.clone())
            .restore_step_up()
            .unwrap()
            .map(|ch| ch.challenge_id)
    };
    // A registration under way: the approval is still the one in progress, and the one a
    // restart offers.
    let reg = c
        .register_identifier(&Identifier::email("kept@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(
        c.active_step_up().map(|ch| ch.challenge_id),
        Some(approval.challenge_id.clone())
    );
    assert_eq!(restored(&store), Some(approval.challenge_id.clone()));
    // Completed and redeemed, it leaves the approval in place too.
    c.send_step_up_otp(&reg).await.unwrap();
    let done = c
        .submit_step_up_otp(&reg, &last_code(&emu).code)
        .await
        .unwrap();
    c.redeem_step_up(&done).await.unwrap();
    assert_eq!(
        c.active_step_up().map(|ch| ch.challenge_id),
        Some(approval.challenge_id.clone())
    );
    assert_eq!(restored(&store), Some(approval.challenge_id.clone()));
    // With no approval open, a registration left half-way is not offered after a restart.
    c.cancel_step_up().unwrap();
    c.register_identifier(&Identifier::email("later@example.com").unwrap())
        .await
        .unwrap();
    assert!(c.active_step_up().is_none());
    assert_eq!(restored(&store), None);
}
