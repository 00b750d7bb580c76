//! Native file dialogs from the person's side: answering GTK's save and open dialogs on the
//! window's X display (xdotool).

use crate::{AppRef, TestResult};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

impl AppRef {
    /// Answers the native save dialog titled `title` the way a person would: types `path` into
    /// its name field and presses Enter (xdotool on the window's X display).
    pub async fn save_as(&self, title: &str, path: &Path) -> TestResult {
        self.answer_file_dialog(title, path, "ctrl+a").await
    }

    /// Answers the native open dialog titled `title` with `path` (Ctrl+L opens GTK's
    /// location field).
    pub async fn open_file(&self, title: &str, path: &Path) -> TestResult {
        self.answer_file_dialog(title, path, "ctrl+l").await
    }

    async fn answer_file_dialog(&self, title: &str, path: &Path, first_key: &str) -> TestResult {
        let mut cmd = Command::new("timeout");
        cmd.args([
            "15",
            "xdotool",
            "search",
            "--sync",
            "--onlyvisible",
            "--name",
            title,
        ])
        .args([
            "windowfocus",
            "--sync",
            "%1",
            "key",
            "--clearmodifiers",
            first_key,
        ])
        .env("DISPLAY", &self.display);
        let status = tokio::task::spawn_blocking(move || cmd.status()).await??;
        if !status.success() {
            return Err(format!("no dialog titled {title:?} to answer ({status})").into());
        }
        // `type` takes every argument after it as text: it goes alone.
        Command::new("xdotool")
            .args(["type", "--delay", "10"])
            .arg(path)
            .env("DISPLAY", &self.display)
            .status()?;
        // GTK may take an Enter for its path completion: press it until the dialog is gone.
        for _ in 0..6 {
            let open = Command::new("xdotool")
                .args(["search", "--onlyvisible", "--name", title])
                .env("DISPLAY", &self.display)
                .output()?;
            let ids = String::from_utf8_lossy(&open.stdout).trim().to_owned();
            let Some(id) = ids.lines().next().filter(|s| !s.is_empty()) else {
                return Ok(());
            };
            Command::new("xdotool")
                .args(["windowfocus", "--sync", id, "key", "Return"])
                .env("DISPLAY", &self.display)
                .status()?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(format!("the dialog {title:?} stayed open").into())
    }
}
