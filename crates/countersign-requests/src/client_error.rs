//! Why `countersign approve` or `countersign status` could not ask the app: printed to the
//! terminal, with exit status 3.

use super::protocol::BadRequest;
use super::transport::SocketError;

/// A requester command's failure before an answer came. The words are what the terminal shows
/// after `countersign approve: ` (or `countersign status: `).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The profile's name breaks its rule.
    #[error("{0}")]
    Profile(#[from] crate::profile::BadProfile),
    /// The request breaks a wire rule (docs/approval-protocol.md, "Ask").
    #[error("{0}")]
    Request(#[from] BadRequest),
    /// `--meta` without a `=`.
    #[error("--meta {0:?} is not KEY=VALUE")]
    MetaNotPair(String),
    /// The same `--meta` key twice.
    #[error("--meta {0:?} is given twice")]
    MetaTwice(String),
    /// The socket could not be reached safely, or broke.
    #[error("{0}")]
    Socket(#[from] SocketError),
    /// The request could not be written to the socket.
    #[error("could not send the request: {0}")]
    Send(#[source] SocketError),
    /// The `status` op could not be written to the socket.
    #[error("could not ask the app: {0}")]
    Ask(#[source] SocketError),
    /// The app offered a number outside the set it draws from.
    #[error("the app sent {0} as the number to pick")]
    BadNumber(u8),
    /// The app answered with a message for another request.
    #[error("the app answered a different request")]
    OtherAnswer,
    /// The app closed the connection before its answer.
    #[error("Countersign closed before answering")]
    Closed,
    /// The app closed the connection before it took the request (it was starting again, or
    /// quitting): nothing was queued, so the request may be sent again.
    #[error("Countersign closed before taking the request")]
    NotTaken,
    /// `status`: the app closed the connection before its answer.
    #[error("the app closed the connection without an answer")]
    ClosedWithoutAnswer,
    /// `status`: no answer within the wait, in seconds.
    #[error("the app did not answer within {0} s")]
    NoAnswer(u64),
    /// `status`: the profile's lock is held but no socket came up within the wait, in seconds.
    #[error(
        "the app for profile {profile} holds its lock but its socket did not come up within {secs} s"
    )]
    SocketLate { profile: String, secs: u64 },
    /// The program's own path is unknown, so the app cannot be started.
    #[error("cannot find Countersign: {0}")]
    NoProgram(#[source] std::io::Error),
    /// The app (at the path given) could not be started.
    #[error("could not start Countersign ({0}): {1}")]
    Start(String, #[source] std::io::Error),
    /// The started app exited with a failure before its socket came up.
    #[error("Countersign exited at start ({0})")]
    ExitedAtStart(std::process::ExitStatus),
    /// The started app's socket did not come up within the wait, in seconds.
    #[error("Countersign did not start within {0} s")]
    StartTimeout(u64),
}
