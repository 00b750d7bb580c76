//! How an emulator is set up. Every number here is range-checked by [`Config::validate`].

use std::path::PathBuf;
use std::time::Duration;

/// The management key used when none is given; printed at start so demos can call the API.
pub const DEFAULT_MANAGEMENT_KEY: &str = "emu_mgmt_demo_key";

#[derive(Clone, Debug)]
pub struct Config {
    pub app_id: String,
    pub management_key: String,
    /// Start like a new Prelude account: no login or step-up configuration.
    pub bare: bool,
    /// Every OTP is this code (demos).
    pub fixed_code: Option<String>,
    /// Keep the state across restarts.
    pub state_file: Option<PathBuf>,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub otp_ttl_secs: i64,
    /// Wrong codes one verification takes before it ends.
    pub max_wrong_attempts: u32,
    /// Between two sends to the same identifier (a new login code, or a resend).
    pub resend_cooldown_secs: i64,
    /// Wrong codes per identifier, across verifications, within `lockout_window_secs`, that
    /// lock the identifier out for `lockout_secs`.
    pub lockout_failures: u32,
    pub lockout_window_secs: i64,
    pub lockout_secs: i64,
    /// Open (not expired, not redeemed) step-up challenges one session may hold.
    pub max_open_challenges: usize,
    /// Live verifications across all identifiers; more are refused until some end.
    pub max_verifications: usize,
    /// Messages kept in the outbox; the oldest go first.
    pub outbox_cap: usize,
    /// Proof `jti`s remembered for replay checks; when full, new proofs are refused. Only
    /// proofs of authenticated requests are remembered.
    pub replay_cache_cap: usize,
    /// Live `jti`s one DPoP key may have in the replay cache; past it, that key's proofs get
    /// `429 rate_limited` and no other key is held up.
    pub replay_per_key_cap: usize,
    pub dpop_window_secs: i64,
    pub session_start_ttl_secs: i64,
    /// Print each "sent" code to the log. The standalone binary does; an app embedding the
    /// emulator turns it off so codes stay out of its log files.
    pub log_codes: bool,
    /// Serve HTTPS with a self-signed certificate made at start.
    pub tls: bool,
    /// Where to write that certificate (PEM), so clients can trust it.
    pub cert_out: Option<PathBuf>,
    /// Serve the files of this folder under `/web/`, same-origin with the API, as a customer's
    /// site on its custom domain would be (to demo the web SDK).
    pub web_root: Option<PathBuf>,
    /// The origin clients use when the emulator runs behind a proxy (`https://emu.example`).
    /// DPoP `htu` and the token issuer come from it; without it, from the bound address.
    pub public_url: Option<String>,
    /// More Host names the emulator answers to, beside its loopback names.
    pub allow_hosts: Vec<String>,
    /// Origins granted CORS (with credentials on the frontend API).
    pub cors_origins: Vec<String>,
    /// Serve `/emulator/v1/*` over HTTP. An app that embeds the emulator uses its in-process
    /// API instead and turns this off.
    pub control_plane: bool,
    /// Concurrent connections; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Concurrent TLS handshakes.
    pub max_handshakes: usize,
    /// A client must send a request's headers within this, and an idle keep-alive connection
    /// is closed after it.
    pub header_timeout: Duration,
    /// Start from this scenario (configuration, users, switches), over the seed or the state.
    pub scenario: Option<crate::Scenario>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            app_id: "demo".to_owned(),
            management_key: DEFAULT_MANAGEMENT_KEY.to_owned(),
            bare: false,
            fixed_code: None,
            state_file: None,
            // The real service was seen minting 60 s access tokens (docs/protocol.md, "Tokens").
            access_ttl_secs: 60,
            refresh_ttl_secs: 30 * 86_400,
            otp_ttl_secs: 600,
            max_wrong_attempts: 5,
            resend_cooldown_secs: 30,
            lockout_failures: 10,
            lockout_window_secs: 3_600,
            lockout_secs: 900,
            max_open_challenges: 10,
            max_verifications: 100_000,
            outbox_cap: 500,
            replay_cache_cap: 1_000_000,
            // 33 proofs a second for the whole window: far above any real client.
            replay_per_key_cap: 10_000,
            dpop_window_secs: 300,
            session_start_ttl_secs: 300,
            log_codes: true,
            tls: false,
            cert_out: None,
            web_root: None,
            public_url: None,
            allow_hosts: Vec::new(),
            cors_origins: Vec::new(),
            control_plane: true,
            max_connections: 512,
            max_handshakes: 64,
            header_timeout: Duration::from_secs(10),
            scenario: None,
        }
    }
}

fn in_range(name: &str, v: i64, lo: i64, hi: i64) -> Result<(), crate::Error> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(crate::Error::Config(format!(
            "{name} must be {lo} to {hi}, got {v}"
        )))
    }
}

/// A fresh management key (192 random bits), for an embedded emulator whose API no one
/// outside the process should call.
pub fn random_management_key() -> String {
    format!("emu_mgmt_{}", crate::util::random_token(24))
}

impl Config {
    /// Whether the management key is one of the operator's own, not the public default. Then
    /// every `/emulator/v1` route takes it too (README, "Security model").
    pub fn has_own_key(&self) -> bool {
        self.management_key != DEFAULT_MANAGEMENT_KEY
    }

    /// Refuses to serve beyond loopback with the public default key: anyone who reaches the
    /// port could read every code and rewrite the emulator. `bound` is the listen address;
    /// `--public-url` and `--allow-host` names other than loopback ones reach beyond it too.
    ///
    /// # Errors
    /// [`crate::Error::Config`] saying why, and what to give instead.
    pub fn check_reach(&self, bound: std::net::SocketAddr) -> Result<(), crate::Error> {
        if self.has_own_key() {
            return Ok(());
        }
        let loopback_name = |host: &str| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.to_canonical().is_loopback())
        };
        let beyond = if !bound.ip().to_canonical().is_loopback() {
            Some(format!("listening on {bound}"))
        } else if let Some(u) = self.public_url.as_deref().filter(|u| {
            url::Url::parse(u)
                .ok()
                .and_then(|u| u.host_str().map(|h| !loopback_name(h)))
                .unwrap_or(true)
        }) {
            Some(format!("--public-url {u}"))
        } else {
            self.allow_hosts
                .iter()
                .find(|h| {
                    crate::origins::HostRule::parse(h).is_none_or(|r| !loopback_name(r.name()))
                })
                .map(|h| format!("--allow-host {h}"))
        };
        match beyond {
            None => Ok(()),
            Some(what) => Err(crate::Error::Config(format!(
                "{what} reaches beyond this computer, and the default management key is public: \
                 anyone who reaches the port could read every code and change the emulator. \
                 Give a key of your own with --management-key (then every /emulator/v1 route \
                 takes it as `Authorization: Bearer KEY`), or listen on 127.0.0.1"
            ))),
        }
    }

    pub fn validate(&self) -> Result<(), crate::Error> {
        if cfg!(not(feature = "web")) && self.web_root.is_some() {
            return Err(crate::Error::Config(
                "this build serves no pages; build prelude-emulator with its `web` feature".into(),
            ));
        }
        let ok_id = !self.app_id.is_empty()
            && self.app_id.len() <= 63
            && self
                .app_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok_id {
            return Err(crate::Error::Config(format!(
                "app id {:?} must be 1-63 letters, digits or dashes",
                self.app_id
            )));
        }
        if let Some(code) = &self.fixed_code {
            prelude_wire::check_code(code)
                .map_err(|_| crate::Error::Config("the fixed code must be 4 to 8 digits".into()))?;
        }
        // Sent as `Authorization: Bearer KEY`: a token of visible characters (RFC 6750 §2.1).
        let key = &self.management_key;
        if !(1..=256).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(crate::Error::Config(
                "the management key must be 1 to 256 visible ASCII characters, without spaces"
                    .to_owned(),
            ));
        }
        in_range("access-ttl", self.access_ttl_secs, 5, 86_400)?;
        in_range("refresh-ttl", self.refresh_ttl_secs, 60, 365 * 86_400)?;
        in_range("otp-ttl", self.otp_ttl_secs, 30, 86_400)?;
        in_range("resend-cooldown", self.resend_cooldown_secs, 0, 3_600)?;
        in_range("max-wrong-attempts", self.max_wrong_attempts.into(), 1, 100)?;
        in_range("lockout-failures", self.lockout_failures.into(), 1, 1_000)?;
        in_range("lockout-window", self.lockout_window_secs, 1, 86_400)?;
        in_range("lockout", self.lockout_secs, 1, 86_400)?;
        in_range("dpop-window", self.dpop_window_secs, 5, 3_600)?;
        in_range("session-start-ttl", self.session_start_ttl_secs, 5, 3_600)?;
        for (name, v) in [
            ("max-open-challenges", self.max_open_challenges),
            ("max-verifications", self.max_verifications),
            ("outbox-cap", self.outbox_cap),
            ("replay-cache-cap", self.replay_cache_cap),
            ("replay-per-key-cap", self.replay_per_key_cap),
            ("max-connections", self.max_connections),
            ("max-handshakes", self.max_handshakes),
        ] {
            in_range(name, v.min(i64::MAX as usize) as i64, 1, 10_000_000)?;
        }
        if self.header_timeout.is_zero() || self.header_timeout > Duration::from_secs(300) {
            return Err(crate::Error::Config(
                "the header timeout must be 1 ms to 300 s".into(),
            ));
        }
        if let Some(u) = &self.public_url {
            crate::origins::parse_origin(u).ok_or_else(|| {
                crate::Error::Config(format!(
                    "--public-url {u:?} must be an http(s) origin, like https://emu.example"
                ))
            })?;
        }
        for o in &self.cors_origins {
            crate::origins::parse_origin(o).ok_or_else(|| {
                crate::Error::Config(format!(
                    "--cors-origin {o:?} must be an origin, like https://app.example"
                ))
            })?;
        }
        for h in &self.allow_hosts {
            crate::origins::HostRule::parse(h).ok_or_else(|| {
                crate::Error::Config(format!(
                    "--allow-host {h:?} must be a host name, optionally with :port"
                ))
            })?;
        }
        Ok(())
    }

    /// The settings the emulator's addresses are made from.
    pub fn addresses(&self) -> crate::origins::AddressSettings<'_> {
        crate::origins::AddressSettings {
            tls: self.tls,
            public_url: self.public_url.as_deref(),
            allow_hosts: &self.allow_hosts,
            cors_origins: &self.cors_origins,
        }
    }
}
