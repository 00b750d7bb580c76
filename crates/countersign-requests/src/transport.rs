//! The approval socket's transport, shared by the app's end and the requester's: its error,
//! and reading one line of at most `MAX_LINE` bytes.

use super::protocol::MAX_LINE;
use std::path::PathBuf;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt as _, BufReader};

/// Why the socket could not be used: no safe folder, another user's server, I/O, or an
/// answer that is not the protocol's.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("no private runtime directory: {0}")]
    RuntimeDir(String),
    /// The folder for the socket is not one only this user can use.
    #[error(
        "no safe folder for the approval socket: {path} {why}; set XDG_RUNTIME_DIR to a folder only you can use"
    )]
    UnsafeDir { path: PathBuf, why: String },
    /// The process serving the socket runs as another user (`SO_PEERCRED`).
    #[error(
        "the approval socket is served by uid {uid}, not by this user (uid {me}); nothing was sent"
    )]
    NotOurs { uid: u32, me: u32 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the app answered something unexpected: {0}")]
    Protocol(String),
}

impl SocketError {
    /// No app listens there (yet): the socket file is missing, or nobody accepts on it.
    pub fn no_app(&self) -> bool {
        matches!(self, SocketError::Io(e) if matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
        ))
    }

    /// The app closed the connection before answering: it is going away, or starting itself
    /// again at rest.
    pub fn went_away(&self) -> bool {
        matches!(self, SocketError::Io(e) if matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
        ))
    }
}

/// Reads one line, at most `MAX_LINE` bytes; `None` at end of stream.
pub async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *r)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a line is at most {MAX_LINE} bytes"),
        ));
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
