//! Keeps the app's secrets (the DPoP key, the refresh token) out of core dumps and out of
//! reach of same-user tools that read another process's memory through /proc.

/// Sets the core file size limit to 0 bytes, soft and hard, so it cannot be raised again
/// (setrlimit(2) `RLIMIT_CORE`).
///
/// # Errors
/// setrlimit's errno.
#[cfg(unix)]
pub fn no_core_files() -> nix::Result<()> {
    use nix::sys::resource::{Resource, setrlimit};
    setrlimit(Resource::RLIMIT_CORE, 0, 0)
}

/// On Linux, marks the process non-dumpable (prctl(2) `PR_SET_DUMPABLE` 0): no core file even
/// through a core pipe, and /proc/PID/mem, ptrace attach and the like need `CAP_SYS_PTRACE`.
/// Elsewhere it does nothing.
///
/// # Errors
/// prctl's errno.
#[cfg(unix)]
pub fn not_dumpable() -> nix::Result<()> {
    #[cfg(target_os = "linux")]
    nix::sys::prctl::set_dumpable(false)?;
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use nix::sys::resource::{Resource, getrlimit};

    /// Run in a child (the test binary again) so the other tests keep a normal process.
    #[test]
    fn the_process_cannot_be_dumped() {
        if std::env::var_os("COUNTERSIGN_TEST_NO_DUMPS").is_some() {
            assert!(nix::sys::prctl::get_dumpable().unwrap(), "dumpable before");
            super::no_core_files().unwrap();
            super::not_dumpable().unwrap();
            assert!(!nix::sys::prctl::get_dumpable().unwrap());
            assert_eq!(getrlimit(Resource::RLIMIT_CORE).unwrap(), (0, 0));
            // What others read about this process.
            let status = std::fs::read_to_string("/proc/self/limits").unwrap();
            let core = status
                .lines()
                .find(|l| l.starts_with("Max core file size"))
                .unwrap();
            assert_eq!(core.split_whitespace().nth(4), Some("0"), "{core}");
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "harden::tests::the_process_cannot_be_dumped",
                "--exact",
                "--nocapture",
            ])
            .env("COUNTERSIGN_TEST_NO_DUMPS", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
