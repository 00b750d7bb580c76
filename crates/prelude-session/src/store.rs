//! Where the client keeps what must survive a restart: the DPoP key, the refresh token, the
//! nonce, the clock skew and the device id. The access token stays in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use zeroize::Zeroizing;

/// Items the client stores, one entry each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    DpopKey,
    RefreshToken,
    DpopNonce,
    ClockSkew,
    DeviceId,
    /// The challenge in progress (its token and status), so it can be offered after a restart.
    ActiveStepUp,
}

impl Item {
    pub fn name(self) -> &'static str {
        match self {
            Item::DpopKey => "dpop-key",
            Item::RefreshToken => "refresh-token",
            Item::DpopNonce => "dpop-nonce",
            Item::ClockSkew => "dpop-clock-skew",
            Item::DeviceId => "device-id",
            Item::ActiveStepUp => "active-step-up",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// A small secret store, namespaced by the caller. Implementations must not fall back to a
/// weaker place when the real one fails: they return an error.
pub trait SecretStore: Send + Sync {
    fn get(&self, namespace: &str, item: Item) -> Result<Option<Zeroizing<String>>, StoreError>;
    fn set(&self, namespace: &str, item: Item, value: &str) -> Result<(), StoreError>;
    fn delete(&self, namespace: &str, item: Item) -> Result<(), StoreError>;
}

/// In-memory store, for tests and for callers that accept losing the session on exit.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<(String, Item), Zeroizing<String>>>,
}

impl MemoryStore {
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
        let value = format!("probe-{}", std::process::id());
        let user = format!("{namespace}/probe");
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
}
