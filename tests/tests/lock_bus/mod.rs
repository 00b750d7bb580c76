//! The D-Bus stand-ins the lock's tests talk to: a second private bus standing as the system
//! bus with a logind stub on it, the screen savers' signal, and a notification server on the
//! tests' session bus.

use countersign_e2e::Sandbox;
use dbus::Message;
use dbus::arg::{PropMap, Variant};
use dbus::blocking::Connection;
use dbus::channel::{MatchingReceiver, Sender};
use dbus::message::MatchRule;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

pub const SESSION_PATH: &str = "/org/freedesktop/login1/session/_1";
pub const SESSION_IFACE: &str = "org.freedesktop.login1.Session";

/// A second private bus, as a system bus with logind on it.
pub struct SystemBus {
    daemon: Child,
    pub address: String,
}

impl SystemBus {
    pub fn start() -> Self {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon on the PATH");
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the bus address");
        Self {
            daemon,
            address: line.trim().to_owned(),
        }
    }

    pub fn connect(&self) -> Connection {
        let mut c = dbus::channel::Channel::open_private(&self.address).expect("the second bus");
        c.register().expect("hello");
        Connection::from(c)
    }
}

impl Drop for SystemBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// What the logind stub sends, from its own connection (the name's owner).
pub enum Send_ {
    Lock,
    LockedHint,
}

/// logind on the second bus: owns `org.freedesktop.login1`, answers `GetSession` with one
/// session, and sends that session's `Lock` or `LockedHint` change when told.
pub struct Logind {
    pub tell: mpsc::Sender<Send_>,
    pub asked: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Logind {
    pub fn start(bus: &SystemBus) -> Self {
        Self::start_with_hint(bus, false)
    }

    /// Like [`Logind::start`], with the session's `LockedHint` answering `locked`.
    pub fn start_with_hint(bus: &SystemBus, locked: bool) -> Self {
        let conn = bus.connect();
        conn.request_name("org.freedesktop.login1", false, true, true)
            .expect("the name");
        let (tell, told) = mpsc::channel();
        let asked = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, until) = (asked.clone(), stop.clone());
        std::thread::spawn(move || {
            conn.start_receive(
                MatchRule::new_method_call(),
                Box::new(move |msg, c| {
                    let asked_for: Option<(String, String)> = msg.read2().ok();
                    let reply = match msg.member().as_deref() {
                        Some("GetSession") => {
                            seen.store(true, Ordering::SeqCst);
                            msg.method_return().append1(dbus::Path::from(SESSION_PATH))
                        }
                        Some("Get")
                            if msg.path().is_some_and(|p| *p == *SESSION_PATH)
                                && asked_for
                                    == Some((
                                        SESSION_IFACE.to_owned(),
                                        "LockedHint".to_owned(),
                                    )) =>
                        {
                            msg.method_return().append1(Variant(locked))
                        }
                        _ => unknown_method(&msg),
                    };
                    let _ = c.send(reply);
                    true
                }),
            );
            while !until.load(Ordering::Relaxed) {
                let _ = conn.process(Duration::from_millis(50));
                while let Ok(what) = told.try_recv() {
                    let _ = conn.send(signal(what));
                }
            }
        });
        Self { tell, asked, stop }
    }
}

impl Drop for Logind {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub fn signal(what: Send_) -> Message {
    match what {
        Send_::Lock => Message::new_signal(SESSION_PATH, SESSION_IFACE, "Lock").unwrap(),
        Send_::LockedHint => {
            let mut changed = PropMap::new();
            changed.insert("LockedHint".into(), Variant(Box::new(true)));
            Message::new_signal(
                SESSION_PATH,
                "org.freedesktop.DBus.Properties",
                "PropertiesChanged",
            )
            .unwrap()
            .append3(SESSION_IFACE, changed, Vec::<String>::new())
        }
    }
}

/// A stand-in service on the tests' session bus: it owns `name` and answers each method call
/// with `answer`'s reply, on a thread of its own, until dropped (which lets go of the name).
pub struct SessionStub {
    stop: Arc<AtomicBool>,
    done: Option<std::thread::JoinHandle<()>>,
}

impl SessionStub {
    pub fn start(
        name: &'static str,
        answer: impl Fn(&Message, &Connection) -> Message + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let until = stop.clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        let done = std::thread::spawn(move || {
            let conn = Connection::new_session().expect("the tests' session bus");
            conn.request_name(name, false, true, true)
                .expect("the name");
            conn.start_receive(
                MatchRule::new_method_call(),
                Box::new(move |msg, c| {
                    let _ = c.send(answer(&msg, c));
                    true
                }),
            );
            ready_tx.send(()).unwrap();
            while !until.load(Ordering::Relaxed) {
                let _ = conn.process(Duration::from_millis(50));
            }
        });
        ready_rx.recv().unwrap();
        Self {
            stop,
            done: Some(done),
        }
    }
}

impl Drop for SessionStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.done.take() {
            let _ = t.join();
        }
    }
}

fn unknown_method(msg: &Message) -> Message {
    msg.error(&"org.freedesktop.DBus.Error.UnknownMethod".into(), c"no")
}

/// A screen saver that owns `name` and answers `GetActive` with true, at the name's own path
/// only (so a call to the wrong one fails the test): a screen locked before the app started.
pub fn active_screen_saver(name: &'static str) -> SessionStub {
    let path = format!("/{}", name.replace('.', "/"));
    SessionStub::start(name, move |msg, _| {
        let at_path = msg.path().is_some_and(|p| *p == *path);
        if at_path && msg.member().as_deref() == Some("GetActive") {
            msg.method_return().append1(true)
        } else {
            unknown_method(msg)
        }
    })
}

/// `ActiveChanged(true)` of `iface` on `conn`'s bus.
pub fn active_changed(conn: &Connection, iface: &str) {
    let m = Message::new_signal("/org/gnome/ScreenSaver", iface, "ActiveChanged")
        .unwrap()
        .append1(true);
    conn.send(m).expect("sent");
    conn.channel().flush();
}

/// A notification server on the tests' session bus that keeps each `Notify`'s summary and
/// body, until dropped.
pub struct Notifications {
    seen: Arc<std::sync::Mutex<Vec<(String, String)>>>,
    _stub: SessionStub,
}

impl Notifications {
    /// Counts only the notifications of the app whose environment names `sandbox`: the
    /// tests of this file run at once on one session bus, and their apps notify too.
    pub fn start(sandbox: &Sandbox) -> Self {
        let mine = sandbox.dir.to_string_lossy().into_owned();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = seen.clone();
        let stub = SessionStub::start("org.freedesktop.Notifications", move |msg, c| {
            match msg.member().as_deref() {
                Some("Notify") => {
                    let (_, _, _, summary, body): (String, u32, String, String, String) =
                        msg.read5().unwrap_or_default();
                    if sent_from(c, msg, &mine) {
                        keep.lock().unwrap().push((summary, body));
                    }
                    msg.method_return().append1(1u32)
                }
                Some("GetCapabilities") => msg.method_return().append1(vec!["body".to_owned()]),
                _ => unknown_method(msg),
            }
        });
        Self { seen, _stub: stub }
    }

    pub fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

/// Whether the message's sender is a process whose environment mentions `sandbox`.
pub fn sent_from(c: &Connection, msg: &Message, sandbox: &str) -> bool {
    let Some(sender) = msg.sender() else {
        return false;
    };
    let bus = c.with_proxy(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        Duration::from_secs(2),
    );
    let pid: Result<(u32,), _> = bus.method_call(
        "org.freedesktop.DBus",
        "GetConnectionUnixProcessID",
        (sender.to_string(),),
    );
    pid.ok()
        .and_then(|(pid,)| std::fs::read(format!("/proc/{pid}/environ")).ok())
        .is_some_and(|env| String::from_utf8_lossy(&env).contains(sandbox))
}
