//! Bounds against abuse: the proof replay cache, and the per-identifier send throttle and
//! lockout. Neither is persisted.

use std::collections::{BTreeSet, HashMap};

/// Proof `jti`s seen within their window. Lookups hash; expiry is an ordered index, so a
/// check costs O(log n) and never scans.
#[derive(Debug, Default)]
pub struct ReplayCache {
    until: HashMap<String, i64>,
    by_expiry: BTreeSet<(i64, String)>,
}

impl ReplayCache {
    /// Records `jti` until `keep_until`. When the cache is full of live entries the proof is
    /// refused rather than an entry forgotten.
    pub fn remember(&mut self, jti: &str, now: i64, keep_until: i64, cap: usize) -> Seen {
        self.purge(now);
        if self.until.contains_key(jti) {
            return Seen::Replay;
        }
        if self.until.len() >= cap {
            return Seen::Full;
        }
        self.until.insert(jti.to_owned(), keep_until);
        self.by_expiry.insert((keep_until, jti.to_owned()));
        Seen::New
    }

    pub fn purge(&mut self, now: i64) {
        while let Some((exp, _)) = self.by_expiry.first() {
            if *exp > now {
                break;
            }
            if let Some((_, jti)) = self.by_expiry.pop_first() {
                self.until.remove(&jti);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.until.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

/// What [`ReplayCache::remember`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    New,
    Replay,
    Full,
}

/// Abuse limits per identifier: when a code was last sent, recent wrong codes, lockouts.
#[derive(Debug, Default)]
pub struct Throttle {
    last_send: HashMap<String, i64>,
    failures: HashMap<String, Vec<i64>>,
    locked_until: HashMap<String, i64>,
}

impl Throttle {
    /// Seconds left before `who` may be sent another code, if any.
    pub fn send_wait(&self, who: &str, now: i64, cooldown: i64) -> Option<i64> {
        let wait = self.last_send.get(who)? + cooldown - now;
        (wait > 0).then_some(wait)
    }

    pub fn sent(&mut self, who: &str, now: i64) {
        self.last_send.insert(who.to_owned(), now);
    }

    /// Seconds left of a lockout, if `who` is locked out.
    pub fn locked_for(&self, who: &str, now: i64) -> Option<i64> {
        let left = self.locked_until.get(who)? - now;
        (left > 0).then_some(left)
    }

    /// Counts a wrong code; true when it locks `who` out.
    pub fn failed(&mut self, who: &str, now: i64, cfg: &crate::Config) -> bool {
        let list = self.failures.entry(who.to_owned()).or_default();
        list.retain(|t| *t > now - cfg.lockout_window_secs);
        list.push(now);
        if list.len() >= cfg.lockout_failures as usize {
            list.clear();
            self.locked_until
                .insert(who.to_owned(), now + cfg.lockout_secs);
            return true;
        }
        false
    }

    pub(crate) fn purge(&mut self, now: i64, window: i64) {
        self.last_send.retain(|_, t| *t > now - 3_600);
        self.failures.retain(|_, l| {
            l.retain(|t| *t > now - window);
            !l.is_empty()
        });
        self.locked_until.retain(|_, t| *t > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_forgets_in_order_and_refuses_when_full() {
        let mut c = ReplayCache::default();
        let steps = [
            ("a", 100, 110, 2, Seen::New),
            ("a", 105, 115, 2, Seen::Replay),
            ("b", 105, 120, 2, Seen::New),
            ("c", 105, 120, 2, Seen::Full),
            ("c", 111, 130, 2, Seen::New),
            ("a", 111, 130, 3, Seen::New),
        ];
        for (jti, now, until, cap, want) in steps {
            assert_eq!(c.remember(jti, now, until, cap), want, "{jti} at {now}");
        }
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn lockout_after_enough_failures_within_the_window() {
        let cfg = crate::Config {
            lockout_failures: 3,
            lockout_window_secs: 100,
            lockout_secs: 50,
            ..Default::default()
        };
        let mut t = Throttle::default();
        assert!(!t.failed("x", 0, &cfg));
        assert!(!t.failed("x", 200, &cfg), "the first one left the window");
        assert!(!t.failed("x", 201, &cfg));
        assert!(t.failed("x", 202, &cfg));
        assert_eq!(t.locked_for("x", 212), Some(40));
        assert_eq!(t.locked_for("x", 252), None);
        assert_eq!(t.locked_for("y", 212), None);
    }
}
