//! The approvals part: requests from programs and links waiting for the person (queue.rs),
//! the gates in front of the queue (guard.rs for programs, gate.rs for links), the number
//! each program's request is matched by, and settling: the answer each requester gets when
//! the attempt for its request ends (settle.rs). It has no session and no Tauri type; it
//! learns how an attempt ended from [`AttemptEnded`], and says what it did in the [`Notice`].
//! docs/approval-protocol.md.

pub mod gate;
pub mod guard;
pub mod queue;
mod screen;
mod settle;

use crate::error::{AppError, AppResult};
use crate::notice::Notice;
use crate::outcome::AttemptOutcome;
use crate::redacted::Redacted;
use crate::requests::matching::{Matching, Pick};
use crate::requests::protocol::{Ask, Outcome, Status};
use crate::requests::source::Source;
use crate::session::flow::{Approval, Attempt, RequestTag};
use gate::LinkGate;
use guard::{Guard, ProgramKey, Verdict};
use prelude_wire::Code;
use prelude_wire::time::unix_now;
use queue::{Pending, Queue};
use tokio::sync::oneshot;

/// This computer's clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    unix_now().saturating_mul(1000)
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

/// A request refused before it was queued: what its requester is answered, and the attempt
/// the audit log keeps of it (no one waits on it, but the log says why).
#[derive(Debug)]
pub struct Refused {
    /// The answer to the requester.
    pub outcome: Outcome,
    /// The attempt to log, with its outcome and the stable code of why.
    pub attempt: Attempt,
    pub logged: AttemptOutcome,
    pub code: String,
}

/// Where the session stands, as the approvals part needs to know it: which request (if
/// any) the step-up under way answers, and whether the person is free to see one.
#[derive(Clone, Copy, Debug)]
pub struct Focus<'a> {
    /// `None`: no step-up runs. `Some(None)`: the app's own. `Some(Some(id))`: request `id`'s.
    pub step_up: Option<Option<&'a str>>,
    /// The person is free to see a request (signed in, no approval or grant on screen).
    pub free: bool,
}

/// An approval attempt ended: what the session part reports, and what the approvals part
/// (and the audit log) react to.
pub struct AttemptEnded<'a> {
    pub attempt: Attempt,
    pub outcome: AttemptOutcome,
    /// Why it ended so, when an error ended it.
    pub error: Option<&'a AppError>,
}

/// What the session hands the requester of a granted approval.
#[derive(Default)]
pub struct Handout {
    /// When the grant lapses, in Unix milliseconds, when the server said.
    pub grant_expires_ms: Option<i64>,
    /// The access token, when the requester asked for it and it carries nothing another
    /// approval granted.
    pub access_token: Option<Redacted<String>>,
    /// The requester asked for the token, and it was withheld for that reason.
    pub withheld: bool,
}

/// What the guards remember, carried over at rest (rest.rs).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ApprovalsCarry {
    guard: guard::GuardCarry,
    /// The links of the last minute, Unix ms.
    links: Vec<i64>,
}

/// The queue, its gates and number matching.
pub struct Approvals {
    queue: Queue,
    links: LinkGate,
    /// Reported programs are muted; each program gets a few requests a minute.
    guard: Guard,
    /// Programs' requests are number-matched (docs/approval-protocol.md, "Number matching").
    number_matching: bool,
}

impl Default for Approvals {
    fn default() -> Self {
        Self {
            queue: Queue::default(),
            links: LinkGate::default(),
            guard: Guard::default(),
            number_matching: true,
        }
    }
}

/// The attempt that answers `p`; after a right pick, its metadata carries the number.
fn attempt_for(p: &Pending) -> Attempt {
    let metadata = match &p.matching {
        Some(m) if m.picked => m.signed(&p.ask.metadata),
        _ => p.ask.metadata.clone(),
    };
    let mut a = Attempt::new(
        Approval {
            scope: p.ask.scope.clone(),
            metadata,
        },
        p.received_ms / 1000,
    );
    a.request = Some(RequestTag {
        id: p.id.clone(),
        requester: p.source.label(),
        reason: p.ask.reason.clone(),
    });
    a
}

fn refused(source: &Source, ask: Ask, code: &str, why: &str) -> Box<Refused> {
    let logged = match code {
        "muted" => AttemptOutcome::Denied,
        _ => AttemptOutcome::Refused,
    };
    let status = logged.status().unwrap_or(Status::Refused);
    let outcome = Outcome::new(status, &ask).because(code, why);
    let mut attempt = Attempt::new(
        Approval {
            scope: ask.scope,
            metadata: ask.metadata,
        },
        unix_now(),
    );
    attempt.request = Some(RequestTag {
        id: String::new(),
        requester: source.label(),
        reason: ask.reason,
    });
    Box::new(Refused {
        outcome,
        attempt,
        logged,
        code: code.to_owned(),
    })
}

/// A requester's name as a notice draws it: a program's isolated, so its letters cannot
/// reorder the sentence around it.
fn named(source: &Source) -> String {
    match source {
        Source::Link => source.label(),
        Source::Program(r) => crate::view::isolated(&r.label()),
    }
}

impl Approvals {
    /// Puts a request in the queue; its id and place. Refused at once when no one is signed
    /// in, the program is muted or asks too often, too many wait, or it cannot be matched.
    pub fn enqueue(
        &mut self,
        source: Source,
        ask: Ask,
        reply: Option<oneshot::Sender<Outcome>>,
        signed_in: bool,
        notice: &mut Notice,
    ) -> Result<(String, usize), Box<Refused>> {
        if !signed_in {
            notice.say(format!(
                "{} asked for an approval, but no one is signed in. Sign in, then ask again.",
                match &source {
                    Source::Link => "A link".to_owned(),
                    Source::Program(_) => named(&source),
                }
            ));
            let why = "no one is signed in to Countersign";
            return Err(refused(&source, ask, "not_signed_in", why));
        }
        if let Source::Program(r) = &source {
            match self.guard.check(&ProgramKey::from(r), now_ms()) {
                Verdict::Admit => {}
                Verdict::Muted { first } => {
                    if first {
                        notice.say(format!(
                            "{} asked again after you reported it, and was refused. Its requests are refused for 20 minutes; Settings can unmute it.",
                            named(&source)
                        ));
                    }
                    let why = "the person reported this program's last request, so its requests are refused for a while";
                    return Err(refused(&source, ask, "muted", why));
                }
                Verdict::RateLimited => {
                    let why = "this program asked too often: at most 3 requests a minute reach the screen";
                    return Err(refused(&source, ask, Code::RateLimited.as_str(), why));
                }
            }
        }
        if self.queue.is_full(&source) {
            let why = "too many approvals are waiting already";
            return Err(refused(&source, ask, "queue_full", why));
        }
        let matching = match self.new_matching(&source, ask.metadata.len()) {
            Ok(m) => m,
            Err((code, why)) => return Err(refused(&source, ask, code, &why)),
        };
        let (id, position) = self.queue.push(source, ask, now_ms(), reply);
        if let Some(p) = self.queue.get_mut(&id) {
            p.matching = matching;
        }
        Ok((id, position))
    }

    /// A link the desktop handed over (`countersign://approve?…`): parsed, collapsed with an
    /// identical link already waiting, and rate-limited, a link that cannot be parsed too.
    /// Only a link the rate limit admits changes the screen; see [`LinkTaken`]. A refusal to
    /// log comes back beside it.
    pub fn take_link(
        &mut self,
        text: &str,
        signed_in: bool,
        notice: &mut Notice,
    ) -> (LinkTaken, Option<Box<Refused>>) {
        let ask = match crate::requests::link::parse(text) {
            Ok(ask) => ask,
            Err(e) => {
                if !self.links.admit(now_ms()) {
                    return (LinkTaken::Ignored, None);
                }
                tracing::warn!(error = %e, "approval link refused");
                // Why may quote the link (a key, a scope), which is as long as its maker
                // likes: a notice that long would push the answers out of view.
                let why = e.to_string();
                let why = match why.char_indices().nth(LINK_WHY_CHARS) {
                    Some((cut, _)) => format!("{}…", &why[..cut]),
                    None => why,
                };
                notice.say(format!("An approval link was ignored: {why}."));
                return (LinkTaken::Noticed, None);
            }
        };
        let duplicate = self
            .queue
            .iter()
            .any(|p| p.source == Source::Link && p.ask == ask);
        if duplicate {
            return (LinkTaken::Ignored, None);
        }
        if !self.links.admit(now_ms()) {
            notice.say("Too many approval links in a minute: the latest was ignored.");
            return (LinkTaken::Ignored, None);
        }
        match self.enqueue(Source::Link, ask, None, signed_in, notice) {
            Ok((id, _)) => (LinkTaken::Queued(id), None),
            Err(r) => {
                if signed_in {
                    notice.say("Too many approval links wait already: the latest was ignored.");
                }
                (LinkTaken::Noticed, Some(r))
            }
        }
    }

    /// Whether `id` is the request the person sees: the one in its step-up, or the head of
    /// the queue when none runs. Otherwise the screen was out of date when they clicked (the
    /// request was withdrawn or timed out meanwhile): nothing is to be done, and the notice
    /// says so.
    pub fn is_shown(&self, id: &str, focus: Focus<'_>, notice: &mut Notice) -> bool {
        let shown = match focus.step_up {
            Some(tag) => tag == Some(id),
            None => self.queue.head().is_some_and(|p| p.id == id),
        };
        if !shown {
            let next = if self.request_view(focus).is_some() {
                " The request now on screen is another one: read it before you answer."
            } else {
                ""
            };
            notice.say(format!(
                "The request you answered was no longer waiting, so nothing was done.{next}"
            ));
        }
        shown
    }

    /// The attempt that answers the request on screen, once its number (if any) is picked.
    ///
    /// # Errors
    /// [`AppError::NoRequest`] when none waits; [`AppError::NumberNotPicked`].
    pub fn head_attempt(&self) -> AppResult<Attempt> {
        let head = self.queue.head().ok_or(AppError::NoRequest)?;
        if head.matching.as_ref().is_some_and(|m| !m.picked) {
            return Err(AppError::NumberNotPicked);
        }
        Ok(attempt_for(head))
    }

    /// The attempt that answers request `id` as it stands, if it waits.
    pub fn attempt(&self, id: &str) -> Option<Attempt> {
        self.queue.get(id).map(attempt_for)
    }

    /// Request `id`, if it waits.
    pub fn pending(&self, id: &str) -> Option<&Pending> {
        self.queue.get(id)
    }

    /// Who asked for request `id`, if it waits.
    pub fn source(&self, id: &str) -> Option<Source> {
        self.queue.get(id).map(|p| p.source.clone())
    }

    /// How a notice names the requester of `id`, if it waits.
    pub fn named(&self, id: &str) -> Option<String> {
        self.queue.get(id).map(|p| named(&p.source))
    }

    /// A reported program may not ask again at once (approval fatigue).
    pub fn mute(&mut self, source: &Source) {
        if let Source::Program(r) = source {
            self.guard.mute(ProgramKey::from(r), now_ms());
        }
    }

    /// The attempts that answer every waiting request, to end them all (at sign-out).
    pub fn all_attempts(&self) -> Vec<Attempt> {
        self.queue.iter().map(attempt_for).collect()
    }

    /// How many requests wait, on screen included, now and at each change (the tray's count).
    pub fn watch(&self) -> tokio::sync::watch::Receiver<usize> {
        self.queue.watch()
    }

    /// The ID of the request at the head of the queue (the one answered next), if any.
    pub fn head_id(&self) -> Option<String> {
        self.queue.head().map(|p| p.id.clone())
    }

    /// How many requests wait, the one on screen included.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// No request waits.
    /// No request waits: the guards' memory is carried over ([`Approvals::carry_out`]).
    pub fn at_rest(&self) -> bool {
        self.queue.is_empty()
    }

    /// The guard's and the link gate's memory at `now_ms`, for the process taking over.
    pub fn carry_out(&self, now_ms: i64) -> ApprovalsCarry {
        ApprovalsCarry {
            guard: self.guard.carry_out(now_ms),
            links: self.links.carry_out(now_ms),
        }
    }

    /// Takes over what the process before remembered, at `now_ms`.
    pub fn carry_in(&mut self, c: ApprovalsCarry, now_ms: i64) {
        self.guard.carry_in(c.guard, now_ms);
        self.links.carry_in(c.links, now_ms);
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// When request `id` times out, in Unix ms: the one deadline the screen shows and the
    /// timer keeps.
    pub fn deadline_ms(&self, id: &str) -> Option<i64> {
        self.queue.get(id).map(|p| p.deadline_ms)
    }

    /// The programs muted after a report, with when each mute ends (Unix milliseconds).
    pub fn muted_programs(&self) -> Vec<(ProgramKey, i64)> {
        self.guard.muted(now_ms())
    }

    /// Ends every mute (Settings' "Unmute").
    pub fn unmute_programs(&mut self, notice: &mut Notice) {
        self.guard.unmute_all();
        notice.say("Programs you reported may ask for approvals again.");
    }

    /// Whether programs' requests are number-matched (Settings; on unless turned off for the
    /// profile).
    pub fn number_matching(&self) -> bool {
        self.number_matching
    }

    /// Turns matching on or off for requests queued from now on; a waiting request keeps
    /// what it was given.
    pub fn set_number_matching(&mut self, on: bool) {
        self.number_matching = on;
    }

    /// The number a queued request's requester is told, when it has one.
    pub fn match_number(&self, id: &str) -> Option<u8> {
        self.queue
            .get(id)
            .and_then(|p| p.matching.as_ref())
            .map(|m| m.number)
    }

    /// A new request's number, or why the request cannot be matched (for the refusal).
    /// Links get none: whoever makes a link knows its number.
    fn new_matching(
        &self,
        source: &Source,
        metadata_len: usize,
    ) -> Result<Option<Matching>, (&'static str, String)> {
        if !self.number_matching || *source == Source::Link {
            return Ok(None);
        }
        if metadata_len >= prelude_wire::MAX_METADATA_KEYS {
            return Err((
                "metadata_full",
                format!(
                    "number matching signs the number as one more metadata entry, and a request holds at most {max}: this one already has {metadata_len}. Send at most {less} --meta, or turn number matching off in Settings",
                    max = prelude_wire::MAX_METADATA_KEYS,
                    less = prelude_wire::MAX_METADATA_KEYS - 1,
                ),
            ));
        }
        Matching::new(&self.queue.numbers_in_use())
            .map(Some)
            .map_err(|e| ("no_number", format!("no number could be drawn: {e}")))
    }

    /// The person picks `n` on request `id`. The right number lets "Continue to approve" on.
    /// Another of those offered mutes the program, as a report does, and gives back the
    /// attempt to end as denied with `number_mismatch`.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a request without a number, or a number that was not
    /// offered; [`AppError::NoRequest`] when `id` does not wait.
    pub fn pick_number(
        &mut self,
        id: &str,
        n: u8,
        notice: &mut Notice,
    ) -> AppResult<Option<Attempt>> {
        let p = self.queue.get_mut(id).ok_or(AppError::NoRequest)?;
        let Some(m) = p.matching.as_mut() else {
            return Err(AppError::InvalidInput(
                "this request has no number to pick".into(),
            ));
        };
        match m.pick(n) {
            Pick::Right => Ok(None),
            Pick::NotOffered => Err(AppError::InvalidInput(format!(
                "{n} is not one of the numbers offered"
            ))),
            Pick::Wrong => {
                let source = p.source.clone();
                let a = attempt_for(p);
                self.mute(&source);
                if let Source::Program(r) = &source {
                    notice.say(format!(
                        "That was not the number the program's terminal shows, so the request was denied and {} may not ask again for 20 minutes. If you did not start it, someone else did.",
                        crate::view::isolated(&r.label())
                    ));
                }
                Ok(Some(a))
            }
        }
    }
}
