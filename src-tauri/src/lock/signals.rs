//! The session's screen lock, heard on D-Bus: `ActiveChanged(true)` from `org.gnome.ScreenSaver`
//! and from `org.freedesktop.ScreenSaver` on the session bus, and logind's `Lock` signal and
//! `LockedHint` on this session's object on the system bus. Each counts only when its sender
//! owns that well-known name at the time: any program on the bus can send a signal under any
//! interface name, and only the name's owner speaks for the screen saver or logind. When the
//! watch begins, each owner is also asked once whether the screen is locked already
//! (`GetActive`, `LockedHint`).

use dbus::Message;
use dbus::arg::{PropMap, RefArg};
use dbus::blocking::Connection;
use dbus::message::MatchRule;
use std::time::Duration;

/// The screen savers' names, each also the interface of its `ActiveChanged` signal.
pub const SCREEN_SAVERS: [&str; 2] = ["org.gnome.ScreenSaver", "org.freedesktop.ScreenSaver"];
/// logind's well-known name on the system bus.
pub const LOGIND: &str = "org.freedesktop.login1";
/// The interface of logind's session objects.
pub const SESSION_IFACE: &str = "org.freedesktop.login1.Session";
const CALL: Duration = Duration::from_secs(2);

/// Starts listening on both buses, each on a thread of its own that sleeps in the bus's read
/// until a message comes; `on_lock` gets the reason for each lock heard. A bus that is not
/// there is logged once and left alone.
pub fn watch(on_lock: impl Fn(&'static str) + Send + Clone + 'static) {
    let session = on_lock.clone();
    spawn("lock-screensaver", move || screen_savers(session));
    spawn("lock-logind", move || logind(on_lock));
}

fn spawn(name: &str, f: impl FnOnce() -> Result<(), dbus::Error> + Send + 'static) {
    let label = name.to_owned();
    let started = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if let Err(e) = f() {
                tracing::info!(watch = %label, error = %e, "screen lock not watched on this bus");
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "screen lock watcher not started");
    }
}

/// The unique name that owns `name` on `conn`'s bus now, if any.
fn owner(conn: &Connection, name: &str) -> Option<String> {
    let bus = conn.with_proxy("org.freedesktop.DBus", "/org/freedesktop/DBus", CALL);
    bus.method_call("org.freedesktop.DBus", "GetNameOwner", (name,))
        .ok()
        .map(|(o,): (String,)| o)
}

/// Whether `msg` was sent by the owner of `name`.
fn from_owner(conn: &Connection, msg: &Message, name: &str) -> bool {
    let sender = msg.sender().map(|s| s.to_string());
    let ok = sender.is_some() && owner(conn, name) == sender;
    if !ok {
        tracing::warn!(
            name,
            sender = sender.as_deref().unwrap_or("?"),
            "a lock signal from a program that does not own the name was ignored"
        );
    }
    ok
}

fn screen_savers(
    on_lock: impl Fn(&'static str) + Send + Clone + 'static,
) -> Result<(), dbus::Error> {
    let conn = Connection::new_session()?;
    for name in SCREEN_SAVERS {
        let on_lock = on_lock.clone();
        let rule = MatchRule::new_signal(name, "ActiveChanged");
        conn.add_match(
            rule,
            move |(active,): (bool,), c: &Connection, m: &Message| {
                if active && from_owner(c, m, name) {
                    on_lock(name);
                }
                true
            },
        )?;
    }
    // A screen locked before the watch began (the app started, or started again at rest,
    // behind a locked screen) sent its signal to no one: asked once, after the matches.
    for name in SCREEN_SAVERS {
        if saver_active(&conn, name) {
            on_lock(name);
        }
    }
    loop {
        conn.process(Duration::from_secs(3600))?;
    }
}

/// Whether the screen saver `name` is active now: `GetActive` at its object path
/// (`/org/gnome/ScreenSaver`, `/org/freedesktop/ScreenSaver`), asked of the name's current
/// owner by its unique name, so nothing is started by bus activation and no other program
/// answers. False when no one owns the name or the call fails.
fn saver_active(conn: &Connection, name: &str) -> bool {
    let Some(unique) = owner(conn, name) else {
        return false;
    };
    let path = format!("/{}", name.replace('.', "/"));
    conn.with_proxy(unique, path, CALL)
        .method_call(name, "GetActive", ())
        .is_ok_and(|(active,): (bool,)| active)
}

/// This session's object path: `GetSession` of `$XDG_SESSION_ID`, or of `auto` (the caller's
/// session) when it is not set.
fn session_path(conn: &Connection) -> Result<dbus::Path<'static>, dbus::Error> {
    let id = std::env::var("XDG_SESSION_ID")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "auto".into());
    let manager = conn.with_proxy(LOGIND, "/org/freedesktop/login1", CALL);
    let (path,): (dbus::Path<'static>,) =
        manager.method_call("org.freedesktop.login1.Manager", "GetSession", (id,))?;
    Ok(path)
}

/// Whether a `PropertiesChanged` of `interface` says the session is now locked.
pub fn hint_locked(interface: &str, changed: &PropMap) -> bool {
    interface == SESSION_IFACE
        && changed
            .get("LockedHint")
            .and_then(|v| v.0.as_i64())
            .is_some_and(|b| b != 0)
}

fn logind(on_lock: impl Fn(&'static str) + Send + Clone + 'static) -> Result<(), dbus::Error> {
    let conn = Connection::new_system()?;
    let path = session_path(&conn)?;
    let lock = on_lock.clone();
    let rule = MatchRule::new_signal(SESSION_IFACE, "Lock").with_path(path.clone());
    conn.add_match(rule, move |(): (), c: &Connection, m: &Message| {
        if from_owner(c, m, LOGIND) {
            lock("logind Lock");
        }
        true
    })?;
    let (path_now, lock_now) = (path.clone(), on_lock.clone());
    let rule = MatchRule::new_signal("org.freedesktop.DBus.Properties", "PropertiesChanged")
        .with_path(path);
    conn.add_match(
        rule,
        move |(iface, changed, _): (String, PropMap, Vec<String>), c: &Connection, m: &Message| {
            if hint_locked(&iface, &changed) && from_owner(c, m, LOGIND) {
                on_lock("logind LockedHint");
            }
            true
        },
    )?;
    // Locked before the watch began: logind's `LockedHint` now, asked of its owner.
    if let Some(unique) = owner(&conn, LOGIND) {
        use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
        let session = conn.with_proxy(unique, path_now, CALL);
        if session
            .get::<bool>(SESSION_IFACE, "LockedHint")
            .is_ok_and(|locked| locked)
        {
            lock_now("logind LockedHint");
        }
    }
    loop {
        conn.process(Duration::from_secs(3600))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbus::arg::Variant;

    fn props(key: &str, v: Box<dyn RefArg>) -> PropMap {
        let mut m = PropMap::new();
        m.insert(key.into(), Variant(v));
        m
    }

    #[test]
    fn only_a_true_locked_hint_of_the_session_interface_locks() {
        assert!(hint_locked(
            SESSION_IFACE,
            &props("LockedHint", Box::new(true))
        ));
        assert!(!hint_locked(
            SESSION_IFACE,
            &props("LockedHint", Box::new(false))
        ));
        assert!(!hint_locked(
            SESSION_IFACE,
            &props("IdleHint", Box::new(true))
        ));
        assert!(!hint_locked(
            "org.example.Other",
            &props("LockedHint", Box::new(true))
        ));
        assert!(!hint_locked(
            SESSION_IFACE,
            &props("LockedHint", Box::new("yes".to_owned()))
        ));
    }
}
