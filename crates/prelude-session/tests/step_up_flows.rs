mod common;

use common::*;
use prelude_emulator::DemoScenario;
use prelude_session::{Error, StepUpStatus};
use std::collections::BTreeMap;

fn transfer() -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([
        ("amount".to_owned(), "500".to_owned()),
        ("currency".to_owned(), "EUR".to_owned()),
    ]))
}

#[tokio::test]
async fn review_by_sms_grants_the_scope() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    assert!(!c.has_scope("transfer:write"));
    let ch = c
        .request_step_up("transfer:write", transfer())
        .await
        .unwrap();
    assert_eq!(ch.status, StepUpStatus::Review);
    assert_eq!(ch.current_step.as_deref(), Some("verify_sms"));
    assert_eq!(ch.metadata.get("amount").map(String::as_str), Some("500"));
    assert_eq!(ch.progress(), Some((1, 1)));
    // Caller-driven: nothing was sent yet.
    let before = emu.outbox().len();
    c.send_step_up_otp(&ch).await.unwrap();
    assert_eq!(emu.outbox().len(), before + 1);
    let msg = last_code(&emu);
    assert_eq!(msg.purpose, prelude_emulator::Purpose::StepUp);
    assert_eq!(msg.to, PHONE);
    let done = c.submit_step_up_otp(&ch, &msg.code).await.unwrap();
    assert!(done.is_completed() && done.is_signed());
    assert_eq!(done.metadata, transfer().unwrap());
    assert!(c.active_step_up().is_none());
    assert!(
        !c.has_scope("transfer:write"),
        "nothing is redeemed before the caller looked"
    );
    c.redeem_step_up(&done).await.unwrap();
    assert!(c.has_scope("transfer:write"));
    // The spent challenge tokens are refused.
    assert!(matches!(
        c.submit_step_up_otp(&ch, &msg.code).await,
        Err(Error::TokenReused)
    ));
    assert!(matches!(
        c.redeem_step_up(&done).await,
        Err(Error::TokenReused)
    ));
}

#[tokio::test]
async fn email_then_sms_is_two_steps() {
    let emu = emulator().await;
    emu.set_scenario(DemoScenario::EmailThenSms);
    let c = client(&emu);
    // The demo user has a phone and an email.
    login(&emu, &c, PHONE).await;
    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    assert_eq!(ch.current_step.as_deref(), Some("verify_email"));
    assert_eq!(ch.progress(), Some((1, 2)));
    c.send_step_up_otp(&ch).await.unwrap();
    let mail = last_code(&emu);
    assert_eq!(mail.channel, prelude_emulator::Channel::Email);
    assert_eq!(mail.to, "ada@example.com");
    let next = c.submit_step_up_otp(&ch, &mail.code).await.unwrap();
    assert_eq!(next.current_step.as_deref(), Some("verify_sms"));
    assert!(matches!(
        c.redeem_step_up(&next).await,
        Err(Error::InvalidChallengeToken { .. })
    ));
    assert_eq!(next.progress(), Some((2, 2)));
    assert_ne!(next.challenge_id, "");
    assert!(!c.has_scope("transfer:write"));
    c.send_step_up_otp(&next).await.unwrap();
    let sms = last_code(&emu);
    assert_eq!(sms.channel, prelude_emulator::Channel::Sms);
    let done = c.submit_step_up_otp(&next, &sms.code).await.unwrap();
    assert!(done.is_completed());
    c.redeem_step_up(&done).await.unwrap();
    assert!(c.has_scope("transfer:write"));
}

#[tokio::test]
async fn a_step_for_a_missing_identifier_is_refused_clearly() {
    let emu = emulator().await;
    emu.set_scenario(DemoScenario::EmailThenSms);
    let c = client(&emu);
    login(&emu, &c, "+14155550123").await;
    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    match c.send_step_up_otp(&ch).await {
        Err(Error::BadRequest { code, .. }) => assert_eq!(code, "invalid_identifier"),
        other => panic!("expected invalid_identifier, got {other:?}"),
    }
}

#[tokio::test]
async fn blocked_scope_makes_no_further_calls() {
    let emu = emulator().await;
    emu.set_scenario(DemoScenario::Blocked);
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    assert!(ch.is_blocked());
    let requests = emu.state().stats().values().sum::<u64>();
    assert!(matches!(
        c.send_step_up_otp(&ch).await,
        Err(Error::InvalidChallengeToken { .. })
    ));
    assert_eq!(emu.state().stats().values().sum::<u64>(), requests);
}

#[tokio::test]
async fn granted_at_once_is_redeemed_once_checked() {
    let emu = emulator().await;
    emu.set_scenario(DemoScenario::Granted);
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    let before = emu.state().request_count("/v1/session/refresh");
    let ch = c
        .request_step_up("transfer:write", transfer())
        .await
        .unwrap();
    assert_eq!(ch.status, StepUpStatus::Continue);
    assert!(ch.is_completed() && ch.is_signed());
    assert_eq!(ch.metadata, transfer().unwrap());
    assert_eq!(
        emu.state().request_count("/v1/session/refresh"),
        before,
        "no refresh before the caller checked the signed metadata"
    );
    assert!(!c.has_scope("transfer:write"));
    c.redeem_step_up(&ch).await.unwrap();
    assert!(c.has_scope("transfer:write"));
}

/// The server signs other metadata than was asked: the caller sees it before anything is
/// redeemed, and a session that does not redeem never carries the scope.
#[tokio::test]
async fn rewritten_metadata_is_seen_before_anything_is_redeemed() {
    for scenario in [DemoScenario::Granted, DemoScenario::ReviewSms] {
        let emu = emulator().await;
        emu.set_scenario(scenario);
        emu.state().set_faults(prelude_emulator::Faults {
            rewrite_signed_metadata: true,
            ..prelude_emulator::Faults::default()
        });
        let c = client(&emu);
        login(&emu, &c, PHONE).await;
        let asked = transfer().unwrap();
        let mut ch = c
            .request_step_up("transfer:write", Some(asked.clone()))
            .await
            .unwrap();
        assert_eq!(ch.metadata["amount"], "5000", "{scenario:?}");
        if !ch.is_completed() {
            c.send_step_up_otp(&ch).await.unwrap();
            ch = c
                .submit_step_up_otp(&ch, &last_code(&emu).code)
                .await
                .unwrap();
            assert!(ch.is_completed());
            assert_ne!(ch.metadata, asked, "the last token says it too");
        }
        // The caller refuses it: it never calls redeem_step_up.
        c.refresh().await.unwrap();
        assert!(!c.has_scope("transfer:write"), "{scenario:?}");
        // Empty metadata is rewritten too.
        let bare = c.request_step_up("transfer:write", None).await.unwrap();
        assert_eq!(bare.metadata["payee"], "Mallory");
    }
}

#[tokio::test]
async fn scope_not_allowed() {
    let emu = emulator().await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    assert!(matches!(
        c.request_step_up("payroll:write", None).await,
        Err(Error::ScopeNotAllowed { .. })
    ));
}

#[tokio::test]
async fn a_custom_step_is_continued_with_a_verification_token() {
    use prelude_emulator::customer::CustomerBackend;
    let emu = emulator().await;
    let customer = CustomerBackend::start(serde_json::json!({
        "status": "review", "granted_for": 300, "grant_mode": "session-bound",
        "steps": [{"order": 1, "key": "kyc_review", "expiration_duration": 600},
                  {"order": 2, "key": "verify_sms", "expiration_duration": 600}]
    }))
    .await
    .unwrap();
    let cfg = serde_json::json!({"jwks_url": customer.jwks_url(), "allowed_scopes": [{
        "scope": "transfer:write", "mode": "delegated",
        "delegated": {"delegation_hook": customer.hook_url()}}]});
    let r = reqwest::Client::new()
        .put(format!("{}/v2/session/apps/demo/config/stepup", emu.url()))
        .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let c = client(&emu);
    let user = login(&emu, &c, PHONE).await;
    let ch = c
        .request_step_up("transfer:write", transfer())
        .await
        .unwrap();
    assert_eq!(ch.current_step.as_deref(), Some("kyc_review"));
    assert_eq!(ch.otp_channel(), None);
    let vt = customer.verification_token(
        user.profile.user_id.as_deref().unwrap(),
        &ch.challenge_id,
        "kyc_review",
    );
    let next = c.continue_step_up(&ch, &vt).await.unwrap();
    assert_eq!(next.current_step.as_deref(), Some("verify_sms"));
    c.send_step_up_otp(&next).await.unwrap();
    let done = c
        .submit_step_up_otp(&next, &last_code(&emu).code)
        .await
        .unwrap();
    c.redeem_step_up(&done).await.unwrap();
    assert!(c.has_scope("transfer:write"));
    // The same verification token cannot pass the step twice.
    assert!(matches!(
        c.continue_step_up(&ch, &vt).await,
        Err(Error::TokenReused) | Err(Error::BadRequest { .. })
    ));
}

#[tokio::test]
async fn an_open_challenge_survives_a_new_client() {
    let emu = emulator().await;
    let store = std::sync::Arc::new(prelude_session::MemoryStore::new());
    let first = client_with_store(&emu, store.clone());
    login(&emu, &first, PHONE).await;
    let ch = first
        .request_step_up("transfer:write", transfer())
        .await
        .unwrap();
    drop(first);
    let second = client_with_store(&emu, store);
    second.refresh().await.unwrap();
    let again = second
        .restore_step_up()
        .unwrap()
        .expect("the challenge is offered again");
    assert_eq!(again.challenge_id, ch.challenge_id);
    assert_eq!(
        again.metadata.get("currency").map(String::as_str),
        Some("EUR")
    );
    second.send_step_up_otp(&again).await.unwrap();
    let done = second
        .submit_step_up_otp(&again, &last_code(&emu).code)
        .await
        .unwrap();
    assert!(done.is_completed());
    assert!(
        second.restore_step_up().unwrap().is_none(),
        "cleared once completed"
    );
}

#[tokio::test]
async fn continue_without_a_token_is_unsigned_and_picked_up_by_a_plain_refresh() {
    let emu = emulator().await;
    emu.set_scenario(DemoScenario::Granted);
    emu.state().set_faults(prelude_emulator::Faults {
        omit_continue_token: true,
        ..prelude_emulator::Faults::default()
    });
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    let before = emu.state().request_count("/v1/session/refresh");
    let ch = c
        .request_step_up("transfer:write", transfer())
        .await
        .unwrap();
    assert_eq!(ch.status, StepUpStatus::Continue);
    assert!(ch.is_completed());
    assert!(!ch.is_signed(), "nothing signed to check");
    assert!(ch.metadata.is_empty(), "no signed record of the metadata");
    assert_eq!(emu.state().request_count("/v1/session/refresh"), before);
    c.redeem_step_up(&ch).await.unwrap();
    assert_eq!(emu.state().request_count("/v1/session/refresh") - before, 1);
    assert!(c.has_scope("transfer:write"));
}
