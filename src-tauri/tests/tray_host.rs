//! Tray host detection on a private D-Bus session bus of the test's own, with a minimal
//! StatusNotifierWatcher stood up on it; and `countersign --background`, which must not start
//! without a tray.

#![cfg(target_os = "linux")]

use countersign_lib::tray::{WATCHER, WATCHER_PATH, host_on};
use dbus::arg::Variant;
use dbus::blocking::Connection;
use dbus::channel::{Channel, MatchingReceiver, Sender};
use dbus::message::MatchRule;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A `dbus-daemon --session` of its own, stopped at the end.
struct Bus {
    daemon: Child,
    address: String,
}

impl Bus {
    fn start() -> Self {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (Debian package dbus) starts");
        let mut address = String::new();
        std::io::BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        Self {
            daemon,
            address: address.trim().to_owned(),
        }
    }

    fn connect(&self) -> Connection {
        let mut ch = Channel::open_private(&self.address).unwrap();
        ch.register().unwrap();
        Connection::from(ch)
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// A watcher that owns the name and answers `IsStatusNotifierHostRegistered` with `host`,
/// until dropped.
struct Watcher(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>);

impl Watcher {
    fn start(bus: &Bus, host: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let address = bus.address.clone();
        let until = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut ch = Channel::open_private(&address).unwrap();
            ch.register().unwrap();
            let conn = Connection::from(ch);
            conn.request_name(WATCHER, false, true, true).unwrap();
            conn.start_receive(
                MatchRule::new_method_call(),
                Box::new(move |msg, c| {
                    let asked = (msg.interface(), msg.member(), msg.path());
                    let reply = match asked {
                        (Some(i), Some(m), Some(p))
                            if &*i == "org.freedesktop.DBus.Properties"
                                && &*m == "Get"
                                && &*p == WATCHER_PATH =>
                        {
                            match msg.read2::<String, String>() {
                                Ok((_, prop)) if prop == "IsStatusNotifierHostRegistered" => {
                                    msg.method_return().append1(Variant(host))
                                }
                                _ => msg.error(
                                    &"org.freedesktop.DBus.Error.UnknownProperty".into(),
                                    c"no such property",
                                ),
                            }
                        }
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
                let _ = conn.process(Duration::from_millis(50));
            }
        });
        ready_rx.recv().unwrap();
        Self(stop, Some(thread))
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(t) = self.1.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_tray_is_a_watcher_with_a_registered_host() {
    let bus = Bus::start();
    let me = bus.connect();
    assert!(!host_on(&me).unwrap(), "no watcher: no tray");
    {
        let _w = Watcher::start(&bus, false);
        assert!(!host_on(&me).unwrap(), "a watcher with no host: no tray");
    }
    // The name is released when its connection goes.
    let _w = Watcher::start(&bus, true);
    assert!(host_on(&me).unwrap(), "a watcher with a host");
}

#[test]
fn background_without_a_tray_says_so_and_starts_nothing() {
    let bus = Bus::start();
    let home = std::env::temp_dir().join(format!("cs-tray-{}", std::process::id()));
    let run = home.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["--background", "--profile", "tray-test"])
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("COUNTERSIGN_TRAY_WAIT_SECS", "1")
        .env("XDG_RUNTIME_DIR", &run)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("no StatusNotifier host") && err.contains("without --background"),
        "{err}"
    );
    assert!(!home.join("data").exists(), "nothing was started");
    let _ = std::fs::remove_dir_all(home);
}
