//! The passkey commands: the account panel's list, add, rename and delete, the PIN, approving
//! with this computer and signing in with it. Like the others, each answers with the view;
//! PINs pass through here and are never logged.

use crate::AppState;
use crate::error::AppResult;
use crate::view::{AppView, PasskeyRow, PasskeySettingsView};
use tauri::State;

type St<'a> = State<'a, AppState>;

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn list_passkeys(state: St<'_>) -> AppResult<Vec<PasskeyRow>> {
    state.look(async |b| b.list_passkeys().await).await
}

/// Starts adding this computer's passkey: the step-up for `prld:passkey:write` first.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn add_passkey(state: St<'_>) -> AppResult<AppView> {
    state.act(async |b| b.add_passkey().await).await
}

/// After that step-up: the PIN (twice when it is new), then registration.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn register_passkey(
    state: St<'_>,
    pin: String,
    confirm: Option<String>,
) -> AppResult<AppView> {
    state
        .act(async |b| b.register_passkey(&pin, confirm.as_deref()).await)
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn cancel_passkey_setup(state: St<'_>) -> AppResult<AppView> {
    state
        .act(async |b| {
            b.cancel_passkey_setup();
            Ok(())
        })
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn rename_passkey(state: St<'_>, id: String, nickname: String) -> AppResult<AppView> {
    state
        .act(async |b| b.rename_passkey(&id, &nickname).await)
        .await
}

/// Deletes a passkey after its own step-up.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn delete_passkey(state: St<'_>, id: String) -> AppResult<AppView> {
    state.act(async |b| b.delete_passkey(&id).await).await
}

/// "Approve with this computer": the click is user presence; `pin` is asked only when the
/// step requires user verification.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn approve_with_passkey(state: St<'_>, pin: Option<String>) -> AppResult<AppView> {
    state
        .act(async |b| {
            // The PIN typed at the lock for this request, moments ago, is its user verification.
            let granted = b
                .approving_request()
                .is_some_and(|id| state.lock.take_grant(&id));
            b.approve_with_passkey_granted(pin, granted).await
        })
        .await
}

/// "Sign in with this computer".
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn login_with_passkey(state: St<'_>, pin: Option<String>) -> AppResult<AppView> {
    state.act(async |b| b.login_with_passkey(pin).await).await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn change_pin(
    state: St<'_>,
    old: String,
    new: String,
    confirm: String,
) -> AppResult<AppView> {
    state
        .act(async |b| b.change_pin(&old, &new, &confirm))
        .await
}

/// Forgets the PIN and deletes this computer's passkeys.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn reset_pin(state: St<'_>) -> AppResult<AppView> {
    state.act(async |b| b.reset_pin()).await
}

/// Settings: this server's passkey RP ID and origin.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn passkey_settings(state: St<'_>) -> AppResult<PasskeySettingsView> {
    state.look(async |b| b.passkey_settings()).await
}

/// Settings: sets this server's passkey RP ID and origin (empty clears).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn set_passkey_server(
    state: St<'_>,
    rp_id: String,
    origin: String,
) -> AppResult<PasskeySettingsView> {
    state
        .look(async |b| b.set_passkey_rp(&rp_id, &origin))
        .await
}
