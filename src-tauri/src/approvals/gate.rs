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

    /// No link of the last minute is remembered at `now_ms`.
    pub fn is_idle(&self, now_ms: i64) -> bool {
        self.recent
            .back()
            .is_none_or(|t| now_ms.saturating_sub(*t) >= WINDOW_MS)
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
