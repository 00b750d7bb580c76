//! Where the approvals part meets the session: a request's step-up starts from the queue,
//! and a refusal, a denial or a request that ends under way ends its attempt. Every request
//! ends in the audit log, whatever its outcome.

use super::Backend;
use crate::approvals::{Approvals, Focus, LinkTaken, Refused};
use crate::error::{AppError, AppResult};
use crate::notice::Notice;
use crate::outcome::AttemptOutcome;
use crate::requests::protocol::{Ask, Outcome};
use crate::requests::source::Source;
use crate::session::Flow;
use crate::view::Stage;
use tokio::sync::oneshot;

/// Where the session stands, for the approvals part.
pub(super) fn focus(flow: &Flow) -> Focus<'_> {
    Focus {
        step_up: flow
            .approving()
            .map(|a| a.attempt.request.as_ref().map(|t| t.id.as_str())),
        free: flow.stage() == Stage::Logged,
    }
}

impl Backend {
    /// A request refused before it was queued: no one waits on it, but the log says why.
    fn log_refused(&mut self, r: Box<Refused>) -> Box<Outcome> {
        let Refused {
            outcome,
            attempt,
            logged,
            code,
        } = *r;
        self.audit_attempt(attempt, logged, Some(code));
        Box::new(outcome)
    }

    /// Puts a request in the queue. Refused at once (and logged) when no one is signed in or
    /// too many wait.
    pub fn enqueue(
        &mut self,
        source: Source,
        ask: Ask,
        reply: Option<oneshot::Sender<Outcome>>,
    ) -> Result<(String, usize), Box<Outcome>> {
        let signed_in = self.signed_in();
        self.approvals
            .enqueue(source, ask, reply, signed_in, &mut self.notice)
            .map_err(|r| self.log_refused(r))
    }

    /// A link the desktop handed over; see [`crate::approvals::Approvals::take_link`].
    pub fn take_link(&mut self, text: &str) -> LinkTaken {
        let signed_in = self.signed_in();
        let (taken, refused) = self.approvals.take_link(text, signed_in, &mut self.notice);
        if let Some(r) = refused {
            self.log_refused(r);
        }
        taken
    }

    /// Whether `id` is the request the person sees; if not, the notice says nothing was done.
    pub(super) fn is_shown(&mut self, id: &str) -> bool {
        self.approvals
            .is_shown(id, focus(self.session.flow()), &mut self.notice)
    }

    /// The person agrees to consider the request `id`, which is on screen: its step-up starts.
    /// If `id` is not the one shown any more, nothing starts and the notice says so.
    ///
    /// # Errors
    /// [`AppError::WrongStage`] while another approval is open; the step-up's errors.
    pub async fn approve_request(&mut self, id: &str) -> AppResult<()> {
        if self.session.stage() != Stage::Logged {
            return Err(AppError::WrongStage);
        }
        if !self.is_shown(id) {
            return Ok(());
        }
        let attempt = self.approvals.head_attempt()?;
        self.start_attempt(attempt).await
    }

    /// The person refuses the request `id` on screen, before or during its step-up; `report`
    /// marks it as suspicious. If `id` is not the one shown any more, nothing is refused and the
    /// notice says so.
    ///
    /// # Errors
    /// [`AppError::WrongStage`] where no request is on screen.
    pub fn deny_request(&mut self, id: &str, report: bool) -> AppResult<()> {
        let outcome = if report {
            AttemptOutcome::Reported
        } else {
            AttemptOutcome::Denied
        };
        let tagged = self
            .session
            .flow()
            .approving()
            .is_some_and(|a| a.attempt.request.is_some());
        if !tagged && self.session.stage() != Stage::Logged {
            return Err(AppError::WrongStage);
        }
        if !self.is_shown(id) {
            return Ok(());
        }
        let source = self.approvals.source(id);
        if tagged {
            self.end_approval(outcome)?;
        } else {
            let a = self.approvals.attempt(id).ok_or(AppError::NoRequest)?;
            self.close_attempt(a, outcome, None);
        }
        let told = match &source {
            Some(Source::Program { .. }) => " The program was told.",
            _ => "",
        };
        if report {
            if let Some(s) = &source {
                // Approval fatigue: a reported program may not ask again at once.
                self.approvals.mute(s);
            }
            self.notice.reported(format!("Denied and reported.{told}"));
        } else {
            self.notice.say(format!("Denied.{told}"));
        }
        Ok(())
    }

    /// The person picks `n` on the request `id` on screen. The right number lets "Continue to
    /// approve" on; another of those offered denies the request with `number_mismatch` and
    /// mutes the program, as a report does. If `id` is not the one shown any more, nothing
    /// changes and the notice says so.
    ///
    /// # Errors
    /// [`AppError::WrongStage`] while an approval is open; [`AppError::InvalidInput`] for a
    /// request without a number, or a number that was not offered.
    pub fn pick_number(&mut self, id: &str, n: u8) -> AppResult<()> {
        if self.session.stage() != Stage::Logged {
            return Err(AppError::WrongStage);
        }
        if !self.is_shown(id) {
            return Ok(());
        }
        if let Some(a) = self.approvals.pick_number(id, n, &mut self.notice)? {
            self.close_attempt(a, AttemptOutcome::Denied, Some(&AppError::NumberMismatch));
        }
        Ok(())
    }

    /// The requester stopped waiting.
    pub fn withdraw_request(&mut self, id: &str) -> bool {
        self.drop_request(id, AttemptOutcome::Withdrawn, "stopped waiting")
    }

    /// The request's time ran out.
    pub fn time_out_request(&mut self, id: &str) -> bool {
        self.drop_request(id, AttemptOutcome::TimedOut, "was not answered in time")
    }

    /// Ends one request, whether it is on screen, in its step-up, or waiting; says so.
    fn drop_request(&mut self, id: &str, outcome: AttemptOutcome, what: &str) -> bool {
        let (Some(label), Some(a)) = (self.approvals.named(id), self.approvals.attempt(id)) else {
            return false;
        };
        let in_step_up = focus(self.session.flow()).step_up.flatten() == Some(id);
        if in_step_up {
            if let Ok(a) = self.session.end_approval() {
                self.close_attempt(a, outcome, None);
            }
        } else {
            self.close_attempt(a, outcome, None);
        }
        self.notice.say(format!(
            "The request from {label} {what}, so it was closed."
        ));
        true
    }

    /// The approvals part, to read: the queue's numbers and deadlines, the muted programs.
    pub fn approvals(&self) -> &Approvals {
        &self.approvals
    }

    /// Turns number matching on or off for requests queued from now on.
    pub fn set_number_matching(&mut self, on: bool) {
        self.approvals.set_number_matching(on);
    }

    /// Ends every mute (Settings' "Unmute").
    pub fn unmute_programs(&mut self) {
        self.approvals.unmute_programs(&mut self.notice);
    }

    /// What the person is told until their next action: the door to the notice, which the
    /// command edge clears as each of their actions comes in.
    pub fn notice(&mut self) -> &mut Notice {
        &mut self.notice
    }

    /// Answers every request `cancelled`: the person quit Countersign.
    pub fn cancel_requests(&mut self) {
        self.drop_requests(AttemptOutcome::Cancelled);
    }

    /// How many requests wait, on screen included, now and at each change.
    pub fn watch_requests(&self) -> tokio::sync::watch::Receiver<usize> {
        self.approvals.watch()
    }

    /// Ends every request (at sign-out).
    pub(super) fn drop_requests(&mut self, outcome: AttemptOutcome) {
        for a in self.approvals.all_attempts() {
            self.close_attempt(a, outcome, None);
        }
    }
}
