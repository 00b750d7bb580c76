//! The window's life. With a tray, closing the window destroys it (and with it WebKit's web
//! process) while Countersign keeps running; the window is built again when a request
//! arrives, the tray's "Open Countersign" is chosen, or a second launch asks for it. Without
//! a tray, closing the window quits, as a plain window does.

use crate::AppState;
use crate::view::AppView;
use std::time::Duration;
use tauri::{AppHandle, Manager, RunEvent, WebviewWindow, Window, WindowEvent};

/// The main window's label (tauri.conf.json).
pub const MAIN: &str = "main";

/// How long Quit waits for the answers to waiting requesters to be written.
#[cfg(unix)]
const ANSWERS: Duration = Duration::from_secs(2);

/// In the app's state while a tray item exists (tray_icon.rs): closing the window then keeps
/// the app running.
pub struct InTray;

fn in_tray(app: &AppHandle) -> bool {
    app.try_state::<InTray>().is_some()
}

/// Only one builder at a time: two requests arriving at once must not build two windows.
static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds the main window from the config, carrying `boot` as the first view; the window that
/// exists already if there is one. The view holds nothing secret; a reload asks the backend
/// instead (app.js).
///
/// # Errors
/// The config has no main window, or Tauri could not build it.
pub fn open(
    app: &AppHandle,
    boot: Option<&AppView>,
) -> Result<WebviewWindow, Box<dyn std::error::Error>> {
    let _one = BUILDING
        .lock()
        .map_err(|_| "the window builder failed before")?;
    if let Some(w) = app.get_webview_window(MAIN) {
        return Ok(w);
    }
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .ok_or("tauri.conf.json has no main window")?
        .clone();
    let boot = serde_json::to_string(&boot)?;
    let window = tauri::WebviewWindowBuilder::from_config(app, &config)?
        .initialization_script(format!(
            "window.__COUNTERSIGN_BOOT__ = {boot};{}",
            crate::ui_font::page_script()
        ))
        .build()?;
    Ok(window)
}

/// Brings the window forward, building it first if it was closed. Returns at once: the
/// build waits for the main thread, which may be the caller's (a tray menu event).
pub fn show(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || bring_forward(&app));
}

fn bring_forward(app: &AppHandle) {
    let window = match app.get_webview_window(MAIN) {
        Some(w) => w,
        None => match open(app, None) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "the window could not be opened");
                return;
            }
        },
    };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}

/// Quits: every waiting request is answered `cancelled`, and the app ends once those answers
/// are written.
pub fn quit(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        if let Ok(backend) = state.backend_while_locked().await {
            backend.lock().await.cancel_requests();
        }
        #[cfg(unix)]
        crate::requests::socket::answers_written(ANSWERS).await;
        app.exit(0);
    });
}

/// The main window is closing: with a tray, the first time ever, a notice says that
/// Countersign keeps running there.
pub fn on_window_event(window: &Window, event: &WindowEvent) {
    if window.label() != MAIN || !matches!(event, WindowEvent::CloseRequested { .. }) {
        return;
    }
    let app = window.app_handle();
    if !in_tray(app) {
        return;
    }
    tracing::info!("window closed; Countersign keeps running in the tray");
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    if state.settings.told_of_tray() {
        return;
    }
    if let Err(e) = state.settings.note_told_of_tray() {
        tracing::warn!(error = %e, "could not note that the tray notice was shown");
    }
    // Shown at the moment of closing, where the person looks: the window it could go in is gone.
    std::thread::spawn(|| {
        let shown = notify_rust::Notification::new()
            .appname("Countersign")
            .summary("Countersign is still running")
            .body("It waits in the tray and opens when a request arrives. To end it, choose Quit in the tray's menu.")
            .icon("countersign")
            .show();
        if let Err(e) = shown {
            tracing::info!(error = %e, "no desktop notification for the tray");
        }
    });
}

/// The last window closed: with a tray, Countersign keeps running. An exit asked for with a
/// code (Quit) goes ahead.
pub fn on_run_event(app: &AppHandle, event: &RunEvent) {
    if let RunEvent::ExitRequested {
        code: None, api, ..
    } = event
        && in_tray(app)
    {
        api.prevent_exit();
    }
}
