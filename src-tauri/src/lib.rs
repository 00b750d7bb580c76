//! Countersign: approve a sensitive action with a Prelude step-up challenge. The backend owns
//! the session (`prelude_session::SessionClient`); the web UI only renders view models.

pub mod approvals;
mod audit;
pub mod authenticator;
#[cfg(target_os = "linux")]
pub mod autostart;
pub mod backend;
mod cli;
pub mod codes;
mod commands;
pub mod demo;
mod desk;
mod edge;
pub mod emulator_key;
pub mod error;
mod files;
mod first_frame;
#[cfg(target_os = "linux")]
mod hand_back;
pub use countersign_requests::harden;
mod http;
pub mod labels;
pub mod lock;
mod logging;
mod migrate;
pub mod notice;
pub mod outcome;
mod page;
mod passkey_commands;
pub use countersign_requests::redacted;
mod rendering;
pub mod requests;
#[cfg(target_os = "linux")]
mod rest;
pub mod server;
pub mod session;
mod settings;
#[cfg(target_os = "linux")]
pub mod tray;
mod tray_icon;
mod ui_font;
pub mod view;
mod view_rows;
mod window_life;

use backend::Backend;
use error::AppResult;
use server::Server;
use settings::Settings;
use std::process::ExitCode;
use std::time::Duration;
use tauri::{Emitter, Manager, Wry};
use view::{AppView, InboxMessage};

pub struct AppState {
    /// Connected in the background while the window loads; commands wait for it.
    backend: tokio::sync::SetOnce<AppResult<tokio::sync::Mutex<Backend>>>,
    settings: Settings<Wry>,
    profile: String,
    data_dir: Option<std::path::PathBuf>,
    /// The server was chosen on the command line or in the environment for this run.
    overridden: bool,
    inbox_task: std::sync::Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
    /// While locked, [`AppState::backend`] refuses and the view is the lock's.
    lock: lock::Lock,
}

impl AppState {
    /// The backend, for a command of the person's; refused while locked.
    async fn backend(&self) -> AppResult<&tokio::sync::Mutex<Backend>> {
        let b = self.backend_while_locked().await?;
        self.lock.gate()?;
        Ok(b)
    }

    /// The backend even while locked: for the queue, the status and the lock's own commands,
    /// which answer with [`AppState::view`] (the locked view then).
    async fn backend_while_locked(&self) -> AppResult<&tokio::sync::Mutex<Backend>> {
        match self.backend.wait().await {
            Ok(b) => Ok(b),
            Err(e) => Err(error::AppError::Startup(e.to_string())),
        }
    }

    /// The view to answer with; reads only.
    fn view(&self, b: &Backend) -> AppView {
        self.lock.shape(b, self.settings.theme(), || {
            b.view(self.settings.last_identifier(), self.settings.theme())
        })
    }

    /// After an action that may have opened or closed the session: records where a session is
    /// open (the first frame's hint at the next start), then answers with the view.
    fn settled(&self, b: &Backend) -> AppView {
        self.note_session(b);
        self.view(b)
    }

    fn note_session(&self, b: &Backend) {
        let key = b.signed_in().then(|| b.server().key());
        if let Err(e) = self.settings.note_session(key.as_deref()) {
            tracing::warn!(error = %e, "could not note the session in the settings");
        }
    }

    /// (Re)starts forwarding the demo inbox of the current server to the UI.
    fn restart_inbox(&self, app: &tauri::AppHandle, b: &Backend) {
        let task = forward_inbox(app.clone(), b);
        let old = match self.inbox_task.lock() {
            Ok(mut slot) => std::mem::replace(&mut *slot, task),
            Err(_) => None,
        };
        if let Some(t) = old {
            t.abort();
        }
    }
}

fn started() -> Option<&'static std::time::Instant> {
    STARTED.get()
}

/// The event the demo inbox listens to.
pub const INBOX_EVENT: &str = "demo-inbox";

/// Exit status of `--background` in a session without a tray.
#[cfg(target_os = "linux")]
const NO_TRAY: u8 = 4;

static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

pub fn run() -> ExitCode {
    // Everything the app writes (settings, logs, the audit log, the embedded server's state
    // with its signing seeds and pending codes) is for this user alone.
    #[cfg(unix)]
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    STARTED.get_or_init(std::time::Instant::now);
    // GTK names the windows' class after the program (WM_CLASS "countersign", "Countersign"),
    // which the desktop entry's StartupWMClass and the tray's helpers go by: the same name
    // whether `countersign` ran this binary or something started `countersign-app` itself.
    #[cfg(target_os = "linux")]
    glib::set_prgname(Some("countersign"));
    // Not `args()`, which panics on an argument that is not UTF-8: clap names it instead.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The DPoP key and the refresh token will live in this process's memory: no core file.
    #[cfg(unix)]
    if let Err(e) = harden::no_core_files() {
        eprintln!("countersign: could not keep the process out of core dumps: {e}");
    }
    let args = match cli::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            // 2 for a usage error (an unknown flag, a bad value), 0 for --help and --version.
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let link = args.link.clone();
    if let Err(m) = args.validate() {
        eprintln!("countersign: {m}");
        // A bad value, as clap's own usage errors.
        return ExitCode::from(2);
    }
    // A start in the background must not leave an invisible process: without a tray, none.
    #[cfg(target_os = "linux")]
    if args.background && !tray::wait_for_host(tray::login_wait()) {
        eprintln!(
            "countersign: --background needs a system tray, and this session has none (no StatusNotifier host on D-Bus within {} s), so nothing was started; run countersign without --background",
            tray::login_wait().as_secs()
        );
        return ExitCode::from(NO_TRAY);
    }
    // One app per profile, decided by a lock taken before anything else: a later launch
    // hands its link to the first and ends.
    #[cfg(unix)]
    match requests::instance::claim(&args.profile, link.clone(), args.rested) {
        Ok(requests::instance::Claim::Run) => {
            // No reading this process's memory through /proc or ptrace by other processes
            // of the user, once it is the profile's app. Not before: a launch that hands over
            // must stay nameable by the running app, which reads its /proc/PID/exe.
            if let Err(e) = harden::not_dumpable() {
                eprintln!("countersign: could not make the process non-dumpable: {e}");
            }
        }
        Ok(requests::instance::Claim::Forwarded) => {
            eprintln!(
                "countersign: already running for profile {}; its window was brought forward",
                args.profile
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("countersign: {e}");
            return ExitCode::FAILURE;
        }
    }
    match args.extra_roots() {
        Ok(None) => {}
        Ok(Some(pem)) => {
            if let Err(e) = http::trust(pem) {
                eprintln!("countersign: {e}");
                return ExitCode::FAILURE;
            }
        }
        Err(e) => {
            eprintln!("countersign: {e}");
            return ExitCode::FAILURE;
        }
    }
    #[cfg(windows)]
    if let Some(code) = desk::forward_to_running(&args.profile, link.clone()) {
        return code;
    }
    // Still the only thread: the choice may write the environment WebKit will inherit.
    let cpu_raster = rendering::prepare(args.rendering);
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_store::Builder::new().build())
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            setup(app, args, cpu_raster, link)?;
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closed before the first frame brought the tray: it comes now, so the app stays.
            if window.label() == window_life::MAIN
                && matches!(event, tauri::WindowEvent::CloseRequested { .. })
                && let Err(e) = tray_icon::install_once(window.app_handle())
            {
                tracing::error!(error = %e, "the tray item could not be built");
            }
            window_life::on_window_event(window, event);
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_state,
            commands::start_login,
            commands::resend_login_code,
            commands::verify_login_code,
            commands::change_identifier,
            commands::logout,
            commands::request_step_up,
            commands::resend_step_up_code,
            commands::verify_step_up_code,
            commands::finish_step_up,
            commands::list_sessions,
            commands::revoke_sessions,
            commands::list_identifiers,
            commands::add_identifier,
            commands::resend_identifier_code,
            commands::verify_identifier_code,
            commands::cancel_identifier,
            commands::demo::demo_inbox,
            commands::demo::set_scenario,
            commands::demo::reset_demo,
            commands::set_theme,
            commands::server_settings,
            commands::set_emulator_key,
            commands::test_connection,
            commands::switch_server,
            commands::audit_log,
            commands::export_audit_log,
            commands::ui_ready,
            commands::check_identifier,
            commands::read_code,
            commands::complete_custom_step,
            commands::deny_step_up,
            commands::approve_request,
            commands::deny_request,
            commands::muted_programs,
            commands::unmute_programs,
            commands::desktop::pick_number,
            commands::desktop::number_matching,
            commands::desktop::set_number_matching,
            commands::desktop::autostart_state,
            commands::desktop::set_autostart,
            commands::demo::bench_state,
            commands::demo::set_faults,
            commands::demo::move_clock,
            commands::demo::export_scenario,
            commands::demo::import_scenario,
            passkey_commands::list_passkeys,
            passkey_commands::add_passkey,
            passkey_commands::register_passkey,
            passkey_commands::cancel_passkey_setup,
            passkey_commands::rename_passkey,
            passkey_commands::delete_passkey,
            passkey_commands::approve_with_passkey,
            passkey_commands::login_with_passkey,
            passkey_commands::change_pin,
            passkey_commands::reset_pin,
            passkey_commands::passkey_settings,
            passkey_commands::set_passkey_server,
            lock::commands::note_input,
            lock::commands::lock_now,
            lock::commands::unlock,
            lock::commands::forgot_pin,
            lock::commands::lock_setting,
            lock::commands::set_lock_after,
        ])
        .build(page::context())
        .map(|app| app.run(|app, event| on_event(app, &event)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("countersign: {e}");
            ExitCode::FAILURE
        }
    }
}

/// At exit, the embedded server writes what it has not saved yet (its saves are coalesced).
fn on_event(app: &tauri::AppHandle, event: &tauri::RunEvent) {
    if let tauri::RunEvent::WindowEvent {
        event: tauri::WindowEvent::CloseRequested { .. } | tauri::WindowEvent::Destroyed,
        ..
    } = event
    {
        lock::window_closed(app);
    }
    #[cfg(target_os = "linux")]
    if let tauri::RunEvent::WindowEvent {
        label,
        event: tauri::WindowEvent::Destroyed,
        ..
    } = event
        && label == window_life::MAIN
    {
        rest::window_gone(app);
    }
    window_life::on_run_event(app, event);
    if !matches!(event, tauri::RunEvent::Exit) {
        return;
    }
    #[cfg(unix)]
    if let Some(me) = requests::instance::held() {
        me.stop_answering();
    }
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    tauri::async_runtime::block_on(async {
        if let Ok(b) = state.backend_while_locked().await {
            b.lock().await.flush();
        }
    });
}

/// In the tray with no window, once the start has settled: the memory the start used and
/// will not touch again goes back to the system (`hand_back`).
#[cfg(target_os = "linux")]
fn hand_back_when_settled(app: &tauri::AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(hand_back::AFTER_START).await;
        if app.get_webview_window(window_life::MAIN).is_some() {
            return;
        }
        let began = std::time::Instant::now();
        match tokio::task::spawn_blocking(hand_back::hand_back).await {
            Ok(Ok(done)) => tracing::info!(
                took_ms = began.elapsed().as_millis(),
                mappings = done.mappings,
                advised_mib = done.bytes >> 20,
                rss_before_kib = done.rss_kib.0,
                rss_after_kib = done.rss_kib.1,
                "memory handed back"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "memory not handed back"),
            Err(e) => tracing::warn!(error = %e, "memory not handed back"),
        }
    });
}

fn setup(
    app: &mut tauri::App,
    args: cli::Args,
    cpu_raster: bool,
    link: Option<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    // This process holds the profile's lock: the old identifier's folders move first, before
    // the log, the settings or WebKit open anything in the new ones.
    let moved: Vec<_> = [app.path().app_data_dir(), app.path().app_config_dir()]
        .into_iter()
        .flatten()
        .map(|dir| (migrate::move_old_data(&dir), dir))
        .collect();
    let guard = logging::init(app.path().app_log_dir().ok());
    app.manage(LogGuard(std::sync::Mutex::new(guard)));
    // Started again at rest, in the background: no window, so no child of this image yet.
    #[cfg(target_os = "linux")]
    if args.rested {
        rest::reap_inherited();
    }
    // An entry whose program is gone (a moved or removed build) starts nothing: removed.
    #[cfg(target_os = "linux")]
    if let Some(dir) = autostart::dir() {
        for gone in autostart::remove_stale(&dir) {
            tracing::info!(entry = %gone.display(), "stale autostart entry removed");
        }
    }
    for (m, dir) in moved {
        match m {
            Ok(migrate::Moved::Nothing) => {}
            Ok(m) => {
                tracing::info!(to = %dir.display(), moved = ?m, "data of the old identifier moved")
            }
            Err(e) => {
                tracing::warn!(to = %dir.display(), error = %e, "data of the old identifier not moved")
            }
        }
    }
    let (settings, settings_notice) = Settings::open(app.handle(), &args.profile)?;
    // --endpoint / COUNTERSIGN_ENDPOINT, then --app-id / COUNTERSIGN_APP_ID, then the saved
    // choice, then the embedded emulator.
    let given = Server::from_args(args.endpoint.clone(), args.app_id.clone());
    let overridden = given.is_some();
    let server = given
        .or_else(|| settings.server())
        .unwrap_or(Server::Embedded);
    let data_dir = app.path().app_data_dir().ok();
    tracing::info!(profile = %args.profile, server = ?server, rendering = ?args.rendering, cpu_raster, "starting");
    // With no session to resume, the sign-in screen is known now: the page draws it in its
    // first frame instead of waiting for the backend. Not when it starts locked.
    let boot = (settings.session_server() != Some(server.key()) && !settings.starts_locked())
        .then(|| backend::boot_view(&server, settings.last_identifier(), settings.theme()));
    ui_font::resolve();
    // Started with the session: into the tray, with no window until it is asked for.
    if !args.background {
        window_life::open(app.handle(), boot.as_ref())?;
    }
    let lock = lock::Lock::new(lock::idle_after(settings.lock_after()));
    // Started again at rest (rest.rs): the lock as it was, and the account's context once the
    // session resumed.
    #[cfg(target_os = "linux")]
    let carried = rest::take_carry(&args.profile, args.rested).map(|c| {
        lock.carry_in(c.locked(), c.idle());
        c.into_backend()
    });
    #[cfg(not(target_os = "linux"))]
    let carried: Option<backend::rest::BackendCarry> = None;
    #[cfg(target_os = "linux")]
    if !args.automation {
        match rest::Again::new(&args) {
            Ok(again) => {
                app.manage(again);
            }
            Err(e) => tracing::warn!(error = %e, "this process will not start again at rest"),
        }
    }
    app.manage(AppState {
        backend: tokio::sync::SetOnce::new(),
        settings,
        profile: args.profile.clone(),
        data_dir: data_dir.clone(),
        overridden,
        inbox_task: std::sync::Mutex::new(None),
        lock,
    });
    if args.background {
        // No window to wait for; one with no tray after all (its library is missing) opens
        // the window rather than stay invisible.
        if !tray_icon::install_once(app.handle())? {
            window_life::open(app.handle(), boot.as_ref())?;
        }
        lock::start(app.handle());
        #[cfg(target_os = "linux")]
        hand_back_when_settled(app.handle());
    } else {
        // The tray and the screen-lock watchers wait for the window's first frame.
        let handle = app.handle().clone();
        tauri::async_runtime::spawn(async move {
            first_frame::passed().await;
            let main = handle.clone();
            let queued = handle.run_on_main_thread(move || {
                if let Err(e) = tray_icon::install_once(&main) {
                    tracing::error!(error = %e, "the tray item could not be built");
                }
            });
            if let Err(e) = queued {
                tracing::error!(error = %e, "the tray item could not be built");
            }
            lock::start(&handle);
        });
    }
    // Programs may ask at once; their requests wait for the backend below.
    desk::listen(app.handle(), args.profile.clone());
    // With the sign-in screen known and drawn now, the emulator and the keyring wait for its
    // first frame; with a session to resume the page waits for them, and in the background
    // no frame comes: they start at once.
    let defer = boot.is_some() && !args.background;
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        if defer {
            first_frame::passed().await;
        }
        let state = handle.state::<AppState>();
        let connected = Backend::connect(server, &args.profile, data_dir, None).await;
        let value = match connected {
            Ok(mut b) => {
                // Resume a stored session now, so the first screen needs no wait.
                b.resume().await;
                b.set_number_matching(state.settings.number_matching());
                lock::at_start(&state.lock, &state.settings, &b);
                if let Some(c) = carried
                    && !b.carry_in(c, approvals::now_ms())
                {
                    tracing::info!("no account context carried over for the resumed session");
                }
                if let Some(n) = settings_notice {
                    b.notice().say(n);
                }
                if let Ok(mut slot) = state.inbox_task.lock() {
                    *slot = forward_inbox(handle.clone(), &b);
                }
                Ok(tokio::sync::Mutex::new(b))
            }
            Err(e) => {
                tracing::error!(error = %e, "could not connect to the server");
                Err(e)
            }
        };
        let set = state.backend.set(value).is_ok();
        tracing::debug!(set, "backend ready");
        if link.is_some() {
            use requests::socket::Desk;
            desk::AppDesk(handle.clone()).show(link).await;
        }
    });
    Ok(())
}

fn locked(app: &tauri::AppHandle) -> bool {
    app.try_state::<AppState>()
        .is_none_or(|s| s.lock.is_locked())
}

/// Keeps the log file's writer thread for the app's life; taken only before the process
/// starts again (rest.rs), to write its last lines.
struct LogGuard(std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>>);

impl LogGuard {
    fn take(&self) -> Option<tracing_appender::non_blocking::WorkerGuard> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// Sends each message the demo phone or mailbox receives to the UI as it arrives.
fn forward_inbox(
    app: tauri::AppHandle,
    backend: &Backend,
) -> Option<tauri::async_runtime::JoinHandle<()>> {
    if let Some(emu) = backend.demo().emulator() {
        let mut rx = emu.subscribe_outbox();
        return Some(tauri::async_runtime::spawn(async move {
            loop {
                match rx.recv().await {
                    // Codes never reach a locked window.
                    Ok(_) if locked(&app) => {}
                    Ok(m) => {
                        let _ = app.emit(INBOX_EVENT, InboxMessage::from(m));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                }
            }
        }));
    }
    let url = backend.demo().external_origin()?.to_owned();
    let key = backend.demo().emulator_key().cloned();
    Some(tauri::async_runtime::spawn(async move {
        let mut seen = std::collections::HashSet::new();
        let mut first = true;
        loop {
            if let Ok(msgs) = http::fetch_outbox(&url, key.as_ref()).await {
                for m in msgs {
                    if seen.insert(m.id.clone()) && !first && !locked(&app) {
                        let _ = app.emit(INBOX_EVENT, m);
                    }
                }
                first = false;
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    }))
}
