//! User settings in tauri-plugin-store: the server choice, the last identifier, the theme and
//! which server a session was last open on. No secret is ever written here.

use crate::error::{AppError, AppResult};
use crate::server::Server;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tauri::{AppHandle, Runtime};
use tauri_plugin_store::{Store, StoreExt};

/// The idle minutes before the app locks, until someone chooses (lock/mod.rs).
pub const DEFAULT_LOCK_AFTER: u32 = 5;

pub struct Settings<R: Runtime> {
    store: Arc<Store<R>>,
}

impl<R: Runtime> Settings<R> {
    /// Opens the profile's settings. A file that does not read as settings is moved aside
    /// (the store would otherwise start empty and overwrite it at the next save); the second
    /// value says so, for the person.
    pub fn open(app: &AppHandle<R>, profile: &str) -> AppResult<(Self, Option<String>)> {
        use tauri::Manager;
        let name = if profile == "default" {
            "settings.json".to_owned()
        } else {
            format!("settings-{profile}.json")
        };
        let notice = app
            .path()
            .app_data_dir()
            .ok()
            .and_then(|dir| set_aside_if_unreadable(&dir.join(&name)));
        let store = app
            .store(name)
            .map_err(|e| AppError::Settings(e.to_string()))?;
        Ok((Self { store }, notice))
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Option<T> {
        self.store
            .get(key)
            .and_then(|v| serde_json::from_value(v).ok())
    }

    fn put<T: Serialize>(&self, key: &str, value: &T) -> AppResult<()> {
        let v = serde_json::to_value(value).map_err(|e| AppError::Settings(e.to_string()))?;
        self.store.set(key, v);
        self.store
            .save()
            .map_err(|e| AppError::Settings(e.to_string()))
    }

    pub fn server(&self) -> Option<Server> {
        self.get("server")
    }

    pub fn set_server(&self, choice: &Server) -> AppResult<()> {
        self.put("server", choice)
    }

    pub fn last_identifier(&self) -> Option<String> {
        self.get("last_identifier")
    }

    pub fn set_last_identifier(&self, value: &str) -> AppResult<()> {
        self.put("last_identifier", &value)
    }

    pub fn theme(&self) -> String {
        self.get("theme").unwrap_or_else(|| "system".to_owned())
    }

    pub fn set_theme(&self, theme: &str) -> AppResult<()> {
        self.put("theme", &theme)
    }

    /// Whether programs' requests are number-matched; on unless turned off for the profile.
    pub fn number_matching(&self) -> bool {
        self.get("number_matching").unwrap_or(true)
    }

    pub fn set_number_matching(&self, on: bool) -> AppResult<()> {
        self.put("number_matching", &on)
    }

    /// The minutes without input after which the app locks; 0 is never, 5 until chosen.
    pub fn lock_after(&self) -> u32 {
        self.get("lock_after_minutes").unwrap_or(DEFAULT_LOCK_AFTER)
    }

    pub fn set_lock_after(&self, minutes: u32) -> AppResult<()> {
        self.put("lock_after_minutes", &minutes)
    }

    /// Whether the last start found a PIN set, so this one starts locked: the first frame then
    /// waits for the backend instead of showing the sign-in screen. A hint only; the PIN
    /// itself decides (`lock::at_start`).
    pub fn starts_locked(&self) -> bool {
        self.get("starts_locked").unwrap_or(false)
    }

    /// Records whether a PIN is set; writes only on a change.
    pub fn note_starts_locked(&self, on: bool) -> AppResult<()> {
        if self.starts_locked() == on {
            return Ok(());
        }
        self.put("starts_locked", &on)
    }

    /// Whether the person was told, on closing the window, that Countersign keeps running in
    /// the tray: told once, not at every close.
    pub fn told_of_tray(&self) -> bool {
        self.get("told_of_tray").unwrap_or(false)
    }

    pub fn note_told_of_tray(&self) -> AppResult<()> {
        self.put("told_of_tray", &true)
    }

    /// The server (`Server::key`) a session was open on when the app last looked: lets the
    /// first frame show the sign-in screen without asking the keyring. A hint only; the
    /// backend's resume decides.
    pub fn session_server(&self) -> Option<String> {
        self.get("session_server")
    }

    /// Records where a session is open, or that none is; writes only on a change.
    pub fn note_session(&self, server: Option<&str>) -> AppResult<()> {
        if self.session_server().as_deref() == server {
            return Ok(());
        }
        self.put("session_server", &server)
    }
}

/// Moves a settings file that is not a JSON object aside; what was done, for the person.
fn set_aside_if_unreadable(path: &std::path::Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let readable =
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes).is_ok();
    if readable {
        return None;
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = path.with_extension(format!("json.unreadable-{stamp}"));
    match std::fs::rename(path, &aside) {
        Ok(()) => {
            tracing::warn!(file = %aside.display(), "unreadable settings set aside");
            Some(format!(
                "Your settings file could not be read, so the defaults are used. It was kept as {}.",
                aside.display()
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "unreadable settings could not be set aside");
            Some("Your settings file could not be read, so the defaults are used this time.".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_settings_file_is_set_aside_not_lost() {
        let dir = std::env::temp_dir().join(format!("settings-aside-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(&good, br#"{"theme":"dark"}"#).unwrap();
        assert_eq!(set_aside_if_unreadable(&good), None);
        let bad = dir.join("settings.json");
        std::fs::write(&bad, b"{ torn").unwrap();
        let said = set_aside_if_unreadable(&bad).unwrap();
        assert!(said.contains("could not be read"), "{said}");
        assert!(!bad.exists());
        let kept: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("unreadable"))
            .collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(std::fs::read(kept[0].path()).unwrap(), b"{ torn");
        let _ = std::fs::remove_dir_all(dir);
    }
}
