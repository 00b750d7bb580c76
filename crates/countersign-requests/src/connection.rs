//! The requester's end of the approval socket: connect to the profile's app (checking, on
//! Unix, that it runs as this user), send one message, read the answers.

use super::protocol::{AppMessage, ClientMessage};
#[cfg(windows)]
use super::socket_dir::path;
#[cfg(unix)]
use super::socket_dir::runtime_dir;
use super::transport::{SocketError, read_line};
#[cfg(unix)]
use std::path::Path;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// A connection to the running app for `profile`, if one listens.
///
/// # Errors
/// No safe folder, no app ([`SocketError::no_app`]), or an app of another user.
#[cfg(unix)]
pub async fn connect(profile: &str) -> Result<Connection, SocketError> {
    let dir = runtime_dir()?;
    connect_at(&dir.socket(profile)?).await
}

/// Connects to the socket at `path` and, before anything is sent, checks that the process
/// serving it runs as this user (`SO_PEERCRED`, unix(7)).
///
/// # Errors
/// [`SocketError::NotOurs`] for another user's server; I/O errors as they come.
#[cfg(unix)]
pub async fn connect_at(path: &Path) -> Result<Connection, SocketError> {
    let s = tokio::net::UnixStream::connect(path).await?;
    let uid = s.peer_cred()?.uid();
    let me = nix::unistd::geteuid().as_raw();
    if uid != me {
        return Err(SocketError::NotOurs { uid, me });
    }
    Ok(Connection::new(s))
}

#[cfg(windows)]
pub async fn connect(profile: &str) -> Result<Connection, SocketError> {
    let s = tokio::net::windows::named_pipe::ClientOptions::new().open(path(profile)?)?;
    Ok(Connection::new(s))
}

/// The client's end: send one message, read the answers.
pub struct Connection {
    r: BufReader<Box<dyn AsyncRead + Unpin + Send>>,
    w: Box<dyn AsyncWrite + Unpin + Send>,
}

impl Connection {
    fn new<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(s: S) -> Self {
        let (r, w) = tokio::io::split(s);
        Self {
            r: BufReader::new(Box::new(r)),
            w: Box::new(w),
        }
    }

    pub async fn send(&mut self, m: &ClientMessage) -> Result<(), SocketError> {
        let mut line = serde_json::to_vec(m).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.w.write_all(&line).await?;
        self.w.flush().await?;
        Ok(())
    }

    /// The next answer; `None` when the app closed the connection.
    pub async fn next(&mut self) -> Result<Option<AppMessage>, SocketError> {
        match read_line(&mut self.r).await? {
            None => Ok(None),
            Some(l) => serde_json::from_str(l.trim_end())
                .map(Some)
                .map_err(|e| SocketError::Protocol(e.to_string())),
        }
    }
}
