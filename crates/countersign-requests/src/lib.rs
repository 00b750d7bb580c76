//! Countersign's approval socket, as both ends share it, and the requester's end of it.
//!
//! The app (`countersign-app`, which links GTK and WebKit) serves the socket; the `countersign`
//! command is this crate's small binary, which links neither. `countersign approve` and
//! `countersign status` run here, so a script's request costs no GUI library load (about
//! 58 ms on a 2-core machine); every other use of `countersign` becomes the app
//! ([`launcher`]). Protocol: docs/approval-protocol.md.

pub mod client;
pub mod client_error;
pub mod connection;
pub mod harden;
pub mod launcher;
pub mod matching;
pub mod profile;
pub mod program;
pub mod protocol;
pub mod redacted;
pub mod socket_dir;
pub mod status;
pub mod transport;
