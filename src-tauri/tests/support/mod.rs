//! The requester tests' harness: a sandbox folder and profile per test, a recording desk
//! that listens in place of the window, and helpers to run the real `countersign` binary.

use countersign_lib::requests::protocol::{AppStatus, Ask, Outcome, Status, VERSION};
use countersign_lib::requests::socket::{self, Desk, PrivateDir};
use countersign_lib::requests::source::Source;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The `countersign` command (`approve`, `status`; anything else runs the app).
pub const BIN: &str = env!("CARGO_BIN_EXE_countersign");
/// The app the command starts, `countersign-app` beside it.
pub const APP: &str = env!("CARGO_BIN_EXE_countersign-app");

/// A folder of its own for one test, removed at the end.
pub struct Sandbox(pub PathBuf);

impl Sandbox {
    pub fn new(test: &str) -> Self {
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
    pub fn runtime(&self) -> PathBuf {
        let d = self.0.join("run");
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&d);
        d
    }

    /// `countersign ARGS…` for this sandbox's profile, its output captured.
    pub fn countersign(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args);
        self.env(&mut c);
        c
    }

    pub fn env(&self, c: &mut Command) {
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

    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What reached the desk.
#[derive(Default)]
pub struct Seen {
    pub asked: Vec<(Source, Ask)>,
    pub withdrawn: Vec<String>,
    pub shown: Vec<Option<String>>,
    pub signed_in: bool,
    /// How many `status` ops were answered.
    pub statuses: usize,
}

/// Records everything and denies every request at once.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Seen>>);

impl Desk for Recorder {
    async fn submit(
        &self,
        source: Source,
        ask: Ask,
        reply: oneshot::Sender<Outcome>,
    ) -> Result<(String, usize, Option<u8>), Box<Outcome>> {
        let _ = reply.send(Outcome::new(Status::Denied, &ask));
        let mut seen = self.0.lock().unwrap();
        seen.asked.push((source, ask));
        Ok((format!("req-{}", seen.asked.len()), 1, Some(42)))
    }
    async fn withdraw(&self, id: String) {
        self.0.lock().unwrap().withdrawn.push(id);
    }
    async fn show(&self, link: Option<String>) {
        self.0.lock().unwrap().shown.push(link);
    }
    async fn status(&self) -> AppStatus {
        let mut seen = self.0.lock().unwrap();
        seen.statuses += 1;
        AppStatus {
            v: VERSION,
            signed_in: seen.signed_in,
            tray: Some(false),
            locked: Some(false),
        }
    }
}

/// Listens for profile `t` in the sandbox's runtime dir, holding the profile's lock as the
/// running app does.
pub fn serve(sandbox: &Sandbox) -> Recorder {
    let dir = PrivateDir::open(&sandbox.runtime().join("countersign")).unwrap();
    let lock = dir.lock("t").unwrap().expect("the lock is free");
    let desk = Recorder::default();
    let d = desk.clone();
    tokio::spawn(async move {
        let _held = lock;
        let helper = countersign_lib::requests::peer::Helper::at(Path::new(BIN)).unwrap();
        socket::listen_for(&dir, "t", helper, d).await.unwrap();
    });
    desk
}

/// Runs `c` to its end off the runtime's threads, which keep serving the socket meanwhile.
pub async fn output(mut c: Command) -> std::process::Output {
    finish(c.spawn().unwrap()).await
}

pub async fn finish(child: std::process::Child) -> std::process::Output {
    let waited = tokio::task::spawn_blocking(move || child.wait_with_output());
    tokio::time::timeout(Duration::from_secs(60), waited)
        .await
        .expect("the command ends")
        .unwrap()
        .unwrap()
}

pub fn json(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON in {text:?}; stderr {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).unwrap()
}
