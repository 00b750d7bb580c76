//! Shared set-up: a real emulator on a loopback port and a client with an in-memory store.
#![allow(dead_code)]

use prelude_emulator::{Config, Emulator, OutboxMessage};
use prelude_session::{ClientConfig, Endpoint, Identifier, MemoryStore, SessionClient};
use std::sync::Arc;
use std::time::Duration;

pub const PHONE: &str = "+33612345678";

pub async fn emulator() -> Emulator {
    emulator_with(Config {
        resend_cooldown_secs: 1,
        ..Config::default()
    })
    .await
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
