//! A local emulator of the Prelude Session API, wire-compatible with
//! `https://{appId}.session.prelude.dev` as described in the project's PROTOCOL.md.
//!
//! Embed it with [`Emulator::start`], or run the `prelude-emulator` binary.

pub mod api;
pub mod config;
pub mod customer;
pub mod dpop;
mod emulator_api;
mod error;
mod frontend;
pub mod hook;
mod management;
pub mod server;
pub mod state;
mod tls;
pub mod tokens;
mod util;

pub use config::{Config, DEFAULT_MANAGEMENT_KEY};
pub use error::Error;
pub use server::{DemoScenario, Emulator};
pub use state::{Channel, Faults, OutboxMessage, Purpose};
