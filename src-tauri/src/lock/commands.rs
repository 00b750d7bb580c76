//! The lock's commands: the only ones that answer while locked. PINs pass through here and
//! are never logged.

use super::{LOCK_AFTER_CHOICES, Lock, idle_after, override_secs};
use crate::AppState;
use crate::authenticator::AuthenticatorError;
use crate::authenticator::pin::MAX_TRIES;
use crate::error::{AppError, AppResult};
use crate::view::{AppView, LockSettingView};
use std::time::Instant;
use tauri::State;

type St<'a> = State<'a, AppState>;

/// Input to the window (a key, a click): the idle minutes start again. The page calls it at
/// most every few seconds.
#[tauri::command]
pub fn note_input(state: St<'_>) {
    state.lock.input();
}

/// "Lock now" (Ctrl+L in the window).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn lock_now(app: tauri::AppHandle, state: St<'_>) -> AppResult<AppView> {
    super::lock_now(&app);
    let b = state.backend_while_locked().await?.lock().await;
    Ok(state.view(&b))
}

/// Unlocks: with the PIN when one is set, else at a click. A wrong PIN spends one of the
/// PIN's tries (shared with the passkeys) and makes the next try wait longer. A right one
/// also verifies the person for the request waiting first, once (the lock's UV grant).
///
/// # Errors
/// [`AppError::LockWait`] before the wait after a wrong PIN is over (no try spent);
/// [`AuthenticatorError::PinRequired`], `WrongPin`, `PinBlocked`, `Keyring`.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn unlock(state: St<'_>, pin: Option<String>) -> AppResult<AppView> {
    let b = state.backend_while_locked().await?.lock().await;
    if !state.lock.is_locked() {
        return Ok(state.view(&b));
    }
    let pin_state = b.pin_state()?;
    if !pin_state.set {
        state.lock.unlock(None);
        return Ok(state.view(&b));
    }
    try_pin(&state.lock, pin_state.tries_left, pin.as_deref(), |p| {
        b.verify_pin(p)
    })?;
    state.lock.unlock(b.front_request());
    Ok(state.view(&b))
}

/// The lock's checks around `verify`: not blocked, the wait after the last wrong PIN over,
/// a PIN given; a wrong one is noted for the next wait.
fn try_pin(
    lock: &Lock,
    tries_left: u32,
    pin: Option<&str>,
    verify: impl FnOnce(&str) -> AppResult<()>,
) -> AppResult<()> {
    if tries_left == 0 {
        return Err(AuthenticatorError::PinBlocked.into());
    }
    let failures = MAX_TRIES.saturating_sub(tries_left);
    let wait = lock.with(|m| m.wait_before_try(failures, Instant::now()));
    if !wait.is_zero() {
        return Err(AppError::LockWait {
            seconds: wait.as_secs_f64().ceil() as u64,
        });
    }
    let pin = pin
        .filter(|p| !p.is_empty())
        .ok_or(AuthenticatorError::PinRequired)?;
    match verify(pin) {
        Err(
            e @ AppError::Authenticator(
                AuthenticatorError::WrongPin { .. } | AuthenticatorError::PinBlocked,
            ),
        ) => {
            lock.with(|m| m.wrong_pin(Instant::now()));
            Err(e)
        }
        r => r,
    }
}

/// "Forgot PIN" at the lock: the PIN reset of the passkeys (the PIN is forgotten and this
/// computer's passkeys deleted), and this session signed out, so the way past the lock is
/// the account's own sign-in code. Then the lock opens on the sign-in screen.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn forgot_pin(state: St<'_>) -> AppResult<AppView> {
    let mut b = state.backend_while_locked().await?.lock().await;
    if !state.lock.is_locked() {
        return Err(AppError::WrongStage);
    }
    // Without a PIN a click opens the lock: nothing to forget, no reason to sign out.
    if !b.pin_state()?.set {
        return Err(AuthenticatorError::PinNotSet.into());
    }
    b.reset_pin()?;
    if b.signed_in()
        && let Err(e) = b.logout().await
    {
        // Signed out here all the same; the server ends the session at its expiry.
        tracing::warn!(error = %e, "the server did not hear the sign-out after a PIN reset");
    }
    b.notice().say("The PIN is forgotten and this computer's passkeys are deleted here. Sign in again; then delete their old entries in the Passkeys panel and add a new one.");
    state.lock.unlock(None);
    Ok(state.settled(&b))
}

/// Settings: the idle minutes (0: never), and the seconds a run's override sets instead.
#[tauri::command]
pub fn lock_setting(state: St<'_>) -> LockSettingView {
    LockSettingView {
        minutes: state.settings.lock_after(),
        choices: LOCK_AFTER_CHOICES.to_vec(),
        override_secs: override_secs(),
    }
}

/// Settings: locks after `minutes` without input (one of the choices; 0: never).
///
/// # Errors
/// [`AppError::Locked`]; [`AppError::InvalidInput`] for another number; `Settings`.
#[tauri::command]
pub fn set_lock_after(state: St<'_>, minutes: u32) -> AppResult<LockSettingView> {
    state.lock.gate()?;
    if !LOCK_AFTER_CHOICES.contains(&minutes) {
        return Err(AppError::InvalidInput(format!(
            "lock after one of {LOCK_AFTER_CHOICES:?} minutes (0: never), not {minutes}"
        )));
    }
    state.settings.set_lock_after(minutes)?;
    state.lock.set_after(idle_after(minutes));
    Ok(lock_setting(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrong(left: u32) -> AppResult<()> {
        Err(AuthenticatorError::WrongPin { tries_left: left }.into())
    }

    #[test]
    fn a_wrong_pin_makes_the_next_try_wait_and_a_try_too_soon_spends_nothing() {
        let lock = Lock::new(None);
        lock.lock(super::super::machine::Reason::Asked);
        // The first try goes ahead and is wrong: 7 tries left.
        let e = try_pin(&lock, 8, Some("000000"), |_| wrong(7)).unwrap_err();
        assert_eq!(e.code(), "wrong_pin");
        // The next, at once: refused before the PIN is looked at.
        let mut asked = false;
        let e = try_pin(&lock, 7, Some("123456"), |_| {
            asked = true;
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(e, AppError::LockWait { seconds: 1 }), "{e:?}");
        assert!(!asked, "no try was spent");
        assert_eq!(e.code(), "lock_wait");
    }

    #[test]
    fn a_blocked_pin_or_no_pin_is_refused_before_any_check() {
        let lock = Lock::new(None);
        let never = |_: &str| -> AppResult<()> { panic!("not asked") };
        let e = try_pin(&lock, 0, Some("123456"), never).unwrap_err();
        assert_eq!(e.code(), "pin_blocked");
        let e = try_pin(&lock, 8, Some(""), never).unwrap_err();
        assert_eq!(e.code(), "pin_required");
        let e = try_pin(&lock, 8, None, never).unwrap_err();
        assert_eq!(e.code(), "pin_required");
        assert!(try_pin(&lock, 8, Some("123456"), |_| Ok(())).is_ok());
    }
}
