//! Files the person picks: the save and open dialogs, and what is written (private to the
//! user) or read (small, text).

use crate::error::{AppError, AppResult};
use std::io::Write;
use std::path::{Path, PathBuf};
use tauri::Manager;
use tauri_plugin_dialog::DialogExt;

/// A file read here is a scenario: a few kilobytes. Anything far larger is not one.
const MAX_READ: u64 = 1024 * 1024;

fn dialog(
    app: &tauri::AppHandle,
    kind: &str,
    exts: &[&str],
) -> tauri_plugin_dialog::FileDialogBuilder<tauri::Wry> {
    let mut d = app.dialog().file().add_filter(kind, exts);
    if let Some(w) = app.get_webview_window("main") {
        d = d.set_parent(&w);
    }
    if let Ok(dir) = app.path().download_dir().or_else(|_| app.path().home_dir()) {
        d = d.set_directory(dir);
    }
    d
}

/// Where to save, as the person chose; `None` when they cancelled.
pub async fn pick_save(
    app: &tauri::AppHandle,
    name: &str,
    kind: &str,
    exts: &[&str],
) -> Option<PathBuf> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog(app, kind, exts)
        .set_title(format!("Save the {}", kind.to_lowercase()))
        .set_file_name(name)
        .save_file(move |p| {
            let _ = tx.send(p.and_then(|p| p.into_path().ok()));
        });
    rx.await.ok().flatten()
}

/// Which file to open; `None` when they cancelled.
pub async fn pick_open(app: &tauri::AppHandle, kind: &str, exts: &[&str]) -> Option<PathBuf> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog(app, kind, exts)
        .set_title(format!("Open a {}", kind.to_lowercase()))
        .pick_file(move |p| {
            let _ = tx.send(p.and_then(|p| p.into_path().ok()));
        });
    rx.await.ok().flatten()
}

fn io(path: &Path, e: std::io::Error) -> AppError {
    AppError::InvalidInput(format!("{}: {e}", path.display()))
}

/// Writes `bytes` to `path`, readable by this user alone.
pub fn write_private(path: &Path, bytes: &[u8]) -> AppResult<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(|e| io(path, e))?;
    f.write_all(bytes).map_err(|e| io(path, e))?;
    f.sync_all().map_err(|e| io(path, e))
}

/// Reads a small text file.
pub fn read_small(path: &Path) -> AppResult<String> {
    let len = std::fs::metadata(path).map_err(|e| io(path, e))?.len();
    if len > MAX_READ {
        return Err(AppError::InvalidInput(format!(
            "{} is {len} bytes; a scenario file is at most {MAX_READ}",
            path.display()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| io(path, e))
}
