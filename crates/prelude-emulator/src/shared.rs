//! The state every handler shares: configuration, keys, the one lock over the data, the
//! clock, counters and the outbox feed.

use crate::config::Config;
use crate::origins::Origins;
use crate::persist::Persist;
use crate::state::{Data, Faults, OutboxMessage};
use crate::tokens::Keys;
use crate::util::unix_now;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::broadcast;

/// What `/emulator/v1/stats` counts unmatched paths as, so random paths cannot grow it.
pub const UNMATCHED: &str = "(unmatched)";

pub struct Shared {
    pub cfg: Config,
    pub keys: Keys,
    pub origins: Origins,
    data: Mutex<Data>,
    /// Seconds added to real time: the movable clock and the `clock_skew_secs` fault.
    offset: AtomicI64,
    pub outbox_tx: broadcast::Sender<OutboxMessage>,
    /// Requests per route template; bounded by the number of routes.
    stats: Mutex<BTreeMap<String, u64>>,
    hook_key: OnceLock<crate::hook::HookKey>,
    pub jwks_cache: crate::hook::JwksCache,
    /// For hook calls and customer JWKS; made on first use (it loads the trust store).
    http: OnceLock<reqwest::Client>,
    pub persist: Persist,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn new(cfg: Config, origins: Origins, data: Data) -> Self {
        let (outbox_tx, _) = broadcast::channel(64);
        Self {
            keys: Keys::from_seeds(&data.keys),
            offset: AtomicI64::new(data.faults.clock_skew_secs),
            persist: Persist::new(cfg.state_file.clone()),
            cfg,
            origins,
            data: Mutex::new(data),
            outbox_tx,
            stats: Mutex::new(BTreeMap::new()),
            hook_key: OnceLock::new(),
            jwks_cache: Default::default(),
            http: OnceLock::new(),
        }
    }

    /// The server clock: real time plus the offset.
    pub fn now(&self) -> i64 {
        unix_now().saturating_add(self.offset.load(Ordering::Relaxed))
    }

    pub fn clock_offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }

    /// Moves the clock; the value must already be range-checked.
    pub fn set_clock_offset(&self, secs: i64) {
        self.data().faults.clock_skew_secs = secs;
        self.offset.store(secs, Ordering::Relaxed);
        self.persist.mark();
    }

    /// The hook-signing key, made on first use (RSA key generation takes a moment).
    pub fn hook_key(&self) -> &crate::hook::HookKey {
        self.hook_key.get_or_init(crate::hook::HookKey::generate)
    }

    pub fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        })
    }

    pub fn data(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock cannot leave Data half-written in a way we could
        // repair, and handlers don't panic; keep serving rather than poisoning every request.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the fault switches; they must already be range-checked ([`Faults::check`]).
    pub fn set_faults(&self, faults: Faults) {
        self.offset.store(faults.clock_skew_secs, Ordering::Relaxed);
        let mut d = self.data();
        // Turning the nonce on starts a new one, so clients meet the demand at least once.
        if faults.require_dpop_nonce && !d.faults.require_dpop_nonce {
            d.dpop_nonce = crate::util::random_token(16);
        }
        d.faults = faults;
        drop(d);
        self.persist.mark();
    }

    pub fn reset(&self) {
        let mut d = self.data();
        let keys = d.keys.clone();
        *d = Data::new();
        d.keys = keys;
        if !self.cfg.bare {
            crate::demo::seed(&mut d, unix_now());
        }
        self.offset.store(0, Ordering::Relaxed);
        drop(d);
        self.persist.mark();
    }

    /// Delivers a "sent" message to the outbox (the demo phone and mailbox), unless the
    /// switches lose or delay it. The outbox keeps the newest `outbox_cap`.
    pub fn push_outbox(self: &Arc<Self>, d: &mut Data, msg: OutboxMessage) {
        if self.cfg.log_codes {
            tracing::info!(
                channel = ?msg.channel, to = %msg.to, purpose = ?msg.purpose, code = %msg.code,
                "emulated message sent"
            );
        } else {
            tracing::info!(channel = ?msg.channel, purpose = ?msg.purpose, "emulated message sent");
        }
        if d.faults.messages_lost {
            tracing::info!("message lost (switch)");
            return;
        }
        let delay = d.faults.message_delay_ms.min(crate::state::MAX_DELAY_MS);
        if delay == 0 {
            self.deliver(d, msg);
            return;
        }
        let app = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            let mut d = app.data();
            app.deliver(&mut d, msg);
            drop(d);
            app.persist.mark();
        });
    }

    fn deliver(&self, d: &mut Data, msg: OutboxMessage) {
        if d.outbox.len() >= self.cfg.outbox_cap {
            let extra = d.outbox.len() + 1 - self.cfg.outbox_cap;
            d.outbox.drain(..extra);
        }
        d.outbox.push(msg.clone());
        let _ = self.outbox_tx.send(msg);
    }

    pub fn count(&self, route: &str) {
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        match s.get_mut(route) {
            Some(n) => *n += 1,
            None => {
                s.insert(route.to_owned(), 1);
            }
        }
    }

    /// Requests seen on a route template (`/v1/session/refresh`, `/v2/session/apps/{app_id}/…`).
    pub fn request_count(&self, route: &str) -> u64 {
        let s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        s.get(route).copied().unwrap_or(0)
    }

    pub fn stats(&self) -> BTreeMap<String, u64> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
