//! Passkeys through the client, against the real emulator over loopback HTTP: registration
//! after a code step-up, a verify_passkey approval redeemed by the caller, list, rename and
//! delete, passkey sign-in, and each refusal as its typed error. The authenticator is a
//! software one built on prelude-passkey's byte recipe.

mod common;

use common::*;
use prelude_passkey::{Credential, FLAG_UP, FLAG_UV, unb64};
use prelude_session::{
    Assertion, Attestation, Authenticator, CreationOptions, Error, PasskeyRegistration,
    RequestOptions, SessionClient,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

const ORIGIN: &str = "https://localhost";
const PASSKEY_CONFIG: &str = "/v2/session/apps/demo/config/passkey";
const STEPUP_CONFIG: &str = "/v2/session/apps/demo/config/stepup";
const WRITE: &str = "prld:passkey:write";

/// A software platform authenticator: credentials in memory, user presence always given, user
/// verification when `uv` is set and the options do not discourage it.
struct SoftAuthenticator {
    uv: bool,
    origin: String,
    held: Mutex<Vec<(Credential, u32)>>,
    seed: AtomicU32,
    calls: AtomicU32,
}

impl SoftAuthenticator {
    fn new(uv: bool) -> Self {
        Self {
            uv,
            origin: ORIGIN.into(),
            held: Mutex::new(vec![]),
            seed: AtomicU32::new(1),
            calls: AtomicU32::new(0),
        }
    }
    fn flags(&self, user_verification: Option<&str>) -> u8 {
        if self.uv && user_verification != Some("discouraged") {
            FLAG_UP | FLAG_UV
        } else {
            FLAG_UP
        }
    }
}

impl Authenticator for SoftAuthenticator {
    fn make_credential(&self, o: &CreationOptions) -> prelude_session::Result<Attestation> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut held = self.held.lock().unwrap();
        let ids: Vec<String> = held
            .iter()
            .map(|(c, _)| prelude_passkey::b64(c.id()))
            .collect();
        if o.exclude_credentials.iter().any(|d| ids.contains(&d.id)) {
            return Err(Error::PasskeyAlreadyRegistered);
        }
        let seed = self.seed.fetch_add(1, Ordering::SeqCst) as u8;
        let mut secret = [seed; 32];
        secret[0] = 1;
        let rp_id = o.rp.id.clone().unwrap_or_else(|| "localhost".into());
        let user = unb64(&o.user.id).ok_or(Error::Cancelled)?;
        let cred = Credential::from_secret(&secret, vec![seed; 32], rp_id, user)
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        let uv = o
            .authenticator_selection
            .as_ref()
            .and_then(|s| s.user_verification.as_deref());
        let att = cred
            .registration(&o.challenge, &self.origin, self.flags(uv))
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        held.push((cred, 0));
        Ok(Attestation(att))
    }

    fn get_assertion(&self, o: &RequestOptions) -> prelude_session::Result<Assertion> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut held = self.held.lock().unwrap();
        let allowed = |c: &Credential| {
            o.allow_credentials.is_empty()
                || o.allow_credentials
                    .iter()
                    .any(|d| d.id == prelude_passkey::b64(c.id()))
        };
        let (cred, counter) =
            held.iter_mut()
                .find(|(c, _)| allowed(c))
                .ok_or(Error::PasskeyStepUnavailable {
                    message: "no credential here".into(),
                })?;
        // Stored before the signature leaves.
        *counter += 1;
        let flags = self.flags(o.user_verification.as_deref());
        Ok(Assertion(cred.assertion(
            &o.challenge,
            &self.origin,
            flags,
            *counter,
        )))
    }
}

fn steps(keys: &[&str]) -> Value {
    Value::Array(
        keys.iter()
            .enumerate()
            .map(|(i, k)| json!({"order": i + 1, "key": k, "expiration_duration": 300}))
            .collect(),
    )
}

fn rule(scope: &str, keys: &[&str], mode: &str) -> Value {
    json!({"scope": scope, "mode": "direct",
           "direct": {"identifier_types": [], "status": "review", "grant_mode": mode,
                      "granted_for": 300, "steps": steps(keys)}})
}

/// The emulator's management API, as an operator configures it.
async fn put(emu: &prelude_emulator::Emulator, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .put(format!("{}{path}", emu.url()))
        .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

async fn faults(emu: &prelude_emulator::Emulator, body: Value) {
    put(emu, "/emulator/v1/faults", body).await;
}

/// An emulator with passkeys configured (UV `uv`, sign-in `login`) and the step-up rules:
/// `prld:passkey:write` by SMS code, `passkey:demo` by passkey, `transfer:write` by SMS code
/// then passkey.
async fn passkey_emulator(uv: &str, login: bool) -> prelude_emulator::Emulator {
    let emu = emulator_with(prelude_emulator::Config {
        resend_cooldown_secs: 0,
        max_open_challenges: 64,
        ..Default::default()
    })
    .await;
    put(
        &emu,
        STEPUP_CONFIG,
        json!({"allowed_scopes": [
            rule(WRITE, &["verify_sms"], "session-bound"),
            rule("passkey:demo", &["verify_passkey"], "single-use"),
            rule("transfer:write", &["verify_sms", "verify_passkey"], "single-use"),
        ]}),
    )
    .await;
    put(
        &emu,
        PASSKEY_CONFIG,
        json!({"rp_id": "localhost", "rp_name": "Countersign (emulator)",
               "allowed_origins": [ORIGIN], "user_verification": uv,
               "login_enabled": login}),
    )
    .await;
    emu
}

/// Steps up for `scope` by SMS code and redeems it.
async fn code_step_up(emu: &prelude_emulator::Emulator, c: &SessionClient, scope: &str) {
    let ch = c.request_step_up(scope, None).await.unwrap();
    assert_eq!(ch.current_step.as_deref(), Some("verify_sms"));
    c.send_step_up_otp(&ch).await.unwrap();
    let done = c
        .submit_step_up_otp(&ch, &last_code(emu).code)
        .await
        .unwrap();
    c.redeem_step_up(&done).await.unwrap();
    assert!(c.has_scope(scope));
}

fn laptop() -> PasskeyRegistration {
    PasskeyRegistration {
        username: PHONE.into(),
        display_name: None,
        nickname: Some("laptop".into()),
    }
}

/// Signed in, with a registered passkey.
async fn with_passkey(
    uv: &str,
    login_enabled: bool,
) -> (prelude_emulator::Emulator, SessionClient, SoftAuthenticator) {
    let emu = passkey_emulator(uv, login_enabled).await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    let a = SoftAuthenticator::new(true);
    code_step_up(&emu, &c, WRITE).await;
    c.register_passkey(&a, &laptop()).await.unwrap();
    (emu, c, a)
}

fn amount() -> BTreeMap<String, String> {
    BTreeMap::from([("amount".to_owned(), "500".to_owned())])
}

#[tokio::test]
async fn register_after_a_code_step_up_then_approve_and_redeem() {
    let emu = passkey_emulator("required", false).await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    let a = SoftAuthenticator::new(true);

    // Without the scope the server refuses, after the ceremony was never started.
    let e = c.register_passkey(&a, &laptop()).await.unwrap_err();
    assert!(matches!(e, Error::InsufficientScope), "{e:?}");
    assert_eq!(a.calls.load(Ordering::SeqCst), 0);
    // An empty username is refused before any request.
    let empty = PasskeyRegistration::default();
    let e = c.register_passkey(&a, &empty).await.unwrap_err();
    assert_eq!(e.code(), "invalid_input");

    code_step_up(&emu, &c, WRITE).await;
    let reg = c.register_passkey(&a, &laptop()).await.unwrap();
    assert!(!reg.already_registered);
    assert_eq!(reg.credential.nickname.as_deref(), Some("laptop"));
    assert!(!reg.credential.backup_state);
    // The refresh after registration drops the consumed scope and shows the passkey.
    assert!(!c.has_scope(WRITE), "registration consumes the scope");
    assert_eq!(c.profile().unwrap().claims["has_passkey"], true);

    // The verify_passkey step comes with options; passing it does not redeem.
    let ch = c
        .request_step_up("passkey:demo", Some(amount()))
        .await
        .unwrap();
    assert_eq!(ch.current_step.as_deref(), Some("verify_passkey"));
    assert!(ch.has_passkey_options());
    assert!(c.active_step_up().is_some());
    let done = c.continue_step_up_with_passkey(&ch, &a).await.unwrap();
    assert!(done.is_completed() && done.is_signed());
    assert_eq!(done.scope, "passkey:demo");
    assert_eq!(done.metadata, amount());
    assert!(
        c.active_step_up().is_none(),
        "the active step-up is cleared"
    );
    assert!(
        !c.has_scope("passkey:demo"),
        "nothing redeemed before the caller looked"
    );
    c.redeem_step_up(&done).await.unwrap();
    assert!(c.has_scope("passkey:demo"));
    // The spent challenge is refused on replay.
    let e = c.continue_step_up_with_passkey(&ch, &a).await.unwrap_err();
    assert_eq!(e.code(), "token_reused", "{e:?}");
}

#[tokio::test]
async fn a_code_step_hands_over_to_the_passkey_step() {
    let (emu, c, a) = with_passkey("required", false).await;
    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    assert!(!ch.has_passkey_options());
    c.send_step_up_otp(&ch).await.unwrap();
    let next = c
        .submit_step_up_otp(&ch, &last_code(&emu).code)
        .await
        .unwrap();
    assert_eq!(next.current_step.as_deref(), Some("verify_passkey"));
    assert!(next.has_passkey_options());
    assert_eq!(next.progress(), Some((2, 2)));
    let done = c.continue_step_up_with_passkey(&next, &a).await.unwrap();
    assert!(done.is_completed());
    c.redeem_step_up(&done).await.unwrap();
    assert!(c.has_scope("transfer:write"));
    // A code step is not a passkey step.
    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    let e = c.continue_step_up_with_passkey(&ch, &a).await.unwrap_err();
    assert_eq!(e.code(), "passkey_step_unavailable");
}

#[tokio::test]
async fn list_rename_and_delete_after_its_own_step_up() {
    let (emu, c, _a) = with_passkey("required", false).await;
    let list = c.list_passkeys().await.unwrap();
    assert_eq!(list.len(), 1);
    let id = list[0].credential_id.clone();
    assert_eq!(list[0].nickname.as_deref(), Some("laptop"));

    c.rename_passkey(&id, "work laptop").await.unwrap();
    assert_eq!(
        c.list_passkeys().await.unwrap()[0].nickname.as_deref(),
        Some("work laptop")
    );
    c.rename_passkey(&id, "").await.unwrap();
    assert_eq!(c.list_passkeys().await.unwrap()[0].nickname, None);
    // Refused locally: an ID that would leave its path segment, a nickname too long.
    for bad in ["", "../sessions", "a/b", "a?b"] {
        let e = c.rename_passkey(bad, "x").await.unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{bad}");
        let e = c.delete_passkey(bad).await.unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{bad}");
    }
    let e = c.rename_passkey(&id, &"n".repeat(65)).await.unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let e = c.rename_passkey("bm8tc3VjaA", "x").await.unwrap_err();
    assert_eq!(e.code(), "not_found");

    // Registration consumed the scope, and deleting needs it again.
    let e = c.delete_passkey(&id).await.unwrap_err();
    assert!(matches!(e, Error::InsufficientScope), "{e:?}");
    code_step_up(&emu, &c, WRITE).await;
    c.delete_passkey(&id).await.unwrap();
    assert!(c.list_passkeys().await.unwrap().is_empty());
    // The refresh after deleting the last one shows it.
    assert_eq!(c.profile().unwrap().claims["has_passkey"], false);
    let e = c.delete_passkey(&id).await.unwrap_err();
    assert_eq!(e.code(), "not_found");
}

#[tokio::test]
async fn no_passkey_is_passkey_step_unavailable_before_any_ceremony() {
    let emu = passkey_emulator("required", false).await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    let a = SoftAuthenticator::new(true);
    let e = c.request_step_up("passkey:demo", None).await.unwrap_err();
    assert!(matches!(e, Error::PasskeyStepUnavailable { .. }), "{e:?}");
    assert_eq!(e.code(), "passkey_step_unavailable");
    assert!(c.active_step_up().is_none());

    // The same when a code step hands over to a passkey step the user cannot pass.
    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    c.send_step_up_otp(&ch).await.unwrap();
    let e = c
        .submit_step_up_otp(&ch, &last_code(&emu).code)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "passkey_step_unavailable");
    assert!(
        c.active_step_up().is_none(),
        "a step that cannot pass is dropped"
    );
    assert_eq!(a.calls.load(Ordering::SeqCst), 0, "no ceremony ran");
}

#[tokio::test]
async fn refusals_of_the_assertion_are_typed() {
    let (emu, c, a) = with_passkey("required", false).await;
    let approve = async |c: &SessionClient, a: &SoftAuthenticator| {
        let ch = c.request_step_up("passkey:demo", None).await.unwrap();
        c.continue_step_up_with_passkey(&ch, a).await
    };

    // The options say UV is discouraged while the check still requires it: an honest
    // authenticator sends UP only and the server refuses it.
    faults(&emu, json!({"passkey_options_uv_discouraged": true})).await;
    let e = approve(&c, &a).await.unwrap_err();
    assert!(matches!(e, Error::PasskeyStepUnavailable { .. }), "{e:?}");
    faults(&emu, json!({})).await;

    // An authenticator that cannot verify the user, where the policy requires it.
    let mut no_uv = SoftAuthenticator::new(false);
    no_uv.held = Mutex::new(a.held.lock().unwrap().clone());
    let e = approve(&c, &no_uv).await.unwrap_err();
    assert_eq!(e.code(), "passkey_step_unavailable", "{e:?}");

    // The wrong origin.
    let mut elsewhere = SoftAuthenticator::new(true);
    elsewhere.origin = "https://evil.example".into();
    elsewhere.held = Mutex::new(a.held.lock().unwrap().clone());
    let e = approve(&c, &elsewhere).await.unwrap_err();
    assert_eq!(e.code(), "passkey_step_unavailable", "{e:?}");

    // A blocked credential.
    faults(&emu, json!({"passkey_blocked": true})).await;
    let e = approve(&c, &a).await.unwrap_err();
    assert!(
        matches!(e, Error::PasskeyAuthenticatorBlocked { .. }),
        "{e:?}"
    );
    assert_eq!(e.code(), "passkey_authenticator_blocked");
    assert!(e.reason().is_some());
    faults(&emu, json!({})).await;
    assert!(approve(&c, &a).await.unwrap().is_completed());
}

#[tokio::test]
async fn passkey_sign_in_opens_a_session() {
    let (emu, c, a) = with_passkey("required", true).await;
    c.logout().await.unwrap();
    assert!(c.profile().is_none());
    let user = c.login_with_passkey(&a).await.unwrap();
    assert!(user.profile.session_id.is_some());
    assert_eq!(user.profile.claims["has_passkey"], true);
    assert!(!c.list_passkeys().await.unwrap().is_empty());

    // A refused assertion is `unauthorized`, on purpose without a reason.
    let mut elsewhere = SoftAuthenticator::new(true);
    elsewhere.origin = "https://evil.example".into();
    elsewhere.held = Mutex::new(a.held.lock().unwrap().clone());
    let other = client(&emu);
    let e = other.login_with_passkey(&elsewhere).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e:?}");
    assert!(other.profile().is_none());

    // Sign-in switched off.
    put(
        &emu,
        PASSKEY_CONFIG,
        json!({"rp_id": "localhost", "rp_name": "Countersign (emulator)",
               "allowed_origins": [ORIGIN], "user_verification": "required"}),
    )
    .await;
    let e = other.login_with_passkey(&a).await.unwrap_err();
    assert!(matches!(e, Error::PasskeyNotConfigured { .. }), "{e:?}");
}

#[tokio::test]
async fn without_a_configuration_registration_is_not_configured() {
    let emu = emulator().await;
    // The demo seed configures passkeys: this server has none.
    emu.state().data().passkey_config = None;
    put(
        &emu,
        STEPUP_CONFIG,
        json!({"allowed_scopes": [rule(WRITE, &["verify_sms"], "session-bound")]}),
    )
    .await;
    let c = client(&emu);
    login(&emu, &c, PHONE).await;
    code_step_up(&emu, &c, WRITE).await;
    let a = SoftAuthenticator::new(true);
    let e = c.register_passkey(&a, &laptop()).await.unwrap_err();
    assert_eq!(e.code(), "passkey_not_configured", "{e:?}");
    assert_eq!(a.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_second_registration_of_the_same_authenticator_is_refused_by_it() {
    let (emu, c, a) = with_passkey("required", false).await;
    code_step_up(&emu, &c, WRITE).await;
    let e = c.register_passkey(&a, &laptop()).await.unwrap_err();
    assert_eq!(e.code(), "passkey_already_registered");
    // finish was not sent: the scope is still there.
    assert!(c.has_scope(WRITE));
}

#[tokio::test]
async fn ceremony_secrets_stay_out_of_debug() {
    let (_emu, c, a) = with_passkey("required", false).await;
    let ch = c.request_step_up("passkey:demo", None).await.unwrap();
    let printed = format!("{ch:?}");
    assert!(!printed.contains("eyJ"), "{printed}");
    assert!(printed.contains("passkey_options: true"), "{printed}");
    let o = RequestOptions {
        challenge: "Y2hhbGxlbmdl".into(),
        rp_id: Some("localhost".into()),
        timeout: None,
        allow_credentials: vec![],
        user_verification: Some("required".into()),
    };
    let assertion = a.get_assertion(&o).unwrap();
    let printed = format!("{assertion:?}");
    assert!(
        !printed.contains(&assertion.0.response.signature),
        "{printed}"
    );
    assert!(!printed.contains(&assertion.0.response.client_data_json));
    assert!(printed.contains("[redacted]"));
}

#[tokio::test]
async fn a_restored_passkey_step_keeps_its_options() {
    let emu = passkey_emulator("required", false).await;
    let store = std::sync::Arc::new(prelude_session::MemoryStore::new());
    let c = client_with_store(&emu, store.clone());
    login(&emu, &c, PHONE).await;
    let a = SoftAuthenticator::new(true);
    code_step_up(&emu, &c, WRITE).await;
    c.register_passkey(&a, &laptop()).await.unwrap();
    let ch = c.request_step_up("passkey:demo", None).await.unwrap();
    assert!(ch.has_passkey_options());

    // The app restarts: the challenge in progress comes back with what it needs.
    let again = client_with_store(&emu, store);
    let restored = again.restore_step_up().unwrap().expect("restored");
    assert_eq!(restored.challenge_id, ch.challenge_id);
    assert!(restored.has_passkey_options());
    let done = again
        .continue_step_up_with_passkey(&restored, &a)
        .await
        .unwrap();
    assert!(done.is_completed());
    again.redeem_step_up(&done).await.unwrap();
    assert!(again.has_scope("passkey:demo"));
}
