//! The fatigue guard: a program the person reported is muted for a while, and no program may
//! put more than a few requests a minute in front of the person. docs/approval-protocol.md,
//! "Fatigue guard".

use crate::requests::source::Requester;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// How long a reported program stays muted, in milliseconds (20 minutes).
pub const MUTE_MS: i64 = 20 * 60 * 1000;
/// At most this many requests from one program reach the screen per [`RATE_WINDOW_MS`].
pub const PER_MINUTE: usize = 3;
/// The rate limit's sliding window, in milliseconds.
pub const RATE_WINDOW_MS: i64 = 60 * 1000;

/// Who a program is for the guard: its executable and, for an interpreter, the script it
/// runs. The uid is the app's own for every peer (the socket drops any other uid), so it
/// adds nothing to tell programs apart here.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProgramKey {
    pub executable: String,
    pub script: Option<String>,
}

impl From<&Requester> for ProgramKey {
    fn from(r: &Requester) -> Self {
        Self {
            executable: r.executable.clone(),
            script: r.script.clone(),
        }
    }
}

/// What the guard says of a request from a program.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It may reach the screen.
    Admit,
    /// The program was reported: `first` is true once per mute, when the person is told.
    Muted { first: bool },
    /// More than [`PER_MINUTE`] in the last minute.
    RateLimited,
}

struct Mute {
    until_ms: i64,
    told: bool,
}

/// The guard's memory for the process that takes over at rest (rest.rs): the live mutes
/// (program, end in Unix ms, whether the person was told) and each program's requests of the
/// last minute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardCarry {
    muted: Vec<(ProgramKey, i64, bool)>,
    recent: Vec<(ProgramKey, Vec<i64>)>,
}

/// At most this many programs are taken over, for mutes and for counts each.
const CARRY_PROGRAMS: usize = 256;

/// Mutes and recent requests per program. Every call takes the time, so tests can move it.
#[derive(Default)]
pub struct Guard {
    muted: HashMap<ProgramKey, Mute>,
    recent: HashMap<ProgramKey, VecDeque<i64>>,
}

impl Guard {
    /// Decides on a request from `key` at `now_ms` (Unix milliseconds), counting it when it
    /// is admitted.
    pub fn check(&mut self, key: &ProgramKey, now_ms: i64) -> Verdict {
        self.muted.retain(|_, m| m.until_ms > now_ms);
        if let Some(m) = self.muted.get_mut(key) {
            let first = !m.told;
            m.told = true;
            return Verdict::Muted { first };
        }
        let recent = self.recent.entry(key.clone()).or_default();
        while recent
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= RATE_WINDOW_MS)
        {
            recent.pop_front();
        }
        if recent.len() >= PER_MINUTE {
            return Verdict::RateLimited;
        }
        recent.push_back(now_ms);
        Verdict::Admit
    }

    /// Mutes `key` for [`MUTE_MS`] from `now_ms`.
    pub fn mute(&mut self, key: ProgramKey, now_ms: i64) {
        self.muted.insert(
            key,
            Mute {
                until_ms: now_ms.saturating_add(MUTE_MS),
                told: false,
            },
        );
    }

    /// The programs muted at `now_ms`, with when each mute ends (Unix milliseconds).
    pub fn muted(&self, now_ms: i64) -> Vec<(ProgramKey, i64)> {
        let mut v: Vec<_> = self
            .muted
            .iter()
            .filter(|(_, m)| m.until_ms > now_ms)
            .map(|(k, m)| (k.clone(), m.until_ms))
            .collect();
        v.sort_by(|a, b| a.0.executable.cmp(&b.0.executable));
        v
    }

    /// What a process taking over at `now_ms` must remember.
    pub fn carry_out(&self, now_ms: i64) -> GuardCarry {
        GuardCarry {
            muted: self
                .muted
                .iter()
                .filter(|(_, m)| m.until_ms > now_ms)
                .map(|(k, m)| (k.clone(), m.until_ms, m.told))
                .collect(),
            recent: self
                .recent
                .iter()
                .filter_map(|(k, r)| {
                    let live: Vec<i64> = r
                        .iter()
                        .copied()
                        .filter(|t| now_ms.saturating_sub(*t) < RATE_WINDOW_MS)
                        .collect();
                    (!live.is_empty()).then(|| (k.clone(), live))
                })
                .collect(),
        }
    }

    /// Takes over `c` at `now_ms`. It comes from a file: a mute lasts at most [`MUTE_MS`] from
    /// now, only times of the last minute count, at most [`PER_MINUTE`] per program.
    pub fn carry_in(&mut self, c: GuardCarry, now_ms: i64) {
        for (k, until, told) in c.muted.into_iter().take(CARRY_PROGRAMS) {
            if until > now_ms {
                let until_ms = until.min(now_ms.saturating_add(MUTE_MS));
                self.muted.insert(k, Mute { until_ms, told });
            }
        }
        for (k, times) in c.recent.into_iter().take(CARRY_PROGRAMS) {
            let mut live: Vec<i64> = times
                .into_iter()
                .filter(|t| *t <= now_ms && now_ms.saturating_sub(*t) < RATE_WINDOW_MS)
                .collect();
            live.sort_unstable();
            let keep = live.len().saturating_sub(PER_MINUTE);
            if !live.is_empty() {
                self.recent.insert(k, live.into_iter().skip(keep).collect());
            }
        }
    }

    /// Ends every mute (Settings' "Unmute").
    pub fn unmute_all(&mut self) {
        self.muted.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutes_and_counts_carry_over_to_the_next_process_checked_as_they_come() {
        let mut g = Guard::default();
        let (a, b) = (
            key("/usr/bin/deploy", None),
            key("/usr/bin/python3", Some("/x.py")),
        );
        for t in [1_000, 2_000, 3_000] {
            assert_eq!(g.check(&a, t), Verdict::Admit);
        }
        g.mute(b.clone(), 3_000);
        let text = serde_json::to_string(&g.carry_out(4_000)).unwrap();
        let mut next = Guard::default();
        next.carry_in(serde_json::from_str(&text).unwrap(), 4_000);
        assert_eq!(next.carry_out(4_000), g.carry_out(4_000));
        assert_eq!(next.check(&a, 4_000), Verdict::RateLimited);
        assert_eq!(next.check(&b, 4_000), Verdict::Muted { first: true });
        // Lapsed by the time it is read: nothing of it holds.
        let mut late = Guard::default();
        late.carry_in(g.carry_out(4_000), 3_000 + MUTE_MS);
        assert_eq!(late.check(&b, 3_000 + MUTE_MS), Verdict::Admit);
        assert_eq!(late.check(&a, 3_000 + MUTE_MS), Verdict::Admit);
        // A mute from the file lasts at most MUTE_MS, and a count at most PER_MINUTE.
        let forged = GuardCarry {
            muted: vec![(a.clone(), i64::MAX, true)],
            recent: vec![(b.clone(), vec![1; 1000])],
        };
        let mut f = Guard::default();
        f.carry_in(forged, 10);
        assert_eq!(f.muted(10), [(a, 10 + MUTE_MS)]);
        assert_eq!(f.recent[&b].len(), PER_MINUTE);
    }

    fn key(exe: &str, script: Option<&str>) -> ProgramKey {
        ProgramKey {
            executable: exe.into(),
            script: script.map(Into::into),
        }
    }

    #[test]
    fn a_mute_lasts_twenty_minutes_and_is_told_once() {
        let mut g = Guard::default();
        let deploy = key("/usr/bin/dash", Some("/srv/deploy.sh"));
        let other = key("/usr/bin/dash", Some("/srv/backup.sh"));
        g.mute(deploy.clone(), 1_000);
        assert_eq!(g.check(&deploy, 2_000), Verdict::Muted { first: true });
        assert_eq!(g.check(&deploy, 3_000), Verdict::Muted { first: false });
        // The same interpreter running another script is another program.
        assert_eq!(g.check(&other, 3_000), Verdict::Admit);
        assert_eq!(
            g.check(&deploy, 1_000 + MUTE_MS - 1),
            Verdict::Muted { first: false }
        );
        assert_eq!(g.check(&deploy, 1_000 + MUTE_MS), Verdict::Admit);
        assert!(g.muted(1_000 + MUTE_MS).is_empty());
    }

    #[test]
    fn unmute_ends_every_mute() {
        let mut g = Guard::default();
        let k = key("/usr/bin/curl", None);
        g.mute(k.clone(), 0);
        assert_eq!(g.muted(1).len(), 1);
        g.unmute_all();
        assert_eq!(g.check(&k, 1), Verdict::Admit);
    }

    #[test]
    fn three_a_minute_per_program() {
        let mut g = Guard::default();
        let a = key("/usr/bin/a", None);
        let b = key("/usr/bin/b", None);
        for t in [0, 10, 20] {
            assert_eq!(g.check(&a, t), Verdict::Admit);
        }
        assert_eq!(g.check(&a, 30), Verdict::RateLimited);
        assert_eq!(
            g.check(&b, 30),
            Verdict::Admit,
            "another program has its own"
        );
        // A refused request does not count: the window slides from the first admitted one.
        assert_eq!(g.check(&a, RATE_WINDOW_MS - 1), Verdict::RateLimited);
        assert_eq!(g.check(&a, RATE_WINDOW_MS), Verdict::Admit);
        assert_eq!(g.check(&a, RATE_WINDOW_MS + 1), Verdict::RateLimited);
    }
}
