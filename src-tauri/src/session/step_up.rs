//! Step-up: asking for a scope, each step's code or custom check, and how an approval ends.
//! Each call returns the attempt it ended (a [`Stepped`]); the composition hands it on.

use super::{Approval, Attempt, Session, Stepped, code_in};
use crate::error::{AppError, AppResult};
use crate::outcome::AttemptOutcome;
use crate::view::GrantView;
use prelude_emulator::customer::CustomerBackend;
use prelude_session::{Error as SessionError, StepUpChallenge};
use prelude_wire::{Channel, Code, StepKey};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The value of an `AppResult`, or the call returns its error, having ended nothing.
macro_rules! or_return {
    ($r:expr) => {
        match $r {
            Ok(v) => v,
            Err(e) => return Stepped::err(e.into()),
        }
    };
}

/// The value of a step call, or the call returns its failure (and what it ended) as it is.
macro_rules! or_pass {
    ($r:expr) => {
        match $r {
            Ok(v) => v,
            Err(failed) => return *failed,
        }
    };
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Session {
    /// May an approval start now? (Signed in, with none open or one just granted.)
    pub fn can_approve(&self) -> AppResult<()> {
        self.flow.can_approve()
    }

    /// Starts `attempt`'s step-up: the challenge, then its first step; or a grant at once.
    pub async fn start_attempt(&mut self, mut attempt: Attempt) -> Stepped<()> {
        or_return!(self.flow.can_approve());
        if self.flow.grant().is_some() {
            or_return!(self.flow.done());
        }
        let approval = attempt.approval.clone();
        let ch = match self
            .client
            .request_step_up(&approval.scope, Some(approval.metadata.clone()))
            .await
        {
            Ok(ch) => ch,
            Err(e) => {
                // Kept by the caller, to ask again once a passkey is added.
                let e = match e {
                    SessionError::PasskeyStepUnavailable { .. } => AppError::NeedsPasskey(e),
                    e => AppError::from(e),
                };
                return Stepped::ended(Err(e), attempt, AttemptOutcome::Failed);
            }
        };
        if ch.is_blocked() {
            let e = AppError::StepUpBlocked;
            return Stepped::ended(Err(e), attempt, AttemptOutcome::Blocked);
        }
        attempt.challenge_id = Some(ch.challenge_id.clone()).filter(|c| !c.is_empty());
        // Nothing reaches the screen that reads otherwise than it is signed.
        if let Err(e) = prelude_wire::text::check_metadata_shown(&ch.metadata) {
            let e = AppError::ChallengeText(e.message);
            self.forget_stored_challenge();
            return Stepped::ended(Err(e), attempt, AttemptOutcome::Refused);
        }
        // What the person approves is what the server signed into the challenge, or nothing
        // (dynamic linking): a challenge that says otherwise is refused, and never redeemed.
        if ch.is_signed() && !signed_as_asked(&approval, &ch) {
            let e = AppError::ChallengeMismatch;
            self.forget_stored_challenge();
            return Stepped::ended(Err(e), attempt, AttemptOutcome::Refused);
        }
        if ch.is_completed() {
            // Granted at once. Without a token there is no signed record to check it against:
            // only a bare scope is taken so.
            if !ch.is_signed() && !approval.metadata.is_empty() {
                // The server applied it all the same: no requester may receive it later.
                self.note_grant(&ch);
                let e = AppError::GrantUnverifiable;
                return Stepped::ended(Err(e), attempt, AttemptOutcome::Refused);
            }
            if let Err(e) = self.client.redeem_step_up(&ch).await {
                let e = AppError::from(e);
                return Stepped::ended(Err(e), attempt, AttemptOutcome::Failed);
            }
            self.note_grant(&ch);
            let mut grant = self.grant_view(&ch);
            grant.requester = attempt.request.as_ref().map(|t| t.requester.clone());
            or_return!(self.flow.granted(grant));
            return Stepped::ended(Ok(()), attempt, AttemptOutcome::Granted);
        }
        or_return!(self.flow.approve(ch, attempt));
        self.enter_step().await
    }

    /// Starts the current step: for an OTP step, sends its code (the app drives sending).
    async fn enter_step(&mut self) -> Stepped<()> {
        let ch = or_return!(self.flow.approving_mut()).challenge.clone();
        if ch.otp_channel().is_none() {
            return Stepped::ok(());
        }
        self.send_step_code(&ch).await
    }

    pub async fn resend_step_up_code(&mut self) -> Stepped<()> {
        let ch = or_return!(self.flow.approving_mut()).challenge.clone();
        self.send_step_code(&ch).await
    }

    async fn send_step_code(&mut self, ch: &StepUpChallenge) -> Stepped<()> {
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
        or_pass!(self.step_result(r));
        Stepped {
            result: self.flow.step_code_sent(SystemTime::now()),
            ended: None,
        }
    }

    /// A step call's outcome; a failure is noted on the approval first, and a dead challenge
    /// ends it: the failure, as the step-up's call returns it.
    pub fn step_result<T, E: Into<AppError>>(
        &mut self,
        r: Result<T, E>,
    ) -> Result<T, Box<Stepped<()>>> {
        r.map_err(|e| {
            let e = e.into();
            Box::new(match self.note_step_failure(&e) {
                Some((a, outcome)) => Stepped::ended(Err(e), a, outcome),
                None => Stepped::err(e),
            })
        })
    }

    pub async fn verify_step_up_code(&mut self, typed: &str) -> Stepped<()> {
        let ch = or_return!(self.flow.approving_mut()).challenge.clone();
        if self.flow.code_exhausted() {
            return Stepped::err(AppError::NoTriesLeft);
        }
        let code = or_return!(code_in(typed));
        let r = self.client.submit_step_up_otp(&ch, &code).await;
        let next = or_pass!(self.step_result(r));
        self.step_passed(next).await
    }

    /// Passes a custom step. On the demo server the stand-in for the customer's backend
    /// (`customer`) signs the verification token, as the customer's own app would after its
    /// check; a real server's custom steps are completed by the app that asked for them.
    pub async fn complete_custom_step(
        &mut self,
        customer: Option<&CustomerBackend>,
    ) -> Stepped<()> {
        let ch = or_return!(self.flow.approving_mut()).challenge.clone();
        let step = ch.current_step.clone().unwrap_or_default();
        if ch.otp_channel().is_some() {
            return Stepped::err(AppError::WrongStage);
        }
        let customer = or_return!(customer.ok_or(AppError::CustomStepElsewhere));
        let user = or_return!(
            self.client
                .profile()
                .and_then(|p| p.user_id)
                .ok_or(AppError::NotSignedIn)
        );
        let token = customer.verification_token(&user, &ch.challenge_id, &step);
        let r = self.client.continue_step_up(&ch, &token).await;
        let next = or_pass!(self.step_result(r));
        self.step_passed(next).await
    }

    /// The current step's challenge and what was asked, while an approval is open.
    pub fn current_step(&mut self) -> AppResult<(StepUpChallenge, Approval)> {
        let a = self.flow.approving_mut()?;
        Ok((a.challenge.clone(), a.attempt.approval.clone()))
    }

    /// The open approval is refused for `e`: it ends, and its stored challenge is forgotten.
    pub fn refuse(&mut self, e: AppError) -> Stepped<()> {
        let ended = self.flow.end_approval().ok();
        self.forget_stored_challenge();
        match ended {
            Some(a) => Stepped::ended(Err(e), a, AttemptOutcome::Refused),
            None => Stepped::err(e),
        }
    }

    /// After a step passed: the next step, or, once the last token says what was asked, the
    /// grant. A last token that says otherwise is refused and never redeemed.
    pub async fn step_passed(&mut self, next: StepUpChallenge) -> Stepped<()> {
        if !next.is_completed() {
            or_return!(self.flow.next_step(next));
            return self.enter_step().await;
        }
        let asked = or_return!(self.flow.approving_mut())
            .attempt
            .approval
            .clone();
        if !signed_as_asked(&asked, &next) {
            return self.refuse(AppError::ChallengeMismatch);
        }
        let r = self.client.redeem_step_up(&next).await;
        or_pass!(self.step_result(r));
        self.note_grant(&next);
        let grant = self.grant_view(&next);
        let ended = or_return!(self.flow.granted(grant));
        self.forget_stored_challenge();
        Stepped {
            result: Ok(()),
            ended: ended.map(|attempt| super::Ended {
                attempt,
                outcome: AttemptOutcome::Granted,
            }),
        }
    }

    /// A wrong code keeps the challenge; a dead challenge ends the approval, returned failed.
    fn note_step_failure(&mut self, e: &AppError) -> Option<(Attempt, AttemptOutcome)> {
        match e {
            AppError::Session(SessionError::InvalidOtpCode { attempts_remaining }) => {
                self.flow.wrong_code(*attempts_remaining);
                None
            }
            AppError::NoAddressForStep { channel, .. } => {
                if let Ok(a) = self.flow.approving_mut() {
                    a.missing_address = Some(*channel);
                }
                None
            }
            e if e.is_restartable() => {
                let ended = self.flow.end_approval().ok();
                self.forget_stored_challenge();
                ended.map(|a| (a, AttemptOutcome::Failed))
            }
            _ => None,
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

    /// The open approval ends without a grant; its stored challenge is forgotten. Returns
    /// the attempt that ended.
    ///
    /// # Errors
    /// No approval is open.
    pub fn end_approval(&mut self) -> AppResult<Attempt> {
        let a = self.flow.end_approval()?;
        self.forget_stored_challenge();
        Ok(a)
    }

    /// Leaves the granted screen.
    pub fn done(&mut self) -> AppResult<()> {
        self.flow.done()
    }
}

/// The challenge token carries the scope and the metadata that were asked, exactly.
fn signed_as_asked(asked: &Approval, ch: &StepUpChallenge) -> bool {
    ch.scope == asked.scope && ch.metadata == asked.metadata
}
