//! User settings in tauri-plugin-store: the server choice, the last identifier, the theme and
//! which server a session was last open on. No secret is ever written here.

use crate::error::{AppError, AppResult};
use crate::server::Server;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tauri::{AppHandle, Runtime};
use tauri_plugin_store::{Store, StoreExt};

pub struct Settings<R: Runtime> {
    store: Arc<Store<R>>,
}

impl<R: Runtime> Settings<R> {
    pub fn open(app: &AppHandle<R>, profile: &str) -> AppResult<Self> {
        let name = if profile == "default" {
            "settings.json".to_owned()
        } else {
            format!("settings-{profile}.json")
        };
        let store = app
            .store(name)
            .map_err(|e| AppError::Settings(e.to_string()))?;
        Ok(Self { store })
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
