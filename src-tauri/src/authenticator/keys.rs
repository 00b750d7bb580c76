//! This computer's passkeys as kept in the OS keyring: one entry per profile holding, per
//! server, the pinned RP ID, the claimed origin and one credential per user, each with its
//! private key and sign counter (docs/protocol.md, "Countersign as the authenticator").

use super::error::AuthenticatorError;
use prelude_session::{Item, SecretStore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use zeroize::Zeroizing;

/// One credential: everything needed to sign again. `secret` is the P-256 private scalar,
/// base64url; the whole record only ever lives in the keyring.
#[derive(Clone, Serialize, Deserialize)]
pub struct LocalCredential {
    /// base64url of the 32-byte credential ID.
    pub id: String,
    /// base64url of the user handle (`user.id`) the server gave at registration.
    pub user_handle: String,
    /// The WebAuthn `user.name`, shown when choosing an account to sign in with.
    pub user_name: String,
    pub secret: String,
    pub sign_count: u32,
    /// Unix seconds.
    pub created_at: i64,
}

impl Drop for LocalCredential {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

/// One server's part.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct ServerKeys {
    /// The RP ID pinned at the first registration (or set in Settings).
    #[serde(default)]
    pub rp_id: Option<String>,
    /// An origin claimed instead of `https://<rpId>`, from Settings.
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub credentials: Vec<LocalCredential>,
}

/// The whole entry. `forgotten` lists credential IDs whose keys a PIN reset deleted, per
/// server key, so the account panel can say "no longer on this computer".
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Keys {
    #[serde(default)]
    pub servers: BTreeMap<String, ServerKeys>,
    #[serde(default)]
    pub forgotten: BTreeMap<String, Vec<String>>,
    /// Credential IDs, per server key, whose registration ended without a known outcome
    /// (timeout, network, 5xx): kept until the server's list says whether it holds them.
    #[serde(default)]
    pub unconfirmed: BTreeMap<String, Vec<String>>,
}

/// Reads and writes [`Keys`] in `store` under `namespace` ([`Item::PasskeyKeys`]).
pub struct KeyStore {
    store: Arc<dyn SecretStore>,
    namespace: String,
}

impl KeyStore {
    pub fn new(store: Arc<dyn SecretStore>, namespace: impl Into<String>) -> Self {
        Self {
            store,
            namespace: namespace.into(),
        }
    }

    /// The stored keys (empty when none).
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`] when the keyring fails or the entry does not parse (it
    /// is never overwritten then: a damaged entry still holds keys).
    pub fn load(&self) -> Result<Keys, AuthenticatorError> {
        match self
            .store
            .get(&self.namespace, Item::PasskeyKeys)
            .map_err(|e| AuthenticatorError::Keyring(e.0))?
        {
            None => Ok(Keys::default()),
            Some(text) => serde_json::from_str(&text).map_err(|_| {
                AuthenticatorError::Keyring("the stored passkeys do not read as such".into())
            }),
        }
    }

    /// Writes `keys` whole.
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`].
    pub fn save(&self, keys: &Keys) -> Result<(), AuthenticatorError> {
        let text = Zeroizing::new(
            serde_json::to_string(keys)
                .map_err(|e| AuthenticatorError::Keyring(format!("passkeys not encoded: {e}")))?,
        );
        self.store
            .set(&self.namespace, Item::PasskeyKeys, &text)
            .map_err(|e| AuthenticatorError::Keyring(e.0))
    }

    /// Changes the entry under one read and one write, with no other change in between
    /// ([`super::writes::serial`]).
    ///
    /// # Errors
    /// [`Self::load`]'s, `f`'s and [`Self::save`]'s.
    pub fn update<T>(
        &self,
        f: impl FnOnce(&mut Keys) -> Result<T, AuthenticatorError>,
    ) -> Result<T, AuthenticatorError> {
        let _serial = super::writes::serial();
        let mut keys = self.load()?;
        let out = f(&mut keys)?;
        self.save(&keys)?;
        Ok(out)
    }
}
