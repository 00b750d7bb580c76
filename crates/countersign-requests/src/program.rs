//! The two binaries, side by side in one folder: `countersign` (the command) and
//! `countersign-app` (the app).

use std::path::PathBuf;

/// The app's binary name, beside `countersign`.
pub const APP: &str = "countersign-app";

/// The requester binary's name, beside the app.
pub const COMMAND: &str = "countersign";

/// `name` in the folder of the running binary (`/proc/self/exe` on Linux), with the
/// platform's executable suffix.
///
/// # Errors
/// The running binary's path cannot be read, or has no folder.
pub fn beside_this_binary(name: &str) -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| std::io::Error::other("the running binary's path has no folder"))?;
    Ok(dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
}
