//! Approvals asked by other programs: `countersign approve` talks to the running app over a
//! per-user socket (socket.rs) in a small versioned protocol; `countersign://` links (link.rs)
//! ask too, and who asked is a source (source.rs). The app's approvals part
//! (`crate::approvals`) keeps them in a queue and puts each before the person in turn. One app
//! runs per profile (instance.rs). The protocol and the requester's end (`countersign
//! approve`, `countersign status`, number matching's rules) are the `countersign-requests`
//! crate, re-exported here. No Tauri type here.

pub use countersign_requests::{
    client, client_error, connection, matching, protocol, socket_dir, status, transport,
};
#[cfg(unix)]
pub mod instance;
pub mod link;
#[cfg(target_os = "linux")]
pub mod peer;
#[cfg(target_os = "linux")]
mod script;
pub mod socket;
pub mod source;
