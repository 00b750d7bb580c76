//! The demo part: the embedded emulator this app hosts (or a standalone one it reaches over
//! HTTP), the stand-in for the customer's backend that signs custom steps, the test bench
//! (bench.rs) and the demo inbox with its void codes (outbox.rs). Nothing here exists for a
//! real Prelude app. No Tauri type.

pub mod bench;
mod outbox;

use crate::error::{AppError, AppResult};
use crate::view::InboxMessage;
use outbox::OutboxMarks;
use prelude_emulator::customer::CustomerBackend;
use prelude_emulator::{Config as EmuConfig, DemoScenario, Emulator};
use secrecy::SecretString;
use std::path::PathBuf;
use std::time::Duration;

/// The demo's servers and marks; empty for a real Prelude app.
#[derive(Default)]
pub struct Demo {
    emulator: Option<Emulator>,
    /// The server answers the emulator's demo routes (its origin).
    demo_url: Option<String>,
    /// A standalone emulator's management key, sent on its control plane (`http`).
    emulator_key: Option<SecretString>,
    /// The stand-in for the customer's backend that signs custom-step tokens; started with
    /// the first demo scenario that has a custom step.
    customer: Option<CustomerBackend>,
    /// The embedded demo's messages before the open approval began, and the codes of
    /// approvals ended unanswered: the demo inbox marks those void.
    outbox: OutboxMarks,
}

/// What starting the embedded emulator says to the person, when its saved state was damaged.
const REPAIRED: &str = "The demo server's saved state could not be read as it was: it was repaired or set aside, and the demo starts from what could be kept.";

impl Demo {
    /// Starts the embedded emulator, with its state in `data_dir` for `profile` and codes
    /// resent after `cooldown`; the notice to show when its saved state was repaired.
    ///
    /// # Errors
    /// [`AppError::Emulator`] when it cannot start.
    pub async fn embedded(
        profile: &str,
        data_dir: Option<PathBuf>,
        cooldown: Duration,
    ) -> AppResult<(Self, Option<String>)> {
        let cfg = EmuConfig {
            state_file: data_dir.map(|d| d.join(format!("emulator-{profile}.json"))),
            log_codes: false,
            resend_cooldown_secs: cooldown.as_secs() as i64,
            // The app drives its emulator in process: no control plane over HTTP, and a
            // management key no one else knows (never logged).
            control_plane: false,
            management_key: prelude_emulator::random_management_key(),
            ..EmuConfig::default()
        };
        let emu = Emulator::start(cfg, "127.0.0.1:0".parse().expect("static address"))
            .await
            .map_err(|e| AppError::Emulator(e.to_string()))?;
        for n in emu.notices() {
            tracing::warn!("{n}");
        }
        let notice = (!emu.notices().is_empty()).then(|| REPAIRED.to_owned());
        let demo = Self {
            demo_url: Some(emu.url().trim_end_matches('/').to_owned()),
            emulator: Some(emu),
            ..Self::default()
        };
        Ok((demo, notice))
    }

    /// A server reached by URL: a demo when it answers the emulator's demo routes (with
    /// `key`, when one is known).
    pub async fn reached(origin: &str, key: Option<SecretString>) -> Self {
        let demo = crate::http::probe_demo(origin, key.as_ref()).await;
        Self {
            demo_url: demo.then(|| origin.to_owned()),
            emulator_key: key,
            ..Self::default()
        }
    }

    /// The embedded emulator, if this app hosts one.
    pub fn emulator(&self) -> Option<&Emulator> {
        self.emulator.as_ref()
    }

    /// Whether the server is an emulator (embedded or standalone).
    pub fn is_demo(&self) -> bool {
        self.demo_url.is_some()
    }

    /// The embedded demo's scenario by name.
    pub fn scenario(&self) -> Option<&'static str> {
        self.emulator
            .as_ref()
            .and_then(|e| e.scenario())
            .map(|s| s.name())
    }

    /// Whether the stand-in for the customer's backend runs (it completes custom steps here).
    pub fn has_customer(&self) -> bool {
        self.customer.is_some()
    }

    /// The stand-in for the customer's backend, once started.
    pub fn customer(&self) -> Option<&CustomerBackend> {
        self.customer.as_ref()
    }

    /// The base URL of an emulator reached over HTTP (not embedded): for the inbox poller and
    /// the test bench.
    pub fn external_origin(&self) -> Option<&str> {
        self.emulator
            .is_none()
            .then_some(self.demo_url.as_deref())
            .flatten()
    }

    /// The management key sent to a standalone emulator's control plane, if any.
    pub fn emulator_key(&self) -> Option<&SecretString> {
        self.emulator_key.as_ref()
    }

    /// Uses `key` from now on; a standalone emulator at `origin` (a URL server) that refused
    /// the app before is asked again.
    pub async fn set_emulator_key(&mut self, key: Option<&str>, origin: Option<&str>) {
        self.emulator_key = key.map(Into::into);
        if self.emulator.is_none()
            && let Some(origin) = origin
        {
            self.demo_url = crate::http::probe_demo(origin, self.emulator_key.as_ref())
                .await
                .then(|| origin.to_owned());
        }
    }

    /// Writes the embedded server's state now, if it changed.
    pub fn flush(&self) {
        if let Some(e) = &self.emulator
            && let Err(e) = e.flush()
        {
            tracing::error!(error = %e, "the embedded server's state was not saved");
        }
    }

    /// Stops the embedded server.
    pub async fn shutdown(self) {
        if let Some(e) = self.emulator {
            e.shutdown().await;
        }
    }

    /// The demo phone's and mailbox's messages, those of approvals ended unanswered marked
    /// void.
    ///
    /// # Errors
    /// [`AppError::DemoOnly`] for a server that is not an emulator; a standalone emulator's
    /// refusal.
    pub async fn inbox(&self) -> AppResult<Vec<InboxMessage>> {
        if let Some(e) = &self.emulator {
            return Ok(self.outbox.marked(e));
        }
        match &self.demo_url {
            Some(url) => crate::http::fetch_outbox(url, self.emulator_key.as_ref()).await,
            None => Err(AppError::DemoOnly),
        }
    }

    /// Picks the embedded demo's scenario by its name, starting the customer's stand-in for
    /// one with a custom step.
    ///
    /// # Errors
    /// [`AppError::DemoOnly`] without an embedded demo; [`AppError::InvalidInput`] for an
    /// unknown name.
    pub async fn set_scenario(&mut self, name: &str) -> AppResult<()> {
        if self.emulator.is_none() {
            return Err(AppError::DemoOnly);
        }
        let s = DemoScenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| AppError::InvalidInput(format!("unknown scenario {name}")))?;
        if s == DemoScenario::EmailThenApp {
            self.start_customer().await?;
        }
        if let Some(emu) = &self.emulator {
            emu.set_scenario(s);
        }
        Ok(())
    }

    /// A demo left on "email, then a check in your app" needs its stand-in again at start.
    pub async fn restart_customer(&mut self) {
        let custom_demo =
            self.emulator.as_ref().and_then(|e| e.scenario()) == Some(DemoScenario::EmailThenApp);
        if custom_demo && let Err(e) = self.start_customer().await {
            tracing::warn!(error = %e, "the demo's customer backend did not start");
        }
    }

    /// Starts the stand-in for the customer's backend, once, and points the embedded server's
    /// custom steps at its keys. Made on first use: it generates an RSA key.
    async fn start_customer(&mut self) -> AppResult<()> {
        let emu = self.emulator.as_ref().ok_or(AppError::DemoOnly)?;
        if self.customer.is_none() {
            let customer = CustomerBackend::start(serde_json::json!({"status": "block"}))
                .await
                .map_err(|e| AppError::Emulator(e.to_string()))?;
            emu.set_jwks_url(Some(customer.jwks_url()));
            self.customer = Some(customer);
        }
        Ok(())
    }

    /// Resets the embedded demo server.
    ///
    /// # Errors
    /// [`AppError::DemoOnly`] without an embedded demo.
    pub fn reset(&self) -> AppResult<()> {
        self.emulator.as_ref().ok_or(AppError::DemoOnly)?.reset();
        Ok(())
    }

    /// Notes the embedded demo's messages as an approval begins.
    pub fn approval_began(&mut self) {
        if let Some(e) = &self.emulator {
            self.outbox.began(e);
        }
    }

    /// The step-up codes sent since the approval began are void: it ended unanswered.
    pub fn approval_abandoned(&mut self) {
        if let Some(e) = &self.emulator {
            self.outbox.abandoned(e);
        }
    }

    /// The demo codes sent to `to` for `purpose` are void: what they were for was given up,
    /// and nothing can enter them any more.
    pub fn void_sent_to(&mut self, purpose: prelude_emulator::Purpose, to: &str) {
        if let Some(e) = &self.emulator {
            self.outbox.void_sent_to(e, purpose, to);
        }
    }
}
