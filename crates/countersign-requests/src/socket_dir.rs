//! The folder the approval socket lives in: one only this user can use, checked on its open
//! handle (Unix), or the named pipe's path (Windows).

use super::transport::SocketError;
#[cfg(unix)]
use std::path::Path;
use std::path::PathBuf;

/// A folder only this user can use, held open. Its checks were made on the open handle, and
/// on Linux everything in it is reached through the handle (`/proc/self/fd/N/NAME`), so a
/// folder swapped at its path afterwards changes nothing.
#[cfg(unix)]
pub struct PrivateDir {
    handle: std::fs::File,
    /// Where it was opened, for messages.
    shown: PathBuf,
}

#[cfg(unix)]
impl PrivateDir {
    /// Takes `PROFILE.lock` in this folder exclusively without waiting (flock(2)
    /// `LOCK_EX | LOCK_NB`). `None` when another process holds it; the kernel drops the lock
    /// when its holder ends, however it ends.
    ///
    /// # Errors
    /// The lock file cannot be opened, or flock fails otherwise.
    pub fn lock(
        &self,
        profile: &str,
    ) -> Result<Option<nix::fcntl::Flock<std::fs::File>>, SocketError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(self.join(&format!("{profile}.lock")))?;
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(l) => Ok(Some(l)),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(SocketError::Io(e.into())),
        }
    }

    /// Opens `path`, creating it with mode 0700 if it is missing, with `O_DIRECTORY |
    /// O_NOFOLLOW` (so not through a symbolic link), then checks on the handle (fstat) that
    /// this user owns it and that no one else may enter it (mode 0700 or stricter).
    ///
    /// # Errors
    /// [`SocketError::UnsafeDir`] naming what is wrong.
    pub fn open(path: &Path) -> Result<Self, SocketError> {
        use nix::libc::{ELOOP, ENOTDIR, O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW};
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
        let unsafe_dir = |why: String| SocketError::UnsafeDir {
            path: path.to_owned(),
            why,
        };
        match std::fs::DirBuilder::new().mode(0o700).create(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(unsafe_dir(format!("cannot be created ({e})"))),
        }
        let handle = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(ELOOP | ENOTDIR) => unsafe_dir("is a symbolic link or not a folder".into()),
                _ => unsafe_dir(format!("cannot be opened ({e})")),
            })?;
        let meta = handle
            .metadata()
            .map_err(|e| unsafe_dir(format!("cannot be checked ({e})")))?;
        let me = nix::unistd::geteuid().as_raw();
        if meta.uid() != me {
            return Err(unsafe_dir(format!(
                "belongs to uid {}, not to this user (uid {me})",
                meta.uid()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(unsafe_dir(format!(
                "has mode {:o}: others may enter it (it must be 700)",
                meta.mode() & 0o7777
            )));
        }
        Ok(Self {
            handle,
            shown: path.to_owned(),
        })
    }

    /// The path of `name` in this folder: through the open handle on Linux, else by path.
    pub fn join(&self, name: &str) -> PathBuf {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            PathBuf::from(format!("/proc/self/fd/{}/{name}", self.handle.as_raw_fd()))
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.shown.join(name)
        }
    }

    /// Where the folder was opened.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// The socket of `profile` in this folder.
    ///
    /// # Errors
    /// [`SocketError::RuntimeDir`] when the path is too long for `sockaddr_un`.
    pub fn socket(&self, profile: &str) -> Result<PathBuf, SocketError> {
        let p = self.join(&format!("{profile}.sock"));
        // sockaddr_un holds 108 bytes with the terminating NUL.
        if p.as_os_str().len() > 107 {
            return Err(SocketError::RuntimeDir(format!(
                "{} is too long for a socket path",
                p.display()
            )));
        }
        Ok(p)
    }
}

/// The folder for this user's sockets: `$XDG_RUNTIME_DIR/countersign`, or without a runtime
/// dir `countersign-UID` in the temp dir, which anyone could have made first: it is used only
/// when [`PrivateDir::open`] finds it ours.
///
/// # Errors
/// [`SocketError::UnsafeDir`] when the folder is not safe; there is no other place to try.
#[cfg(unix)]
pub fn runtime_dir() -> Result<PrivateDir, SocketError> {
    let uid = nix::unistd::geteuid().as_raw();
    let path = match std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        Some(base) => base.join("countersign"),
        None => std::env::temp_dir().join(format!("countersign-{uid}")),
    };
    PrivateDir::open(&path)
}

#[cfg(windows)]
pub fn path(profile: &str) -> Result<PathBuf, SocketError> {
    let user = std::env::var("USERNAME").unwrap_or_default();
    let user: String = user.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    Ok(PathBuf::from(format!(
        r"\\.\pipe\countersign-{user}-{profile}"
    )))
}
