//! At rest in the tray, Countersign starts itself again. A window, once built, leaves its
//! marks in the process after it is gone: WebKit's network process, which Tauri keeps for the
//! app's life (tauri#14628), and the heap the window grew, which the allocator keeps. So when
//! the window has been closed for [`REST_AFTER`] and nothing lives only in memory (no request
//! waits and nothing is under way: `Backend::at_rest`, `Lock::at_rest`), the process executes
//! itself again (execve(2): the same process id, its own arguments plus `--background
//! --rested`) and starts in the tray as it does at login. What it carries over goes through a
//! file in the private runtime folder, read once and removed: the lock with its idle time, the
//! guards' memory and the account's context (`BackendCarry`). Nothing secret is in it: the session is resumed from
//! the keyring.

use crate::AppState;
use crate::backend::Backend;
use crate::backend::rest::BackendCarry;
use crate::lock::Lock;
use crate::server::Server;
use crate::window_life::MAIN;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Manager};

/// How long the window stays closed before the process starts again: a window opened again
/// soon after is built in this process, with WebKit already up.
pub const REST_AFTER: Duration = Duration::from_secs(10);
/// How often it looks again while something is under way.
const LOOK_AGAIN: Duration = Duration::from_secs(5);
/// A carry file older than this was not written for this start: ignored.
const CARRY_FRESH_MS: i64 = 60_000;
/// A carry file is a few hundred bytes; a larger one is not ours.
const CARRY_LIMIT: u64 = 64 * 1024;
/// The idle time carried over is at most a day: more locks at once all the same.
const IDLE_LIMIT_MS: u64 = 86_400_000;

/// How this process starts again: the program and its arguments. In the app's state only when
/// it may: not while WebDriver drives the app, since its session is bound to this process.
pub struct Again {
    program: PathBuf,
    args: Vec<OsString>,
    /// `--ca-file`, made absolute: read again by the new image, which ends if it cannot.
    ca_file: Option<PathBuf>,
}

impl Again {
    /// From this run's arguments (`cli::Args::again`).
    ///
    /// # Errors
    /// The program's path cannot be read (`/proc/self/exe`).
    pub fn new(args: &crate::cli::Args) -> std::io::Result<Self> {
        Ok(Self {
            program: std::env::current_exe()?,
            args: args.again(),
            ca_file: args.ca_file_absolute(),
        })
    }

    /// Whether the new image would start: a start that fails after the exec leaves no app at
    /// all, so what it reads again is read now (`--ca-file`, moved or changed since); and
    /// whether the exec would: the program removed since (an uninstall, or an upgrade that
    /// moved it) made it fail after the log's writer had ended for it.
    ///
    /// # Errors
    /// `startup` naming the program that cannot be run; as [`crate::cli::Args::extra_roots`].
    pub fn startable(&self) -> crate::error::AppResult<()> {
        use nix::unistd::{AccessFlags, access};
        access(&self.program, AccessFlags::X_OK).map_err(|e| {
            crate::error::AppError::Startup(format!("{}: {e}", self.program.display()))
        })?;
        self.ca_file
            .as_deref()
            .map_or(Ok(()), |f| crate::cli::read_ca_file(f).map(drop))
    }
}

/// What the process before hands over.
#[derive(Debug, Serialize, Deserialize)]
pub struct Carry {
    /// Unix ms.
    written_ms: i64,
    locked: bool,
    /// Milliseconds without input (or since the window closed).
    idle_ms: u64,
    backend: BackendCarry,
}

impl Carry {
    /// Whether the process before was locked.
    pub fn locked(&self) -> bool {
        self.locked
    }

    /// The idle time it had, at most a day.
    pub fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms.min(IDLE_LIMIT_MS))
    }

    /// The backend's part, to apply once the stored session resumed.
    pub fn into_backend(self) -> BackendCarry {
        self.backend
    }
}

/// One waiter at a time.
static WAITING: AtomicBool = AtomicBool::new(false);
/// When the window last went: the rest counts from there.
static CLOSED_AT: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);

fn closed_at() -> Option<Instant> {
    *CLOSED_AT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The main window was destroyed: once it has stayed closed for [`REST_AFTER`] and nothing is
/// under way, the process starts again in the tray.
pub fn window_gone(app: &AppHandle) {
    *CLOSED_AT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
    if app.try_state::<Again>().is_none() || WAITING.swap(true, Ordering::SeqCst) {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            // A window opened and closed again meanwhile moves the rest later.
            let due = closed_at().map_or(Duration::ZERO, |t| {
                (t + REST_AFTER).saturating_duration_since(Instant::now())
            });
            if !due.is_zero() {
                tokio::time::sleep(due).await;
                continue;
            }
            match rest(&app).await {
                Look::Again => tokio::time::sleep(LOOK_AGAIN).await,
                Look::Stop => break,
            }
        }
        WAITING.store(false, Ordering::SeqCst);
    });
}

enum Look {
    Again,
    Stop,
}

async fn rest(app: &AppHandle) -> Look {
    if app.get_webview_window(MAIN).is_some() {
        return Look::Stop;
    }
    let (Some(again), Some(state)) = (app.try_state::<Again>(), app.try_state::<AppState>()) else {
        return Look::Stop;
    };
    let Ok(backend) = state.backend_while_locked().await else {
        return Look::Stop;
    };
    let reachable = async |server: Server| {
        crate::http::test_connection(&server)
            .await
            .map_err(
                |e| tracing::debug!(error = %e, "not starting again: the server is out of reach"),
            )
            .is_ok()
    };
    if !ready(backend, &state.lock, reachable, crate::tray::host_present).await {
        return Look::Again;
    }
    let b = backend.lock().await;
    if app.get_webview_window(MAIN).is_some() {
        return Look::Stop;
    }
    if !b.at_rest() || !state.lock.at_rest(&b) {
        return Look::Again;
    }
    if let Err(e) = again.startable() {
        tracing::warn!(error = %e, "not starting again: the new image would not start");
        return Look::Stop;
    }
    let (locked, idle) = state.lock.carry_out();
    let now = crate::approvals::now_ms();
    let carry = Carry {
        written_ms: now,
        locked,
        idle_ms: u64::try_from(idle.as_millis()).unwrap_or(u64::MAX),
        backend: b.carry_out(now),
    };
    let Some(path) = carry_path(&state.profile) else {
        return Look::Stop;
    };
    if let Err(e) = write_carry(&path, &carry) {
        tracing::warn!(error = %e, "not starting again: what it carries over could not be written");
        return Look::Stop;
    }
    b.flush();
    tracing::info!(
        idle_s = idle.as_secs(),
        locked,
        "at rest: starting again in the tray"
    );
    // The log's writer thread ends with the process image: its last lines are written now.
    if let Some(guard) = app.try_state::<crate::LogGuard>() {
        drop(guard.take());
    }
    // The backend's lock is held through the exec: no request is taken meanwhile, and one
    // that was not taken yet is sent again by its client when the process answers again. The
    // profile's lock is too: a launch meanwhile waits for this process instead of taking over.
    let me = crate::requests::instance::held();
    if let Some(Err(e)) = me.map(|i| i.keep_across_exec(true)) {
        tracing::warn!(error = %e, "the profile's lock will not be held through the exec");
    }
    let e = std::os::unix::process::CommandExt::exec(
        std::process::Command::new(&again.program).args(&again.args),
    );
    tracing::error!(error = %e, program = %again.program.display(), "could not start again; staying as is");
    // Children started later (WebKit's) must not hold the profile's lock.
    if let Some(Err(e)) = me.map(|i| i.keep_across_exec(false)) {
        tracing::error!(error = %e, "the profile's lock stays open for children");
    }
    let _ = std::fs::remove_file(&path);
    Look::Stop
}

/// Whether the process may start again now, the cheapest look first: nothing under way
/// (`Backend::at_rest`, `Lock::at_rest`: memory only), then the server answers (a request
/// over the network, made only when the rest is due: the process taking over resumes the
/// session with a refresh, and with the server out of reach it would start signed out), then
/// a tray host is there (one that went away would end a start in the background). The caller
/// looks at the first again, holding the backend through the exec.
async fn ready(
    backend: &tokio::sync::Mutex<Backend>,
    lock: &Lock,
    reachable: impl AsyncFnOnce(Server) -> bool,
    host_present: impl FnOnce() -> bool,
) -> bool {
    let server = {
        let b = backend.lock().await;
        if !b.at_rest() || !lock.at_rest(&b) {
            return false;
        }
        b.server().clone()
    };
    (server.endpoint().ok().flatten().is_none() || reachable(server).await) && host_present()
}

fn carry_path(profile: &str) -> Option<PathBuf> {
    let me = crate::requests::instance::held()?;
    Some(me.dir.join(&format!("{profile}.rest.json")))
}

fn write_carry(path: &std::path::Path, carry: &Carry) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    f.write_all(&serde_json::to_vec(carry)?)?;
    f.sync_all()
}

/// Started again at rest: the children of the process image before (WebKit's network process,
/// which ends once its connection to that image closes) are this process's now, and nothing in
/// it waits for them. Each is asked to end and is reaped, so that none stays behind as a
/// zombie. Called before this image starts any child of its own.
pub fn reap_inherited() {
    use nix::sys::signal::{Signal, kill};
    use nix::sys::wait::waitpid;
    use nix::unistd::{Pid, getpid};
    let me = getpid().as_raw();
    let inherited: Vec<Pid> = children_of(me).into_iter().map(Pid::from_raw).collect();
    if inherited.is_empty() {
        return;
    }
    tracing::info!(
        count = inherited.len(),
        "reaping the processes of the image before"
    );
    std::thread::spawn(move || {
        for pid in inherited {
            let _ = kill(pid, Signal::SIGTERM);
            if let Err(e) = waitpid(pid, None) {
                tracing::debug!(%pid, error = %e, "an inherited process was not reaped");
            }
        }
    });
}

/// The processes whose parent is `pid`, from `/proc/*/stat`.
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let child: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces and parentheses.
            let (_, tail) = stat.rsplit_once(')')?;
            let ppid: i32 = tail.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid).then_some(child)
        })
        .collect()
}

/// Takes this profile's carry file: removed whatever it holds, and returned when this start is
/// the restart it was written for (`--rested`) and it is fresh and well formed.
pub fn take_carry(profile: &str, rested: bool) -> Option<Carry> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let path = carry_path(profile)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path);
    let _ = std::fs::remove_file(&path);
    let mut text = Vec::new();
    file.ok()?.take(CARRY_LIMIT).read_to_end(&mut text).ok()?;
    if !rested {
        return None;
    }
    let carry: Carry = serde_json::from_slice(&text)
        .map_err(
            |e| tracing::warn!(error = %e, "what the process before carried over is unreadable"),
        )
        .ok()?;
    let age = crate::approvals::now_ms().saturating_sub(carry.written_ms);
    (0..=CARRY_FRESH_MS).contains(&age).then_some(carry)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finding: while something was under way the look every 5 s asked the server first, so
    /// a window closed with the lock open (a PIN set) or mid sign-in sent a request every 5 s.
    #[tokio::test]
    async fn the_server_is_asked_only_once_nothing_is_under_way() {
        use prelude_session::{MemoryStore, SecretStore};
        let cfg = prelude_emulator::Config {
            resend_cooldown_secs: 0,
            ..prelude_emulator::Config::default()
        };
        let emu = prelude_emulator::Emulator::start(cfg, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let store: std::sync::Arc<dyn SecretStore> = std::sync::Arc::new(MemoryStore::new());
        let mut b = Backend::connect(Server::Url(emu.url()), "unit", None, Some(store))
            .await
            .unwrap();
        b.resume().await;
        b.start_login("+33699990014").await.unwrap();
        let backend = tokio::sync::Mutex::new(b);
        let lock = Lock::new(None);
        let asked = std::sync::atomic::AtomicU32::new(0);
        let reachable = async |_: Server| {
            asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            true
        };
        assert!(!ready(&backend, &lock, reachable, || true).await);
        assert_eq!(
            asked.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "a code is under way"
        );
        let code = emu.outbox().last().unwrap().code.clone();
        backend.lock().await.verify_login_code(&code).await.unwrap();
        assert!(ready(&backend, &lock, reachable, || true).await);
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(
            !ready(&backend, &lock, reachable, || false).await,
            "no tray host"
        );
        let down = async |_: Server| false;
        assert!(!ready(&backend, &lock, down, || true).await);
    }

    /// Finding: a `--ca-file` removed since the start made the image after the exec end at
    /// once, so the app was gone from the tray; a program removed since made the exec fail
    /// with the log's writer already ended.
    #[tokio::test]
    async fn no_start_again_that_would_end_at_once() {
        let cert = crate::cli::emulator_cert().await;
        let dir = std::env::temp_dir().join(format!("rest-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("emulator.pem");
        std::fs::write(&file, &cert).unwrap();
        let args = crate::cli::parse(
            ["countersign", "--ca-file", file.to_str().unwrap()].map(String::from),
        )
        .unwrap();
        let again = Again::new(&args).unwrap();
        assert!(again.startable().is_ok());
        std::fs::write(&file, b"not a certificate").unwrap();
        assert_eq!(again.startable().unwrap_err().code(), "invalid_input");
        std::fs::remove_file(&file).unwrap();
        assert_eq!(again.startable().unwrap_err().code(), "invalid_input");
        let mut plain = Again::new(&crate::cli::Args::default()).unwrap();
        assert!(plain.startable().is_ok());
        plain.program = dir.join("countersign-removed");
        assert_eq!(plain.startable().unwrap_err().code(), "startup");
        let _ = std::fs::remove_dir_all(dir);
    }
}
