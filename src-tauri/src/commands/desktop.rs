//! Commands of Settings' desktop switches and the request screen's number matching: number
//! matching, start with the session.

use super::St;
use crate::error::AppResult;
use crate::view::AppView;

/// The person picks `number` on the request `id` (number matching).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn pick_number(state: St<'_>, id: String, number: u8) -> AppResult<AppView> {
    state.act(async |b| b.pick_number(&id, number)).await
}

/// Whether programs' requests are number-matched for this profile, for Settings.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn number_matching(state: St<'_>) -> AppResult<bool> {
    Ok(state.settings.number_matching())
}

/// Settings' number-matching switch: kept for the profile, and in force for requests
/// queued from now on.
#[tauri::command]
#[tracing::instrument(skip_all, fields(on))]
pub async fn set_number_matching(state: St<'_>, on: bool) -> AppResult<bool> {
    state.settings.set_number_matching(on)?;
    state
        .look(async |b| {
            b.set_number_matching(on);
            Ok(on)
        })
        .await
}

/// Settings' "Start with the session": on or off for this profile, and whether it can be on.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn autostart_state(state: St<'_>) -> AppResult<crate::view::AutostartView> {
    set_autostart_to(&state.profile, None).await
}

/// Writes or removes this profile's autostart entry.
#[tauri::command]
#[tracing::instrument(skip_all, fields(on))]
pub async fn set_autostart(state: St<'_>, on: bool) -> AppResult<crate::view::AutostartView> {
    set_autostart_to(&state.profile, Some(on)).await
}

async fn set_autostart_to(
    profile: &str,
    on: Option<bool>,
) -> AppResult<crate::view::AutostartView> {
    #[cfg(target_os = "linux")]
    {
        let tray = tokio::task::spawn_blocking(crate::tray::host_present)
            .await
            .unwrap_or(false);
        match on {
            None => Ok(crate::autostart::view(profile, tray)),
            Some(on) => crate::autostart::switch(profile, on, tray),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (profile, on);
        Ok(crate::view::AutostartView {
            on: false,
            available: false,
            why: Some("Starting with the session is written for Linux desktops only.".into()),
        })
    }
}
