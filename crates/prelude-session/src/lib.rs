//! A client for the Prelude Session API (`https://{appId}.session.prelude.dev`): OTP login,
//! DPoP-bound refresh, step-up challenges and session management. It follows the behaviour of
//! the official Swift SDK: single-flight refresh, challenge-scoped proofs, caller-driven OTP
//! sending. Unlike the SDKs, a completed challenge is handed back unredeemed, so the caller can
//! compare what the server signed with what was asked before the scoped refresh.
// Every public item says its shape, units, errors and source (docs/protocol.md).
#![warn(missing_docs)]

mod dpop;
mod error;
mod headers;
mod http;
mod identifiers;
mod login;
mod passkeys;
mod refresh;
mod sessions;
mod step_up;
pub mod store;
mod types;
mod util;

pub use dpop::DpopKey;
pub use error::{Error, Result};
pub use http::read_body;
pub use identifiers::{canonical_identifier, registration_scope};
pub use passkeys::{
    Assertion, Attestation, Authenticator, MAX_PASSKEY_NAME, PasskeyRegistration, RegisteredPasskey,
};
/// The WebAuthn JSON shapes an [`Authenticator`] reads and answers (PASSKEYS.md §4).
pub use prelude_passkey::{
    AuthenticationResponse, CreationOptions, PasskeyCredential, RegistrationResponse,
    RequestOptions,
};
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
pub use store::SecretServiceStore;
pub use store::{Item, KeyringStore, MemoryStore, PlatformStore, SecretStore, StoreError};
pub use types::*;

use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use url::Url;

/// The largest response body read, in bytes (1 MiB): far above any answer of the Session API,
/// so a larger one is refused rather than held ([`Error::ResponseTooLarge`]).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The largest gap between the server's `Date` and this computer's clock that is adopted, in
/// seconds, either way: 30 days (docs/protocol.md, "Choices"). No working clock is that far
/// off, and a test bench moves the emulator's clock by at most 7 days.
pub const MAX_CLOCK_SKEW_SECS: i64 = 30 * 86_400;

/// Whether `url` may be used: `https://` always; plain `http://` only to this computer
/// (`localhost`, 127.0.0.0/8, `::1`, or `::1`'s IPv4-mapped form of a 127/8 address).
///
/// # Errors
/// [`Error::PlainHttp`] for plain HTTP to any other host.
fn check_transport(url: &Url) -> Result<()> {
    use url::Host;
    if url.scheme() != "http" {
        return Ok(());
    }
    let loopback = match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(a)) => a.is_loopback(),
        Some(Host::Ipv6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    };
    if loopback {
        Ok(())
    } else {
        Err(Error::PlainHttp {
            host: url.host_str().unwrap_or_default().to_owned(),
        })
    }
}

/// Which server to talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A Prelude app id: `https://{id}.session.prelude.dev`.
    AppId(String),
    /// Any base URL (the emulator, a custom domain).
    Url(Url),
}

impl Endpoint {
    /// The hosted service of a Prelude app: `https://{id}.session.prelude.dev`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] unless `id` is 1 to 63 letters, digits or dashes.
    pub fn app_id(id: &str) -> Result<Self> {
        let id = id.trim();
        let ok = !id.is_empty()
            && id.len() <= 63
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if ok {
            Ok(Endpoint::AppId(id.to_ascii_lowercase()))
        } else {
            Err(Error::InvalidInput(format!(
                "{id:?} is not a Prelude app id (letters, digits and dashes)"
            )))
        }
    }

    /// Any base URL: `https://`, or plain `http://` to this computer only.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for text that is not an `http(s)` URL with a host;
    /// [`Error::PlainHttp`] for plain HTTP to a host that is not loopback.
    pub fn url(text: &str) -> Result<Self> {
        let not_web = || {
            Error::InvalidInput(format!(
                "{text:?} is not a web address such as https://example.com"
            ))
        };
        let u = Url::parse(text.trim()).map_err(|_| not_web())?;
        if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
            return Err(not_web());
        }
        check_transport(&u)?;
        Ok(Endpoint::Url(u))
    }

    /// The origin, e.g. `https://abc.session.prelude.dev`.
    pub fn origin(&self) -> Url {
        match self {
            Endpoint::AppId(id) => Url::parse(&format!("https://{id}.session.prelude.dev"))
                .expect("an app id makes a valid URL"),
            Endpoint::Url(u) => {
                let mut u = u.clone();
                u.set_query(None);
                u.set_fragment(None);
                u.set_path("");
                u
            }
        }
    }

    /// Host and port: the partition key of everything stored for this server.
    pub fn host_key(&self) -> String {
        let o = self.origin();
        let host = o.host_str().unwrap_or_default().to_ascii_lowercase();
        match o.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }
}

/// How to build a [`SessionClient`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The server.
    pub endpoint: Endpoint,
    /// Per-request timeout (default 10 s).
    pub timeout: Duration,
    /// Extra trusted roots, PEM (one or more certificates), e.g. the self-signed certificate
    /// of an emulator started with `--tls --cert-out FILE`.
    pub extra_root_pem: Option<Vec<u8>>,
    /// Namespaces stored secrets, so a test profile never touches a user's session.
    pub profile: String,
    /// Stands in for the server's host and port in the store namespace, for a server whose
    /// address changes between runs (a local emulator on a free port) but whose sessions persist.
    pub store_key: Option<String>,
    /// Sent as `User-Agent`; the server derives `device_type` from it.
    pub user_agent: String,
}

impl ClientConfig {
    /// Defaults for `endpoint`: a 10 s timeout, the system roots, profile `default`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            timeout: Duration::from_secs(10),
            extra_root_pem: None,
            profile: "default".into(),
            store_key: None,
            user_agent: format!(
                "prelude-session-rs/{} ({})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS
            ),
        }
    }
}

#[derive(Clone)]
pub(crate) struct AccessToken {
    pub token: SecretString,
    /// Local clock.
    pub expires_at: i64,
}

#[derive(Default)]
pub(crate) struct Local {
    pub access: Option<AccessToken>,
    pub key: Option<DpopKey>,
    /// `None` = not read from the store yet.
    pub nonce: Option<Option<String>>,
    pub skew: Option<i64>,
    pub device_id: Option<String>,
    /// `X-Verification-Token` of the login in progress.
    pub login_verification: Option<SecretString>,
    /// `X-Verification-Token` per step-up challenge id.
    pub step_up_verifications: HashMap<prelude_wire::ChallengeId, SecretString>,
    pub active_step_up: Option<StepUpChallenge>,
}

pub(crate) struct Inner {
    pub endpoint: Endpoint,
    pub origin: Url,
    pub namespace: String,
    pub http: reqwest::Client,
    pub store: Arc<dyn SecretStore>,
    pub local: Mutex<Local>,
    /// The single refresh slot: whoever holds it is the one refresh on the wire.
    pub refresh_slot: tokio::sync::Mutex<()>,
    /// Bumped by every successful refresh or login.
    pub generation: AtomicU64,
    /// Bumped by logout and self-revocation; a refresh that started before refuses to persist.
    pub epoch: AtomicU64,
}

/// The client. Cheap to clone; clones share one session.
#[derive(Clone)]
pub struct SessionClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClient")
            .field("origin", &self.inner.origin.as_str())
            .field("namespace", &self.inner.namespace)
            .finish_non_exhaustive()
    }
}

/// Reads extra trusted roots: every certificate of a PEM file (the emulator's `--cert-out`).
///
/// # Errors
/// [`Error::InvalidInput`] when the text is not PEM or holds no certificate.
pub fn extra_roots(pem: &[u8]) -> Result<Vec<reqwest::Certificate>> {
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| Error::InvalidInput(format!("extra root certificate: {e}")))?;
    if certs.is_empty() {
        return Err(Error::InvalidInput(
            "extra root certificate: no PEM certificate (-----BEGIN CERTIFICATE-----) found".into(),
        ));
    }
    Ok(certs)
}

/// Makes ring the process's TLS provider, which every HTTP client here needs before it is
/// built. Idempotent; a provider installed earlier stays.
pub fn use_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl SessionClient {
    /// A client of `config.endpoint`, keeping its secrets in `store`.
    ///
    /// # Errors
    /// [`Error::PlainHttp`] for plain HTTP to a host that is not loopback, however the
    /// endpoint was made; [`Error::InvalidInput`] for extra roots that hold no readable
    /// certificate, or a bad profile or store key.
    pub fn new(config: ClientConfig, store: Arc<dyn SecretStore>) -> Result<Self> {
        check_transport(&config.endpoint.origin())?;
        use_ring();
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none());
        if config.endpoint.origin().scheme() == "http" {
            // Plain HTTP (a local emulator): the client talks to no one else, so it needs no
            // trust roots, and loading the system's takes tens of milliseconds at start.
            builder = builder.tls_certs_only(std::iter::empty());
        }
        if let Some(pem) = &config.extra_root_pem {
            for cert in extra_roots(pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| Error::InvalidInput(format!("HTTP client: {e}")))?;
        let profile = config.profile.trim();
        if profile.is_empty() || profile.contains('/') {
            return Err(Error::InvalidInput(
                "the profile name must be non-empty and contain no /".into(),
            ));
        }
        let server_key = match config.store_key.as_deref().map(str::trim) {
            Some("") => {
                return Err(Error::InvalidInput(
                    "the store key must not be empty".into(),
                ));
            }
            Some(k) => k.to_owned(),
            None => config.endpoint.host_key(),
        };
        let namespace = format!("{profile}/{server_key}");
        Ok(Self {
            inner: Arc::new(Inner {
                origin: config.endpoint.origin(),
                endpoint: config.endpoint,
                namespace,
                http,
                store,
                local: Mutex::new(Local::default()),
                refresh_slot: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                epoch: AtomicU64::new(0),
            }),
        })
    }

    /// The server this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    pub(crate) fn local(&self) -> MutexGuard<'_, Local> {
        self.inner.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn url(&self, route: &str) -> Url {
        let mut u = self.inner.origin.clone();
        u.set_path(&prelude_wire::routes::frontend(route));
        u
    }

    pub(crate) fn store_get(&self, item: Item) -> Result<Option<zeroize::Zeroizing<String>>> {
        self.inner
            .store
            .get(&self.inner.namespace, item)
            .map_err(|e| Error::KeyringUnavailable(e.0))
    }

    pub(crate) fn store_set(&self, item: Item, value: &str) -> Result<()> {
        self.inner
            .store
            .set(&self.inner.namespace, item, value)
            .map_err(|e| Error::KeyringUnavailable(e.0))
    }

    pub(crate) fn store_delete(&self, item: Item) -> Result<()> {
        self.inner
            .store
            .delete(&self.inner.namespace, item)
            .map_err(|e| Error::KeyringUnavailable(e.0))
    }

    /// The user of the cached access token, even if it expired. `None` when signed out.
    pub fn profile(&self) -> Option<Profile> {
        use secrecy::ExposeSecret;
        let local = self.local();
        let token = local.access.as_ref()?;
        util::jwt_claims(token.token.expose_secret()).map(Profile::from_claims)
    }

    /// The current session's id (`sid` of the access token), when signed in.
    pub fn session_id(&self) -> Option<prelude_wire::SessionId> {
        self.profile().and_then(|p| p.session_id)
    }

    /// The cached access token while it is valid on the local clock, for a caller that hands
    /// it to its own request. It is a bearer token (Prelude's carry no `cnf`): anyone who holds
    /// it can use it until it expires, so it must not leave the process carelessly.
    pub fn access_token(&self) -> Option<SecretString> {
        let local = self.local();
        let t = local.access.as_ref()?;
        (t.expires_at > util::unix_now()).then(|| t.token.clone())
    }

    /// Whether a refresh token is stored, i.e. a session may be resumed with [`Self::refresh`].
    pub fn has_stored_session(&self) -> Result<bool> {
        Ok(self.store_get(Item::RefreshToken)?.is_some())
    }
}
