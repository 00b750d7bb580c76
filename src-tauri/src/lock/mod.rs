//! The lock: Countersign hides its account, history, codes and requests after minutes without
//! input, when the session's screen locks, on "Lock now", and at every start once a PIN is set.
//! The state lives here, in Rust; while it is locked every command but the lock's own is
//! refused (`AppState::backend`) and the only view is [`locked_view`]: "Locked" and the count
//! of waiting requests (docs/approval-protocol.md, "The lock").

pub mod commands;
pub mod machine;
#[cfg(target_os = "linux")]
pub mod signals;

use crate::AppState;
use crate::backend::Backend;
use crate::error::{AppError, AppResult};
use crate::view::{AppView, LockView, ServerView, Stage};
use machine::{Machine, Reason};
use std::time::{Duration, Instant};
use tauri::{Emitter, Manager};

/// The idle minutes Settings offer; 0 is "never". 5 by default.
pub const LOCK_AFTER_CHOICES: [u32; 8] = [1, 2, 5, 10, 15, 30, 60, 0];
/// Overrides the setting for this run, in seconds (1 to 86400): for tests and demos.
pub const LOCK_AFTER_VAR: &str = "COUNTERSIGN_LOCK_AFTER_SECS";

/// The lock of this process, shared by the commands, the idle timer and the D-Bus watchers.
pub struct Lock {
    machine: std::sync::Mutex<Machine>,
    /// Wakes the idle timer when its deadline may have come nearer (a new setting, an unlock).
    wake: tokio::sync::Notify,
}

/// The idle time for `minutes` from Settings (0: never), unless [`LOCK_AFTER_VAR`] sets one
/// for this run.
pub fn idle_after(minutes: u32) -> Option<Duration> {
    if let Some(secs) = override_secs() {
        return Some(Duration::from_secs(secs));
    }
    (minutes > 0).then(|| Duration::from_secs(u64::from(minutes) * 60))
}

/// [`LOCK_AFTER_VAR`]'s seconds, when it holds a number from 1 to 86400.
pub fn override_secs() -> Option<u64> {
    std::env::var(LOCK_AFTER_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| (1..=86_400).contains(s))
}

impl Lock {
    /// Open, counting idle time from now.
    pub fn new(after: Option<Duration>) -> Self {
        Self {
            machine: std::sync::Mutex::new(Machine::new(after, Instant::now())),
            wake: tokio::sync::Notify::new(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Machine) -> T) -> T {
        // A panic elsewhere while holding it leaves a state that is still whole.
        let mut m = self
            .machine
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut m)
    }

    pub fn is_locked(&self) -> bool {
        self.with(|m| m.is_locked())
    }

    /// Refuses while locked.
    ///
    /// # Errors
    /// [`AppError::Locked`].
    pub fn gate(&self) -> AppResult<()> {
        if self.is_locked() {
            Err(AppError::Locked)
        } else {
            Ok(())
        }
    }

    /// Input to the window now.
    pub fn input(&self) {
        self.with(|m| m.input(Instant::now()));
    }

    /// A new idle time (`None`: never).
    pub fn set_after(&self, after: Option<Duration>) {
        self.with(|m| m.set_after(after));
        self.wake.notify_one();
    }

    fn lock(&self, reason: Reason) -> bool {
        let changed = self.with(Machine::lock);
        if changed {
            tracing::info!(?reason, "locked");
        }
        changed
    }

    fn unlock(&self, grant_for: Option<String>) {
        self.with(|m| m.unlock(Instant::now(), grant_for));
        self.wake.notify_one();
        tracing::info!("unlocked");
    }

    /// Uses the UV grant an unlock with the PIN left for `request`, once.
    pub fn take_grant(&self, request: &str) -> bool {
        self.with(|m| m.take_grant(request, Instant::now()))
    }

    /// The view to show: the locked view while locked; else `view` of `b`, with the PIN
    /// prompt of a `verify_passkey` step left out when the unlock's PIN already verified the
    /// person for that request.
    pub fn shape(&self, b: &Backend, theme: String, view: impl FnOnce() -> AppView) -> AppView {
        if self.is_locked() {
            return locked_view(b, theme, self.lock_view(b));
        }
        let mut v = view();
        let granted = v
            .request
            .as_ref()
            .is_some_and(|r| self.with(|m| m.has_grant(&r.id, Instant::now())));
        if granted && let Some(step) = v.challenge.as_mut().and_then(|c| c.passkey.as_mut()) {
            step.pin = false;
        }
        v
    }

    /// Nothing of the lock lives only in memory: no wait before a PIN try, no UV grant; and
    /// with a PIN set, locked. Every start with a PIN set starts locked, the restart at rest
    /// too: a file could not be trusted to open it, since whoever writes it could say
    /// "unlocked". So an open lock waits for the idle time (or "Lock now") instead of closing
    /// behind the person's back 10 s after the window did.
    pub fn at_rest(&self, b: &Backend) -> bool {
        let pin = b.pin_state().ok();
        let open_with_pin = pin.is_some_and(|p| p.set) && !self.is_locked();
        !open_with_pin && self.with(|m| m.at_rest(failures(pin), Instant::now()))
    }

    /// What the process that takes over keeps (rest.rs): locked or not, and the idle time.
    pub fn carry_out(&self) -> (bool, Duration) {
        self.with(|m| (m.is_locked(), m.idle_for(Instant::now())))
    }

    /// Takes over the lock of the process before: locked if it was, with its idle time.
    pub fn carry_in(&self, locked: bool, idle: Duration) {
        self.with(|m| m.idle_since(idle, Instant::now()));
        if locked {
            self.lock(Reason::Carried);
        }
        self.wake.notify_one();
    }

    fn lock_view(&self, b: &Backend) -> LockView {
        let pin = b.pin_state().ok();
        let failures = failures(pin);
        let wait = self.with(|m| m.wait_before_try(failures, Instant::now()));
        LockView {
            pin: pin.is_some_and(|p| p.set),
            pin_tries_left: pin.map_or(0, |p| p.tries_left),
            // Rounded up, with a little room: the page enables Unlock at this time, and a
            // click that reaches the backend a hair early would be refused as too soon.
            retry_ms: (!wait.is_zero()).then(|| {
                let ms = i64::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(i64::MAX);
                crate::approvals::now_ms()
                    .saturating_add(ms)
                    .saturating_add(RETRY_ROOM_MS)
            }),
        }
    }
}

/// Wrong PINs in a row, from the passkeys' shared tries counter.
fn failures(pin: Option<crate::authenticator::pin::PinState>) -> u32 {
    pin.map_or(0, |p| {
        crate::authenticator::pin::MAX_TRIES.saturating_sub(p.tries_left)
    })
}

/// How much later than the backend's own time the page is told it may try a PIN again.
const RETRY_ROOM_MS: i64 = 150;

/// The whole view while locked: "Locked", the lock's own state and how many requests wait;
/// no account, server, history, code or request.
pub fn locked_view(b: &Backend, theme: String, lock: LockView) -> AppView {
    let base = crate::backend::boot_view(b.server(), None, theme);
    AppView {
        stage: Stage::Locked,
        server: ServerView {
            label: String::new(),
            demo: false,
            scenarios: false,
            scenario: None,
            demo_identities: Vec::new(),
            ..base.server
        },
        waiting: b.queued_requests(),
        lock: Some(lock),
        ..base
    }
}

/// "Lock now", for the keyboard shortcut and the tray's menu: locks and redraws the window.
pub fn lock_now(app: &tauri::AppHandle) {
    engage(app, Reason::Asked);
}

/// The main window closed (or was hidden): the idle minutes count from now.
pub fn window_closed(app: &tauri::AppHandle) {
    if let Some(state) = app.try_state::<AppState>() {
        state.lock.with(|m| m.closed(Instant::now()));
    }
}

/// Locks for `reason`; redraws the window when that changed something.
fn engage(app: &tauri::AppHandle, reason: Reason) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    if state.lock.lock(reason) {
        redraw(app);
    }
}

/// Sends the window the view as it is now.
pub fn redraw(app: &tauri::AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        if let Ok(b) = state.backend_while_locked().await {
            let b = b.lock().await;
            let _ = app.emit(crate::desk::VIEW_EVENT, state.view(&b));
        }
    });
}

/// At start, once the backend is there: with a PIN set, Countersign starts locked (and the
/// next start's first frame waits for the backend).
pub fn at_start<R: tauri::Runtime>(
    lock: &Lock,
    settings: &crate::settings::Settings<R>,
    b: &Backend,
) {
    let set = b.pin_state().is_ok_and(|p| p.set);
    if set {
        lock.lock(Reason::Start);
    }
    if let Err(e) = settings.note_starts_locked(set) {
        tracing::warn!(error = %e, "could not note the lock in the settings");
    }
}

/// Starts the idle timer and the screen-lock watchers.
pub fn start(app: &tauri::AppHandle) {
    let handle = app.clone();
    tauri::async_runtime::spawn(async move { idle_timer(handle).await });
    #[cfg(target_os = "linux")]
    {
        let handle = app.clone();
        signals::watch(move |why| {
            tracing::info!(signal = why, "the session's screen locked");
            engage(&handle, Reason::Screen);
        });
    }
}

/// Sleeps until the idle deadline (or a wake), then locks if the time is up. No deadline
/// (locked, or "never"): it sleeps until woken.
async fn idle_timer(app: tauri::AppHandle) {
    let state = app.state::<AppState>();
    loop {
        match state.lock.with(|m| m.idle_deadline()) {
            Some(at) => {
                let at = tokio::time::Instant::from_std(at);
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = state.lock.wake.notified() => {}
                }
            }
            None => state.lock.wake.notified().await,
        }
        if state.lock.with(|m| m.lock_if_idle(Instant::now())) {
            tracing::info!(reason = ?Reason::Idle, "locked");
            redraw(&app);
        }
    }
}
