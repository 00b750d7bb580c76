//! Approvals asked by other programs and links: the queue in front of the person, and the
//! answer each requester gets. Every request ends in the audit log, whatever its outcome.

use super::Backend;
use crate::error::{AppError, AppResult};
use crate::flow::{Approval, Attempt, RequestTag};
use crate::outcome::AttemptOutcome;
use crate::requests::guard::{ProgramKey, Verdict};
use crate::requests::protocol::{Ask, Outcome, Status};
use crate::requests::queue::{Pending, Source};
use crate::view::{RequestView, Stage};
use prelude_wire::Code;
use prelude_wire::time::{rfc3339, unix_now};
use secrecy::ExposeSecret;
use tokio::sync::oneshot;

/// This computer's clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    unix_now().saturating_mul(1000)
}

/// The attempt that answers `p`; after a right pick, its metadata carries the number.
pub(super) fn attempt_for(p: &Pending) -> Attempt {
    let metadata = match &p.matching {
        Some(m) if m.picked => m.signed(&p.ask.metadata),
        _ => p.ask.metadata.clone(),
    };
    let mut a = Attempt::new(
        Approval {
            scope: p.ask.scope.clone(),
            metadata,
        },
        p.received,
    );
    a.request = Some(RequestTag {
        id: p.id.clone(),
        requester: p.source.label(),
        reason: p.ask.reason.clone(),
    });
    a
}

impl Backend {
    /// Puts a request in the queue. Refused at once (and logged) when no one is signed in or
    /// too many wait.
    pub fn enqueue(
        &mut self,
        source: Source,
        ask: Ask,
        reply: Option<oneshot::Sender<Outcome>>,
    ) -> Result<(String, usize), Box<Outcome>> {
        let refuse = |this: &mut Self, ask: Ask, code: &str, why: &str| {
            let logged = match code {
                "muted" => AttemptOutcome::Denied,
                _ => AttemptOutcome::Refused,
            };
            let status = logged.status().unwrap_or(Status::Refused);
            let outcome = Outcome::new(status, &ask).because(code, why);
            let mut a = Attempt::new(
                Approval {
                    scope: ask.scope,
                    metadata: ask.metadata,
                },
                unix_now(),
            );
            a.request = Some(RequestTag {
                id: String::new(),
                requester: source.label(),
                reason: ask.reason,
            });
            // Refused before it was queued: no one waits on it, but the log says why.
            this.audit_attempt(a, logged, Some(code.to_owned()));
            Box::new(outcome)
        };
        if !self.signed_in() {
            self.notice = Some(format!(
                "{} asked for an approval, but no one is signed in. Sign in, then ask again.",
                match &source {
                    Source::Link => "A link".to_owned(),
                    Source::Program(r) => crate::view::isolated(&r.label()),
                }
            ));
            return Err(refuse(
                self,
                ask,
                "not_signed_in",
                "no one is signed in to Countersign",
            ));
        }
        if let Source::Program(r) = &source {
            match self.guard.check(&ProgramKey::from(r), now_ms()) {
                Verdict::Admit => {}
                Verdict::Muted { first } => {
                    if first {
                        self.notice = Some(format!(
                            "{} asked again after you reported it, and was refused. Its requests are refused for 20 minutes; Settings can unmute it.",
                            crate::view::isolated(&r.label())
                        ));
                    }
                    return Err(refuse(
                        self,
                        ask,
                        "muted",
                        "the person reported this program's last request, so its requests are refused for a while",
                    ));
                }
                Verdict::RateLimited => {
                    return Err(refuse(
                        self,
                        ask,
                        Code::RateLimited.as_str(),
                        "this program asked too often: at most 3 requests a minute reach the screen",
                    ));
                }
            }
        }
        if self.requests.is_full(&source) {
            return Err(refuse(
                self,
                ask,
                "queue_full",
                "too many approvals are waiting already",
            ));
        }
        let matching = match self.new_matching(&source, ask.metadata.len()) {
            Ok(m) => m,
            Err((code, why)) => return Err(refuse(self, ask, code, &why)),
        };
        let (id, position) = self.requests.push(source, ask, now_ms(), reply);
        if let Some(p) = self.requests.get_mut(&id) {
            p.matching = matching;
        }
        Ok((id, position))
    }

    /// A link the desktop handed over (`countersign://approve?…`): parsed, collapsed with an
    /// identical link already waiting, and rate-limited, a link that cannot be parsed too.
    /// Only a link the rate limit admits changes the screen; see [`LinkTaken`].
    pub fn take_link(&mut self, text: &str) -> LinkTaken {
        let ask = match crate::requests::link::parse(text) {
            Ok(ask) => ask,
            Err(e) => {
                if !self.links.admit(now_ms()) {
                    return LinkTaken::Ignored;
                }
                tracing::warn!(error = %e, "approval link refused");
                // Why may quote the link (a key, a scope), which is as long as its maker
                // likes: a notice that long would push the answers out of view.
                let why = e.to_string();
                let why = match why.char_indices().nth(LINK_WHY_CHARS) {
                    Some((cut, _)) => format!("{}…", &why[..cut]),
                    None => why,
                };
                self.notice = Some(format!("An approval link was ignored: {why}."));
                return LinkTaken::Noticed;
            }
        };
        let duplicate = self
            .requests
            .iter()
            .any(|p| p.source == Source::Link && p.ask == ask);
        if duplicate {
            return LinkTaken::Ignored;
        }
        if !self.links.admit(now_ms()) {
            self.notice =
                Some("Too many approval links in a minute: the latest was ignored.".into());
            return LinkTaken::Ignored;
        }
        match self.enqueue(Source::Link, ask, None) {
            Ok((id, _)) => LinkTaken::Queued(id),
            Err(_) => {
                if self.signed_in() {
                    self.notice = Some(
                        "Too many approval links wait already: the latest was ignored.".into(),
                    );
                }
                LinkTaken::Noticed
            }
        }
    }

    /// The request on screen: when the person is free to see it, or while its step-up runs.
    pub(super) fn request_view(&self) -> Option<RequestView> {
        let head = self.requests.head()?;
        let mine = self
            .flow
            .approving()
            .and_then(|a| a.attempt.request.as_ref())
            .is_some_and(|t| t.id == head.id);
        if !(mine || self.flow.stage() == Stage::Logged) {
            return None;
        }
        let source = head.source.label();
        Some(RequestView {
            warnings: crate::view::warnings(&[
                ("source", Some(&source)),
                ("reason", head.ask.reason.as_deref()),
            ]),
            id: head.id.clone(),
            source: head.source.label(),
            requester: head.source.requester().cloned(),
            from_link: head.source == Source::Link,
            reason: head.ask.reason.clone(),
            scope: head.ask.scope.clone(),
            scope_words: crate::labels::scope_words(&head.ask.scope),
            metadata: head.ask.metadata.clone().into_iter().collect(),
            received_at: rfc3339(head.received),
            expires_at: head.deadline_ms,
            broad_title: crate::labels::broad_title(&head.ask.scope, !head.ask.metadata.is_empty()),
            broad: crate::labels::broad(&head.ask.scope, !head.ask.metadata.is_empty(), None, None),
            matching: self.match_view(&head.id),
            matching_off: head.source != Source::Link && head.matching.is_none(),
        })
    }

    pub(super) fn waiting_requests(&self) -> usize {
        match self.request_view() {
            Some(_) => self.requests.waiting(),
            None => self.requests.len(),
        }
    }

    /// The programs muted after a report, with when each mute ends (Unix milliseconds).
    pub fn muted_programs(&self) -> Vec<(ProgramKey, i64)> {
        self.guard.muted(now_ms())
    }

    /// Ends every mute (Settings' "Unmute").
    pub fn unmute_programs(&mut self) {
        self.guard.unmute_all();
        self.notice = Some("Programs you reported may ask for approvals again.".into());
    }

    /// Something to tell the person, until their next action.
    pub fn say(&mut self, notice: String) {
        self.notice = Some(notice);
    }

    pub(super) fn report_offer(&self) -> bool {
        self.report_offer
    }

    /// Whether `id` is the request the person sees: the one in its step-up, or the head of
    /// the queue when none runs. Otherwise the screen was out of date when they clicked (the
    /// request was withdrawn or timed out meanwhile): nothing is done, and the notice says so.
    pub(super) fn is_shown(&mut self, id: &str) -> bool {
        let shown = match self.flow.approving().map(|a| a.attempt.request.as_ref()) {
            Some(tag) => tag.is_some_and(|t| t.id == id),
            None => self.requests.head().is_some_and(|p| p.id == id),
        };
        if !shown {
            let next = if self.request_view().is_some() {
                " The request now on screen is another one: read it before you answer."
            } else {
                ""
            };
            self.notice = Some(format!(
                "The request you answered was no longer waiting, so nothing was done.{next}"
            ));
        }
        shown
    }

    /// The person agrees to consider the request `id`, which is on screen: its step-up starts.
    /// If `id` is not the one shown any more, nothing starts and the notice says so.
    ///
    /// # Errors
    /// [`AppError::WrongStage`] while another approval is open; the step-up's errors.
    pub async fn approve_request(&mut self, id: &str) -> AppResult<()> {
        self.notice = None;
        self.report_offer = false;
        if self.flow.stage() != Stage::Logged {
            return Err(AppError::WrongStage);
        }
        if !self.is_shown(id) {
            return Ok(());
        }
        let head = self.requests.head().ok_or(AppError::NoRequest)?;
        if head.matching.as_ref().is_some_and(|m| !m.picked) {
            return Err(AppError::NumberNotPicked);
        }
        let attempt = attempt_for(head);
        self.start_attempt(attempt).await
    }

    /// The person refuses the request `id` on screen, before or during its step-up; `report`
    /// marks it as suspicious. If `id` is not the one shown any more, nothing is refused and the
    /// notice says so.
    ///
    /// # Errors
    /// [`AppError::WrongStage`] where no request is on screen.
    pub fn deny_request(&mut self, id: &str, report: bool) -> AppResult<()> {
        self.notice = None;
        let outcome = if report {
            AttemptOutcome::Reported
        } else {
            AttemptOutcome::Denied
        };
        let tagged = self
            .flow
            .approving()
            .is_some_and(|a| a.attempt.request.is_some());
        if !tagged && self.flow.stage() != Stage::Logged {
            return Err(AppError::WrongStage);
        }
        if !self.is_shown(id) {
            return Ok(());
        }
        let source = self.requests.get(id).map(|p| p.source.clone());
        if tagged {
            self.end_approval(outcome)?;
        } else {
            let head = self.requests.head().ok_or(AppError::NoRequest)?;
            let a = attempt_for(head);
            self.close_attempt(a, outcome, None);
        }
        let told = match &source {
            Some(Source::Program { .. }) => " The program was told.",
            _ => "",
        };
        if report && let Some(Source::Program(r)) = &source {
            // Approval fatigue: a reported program may not ask again at once.
            self.guard.mute(ProgramKey::from(r), now_ms());
        }
        self.notice = Some(if report {
            format!("Denied and reported.{told}")
        } else {
            format!("Denied.{told}")
        });
        self.report_offer = report;
        Ok(())
    }

    /// When request `id` times out, in Unix ms: the one deadline the screen shows and the
    /// timer keeps.
    pub fn request_deadline_ms(&self, id: &str) -> Option<i64> {
        self.requests.get(id).map(|p| p.deadline_ms)
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
        let Some(p) = self.requests.get(id) else {
            return false;
        };
        let label = match &p.source {
            Source::Link => p.source.label(),
            Source::Program(r) => crate::view::isolated(&r.label()),
        };
        let in_step_up = self
            .flow
            .approving()
            .and_then(|a| a.attempt.request.as_ref())
            .is_some_and(|t| t.id == id);
        if in_step_up {
            if let Ok(a) = self.flow.end_approval() {
                self.close_attempt(a, outcome, None);
            }
            self.forget_stored_challenge();
        } else {
            let a = attempt_for(p);
            self.close_attempt(a, outcome, None);
        }
        self.notice = Some(format!(
            "The request from {label} {what}, so it was closed."
        ));
        true
    }

    /// Answers every request `cancelled`: the person quit Countersign.
    pub fn cancel_requests(&mut self) {
        self.drop_requests(AttemptOutcome::Cancelled);
    }

    /// How many requests wait, on screen included, now and at each change.
    pub fn watch_requests(&self) -> tokio::sync::watch::Receiver<usize> {
        self.requests.watch()
    }

    /// Ends every request (at sign-out).
    pub(super) fn drop_requests(&mut self, outcome: AttemptOutcome) {
        for id in self.requests.ids() {
            if let Some(p) = self.requests.get(&id) {
                let a = attempt_for(p);
                self.close_attempt(a, outcome, None);
            }
        }
    }

    /// Answers the requester behind an attempt that ended with `outcome`, if it ends the
    /// request.
    pub(super) fn settle_request(
        &mut self,
        id: &str,
        a: &Attempt,
        outcome: AttemptOutcome,
        error: Option<&AppError>,
    ) {
        let Some(status) = outcome.status() else {
            return;
        };
        let Some(p) = self.requests.get(id) else {
            return;
        };
        let mut o = Outcome::new(status, &p.ask);
        o.session_id = self.client.session_id();
        o.challenge_id = a.challenge_id.clone();
        let mut withheld = false;
        if status == Status::Granted {
            o.grant_expires_at = self
                .flow
                .grant()
                .and_then(|g| g.expires_at)
                .map(|ms| rfc3339(ms / 1000));
            if p.ask.want_token {
                // The token goes out only if it carries nothing another approval granted.
                let carried = self.client.profile().map(|p| p.scopes).unwrap_or_default();
                withheld = !self
                    .ledger
                    .foreign(&carried, &p.ask.scope, now_ms())
                    .is_empty();
                if !withheld {
                    o.access_token = self
                        .client
                        .access_token()
                        .map(|t| t.expose_secret().to_owned().into());
                }
            }
        }
        let (code, why) = match (outcome, error) {
            (_, Some(e)) => (e.code().to_string(), crate::error::for_people(e)),
            (o @ AttemptOutcome::Denied, _) => (o.as_str().into(), "the person denied it".into()),
            (o @ AttemptOutcome::Reported, _) => (
                o.as_str().into(),
                "the person denied it and reported it as suspicious".into(),
            ),
            (o @ AttemptOutcome::Cancelled, _) => {
                (o.as_str().into(), "the approval was cancelled".into())
            }
            (o @ AttemptOutcome::TimedOut, _) => {
                (o.as_str().into(), "no one answered in time".into())
            }
            _ if withheld => (
                "token_withheld".into(),
                "the session's access token also carries a scope that another approval granted, so it was not handed out".into(),
            ),
            _ => (String::new(), String::new()),
        };
        if !code.is_empty() {
            o = o.because(&code, why);
        }
        self.requests.resolve(id, o);
    }
}

/// How much of why a link was refused a notice quotes.
const LINK_WHY_CHARS: usize = 160;

/// What became of a link. Only `Queued` and `Noticed` bring the window forward: a page that
/// keeps opening links (duplicates, or past the rate limit) must not keep pulling the window
/// to the front, where each gain of focus makes the answers settle again.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkTaken {
    /// Waiting for the person, with this id.
    Queued(String),
    /// Not queued, and the notice says why.
    Noticed,
    /// Nothing changed on screen: a duplicate, or past the rate limit.
    Ignored,
}
