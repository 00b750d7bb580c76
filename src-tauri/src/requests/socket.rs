//! The per-user local socket the app listens on: a Unix domain socket in a folder only the
//! user can use (checked on its open handle), mode 0600, with the peer's uid checked both
//! ways; or a named pipe on Windows. One line of JSON each way (protocol.rs).

use super::protocol::{AppMessage, BadRequest, ClientMessage};
use super::source::Source;
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt, BufReader};

pub use super::transport::SocketError;
use super::transport::read_line;

/// The binary of `countersign approve`, whose peers are described by their parent.
#[cfg(target_os = "linux")]
pub type Helper = super::peer::Helper;
#[cfg(all(unix, not(target_os = "linux")))]
pub type Helper = ();

/// What the app does with what arrives; the socket knows nothing of windows or sessions.
pub trait Desk: Clone + Send + Sync + 'static {
    /// Puts a request before the person. `Ok` gives its id, place in the queue and number
    /// (matching.rs); `Err` the refusal to send back at once.
    fn submit(
        &self,
        source: Source,
        ask: super::protocol::Ask,
        reply: tokio::sync::oneshot::Sender<super::protocol::Outcome>,
    ) -> impl Future<Output = Result<(String, usize, Option<u8>), Box<super::protocol::Outcome>>> + Send;
    /// The requester went away before an answer.
    fn withdraw(&self, id: String) -> impl Future<Output = ()> + Send;
    /// A second launch: bring the window forward and open its link, if any.
    fn show(&self, link: Option<String>) -> impl Future<Output = ()> + Send;
    /// `countersign status`: how the app is now.
    fn status(&self) -> impl Future<Output = super::protocol::AppStatus> + Send;
}

#[cfg(unix)]
pub use super::connection::connect_at;
pub use super::connection::{Connection, connect};
#[cfg(windows)]
pub use super::socket_dir::path;
#[cfg(unix)]
pub use super::socket_dir::{PrivateDir, runtime_dir};

async fn write_msg<W: AsyncWrite + Unpin>(w: &mut W, m: &AppMessage) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(m).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await?;
    w.flush().await
}

/// Something that becomes readable when the described requester ends: its pidfd.
trait Ends: Send {
    fn ended(&self) -> impl Future<Output = ()> + Send;
}

#[cfg(target_os = "linux")]
impl Ends for std::os::fd::OwnedFd {
    async fn ended(&self) {
        // tokio's safe ways to register a raw fd are deprecated; looking twice a second is
        // cheap, and soon enough for a person.
        while !super::peer::has_ended(self).unwrap_or(false) {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Where nothing is watched.
#[cfg(not(target_os = "linux"))]
enum Never {}

#[cfg(not(target_os = "linux"))]
impl Ends for Never {
    async fn ended(&self) {
        match *self {}
    }
}

/// Who a peer is: its source and, when there is one, what tells when the program named as the
/// requester ends; or the refusal for a peer that could not be named.
type Peer<E> = Result<(Source, Option<E>), Box<super::protocol::Outcome>>;

/// Serves one connection from a peer of this user. `status` is answered to any such peer;
/// `show` and `approve` only to one that was named, else the peer gets its refusal. The
/// watch, when there is one, withdraws a request when its program ends, even while the
/// helper it left behind keeps the connection open.
async fn serve_one<S, D, E>(stream: S, peer: Peer<E>, desk: D)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    D: Desk,
    E: Ends,
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
    if let ClientMessage::Status { .. } = msg {
        let _ = write_msg(&mut w, &AppMessage::Status(desk.status().await)).await;
        return;
    }
    let (source, watch) = match peer {
        Ok(p) => p,
        Err(outcome) => {
            let _ = write_msg(&mut w, &AppMessage::Result(outcome)).await;
            return;
        }
    };
    match msg {
        // Answered above, whoever asked.
        ClientMessage::Status { .. } => {}
        ClientMessage::Show { link, .. } => {
            // Answered on receipt: the link may wait for the backend, which a launch that
            // hands it over need not do.
            let _ = write_msg(
                &mut w,
                &AppMessage::Shown {
                    v: super::protocol::VERSION,
                },
            )
            .await;
            desk.show(link).await;
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
            let (id, position, number) = match desk.submit(source, ask.clone(), tx).await {
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
                number,
            };
            if write_msg(&mut w, &queued).await.is_err() {
                return desk.withdraw(id).await;
            }
            let _waiting = Waiting::new();
            // The requester sends nothing more: any read that returns means it closed (or
            // broke the protocol), and either way it no longer waits.
            let mut scratch = [0u8; 64];
            let caller_ended = async {
                match &watch {
                    Some(w) => w.ended().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                outcome = rx => {
                    if let Ok(o) = outcome {
                        let _ = write_msg(&mut w, &AppMessage::Result(Box::new(o))).await;
                    }
                }
                _ = r.read(&mut scratch) => desk.withdraw(id).await,
                () = caller_ended => {
                    desk.withdraw(id).await;
                    let outcome = super::protocol::Outcome::new(super::protocol::Status::Cancelled, &ask)
                        .because("requester_gone", "the program that asked has ended");
                    let _ = write_msg(&mut w, &AppMessage::Result(Box::new(outcome))).await;
                }
            }
        }
    }
}

/// Requests whose requesters wait on a connection for their answer.
static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts one waiting requester in [`WAITING`] until its connection is done with.
struct Waiting;

impl Waiting {
    fn new() -> Self {
        WAITING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Waits until every waiting requester has been written its answer (or has gone), at most
/// `max`: the app quits only after answering those it answered.
pub async fn answers_written(max: Duration) {
    let until = tokio::time::Instant::now() + max;
    while WAITING.load(std::sync::atomic::Ordering::SeqCst) > 0
        && tokio::time::Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn refuse<W: AsyncWrite + Unpin>(w: &mut W, why: &str) {
    let outcome = refusal(super::protocol::INVALID_INPUT, why);
    let _ = write_msg(w, &AppMessage::Result(Box::new(outcome))).await;
}

/// A `refused` result before any request was read.
fn refusal(code: &str, why: &str) -> super::protocol::Outcome {
    super::protocol::Outcome {
        v: super::protocol::VERSION,
        status: super::protocol::Status::Refused,
        scope: String::new(),
        metadata: Default::default(),
        session_id: None,
        challenge_id: None,
        grant_expires_at: None,
        reason: Some(why.to_owned()),
        code: Some(code.to_owned()),
        access_token: None,
    }
}

/// Listens on the profile's socket in `dir` until the task is dropped. Only the holder of the
/// profile's lock (instance.rs) listens, so a socket file already there is a stale one. A
/// peer that runs the `countersign` command beside this binary is `countersign approve`,
/// described by its parent.
///
/// # Errors
/// The socket cannot be bound.
#[cfg(unix)]
pub async fn listen<D: Desk>(dir: &PrivateDir, profile: &str, desk: D) -> Result<(), SocketError> {
    #[cfg(target_os = "linux")]
    let helper = super::peer::Helper::beside_this_binary()
        .map_err(|e| SocketError::RuntimeDir(e.to_string()))?;
    #[cfg(not(target_os = "linux"))]
    let helper = ();
    listen_for(dir, profile, helper, desk).await
}

/// [`listen`], with `helper` as the binary of `countersign approve` (a test's app is not
/// that binary).
///
/// # Errors
/// The socket cannot be bound.
#[cfg(unix)]
pub async fn listen_for<D: Desk>(
    dir: &PrivateDir,
    profile: &str,
    helper: Helper,
    desk: D,
) -> Result<(), SocketError> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.socket(profile)?;
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    tracing::info!(socket = %dir.shown().join(format!("{profile}.sock")).display(), "listening for approval requests");
    let me = nix::unistd::geteuid().as_raw();
    loop {
        let (stream, accepted) = match listener.accept().await {
            #[cfg(target_os = "linux")]
            Ok(s) => (s.0, super::peer::boot_ticks()),
            #[cfg(not(target_os = "linux"))]
            Ok(s) => (s.0, 0),
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
        let Some(pid) = cred.pid() else {
            tracing::warn!("approval socket peer without a pid; refused");
            continue;
        };
        tokio::spawn(serve_peer(
            stream,
            pid,
            accepted,
            helper.clone(),
            desk.clone(),
        ));
    }
}

/// Names the peer from its pid as the kernel gave it at accept time, then serves it; a peer
/// that cannot be named, or whose caller is gone, gets the reason as a refusal once its first
/// line is read, unless that line asks only for the `status`.
#[cfg(target_os = "linux")]
async fn serve_peer<D: Desk>(
    stream: tokio::net::UnixStream,
    pid: i32,
    accepted: u64,
    helper: Helper,
    desk: D,
) {
    // /proc reads are quick, but they are file system calls.
    let who =
        tokio::task::spawn_blocking(move || super::peer::identify(pid, accepted, &helper)).await;
    match who {
        Ok(Ok(who)) => {
            let peer = Ok((Source::Program(who.requester), Some(who.watch)));
            serve_one(stream, peer, desk).await;
        }
        // A `status` needs no name: the refusal goes to any other op.
        Ok(Err(e)) => {
            tracing::info!(pid, error = %e, "approval socket peer refused");
            let outcome = refusal(e.code(), &e.to_string());
            serve_one::<_, _, std::os::fd::OwnedFd>(stream, Err(Box::new(outcome)), desk).await;
        }
        Err(e) => tracing::warn!(error = %e, "naming the requester failed"),
    }
}

#[cfg(all(unix, not(target_os = "linux")))]
async fn serve_peer<D: Desk>(
    stream: tokio::net::UnixStream,
    pid: i32,
    _accepted: u64,
    _helper: Helper,
    desk: D,
) {
    let source = Source::Program(super::source::Requester {
        executable: "a program".to_owned(),
        script: None,
        pid: pid as u32,
    });
    serve_one(stream, Ok((source, None::<Never>)), desk).await;
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
        let source = Source::Program(super::source::Requester {
            executable: "a program".to_owned(),
            script: None,
            pid: 0,
        });
        tokio::spawn(serve_one(
            connected,
            Ok((source, None::<Never>)),
            desk.clone(),
        ));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    use std::path::PathBuf;

    /// A folder for one test, removed at the end.
    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Self {
            let d = std::env::temp_dir().join(format!("cs-sock-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::DirBuilder::new().mode(0o700).create(&d).unwrap();
            Self(d)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn why(r: Result<PrivateDir, SocketError>) -> String {
        match r {
            Err(e @ SocketError::UnsafeDir { .. }) => e.to_string(),
            Err(e) => panic!("another error: {e}"),
            Ok(d) => panic!("{} was taken as safe", d.shown().display()),
        }
    }

    #[test]
    fn a_folder_of_another_user_an_open_one_or_a_link_is_refused() {
        let t = Temp::new("checks");
        let good = t.0.join("good");
        let d = PrivateDir::open(&good).unwrap();
        assert!(d.socket("p").unwrap().starts_with("/proc/self/fd/"));
        assert_eq!(
            std::fs::metadata(&good).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let wide = t.0.join("wide");
        std::fs::create_dir(&wide).unwrap();
        std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(why(PrivateDir::open(&wide)).contains("mode 755"));
        let link = t.0.join("link");
        std::os::unix::fs::symlink(&good, &link).unwrap();
        assert!(why(PrivateDir::open(&link)).contains("symbolic link"));
        let file = t.0.join("file");
        std::fs::write(&file, "").unwrap();
        assert!(why(PrivateDir::open(&file)).contains("not a folder"));
        if nix::unistd::geteuid().is_root() {
            let theirs = t.0.join("theirs");
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&theirs)
                .unwrap();
            nix::unistd::chown(&theirs, Some(65534.into()), Some(65534.into())).unwrap();
            let e = why(PrivateDir::open(&theirs));
            assert!(e.contains("belongs to uid 65534"), "{e}");
            assert!(e.contains("XDG_RUNTIME_DIR"), "says what to do: {e}");
        }
    }

    #[tokio::test]
    async fn a_folder_swapped_after_the_check_changes_nothing() {
        let t = Temp::new("swap");
        let path = t.0.join("countersign-1000");
        let dir = PrivateDir::open(&path).unwrap();
        // Someone moves the checked folder away and puts another at its path.
        let moved = t.0.join("moved");
        std::fs::rename(&path, &moved).unwrap();
        std::fs::DirBuilder::new()
            .mode(0o777)
            .create(&path)
            .unwrap();
        let _listener = tokio::net::UnixListener::bind(dir.socket("p").unwrap()).unwrap();
        assert!(
            moved.join("p.sock").exists(),
            "the socket is in the checked folder"
        );
        assert!(!path.join("p.sock").exists());
        connect_at(&dir.socket("p").unwrap()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_command_sends_nothing_to_another_users_server() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("not root: cannot run a server as another user here");
            return;
        }
        let t = Temp::new("theirs");
        std::fs::set_permissions(&t.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        let theirs = t.0.join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        nix::unistd::chown(&theirs, Some(65534.into()), Some(65534.into())).unwrap();
        let sock = theirs.join("p.sock");
        // user nobody serves the socket, answers "granted" at once, and reports what it read.
        let mut server = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "perl", "-MIO::Socket::UNIX", "-e"])
            .arg(r#"$| = 1; $SIG{PIPE} = "IGNORE"; my $l = IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 1) or die "listen: $!"; print "ready\n"; my $c = $l->accept; print $c qq({"event":"result","v":1,"status":"granted","scope":"s","metadata":{},"session_id":null,"challenge_id":null,"grant_expires_at":null,"reason":null,"code":null,"access_token":"fake"}\n); my $got = <$c>; print defined $got ? "got $got" : "nothing\n";"#)
            .arg(&sock)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(server.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert_eq!(line, "ready\n");
        match connect_at(&sock).await {
            Err(SocketError::NotOurs { uid: 65534, me: 0 }) => {}
            Err(e) => panic!("another error: {e}"),
            Ok(_) => panic!("connected to another user's server"),
        }
        line.clear();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert_eq!(line, "nothing\n", "not a byte was sent");
        server.wait().unwrap();
    }
}
