//! Approvals asked by other programs: `countersign approve` (client.rs) talks to the running
//! app over a per-user socket (socket.rs) in a small versioned protocol (protocol.rs);
//! `countersign://` links (link.rs) ask too, and who asked is a source (source.rs). The app's
//! approvals part (`crate::approvals`) keeps them in a queue and puts each before the person
//! in turn. One app runs per profile (instance.rs); `countersign status` (status.rs) asks it
//! how it is. A program's request is number-matched (matching.rs). No Tauri type here.

pub mod client;
pub mod client_error;
pub mod connection;
#[cfg(unix)]
pub mod instance;
pub mod link;
pub mod matching;
#[cfg(target_os = "linux")]
pub mod peer;
pub mod protocol;
#[cfg(target_os = "linux")]
mod script;
pub mod socket;
pub mod socket_dir;
pub mod source;
pub mod status;
pub mod transport;
