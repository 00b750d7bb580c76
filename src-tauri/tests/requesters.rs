//! The approval socket with the real `countersign` binary as the client: which folder it
//! trusts.

#![cfg(target_os = "linux")]

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_countersign");

/// A folder of its own for one test, removed at the end.
struct Sandbox(PathBuf);

impl Sandbox {
    fn new(test: &str) -> Self {
        let d = std::env::temp_dir().join(format!("countersign-req-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&d)
            .unwrap();
        Self(d)
    }

    /// A private runtime dir, as a login has.
    fn runtime(&self) -> PathBuf {
        let d = self.0.join("run");
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&d);
        d
    }

    /// `countersign ARGS…` for this sandbox's profile, its output captured.
    fn countersign(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args);
        self.env(&mut c);
        c
    }

    fn env(&self, c: &mut Command) {
        c.env("XDG_RUNTIME_DIR", self.runtime())
            .env("XDG_DATA_HOME", self.0.join("data"))
            .env("XDG_CONFIG_HOME", self.0.join("config"))
            .env("COUNTERSIGN_PROFILE", "t")
            .env("CS", BIN)
            .env_remove("COUNTERSIGN_ENDPOINT")
            .env_remove("COUNTERSIGN_APP_ID")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `c` to its end off the runtime's threads, which keep serving the socket meanwhile.
async fn output(mut c: Command) -> std::process::Output {
    finish(c.spawn().unwrap()).await
}

async fn finish(child: std::process::Child) -> std::process::Output {
    let waited = tokio::task::spawn_blocking(move || child.wait_with_output());
    tokio::time::timeout(Duration::from_secs(60), waited)
        .await
        .expect("the command ends")
        .unwrap()
        .unwrap()
}

/// `countersign approve` with no runtime dir, its temp dir `tmp`.
fn approve_in_tmp(sandbox: &Sandbox, tmp: &Path) -> Command {
    let mut c = sandbox.countersign(&["approve", "--scope", "transfer:write"]);
    c.env_remove("XDG_RUNTIME_DIR").env("TMPDIR", tmp);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_refuses_a_socket_folder_that_is_not_its_own() {
    let sandbox = Sandbox::new("unsafe");
    let tmp = sandbox.0.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let uid = nix::unistd::geteuid();
    let folder = tmp.join(format!("countersign-{uid}"));
    let refused = |says: &'static str| {
        let c = approve_in_tmp(&sandbox, &tmp);
        async move {
            let out = output(c).await;
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_eq!(out.status.code(), Some(3), "{err}");
            assert!(
                err.contains("no safe folder") && err.contains(says),
                "{err}"
            );
        }
    };
    // Others may enter it.
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&folder)
        .unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    refused("mode 755").await;
    std::fs::remove_dir(&folder).unwrap();
    // A link to a folder that is fine in itself.
    let real = tmp.join("real");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&real)
        .unwrap();
    std::os::unix::fs::symlink(&real, &folder).unwrap();
    refused("symbolic link").await;
    std::fs::remove_file(&folder).unwrap();
    // Someone else's, made first.
    if uid.is_root() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&folder)
            .unwrap();
        nix::unistd::chown(&folder, Some(65534.into()), Some(65534.into())).unwrap();
        refused("belongs to uid 65534").await;
        assert_eq!(
            std::fs::read_dir(&folder).unwrap().count(),
            0,
            "nothing was made in it"
        );
    } else {
        eprintln!("not root: another user's folder is covered by socket.rs's unit tests only");
    }
}
