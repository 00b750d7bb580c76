//! The lock's view models: the lock screen's part of the view, and Settings' lock section.

use serde::Serialize;

/// The lock screen's part of the view: whether the PIN is asked, its tries left (shared with
/// the passkeys), and until when the next try must wait after a wrong one.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LockView {
    /// A PIN is set: it opens the lock. Without one, a click does.
    pub pin: bool,
    pub pin_tries_left: u32,
    /// Unix milliseconds before which the next PIN try is refused.
    pub retry_ms: Option<i64>,
}

/// Settings' lock section.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LockSettingView {
    /// Locks after this many minutes without input; 0: never.
    pub minutes: u32,
    /// The minutes Settings offer (0: never).
    pub choices: Vec<u32>,
    /// Seconds set for this run by `COUNTERSIGN_LOCK_AFTER_SECS`, in force instead.
    pub override_secs: Option<u64>,
}
