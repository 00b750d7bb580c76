//! Whether the desktop has a tray: a StatusNotifier host, known by D-Bus on the session bus
//! (`org.kde.StatusNotifierWatcher` is owned and its `IsStatusNotifierHostRegistered` is true;
//! the StatusNotifierItem specification, freedesktop.org). A bare X session, or GNOME without
//! an extension, has none.

use dbus::blocking::Connection;
use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
use std::time::{Duration, Instant};

/// The well-known name of the StatusNotifier watcher.
pub const WATCHER: &str = "org.kde.StatusNotifierWatcher";
/// Its object path.
pub const WATCHER_PATH: &str = "/StatusNotifierWatcher";
/// How long each D-Bus call may take.
const CALL: Duration = Duration::from_secs(2);
/// How long a start at login watches for a tray that comes up after it: panels often start
/// after the session's autostart entries.
pub const LOGIN_WAIT: Duration = Duration::from_secs(30);

/// Whether a StatusNotifier host is registered with a watcher on the bus of `conn`.
///
/// # Errors
/// A D-Bus error other than "no such name" (the bus does not answer, or the watcher answers
/// the property with something that is not a boolean).
pub fn host_on(conn: &Connection) -> Result<bool, dbus::Error> {
    let bus = conn.with_proxy("org.freedesktop.DBus", "/org/freedesktop/DBus", CALL);
    let (owned,): (bool,) = bus.method_call("org.freedesktop.DBus", "NameHasOwner", (WATCHER,))?;
    if !owned {
        return Ok(false);
    }
    let watcher = conn.with_proxy(WATCHER, WATCHER_PATH, CALL);
    watcher.get::<bool>(WATCHER, "IsStatusNotifierHostRegistered")
}

/// Whether this session has a tray now; no session bus means none.
pub fn host_present() -> bool {
    match Connection::new_session() {
        Ok(conn) => host_on(&conn).unwrap_or_else(|e| {
            tracing::info!(error = %e, "no tray host: the watcher did not answer");
            false
        }),
        Err(_) => false,
    }
}

/// Waits up to `max` for a tray, checking twice a second; true as soon as one is there.
pub fn wait_for_host(max: Duration) -> bool {
    let Ok(conn) = Connection::new_session() else {
        return false;
    };
    let until = Instant::now() + max;
    loop {
        if host_on(&conn).unwrap_or(false) {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// How long `--background` waits for a tray: [`LOGIN_WAIT`], or `COUNTERSIGN_TRAY_WAIT_SECS`
/// (0 to 60) for tests and slow sessions.
pub fn login_wait() -> Duration {
    std::env::var("COUNTERSIGN_TRAY_WAIT_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s <= 60)
        .map_or(LOGIN_WAIT, Duration::from_secs)
}
