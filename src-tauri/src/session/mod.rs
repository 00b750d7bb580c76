//! The session part: the `SessionClient`, the flow (a private `Flow`), the scopes this run's
//! step-ups granted (the ledger) and the one resume per run. Signing in, the step-up's steps
//! and the end of an approval happen here; an attempt that ends is returned to the caller as
//! an [`Ended`], never handed to another part from here.

use crate::approvals::Handout;
use crate::error::{AppError, AppResult};
use crate::outcome::AttemptOutcome;
use crate::view::Stage;
use ledger::Ledger;
use prelude_session::{Error as SessionError, Identifier, SessionClient, User};
use prelude_wire::time::unix_now;
use std::time::SystemTime;

pub mod flow;
mod ledger;
mod step_up;

pub use flow::{Approval, Approving, Attempt, Flow, RequestTag};

/// An approval attempt the session ended, and how. When an error ended it, the error is the
/// result of the call that returned it.
#[derive(Debug)]
pub struct Ended {
    pub attempt: Attempt,
    pub outcome: AttemptOutcome,
}

/// What a session call returns: its result, and the attempt it ended, if one did.
#[must_use = "an ended attempt goes to the approvals part and the audit log"]
pub struct Stepped<T> {
    pub result: AppResult<T>,
    pub ended: Option<Ended>,
}

impl<T> Stepped<T> {
    fn ok(v: T) -> Self {
        Self {
            result: Ok(v),
            ended: None,
        }
    }

    fn err(e: AppError) -> Self {
        Self {
            result: Err(e),
            ended: None,
        }
    }

    fn ended(result: AppResult<T>, attempt: Attempt, outcome: AttemptOutcome) -> Self {
        Self {
            result,
            ended: Some(Ended { attempt, outcome }),
        }
    }
}

/// What resuming a stored session found, for the notice.
pub enum Resumed {
    /// Nothing was stored, or it resumed without anything to say.
    Quietly,
    /// It resumed, or did not; the sentence says what the person should know.
    Say(&'static str),
}

/// The session: the client, the flow, the ledger.
pub struct Session {
    client: SessionClient,
    flow: Flow,
    /// Which scopes this run's step-ups granted, and the session's scopes from sign-in.
    ledger: Ledger,
    resumed: bool,
}

impl Session {
    pub fn new(client: SessionClient) -> Self {
        Self {
            client,
            flow: Flow::default(),
            ledger: Ledger::default(),
            resumed: false,
        }
    }

    /// The client, to read the session or make calls that change no flow (lists, renames).
    pub fn client(&self) -> &SessionClient {
        &self.client
    }

    /// The flow as it is, to read (the view).
    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    #[cfg(test)]
    pub(crate) fn flow_mut(&mut self) -> &mut Flow {
        &mut self.flow
    }

    /// A session is open (and stored).
    pub fn signed_in(&self) -> bool {
        self.flow.is_signed_in()
    }

    pub fn stage(&self) -> Stage {
        self.flow.stage()
    }

    pub fn session_id(&self) -> Option<prelude_wire::SessionId> {
        self.client.session_id()
    }

    /// Whether this is the first look of the run (it is so only once).
    pub fn first_look(&mut self) -> bool {
        !std::mem::replace(&mut self.resumed, true)
    }

    /// Resumes a stored session, and an approval that was open in it.
    pub async fn resume_stored(&mut self) -> Resumed {
        let began = std::time::Instant::now();
        let stored = self.client.has_stored_session();
        tracing::debug!(
            ms = began.elapsed().as_millis() as u64,
            "stored session looked up"
        );
        match stored {
            Ok(true) => match self.client.refresh().await {
                Ok(_) => {
                    if let Err(e) = self.flow.sign_in() {
                        tracing::warn!(error = %e, "session resumed on an unexpected screen");
                        return Resumed::Quietly;
                    }
                    tracing::info!("session resumed");
                    match self.client.restore_step_up() {
                        Ok(Some(ch))
                            if prelude_wire::text::check_metadata_shown(&ch.metadata).is_err() =>
                        {
                            tracing::warn!("open approval not restored: its text cannot be shown");
                            self.forget_stored_challenge();
                        }
                        Ok(Some(ch)) => {
                            let approval = Approval {
                                scope: ch.scope.to_string(),
                                metadata: ch.metadata.clone(),
                            };
                            let attempt = Attempt {
                                resumed: true,
                                ..Attempt::new(approval, unix_now())
                            };
                            // What to do with the code is the step's own text: one message.
                            if self.flow.approve(ch, attempt).is_ok() {
                                return Resumed::Say("Your approval was still open.");
                            }
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "open approval not restored"),
                    }
                    Resumed::Quietly
                }
                Err(SessionError::Unauthorized { .. }) => {
                    Resumed::Say("Your session has ended. Sign in again.")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not resume the session");
                    // The detail is in the log; the sentence is for people.
                    Resumed::Say(
                        "Could not reach the server to resume your session. Restart Countersign once it is reachable, or sign in again.",
                    )
                }
            },
            Ok(false) => Resumed::Quietly,
            Err(e) => {
                tracing::error!(error = %e, "keyring unavailable");
                Resumed::Say(
                    "The system keyring is locked or missing. Unlock it, then restart Countersign.",
                )
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Login

    pub async fn start_login(&mut self, typed: &str) -> AppResult<Identifier> {
        if self.flow.is_signed_in() {
            return Err(AppError::WrongStage);
        }
        let id = Identifier::parse(typed)?;
        self.client.start_otp_login(&id).await?;
        self.flow.code_sent(id.clone(), SystemTime::now())?;
        Ok(id)
    }

    pub async fn resend_login_code(&mut self) -> AppResult<()> {
        self.require(Stage::Code)?;
        let id = self
            .flow
            .identifier()
            .cloned()
            .ok_or(AppError::WrongStage)?;
        if self.flow.code_exhausted() {
            // The old verification is over: a new one, with a new code.
            self.client.start_otp_login(&id).await?;
        } else {
            match self.client.resend_otp().await {
                // It ended on the server (expired, or locked out and over): start a new one
                // rather than tell the person something they cannot act on.
                Err(SessionError::Unauthorized { .. }) => self.client.start_otp_login(&id).await?,
                r => r?,
            }
        }
        self.flow.code_resent(SystemTime::now())
    }

    pub async fn verify_login_code(&mut self, typed: &str) -> AppResult<()> {
        self.require(Stage::Code)?;
        if self.flow.code_exhausted() {
            return Err(AppError::NoTriesLeft);
        }
        match self.client.check_otp(&code_in(typed)?).await {
            Ok(user) => self.signed_in_as(&user),
            Err(SessionError::InvalidOtpCode { attempts_remaining }) => {
                self.flow.wrong_code(attempts_remaining);
                Err(SessionError::InvalidOtpCode { attempts_remaining }.into())
            }
            // No session exists yet: a refusal here is about the code, never a session.
            Err(SessionError::Unauthorized { .. }) => Err(AppError::CodeEnded),
            Err(e) => Err(e.into()),
        }
    }

    /// A login (by code or passkey) gave `user`: signed in, with its scopes as the ledger's
    /// starting point.
    pub fn signed_in_as(&mut self, user: &User) -> AppResult<()> {
        self.flow.sign_in()?;
        self.ledger.signed_in(&user.profile.scopes);
        Ok(())
    }

    /// Back from the code screen to the identifier.
    pub fn change_identifier(&mut self) -> AppResult<()> {
        self.flow.change_identifier()
    }

    /// Signed out locally: the open attempt, if any, is returned; the stored challenge and the
    /// ledger are forgotten.
    pub fn sign_out(&mut self) -> Option<Attempt> {
        let open = self.flow.signed_out();
        self.forget_stored_challenge();
        self.ledger.reset();
        open
    }

    fn forget_stored_challenge(&self) {
        if let Err(e) = self.client.cancel_step_up() {
            tracing::warn!(error = %e, "open approval not cleared from the keyring");
        }
    }

    /// `Ok` on `stage`; else why not: not signed in, or another screen.
    fn require(&self, stage: Stage) -> AppResult<()> {
        if self.flow.stage() == stage {
            Ok(())
        } else if !self.flow.is_signed_in() && stage != Stage::Code {
            Err(AppError::NotSignedIn)
        } else {
            Err(AppError::WrongStage)
        }
    }

    /// The server's clock moved `delta` seconds: what the screen counts down follows.
    pub fn clock_moved(&mut self, delta: i64) {
        self.flow.clock_moved(delta);
    }

    /// What a process that starts again at rest takes over (rest.rs): the address this run
    /// signed in with. Nothing secret: the session itself is resumed from the keyring. Not the
    /// ledger, which only a run that signed in itself can know.
    pub fn carry_out(&self) -> Option<Identifier> {
        self.flow.identifier().cloned()
    }

    /// Takes over what [`Session::carry_out`] gave, once a stored session was resumed.
    pub fn carry_in(&mut self, identifier: Option<Identifier>) {
        if !self.signed_in() {
            return;
        }
        if let Some(id) = identifier {
            self.flow.resumed_as(id);
        }
    }

    /// No sign-in code and no step-up is under way: a new process would lose nothing of the
    /// flow (a grant on screen is in the history).
    pub fn at_rest(&self) -> bool {
        matches!(
            self.flow,
            Flow::SignedOut | Flow::SignedIn { .. } | Flow::Granted { .. }
        )
    }

    /// What a granted request's requester receives: the grant's end and, when it asked, the
    /// access token, only if the token carries nothing another approval granted.
    pub fn handout(&self, scope: &str, want_token: bool) -> Handout {
        let mut h = Handout {
            grant_expires_ms: self.flow.grant().and_then(|g| g.expires_ms),
            ..Handout::default()
        };
        if want_token {
            let carried = self.client.profile().map(|p| p.scopes).unwrap_or_default();
            let now = crate::approvals::now_ms();
            h.withheld = !self.ledger.foreign(&carried, scope, now).is_empty();
            if !h.withheld {
                h.access_token = self
                    .client
                    .access_token()
                    .map(|t| secrecy::ExposeSecret::expose_secret(&t).to_owned().into());
            }
        }
        h
    }
}

/// The code in what the person typed or pasted: the first run of 4 to 8 digits.
pub(crate) fn code_in(typed: &str) -> AppResult<String> {
    prelude_wire::find_code(typed)
        .ok_or_else(|| AppError::InvalidInput("enter the 4 to 8 digit code you received".into()))
}
