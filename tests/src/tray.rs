//! A desktop for the tray tests and benches: a minimal StatusNotifier host on the session bus
//! (the watcher's name, a registered host, and the items that register), and the X windows
//! of the app, found with `xdotool search` and closed as a window manager closes them.

use dbus::arg::Variant;
use dbus::blocking::Connection;
use dbus::channel::{MatchingReceiver, Sender};
use dbus::message::MatchRule;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// A tray host: owns the watcher's name on the session bus, says a host is registered, and
/// records the items that register (their bus name and object path), until dropped.
pub struct TrayHost {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    items: Arc<Mutex<Vec<(String, String)>>>,
}

impl TrayHost {
    /// Starts the host on the session bus (`DBUS_SESSION_BUS_ADDRESS`).
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let items = Arc::new(Mutex::new(Vec::new()));
        let (until, seen) = (stop.clone(), items.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let conn = Connection::new_session().expect("a session bus (dbus-run-session)");
            conn.request_name(WATCHER, false, true, true).unwrap();
            conn.start_receive(
                MatchRule::new_method_call(),
                Box::new(move |msg, c| {
                    let reply = match msg.member().as_deref() {
                        Some("RegisterStatusNotifierItem") => {
                            let arg: String = msg.read1().unwrap_or_default();
                            let sender = msg.sender().map(|s| s.to_string()).unwrap_or_default();
                            // An item names its object path (on the caller's connection) or
                            // a bus name (at the standard path).
                            let item = if arg.starts_with('/') {
                                (sender, arg)
                            } else {
                                (arg, "/StatusNotifierItem".to_owned())
                            };
                            seen.lock().unwrap().push(item);
                            msg.method_return()
                        }
                        Some("Get") => match msg.read2::<String, String>() {
                            Ok((_, p)) if p == "IsStatusNotifierHostRegistered" => {
                                msg.method_return().append1(Variant(true))
                            }
                            Ok((_, p)) if p == "ProtocolVersion" => {
                                msg.method_return().append1(Variant(0i32))
                            }
                            _ => msg.error(
                                &"org.freedesktop.DBus.Error.UnknownProperty".into(),
                                c"no such property",
                            ),
                        },
                        _ => msg.error(
                            &"org.freedesktop.DBus.Error.UnknownMethod".into(),
                            c"not here",
                        ),
                    };
                    let _ = c.send(reply);
                    true
                }),
            );
            ready_tx.send(()).unwrap();
            while !until.load(Ordering::Relaxed) {
                if conn.process(Duration::from_millis(50)).is_err() {
                    break;
                }
            }
        });
        ready_rx.recv().unwrap();
        Self {
            stop,
            thread: Some(thread),
            items,
        }
    }

    /// The first item that registered, waiting up to 30 s for it.
    pub async fn item(&self) -> (String, String) {
        self.item_after(0).await
    }

    /// How many registrations the host has seen.
    pub fn registered(&self) -> usize {
        self.items.lock().unwrap().len()
    }

    /// The latest item, once more than `n` registered, waiting up to 30 s: an app that
    /// started again registers anew.
    pub async fn item_after(&self, n: usize) -> (String, String) {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            {
                let items = self.items.lock().unwrap();
                if items.len() > n {
                    return items[items.len() - 1].clone();
                }
            }
            assert!(
                Instant::now() < until,
                "no tray item registered after the {n} seen"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TrayHost {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The X windows on screen titled exactly "Countersign" on `display`: `xdotool search`
/// matches without regard to case and lists unmapped windows too (GTK's client leader is
/// named "countersign", and GTK's hidden helper windows take the application's name).
pub fn windows(display: &str) -> Vec<u32> {
    use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, MapState};
    let out = std::process::Command::new("xdotool")
        .args(["search", "--name", "^Countersign$"])
        .env("DISPLAY", display)
        .output()
        .expect("xdotool (Debian package xdotool)");
    let (x, _) = x11rb::connect(Some(display)).unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|w: &u32| {
            x.get_property(false, *w, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 64)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|r| r.value == b"Countersign")
                && x.get_window_attributes(*w)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|a| a.map_state == MapState::VIEWABLE)
        })
        .collect()
}

/// Closes the window as a window manager does when its close button is clicked: the
/// `WM_DELETE_WINDOW` client message (ICCCM 4.2.8.1).
pub fn close_window(display: &str) {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt, EventMask};
    let (x, _) = x11rb::connect(Some(display)).unwrap();
    let atom = |name: &[u8]| x.intern_atom(false, name).unwrap().reply().unwrap().atom;
    let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
    for w in windows(display) {
        let ev = ClientMessageEvent::new(32, w, protocols, [delete, 0, 0, 0, 0]);
        x.send_event(false, w, EventMask::NO_EVENT, ev).unwrap();
    }
    x.flush().unwrap();
}

/// Closes the window and waits until it is gone: true once it is. The request is sent again
/// each second, up to 15 times: under Xvfb, with no window manager, GTK sometimes lets one
/// pass unanswered.
pub fn close(display: &str) -> bool {
    for _ in 0..15 {
        close_window(display);
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            if windows(display).is_empty() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    false
}

/// The app's process: the countersign binary whose environment names this profile.
pub fn app_pid(profile: &str) -> Option<u32> {
    let bin = std::fs::canonicalize(crate::target_bin("countersign-app")).ok()?;
    let want = format!("COUNTERSIGN_PROFILE={profile}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let exe = std::fs::read_link(e.path().join("exe")).ok()?;
        let env = std::fs::read(e.path().join("environ")).ok()?;
        let ours = exe == bin && env.split(|b| *b == 0).any(|v| v == want.as_bytes());
        ours.then_some(pid)
    })
}

/// The names (comm) of `pid`'s children.
pub fn children(pid: u32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid …; comm may hold spaces, so split after its ')'.
            let (head, tail) = stat.rsplit_once(')')?;
            let ppid: u32 = tail.split_whitespace().nth(1)?.parse().ok()?;
            let comm = head.split_once('(')?.1.to_owned();
            (ppid == pid).then_some(comm)
        })
        .collect()
}
