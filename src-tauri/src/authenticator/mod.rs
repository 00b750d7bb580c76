//! Countersign as the passkey authenticator on this computer: one P-256 credential per server
//! and user, kept in the OS keyring, user presence from the person's click and user
//! verification from the Countersign PIN (docs/protocol.md, "Countersign as the
//! authenticator"; PASSKEYS.md §4.8, §6.6). No Tauri type here: it is tested on its own.

mod error;
pub mod keys;
pub mod pin;
mod writes;

pub use error::AuthenticatorError;
#[cfg(test)]
mod race_tests;
#[cfg(test)]
mod tests;

use keys::{KeyStore, LocalCredential, ServerKeys};
use pin::PinVault;
use prelude_passkey::{
    AuthenticationResponse, COSE_ALG_ES256, CreationOptions, Credential, FLAG_UP, FLAG_UV,
    RequestOptions, b64, unb64,
};
use prelude_session::{Assertion, Attestation, Error as SessionError, PlatformStore, SecretStore};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex};

/// The RP ID the built-in demo server is pinned to (its seed's `rp_id`).
pub const EMBEDDED_RP_ID: &str = "localhost";

/// One profile's authenticator: its keys and its PIN, in `store`.
pub struct LocalAuthenticator {
    store: Arc<PlatformStore>,
    keys: KeyStore,
    pin: PinVault,
}

/// What the person did on the approval screen: the click (user presence) and, when the
/// options require user verification, the PIN they typed.
pub struct Consent {
    pub present: bool,
    pub pin: Option<SecretString>,
}

impl LocalAuthenticator {
    /// The authenticator of `profile`, keeping everything in `store` under
    /// `<profile>/passkeys`.
    pub fn new(store: Arc<PlatformStore>, profile: &str) -> Self {
        let ns = format!("{profile}/passkeys");
        let dyn_store = store.clone() as Arc<dyn SecretStore>;
        Self {
            keys: KeyStore::new(dyn_store.clone(), ns.clone()),
            pin: PinVault::new(dyn_store, ns),
            store,
        }
    }

    /// The PIN (set, verify, change, reset; shared with the app's lock).
    pub fn pin(&self) -> &PinVault {
        &self.pin
    }

    /// The credential IDs (base64url) of `server`'s passkeys on this computer, and those a
    /// PIN reset deleted.
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`].
    pub fn local_ids(
        &self,
        server: &str,
    ) -> Result<(Vec<String>, Vec<String>), AuthenticatorError> {
        let keys = self.keys.load()?;
        let here = keys
            .servers
            .get(server)
            .map(|s| s.credentials.iter().map(|c| c.id.clone()).collect())
            .unwrap_or_default();
        Ok((
            here,
            keys.forgotten.get(server).cloned().unwrap_or_default(),
        ))
    }

    /// The RP ID `server` is pinned to: Settings' or the first registration's; the built-in
    /// server is always `localhost`.
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`].
    pub fn pinned_rp(&self, server: &str) -> Result<Option<String>, AuthenticatorError> {
        if server == "embedded" {
            return Ok(Some(EMBEDDED_RP_ID.into()));
        }
        Ok(self
            .keys
            .load()?
            .servers
            .get(server)
            .and_then(|s| s.rp_id.clone()))
    }

    /// `server`'s RP ID and origin as Settings show them: the pinned or set RP ID (the built-in
    /// server's is fixed) and the origin claimed instead of `https://<rpId>`, if any.
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`].
    pub fn server_rp(
        &self,
        server: &str,
    ) -> Result<(Option<String>, Option<String>), AuthenticatorError> {
        let keys = self.keys.load()?;
        let s = keys.servers.get(server);
        Ok((self.pinned_rp(server)?, s.and_then(|s| s.origin.clone())))
    }

    /// Settings' override of `server`'s RP ID and claimed origin (`None` clears each). An
    /// origin must be `https://host[:port]`.
    ///
    /// # Errors
    /// [`AuthenticatorError::InvalidSetting`] for an origin that is not https or an RP ID that
    /// is not a lower-case host; [`AuthenticatorError::Keyring`].
    pub fn set_server_rp(
        &self,
        server: &str,
        rp_id: Option<&str>,
        origin: Option<&str>,
    ) -> Result<(), AuthenticatorError> {
        // A host name exactly as a URL parser writes it back: lower case, no port, letters,
        // digits, dots and hyphens, no empty label and none that starts or ends with a hyphen.
        if let Some(rp) = rp_id
            && (rp.is_empty()
                || rp.len() > 253
                || !rp.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                })
                || rp
                    .split('.')
                    .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
                // A domain as written, never an IP address (WebAuthn §5.1.3: an RP ID is a
                // valid domain string).
                || !url::Url::parse(&format!("https://{rp}/"))
                    .is_ok_and(|u| matches!(u.host(), Some(url::Host::Domain(d)) if d == rp)))
        {
            return Err(AuthenticatorError::InvalidSetting(
                "an RP ID is a lower-case host name, without scheme or port".into(),
            ));
        }
        if let Some(o) = origin {
            // Exactly an origin's serialization: no user, path, query or fragment, lower case,
            // no default port.
            let ok = url::Url::parse(o)
                .is_ok_and(|u| u.scheme() == "https" && u.origin().ascii_serialization() == o);
            if !ok {
                return Err(AuthenticatorError::InvalidSetting(
                    "an origin is https://host or https://host:port".into(),
                ));
            }
            // Without an RP ID here, the ceremony checks it against the one the server names.
            if let Some(rp) = rp_id {
                origin_fits(o, rp)?;
            }
        }
        self.keys.update(|k| {
            let s = k.servers.entry(server.to_owned()).or_default();
            s.rp_id = rp_id.map(str::to_owned);
            s.origin = origin.map(str::to_owned);
            Ok(())
        })
    }

    /// Deletes one local credential (after the server deleted it, or when registration failed).
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`].
    pub fn forget(&self, server: &str, credential_id: &str) -> Result<(), AuthenticatorError> {
        self.keys.update(|k| {
            if let Some(s) = k.servers.get_mut(server) {
                s.credentials.retain(|c| c.id != credential_id);
            }
            if let Some(f) = k.forgotten.get_mut(server) {
                f.retain(|id| id != credential_id);
            }
            if let Some(u) = k.unconfirmed.get_mut(server) {
                u.retain(|id| id != credential_id);
            }
            Ok(())
        })
    }

    /// Marks local credentials of `server` as added here but not confirmed by the server: a
    /// registration whose answer never came may still have been stored there, so the key is
    /// kept until [`Self::settle_unconfirmed`] learns the truth.
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`].
    pub fn mark_unconfirmed(&self, server: &str, ids: &[String]) -> Result<(), AuthenticatorError> {
        self.keys.update(|k| {
            let u = k.unconfirmed.entry(server.to_owned()).or_default();
            for id in ids {
                if !u.contains(id) {
                    u.push(id.clone());
                }
            }
            Ok(())
        })
    }

    /// The credential IDs (base64url) of `server` marked unconfirmed whose keys are still here.
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`].
    pub fn unconfirmed_ids(&self, server: &str) -> Result<Vec<String>, AuthenticatorError> {
        let keys = self.keys.load()?;
        let here: Vec<&str> = keys
            .servers
            .get(server)
            .map(|s| s.credentials.iter().map(|c| c.id.as_str()).collect())
            .unwrap_or_default();
        Ok(keys
            .unconfirmed
            .get(server)
            .map(|u| {
                u.iter()
                    .filter(|id| here.contains(&id.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Settles the unconfirmed credentials of `server` against the credential IDs the server
    /// lists (`held`): one it holds is confirmed and kept, one it does not is deleted here.
    /// Returns the confirmed IDs, then the deleted ones.
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`].
    pub fn settle_unconfirmed(
        &self,
        server: &str,
        held: &[String],
    ) -> Result<(Vec<String>, Vec<String>), AuthenticatorError> {
        self.keys.update(|k| {
            let pending = k.unconfirmed.remove(server).unwrap_or_default();
            let (kept, dropped): (Vec<String>, Vec<String>) =
                pending.into_iter().partition(|id| held.contains(id));
            if let Some(s) = k.servers.get_mut(server) {
                s.credentials.retain(|c| !dropped.contains(&c.id));
            }
            Ok((kept, dropped))
        })
    }

    /// Resets the PIN: deletes every local key of the profile first (their server entries are
    /// remembered as "no longer on this computer"), then the PIN and its counter.
    ///
    /// # Errors
    /// [`AuthenticatorError::Keyring`].
    pub fn reset(&self) -> Result<(), AuthenticatorError> {
        self.keys.update(|k| {
            for (server, s) in &mut k.servers {
                let gone = k.forgotten.entry(server.clone()).or_default();
                gone.extend(s.credentials.drain(..).map(|c| c.id.clone()));
            }
            k.unconfirmed.clear();
            Ok(())
        })?;
        self.pin.reset()
    }

    /// A ceremony for `server`, with what the person did.
    pub fn ceremony(&self, server: &str, consent: Consent) -> Ceremony<'_> {
        Ceremony {
            auth: self,
            server: server.to_owned(),
            consent,
            uv_granted: false,
            failure: Mutex::new(None),
        }
    }

    fn usable(&self) -> Result<(), AuthenticatorError> {
        if let Some(why) = self.store.degraded() {
            return Err(AuthenticatorError::Keyring(format!(
                "secrets are kept in memory this run ({why})"
            )));
        }
        Ok(())
    }
}

/// One `create` or `get` for one server, as [`prelude_session::Authenticator`]. Its own
/// refusals reach the client as [`SessionError::Cancelled`] (the ceremony did not happen);
/// the reason is kept for the caller in [`Ceremony::take_failure`].
pub struct Ceremony<'a> {
    auth: &'a LocalAuthenticator,
    server: String,
    consent: Consent,
    /// The person typed the PIN at the lock for this request moments ago (lock/machine.rs).
    uv_granted: bool,
    failure: Mutex<Option<AuthenticatorError>>,
}

impl Ceremony<'_> {
    /// An assertion of this ceremony counts the PIN typed at the lock as its user
    /// verification (the lock's one-use grant), so the PIN is not asked twice. The PIN must
    /// still be set and not blocked; registration always asks it.
    #[must_use]
    pub fn with_uv_granted(mut self) -> Self {
        self.uv_granted = true;
        self
    }

    /// Why this authenticator refused, if it did.
    pub fn take_failure(&self) -> Option<AuthenticatorError> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }

    fn refuse<T>(&self, e: AuthenticatorError) -> prelude_session::Result<T> {
        tracing::info!(
            code = e.code().as_str(),
            "passkey ceremony refused on this computer"
        );
        if let Ok(mut f) = self.failure.lock() {
            *f = Some(e);
        }
        Err(SessionError::Cancelled)
    }

    /// The RP ID the options name, checked against the pinned one.
    fn rp_id(
        &self,
        asked: Option<&str>,
        server: &ServerKeys,
    ) -> Result<String, AuthenticatorError> {
        let pinned = self
            .auth
            .pinned_rp(&self.server)?
            .or_else(|| server.rp_id.clone());
        match (asked, pinned) {
            (Some(a), Some(p)) if a != p => Err(AuthenticatorError::WrongRp {
                asked: a.to_owned(),
                pinned: p,
            }),
            (Some(a), _) => Ok(a.to_owned()),
            (None, Some(p)) => Ok(p),
            (None, None) => Err(AuthenticatorError::NoPasskeyHere),
        }
    }

    /// PASSKEYS.md §6.6: `https://<rpId>` unless Settings name another origin, which must be
    /// on the RP ID or a name under it (checked here too: the RP ID may be pinned after the
    /// origin was set).
    fn origin(rp_id: &str, server: &ServerKeys) -> Result<String, AuthenticatorError> {
        match &server.origin {
            Some(o) => origin_fits(o, rp_id).map(|()| o.clone()),
            None => Ok(format!("https://{rp_id}")),
        }
    }

    /// User presence, a PIN that is not blocked, and (when `verify`) the right PIN.
    fn consent(&self, verify: bool) -> Result<u8, AuthenticatorError> {
        if !self.consent.present {
            return Err(AuthenticatorError::NoUserPresence);
        }
        let state = self.auth.pin.state()?;
        if state.set && state.tries_left == 0 {
            return Err(AuthenticatorError::PinBlocked);
        }
        if !verify {
            return Ok(FLAG_UP);
        }
        let pin = self
            .consent
            .pin
            .as_ref()
            .ok_or(AuthenticatorError::PinRequired)?;
        self.auth.pin.verify(pin.expose_secret())?;
        Ok(FLAG_UP | FLAG_UV)
    }

    fn make(&self, options: &CreationOptions) -> Result<Attestation, AuthenticatorError> {
        self.auth.usable()?;
        let keys = self.auth.keys.load()?;
        let server = keys.servers.get(&self.server).cloned().unwrap_or_default();
        let rp_id = self.rp_id(options.rp.id.as_deref(), &server)?;
        let origin = Self::origin(&rp_id, &server)?;
        if !options
            .pub_key_cred_params
            .iter()
            .any(|p| p.alg == COSE_ALG_ES256 && p.kind == "public-key")
        {
            return Err(AuthenticatorError::Unsupported);
        }
        let user_handle = unb64(&options.user.id)
            .ok_or_else(|| AuthenticatorError::Damaged("the server's user handle".into()))?;
        // Registration always verifies the PIN: it is set with the first passkey.
        let flags = self.consent(true)?;
        let (credential, secret) = new_credential(&rp_id, user_handle)?;
        let response = credential
            .registration(&options.challenge, &origin, flags)
            .map_err(|e| AuthenticatorError::Damaged(e.to_string()))?;
        let record = LocalCredential {
            id: b64(credential.id()),
            user_handle: options.user.id.clone(),
            user_name: options.user.name.clone(),
            secret: secret.expose_secret().to_owned(),
            sign_count: 0,
            created_at: prelude_wire::time::unix_now(),
        };
        // Kept before the server hears of it: a credential the server has must be here.
        self.auth.keys.update(|k| {
            let s = k.servers.entry(self.server.clone()).or_default();
            s.rp_id.get_or_insert_with(|| rp_id.clone());
            // One credential per server and user: a new one replaces the old.
            s.credentials
                .retain(|c| c.user_handle != record.user_handle);
            s.credentials.push(record);
            Ok(())
        })?;
        Ok(Attestation(response))
    }

    fn get(&self, options: &RequestOptions) -> Result<Assertion, AuthenticatorError> {
        let keys = self.auth.keys.load()?;
        let server = keys.servers.get(&self.server).cloned().unwrap_or_default();
        let rp_id = self.rp_id(options.rp_id.as_deref(), &server)?;
        let origin = Self::origin(&rp_id, &server)?;
        let allowed: Vec<&str> = options
            .allow_credentials
            .iter()
            .map(|d| d.id.as_str())
            .collect();
        let chosen = server
            .credentials
            .iter()
            .filter(|c| allowed.is_empty() || allowed.contains(&c.id.as_str()))
            .max_by_key(|c| c.created_at)
            .ok_or(AuthenticatorError::NoPasskeyHere)?
            .clone();
        let uv_required = options.user_verification.as_deref() == Some("required");
        let flags = if uv_required && self.uv_granted && self.auth.pin.state()?.set {
            self.consent(false)? | FLAG_UV
        } else {
            self.consent(uv_required)?
        };
        // The counter is stored before the signature exists (PASSKEYS.md §6.6), counted from
        // the stored value under the lock: never one count for two signatures, and never a
        // wrap to a lower one, which the server takes for a clone (§5.3).
        let count = self.auth.keys.update(|k| {
            let c = k
                .servers
                .get_mut(&self.server)
                .and_then(|s| s.credentials.iter_mut().find(|c| c.id == chosen.id))
                .ok_or(AuthenticatorError::NoPasskeyHere)?;
            c.sign_count = c.sign_count.checked_add(1).ok_or_else(|| {
                AuthenticatorError::Damaged(format!(
                    "credential {}: its sign counter is used up; delete it and register again",
                    c.id
                ))
            })?;
            Ok(c.sign_count)
        })?;
        let credential = stored_credential(&chosen, &rp_id)?;
        let response: AuthenticationResponse =
            credential.assertion(&options.challenge, &origin, flags, count);
        Ok(Assertion(response))
    }
}

impl prelude_session::Authenticator for Ceremony<'_> {
    fn make_credential(&self, options: &CreationOptions) -> prelude_session::Result<Attestation> {
        let excluded = self.auth.local_ids(&self.server).map(|(here, _)| here);
        if let Ok(here) = &excluded
            && options
                .exclude_credentials
                .iter()
                .any(|d| here.contains(&d.id))
        {
            return Err(SessionError::PasskeyAlreadyRegistered);
        }
        self.make(options).or_else(|e| self.refuse(e))
    }

    fn get_assertion(&self, options: &RequestOptions) -> prelude_session::Result<Assertion> {
        self.get(options).or_else(|e| self.refuse(e))
    }
}

/// Whether the origin `origin` (already an https origin's serialization) may claim `rp_id`:
/// its host is a domain (not an IP address) equal to `rp_id` or under it at a dot, as a
/// browser requires the RP ID to be a registrable suffix of the origin's domain (WebAuthn
/// §5.1.3 step 8); `evilexample.com` is not under `example.com`.
///
/// # Errors
/// [`AuthenticatorError::InvalidSetting`] naming both.
fn origin_fits(origin: &str, rp_id: &str) -> Result<(), AuthenticatorError> {
    let fits = url::Url::parse(origin).is_ok_and(|u| match u.host() {
        Some(url::Host::Domain(host)) => {
            host == rp_id
                || host
                    .strip_suffix(rp_id)
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
        }
        _ => false,
    });
    if fits {
        Ok(())
    } else {
        Err(AuthenticatorError::InvalidSetting(format!(
            "the origin {origin} is not on the RP ID {rp_id} or a name under it"
        )))
    }
}

/// A fresh P-256 key and 32-byte credential ID, apart from the DPoP key.
fn new_credential(
    rp_id: &str,
    user_handle: Vec<u8>,
) -> Result<(Credential, SecretString), AuthenticatorError> {
    let rng = |buf: &mut [u8]| {
        getrandom::fill(buf).map_err(|e| AuthenticatorError::Keyring(format!("no randomness: {e}")))
    };
    let mut id = vec![0u8; 32];
    rng(&mut id)?;
    // A random scalar is out of range with probability ~2^-32: draw again then.
    for _ in 0..4 {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        rng(&mut secret[..])?;
        if let Ok(c) = Credential::from_secret(&secret[..], id.clone(), rp_id, user_handle.clone())
        {
            return Ok((c, SecretString::from(b64(&secret[..]))));
        }
    }
    Err(AuthenticatorError::Damaged("no valid key was drawn".into()))
}

fn stored_credential(c: &LocalCredential, rp_id: &str) -> Result<Credential, AuthenticatorError> {
    let damaged = || AuthenticatorError::Damaged(format!("credential {}", c.id));
    let secret = zeroize::Zeroizing::new(unb64(&c.secret).ok_or_else(damaged)?);
    let id = unb64(&c.id).ok_or_else(damaged)?;
    let handle = unb64(&c.user_handle).ok_or_else(damaged)?;
    Credential::from_secret(&secret, id, rp_id, handle).map_err(|_| damaged())
}
