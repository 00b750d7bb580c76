//! The tray and the window's life, with a minimal StatusNotifierWatcher stood up on the tests'
//! private session bus as the tray host: the item registers with its title and menu
//! (dbusmenu `GetLayout`); closing the window keeps the app running with no window and no
//! web process; a request builds the window again; the menu counts waiting requests; Quit,
//! clicked through dbusmenu as a panel does, answers a waiting request `cancelled`; and
//! `--background` starts in the tray with no window until Open is clicked (and hands its
//! start's memory back first); and at rest, with
//! the window closed, the app starts itself again in the tray, keeping its lock.

#![cfg(target_os = "linux")]

use countersign_e2e::tray::{TrayHost, app_pid, children, close, windows};
use countersign_e2e::{App, AppRef, Proc, Sandbox, TestResult, finish};
use dbus::arg::{ArgType, PropMap, RefArg, Variant};
use dbus::blocking::Connection;
use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ITEM: &str = "org.kde.StatusNotifierItem";
const MENU: &str = "com.canonical.dbusmenu";
const CALL: Duration = Duration::from_secs(5);

/// A menu entry as dbusmenu gives it: id, label, enabled.
type Entry = (i32, String, bool);

/// The dbusmenu id of the entry labelled `label`.
fn id_of(entries: &[Entry], label: &str) -> i32 {
    entries
        .iter()
        .find(|e| e.1 == label)
        .unwrap_or_else(|| panic!("no {label:?} in {entries:?}"))
        .0
}

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
    let sent: Result<(), dbus::Error> =
        m.method_call(MENU, "Event", (id, "clicked", Variant(0i32), 0u32));
    // Quit may end the app before its reply goes out; a panel does not wait for one either.
    // What a click does is checked by its caller.
    if let Err(e) = sent {
        assert_eq!(
            e.name(),
            Some("org.freedesktop.DBus.Error.NoReply"),
            "the click was not delivered: {e}"
        );
    }
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

/// Whether a log file of the sandbox's app has a line containing `text`.
fn log_has(sandbox: &Sandbox, text: &str) -> bool {
    fn walk(dir: &std::path::Path, text: &str) -> bool {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, text)
                } else {
                    p.extension().is_some_and(|x| x == "log")
                        && std::fs::read_to_string(&p).is_ok_and(|s| s.contains(text))
                }
            })
    }
    walk(&sandbox.dir.join("data"), text)
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

/// One tray host at a time on the tests' session bus: the watcher's name has one owner.
static ONE_HOST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_keeps_the_app_without_a_window_and_quit_cancels() {
    let _one = ONE_HOST.lock().await;
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
                ("Lock now", true),
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
        assert!(close(&display), "the window closes");
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
        until("the web process to come back", || {
            children(pid)
                .iter()
                .any(|c| c.starts_with("WebKitWebProces"))
        })
        .await?;
        wait_menu(
            &item,
            &[
                ("Open Countersign", true),
                ("1 request waiting", false),
                ("Lock now", true),
                ("Quit", true),
            ],
        )
        .await;
        // WebDriver drives the rebuilt window: its one handle is the new web view.
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
                ("Lock now", true),
                ("Quit", true),
            ],
        )
        .await;
        // "Lock now" locks the app (the request still waits), then Quit answers it.
        click(&item, id_of(&entries, "Lock now"));
        let mut locked = Value::Null;
        for _ in 0..100 {
            locked = status(&sandbox).await;
            if locked["locked"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(locked["locked"], true, "{locked}");
        click(&item, id_of(&entries, "Quit"));
        let out = finish(cli).await;
        assert_eq!(out.code, Some(2), "{out:?}");
        let v: Value = serde_json::from_str(out.stdout.trim())?;
        assert_eq!(v["status"], "cancelled", "{v}");
        until("the app to end", || app_pid(&sandbox.profile).is_none()).await?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_with_a_tray_starts_in_the_tray_with_no_window() {
    let _one = ONE_HOST.lock().await;
    let host = TrayHost::start();
    let sandbox = Sandbox::new("tray_bg");
    let display = std::env::var("DISPLAY").expect("an X display (xvfb-run)");
    let mut cmd = sandbox.countersign(&["--background"]);
    cmd.env("XDG_CACHE_HOME", sandbox.dir.join("cache"))
        .env("COUNTERSIGN_TRAY_WAIT_SECS", "5");
    let app = Proc::spawn(cmd);
    let item = host.item().await;
    wait_menu(
        &item,
        &[
            ("Open Countersign", true),
            ("No requests waiting", false),
            ("Lock now", true),
            ("Quit", true),
        ],
    )
    .await;
    let pid = app_pid(&sandbox.profile).expect("the app runs");
    assert!(windows(&display).is_empty(), "no window");
    assert!(
        !children(pid)
            .iter()
            .any(|c| c.starts_with("WebKitWebProces")),
        "no web process: {:?}",
        children(pid)
    );
    // Settled in the tray, it hands its start's memory back; the window is built after it.
    until("the memory handed back", || {
        log_has(&sandbox, "memory handed back")
    })
    .await
    .unwrap();
    // The tray's Open builds the window.
    let open = id_of(&menu(&item), "Open Countersign");
    click(&item, open);
    until("the window to open", || !windows(&display).is_empty())
        .await
        .unwrap();
    let quit = id_of(&menu(&item), "Quit");
    click(&item, quit);
    let out = finish(app).await;
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_rest_the_app_starts_again_in_the_tray_and_keeps_its_lock() {
    let _one = ONE_HOST.lock().await;
    let host = TrayHost::start();
    let sandbox = Sandbox::new("tray_rest");
    let display = std::env::var("DISPLAY").expect("an X display (xvfb-run)");
    let mut cmd = sandbox.countersign(&["--background"]);
    cmd.env("XDG_CACHE_HOME", sandbox.dir.join("cache"))
        .env("COUNTERSIGN_TRAY_WAIT_SECS", "5");
    let app = Proc::spawn(cmd);
    let idle = [
        ("Open Countersign", true),
        ("No requests waiting", false),
        ("Lock now", true),
        ("Quit", true),
    ];
    let item = host.item().await;
    let entries = wait_menu(&item, &idle).await;
    let pid = app_pid(&sandbox.profile).expect("the app runs");
    let webkit = |pid| {
        children(pid)
            .into_iter()
            .filter(|c| c.starts_with("WebKit"))
            .collect::<Vec<_>>()
    };
    click(&item, id_of(&entries, "Open Countersign"));
    until("the window to open", || !windows(&display).is_empty())
        .await
        .unwrap();
    until("the web process", || {
        webkit(pid).iter().any(|c| c.starts_with("WebKitWebProces"))
    })
    .await
    .unwrap();
    click(&item, id_of(&entries, "Lock now"));
    let mut s = Value::Null;
    for _ in 0..100 {
        s = status(&sandbox).await;
        if s["locked"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s["locked"], true, "{s}");

    // Closed, then at rest: the same process, started again, with none of WebKit's left.
    let seen = host.registered();
    assert!(close(&display), "the window closes");
    until("WebKit's processes to end and be reaped", || {
        webkit(pid).is_empty()
    })
    .await
    .unwrap();
    assert_eq!(app_pid(&sandbox.profile), Some(pid), "the same process");
    let item = host.item_after(seen).await;
    wait_menu(&item, &idle).await;
    let s = status(&sandbox).await;
    assert_eq!(
        (s["running"].clone(), s["tray"].clone(), s["locked"].clone()),
        (true.into(), true.into(), true.into()),
        "still locked after starting again: {s}"
    );

    // The process taking over answers requests (no one is signed in: refused at once),
    // and its tray's Quit ends it.
    let out = finish(ask(&sandbox, "after rest")).await;
    assert_eq!(out.code, Some(3), "{out:?}");
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["code"], "not_signed_in", "{v}");
    let entries = wait_menu(&item, &idle).await;
    click(&item, id_of(&entries, "Quit"));
    let out = finish(app).await;
    assert_eq!(out.code, Some(0), "{out:?}");
}
