//! Bounds against abuse: the proof replay cache, and the per-identifier send throttle and
//! lockout. Neither is persisted.

use std::collections::{BTreeSet, HashMap};

/// Proof `jti`s seen within their window, per key (RFC 7638 thumbprint). Lookups hash; expiry
/// is an ordered index, so a check costs O(log n) and never scans.
///
/// Routes remember a `jti` only once their request has authenticated (its key holds the
/// session, or it finalizes a valid login), so proofs of throwaway keys never enter it; and
/// each key may hold at most `replay_per_key_cap` live entries, so one session cannot fill
/// it for everyone. docs/protocol.md, "DPoP", says why.
#[derive(Debug, Default)]
pub struct ReplayCache {
    until: HashMap<(String, String), i64>,
    by_expiry: BTreeSet<(i64, String, String)>,
    per_key: HashMap<String, usize>,
}

impl ReplayCache {
    /// What remembering `jti` of key `jkt` would find at `now`, changing nothing.
    pub fn check(&self, jkt: &str, jti: &str, now: i64, cfg: &crate::Config) -> Seen {
        let key = (jkt.to_owned(), jti.to_owned());
        if self.until.get(&key).is_some_and(|t| *t > now) {
            return Seen::Replay;
        }
        // Entries past their time are still counted until purged; `remember` purges first.
        if self.per_key.get(jkt).copied().unwrap_or(0) >= cfg.replay_per_key_cap {
            return Seen::KeyFull;
        }
        if self.until.len() >= cfg.replay_cache_cap {
            return Seen::Full;
        }
        Seen::New
    }

    /// Records `jti` of key `jkt` until `keep_until`. When the key, or the whole cache, is
    /// full of live entries, the proof is refused rather than an entry forgotten.
    pub fn remember(
        &mut self,
        jkt: &str,
        jti: &str,
        now: i64,
        keep_until: i64,
        cfg: &crate::Config,
    ) -> Seen {
        self.purge(now);
        let seen = self.check(jkt, jti, now, cfg);
        if seen == Seen::New {
            self.until
                .insert((jkt.to_owned(), jti.to_owned()), keep_until);
            self.by_expiry
                .insert((keep_until, jkt.to_owned(), jti.to_owned()));
            *self.per_key.entry(jkt.to_owned()).or_default() += 1;
        }
        seen
    }

    pub fn purge(&mut self, now: i64) {
        while let Some((exp, _, _)) = self.by_expiry.first() {
            if *exp > now {
                break;
            }
            if let Some((_, jkt, jti)) = self.by_expiry.pop_first() {
                self.until.remove(&(jkt.clone(), jti));
                if let Some(n) = self.per_key.get_mut(&jkt) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.per_key.remove(&jkt);
                    }
                }
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
    /// This key holds as many live entries as one key may.
    KeyFull,
    /// The whole cache is full of live entries.
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
        let cfg = |cap, per_key| crate::Config {
            replay_cache_cap: cap,
            replay_per_key_cap: per_key,
            ..Default::default()
        };
        let mut c = ReplayCache::default();
        let steps = [
            ("k", "a", 100, 110, 2, Seen::New),
            ("k", "a", 105, 115, 2, Seen::Replay),
            ("j", "a", 105, 115, 3, Seen::New),
            ("k", "b", 105, 120, 3, Seen::New),
            ("k", "c", 105, 120, 3, Seen::Full),
            ("k", "c", 111, 130, 3, Seen::New),
            ("k", "a", 111, 130, 4, Seen::New),
        ];
        for (jkt, jti, now, until, cap, want) in steps {
            assert_eq!(
                c.remember(jkt, jti, now, until, &cfg(cap, 10)),
                want,
                "{jkt}/{jti} at {now}"
            );
        }
        assert_eq!(c.len(), 4);
        // One key may hold only its share; other keys are not held up by it.
        let per_key = cfg(100, 3);
        assert_eq!(c.remember("k", "d", 112, 130, &per_key), Seen::KeyFull);
        assert_eq!(c.check("k", "d", 112, &per_key), Seen::KeyFull);
        assert_eq!(c.remember("j", "d", 112, 130, &per_key), Seen::New);
        c.purge(131);
        assert!(c.is_empty());
        assert_eq!(c.remember("k", "d", 131, 140, &per_key), Seen::New);
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
