//! The session flow as one value. Each state holds exactly the data that is valid in it, and
//! every change goes through a transition that refuses what does not apply, so an approval
//! without a challenge, or a code screen without an identifier, cannot be written.

use crate::error::{AppError, AppResult};
use crate::view::{GrantView, Stage};
use prelude_session::{Identifier, StepUpChallenge};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// What is being approved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub scope: String,
    pub metadata: BTreeMap<String, String>,
}

/// One approval attempt, from the request to its outcome, for the audit log.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub started: i64,
    pub approval: Approval,
    pub steps: Vec<String>,
    pub wrong_codes: u32,
    pub challenge_id: Option<prelude_wire::ChallengeId>,
    /// Set when another program (or a link) asked for this approval.
    pub request: Option<RequestTag>,
    /// Restored after a restart, so whether a code went out is not known.
    pub resumed: bool,
}

/// Which queued request an attempt answers.
#[derive(Clone, Debug)]
pub struct RequestTag {
    pub id: String,
    /// "deploy.sh (pid 4242)" or "a link".
    pub requester: String,
    pub reason: Option<String>,
}

impl Attempt {
    pub fn new(approval: Approval, started: i64) -> Self {
        Self {
            started,
            approval,
            steps: vec![],
            wrong_codes: 0,
            challenge_id: None,
            request: None,
            resumed: false,
        }
    }
}

/// A step-up in progress.
#[derive(Clone, Debug)]
pub struct Approving {
    pub challenge: StepUpChallenge,
    /// When the current step's code was last sent; `None` for a step that sends none.
    pub sent_at: Option<SystemTime>,
    /// Tries left on the current code, as the server last said.
    pub tries_left: Option<u32>,
    pub attempt: Attempt,
    /// The current step sends its code to an address the account lacks ("email address" or
    /// "phone number"): no code can come.
    pub missing_address: Option<prelude_wire::Channel>,
}

#[derive(Clone, Debug, Default)]
pub enum Flow {
    #[default]
    SignedOut,
    CodeSent {
        identifier: Identifier,
        sent_at: SystemTime,
        /// Tries left on the code, as the server last said.
        tries_left: Option<u32>,
    },
    /// `identifier` is what this run signed in with; a resumed session has none.
    SignedIn { identifier: Option<Identifier> },
    Approving {
        identifier: Option<Identifier>,
        approving: Box<Approving>,
    },
    Granted {
        identifier: Option<Identifier>,
        grant: GrantView,
    },
}

fn wrong_screen() -> AppError {
    AppError::WrongStage
}

impl Flow {
    pub fn stage(&self) -> Stage {
        Stage::from(self)
    }

    pub fn is_signed_in(&self) -> bool {
        matches!(
            self,
            Flow::SignedIn { .. } | Flow::Approving { .. } | Flow::Granted { .. }
        )
    }

    pub fn identifier(&self) -> Option<&Identifier> {
        match self {
            Flow::SignedOut => None,
            Flow::CodeSent { identifier, .. } => Some(identifier),
            Flow::SignedIn { identifier }
            | Flow::Approving { identifier, .. }
            | Flow::Granted { identifier, .. } => identifier.as_ref(),
        }
    }

    /// A resumed session learns the address it was signed in with (from the process before).
    pub fn resumed_as(&mut self, id: Identifier) {
        if let Flow::SignedIn { identifier } = self
            && identifier.is_none()
        {
            *identifier = Some(id);
        }
    }

    pub fn approving(&self) -> Option<&Approving> {
        match self {
            Flow::Approving { approving, .. } => Some(approving),
            _ => None,
        }
    }

    pub fn approving_mut(&mut self) -> AppResult<&mut Approving> {
        match self {
            Flow::Approving { approving, .. } => Ok(approving),
            _ => Err(self.not_here()),
        }
    }

    pub fn grant(&self) -> Option<&GrantView> {
        match self {
            Flow::Granted { grant, .. } => Some(grant),
            _ => None,
        }
    }

    /// The error for an action that does not apply now.
    fn not_here(&self) -> AppError {
        if self.is_signed_in() {
            wrong_screen()
        } else {
            AppError::NotSignedIn
        }
    }

    fn identifier_owned(&self) -> Option<Identifier> {
        self.identifier().cloned()
    }

    // -----------------------------------------------------------------------------------------
    // Transitions

    /// A login code went to `identifier`.
    pub fn code_sent(&mut self, identifier: Identifier, at: SystemTime) -> AppResult<()> {
        match self {
            Flow::SignedOut | Flow::CodeSent { .. } => {
                *self = Flow::CodeSent {
                    identifier,
                    sent_at: at,
                    tries_left: None,
                };
                Ok(())
            }
            _ => Err(wrong_screen()),
        }
    }

    /// The login code was sent again.
    pub fn code_resent(&mut self, at: SystemTime) -> AppResult<()> {
        match self {
            Flow::CodeSent {
                sent_at,
                tries_left,
                ..
            } => {
                *sent_at = at;
                *tries_left = None;
                Ok(())
            }
            _ => Err(self.not_here()),
        }
    }

    /// A code was wrong; the server said how many tries are left.
    pub fn wrong_code(&mut self, left: Option<u32>) {
        match self {
            Flow::CodeSent { tries_left, .. } => *tries_left = left,
            Flow::Approving { approving, .. } => {
                approving.attempt.wrong_codes += 1;
                approving.tries_left = left;
            }
            _ => {}
        }
    }

    /// The code on screen has no tries left: only a new code helps.
    pub fn code_exhausted(&self) -> bool {
        match self {
            Flow::CodeSent { tries_left, .. } => *tries_left == Some(0),
            Flow::Approving { approving, .. } => approving.tries_left == Some(0),
            _ => false,
        }
    }

    /// Back from the code screen to the identifier.
    pub fn change_identifier(&mut self) -> AppResult<()> {
        match self {
            Flow::CodeSent { .. } => {
                *self = Flow::SignedOut;
                Ok(())
            }
            _ => Err(wrong_screen()),
        }
    }

    /// The login code was right (`CodeSent`), or a stored session was resumed (`SignedOut`).
    pub fn sign_in(&mut self) -> AppResult<()> {
        match self {
            Flow::CodeSent { identifier, .. } => {
                *self = Flow::SignedIn {
                    identifier: Some(identifier.clone()),
                };
                Ok(())
            }
            Flow::SignedOut => {
                *self = Flow::SignedIn { identifier: None };
                Ok(())
            }
            _ => Err(wrong_screen()),
        }
    }

    /// May an approval start now? (Signed in, with none open or one just granted.)
    pub fn can_approve(&self) -> AppResult<()> {
        match self {
            Flow::SignedIn { .. } | Flow::Granted { .. } => Ok(()),
            _ => Err(self.not_here()),
        }
    }

    /// A challenge with steps to pass.
    pub fn approve(&mut self, challenge: StepUpChallenge, attempt: Attempt) -> AppResult<()> {
        self.can_approve()?;
        *self = Flow::Approving {
            identifier: self.identifier_owned(),
            approving: Box::new(Approving {
                challenge,
                sent_at: None,
                tries_left: None,
                attempt,
                missing_address: None,
            }),
        };
        Ok(())
    }

    /// The current step passed and `next` is the one after it.
    pub fn next_step(&mut self, next: StepUpChallenge) -> AppResult<()> {
        let a = self.approving_mut()?;
        if let Some(done) = a.challenge.current_step.clone() {
            a.attempt.steps.push(done);
        }
        a.challenge = next;
        a.missing_address = None;
        a.sent_at = None;
        a.tries_left = None;
        Ok(())
    }

    /// The current step's code was sent.
    pub fn step_code_sent(&mut self, at: SystemTime) -> AppResult<()> {
        let a = self.approving_mut()?;
        a.sent_at = Some(at);
        a.tries_left = None;
        Ok(())
    }

    /// The last step passed, or the scope was granted at once: the attempt ends, granted.
    pub fn granted(&mut self, grant: GrantView) -> AppResult<Option<Attempt>> {
        let attempt = match std::mem::take(self) {
            Flow::Approving {
                identifier,
                mut approving,
            } => {
                if let Some(done) = approving.challenge.current_step.clone() {
                    approving.attempt.steps.push(done);
                }
                *self = Flow::Granted { identifier, grant };
                Some(approving.attempt)
            }
            Flow::SignedIn { identifier } | Flow::Granted { identifier, .. } => {
                *self = Flow::Granted { identifier, grant };
                None
            }
            other => {
                let e = other.not_here();
                *self = other;
                return Err(e);
            }
        };
        Ok(attempt)
    }

    /// The approval ends without a grant (cancelled, denied, or its challenge died); back to
    /// the signed-in screen. Returns the attempt that ended.
    pub fn end_approval(&mut self) -> AppResult<Attempt> {
        match std::mem::take(self) {
            Flow::Approving {
                identifier,
                approving,
            } => {
                *self = Flow::SignedIn { identifier };
                Ok(approving.attempt)
            }
            other => {
                let e = other.not_here();
                *self = other;
                Err(e)
            }
        }
    }

    /// Leaves the granted screen.
    pub fn done(&mut self) -> AppResult<()> {
        match self {
            Flow::Granted { identifier, .. } => {
                *self = Flow::SignedIn {
                    identifier: identifier.take(),
                };
                Ok(())
            }
            _ => Err(self.not_here()),
        }
    }

    /// The server's clock jumped `delta` seconds (the test bench): what it times (a code's
    /// cooldown, a challenge, a grant) now ends that much sooner in real time.
    pub fn clock_moved(&mut self, delta: i64) {
        let shift = |t: SystemTime| {
            let d = std::time::Duration::from_secs(delta.unsigned_abs());
            if delta >= 0 {
                t.checked_sub(d).unwrap_or(t)
            } else {
                t.checked_add(d).unwrap_or(t)
            }
        };
        match self {
            Flow::CodeSent { sent_at, .. } => *sent_at = shift(*sent_at),
            Flow::Approving { approving, .. } => {
                if let Some(e) = approving.challenge.expires_at.as_mut() {
                    *e = e.saturating_sub(delta);
                }
                approving.sent_at = approving.sent_at.map(shift);
            }
            Flow::Granted { grant, .. } => {
                if let Some(e) = grant.expires_ms.as_mut() {
                    *e = e.saturating_sub(delta.saturating_mul(1000));
                }
            }
            Flow::SignedOut | Flow::SignedIn { .. } => {}
        }
    }

    /// Signed out, from anywhere. Returns the attempt that was open, if any.
    pub fn signed_out(&mut self) -> Option<Attempt> {
        match std::mem::take(self) {
            Flow::Approving { approving, .. } => Some(approving.attempt),
            _ => None,
        }
    }
}

impl From<&Flow> for Stage {
    fn from(f: &Flow) -> Self {
        match f {
            Flow::SignedOut => Stage::Login,
            Flow::CodeSent { .. } => Stage::Code,
            Flow::SignedIn { .. } => Stage::Logged,
            Flow::Approving { .. } => Stage::StepUpOtp,
            Flow::Granted { .. } => Stage::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identifier {
        Identifier::phone("+33612345678").unwrap()
    }

    fn grant() -> GrantView {
        GrantView {
            scope: prelude_wire::Scope::new("transfer:write").unwrap(),
            scope_words: None,
            session_id: None,
            grant_mode: None,
            metadata: vec![],
            expires_ms: None,
            requester: None,
        }
    }

    #[test]
    fn the_login_path() {
        let mut f = Flow::default();
        assert!(matches!(
            f.code_resent(SystemTime::now()),
            Err(AppError::NotSignedIn)
        ));
        assert!(matches!(f.can_approve(), Err(AppError::NotSignedIn)));
        f.code_sent(id(), SystemTime::now()).unwrap();
        assert_eq!(f.stage(), Stage::Code);
        f.change_identifier().unwrap();
        assert_eq!(f.stage(), Stage::Login);
        f.code_sent(id(), SystemTime::now()).unwrap();
        f.sign_in().unwrap();
        assert_eq!(f.stage(), Stage::Logged);
        assert_eq!(f.identifier(), Some(&id()));
        assert!(matches!(
            f.code_sent(id(), SystemTime::now()),
            Err(AppError::WrongStage)
        ));
        assert!(f.signed_out().is_none());
        assert_eq!(f.stage(), Stage::Login);
    }

    #[test]
    fn granted_at_once_and_back() {
        let mut f = Flow::SignedIn {
            identifier: Some(id()),
        };
        assert!(f.granted(grant()).unwrap().is_none(), "no attempt was open");
        assert_eq!(f.stage(), Stage::Done);
        assert!(f.grant().is_some());
        f.done().unwrap();
        assert_eq!(f.stage(), Stage::Logged);
        assert!(f.grant().is_none());
        assert!(matches!(f.end_approval(), Err(AppError::WrongStage)));
        assert!(matches!(
            f.next_step_without_challenge(),
            Err(AppError::WrongStage)
        ));
    }

    impl Flow {
        fn next_step_without_challenge(&mut self) -> AppResult<()> {
            self.step_code_sent(SystemTime::now())
        }
    }
}
