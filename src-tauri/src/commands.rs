//! One command per user action. Each locks the backend, does one thing and answers with the
//! whole view, so the UI only renders. Arguments are never logged (codes pass through here).

use crate::AppState;
use crate::backend::Approval;
use crate::error::{AppError, AppResult};
use crate::view::{AppView, InboxMessage, SessionRow};
use std::collections::BTreeMap;
use tauri::State;

type St<'a> = State<'a, AppState>;

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn app_state(state: St<'_>) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    b.resume().await;
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn start_login(state: St<'_>, identifier: String) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    let id = b.start_login(&identifier).await?;
    state.settings.set_last_identifier(&id.value)?;
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn resend_login_code(state: St<'_>) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    b.resend_login_code().await?;
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_login_code(state: St<'_>, code: String) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    b.verify_login_code(&code).await?;
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn change_identifier(state: St<'_>) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    b.change_identifier();
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn logout(state: St<'_>) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    let r = b.logout().await;
    if let Err(e) = &r {
        // The local wipe happened; only the server call failed. Say so, stay signed out.
        tracing::warn!(error = %e, "sign-out could not reach the server");
    }
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(scope = %scope))]
pub async fn request_step_up(
    state: St<'_>,
    scope: String,
    metadata: BTreeMap<String, String>,
) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    let metadata = metadata
        .into_iter()
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let r = b.request_step_up(Approval { scope, metadata }).await;
    state.outcome(&mut b, r)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn resend_step_up_code(state: St<'_>) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    let r = b.resend_step_up_code().await;
    state.outcome(&mut b, r)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn verify_step_up_code(state: St<'_>, code: String) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    let r = b.verify_step_up_code(&code).await;
    state.outcome(&mut b, r)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn cancel_step_up(state: St<'_>) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    b.cancel_step_up();
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn finish_step_up(state: St<'_>) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    b.finish_step_up();
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn list_sessions(state: St<'_>) -> AppResult<Vec<SessionRow>> {
    let mut b = state.backend.lock().await;
    let r = b.list_sessions().await;
    if let Err(e) = &r {
        b.note_failure(e);
    }
    r
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(target = %target))]
pub async fn revoke_sessions(
    state: St<'_>,
    target: String,
    session_id: Option<String>,
) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    let r = b.revoke_sessions(&target, session_id).await;
    state.outcome(&mut b, r)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn demo_inbox(state: St<'_>) -> AppResult<Vec<InboxMessage>> {
    let b = state.backend.lock().await;
    b.demo_inbox().await
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(scenario = %scenario))]
pub async fn set_scenario(state: St<'_>, scenario: String) -> AppResult<AppView> {
    let b = state.backend.lock().await;
    b.set_scenario(&scenario)?;
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn reset_demo(state: St<'_>) -> AppResult<AppView> {
    let mut b = state.backend.lock().await;
    b.reset_demo().await?;
    Ok(state.view(&b))
}

#[tauri::command]
#[tracing::instrument(skip_all, fields(theme = %theme))]
pub async fn set_theme(state: St<'_>, theme: String) -> AppResult<AppView> {
    if !matches!(theme.as_str(), "system" | "light" | "dark") {
        return Err(AppError::InvalidInput(
            "theme is system, light or dark".into(),
        ));
    }
    state.settings.set_theme(&theme)?;
    let b = state.backend.lock().await;
    Ok(state.view(&b))
}
