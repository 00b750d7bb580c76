//! Where the client keeps what must survive a restart: the DPoP key, the refresh token, the
//! nonce, the clock skew and the device id. The access token stays in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use zeroize::Zeroizing;

/// Items the client stores, one entry each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    /// The DPoP private key: a 32-byte P-256 scalar, base64url (PKCS#8 from older versions).
    DpopKey,
    /// The refresh token (single-use, rotated at each refresh).
    RefreshToken,
    /// The last `DPoP-Nonce` the server gave (RFC 9449 §8).
    DpopNonce,
    /// Server − local clock, in whole seconds, when not 0.
    ClockSkew,
    /// A UUID sent as `x-device-id`, made once per profile and server.
    DeviceId,
    /// The challenge in progress (its token and status), so it can be offered after a restart.
    ActiveStepUp,
    /// A standalone emulator's management key, for its control plane (a caller's own item;
    /// the session never reads it).
    EmulatorKey,
    /// The app's passkeys on this computer: private keys, counters, pinned RP IDs (a caller's
    /// own item; the session never reads it).
    PasskeyKeys,
    /// The Countersign PIN's salted hash (a caller's own item).
    PinHash,
    /// The PIN's tries left (a caller's own item).
    PinTries,
}

impl Item {
    /// The entry's name within its namespace, e.g. `"refresh-token"`.
    pub fn name(self) -> &'static str {
        match self {
            Item::DpopKey => "dpop-key",
            Item::RefreshToken => "refresh-token",
            Item::DpopNonce => "dpop-nonce",
            Item::ClockSkew => "dpop-clock-skew",
            Item::DeviceId => "device-id",
            Item::ActiveStepUp => "active-step-up",
            Item::EmulatorKey => "emulator-key",
            Item::PasskeyKeys => "passkey-keys",
            Item::PinHash => "pin-hash",
            Item::PinTries => "pin-tries",
        }
    }
}

/// A store that failed: missing, locked or refusing access; the text says which, for the
/// person (it becomes [`crate::Error::KeyringUnavailable`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// A small secret store, namespaced by the caller. Implementations must not fall back to a
/// weaker place when the real one fails: they return an error.
pub trait SecretStore: Send + Sync {
    /// The value of `item` in `namespace`, `None` when there is none.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read.
    fn get(&self, namespace: &str, item: Item) -> Result<Option<Zeroizing<String>>, StoreError>;
    /// Sets `item` in `namespace` to `value`, replacing any value.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be written; nothing is written elsewhere.
    fn set(&self, namespace: &str, item: Item, value: &str) -> Result<(), StoreError>;
    /// Removes `item` from `namespace`; removing what is not there succeeds.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be written.
    fn delete(&self, namespace: &str, item: Item) -> Result<(), StoreError>;
}

/// In-memory store, for tests and for callers that accept losing the session on exit.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<(String, Item), Zeroizing<String>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, ns: &str, item: Item) -> Result<Option<Zeroizing<String>>, StoreError> {
        let map = self
            .map
            .lock()
            .map_err(|_| StoreError("store poisoned".into()))?;
        Ok(map.get(&(ns.to_owned(), item)).cloned())
    }
    fn set(&self, ns: &str, item: Item, value: &str) -> Result<(), StoreError> {
        let mut map = self
            .map
            .lock()
            .map_err(|_| StoreError("store poisoned".into()))?;
        map.insert((ns.to_owned(), item), Zeroizing::new(value.to_owned()));
        Ok(())
    }
    fn delete(&self, ns: &str, item: Item) -> Result<(), StoreError> {
        let mut map = self
            .map
            .lock()
            .map_err(|_| StoreError("store poisoned".into()))?;
        map.remove(&(ns.to_owned(), item));
        Ok(())
    }
}

/// The OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows).
/// Entries are `service` = the given service name, `user` = `namespace/item`.
pub struct KeyringStore {
    service: String,
}

impl KeyringStore {
    /// A store whose entries carry `service` (e.g. the app's bundle id).
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    fn entry(&self, ns: &str, item: Item) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(&self.service, &format!("{ns}/{}", item.name())).map_err(describe)
    }

    /// Writes, re-opens and reads back a probe entry, so a build that silently uses the
    /// in-memory mock, or a locked keyring, is caught before any secret is written.
    /// The probe entry lives under `namespace`, so concurrent profiles don't race on it.
    pub fn probe(&self, namespace: &str) -> Result<(), StoreError> {
        let (user, value) = probe_entry(namespace);
        let user = format!("{user}/probe");
        let e = keyring::Entry::new(&self.service, &user).map_err(describe)?;
        e.set_password(&value).map_err(describe)?;
        let again = keyring::Entry::new(&self.service, &user).map_err(describe)?;
        let read = again.get_password().map_err(describe)?;
        let _ = again.delete_credential();
        if read != value {
            return Err(StoreError(
                "the keyring did not keep a value between two handles".into(),
            ));
        }
        Ok(())
    }
}

/// A probe's namespace and value, `NAMESPACE#probe-PID-UUID`: no other process (another
/// launch for the same profile, starting at the same moment) and no other probe shares it,
/// so one probe never reads or deletes another's entry.
fn probe_entry(namespace: &str) -> (String, String) {
    let unique = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    (
        format!("{namespace}#probe-{unique}"),
        format!("probe-{unique}"),
    )
}

fn describe(e: keyring::Error) -> StoreError {
    use keyring::Error as K;
    StoreError(match e {
        K::NoStorageAccess(inner) => format!("no access to the keyring ({inner}); is it unlocked?"),
        K::PlatformFailure(inner) => format!("keyring failure: {inner}"),
        other => other.to_string(),
    })
}

impl SecretStore for KeyringStore {
    fn get(&self, ns: &str, item: Item) -> Result<Option<Zeroizing<String>>, StoreError> {
        match self.entry(ns, item)?.get_password() {
            Ok(v) => Ok(Some(Zeroizing::new(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(describe(e)),
        }
    }
    fn set(&self, ns: &str, item: Item, value: &str) -> Result<(), StoreError> {
        self.entry(ns, item)?.set_password(value).map_err(describe)
    }
    fn delete(&self, ns: &str, item: Item) -> Result<(), StoreError> {
        match self.entry(ns, item)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(describe(e)),
        }
    }
}

/// The Secret Service (Linux, FreeBSD) over one D-Bus connection, opened on first use and
/// reused: each new connection costs a D-Bus handshake and a key exchange. Items carry the
/// same attributes as [`KeyringStore`]'s, so either reads what the other wrote.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub struct SecretServiceStore {
    service: String,
    conn: Mutex<Option<dbus_secret_service::SecretService>>,
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
impl SecretServiceStore {
    /// How long an unlock prompt may wait for the user.
    const PROMPT_SECS: u64 = 120;

    /// A store whose items carry `service`; the D-Bus connection is opened at first use.
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            conn: Mutex::new(None),
        }
    }

    /// Runs `f` on the connection, opening it if needed; a failure on a kept connection (the
    /// daemon restarted) is retried once on a new one.
    fn with<T>(
        &self,
        f: impl Fn(&dbus_secret_service::SecretService) -> Result<T, dbus_secret_service::Error>,
    ) -> Result<T, StoreError> {
        use dbus_secret_service::{EncryptionType, SecretService};
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| StoreError("store poisoned".into()))?;
        let mut retried = false;
        loop {
            let fresh = conn.is_none();
            let ss = match conn.take() {
                Some(ss) => ss,
                None => SecretService::connect_with_max_prompt_timeout(
                    EncryptionType::Dh,
                    Self::PROMPT_SECS,
                )
                .map_err(|e| {
                    tracing::debug!(error = %e, "no Secret Service connection");
                    StoreError("no keyring service answers on this desktop".into())
                })?,
            };
            match f(&ss) {
                Ok(v) => {
                    *conn = Some(ss);
                    return Ok(v);
                }
                Err(dbus_secret_service::Error::Dbus(_)) if !fresh && !retried => retried = true,
                Err(e) => {
                    *conn = Some(ss);
                    return Err(ss_error(e));
                }
            }
        }
    }

    fn attributes<'a>(&'a self, user: &'a str) -> std::collections::HashMap<&'a str, &'a str> {
        std::collections::HashMap::from([
            ("service", self.service.as_str()),
            ("username", user),
            ("target", "default"),
            ("application", "rust-keyring"),
        ])
    }

    fn user(ns: &str, item: Item) -> String {
        format!("{ns}/{}", item.name())
    }

    fn read(&self, user: &str) -> Result<Option<String>, StoreError> {
        self.with(|ss| {
            let found = ss.search_items(self.attributes(user))?;
            let Some(item) = found.unlocked.into_iter().chain(found.locked).next() else {
                return Ok(None);
            };
            item.ensure_unlocked()?;
            let bytes = item.get_secret()?;
            Ok(Some(
                String::from_utf8(bytes).map_err(|_| dbus_secret_service::Error::Parse)?,
            ))
        })
    }

    fn write(&self, user: &str, value: &str) -> Result<(), StoreError> {
        self.with(|ss| {
            let found = ss.search_items(self.attributes(user))?;
            if let Some(item) = found.unlocked.into_iter().chain(found.locked).next() {
                item.ensure_unlocked()?;
                return item.set_secret(value.as_bytes(), "text/plain");
            }
            let collection = ss.get_any_collection()?;
            collection.ensure_unlocked()?;
            collection.create_item(
                &format!("{user}@{}", self.service),
                self.attributes(user),
                value.as_bytes(),
                true,
                "text/plain",
            )?;
            Ok(())
        })
    }

    fn remove(&self, user: &str) -> Result<(), StoreError> {
        self.with(|ss| {
            let found = ss.search_items(self.attributes(user))?;
            for item in found.unlocked.into_iter().chain(found.locked) {
                item.ensure_unlocked()?;
                item.delete()?;
            }
            Ok(())
        })
    }

    /// Writes, reads back and deletes a probe entry: a locked or missing Secret Service is
    /// caught before any secret is written.
    pub fn probe(&self, namespace: &str) -> Result<(), StoreError> {
        let (user, value) = probe_entry(namespace);
        let user = format!("{user}/probe");
        self.write(&user, &value)?;
        let read = self.read(&user)?;
        let _ = self.remove(&user);
        if read.as_deref() != Some(value.as_str()) {
            return Err(StoreError("the Secret Service did not keep a value".into()));
        }
        Ok(())
    }
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn ss_error(e: dbus_secret_service::Error) -> StoreError {
    use dbus_secret_service::Error as E;
    StoreError(match e {
        E::Locked | E::Prompt => "the keyring is locked; unlock it, then try again".into(),
        E::Unavailable => "no Secret Service is running (no keyring on this desktop)".into(),
        other => format!("keyring failure: {other}"),
    })
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
impl SecretStore for SecretServiceStore {
    fn get(&self, ns: &str, item: Item) -> Result<Option<Zeroizing<String>>, StoreError> {
        Ok(self.read(&Self::user(ns, item))?.map(Zeroizing::new))
    }
    fn set(&self, ns: &str, item: Item, value: &str) -> Result<(), StoreError> {
        self.write(&Self::user(ns, item), value)
    }
    fn delete(&self, ns: &str, item: Item) -> Result<(), StoreError> {
        self.remove(&Self::user(ns, item))
    }
}

/// The platform's secure store, checked before use. When it does not work (no keyring on
/// this desktop, or a locked one that will not open), the caller may fall back to memory for
/// this run, knowingly: [`PlatformStore::degraded`] says why, for the user to read.
pub struct PlatformStore {
    inner: std::sync::RwLock<std::sync::Arc<dyn SecretStore>>,
    degraded: Mutex<Option<String>>,
}

impl PlatformStore {
    /// The Secret Service on Linux and FreeBSD; the Keychain or the Credential Manager
    /// elsewhere.
    pub fn new(service: &str) -> Self {
        #[cfg(any(target_os = "linux", target_os = "freebsd"))]
        let store: std::sync::Arc<dyn SecretStore> =
            std::sync::Arc::new(SecretServiceStore::new(service));
        #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
        let store: std::sync::Arc<dyn SecretStore> =
            std::sync::Arc::new(KeyringStore::new(service));
        Self::over(store)
    }

    /// Any store, checked the same way (tests use failing ones).
    pub fn over(store: std::sync::Arc<dyn SecretStore>) -> Self {
        Self {
            inner: std::sync::RwLock::new(store),
            degraded: Mutex::new(None),
        }
    }

    fn current(&self) -> std::sync::Arc<dyn SecretStore> {
        match self.inner.read() {
            Ok(s) => s.clone(),
            Err(e) => e.into_inner().clone(),
        }
    }

    /// Writes, reads back and deletes a probe entry under `namespace`. On failure the store
    /// switches to memory for the rest of the run and remembers why; the error is returned.
    pub fn probe_or_fall_back(&self, namespace: &str) -> Result<(), StoreError> {
        let store = self.current();
        // Its own namespace: the probe must never touch a real item.
        let (namespace, value) = probe_entry(namespace);
        let namespace = &namespace;
        let checked = store
            .set(namespace, Item::DeviceId, &value)
            .and_then(|()| store.get(namespace, Item::DeviceId))
            .and_then(|read| match read {
                Some(v) if v.as_str() == value => Ok(()),
                _ => Err(StoreError(
                    "the keyring did not keep a value between two calls".into(),
                )),
            });
        let _ = store.delete(namespace, Item::DeviceId);
        if let Err(e) = &checked {
            if let Ok(mut inner) = self.inner.write() {
                *inner = std::sync::Arc::new(MemoryStore::new());
            }
            if let Ok(mut d) = self.degraded.lock() {
                *d = Some(e.0.clone());
            }
        }
        checked
    }

    /// Why secrets are kept in memory only, if they are.
    pub fn degraded(&self) -> Option<String> {
        self.degraded.lock().ok().and_then(|d| d.clone())
    }
}

impl SecretStore for PlatformStore {
    fn get(&self, ns: &str, item: Item) -> Result<Option<Zeroizing<String>>, StoreError> {
        self.current().get(ns, item)
    }
    fn set(&self, ns: &str, item: Item, value: &str) -> Result<(), StoreError> {
        self.current().set(ns, item, value)
    }
    fn delete(&self, ns: &str, item: Item) -> Result<(), StoreError> {
        self.current().delete(ns, item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_namespaces_items() {
        let s = MemoryStore::new();
        s.set("a", Item::RefreshToken, "one").unwrap();
        s.set("b", Item::RefreshToken, "two").unwrap();
        assert_eq!(
            s.get("a", Item::RefreshToken).unwrap().unwrap().as_str(),
            "one"
        );
        assert_eq!(
            s.get("b", Item::RefreshToken).unwrap().unwrap().as_str(),
            "two"
        );
        s.delete("a", Item::RefreshToken).unwrap();
        assert!(s.get("a", Item::RefreshToken).unwrap().is_none());
        assert!(s.get("a", Item::DpopKey).unwrap().is_none());
    }

    /// A store that refuses everything, like a desktop with no keyring.
    struct Broken;

    impl SecretStore for Broken {
        fn get(&self, _: &str, _: Item) -> Result<Option<Zeroizing<String>>, StoreError> {
            Err(StoreError("no keyring".into()))
        }
        fn set(&self, _: &str, _: Item, _: &str) -> Result<(), StoreError> {
            Err(StoreError("no keyring".into()))
        }
        fn delete(&self, _: &str, _: Item) -> Result<(), StoreError> {
            Err(StoreError("no keyring".into()))
        }
    }

    #[test]
    fn a_broken_store_falls_back_to_memory_and_says_so() {
        let s = PlatformStore::over(std::sync::Arc::new(Broken));
        assert!(s.degraded().is_none());
        assert!(
            s.set("ns", Item::RefreshToken, "x").is_err(),
            "no silent fall-back"
        );
        assert_eq!(s.probe_or_fall_back("ns").unwrap_err().0, "no keyring");
        assert_eq!(s.degraded().as_deref(), Some("no keyring"));
        s.set("ns", Item::RefreshToken, "kept for this run")
            .unwrap();
        assert_eq!(
            s.get("ns", Item::RefreshToken).unwrap().unwrap().as_str(),
            "kept for this run"
        );
        let fine = PlatformStore::over(std::sync::Arc::new(MemoryStore::new()));
        fine.probe_or_fall_back("ns").unwrap();
        assert!(fine.degraded().is_none());
    }

    /// Remembers the namespaces written to, and what is left.
    #[derive(Default)]
    struct Recording {
        inner: MemoryStore,
        written: Mutex<Vec<String>>,
    }

    impl SecretStore for Recording {
        fn get(&self, ns: &str, item: Item) -> Result<Option<Zeroizing<String>>, StoreError> {
            self.inner.get(ns, item)
        }
        fn set(&self, ns: &str, item: Item, value: &str) -> Result<(), StoreError> {
            self.written.lock().unwrap().push(ns.to_owned());
            self.inner.set(ns, item, value)
        }
        fn delete(&self, ns: &str, item: Item) -> Result<(), StoreError> {
            self.inner.delete(ns, item)
        }
    }

    #[test]
    fn every_probe_has_an_entry_of_its_own() {
        let shared = std::sync::Arc::new(Recording::default());
        // Two launches of one profile share the keyring.
        let (a, b) = (
            PlatformStore::over(shared.clone()),
            PlatformStore::over(shared.clone()),
        );
        a.probe_or_fall_back("ns").unwrap();
        b.probe_or_fall_back("ns").unwrap();
        let written = shared.written.lock().unwrap().clone();
        assert_eq!(written.len(), 2);
        assert_ne!(written[0], written[1], "a name no other probe shares");
        let mine = format!("ns#probe-{}-", std::process::id());
        for ns in &written {
            assert!(ns.starts_with(&mine) && ns.len() == mine.len() + 32, "{ns}");
            assert!(
                shared.get(ns, Item::DeviceId).unwrap().is_none(),
                "the probe cleans up"
            );
        }
        let (probe_ns, value) = probe_entry("ns");
        assert_eq!(value, format!("probe-{}", &probe_ns["ns#probe-".len()..]));
    }
}
