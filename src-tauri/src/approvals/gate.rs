//! The link gate: at most a few `countersign://` links a minute reach the screen, whoever
//! makes them (docs/approval-protocol.md, "Messages", `show`).

use std::collections::VecDeque;

const WINDOW_MS: i64 = 60_000;
const PER_WINDOW: usize = 5;

/// At most a few links a minute reach the screen.
#[derive(Default)]
pub struct LinkGate {
    recent: VecDeque<i64>,
}

impl LinkGate {
    pub fn admit(&mut self, now_ms: i64) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= WINDOW_MS)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= PER_WINDOW {
            return false;
        }
        self.recent.push_back(now_ms);
        true
    }

    /// The links of the last minute at `now_ms` (Unix ms), for the process taking over.
    pub fn carry_out(&self, now_ms: i64) -> Vec<i64> {
        self.recent
            .iter()
            .copied()
            .filter(|t| now_ms.saturating_sub(*t) < WINDOW_MS)
            .collect()
    }

    /// Takes over `times` at `now_ms`: only those of the last minute, at most the window's.
    pub fn carry_in(&mut self, times: Vec<i64>, now_ms: i64) {
        let mut live: Vec<i64> = times
            .into_iter()
            .filter(|t| *t <= now_ms && now_ms.saturating_sub(*t) < WINDOW_MS)
            .collect();
        live.sort_unstable();
        let keep = live.len().saturating_sub(PER_WINDOW);
        self.recent = live.into_iter().skip(keep).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_rate_limited() {
        let mut g = LinkGate::default();
        for i in 0..PER_WINDOW as i64 {
            assert!(g.admit(i));
        }
        assert!(!g.admit(10));
        assert!(g.admit(WINDOW_MS + 1));
    }
}
