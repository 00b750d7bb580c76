//! A local emulator of the Prelude Session API, wire-compatible with
//! `https://{appId}.session.prelude.dev` as `docs/protocol.md` describes it.
//!
//! Embed it with [`Emulator::start`], or run the `prelude-emulator` binary.

mod api;
mod attestation;
mod config;
mod control;
pub mod customer;
mod demo;
mod dpop;
mod embed;
mod error;
mod extract;
mod faults;
mod frontend;
mod guard;
pub mod hook;
mod layers;
mod limits;
mod management;
mod origins;
mod passkey_state;
mod persist;
mod router;
mod saver;
pub mod scenario;
mod serve;
mod shared;
pub mod state;
mod tls;
mod tokens;
mod util;
mod webauthn;

pub use config::{Config, DEFAULT_MANAGEMENT_KEY, random_management_key};
pub use demo::{APP_STEP, DEMO_EMAIL, DEMO_PHONE, DemoScenario};
pub use embed::Emulator;
pub use error::Error;
pub use scenario::Scenario;
pub use serve::{MAX_BODY_BYTES, SHUTDOWN_LIMIT};
pub use shared::{AppState, Shared};
pub use state::{Channel, CodeStatus, Faults, OutboxMessage, Purpose};
