//! The demo server's commands: its inbox and scenarios, and the test bench (fault switches,
//! the clock, scenario files). Each answers with the view, as the others do.

use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::view::{AppView, BenchView, InboxMessage};
use tauri::State;

type St<'a> = State<'a, AppState>;

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn demo_inbox(state: St<'_>) -> AppResult<Vec<InboxMessage>> {
    let b = state.backend().await?.lock().await;
    b.demo_inbox().await
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(scenario = %scenario))]
pub async fn set_scenario(state: St<'_>, scenario: String) -> AppResult<AppView> {
    let mut b = state.backend().await?.lock().await;
    b.set_scenario(&scenario).await?;
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn reset_demo(state: St<'_>) -> AppResult<AppView> {
    let mut b = state.backend().await?.lock().await;
    b.reset_demo().await?;
    Ok(state.settled(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn bench_state(state: St<'_>) -> AppResult<BenchView> {
    let b = state.backend().await?.lock().await;
    b.bench().await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn set_faults(state: St<'_>, faults: prelude_emulator::Faults) -> AppResult<BenchView> {
    let mut b = state.backend().await?.lock().await;
    b.set_faults(faults).await
}

/// Moves the emulated clock by `by_secs`, or back to real time without it.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn move_clock(state: St<'_>, by_secs: Option<i64>) -> AppResult<BenchView> {
    if by_secs.is_some_and(|s| s.abs() > 7 * 86_400) {
        return Err(AppError::InvalidInput(
            "the clock moves at most a week at a time".into(),
        ));
    }
    let mut b = state.backend().await?.lock().await;
    b.move_clock(by_secs).await
}

/// Saves the emulator's scenario to a file the person picks; where it went, or `None` when
/// they cancelled.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn export_scenario(app: tauri::AppHandle, state: St<'_>) -> AppResult<Option<String>> {
    let text = state
        .backend()
        .await?
        .lock()
        .await
        .export_scenario()
        .await?;
    let Some(path) =
        crate::files::pick_save(&app, "countersign-scenario.json", "Scenario", &["json"]).await
    else {
        return Ok(None);
    };
    crate::files::write_private(&path, text.as_bytes())?;
    Ok(Some(path.display().to_string()))
}

/// Replaces the emulator's scenario with a file the person picks.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn import_scenario(app: tauri::AppHandle, state: St<'_>) -> AppResult<Option<BenchView>> {
    let Some(path) = crate::files::pick_open(&app, "Scenario", &["json"]).await else {
        return Ok(None);
    };
    let text = crate::files::read_small(&path)?;
    let mut b = state.backend().await?.lock().await;
    b.import_scenario(&text).await.map(Some)
}
