//! The lock's state, without Tauri or D-Bus: when Countersign locks (minutes without input,
//! the session's screen lock, "Lock now", a start with a PIN set), how long a wrong PIN makes
//! the next try wait, and the one-use UV grant an unlock with the PIN leaves for a request.
//! Every call takes `now`, so tests drive the clock (docs/approval-protocol.md, "The lock").

use std::time::{Duration, Instant};

/// The longest wait between two PIN tries at the lock.
pub const MAX_DELAY: Duration = Duration::from_secs(64);
/// How long an unlock with the PIN also stands as user verification for the request that
/// was waiting.
pub const UV_GRANT_FOR: Duration = Duration::from_secs(60);

/// Why the lock closed; for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The minutes without input ran out.
    Idle,
    /// The session's screen locked (a screen saver's `ActiveChanged`, logind's `Lock` or
    /// `LockedHint`).
    Screen,
    /// "Lock now": the keyboard shortcut or the tray.
    Asked,
    /// A PIN is set: every start is locked.
    Start,
    /// Locked before Countersign started itself again in the tray (rest.rs).
    Carried,
}

/// The user verification an unlock with the PIN gave: the next passkey assertion for
/// `request` may use it once, until `until`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct UvGrant {
    request: String,
    until: Instant,
}

/// The lock's state.
#[derive(Debug)]
pub struct Machine {
    locked: bool,
    /// Locks after this long without input; `None`: never.
    after: Option<Duration>,
    /// The last input to the window, or its closing: the idle time counts from here.
    last_input: Instant,
    /// When the last wrong PIN was typed at the lock.
    last_wrong: Option<Instant>,
    grant: Option<UvGrant>,
}

/// The wait before the next PIN try, after `failures` wrong PINs in a row (the PIN's shared
/// tries counter): none for the first, then 1, 2, 4, 8 … seconds, at most [`MAX_DELAY`].
pub fn delay(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => Duration::from_secs(1u64 << (n - 1).min(6)).min(MAX_DELAY),
    }
}

impl Machine {
    /// Open, with the idle time counting from `now`; `after` as [`Machine::set_after`].
    pub fn new(after: Option<Duration>, now: Instant) -> Self {
        Self {
            locked: false,
            after,
            last_input: now,
            last_wrong: None,
            grant: None,
        }
    }

    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Locks after `after` without input (`None`: never); the time already idle counts.
    pub fn set_after(&mut self, after: Option<Duration>) {
        self.after = after;
    }

    /// Input to the window: the idle time starts again. Input to a locked window changes
    /// nothing (only an unlock opens it).
    pub fn input(&mut self, now: Instant) {
        if !self.locked {
            self.last_input = self.last_input.max(now);
        }
    }

    /// The window closed: the idle time counts from now, as after input.
    pub fn closed(&mut self, now: Instant) {
        self.input(now);
    }

    /// Locks; false when it was locked already. A UV grant not used yet is dropped.
    pub fn lock(&mut self) -> bool {
        self.grant = None;
        !std::mem::replace(&mut self.locked, true)
    }

    /// When the idle time runs out; `None` while locked or when it never does.
    pub fn idle_deadline(&self) -> Option<Instant> {
        match (self.locked, self.after) {
            (false, Some(after)) => Some(self.last_input + after),
            _ => None,
        }
    }

    /// Locks if the idle time has run out at `now`; whether it locked now.
    pub fn lock_if_idle(&mut self, now: Instant) -> bool {
        match self.idle_deadline() {
            Some(at) if now >= at => self.lock(),
            _ => false,
        }
    }

    /// How long the next PIN try must still wait at `now`, after `failures` wrong PINs in a
    /// row; zero when it may go ahead.
    pub fn wait_before_try(&self, failures: u32, now: Instant) -> Duration {
        match self.last_wrong {
            Some(at) => (at + delay(failures)).saturating_duration_since(now),
            None => Duration::ZERO,
        }
    }

    /// A wrong PIN was typed at the lock at `now`.
    pub fn wrong_pin(&mut self, now: Instant) {
        self.last_wrong = Some(now);
    }

    /// Opens the lock at `now`: the idle time starts again. `grant_for` is the request an
    /// unlock with the PIN also verified the person for (see [`Machine::take_grant`]).
    pub fn unlock(&mut self, now: Instant, grant_for: Option<String>) {
        self.locked = false;
        self.last_input = now;
        self.last_wrong = None;
        self.grant = grant_for.map(|request| UvGrant {
            request,
            until: now + UV_GRANT_FOR,
        });
    }

    /// The idle time at `now`: since the last input or the window's closing.
    pub fn idle_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_input)
    }

    /// Counts `idle` as already spent at `now` (a process that starts again keeps the idle
    /// time of the one before).
    pub fn idle_since(&mut self, idle: Duration, now: Instant) {
        self.last_input = now.checked_sub(idle).unwrap_or(self.last_input);
    }

    /// Nothing here would be lost with the process at `now`, after `failures` wrong PINs: no
    /// wait before the next PIN try runs, and no UV grant is left to use.
    pub fn at_rest(&self, failures: u32, now: Instant) -> bool {
        self.wait_before_try(failures, now).is_zero()
            && self.grant.as_ref().is_none_or(|g| now >= g.until)
    }

    /// Whether an unused UV grant for `request` holds at `now`.
    pub fn has_grant(&self, request: &str, now: Instant) -> bool {
        !self.locked
            && self
                .grant
                .as_ref()
                .is_some_and(|g| g.request == request && now < g.until)
    }

    /// Uses the UV grant for `request`, once: true if it held. Any grant is gone afterwards,
    /// so a grant for one request never serves another.
    pub fn take_grant(&mut self, request: &str, now: Instant) -> bool {
        let held = self.has_grant(request, now);
        self.grant = None;
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_or_a_grant_is_not_at_rest_and_the_idle_time_carries_over() {
        let t0 = Instant::now();
        let mut m = Machine::new(Some(Duration::from_secs(60)), t0);
        assert!(m.at_rest(0, t0));
        m.wrong_pin(t0);
        // Three wrong PINs: the next try waits 4 s.
        assert!(!m.at_rest(3, t0 + Duration::from_secs(3)));
        assert!(m.at_rest(3, t0 + Duration::from_secs(4)));
        m.unlock(t0 + Duration::from_secs(5), Some("r1".into()));
        assert!(!m.at_rest(0, t0 + Duration::from_secs(6)));
        assert!(m.at_rest(0, t0 + Duration::from_secs(5) + UV_GRANT_FOR));
        let later = t0 + Duration::from_secs(100);
        assert_eq!(m.idle_for(later), Duration::from_secs(95));
        let mut next = Machine::new(Some(Duration::from_secs(60)), later);
        next.idle_since(Duration::from_secs(55), later);
        assert!(!next.lock_if_idle(later + Duration::from_secs(4)));
        assert!(next.lock_if_idle(later + Duration::from_secs(5)));
    }

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn it_locks_after_the_minutes_without_input_counted_from_the_last_input() {
        let t0 = Instant::now();
        let mut m = Machine::new(Some(5 * MIN), t0);
        assert_eq!(m.idle_deadline(), Some(t0 + 5 * MIN));
        assert!(!m.lock_if_idle(t0 + 4 * MIN));
        m.input(t0 + 4 * MIN);
        assert!(!m.lock_if_idle(t0 + 5 * MIN), "input moved the deadline");
        assert!(!m.lock_if_idle(t0 + 9 * MIN - Duration::from_millis(1)));
        assert!(m.lock_if_idle(t0 + 9 * MIN));
        assert!(m.is_locked());
        assert_eq!(m.idle_deadline(), None, "a locked window has no deadline");
        assert!(!m.lock_if_idle(t0 + 20 * MIN), "locking twice is no change");
    }

    #[test]
    fn closing_the_window_restarts_the_count_and_older_input_does_not_move_it_back() {
        let t0 = Instant::now();
        let mut m = Machine::new(Some(5 * MIN), t0);
        m.closed(t0 + 3 * MIN);
        assert!(!m.lock_if_idle(t0 + 7 * MIN));
        // A throttled report of input from before arrives late.
        m.input(t0 + MIN);
        assert_eq!(m.idle_deadline(), Some(t0 + 8 * MIN));
        assert!(m.lock_if_idle(t0 + 8 * MIN));
    }

    #[test]
    fn never_means_no_idle_lock_but_other_locks_still_work() {
        let t0 = Instant::now();
        let mut m = Machine::new(None, t0);
        assert_eq!(m.idle_deadline(), None);
        assert!(!m.lock_if_idle(t0 + 1000 * MIN));
        assert!(m.lock(), "a screen lock or Lock now still locks");
        m.unlock(t0 + 1000 * MIN, None);
        m.set_after(Some(MIN));
        assert!(m.lock_if_idle(t0 + 1001 * MIN));
    }

    #[test]
    fn input_while_locked_does_not_open_it_and_an_unlock_restarts_the_count() {
        let t0 = Instant::now();
        let mut m = Machine::new(Some(MIN), t0);
        assert!(m.lock());
        m.input(t0 + 10 * MIN);
        assert!(m.is_locked());
        m.unlock(t0 + 20 * MIN, None);
        assert!(!m.is_locked());
        assert_eq!(m.idle_deadline(), Some(t0 + 21 * MIN));
    }

    #[test]
    fn wrong_pins_wait_longer_each_time() {
        let got: Vec<u64> = (0..10).map(|f| delay(f).as_secs()).collect();
        assert_eq!(got, [0, 1, 2, 4, 8, 16, 32, 64, 64, 64]);
        let t0 = Instant::now();
        let mut m = Machine::new(None, t0);
        m.lock();
        assert_eq!(
            m.wait_before_try(0, t0),
            Duration::ZERO,
            "the first try waits for nothing"
        );
        m.wrong_pin(t0);
        assert_eq!(m.wait_before_try(1, t0), Duration::from_secs(1));
        assert_eq!(
            m.wait_before_try(1, t0 + Duration::from_secs(1)),
            Duration::ZERO
        );
        m.wrong_pin(t0 + Duration::from_secs(1));
        assert_eq!(
            m.wait_before_try(2, t0 + Duration::from_millis(1500)),
            Duration::from_millis(1500)
        );
        // Wrong PINs elsewhere (the passkeys) count too: the counter is shared.
        assert_eq!(
            m.wait_before_try(5, t0 + Duration::from_secs(1)),
            Duration::from_secs(16)
        );
        m.unlock(t0 + MIN, None);
        assert_eq!(m.wait_before_try(3, t0 + MIN), Duration::ZERO);
    }

    #[test]
    fn a_uv_grant_serves_its_request_once_and_only_while_fresh() {
        let t0 = Instant::now();
        let mut m = Machine::new(None, t0);
        m.lock();
        m.unlock(t0, Some("r1".into()));
        assert!(m.has_grant("r1", t0));
        assert!(!m.has_grant("r2", t0));
        assert!(!m.take_grant("r2", t0), "another request gets nothing");
        assert!(
            !m.take_grant("r1", t0),
            "and the grant is gone after any use"
        );

        m.lock();
        m.unlock(t0, Some("r1".into()));
        assert!(!m.has_grant("r1", t0 + UV_GRANT_FOR), "stale");
        assert!(m.take_grant("r1", t0 + UV_GRANT_FOR - Duration::from_millis(1)));
        assert!(!m.take_grant("r1", t0), "once");

        m.unlock(t0, Some("r1".into()));
        m.lock();
        m.unlock(t0, None);
        assert!(
            !m.has_grant("r1", t0),
            "a lock drops it; a click unlock grants nothing"
        );
    }
}
