//! Passkeys in the app: the account panel's list, adding one (a code step-up for
//! `prld:passkey:write`, the PIN, registration), deleting one (its own step-up), approving a
//! `verify_passkey` step with this computer, and signing in with it (docs/protocol.md,
//! "Passkeys in the app").

use super::*;
use crate::authenticator::{AuthenticatorError, Ceremony, Consent, LocalAuthenticator};
use crate::view::{PasskeyRow, PasskeySettingsView, PasskeyStepView, PasskeyView};
use prelude_session::PasskeyRegistration;
use prelude_wire::VERIFY_PASSKEY;
use secrecy::SecretString;
use std::collections::BTreeMap;

/// The reserved scope that registers (and, on the emulator, deletes) a passkey.
pub const PASSKEY_WRITE: &str = prelude_wire::PASSKEY_WRITE_SCOPE;

/// What the running `prld:passkey:write` step-up is for.
#[derive(Clone, Debug)]
enum Intent {
    Add,
    Delete(String),
}

/// The passkey part of the backend's state.
#[derive(Default)]
pub(super) struct PasskeyFlow {
    intent: Option<Intent>,
    /// The step-up passed: the PIN is asked next, then the passkey is registered.
    setup: bool,
    /// An approval of the app's own form that stopped for want of a passkey: asked again
    /// once one is added (its old challenge carries no options).
    resume: Option<Approval>,
    /// Likewise for a program's or a link's request, by its ID: it stays queued (a failed
    /// attempt does not end it) and its step-up starts again once a passkey is added.
    resume_request: Option<String>,
}

impl PasskeyFlow {
    /// No passkey action, set-up or approval waiting for a passkey is under way.
    pub(super) fn is_idle(&self) -> bool {
        self.intent.is_none()
            && !self.setup
            && self.resume.is_none()
            && self.resume_request.is_none()
    }
}

impl Backend {
    pub(super) fn local_authenticator(
        store: Arc<PlatformStore>,
        profile: &str,
    ) -> LocalAuthenticator {
        LocalAuthenticator::new(store, profile)
    }

    pub(super) fn server_key(&self) -> String {
        self.server.key()
    }

    /// A ceremony for this server with the person's click and PIN, its own refusal mapped
    /// back from the client's `cancelled`.
    fn ceremony(&self, pin: Option<String>) -> (Ceremony<'_>, String) {
        let key = self.server_key();
        let consent = Consent {
            present: true,
            pin: pin.filter(|p| !p.is_empty()).map(SecretString::from),
        };
        (self.authenticator.ceremony(&key, consent), key)
    }

    /// The authenticator's reason when it refused, else the client's error.
    fn ceremony_error(ceremony: &Ceremony<'_>, e: SessionError) -> AppError {
        match ceremony.take_failure() {
            Some(f) => AppError::Authenticator(f),
            None => AppError::from(e),
        }
    }

    /// The account panel's passkeys: the server's list, each marked as this computer's, one a
    /// PIN reset deleted here, or another device's.
    pub async fn list_passkeys(&mut self) -> AppResult<Vec<PasskeyRow>> {
        if !self.signed_in() {
            return Err(AppError::NotSignedIn);
        }
        let key = self.server_key();
        let list = match self.session.client().list_passkeys().await {
            Ok(list) => list,
            Err(e) => {
                // Keys whose registration is unconfirmed still show, so they can be deleted.
                let pending = self.authenticator.unconfirmed_ids(&key)?;
                if pending.is_empty() {
                    return Err(e.into());
                }
                return Ok(pending.into_iter().map(unconfirmed_row).collect());
            }
        };
        let held: Vec<String> = list.iter().map(|c| c.credential_id.clone()).collect();
        for id in self.authenticator.settle_unconfirmed(&key, &held)?.0 {
            self.audit_passkey(AttemptOutcome::PasskeyAdded, &id);
        }
        let (here, gone) = self.authenticator.local_ids(&key)?;
        Ok(list
            .into_iter()
            .map(|c| PasskeyRow {
                place: if here.contains(&c.credential_id) {
                    "here"
                } else if gone.contains(&c.credential_id) {
                    "gone"
                } else {
                    "elsewhere"
                },
                id: c.credential_id,
                nickname: c.nickname,
                created_ms: c.created_at.saturating_mul(1000),
                last_used_ms: c.last_used_at.saturating_mul(1000),
            })
            .collect())
    }

    /// Starts adding a passkey: refused at once when the keyring is not the real one or the
    /// PIN is blocked; else the step-up for `prld:passkey:write` (a code), after which the
    /// PIN is asked. From a `verify_passkey` step that had no passkey to use, that approval
    /// ends and is asked again once the passkey is added.
    pub async fn add_passkey(&mut self) -> AppResult<()> {
        if let Some(why) = self.store.degraded() {
            return Err(AuthenticatorError::Keyring(format!(
                "secrets are kept in memory this run ({why})"
            ))
            .into());
        }
        let pin = self.authenticator.pin().state()?;
        if pin.set && pin.tries_left == 0 {
            return Err(AuthenticatorError::PinBlocked.into());
        }
        if let Some(a) = self.session.flow().approving()
            && a.challenge.current_step.as_deref() == Some(VERIFY_PASSKEY)
        {
            let a = self.session.end_approval()?;
            let e = AppError::NeedsPasskey(SessionError::PasskeyStepUnavailable {
                message: "no passkey on this computer; one is being added".into(),
            });
            self.passkey_unavailable(&a);
            self.close_attempt(a, AttemptOutcome::Failed, Some(&e));
        }
        self.passkey_step_up(Intent::Add).await
    }

    /// Deletes a passkey on the server (after its own step-up for `prld:passkey:write`,
    /// which registration consumed), then its key here if it is this computer's.
    pub async fn delete_passkey(&mut self, id: &str) -> AppResult<()> {
        if !self.signed_in() {
            return Err(AppError::NotSignedIn);
        }
        let key = self.server_key();
        if self
            .authenticator
            .unconfirmed_ids(&key)?
            .iter()
            .any(|u| u == id)
        {
            // The server never confirmed it: only the key here is deleted.
            self.authenticator.forget(&key, id)?;
            self.audit_passkey(AttemptOutcome::PasskeyRemoved, id);
            self.notice.say("The passkey was deleted on this computer. If the server kept it, it shows as another device's; delete it there.");
            return Ok(());
        }
        self.passkey_step_up(Intent::Delete(id.to_owned())).await
    }

    async fn passkey_step_up(&mut self, intent: Intent) -> AppResult<()> {
        self.passkey.setup = false;
        self.passkey.intent = Some(intent);
        let approval = Approval {
            scope: PASSKEY_WRITE.into(),
            metadata: BTreeMap::new(),
        };
        let r = self.start_attempt(Attempt::new(approval, unix_now())).await;
        if r.is_err() {
            self.passkey.intent = None;
        }
        r
    }

    /// Called when an own approval of `scope` was granted: the passkey action it was for
    /// goes on.
    pub(super) async fn passkey_granted(&mut self, scope: &str, own: bool) -> AppResult<()> {
        if scope != PASSKEY_WRITE || !own {
            return Ok(());
        }
        let Some(intent) = self.passkey.intent.take() else {
            return Ok(());
        };
        // Back to the account screen: the grant is a means, not the end.
        self.session.done()?;
        match intent {
            Intent::Add => {
                self.passkey.setup = true;
                Ok(())
            }
            Intent::Delete(id) => {
                self.session.client().delete_passkey(&id).await?;
                self.authenticator.forget(&self.server_key(), &id)?;
                self.audit_passkey(AttemptOutcome::PasskeyRemoved, &id);
                self.notice.say("The passkey was deleted.");
                Ok(())
            }
        }
    }

    /// Sets the PIN (the first time: `pin` twice) or checks it, then registers this
    /// computer's passkey; an approval that was waiting for it is asked again.
    pub async fn register_passkey(&mut self, pin: &str, confirm: Option<&str>) -> AppResult<()> {
        if !self.passkey.setup || !self.signed_in() {
            return Err(AppError::WrongStage);
        }
        let state = self.authenticator.pin().state()?;
        if !state.set {
            crate::authenticator::pin::check_pin_policy(pin)?;
            if confirm != Some(pin) {
                return Err(AppError::PinMismatch);
            }
            self.authenticator.pin().set(pin)?;
        }
        let username = self
            .session
            .flow()
            .identifier()
            .map(|i| i.value.clone())
            .or_else(|| self.session.client().profile().and_then(|p| p.user_id))
            .ok_or(AppError::NotSignedIn)?;
        let registration = PasskeyRegistration {
            username,
            display_name: None,
            nickname: Some(format!("Countersign on {}", host_name())),
        };
        let before = self.authenticator.local_ids(&self.server_key())?.0;
        let (ceremony, key) = self.ceremony(Some(pin.to_owned()));
        let r = self
            .session
            .client()
            .register_passkey(&ceremony, &registration)
            .await;
        let unknown = matches!(&r, Err(e) if outcome_unknown(e));
        let r = r.map_err(|e| Self::ceremony_error(&ceremony, e));
        drop(ceremony);
        let registered = match r {
            Ok(reg) => reg,
            Err(e) => {
                let new: Vec<String> = match self.authenticator.local_ids(&key) {
                    Ok((after, _)) => after
                        .into_iter()
                        .filter(|id| !before.contains(id))
                        .collect(),
                    Err(_) => Vec::new(),
                };
                // The server may have stored it (even a 4xx may come from the refresh after
                // `finish`): its list decides, unless the authenticator itself refused.
                if !new.is_empty() && !matches!(e, AppError::Authenticator(_)) {
                    return self.registration_settled(&key, &new, e, unknown).await;
                }
                // A key the server refused is not kept.
                for id in &new {
                    let _ = self.authenticator.forget(&key, id);
                }
                // A wrong PIN may be typed again; anything else ends the setup.
                if !matches!(
                    e,
                    AppError::Authenticator(AuthenticatorError::WrongPin { .. })
                ) {
                    self.passkey.setup = false;
                }
                return Err(e);
            }
        };
        self.passkey.setup = false;
        self.passkey_added(&registered.credential.credential_id)
            .await
    }

    /// A passkey is on the server and here: audited, and an approval that waited for it is
    /// asked again.
    async fn passkey_added(&mut self, id: &str) -> AppResult<()> {
        self.audit_passkey(AttemptOutcome::PasskeyAdded, id);
        if let Some(approval) = self.passkey.resume.take() {
            // The old challenge had no options: a new one has.
            return self.start_attempt(Attempt::new(approval, unix_now())).await;
        }
        if let Some(request) = self.passkey.resume_request.take()
            && self.is_shown(&request)
        {
            // Still queued and on screen (not answered, withdrawn or timed out meanwhile).
            return self.approve_request(&request).await;
        }
        self.notice
            .say("This computer can now approve with its passkey.");
        Ok(())
    }

    /// Registration failed with the server's error `e` after the new keys were made: the
    /// server may still hold the credential, so the keys stay, marked unconfirmed, and the
    /// server's list decides. Held: the passkey was added. Not held: the keys go and `e` is
    /// returned. No list: after a definite refusal (`unknown` false, a 4xx) the keys go; after
    /// an unknown outcome they stay, listed as "added, not confirmed" to delete; `e` either way.
    async fn registration_settled(
        &mut self,
        key: &str,
        new: &[String],
        e: AppError,
        unknown: bool,
    ) -> AppResult<()> {
        self.passkey.setup = false;
        self.authenticator.mark_unconfirmed(key, new)?;
        let list = match self.session.client().list_passkeys().await {
            Ok(list) => list,
            Err(_) if !unknown => {
                for id in new {
                    self.authenticator.forget(key, id)?;
                }
                return Err(e);
            }
            Err(_) => {
                self.notice.say("The passkey was added on this computer, but the server has not confirmed it. It shows as \"added, not confirmed\" in the list until the server answers; you can delete it there.");
                return Err(e);
            }
        };
        let held: Vec<String> = list.into_iter().map(|c| c.credential_id).collect();
        let (kept, _) = self.authenticator.settle_unconfirmed(key, &held)?;
        let Some(id) = kept.first() else {
            return Err(e);
        };
        // Its answer was lost, so the refresh that drops the spent scope did not happen.
        if let Err(e) = self.session.client().refresh().await {
            tracing::warn!(code = e.code(), "refresh after a confirmed passkey failed");
        }
        self.passkey_added(id).await
    }

    /// An approval the server wants passed by passkey, when this user has none here
    /// (`passkey_step_unavailable`, as [`AppError::NeedsPasskey`]): kept, to be asked again
    /// once a passkey is added, the app's own form by what it asked, a program's or a link's
    /// request by its ID.
    pub(super) fn passkey_unavailable(&mut self, attempt: &Attempt) {
        match &attempt.request {
            None => {
                self.passkey.resume = Some(attempt.approval.clone());
                self.passkey.resume_request = None;
            }
            Some(tag) => {
                self.passkey.resume_request = Some(tag.id.clone());
                self.passkey.resume = None;
            }
        }
    }

    /// Whether the account screen stays in front of the queued request `id`: while the PIN
    /// of a new passkey is asked, or while `id` waits for a passkey to be added there.
    pub(super) fn passkey_holds(&self, id: &str) -> bool {
        self.passkey.setup || self.passkey.resume_request.as_deref() == Some(id)
    }

    /// A new approval replaces one that waited for a passkey.
    pub(super) fn passkey_resume_forgotten(&mut self) {
        self.passkey.resume = None;
        self.passkey.resume_request = None;
    }

    /// Leaves the PIN step without registering.
    pub fn cancel_passkey_setup(&mut self) {
        self.passkey.setup = false;
        self.passkey.resume = None;
        self.passkey.resume_request = None;
    }

    /// Passes the `verify_passkey` step with this computer: the challenge's signed scope and
    /// metadata are compared with what was asked first, then the person's click (user
    /// presence) and, when the options require it, their PIN (user verification) let the
    /// authenticator sign. No code is sent.
    pub async fn approve_with_passkey(&mut self, pin: Option<String>) -> AppResult<()> {
        self.approve_with_passkey_granted(pin, false).await
    }

    /// As [`Self::approve_with_passkey`]; with `uv_granted`, the PIN typed at the lock for this
    /// request stands as the user verification (`Ceremony::with_uv_granted`).
    pub async fn approve_with_passkey_granted(
        &mut self,
        pin: Option<String>,
        uv_granted: bool,
    ) -> AppResult<()> {
        let (ch, asked) = self.session.current_step()?;
        if ch.current_step.as_deref() != Some(VERIFY_PASSKEY) {
            return Err(AppError::WrongStage);
        }
        if ch.is_signed() && !(ch.scope == asked.scope && ch.metadata == asked.metadata) {
            let s = self.session.refuse(AppError::ChallengeMismatch);
            return self.settle(s);
        }
        let (ceremony, _) = self.ceremony(pin);
        let ceremony = if uv_granted {
            ceremony.with_uv_granted()
        } else {
            ceremony
        };
        let r = self
            .session
            .client()
            .continue_step_up_with_passkey(&ch, &ceremony)
            .await;
        let r = r.map_err(|e| Self::ceremony_error(&ceremony, e));
        drop(ceremony);
        let s = match self.session.step_result(r) {
            Ok(next) => self.session.step_passed(next).await,
            Err(failed) => *failed,
        };
        self.stepped(s).await
    }

    /// Signs in with this computer's passkey (`login/passkey/begin`, the PIN when the server
    /// requires user verification, `finish`, `finalize`).
    pub async fn login_with_passkey(&mut self, pin: Option<String>) -> AppResult<()> {
        if self.session.signed_in() {
            return Err(AppError::WrongStage);
        }
        if matches!(self.session.stage(), Stage::Code) {
            self.session.change_identifier()?;
        }
        let (ceremony, _) = self.ceremony(pin);
        let r = self.session.client().login_with_passkey(&ceremony).await;
        let r = r.map_err(|e| Self::ceremony_error(&ceremony, e));
        drop(ceremony);
        let user = r?;
        self.session.signed_in_as(&user)?;
        self.audit_passkey(AttemptOutcome::PasskeyUsed, "sign-in");
        Ok(())
    }

    /// Renames a passkey on the server (no step-up: nothing is granted by a name).
    pub async fn rename_passkey(&mut self, id: &str, nickname: &str) -> AppResult<()> {
        if !self.signed_in() {
            return Err(AppError::NotSignedIn);
        }
        Ok(self.session.client().rename_passkey(id, nickname).await?)
    }

    /// Changes the PIN, given the old one (which counts as a try).
    pub fn change_pin(&mut self, old: &str, new: &str, confirm: &str) -> AppResult<()> {
        if new != confirm {
            return Err(AppError::PinMismatch);
        }
        self.authenticator.pin().change(old, new)?;
        self.notice.say("Your Countersign PIN is changed.");
        Ok(())
    }

    /// Forgets the PIN and deletes this computer's passkeys (their server entries stay, as
    /// "no longer on this computer", for the person to delete).
    pub fn reset_pin(&mut self) -> AppResult<()> {
        self.authenticator.reset()?;
        self.audit_passkey(AttemptOutcome::PasskeyReset, "all on this computer");
        self.notice.say(
            "The PIN is reset and this computer's passkeys are deleted here. Delete their entries below, then add a new one.",
        );
        Ok(())
    }

    /// Settings: the RP ID and origin this server's passkeys use (empty clears). The built-in
    /// server's RP ID is fixed; its origin may still be set.
    pub fn set_passkey_rp(&mut self, rp_id: &str, origin: &str) -> AppResult<PasskeySettingsView> {
        let key = self.server_key();
        let rp_id = Some(rp_id.trim()).filter(|r| !r.is_empty() && key != "embedded");
        let origin = Some(origin.trim()).filter(|o| !o.is_empty());
        self.authenticator.set_server_rp(&key, rp_id, origin)?;
        self.passkey_settings()
    }

    /// Settings: this server's passkey RP ID and origin.
    pub fn passkey_settings(&self) -> AppResult<PasskeySettingsView> {
        let key = self.server_key();
        let (rp_id, origin) = self.authenticator.server_rp(&key)?;
        Ok(PasskeySettingsView {
            rp_id,
            origin,
            fixed: key == "embedded",
        })
    }

    /// The passkey part of the view.
    pub(super) fn passkey_view(&self) -> PasskeyView {
        let pin = self.authenticator.pin().state().ok();
        let here = self
            .authenticator
            .local_ids(&self.server_key())
            .map(|(h, _)| !h.is_empty())
            .unwrap_or(false);
        // The embedded server's configuration is known; another server's is learnt by trying.
        let config = self
            .demo
            .emulator()
            .map(|e| e.state().data().passkey_config.clone());
        let (enabled, uv) = match config {
            Some(Some(c)) => (
                c.login_enabled,
                c.user_verification == prelude_emulator::state::UserVerification::Required,
            ),
            Some(None) => (false, false),
            None => (true, true),
        };
        PasskeyView {
            login: here && enabled && !self.signed_in(),
            login_pin: uv,
            setup: self.passkey.setup,
            waiting: self.passkey.resume.is_some() || self.passkey.resume_request.is_some(),
            pin_set: pin.is_some_and(|p| p.set),
            pin_tries_left: pin.map_or(0, |p| p.tries_left),
        }
    }

    /// The `verify_passkey` step's part of the approval screen.
    pub(super) fn passkey_step_view(&self, ch: &StepUpChallenge) -> Option<PasskeyStepView> {
        if ch.current_step.as_deref() != Some(VERIFY_PASSKEY) {
            return None;
        }
        let pin = self.authenticator.pin().state().ok();
        Some(PasskeyStepView {
            available: ch.has_passkey_options(),
            here: self
                .authenticator
                .local_ids(&self.server_key())
                .is_ok_and(|(h, _)| !h.is_empty()),
            pin: ch.passkey_user_verification() == Some("required"),
            pin_tries_left: pin.map_or(0, |p| p.tries_left),
        })
    }

    /// One line in the audit log for a passkey added, used to sign in, removed or reset.
    fn audit_passkey(&mut self, outcome: AttemptOutcome, credential: &str) {
        let now = unix_now();
        let a = Attempt::new(
            Approval {
                scope: "passkey".into(),
                metadata: BTreeMap::from([("credential".into(), credential.to_owned())]),
            },
            now,
        );
        self.audit_attempt(a, outcome, None);
    }
}

/// Whether a registration error leaves open whether the server stored the credential: no
/// answer (timeout, network), a 5xx, or an answer that could not be read. A 4xx is a
/// definite refusal.
fn outcome_unknown(e: &SessionError) -> bool {
    matches!(
        e,
        SessionError::Timeout
            | SessionError::Network(_)
            | SessionError::Internal { .. }
            | SessionError::ResponseTooLarge { .. }
            | SessionError::Generic { .. }
    )
}

/// A key here whose registration the server has not confirmed, as a row of the list.
fn unconfirmed_row(id: String) -> PasskeyRow {
    PasskeyRow {
        id,
        nickname: None,
        created_ms: 0,
        last_used_ms: 0,
        place: "unconfirmed",
    }
}

/// This computer's name, for the passkey's nickname.
fn host_name() -> String {
    #[cfg(unix)]
    if let Ok(h) = nix::unistd::gethostname()
        && let Some(h) = h.to_str()
    {
        let h: String = h.chars().filter(|c| !c.is_control()).take(40).collect();
        if !h.is_empty() {
            return h;
        }
    }
    "this computer".into()
}
