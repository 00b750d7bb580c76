use std::path::PathBuf;

/// Errors from starting or running the emulator as a library or binary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read state file {path}: {source}")]
    StateRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write state file {path}: {source}")]
    StateWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A state file that parses but cannot be used as it is (two users hold one identifier).
    #[error("state file {path} cannot be used: {message}")]
    StateInvalid { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    /// A customer's system (the step-up hook, its JWKS, a custom step's verification token)
    /// answered in a way the emulator refuses, or not at all; the text says why, for the
    /// operator's log and the refusal's message.
    #[error("{0}")]
    Customer(String),
    /// Users whose identifiers cannot be put in canonical form, or two users who hold one
    /// identifier (docs/protocol.md, "Identifiers"); the text names them.
    #[error("{0}")]
    Users(String),
}
