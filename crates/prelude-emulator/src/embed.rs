//! The in-process handle: [`Emulator::start`] binds, loads the state, and spawns the server,
//! the saver and the purger; the handle reads and moves the state for tests and the app.

use crate::config::Config;
use crate::demo::{self, DemoScenario};
use crate::origins::Origins;
use crate::shared::{AppState, Shared};
use crate::state::{Data, Faults, OutboxMessage};
use crate::util::unix_now;
use crate::{Error, persist, saver};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::router::router;
use crate::serve::{accept_loop, stopped};

/// How often ended verifications, challenges and spent tokens are forgotten.
const PURGE_EVERY: Duration = Duration::from_secs(10);

/// A running emulator. Dropping it leaves the server running until the runtime ends; call
/// [`Emulator::shutdown`] to stop it cleanly.
pub struct Emulator {
    shared: AppState,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    notices: Vec<String>,
    cert_pem: Option<String>,
}

impl Emulator {
    /// Binds `addr` (port 0 picks a free port) and serves until shut down.
    pub async fn start(cfg: Config, addr: SocketAddr) -> Result<Self, Error> {
        // The hook client and the HTTPS listener need a TLS provider; an earlier one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        cfg.validate()?;
        cfg.check_reach(addr)?;
        let (loaded, notices) = match &cfg.state_file {
            Some(p) => persist::load(p)?,
            None => (None, vec![]),
        };
        for n in &notices {
            tracing::warn!("{n}");
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let origins = Origins::new(&cfg.addresses(), addr)?;
        let fresh = loaded.is_none();
        let shared = Arc::new(Shared::new(cfg, origins, loaded.unwrap_or_else(Data::new)));
        if fresh && !shared.cfg.bare {
            demo::seed(&mut shared.data(), unix_now());
        } else if !shared.cfg.bare {
            for what in demo::upgrade(&mut shared.data(), unix_now()) {
                tracing::info!("demo state from an older version: added {what}");
            }
        }
        if let Some(s) = shared.cfg.scenario.clone() {
            s.apply(&shared)
                .map_err(|e| Error::Config(format!("scenario: {}", e.message)))?;
        }
        shared.persist.mark();
        saver::save_if_dirty(&shared)?;

        let mut cert_pem = None;
        let tls = if shared.cfg.tls {
            let names = crate::tls::cert_names(&shared.origins);
            let (acceptor, pem) = crate::tls::self_signed(names)?;
            if let Some(out) = &shared.cfg.cert_out {
                persist::write_private(out, pem.as_bytes()).map_err(|source| {
                    Error::StateWrite {
                        path: out.clone(),
                        source,
                    }
                })?;
            }
            cert_pem = Some(pem);
            Some(acceptor)
        } else {
            None
        };
        let (stop, stopped) = watch::channel(false);
        let serve = accept_loop(
            listener,
            tls,
            router(shared.clone()),
            shared.cfg.clone(),
            stopped.clone(),
        );
        let tasks = vec![
            tokio::spawn(serve),
            saver::spawn_saver(shared.clone(), stopped.clone()),
            spawn_purger(shared.clone(), stopped),
        ];
        Ok(Self {
            shared,
            addr,
            stop,
            tasks,
            notices,
            cert_pem,
        })
    }

    /// The origin clients use: `--public-url`, else the bound address.
    pub fn url(&self) -> String {
        self.shared.origins.public.clone()
    }

    /// The self-signed certificate (PEM) when serving HTTPS.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Problems met at start that did not stop it (a corrupt state file moved aside, values
    /// repaired).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    pub fn state(&self) -> &AppState {
        &self.shared
    }

    pub fn subscribe_outbox(&self) -> broadcast::Receiver<OutboxMessage> {
        self.shared.outbox_tx.subscribe()
    }

    pub fn outbox(&self) -> Vec<OutboxMessage> {
        self.shared.data().outbox_at(self.shared.now())
    }

    pub fn reset(&self) {
        self.shared.reset();
        self.saved();
    }

    /// Sets the fault switches, refusing a value out of range (the field is named).
    pub fn set_faults(&self, faults: Faults) -> Result<(), Error> {
        faults
            .check()
            .map_err(|(field, why)| Error::Config(format!("{field}: {why}")))?;
        self.shared.set_faults(faults);
        self.saved();
        Ok(())
    }

    /// The fault switches in force.
    pub fn faults(&self) -> Faults {
        self.shared.data().faults.clone()
    }

    /// Why the last passkey ceremony was refused, if one was since the start.
    pub fn last_passkey_refusal(&self) -> Option<crate::state::PasskeyRefusal> {
        self.shared.data().last_passkey_refusal.clone()
    }

    /// Seconds the emulated clock is ahead of real time (negative: behind).
    pub fn clock_offset(&self) -> i64 {
        self.shared.clock_offset()
    }

    /// The emulated time, unix seconds.
    pub fn now(&self) -> i64 {
        self.shared.now()
    }

    /// Moves the clock to `secs` from real time (0 is now); at most a week either way.
    pub fn set_clock_offset(&self, secs: i64) -> Result<(), Error> {
        if secs.abs() > crate::state::MAX_CLOCK_OFFSET_SECS {
            return Err(Error::Config(
                "offset_secs: must be within ±604800 s (7 days)".into(),
            ));
        }
        self.shared.set_clock_offset(secs);
        self.saved();
        Ok(())
    }

    /// Which preset the rules for `transfer:write` are, if they are one.
    pub fn scenario(&self) -> Option<DemoScenario> {
        let d = self.shared.data();
        let rules: Vec<_> = d
            .stepup_config
            .as_ref()?
            .allowed_scopes
            .iter()
            .filter(|r| r.scope == "transfer:write")
            .cloned()
            .collect();
        DemoScenario::ALL
            .into_iter()
            .find(|s| demo::demo_rules(*s) == rules)
    }

    /// Switches the decision for `transfer:write` (the app's scenario presets).
    pub fn set_scenario(&self, scenario: DemoScenario) {
        let now = self.shared.now();
        demo::apply_scenario(&mut self.shared.data(), scenario, now);
        self.saved();
    }

    /// A change through this API is a person's choice: it is written at once, not within the
    /// second, so an app that exits right after keeps it.
    fn saved(&self) {
        self.shared.persist.mark();
        if let Err(e) = saver::save_if_dirty(&self.shared) {
            tracing::error!(error = %e, "state not saved");
        }
    }

    /// The configuration, users and switches as a scenario file (no keys, codes or tokens).
    pub fn export_scenario(&self) -> crate::Scenario {
        crate::Scenario::export(&self.shared)
    }

    /// Replaces them with a scenario's; a scenario with an error changes nothing.
    pub fn import_scenario(&self, s: crate::Scenario) -> Result<(), Error> {
        s.apply(&self.shared)
            .map_err(|e| Error::Config(format!("scenario: {}", e.message)))?;
        self.saved();
        Ok(())
    }

    /// Writes the state now if it changed since the last save (saves are otherwise coalesced,
    /// about once a second); for an embedding app about to exit.
    pub fn flush(&self) -> Result<(), Error> {
        saver::save_if_dirty(&self.shared)
    }

    /// Where custom-step verification tokens are checked (the customer's JWKS), or none.
    pub fn set_jwks_url(&self, url: Option<String>) {
        let now = self.shared.now();
        let mut d = self.shared.data();
        let cfg = d
            .stepup_config
            .get_or_insert_with(|| crate::state::StepUpConfig {
                created_at: now,
                ..Default::default()
            });
        cfg.jwks_url = url;
        cfg.updated_at = now;
        drop(d);
        self.saved();
    }

    /// Stops serving and saves; returns within about [`SHUTDOWN_LIMIT`] whatever clients do,
    /// once the port is free.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn spawn_purger(app: AppState, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped(&mut stop) => break,
            }
            let now = app.now();
            app.data().purge(now, &app.cfg);
        }
    })
}
