//! The backend behind the commands, a composition of parts: the session (`crate::session`:
//! the client, the flow, the ledger), the approvals part (`crate::approvals`: the queue, its
//! gates, settling), the demo part (`crate::demo`), the notice (`crate::notice`), the account's
//! added addresses (identifiers.rs) and the passkeys (passkeys.rs). An attempt the session
//! ends comes back from it; from here it goes to the approvals part as an `AttemptEnded` and
//! to the audit log (`close_attempt`). It has no window and no Tauri types, so it is tested on
//! its own.

use crate::approvals::{Approvals, AttemptEnded};
use crate::audit::{AuditEntry, AuditLog};
use crate::demo::Demo;
use crate::error::{AppError, AppResult};
use crate::notice::Notice;
use crate::outcome::AttemptOutcome;
use crate::server::Server;
use crate::session::{Approval, Attempt, Ended, Resumed, Session, Stepped};
use crate::view::*;
use prelude_emulator::Emulator;
use prelude_session::{
    ClientConfig, Endpoint, Error as SessionError, Identifier, PlatformStore, SecretStore,
    SessionClient, StepUpChallenge,
};
use prelude_wire::time::{rfc3339, unix_now};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the UI waits before offering to resend a code: the emulator's default cooldown,
/// or `COUNTERSIGN_RESEND_COOLDOWN_SECS` (which the embedded emulator then uses too).
pub fn resend_cooldown() -> Duration {
    static SECS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    Duration::from_secs(*SECS.get_or_init(|| {
        std::env::var("COUNTERSIGN_RESEND_COOLDOWN_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|s| *s <= 600)
            .unwrap_or(30)
    }))
}

/// The keyring service. Debug builds use their own, so a development run never reads or
/// overwrites an installed app's session.
pub const KEYRING_SERVICE: &str = if cfg!(debug_assertions) {
    "countersign-dev"
} else {
    "countersign"
};

/// What a form needs to know of the wire rules, so the UI re-implements none of them.
pub fn input_rules() -> InputRules {
    InputRules {
        code_min: *prelude_wire::CODE_LENGTHS.start(),
        code_max: *prelude_wire::CODE_LENGTHS.end(),
        shown_max: prelude_wire::text::MAX_SHOWN_CHARS,
        identifier_hint: prelude_wire::IDENTIFIER_HINT,
    }
}

/// The sign-in screen, as it can be drawn before the server is reached: the window shows it
/// in its first frame. A custom URL's demo inbox appears once the server has been asked.
pub fn boot_view(server: &Server, last_identifier: Option<String>, theme: String) -> AppView {
    AppView {
        stage: Stage::Login,
        server: server.view(matches!(server, Server::Embedded)),
        theme,
        rules: input_rules(),
        form_scope: crate::labels::TRANSFER_SCOPE,
        identifier: None,
        last_identifier,
        login_resend_ms: None,
        code_exhausted: false,
        user: None,
        challenge: None,
        grant: None,
        notice: None,
        store_warning: None,
        request: None,
        waiting: 0,
        report_offer: false,
        deadline: None,
        passkey: PasskeyView::default(),
        lock: None,
    }
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub struct Backend {
    server: Server,
    /// The session: the client, the flow, the ledger.
    session: Session,
    /// The demo: the embedded emulator, the customer's stand-in, the bench, the inbox.
    demo: Demo,
    profile: String,
    /// Something to tell the user, until their next action.
    notice: Notice,
    audit: Option<AuditLog>,
    /// Where the key and the refresh token live; memory only if the platform's store failed
    /// its check.
    store: Arc<PlatformStore>,
    /// Approvals asked by other programs and links, in turn, and their answers.
    approvals: Approvals,
    /// Addresses added to the account, and one waiting for its code.
    registrations: identifiers::Registrations,
    /// This computer as a passkey authenticator, and the passkey action under way.
    authenticator: crate::authenticator::LocalAuthenticator,
    passkey: passkeys::PasskeyFlow,
}

impl Backend {
    /// Connects to the chosen server; for the embedded one, starts the emulator with its state
    /// in `data_dir`.
    pub async fn connect(
        server: Server,
        profile: &str,
        data_dir: Option<PathBuf>,
        store: Option<Arc<dyn SecretStore>>,
    ) -> AppResult<Self> {
        let began = std::time::Instant::now();
        let audit = data_dir
            .as_ref()
            .map(|d| AuditLog::new(d.join(format!("approvals-{profile}.jsonl"))));
        let (embedded, startup_notice, endpoint) = match server.endpoint()? {
            Some(ep) => (None, None, ep),
            None => {
                let (demo, notice) = Demo::embedded(profile, data_dir, resend_cooldown()).await?;
                tracing::debug!(
                    ms = began.elapsed().as_millis() as u64,
                    "embedded emulator up"
                );
                let url = demo.emulator().map(Emulator::url).unwrap_or_default();
                (Some(demo), notice, Endpoint::url(&url)?)
            }
        };
        let origin = endpoint.origin().as_str().trim_end_matches('/').to_owned();
        let mut cfg = ClientConfig::new(endpoint);
        cfg.profile = profile.to_owned();
        cfg.extra_root_pem = crate::http::extra_roots().map(<[u8]>::to_vec);
        if server == Server::Embedded {
            // Its port is new on every start; its sessions (kept in the data dir) are not.
            cfg.store_key = Some(server.key());
        }
        // The SDKs' shape, `Product/version (OS)` (docs/protocol.md §2.1): the server's
        // session list names the device and OS from it.
        cfg.user_agent = format!(
            "Countersign/{} ({})",
            env!("CARGO_PKG_VERSION"),
            match std::env::consts::OS {
                "linux" => "Linux",
                "macos" => "macOS",
                "windows" => "Windows",
                other => other,
            }
        );
        // The store is checked at the first look (resume), off the start-up path.
        let store = Arc::new(match store {
            Some(s) => PlatformStore::over(s),
            None => PlatformStore::new(KEYRING_SERVICE),
        });
        let client = SessionClient::new(cfg, store.clone() as Arc<dyn SecretStore>)?;
        tracing::debug!(ms = began.elapsed().as_millis() as u64, "client ready");
        // Only a URL may be a standalone emulator: the keyring is not asked for the others.
        let demo = match embedded {
            Some(demo) => demo,
            None if matches!(server, Server::Url(_)) => {
                let key = crate::emulator_key::known_key(store.as_ref(), profile).0;
                Demo::reached(&origin, key).await
            }
            None => Demo::default(),
        };
        Ok(Self {
            server,
            session: Session::new(client),
            demo,
            profile: profile.to_owned(),
            notice: Notice::new(startup_notice),
            audit,
            approvals: Approvals::default(),
            registrations: Default::default(),
            authenticator: Self::local_authenticator(store.clone(), profile),
            passkey: Default::default(),
            store,
        })
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// An attempt ended: the approvals part answers its requester, if a request asked for
    /// it, and the audit log keeps it.
    fn close_attempt(&mut self, a: Attempt, outcome: AttemptOutcome, error: Option<&AppError>) {
        let ended = AttemptEnded {
            attempt: a,
            outcome,
            error,
        };
        let session = &self.session;
        self.approvals
            .attempt_ended(&ended, session.session_id(), |scope, want_token| {
                session.handout(scope, want_token)
            });
        let AttemptEnded { attempt, .. } = ended;
        self.audit_attempt(attempt, outcome, error.map(|e| e.code().to_string()));
    }

    /// A session call's result, once the attempt it ended (if any) is closed: an error that
    /// ended it is why it ended.
    fn settle<T>(&mut self, s: Stepped<T>) -> AppResult<T> {
        if let Some(Ended { attempt, outcome }) = s.ended {
            self.close_attempt(attempt, outcome, s.result.as_ref().err());
        }
        s.result
    }

    /// Writes an ended attempt to the audit log, with the stable code of why it ended so.
    fn audit_attempt(&mut self, a: Attempt, outcome: AttemptOutcome, error_code: Option<String>) {
        let entry = AuditEntry {
            started_at: rfc3339(a.started),
            ended_at: rfc3339(unix_now()),
            server: self.server.label(),
            session_id: self.session.session_id().map(String::from),
            scope: a.approval.scope,
            // What was asked: the matched number is signed, never listed (matching.rs).
            metadata: a
                .approval
                .metadata
                .into_iter()
                .filter(|(k, _)| k != crate::requests::matching::MATCH_KEY)
                .collect(),
            steps: a.steps,
            wrong_codes: a.wrong_codes,
            outcome: outcome.as_str().to_owned(),
            error_code,
            requester: a.request.as_ref().map(|t| t.requester.clone()),
            reason: a.request.and_then(|t| t.reason),
        };
        if let Some(log) = &self.audit
            && let Err(e) = log.append(&entry)
        {
            tracing::error!(error = %e, "approval not written to the audit log");
        }
    }

    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The demo part, to read: the embedded emulator, a standalone one's origin and key,
    /// the bench.
    pub fn demo(&self) -> &Demo {
        &self.demo
    }

    /// The demo part, to change what touches nothing else (its scenario).
    pub fn demo_mut(&mut self) -> &mut Demo {
        &mut self.demo
    }

    /// Where the emulator key comes from (never the key), for Settings.
    pub fn emulator_key_source(&self) -> crate::emulator_key::KeySource {
        crate::emulator_key::known_key(self.store.as_ref(), &self.profile).1
    }

    /// Keeps the emulator key typed in Settings in the keyring, or forgets it (`None`), and
    /// uses it from now on: a standalone emulator that refused the app before is asked again.
    ///
    /// # Errors
    /// The key comes from `COUNTERSIGN_EMULATOR_KEY` for this run, or is not a usable key, or
    /// the keyring failed.
    pub async fn set_emulator_key(&mut self, key: Option<&str>) -> AppResult<()> {
        if self.emulator_key_source() == crate::emulator_key::KeySource::Environment {
            return Err(AppError::InvalidInput(format!(
                "the emulator key is set by {} for this run",
                crate::emulator_key::EMULATOR_KEY_VAR
            )));
        }
        let key = key.map(str::trim).filter(|k| !k.is_empty());
        crate::emulator_key::save_key(self.store.as_ref(), &self.profile, key)?;
        let origin = self.session.client().endpoint().origin();
        let origin = origin.as_str().trim_end_matches('/');
        let url = matches!(self.server, Server::Url(_)).then_some(origin);
        self.demo.set_emulator_key(key, url).await;
        Ok(())
    }

    /// Writes the embedded server's state now, if it changed.
    pub fn flush(&self) {
        self.demo.flush();
    }

    pub async fn shutdown(self) {
        self.demo.shutdown().await;
    }

    /// Resumes a stored session once, at the first look.
    pub async fn resume(&mut self) {
        if !self.session.first_look() {
            return;
        }
        if let Err(e) = self.store.probe_or_fall_back(&self.profile) {
            tracing::error!(error = %e, "no working secure store; secrets stay in memory this run");
        }
        self.demo.restart_customer().await;
        if let Resumed::Say(what) = self.session.resume_stored().await {
            self.notice.say(what);
        }
    }

    /// A session is open (and stored).
    pub fn signed_in(&self) -> bool {
        self.session.signed_in()
    }

    // -----------------------------------------------------------------------------------------
    // Login

    pub async fn start_login(&mut self, typed: &str) -> AppResult<Identifier> {
        self.session.start_login(typed).await
    }

    pub async fn resend_login_code(&mut self) -> AppResult<()> {
        self.session.resend_login_code().await
    }

    pub async fn verify_login_code(&mut self, typed: &str) -> AppResult<()> {
        self.session.verify_login_code(typed).await
    }

    pub fn change_identifier(&mut self) -> AppResult<()> {
        self.session.change_identifier()
    }

    pub async fn logout(&mut self) -> AppResult<()> {
        self.end_flow(AttemptOutcome::Cancelled, None);
        self.session.client().logout().await?;
        Ok(())
    }

    /// Signs out locally, writing the open attempt (if any) with `outcome`.
    fn end_flow(&mut self, outcome: AttemptOutcome, error: Option<&AppError>) {
        if let Some(a) = self.session.sign_out() {
            self.close_attempt(a, outcome, error);
        }
        self.drop_requests(AttemptOutcome::Cancelled);
    }

    /// A failure that means the session is gone sends the user back to the login screen.
    pub fn note_failure(&mut self, e: &AppError) {
        if let AppError::Session(SessionError::Unauthorized { .. }) = e
            && self.signed_in()
            && self.session.client().profile().is_none()
        {
            self.end_flow(AttemptOutcome::Failed, Some(e));
            self.notice.say("Your session has ended. Sign in again.");
        }
    }
}

/// A folder of its own for a test's saved state: named by pid and time, so no earlier run's
/// leftovers (a pid comes round again) are read back.
#[cfg(test)]
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "countersign-{tag}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ))
}

mod account;
pub mod identifiers;
mod lock;
#[cfg(test)]
mod matching_tests;
#[cfg(test)]
mod matrix;
#[cfg(test)]
mod passkey_tests;
mod passkeys;
#[cfg(test)]
mod request_tests;
mod requests;
pub mod rest;
mod step_up;
#[cfg(test)]
mod tests;
mod view;
