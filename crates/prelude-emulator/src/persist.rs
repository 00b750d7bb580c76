//! The state file: the dirty mark handlers set, loading, and atomic private writes. Each
//! write is compact JSON in a randomly named private temp file, synced, then renamed over the
//! old one, so a crash never leaves a torn file. The task that writes is `saver`.

use crate::Error;
use crate::state::Data;
use crate::util::unix_now;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

pub struct Persist {
    path: Option<PathBuf>,
    dirty: AtomicBool,
    wake: Notify,
    write: std::sync::Mutex<()>,
}

impl Persist {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            dirty: AtomicBool::new(false),
            wake: Notify::new(),
            write: std::sync::Mutex::new(()),
        }
    }

    /// Notes that the state changed; the saver writes it soon.
    pub fn mark(&self) {
        if self.path.is_some() {
            self.dirty.store(true, Ordering::Release);
            self.wake.notify_one();
        }
    }

    /// Resolves at the next [`Self::mark`] (or at once if one came since the last wait).
    pub async fn marked(&self) {
        self.wake.notified().await;
    }

    /// Writes `snapshot()` now if the state changed since the last write; nothing without a
    /// state file. One writer at a time.
    ///
    /// # Errors
    /// [`Error::StateWrite`] when the snapshot or the write fails; the state stays marked, so
    /// the next tick tries again rather than lose the change.
    pub fn save_if_dirty(
        &self,
        snapshot: impl FnOnce() -> serde_json::Result<Vec<u8>>,
    ) -> Result<(), Error> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let _one_writer = self.write.lock().unwrap_or_else(|e| e.into_inner());
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let bytes = snapshot().map_err(|e| Error::StateWrite {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_private(path, &bytes).map_err(|source| {
            self.dirty.store(true, Ordering::Release);
            Error::StateWrite {
                path: path.clone(),
                source,
            }
        })
    }
}

/// Creates `dir` (and its parents) private to the user when it does not exist yet.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.")
}

/// Atomically replaces `path` with `bytes`, readable by the user alone.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let tmp = dir.join(format!(
        "{}{}.tmp",
        temp_prefix(path),
        crate::util::random_token(6)
    ));
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut f = open.open(&tmp)?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename itself is durable only once the directory is synced.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Loads the state file. A file that does not parse is moved aside (never dropped) and the
/// emulator starts fresh; values out of range are repaired. The notes say what was done.
/// Identifiers are put in canonical form; a file where two users hold the same one is
/// refused ([`Error::StateInvalid`], naming them).
pub fn load(path: &Path) -> Result<(Option<Data>, Vec<String>), Error> {
    remove_stale_temps(path);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, vec![])),
        Err(source) => {
            return Err(Error::StateRead {
                path: path.to_owned(),
                source,
            });
        }
    };
    #[cfg(unix)]
    {
        // Older versions wrote it with the default umask; it holds signing seeds.
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    match serde_json::from_slice::<Data>(&bytes) {
        Ok(mut d) => {
            // Refused, not moved aside: the file is sound, and a person must choose which
            // user keeps an identifier two of them hold.
            d.canonicalize_users().map_err(|e| Error::StateInvalid {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            let notes = d.repair();
            Ok((Some(d), notes))
        }
        Err(e) => {
            let aside = path.with_extension(format!("corrupt-{}", unix_now()));
            std::fs::rename(path, &aside).map_err(|source| Error::StateWrite {
                path: aside.clone(),
                source,
            })?;
            Ok((
                None,
                vec![format!(
                    "state file {} could not be read ({e}); it was moved to {} and the emulator started fresh",
                    path.display(),
                    aside.display()
                )],
            ))
        }
    }
}

/// Temp files a killed writer left behind.
fn remove_stale_temps(path: &Path) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_private_and_leave_no_temp_files() {
        let dir =
            std::env::temp_dir().join(format!("emu-persist-{}", crate::util::random_token(6)));
        let path = dir.join("sub").join("state.json");
        write_private(&path, b"{}").unwrap();
        write_private(&path, b"{\"a\":1}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
