//! The app on a desktop with and without a tray: a minimal StatusNotifierWatcher stood up on
//! the tests' private session bus decides. Settings' start-with-the-session switch is greyed
//! out without a tray, and with one writes and removes the profile's autostart entry, which
//! `desktop-file-validate` accepts; `countersign status --json` reports the tray.

#![cfg(target_os = "linux")]

use countersign_e2e::{App, AppRef, Proc, Sandbox, finish};
use dbus::arg::Variant;
use dbus::blocking::Connection;
use dbus::channel::{MatchingReceiver, Sender};
use dbus::message::MatchRule;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// A watcher on the session bus that owns the name and says a host is registered, until
/// dropped.
struct Watcher(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>);

impl Watcher {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let until = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let conn = Connection::new_session().expect("a session bus (dbus-run-session)");
            conn.request_name(WATCHER, false, true, true).unwrap();
            conn.start_receive(
                MatchRule::new_method_call(),
                Box::new(|msg, c| {
                    let get = msg.member().as_deref() == Some("Get")
                        && msg.read2::<String, String>().ok().map(|(_, p)| p)
                            == Some("IsStatusNotifierHostRegistered".into());
                    let reply = if get {
                        msg.method_return().append1(Variant(true))
                    } else {
                        msg.error(
                            &"org.freedesktop.DBus.Error.UnknownMethod".into(),
                            c"not here",
                        )
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

/// Opens Settings and waits for the autostart switch's state; gives (checked, disabled, why).
async fn switch_state(app: &AppRef) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    app.click("settings-open").await?;
    let v = app
        .wait_script(
            "const b = document.getElementById('autostart-switch'); \
             const why = document.getElementById('autostart-why'); \
             return b.dataset.loaded ? [b.checked, b.disabled, why.hidden ? '' : why.textContent] : null;",
            "the autostart switch",
            |v| !v.is_null(),
        )
        .await?;
    Ok(v)
}

async fn status_tray(sandbox: &Sandbox) -> Value {
    let out = finish(Proc::spawn(sandbox.countersign(&["status", "--json"]))).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["locked"], false, "{v}");
    v["tray"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_autostart_switch_needs_a_tray_and_writes_one_valid_entry() {
    let sandbox = Arc::new(Sandbox::new("desk_tray"));
    let app = App::launch("desk_tray", &sandbox, None).await;
    let entry = sandbox
        .dir
        .join("config/autostart")
        .join(format!("countersign-{}.desktop", sandbox.profile));
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        assert_eq!(status_tray(&sandbox).await, false);
        let v = switch_state(&app).await?;
        assert_eq!(
            (v[0].as_bool(), v[1].as_bool()),
            (Some(false), Some(true)),
            "{v}"
        );
        assert!(
            v[2].as_str().unwrap_or("").contains("no system tray"),
            "{v}"
        );
        app.shot("01-no-tray").await;
        app.click("settings-close").await?;

        let _watcher = Watcher::start();
        assert_eq!(status_tray(&sandbox).await, true);
        let v = switch_state(&app).await?;
        assert_eq!(
            (v[0].as_bool(), v[1].as_bool()),
            (Some(false), Some(false)),
            "{v}"
        );
        app.click("autostart-switch").await?;
        app.wait_script(
            "return document.getElementById('autostart-note').textContent;",
            "the entry written",
            |t| {
                t.as_str()
                    .is_some_and(|t| t.contains("starts with your session"))
            },
        )
        .await?;
        app.shot("02-on").await;
        let text = std::fs::read_to_string(&entry)?;
        assert!(
            text.contains(&format!("--background --profile {}", sandbox.profile)),
            "{text}"
        );
        let out = std::process::Command::new("desktop-file-validate")
            .arg(&entry)
            .output()?;
        assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
        app.click("autostart-switch").await?;
        app.wait_script(
            "return document.getElementById('autostart-note').textContent;",
            "the entry removed",
            |t| t.as_str().is_some_and(|t| t.contains("no longer")),
        )
        .await?;
        assert!(!entry.exists());
        app.click("settings-close").await?;
        Ok(())
    })
    .await;
}
