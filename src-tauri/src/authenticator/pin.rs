//! The Countersign PIN: a salted Argon2id hash and a tries counter, both in the OS keyring
//! (docs/protocol.md, "The Countersign PIN"). Nothing here knows about passkeys, so a screen
//! lock can verify the same PIN against the same counter.

use super::error::AuthenticatorError;
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prelude_session::{Item, SecretStore};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Wrong PINs in a row that block the PIN (and what it guards) until it is reset.
pub const MAX_TRIES: u32 = 8;
/// The shortest PIN, in digits.
pub const MIN_PIN_DIGITS: usize = 6;
/// The longest PIN, in digits.
pub const MAX_PIN_DIGITS: usize = 32;

/// Argon2id memory in KiB, passes and lanes: above OWASP's minimum (19 MiB, 2 passes, 1 lane),
/// about 100 ms in a release build on a laptop of 2024 (measured by the `pin_kdf_cost` test).
pub const KDF_MEMORY_KIB: u32 = 47_104;
pub const KDF_PASSES: u32 = 2;
pub const KDF_LANES: u32 = 1;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// The stored hash, with the parameters it was made with, so stronger ones can come later.
#[derive(Serialize, Deserialize)]
struct Stored {
    v: u8,
    m: u32,
    t: u32,
    p: u32,
    salt: String,
    hash: String,
}

/// A PIN kept in `store` under `namespace`: its hash ([`Item::PinHash`]) and tries left
/// ([`Item::PinTries`]).
pub struct PinVault {
    store: Arc<dyn SecretStore>,
    namespace: String,
}

/// Whether a PIN is set, and how many tries it has left (0: blocked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinState {
    pub set: bool,
    pub tries_left: u32,
}

fn keyring(e: prelude_session::StoreError) -> AuthenticatorError {
    AuthenticatorError::Keyring(e.0)
}

/// A PIN is 6 to 32 ASCII digits.
///
/// # Errors
/// [`AuthenticatorError::PinPolicy`] otherwise.
pub fn check_pin_policy(pin: &str) -> Result<(), AuthenticatorError> {
    if pin.len() < MIN_PIN_DIGITS
        || pin.len() > MAX_PIN_DIGITS
        || !pin.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(AuthenticatorError::PinPolicy);
    }
    Ok(())
}

fn kdf(
    pin: &str,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<Vec<u8>>, AuthenticatorError> {
    let params = Params::new(m, t, p, Some(HASH_LEN))
        .map_err(|e| AuthenticatorError::Keyring(format!("unusable PIN hash parameters: {e}")))?;
    let mut out = Zeroizing::new(vec![0u8; HASH_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin.as_bytes(), salt, &mut out)
        .map_err(|e| AuthenticatorError::Keyring(format!("the PIN hash failed: {e}")))?;
    Ok(out)
}

impl PinVault {
    pub fn new(store: Arc<dyn SecretStore>, namespace: impl Into<String>) -> Self {
        Self {
            store,
            namespace: namespace.into(),
        }
    }

    /// Whether a PIN is set and its tries left.
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`] when the keyring cannot be read.
    pub fn state(&self) -> Result<PinState, AuthenticatorError> {
        let set = self
            .store
            .get(&self.namespace, Item::PinHash)
            .map_err(keyring)?
            .is_some();
        Ok(PinState {
            set,
            tries_left: if set { self.tries()? } else { MAX_TRIES },
        })
    }

    /// Tries left; a missing or unreadable count reads as 0, so damage blocks rather than
    /// unblocks.
    fn tries(&self) -> Result<u32, AuthenticatorError> {
        Ok(self
            .store
            .get(&self.namespace, Item::PinTries)
            .map_err(keyring)?
            .and_then(|v| v.trim().parse::<u32>().ok())
            .map_or(0, |n| n.min(MAX_TRIES)))
    }

    fn set_tries(&self, n: u32) -> Result<(), AuthenticatorError> {
        self.store
            .set(&self.namespace, Item::PinTries, &n.to_string())
            .map_err(keyring)
    }

    /// Sets the first PIN (the tries counter starts full).
    ///
    /// # Errors
    /// [`AuthenticatorError::PinPolicy`]; [`AuthenticatorError::PinAlreadySet`] (change it with
    /// the old one instead); [`AuthenticatorError::Keyring`].
    pub fn set(&self, pin: &str) -> Result<(), AuthenticatorError> {
        check_pin_policy(pin)?;
        let _serial = super::writes::serial();
        if self.state()?.set {
            return Err(AuthenticatorError::PinAlreadySet);
        }
        self.write(pin)
    }

    fn write(&self, pin: &str) -> Result<(), AuthenticatorError> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt)
            .map_err(|e| AuthenticatorError::Keyring(format!("no randomness: {e}")))?;
        let hash = kdf(pin, &salt, KDF_MEMORY_KIB, KDF_PASSES, KDF_LANES)?;
        let stored = Stored {
            v: 1,
            m: KDF_MEMORY_KIB,
            t: KDF_PASSES,
            p: KDF_LANES,
            salt: URL_SAFE_NO_PAD.encode(salt),
            hash: URL_SAFE_NO_PAD.encode(&*hash),
        };
        let text = Zeroizing::new(serde_json::to_string(&stored).unwrap_or_default());
        // Tries first: a hash without a count would read as blocked.
        self.set_tries(MAX_TRIES)?;
        self.store
            .set(&self.namespace, Item::PinHash, &text)
            .map_err(keyring)
    }

    /// Checks `pin`. The tries counter is lowered in the keyring **before** the hash is
    /// compared, so killing the process mid-check costs a try; a right PIN refills it. Checks
    /// at once run one after another, each spending its own try.
    ///
    /// # Errors
    /// [`AuthenticatorError::PinNotSet`]; [`AuthenticatorError::PinBlocked`] with no tries
    /// left (before or after this one); [`AuthenticatorError::WrongPin`] with the tries left;
    /// [`AuthenticatorError::Keyring`], in which case nothing was compared.
    pub fn verify(&self, pin: &str) -> Result<(), AuthenticatorError> {
        // Held from reading the tries to writing them back: checks at once are one at a time.
        let _serial = super::writes::serial();
        self.verify_held(pin)
    }

    fn verify_held(&self, pin: &str) -> Result<(), AuthenticatorError> {
        let Some(text) = self
            .store
            .get(&self.namespace, Item::PinHash)
            .map_err(keyring)?
        else {
            return Err(AuthenticatorError::PinNotSet);
        };
        let tries = self.tries()?;
        if tries == 0 {
            return Err(AuthenticatorError::PinBlocked);
        }
        self.set_tries(tries - 1)?;
        let stored: Stored = serde_json::from_str(&text)
            .map_err(|_| AuthenticatorError::Keyring("the stored PIN hash is damaged".into()))?;
        let salt = URL_SAFE_NO_PAD
            .decode(&stored.salt)
            .map_err(|_| AuthenticatorError::Keyring("the stored PIN salt is damaged".into()))?;
        let want = URL_SAFE_NO_PAD
            .decode(&stored.hash)
            .map_err(|_| AuthenticatorError::Keyring("the stored PIN hash is damaged".into()))?;
        // A PIN off the policy cannot match; it still costs its try.
        let right = check_pin_policy(pin).is_ok()
            && bool::from(kdf(pin, &salt, stored.m, stored.t, stored.p)?.ct_eq(&want));
        if right {
            self.set_tries(MAX_TRIES)?;
            return Ok(());
        }
        match tries - 1 {
            0 => Err(AuthenticatorError::PinBlocked),
            left => Err(AuthenticatorError::WrongPin { tries_left: left }),
        }
    }

    /// Replaces the PIN, given the old one (which counts as a try).
    ///
    /// # Errors
    /// [`AuthenticatorError::PinPolicy`] for the new one; [`Self::verify`]'s errors for the old.
    pub fn change(&self, old: &str, new: &str) -> Result<(), AuthenticatorError> {
        check_pin_policy(new)?;
        let _serial = super::writes::serial();
        self.verify_held(old)?;
        self.write(new)
    }

    /// Forgets the PIN and its counter. The caller deletes what the PIN guarded first.
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`].
    pub fn reset(&self) -> Result<(), AuthenticatorError> {
        let _serial = super::writes::serial();
        self.store
            .delete(&self.namespace, Item::PinHash)
            .map_err(keyring)?;
        self.store
            .delete(&self.namespace, Item::PinTries)
            .map_err(keyring)
    }
}
