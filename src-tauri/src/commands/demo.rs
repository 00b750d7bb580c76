//! The demo server's commands: its inbox and scenarios, and the test bench (fault switches,
//! the clock, scenario files). Each answers with the view, as the others do.

use crate::AppState;
use crate::edge::Edge;
use crate::error::{AppError, AppResult};
use crate::view::{AppView, BenchView, InboxMessage};
use tauri::State;

type St<'a> = State<'a, AppState>;

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn demo_inbox(state: St<'_>) -> AppResult<Vec<InboxMessage>> {
    state.look(async |b| b.demo().inbox().await).await
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(scenario = %scenario))]
pub async fn set_scenario(state: St<'_>, scenario: String) -> AppResult<AppView> {
    state
        .act(async |b| b.demo_mut().set_scenario(&scenario).await)
        .await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn reset_demo(state: St<'_>) -> AppResult<AppView> {
    state.act(async |b| b.reset_demo().await).await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn bench_state(state: St<'_>) -> AppResult<BenchView> {
    state.look(async |b| b.demo().bench().await).await
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn set_faults(state: St<'_>, faults: prelude_emulator::Faults) -> AppResult<BenchView> {
    state
        .look(async |b| b.demo().set_faults(faults).await)
        .await
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
    state
        .door(Edge::Action, async |b| b.move_clock(by_secs).await)
        .await
}

/// Saves the emulator's scenario to a file the person picks; where it went, or `None` when
/// they cancelled.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn export_scenario(app: tauri::AppHandle, state: St<'_>) -> AppResult<Option<String>> {
    let text = state
        .look(async |b| b.demo().export_scenario().await)
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
    state
        .look(async |b| b.demo().import_scenario(&text).await.map(Some))
        .await
}
