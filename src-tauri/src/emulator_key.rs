//! A standalone emulator's management key: where the app finds it (the environment, then the
//! keyring from Settings), how it is checked and kept. The key itself never reaches the
//! webview or a log line.

use crate::error::{AppError, AppResult};
use prelude_session::{Item, SecretStore};
use secrecy::SecretString;

/// Where a standalone emulator's management key comes from first; then the keyring (Settings).
pub const EMULATOR_KEY_VAR: &str = "COUNTERSIGN_EMULATOR_KEY";

/// Where the key stands, for Settings (never the key itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// `COUNTERSIGN_EMULATOR_KEY` gives it for this run; Settings cannot change it.
    Environment,
    /// Set in Settings, kept in the keyring.
    Keyring,
    None,
}

/// The keyring namespace of a profile's emulator key: one key per profile.
fn key_namespace(profile: &str) -> String {
    format!("{profile}/emulator")
}

/// Checks a management key before it is kept or sent: 1 to 256 visible ASCII characters.
///
/// # Errors
/// [`AppError::InvalidInput`] saying what a key looks like.
pub fn check_key(key: &str) -> AppResult<()> {
    if (1..=256).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(AppError::InvalidInput(
            "an emulator key is 1 to 256 visible characters, without spaces".into(),
        ))
    }
}

/// The management key the app sends to a standalone emulator's control plane, and where it
/// came from: `COUNTERSIGN_EMULATOR_KEY`, else the one kept in the keyring from Settings. A
/// keyring that cannot be read counts as no key (the reason goes to the log, not the key).
pub fn known_key(store: &dyn SecretStore, profile: &str) -> (Option<SecretString>, KeySource) {
    if let Some(k) = std::env::var(EMULATOR_KEY_VAR)
        .ok()
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
    {
        if check_key(&k).is_ok() {
            return (Some(k.into()), KeySource::Environment);
        }
        tracing::warn!("{EMULATOR_KEY_VAR} is not a usable key; it is ignored");
    }
    match store.get(&key_namespace(profile), Item::EmulatorKey) {
        Ok(Some(k)) => (Some(k.as_str().into()), KeySource::Keyring),
        Ok(None) => (None, KeySource::None),
        Err(e) => {
            tracing::warn!(error = %e, "the emulator key could not be read from the keyring");
            (None, KeySource::None)
        }
    }
}

/// Keeps the key from Settings in the keyring, or forgets it (`None`).
///
/// # Errors
/// A key that [`check_key`] refuses, or a keyring that fails.
pub fn save_key(store: &dyn SecretStore, profile: &str, key: Option<&str>) -> AppResult<()> {
    let ns = key_namespace(profile);
    let done = match key {
        Some(k) => {
            check_key(k)?;
            store.set(&ns, Item::EmulatorKey, k)
        }
        None => store.delete(&ns, Item::EmulatorKey),
    };
    done.map_err(|e| {
        AppError::Settings(format!(
            "the keyring did not keep the emulator key: {}",
            e.0
        ))
    })
}
