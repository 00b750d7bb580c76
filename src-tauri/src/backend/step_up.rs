//! The step-up's door in the composition: each call goes to the session part, and the
//! attempt it ended goes on to the approvals part and the audit log; around it, what the
//! demo counts and what the passkeys wait for.

use super::*;

impl Backend {
    pub async fn request_step_up(&mut self, approval: Approval) -> AppResult<()> {
        self.passkey_resume_forgotten();
        self.start_attempt(Attempt::new(approval, unix_now())).await
    }

    pub(super) async fn start_attempt(&mut self, attempt: Attempt) -> AppResult<()> {
        self.session.can_approve()?;
        self.demo.approval_began();
        let s = self.session.start_attempt(attempt).await;
        if let (Err(AppError::NeedsPasskey(_)), Some(ended)) = (&s.result, &s.ended) {
            self.passkey_unavailable(&ended.attempt);
        }
        self.stepped(s).await
    }

    /// A step call's result, once the attempt it ended is closed; a granted attempt of the
    /// app's own lets the passkey action it was for go on.
    pub(super) async fn stepped(&mut self, s: Stepped<()>) -> AppResult<()> {
        let granted = s
            .ended
            .as_ref()
            .filter(|e| e.outcome == AttemptOutcome::Granted)
            .map(|e| {
                let a = &e.attempt;
                (a.approval.scope.clone(), a.request.is_none())
            });
        self.settle(s)?;
        match granted {
            Some((scope, own)) => self.passkey_granted(&scope, own).await,
            None => Ok(()),
        }
    }

    pub async fn resend_step_up_code(&mut self) -> AppResult<()> {
        let s = self.session.resend_step_up_code().await;
        self.settle(s)
    }

    pub async fn verify_step_up_code(&mut self, typed: &str) -> AppResult<()> {
        let s = self.session.verify_step_up_code(typed).await;
        self.stepped(s).await
    }

    /// Passes a custom step; see [`Session::complete_custom_step`].
    pub async fn complete_custom_step(&mut self) -> AppResult<()> {
        let s = self
            .session
            .complete_custom_step(self.demo.customer())
            .await;
        self.stepped(s).await
    }

    /// The person refuses the approval on screen: recorded as denied.
    pub fn deny_step_up(&mut self) -> AppResult<()> {
        self.end_approval(AttemptOutcome::Denied)
    }

    pub(super) fn end_approval(&mut self, outcome: AttemptOutcome) -> AppResult<()> {
        let a = self.session.end_approval()?;
        self.demo.approval_abandoned();
        self.close_attempt(a, outcome, None);
        Ok(())
    }

    pub fn finish_step_up(&mut self) -> AppResult<()> {
        self.session.done()
    }
}
