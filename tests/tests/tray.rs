//! The tray and the window's life, with a minimal StatusNotifierWatcher stood up on the tests'
//! private session bus as the tray host: the item registers with its title and menu
//! (dbusmenu `GetLayout`); closing the window keeps the app running with no window and no
//! web process; a request builds the window again; the menu counts waiting requests; and
//! Quit, clicked through dbusmenu as a panel does, answers a waiting request `cancelled`.

#![cfg(target_os = "linux")]

use countersign_e2e::{App, AppRef, Proc, Sandbox, TestResult, finish, target_bin};
use dbus::arg::{ArgType, PropMap, RefArg, Variant};
use dbus::blocking::Connection;
use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
use dbus::channel::{MatchingReceiver, Sender};
use dbus::message::MatchRule;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const ITEM: &str = "org.kde.StatusNotifierItem";
const MENU: &str = "com.canonical.dbusmenu";
const CALL: Duration = Duration::from_secs(5);

/// A tray host: owns the watcher's name on the session bus, says a host is registered, and
/// records the items that register (their bus name and object path), until dropped.
struct TrayHost {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    items: Arc<Mutex<Vec<(String, String)>>>,
}

impl TrayHost {
    fn start() -> Self {
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
                let _ = conn.process(Duration::from_millis(50));
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
    async fn item(&self) -> (String, String) {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = self.items.lock().unwrap().first().cloned() {
                return i;
            }
            assert!(Instant::now() < until, "no tray item registered");
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

/// A menu entry as dbusmenu gives it: id, label, enabled.
type Entry = (i32, String, bool);

/// The value inside a variant, or the value itself.
fn inner(a: &dyn RefArg) -> &dyn RefArg {
    if a.arg_type() == ArgType::Variant {
        a.as_iter().and_then(|mut i| i.next()).unwrap_or(a)
    } else {
        a
    }
}

/// The item's menu, top level, through dbusmenu's `GetLayout` as a panel reads it.
fn menu(item: &(String, String)) -> Vec<Entry> {
    let conn = Connection::new_session().unwrap();
    let it = conn.with_proxy(&item.0, &item.1, CALL);
    let path: dbus::Path = it.get(ITEM, "Menu").unwrap();
    let m = conn.with_proxy(&item.0, path, CALL);
    type Layout = (i32, PropMap, Vec<Variant<Box<dyn RefArg>>>);
    let (_rev, (_root, _props, children)): (u32, Layout) = m
        .method_call(MENU, "GetLayout", (0i32, -1i32, Vec::<String>::new()))
        .unwrap();
    let mut entries = Vec::new();
    for child in &children {
        let mut fields = inner(&*child.0).as_iter().unwrap();
        let id = fields.next().and_then(|f| f.as_i64()).unwrap() as i32;
        let props: Vec<&dyn RefArg> = fields.next().unwrap().as_iter().unwrap().collect();
        let (mut label, mut enabled, mut visible) = (String::new(), true, true);
        for kv in props.chunks(2) {
            let v = inner(kv[1]);
            match kv[0].as_str() {
                Some("label") => label = v.as_str().unwrap_or_default().replace('_', ""),
                Some("enabled") => enabled = v.as_i64() != Some(0),
                Some("visible") => visible = v.as_i64() != Some(0),
                _ => {}
            }
        }
        if visible {
            entries.push((id, label, enabled));
        }
    }
    entries
}

/// Clicks a menu entry as a panel does (dbusmenu `Event`).
fn click(item: &(String, String), id: i32) {
    let conn = Connection::new_session().unwrap();
    let path: dbus::Path = conn
        .with_proxy(&item.0, &item.1, CALL)
        .get(ITEM, "Menu")
        .unwrap();
    let m = conn.with_proxy(&item.0, path, CALL);
    let () = m
        .method_call(MENU, "Event", (id, "clicked", Variant(0i32), 0u32))
        .unwrap();
}

/// Waits up to 30 s for the menu to read `want` (labels and whether each is enabled).
async fn wait_menu(item: &(String, String), want: &[(&str, bool)]) -> Vec<Entry> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let got = menu(item);
        let seen: Vec<(&str, bool)> = got.iter().map(|(_, l, e)| (l.as_str(), *e)).collect();
        if seen == want {
            return got;
        }
        assert!(Instant::now() < until, "menu {seen:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The X windows titled exactly "Countersign" on `display`: `xdotool search` matches without
/// regard to case, and GTK's client leader window is named "countersign".
fn windows(display: &str) -> Vec<u32> {
    use x11rb::protocol::xproto::{AtomEnum, ConnectionExt};
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
        })
        .collect()
}

/// Closes the window as a window manager does when its close button is clicked: the
/// `WM_DELETE_WINDOW` client message (ICCCM 4.2.8.1).
fn close_window(display: &str) {
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

/// Clicks in the middle of the window.
fn click_in(display: &str) {
    let out = std::process::Command::new("xdotool")
        .args(["mousemove", "520", "380", "click", "1"])
        .env("DISPLAY", display)
        .output()
        .expect("xdotool");
    assert!(out.status.success(), "{out:?}");
}

/// Waits up to 30 s until `ok` holds, saying what was awaited otherwise.
async fn until(what: &str, mut ok: impl FnMut() -> bool) -> TestResult {
    let end = Instant::now() + Duration::from_secs(30);
    while !ok() {
        if Instant::now() > end {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The app's process: the countersign binary whose environment names this profile.
fn app_pid(profile: &str) -> Option<u32> {
    let bin = std::fs::canonicalize(target_bin("countersign")).ok()?;
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
fn children(pid: u32) -> Vec<String> {
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

async fn status(sandbox: &Sandbox) -> Value {
    let out = finish(Proc::spawn(sandbox.countersign(&["status", "--json"]))).await;
    serde_json::from_str(out.stdout.trim()).unwrap_or(Value::Null)
}

fn ask(sandbox: &Sandbox, reason: &str) -> Proc {
    Proc::spawn(sandbox.countersign(&[
        "approve",
        "--scope",
        "transfer:write",
        "--reason",
        reason,
        "--json",
    ]))
}

async fn wait_request(app: &AppRef, reason: &str) -> TestResult {
    app.wait_stage("request").await?;
    app.wait_script(
        "return document.querySelector('[data-testid=request-reason]')?.textContent || '';",
        &format!("the request {reason:?} on screen"),
        |v| v.as_str() == Some(reason),
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_keeps_the_app_without_a_window_and_quit_cancels() {
    let host = TrayHost::start();
    let sandbox = Arc::new(Sandbox::new("tray"));
    let app = App::launch("tray", &sandbox, None).await;
    let display = app.display().to_owned();
    app.run(move |app| async move {
        app.sign_in_on_demo("+33612345678").await?;
        let item = host.item().await;
        let conn = Connection::new_session()?;
        let title: String = conn.with_proxy(&item.0, &item.1, CALL).get(ITEM, "Title")?;
        assert_eq!(title, "Countersign");
        wait_menu(
            &item,
            &[
                ("Open Countersign", true),
                ("No requests waiting", false),
                ("Quit", true),
            ],
        )
        .await;

        // Closed: the app runs on, with no window and no web process.
        let pid = app_pid(&sandbox.profile).ok_or("the app's process")?;
        assert!(
            children(pid)
                .iter()
                .any(|c| c.starts_with("WebKitWebProces")),
            "{:?}",
            children(pid)
        );
        // The indicator library reads the menu into D-Bus when the host first asks
        // (libdbusmenu-gtk's parser activates its items), and GTK then holds a grab that
        // drops a delete request until the next click in the window. A person clicks before
        // closing; so does the test.
        click_in(&display);
        tokio::time::sleep(Duration::from_millis(500)).await;
        close_window(&display);
        until("the window to go", || windows(&display).is_empty()).await?;
        until("the web process to end", || {
            !children(pid)
                .iter()
                .any(|c| c.starts_with("WebKitWebProces"))
        })
        .await?;
        let s = status(&sandbox).await;
        assert_eq!(
            (s["running"].clone(), s["tray"].clone()),
            (true.into(), true.into()),
            "{s}"
        );
        assert_eq!(app_pid(&sandbox.profile), Some(pid));

        // A request builds the window again, and the menu counts it.
        let cli = ask(&sandbox, "while closed");
        until("the window to come back", || !windows(&display).is_empty()).await?;
        wait_menu(
            &item,
            &[
                ("Open Countersign", true),
                ("1 request waiting", false),
                ("Quit", true),
            ],
        )
        .await;
        // WebDriver drives the rebuilt window: WebKit hands the session each new web view of
        // the automation context, and it is the only one.
        let handles = app.driver.windows().await?;
        assert_eq!(handles.len(), 1, "{handles:?}");
        app.driver.switch_to_window(handles[0].clone()).await?;
        wait_request(&app, "while closed").await?;
        app.shot("01-reopened").await;
        app.click("deny-request").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(out.stdout.contains(r#""status":"denied""#), "{out:?}");

        // Quit answers a waiting request cancelled, and ends the app.
        let cli = ask(&sandbox, "quit meanwhile");
        let entries = wait_menu(
            &item,
            &[
                ("Open Countersign", true),
                ("1 request waiting", false),
                ("Quit", true),
            ],
        )
        .await;
        click(&item, entries[2].0);
        let out = finish(cli).await;
        assert_eq!(out.code, Some(2), "{out:?}");
        let v: Value = serde_json::from_str(out.stdout.trim())?;
        assert_eq!(v["status"], "cancelled", "{v}");
        until("the app to end", || app_pid(&sandbox.profile).is_none()).await?;
        Ok(())
    })
    .await;
}
