//! The per-user local socket the app listens on: a Unix domain socket in the user's runtime
//! directory (mode 0600 in a 0700 directory, and the peer's uid checked), or a named pipe on
//! Windows. One line of JSON each way (protocol.rs).

use super::protocol::{AppMessage, BadRequest, ClientMessage, MAX_LINE};
use super::queue::Source;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("no private runtime directory: {0}")]
    RuntimeDir(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the app answered something unexpected: {0}")]
    Protocol(String),
}

/// What the app does with what arrives; the socket knows nothing of windows or sessions.
pub trait Desk: Clone + Send + Sync + 'static {
    /// Puts a request before the person. `Ok` gives its id and place in the queue; `Err` the
    /// refusal to send back at once.
    fn submit(
        &self,
        source: Source,
        ask: super::protocol::Ask,
        reply: tokio::sync::oneshot::Sender<super::protocol::Outcome>,
    ) -> impl Future<Output = Result<(String, usize), Box<super::protocol::Outcome>>> + Send;
    /// The requester went away before an answer.
    fn withdraw(&self, id: String) -> impl Future<Output = ()> + Send;
    /// A second launch: bring the window forward and open its link, if any.
    fn show(&self, link: Option<String>) -> impl Future<Output = ()> + Send;
}

/// The socket for `profile`: `$XDG_RUNTIME_DIR/countersign/PROFILE.sock`, or under a private
/// directory in the temp dir when there is no runtime dir.
#[cfg(unix)]
pub fn path(profile: &str) -> Result<PathBuf, SocketError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let uid = nix::unistd::geteuid().as_raw();
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| std::env::temp_dir().join(format!("countersign-{uid}")));
    let dir = base.join("countersign");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| SocketError::RuntimeDir(format!("{}: {e}", dir.display())))?;
    let meta = std::fs::symlink_metadata(&dir)
        .map_err(|e| SocketError::RuntimeDir(format!("{}: {e}", dir.display())))?;
    // Someone else's directory, or one others can enter, could hold a socket that is not ours.
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        return Err(SocketError::RuntimeDir(format!(
            "{} is not a directory private to this user",
            dir.display()
        )));
    }
    let p = dir.join(format!("{profile}.sock"));
    // sockaddr_un holds 108 bytes with the terminating NUL.
    if p.as_os_str().len() > 107 {
        return Err(SocketError::RuntimeDir(format!(
            "{} is too long for a socket path",
            p.display()
        )));
    }
    Ok(p)
}

#[cfg(windows)]
pub fn path(profile: &str) -> Result<PathBuf, SocketError> {
    let user = std::env::var("USERNAME").unwrap_or_default();
    let user: String = user.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    Ok(PathBuf::from(format!(
        r"\\.\pipe\countersign-{user}-{profile}"
    )))
}

/// Reads one line, at most `MAX_LINE` bytes; `None` at end of stream.
async fn read_line<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> std::io::Result<Option<String>> {
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

use tokio::io::AsyncReadExt as _;

async fn write_msg<W: AsyncWrite + Unpin>(w: &mut W, m: &AppMessage) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(m).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await?;
    w.flush().await
}

/// Serves one connection from a checked peer.
async fn serve_one<S, D>(stream: S, source: Source, desk: D)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    D: Desk,
{
    let (r, mut w) = tokio::io::split(stream);
    let mut r = BufReader::new(r);
    let first = tokio::time::timeout(Duration::from_secs(10), read_line(&mut r)).await;
    let line = match first {
        Ok(Ok(Some(l))) => l,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => return refuse(&mut w, &e.to_string()).await,
        Err(_) => return refuse(&mut w, "no request within 10 s").await,
    };
    let msg = match ClientMessage::parse(line.trim_end()) {
        Ok(m) => m,
        Err(BadRequest(why)) => return refuse(&mut w, &why).await,
    };
    match msg {
        ClientMessage::Show { link, .. } => {
            desk.show(link).await;
            let _ = write_msg(
                &mut w,
                &AppMessage::Shown {
                    v: super::protocol::VERSION,
                },
            )
            .await;
        }
        ClientMessage::Approve {
            scope,
            metadata,
            reason,
            timeout_secs,
            want_token,
            ..
        } => {
            let ask = match super::protocol::Ask::check(
                &scope,
                metadata,
                reason.as_deref(),
                timeout_secs,
                want_token,
            ) {
                Ok(a) => a,
                Err(BadRequest(why)) => return refuse(&mut w, &why).await,
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (id, position) = match desk.submit(source, ask, tx).await {
                Ok(q) => q,
                Err(outcome) => {
                    let _ = write_msg(&mut w, &AppMessage::Result(outcome)).await;
                    return;
                }
            };
            let queued = AppMessage::Queued {
                v: super::protocol::VERSION,
                request_id: id.clone(),
                position,
            };
            if write_msg(&mut w, &queued).await.is_err() {
                return desk.withdraw(id).await;
            }
            // The requester sends nothing more: any read that returns means it closed (or
            // broke the protocol), and either way it no longer waits.
            let mut scratch = [0u8; 64];
            tokio::select! {
                outcome = rx => {
                    if let Ok(o) = outcome {
                        let _ = write_msg(&mut w, &AppMessage::Result(Box::new(o))).await;
                    }
                }
                _ = r.read(&mut scratch) => desk.withdraw(id).await,
            }
        }
    }
}

async fn refuse<W: AsyncWrite + Unpin>(w: &mut W, why: &str) {
    let outcome = super::protocol::Outcome {
        v: super::protocol::VERSION,
        status: super::protocol::Status::Refused,
        scope: String::new(),
        metadata: Default::default(),
        session_id: None,
        challenge_id: None,
        grant_expires_at: None,
        reason: Some(why.to_owned()),
        code: Some("invalid_input".into()),
        access_token: None,
    };
    let _ = write_msg(w, &AppMessage::Result(Box::new(outcome))).await;
}

/// The program behind a peer pid, as the kernel names it.
#[cfg(unix)]
fn program_name(pid: Option<i32>) -> String {
    pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "a program".to_owned())
}

/// Listens on the profile's socket until the task is dropped. A stale socket file (no one
/// answers on it) is replaced; a live one means another instance owns the profile.
#[cfg(unix)]
pub async fn listen<D: Desk>(profile: &str, desk: D) -> Result<(), SocketError> {
    use std::os::unix::fs::PermissionsExt;
    let path = path(profile)?;
    if path.exists() {
        if tokio::net::UnixStream::connect(&path).await.is_ok() {
            return Err(SocketError::Protocol(format!(
                "another Countersign already listens on {}",
                path.display()
            )));
        }
        std::fs::remove_file(&path)?;
    }
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    tracing::info!(socket = %path.display(), "listening for approval requests");
    let me = nix::unistd::geteuid().as_raw();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "approval socket accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let cred = match stream.peer_cred() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "approval socket peer without credentials; refused");
                continue;
            }
        };
        if cred.uid() != me {
            tracing::warn!(
                uid = cred.uid(),
                "approval socket peer of another user; refused"
            );
            continue;
        }
        let source = Source::Program {
            name: program_name(cred.pid()),
            pid: cred.pid().map_or(0, |p| p as u32),
        };
        tokio::spawn(serve_one(stream, source, desk.clone()));
    }
}

#[cfg(windows)]
pub async fn listen<D: Desk>(profile: &str, desk: D) -> Result<(), SocketError> {
    use tokio::net::windows::named_pipe::ServerOptions;
    let name = path(profile)?;
    // The pipe's default security descriptor admits only this user and the system.
    let mut server = ServerOptions::new()
        .first_pipe_instance(true)
        .reject_remote_clients(true)
        .create(&name)?;
    loop {
        server.connect().await?;
        let connected = server;
        server = ServerOptions::new()
            .reject_remote_clients(true)
            .create(&name)?;
        let source = Source::Program {
            name: "a program".to_owned(),
            pid: 0,
        };
        tokio::spawn(serve_one(connected, source, desk.clone()));
    }
}

/// A connection to the running app for `profile`, if one listens.
#[cfg(unix)]
pub async fn connect(profile: &str) -> Result<Connection, SocketError> {
    let s = tokio::net::UnixStream::connect(path(profile)?).await?;
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
