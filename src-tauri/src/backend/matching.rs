//! Number matching at the backend: a program's request gets a number when it is queued, the
//! person's pick is checked, and a wrong pick denies the request and mutes the program.
//! docs/approval-protocol.md, "Number matching".

use super::Backend;
use super::requests::{attempt_for, now_ms};
use crate::error::{AppError, AppResult};
use crate::outcome::AttemptOutcome;
use crate::requests::guard::ProgramKey;
use crate::requests::matching::{Matching, Pick};
use crate::requests::queue::Source;
use crate::view::{MatchView, Stage};

impl Backend {
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
        self.requests
            .get(id)
            .and_then(|p| p.matching.as_ref())
            .map(|m| m.number)
    }

    /// A new request's number, or why the request cannot be matched (for the refusal).
    /// Links get none: whoever makes a link knows its number.
    pub(super) fn new_matching(
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
        Matching::new(&self.requests.numbers_in_use())
            .map(Some)
            .map_err(|e| ("no_number", format!("no number could be drawn: {e}")))
    }

    /// What the request screen shows of `id`'s matching.
    pub(super) fn match_view(&self, id: &str) -> Option<MatchView> {
        let m = self.requests.get(id)?.matching.as_ref()?;
        Some(MatchView {
            choices: m.choices.to_vec(),
            picked: m.picked,
            chosen: m.picked.then_some(m.number),
        })
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
        if self.flow.stage() != Stage::Logged {
            return Err(AppError::WrongStage);
        }
        if !self.is_shown(id) {
            return Ok(());
        }
        let p = self.requests.get_mut(id).ok_or(AppError::NoRequest)?;
        let Some(m) = p.matching.as_mut() else {
            return Err(AppError::InvalidInput(
                "this request has no number to pick".into(),
            ));
        };
        match m.pick(n) {
            Pick::Right => Ok(()),
            Pick::NotOffered => Err(AppError::InvalidInput(format!(
                "{n} is not one of the numbers offered"
            ))),
            Pick::Wrong => {
                let source = p.source.clone();
                let a = attempt_for(p);
                self.close_attempt(a, AttemptOutcome::Denied, Some(&AppError::NumberMismatch));
                if let Source::Program(r) = &source {
                    self.guard.mute(ProgramKey::from(r), now_ms());
                    self.notice.say(format!(
                        "That was not the number the program's terminal shows, so the request was denied and {} may not ask again for 20 minutes. If you did not start it, someone else did.",
                        crate::view::isolated(&r.label())
                    ));
                }
                Ok(())
            }
        }
    }
}
