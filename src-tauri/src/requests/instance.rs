//! One app per profile. The first launch takes an exclusive lock (flock(2)) on `PROFILE.lock`
//! in the private runtime folder before anything else; it holds it for its life and owns the
//! profile's socket, keyring entries and files. A later launch hands its link (if any) to
//! that app over the socket and ends, waiting for the socket if the first app is still
//! starting.

use super::protocol::{AppMessage, ClientMessage, VERSION};
use super::socket::{self, PrivateDir, SocketError};
use nix::fcntl::Flock;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a later launch waits for the first app's socket.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(30);

/// The profile's lock and the folder that holds it and the socket.
pub struct Instance {
    pub dir: PrivateDir,
    pub profile: String,
    _lock: Flock<std::fs::File>,
}

static HELD: OnceLock<Instance> = OnceLock::new();

/// The instance this process runs as, once [`claim`] made it the profile's app.
pub fn held() -> Option<&'static Instance> {
    HELD.get()
}

impl Instance {
    /// Whether the lock stays held across execve(2) (`true` just before the process starts
    /// again at rest, `false` again if that exec failed): without it the lock is free until the
    /// new image claims it, and a launch meanwhile (`countersign approve` starting the app for
    /// its request) took the profile, so that the restarted image ended and what it carried
    /// over was lost.
    ///
    /// # Errors
    /// fcntl(2) fails.
    pub fn keep_across_exec(&self, keep: bool) -> nix::Result<()> {
        use nix::fcntl::{FcntlArg, FdFlag, fcntl};
        use std::os::fd::AsRawFd;
        let flag = if keep {
            FdFlag::empty()
        } else {
            FdFlag::FD_CLOEXEC
        };
        fcntl(self._lock.as_raw_fd(), FcntlArg::F_SETFD(flag)).map(drop)
    }

    /// Takes the socket away as the app ends, so that a launch meanwhile waits for the lock
    /// and runs, instead of handing its link to an app that is going away.
    pub fn stop_answering(&self) {
        if let Ok(path) = self.dir.socket(&self.profile) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What a launch does.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Run the app: the lock is held (see [`held`]).
    Run,
    /// Another app runs for the profile and was handed the link: end.
    Forwarded,
}

/// Started again at rest: the image before kept `PROFILE.lock` in `dir` open across the exec
/// ([`Instance::keep_across_exec`]), so no launch could take the profile meanwhile. That
/// descriptor is closed here, just before [`PrivateDir::lock`] takes the lock anew; true when
/// one was found.
fn release_inherited(dir: &PrivateDir, profile: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(lock) = std::fs::metadata(dir.join(&format!("{profile}.lock"))) else {
        return false;
    };
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return false;
    };
    let inherited: Vec<i32> = fds
        .flatten()
        .filter_map(|e| {
            let fd: i32 = e.file_name().to_str()?.parse().ok()?;
            let m = std::fs::metadata(e.path()).ok()?;
            (m.dev() == lock.dev() && m.ino() == lock.ino()).then_some(fd)
        })
        .collect();
    for fd in &inherited {
        // No object of this image owns it: it came through the exec.
        let _ = nix::unistd::close(*fd);
    }
    !inherited.is_empty()
}

/// Decides whether this launch is the profile's app. With the lock free, takes it and returns
/// [`Claim::Run`]. Otherwise hands `link` (or a plain "show") to the app that holds it, once
/// its socket answers, and returns [`Claim::Forwarded`]; if that app ends meanwhile, this
/// launch takes the lock after all. `rested`: started again at rest, holding the lock of the
/// image before (see [`release_inherited`]).
///
/// # Errors
/// No safe runtime folder; the first app neither answers nor ends within 30 s.
pub fn claim(profile: &str, link: Option<String>, rested: bool) -> Result<Claim, SocketError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let began = Instant::now();
    if rested {
        release_inherited(&socket::runtime_dir()?, profile);
    }
    loop {
        let dir = socket::runtime_dir()?;
        if let Some(lock) = dir.lock(profile)? {
            let _ = HELD.set(Instance {
                dir,
                profile: profile.to_owned(),
                _lock: lock,
            });
            return Ok(Claim::Run);
        }
        match rt.block_on(forward(&dir, profile, link.clone())) {
            Ok(()) => return Ok(Claim::Forwarded),
            // The first app is still starting (its socket is not up yet), or it went away
            // before answering (it quits, or starts again at rest): look at the lock again.
            Err(e) if (e.no_app() || e.went_away()) && began.elapsed() < WAIT_FOR_FIRST => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) if e.no_app() || e.went_away() => {
                return Err(SocketError::Protocol(format!(
                    "another Countersign holds profile {profile} but did not answer within {} s",
                    WAIT_FOR_FIRST.as_secs()
                )));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sends `show` with the link to the app listening in `dir`, and waits for its `shown`.
async fn forward(dir: &PrivateDir, profile: &str, link: Option<String>) -> Result<(), SocketError> {
    let mut conn = socket::connect_at(&dir.socket(profile)?).await?;
    conn.send(&ClientMessage::Show { v: VERSION, link }).await?;
    match tokio::time::timeout(Duration::from_secs(5), conn.next()).await {
        Ok(Ok(Some(AppMessage::Shown { .. }))) => Ok(()),
        Ok(Ok(None)) => Err(SocketError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the app closed the connection without an answer",
        ))),
        Ok(Ok(other)) => Err(SocketError::Protocol(format!("{other:?} instead of shown"))),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(SocketError::Protocol("no answer within 5 s".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::DirBuilderExt;

    /// Finding: at rest the profile's lock was free between the exec and the new image's
    /// claim, so a launch meanwhile took the profile and the restarted image ended.
    #[test]
    fn the_profile_s_lock_is_held_through_the_exec_and_taken_anew_after_it() {
        let root = std::env::temp_dir().join(format!("cs-instance-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&root)
            .unwrap();
        let dir = PrivateDir::open(&root.join("countersign")).unwrap();
        let me = Instance {
            _lock: dir.lock("p").unwrap().unwrap(),
            dir: PrivateDir::open(&root.join("countersign")).unwrap(),
            profile: "p".into(),
        };
        let flags = |i: &Instance| {
            FdFlag::from_bits_truncate(fcntl(i._lock.as_raw_fd(), FcntlArg::F_GETFD).unwrap())
        };
        assert!(
            flags(&me).contains(FdFlag::FD_CLOEXEC),
            "children never get it"
        );
        me.keep_across_exec(true).unwrap();
        assert!(
            !flags(&me).contains(FdFlag::FD_CLOEXEC),
            "the exec keeps it"
        );
        me.keep_across_exec(false).unwrap();
        assert!(
            flags(&me).contains(FdFlag::FD_CLOEXEC),
            "a failed exec gives it back"
        );

        // The image after: the descriptor came through the exec and no object owns it.
        std::mem::forget(me);
        assert!(
            dir.lock("p").unwrap().is_none(),
            "no launch takes the profile"
        );
        assert!(release_inherited(&dir, "p"));
        assert!(dir.lock("p").unwrap().is_some(), "taken anew");
        assert!(!release_inherited(&dir, "p"), "nothing else was closed");
        let _ = std::fs::remove_dir_all(&root);
    }
}
