//! Shared set-up: a real emulator on a loopback port and a client with an in-memory store.
#![allow(dead_code)]

use prelude_emulator::{Config, Emulator, OutboxMessage};
use prelude_session::{ClientConfig, Endpoint, Identifier, MemoryStore, SessionClient};
use std::sync::Arc;
use std::time::Duration;

pub const PHONE: &str = "+33612345678";

pub async fn emulator() -> Emulator {
    emulator_with(Config::default()).await
}

/// Moves the emulator's clock forward, past a cooldown or an expiry, instead of sleeping.
pub fn move_clock(emu: &Emulator, secs: i64) {
    let app = emu.state();
    app.set_clock_offset(app.clock_offset() + secs);
}

/// Waits until the emulator has received `n` more requests on `route` than `before`.
pub async fn arrived(emu: &Emulator, route: &str, before: u64, n: u64) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while emu.state().request_count(route) < before + n {
        assert!(
            std::time::Instant::now() < until,
            "{route} never reached the emulator"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn emulator_with(cfg: Config) -> Emulator {
    Emulator::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

pub fn client(emu: &Emulator) -> SessionClient {
    client_with_store(emu, Arc::new(MemoryStore::new()))
}

pub fn client_with_store(emu: &Emulator, store: Arc<MemoryStore>) -> SessionClient {
    let mut cfg = ClientConfig::new(Endpoint::url(&emu.url()).unwrap());
    cfg.timeout = Duration::from_secs(5);
    cfg.profile = "test".into();
    SessionClient::new(cfg, store).unwrap()
}

pub fn last_code(emu: &Emulator) -> OutboxMessage {
    emu.outbox().last().cloned().expect("a message was sent")
}

pub async fn login(emu: &Emulator, c: &SessionClient, who: &str) -> prelude_session::User {
    let id = Identifier::parse(who).unwrap();
    c.start_otp_login(&id).await.unwrap();
    let code = last_code(emu).code;
    c.check_otp(&code).await.unwrap()
}
