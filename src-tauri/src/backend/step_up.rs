//! Step-up: asking for a scope, each step's code or custom check, and how an approval ends.

use super::*;
use prelude_wire::{Channel, Code, StepKey};

impl Backend {
    pub async fn request_step_up(&mut self, approval: Approval) -> AppResult<()> {
        self.passkey_resume_forgotten();
        self.start_attempt(Attempt::new(approval, unix_now())).await
    }

    pub(super) async fn start_attempt(&mut self, mut attempt: Attempt) -> AppResult<()> {
        self.flow.can_approve()?;
        self.demo.approval_began();
        if self.flow.grant().is_some() {
            self.flow.done()?;
        }
        let approval = attempt.approval.clone();
        let ch = match self
            .client
            .request_step_up(&approval.scope, Some(approval.metadata.clone()))
            .await
        {
            Ok(ch) => ch,
            Err(e) => {
                let e = self.note_passkey_unavailable(&attempt, e);
                self.close_attempt(attempt, AttemptOutcome::Failed, Some(&e));
                return Err(e);
            }
        };
        if ch.is_blocked() {
            let e = AppError::StepUpBlocked;
            self.close_attempt(attempt, AttemptOutcome::Blocked, Some(&e));
            return Err(e);
        }
        attempt.challenge_id = Some(ch.challenge_id.clone()).filter(|c| !c.is_empty());
        // Nothing reaches the screen that reads otherwise than it is signed.
        if let Err(e) = prelude_wire::text::check_metadata_shown(&ch.metadata) {
            let e = AppError::ChallengeText(e.message);
            self.forget_stored_challenge();
            self.close_attempt(attempt, AttemptOutcome::Refused, Some(&e));
            return Err(e);
        }
        // What the person approves is what the server signed into the challenge, or nothing
        // (dynamic linking): a challenge that says otherwise is refused, and never redeemed.
        if ch.is_signed() && !signed_as_asked(&approval, &ch) {
            let e = AppError::ChallengeMismatch;
            self.forget_stored_challenge();
            self.close_attempt(attempt, AttemptOutcome::Refused, Some(&e));
            return Err(e);
        }
        if ch.is_completed() {
            // Granted at once. Without a token there is no signed record to check it against:
            // only a bare scope is taken so.
            if !ch.is_signed() && !approval.metadata.is_empty() {
                // The server applied it all the same: no requester may receive it later.
                self.note_grant(&ch);
                let e = AppError::GrantUnverifiable;
                self.close_attempt(attempt, AttemptOutcome::Refused, Some(&e));
                return Err(e);
            }
            if let Err(e) = self.client.redeem_step_up(&ch).await {
                let e = AppError::from(e);
                self.close_attempt(attempt, AttemptOutcome::Failed, Some(&e));
                return Err(e);
            }
            self.note_grant(&ch);
            let mut grant = self.grant_view(&ch);
            grant.requester = attempt.request.as_ref().map(|t| t.requester.clone());
            self.flow.granted(grant)?;
            let own = attempt.request.is_none();
            self.close_attempt(attempt, AttemptOutcome::Granted, None);
            return self.passkey_granted(&approval.scope, own).await;
        }
        self.flow.approve(ch, attempt)?;
        self.enter_step().await
    }

    /// Starts the current step: for an OTP step, sends its code (the app drives sending).
    async fn enter_step(&mut self) -> AppResult<()> {
        let ch = self.flow.approving_mut()?.challenge.clone();
        if ch.otp_channel().is_none() {
            return Ok(());
        }
        self.send_step_code(&ch).await
    }

    pub async fn resend_step_up_code(&mut self) -> AppResult<()> {
        let ch = self.flow.approving_mut()?.challenge.clone();
        self.send_step_code(&ch).await
    }

    async fn send_step_code(&mut self, ch: &StepUpChallenge) -> AppResult<()> {
        let r = self.client.send_step_up_otp(ch).await.map_err(|e| match e {
            // The account lacks the address this step sends to: say which, not the wire code.
            SessionError::BadRequest { ref code, .. }
                if Code::parse(code) == Some(Code::InvalidIdentifier) =>
            {
                AppError::NoAddressForStep {
                    channel: ch
                        .position()
                        .and_then(|p| p.step().and_then(StepKey::channel))
                        .unwrap_or(Channel::Sms),
                    source: e,
                }
            }
            e => AppError::Session(e),
        });
        self.step_result(r)?;
        self.flow.step_code_sent(SystemTime::now())
    }

    /// A step call's outcome; a failure is noted on the approval first.
    pub(super) fn step_result<T, E: Into<AppError>>(&mut self, r: Result<T, E>) -> AppResult<T> {
        r.map_err(|e| {
            let e = e.into();
            self.note_step_failure(&e);
            e
        })
    }

    pub async fn verify_step_up_code(&mut self, typed: &str) -> AppResult<()> {
        let ch = self.flow.approving_mut()?.challenge.clone();
        if self.flow.code_exhausted() {
            return Err(AppError::NoTriesLeft);
        }
        let r = self.client.submit_step_up_otp(&ch, &code_in(typed)?).await;
        let next = self.step_result(r)?;
        self.step_passed(next).await
    }

    /// Passes a custom step. On the demo server the stand-in for the customer's backend signs
    /// the verification token, as the customer's own app would after its check; a real
    /// server's custom steps are completed by the app that asked for them.
    pub async fn complete_custom_step(&mut self) -> AppResult<()> {
        let ch = self.flow.approving_mut()?.challenge.clone();
        let step = ch.current_step.clone().unwrap_or_default();
        if ch.otp_channel().is_some() {
            return Err(AppError::WrongStage);
        }
        let customer = self.demo.customer().ok_or(AppError::CustomStepElsewhere)?;
        let user = self
            .client
            .profile()
            .and_then(|p| p.user_id)
            .ok_or(AppError::NotSignedIn)?;
        let token = customer.verification_token(&user, &ch.challenge_id, &step);
        let r = self.client.continue_step_up(&ch, &token).await;
        let next = self.step_result(r)?;
        self.step_passed(next).await
    }

    /// After a step passed: the next step, or, once the last token says what was asked, the
    /// grant. A last token that says otherwise is refused and never redeemed.
    pub(super) async fn step_passed(&mut self, next: StepUpChallenge) -> AppResult<()> {
        if !next.is_completed() {
            self.flow.next_step(next)?;
            return self.enter_step().await;
        }
        let (asked, own) = {
            let a = self.flow.approving_mut()?;
            (a.attempt.approval.clone(), a.attempt.request.is_none())
        };
        if !signed_as_asked(&asked, &next) {
            let e = AppError::ChallengeMismatch;
            if let Ok(a) = self.flow.end_approval() {
                self.close_attempt(a, AttemptOutcome::Refused, Some(&e));
            }
            self.forget_stored_challenge();
            return Err(e);
        }
        let r = self.client.redeem_step_up(&next).await;
        self.step_result(r)?;
        self.note_grant(&next);
        let grant = self.grant_view(&next);
        if let Some(a) = self.flow.granted(grant)? {
            self.close_attempt(a, AttemptOutcome::Granted, None);
        }
        self.forget_stored_challenge();
        self.passkey_granted(&asked.scope, own).await
    }

    /// A wrong code keeps the challenge; a dead challenge ends the approval.
    fn note_step_failure(&mut self, e: &AppError) {
        match e {
            AppError::Session(SessionError::InvalidOtpCode { attempts_remaining }) => {
                self.flow.wrong_code(*attempts_remaining);
            }
            AppError::NoAddressForStep { channel, .. } => {
                if let Ok(a) = self.flow.approving_mut() {
                    a.missing_address = Some(*channel);
                }
            }
            e if e.is_restartable() => {
                if let Ok(a) = self.flow.end_approval() {
                    self.close_attempt(a, AttemptOutcome::Failed, Some(e));
                }
                self.forget_stored_challenge();
            }
            _ => {}
        }
    }

    /// Notes the scope a step-up granted, and until when (until sign-out when the server did
    /// not say), for the tokens handed to requesters.
    fn note_grant(&mut self, ch: &StepUpChallenge) {
        let until = ch
            .granted_for
            .filter(|s| *s > 0)
            .map(|s| ms(SystemTime::now() + Duration::from_secs(s as u64)));
        self.ledger.granted(&ch.scope, until);
    }

    fn grant_view(&self, ch: &StepUpChallenge) -> GrantView {
        GrantView {
            scope: ch.scope.clone(),
            scope_words: crate::labels::scope_words(&ch.scope),
            session_id: self.client.session_id(),
            grant_mode: ch.grant_mode.clone(),
            metadata: crate::requests::matching::shown(&ch.metadata),
            expires_ms: ch
                .granted_for
                .filter(|s| *s > 0)
                .map(|s| ms(SystemTime::now() + Duration::from_secs(s as u64))),
            requester: self
                .flow
                .approving()
                .and_then(|a| a.attempt.request.as_ref())
                .map(|t| t.requester.clone()),
        }
    }

    pub fn cancel_step_up(&mut self) -> AppResult<()> {
        self.end_approval(AttemptOutcome::Cancelled)
    }

    /// The person refuses what is asked: recorded as denied, not as cancelled.
    pub fn deny_step_up(&mut self) -> AppResult<()> {
        self.end_approval(AttemptOutcome::Denied)
    }

    pub(super) fn end_approval(&mut self, outcome: AttemptOutcome) -> AppResult<()> {
        let a = self.flow.end_approval()?;
        self.demo.approval_abandoned();
        self.close_attempt(a, outcome, None);
        self.forget_stored_challenge();
        Ok(())
    }

    pub fn finish_step_up(&mut self) -> AppResult<()> {
        self.flow.done()
    }
}

/// The challenge token carries the scope and the metadata that were asked, exactly.
fn signed_as_asked(asked: &Approval, ch: &StepUpChallenge) -> bool {
    ch.scope == asked.scope && ch.metadata == asked.metadata
}
