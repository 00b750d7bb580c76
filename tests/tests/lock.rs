//! The lock in the real window: after the idle time (a short one for the run), on the
//! session's screen lock (`ActiveChanged` on the tests' private session bus from the name's
//! owner, and ignored from another program; logind's `Lock` and `LockedHint` from a stub on a
//! second private bus given as `DBUS_SYSTEM_BUS_ADDRESS`), and on Ctrl+L. While locked the
//! window holds "Locked" and the count of waiting requests, the backend refuses every other
//! command, and requests still queue. The PIN opens it (a wrong one spends a try and makes
//! the next wait), its start is locked once a PIN is set, the PIN typed at the lock serves
//! as a waiting request's passkey verification, and "Forgot PIN" signs out.

#![cfg(target_os = "linux")]

mod lock_bus;

use countersign_e2e::{App, AppRef, Proc, Sandbox, TestResult, finish};
use dbus::blocking::Connection;
use dbus::channel::Sender;
use lock_bus::{
    Logind, Notifications, Send_, SystemBus, active_changed, active_screen_saver, signal,
};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const PHONE: &str = "+33612345678";
const PIN: &str = "482916";

/// What the page holds: its whole text, and what is in the stage.
const PAGE_TEXT: &str = "return document.getElementById('app').innerText;";

async fn status_locked(sandbox: &Sandbox) -> Value {
    let out = finish(Proc::spawn(sandbox.countersign(&["status", "--json"]))).await;
    let v: Value = serde_json::from_str(out.stdout.trim()).expect("one JSON object");
    v["locked"].clone()
}

/// Calls a command straight through the IPC, as a page script could; its error code, or
/// "ok".
async fn invoke_code(
    app: &AppRef,
    command: &str,
    args: &str,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let v = app
        .driver
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1]; \
                 window.__TAURI__.core.invoke('{command}', {args}).then(() => done('ok'), (e) => done(e.code || String(e)));"
            ),
            vec![],
        )
        .await?;
    Ok(v.json().as_str().unwrap_or_default().to_owned())
}

/// The locked window holds "Locked", the waiting count and the lock's own controls, and its
/// view holds nothing of the account.
async fn only_locked(app: &AppRef, waiting: &str) -> TestResult {
    app.wait_stage("locked").await?;
    app.wait_script(
        "return document.querySelector('[data-testid=lock-waiting]')?.textContent;",
        "the waiting count",
        |v| v.as_str() == Some(waiting),
    )
    .await?;
    let text = app.script(PAGE_TEXT).await?;
    let text = text.as_str().unwrap_or_default();
    for absent in [
        PHONE,
        "+33",
        "Session",
        "Demo inbox",
        "transfer",
        "Settings",
        "Sign out",
    ] {
        assert!(
            !text.contains(absent),
            "{absent:?} on the locked screen: {text}"
        );
    }
    assert!(text.contains("Locked"), "{text}");
    let view = app
        .driver
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             window.__TAURI__.core.invoke('app_state').then(done, (e) => done(e));",
            vec![],
        )
        .await?;
    let v = view.json();
    assert_eq!(v["stage"], "locked");
    for empty in [
        "user",
        "challenge",
        "grant",
        "request",
        "notice",
        "identifier",
        "lastIdentifier",
    ] {
        assert!(v[empty].is_null(), "{empty} in the locked view: {v}");
    }
    assert_eq!(v["server"]["label"], "", "{v}");
    assert_eq!(v["server"]["demo"], false, "{v}");
    // Every other command is refused by the backend, not only hidden.
    for (command, args) in [
        ("audit_log", "{}"),
        ("list_sessions", "{}"),
        ("demo_inbox", "{}"),
        ("approve_request", "{id: 'r1'}"),
        ("request_step_up", "{scope: 'transfer:write', metadata: {}}"),
    ] {
        assert_eq!(
            invoke_code(app, command, args).await?,
            "locked",
            "{command}"
        );
    }
    Ok(())
}

/// A screen-lock signal on the tests' session bus locks every app on it, the other tests'
/// too: the signals test runs alone (write), the others beside each other (read).
static SESSION_BUS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Waits a moment, then checks the window did not lock.
async fn stays_open(app: &AppRef, stage: &str, after: &str) -> TestResult {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.stage().await?, stage, "locked after {after}");
    Ok(())
}

/// Unlocks a lock without a PIN (a click) and waits for `stage`.
async fn click_open(app: &AppRef, stage: &str) -> TestResult {
    app.click("unlock").await?;
    app.wait_stage(stage).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_locks_after_the_idle_time_and_requests_queue_behind_it() {
    let _bus = SESSION_BUS.read().await;
    let sandbox = Arc::new(Sandbox::new("lock_idle"));
    let app = App::launch_with(
        "lock_idle",
        &sandbox,
        None,
        &[("COUNTERSIGN_LOCK_AFTER_SECS", "15")],
    )
    .await;
    let sb = sandbox.clone();
    let notifications = Notifications::start(&sandbox);
    app.run(move |app| async move {
        app.sign_in_on_demo(PHONE).await?;
        assert_eq!(status_locked(&sb).await, false);
        // No input from here: the idle time runs out.
        only_locked(&app, "No request is waiting.").await?;
        app.shot("01-locked-after-idle").await;
        assert_eq!(status_locked(&sb).await, true);

        // A request still queues, and the locked screen counts it and nothing else.
        let mut cli = Proc::spawn(sb.countersign(&[
            "approve",
            "--scope",
            "transfer:write",
            "--meta",
            "amount=20",
            "--reason",
            "Pay Bo",
            "--json",
        ]));
        let number = cli.match_number().await;
        only_locked(&app, "1 request is waiting.").await?;
        // Its notification says "Approval requested", and nothing of who asks or what.
        let said = app
            .wait_script("return true;", "a notification", |_| {
                !notifications.seen().is_empty()
            })
            .await;
        assert!(said.is_ok(), "no notification");
        assert_eq!(
            notifications.seen(),
            [("Approval requested".to_owned(), String::new())]
        );
        let text = app.script(PAGE_TEXT).await?;
        assert!(
            !text.as_str().unwrap_or_default().contains("Pay Bo"),
            "{text}"
        );
        app.shot("02-locked-with-a-request").await;

        // Without a PIN, a click opens it, and the request is there to answer.
        assert!(
            !app.in_view("unlock-pin").await.unwrap_or(false),
            "no PIN is asked"
        );
        click_open(&app, "request").await?;
        app.shot("03-open-on-the-request").await;
        app.pick_number(number).await?;
        app.click("deny-request").await?;
        let out = finish(cli).await;
        let v: Value = serde_json::from_str(out.stdout.trim())?;
        assert_eq!(v["status"], "denied", "{out:?}");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_lock_locks_it_from_the_names_owner_only() {
    let _bus = SESSION_BUS.write().await;
    let sandbox = Sandbox::new("lock_signals");
    let system = SystemBus::start();
    let logind = Logind::start(&system);
    let address = system.address.clone();
    let app = App::launch_with(
        "lock_signals",
        &sandbox,
        None,
        &[("DBUS_SYSTEM_BUS_ADDRESS", &address)],
    )
    .await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        lock_setting(&app).await?;
        let other = Connection::new_session().expect("the tests' session bus");
        for name in ["org.gnome.ScreenSaver", "org.freedesktop.ScreenSaver"] {
            let owner = Connection::new_session().expect("the tests' session bus");
            owner.request_name(name, false, true, true)?;
            active_changed(&owner, name);
            only_locked(&app, "No request is waiting.").await?;
            app.shot(&format!("locked-by-{name}")).await;
            click_open(&app, "login").await?;
            // The same signal from a program that does not own the name changes nothing.
            active_changed(&other, name);
            stays_open(&app, "login", &format!("{name} from a non-owner")).await?;
            owner.release_name(name)?;
        }

        // logind: the stub was asked for this session at start.
        app.wait_script("return true;", "logind asked", |_| {
            logind.asked.load(Ordering::SeqCst)
        })
        .await?;
        logind.tell.send(Send_::Lock)?;
        only_locked(&app, "No request is waiting.").await?;
        click_open(&app, "login").await?;
        logind.tell.send(Send_::LockedHint)?;
        only_locked(&app, "No request is waiting.").await?;
        click_open(&app, "login").await?;
        // A Lock on that path from another connection of that bus is ignored.
        let stranger = system.connect();
        stranger.send(signal(Send_::Lock)).expect("sent");
        stranger.channel().flush();
        stays_open(&app, "login", "a logind Lock from a non-owner").await?;
        drop(logind);
        Ok(())
    })
    .await;
}

/// A screen locked before the app started sent its signal to no one: when the watch begins,
/// the app asks logind's `LockedHint` and the screen savers' `GetActive`, and locks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_locked_before_the_start_locks_it_at_once() {
    let _bus = SESSION_BUS.write().await;
    let system = SystemBus::start();
    let address = system.address.clone();
    let env = [("DBUS_SYSTEM_BUS_ADDRESS", address.as_str())];
    {
        let _logind = Logind::start_with_hint(&system, true);
        let sandbox = Sandbox::new("locked_hint_at_start");
        let app = App::launch_with("locked_hint_at_start", &sandbox, None, &env).await;
        app.run(move |app| async move {
            only_locked(&app, "No request is waiting.").await?;
            app.shot("locked-at-start").await;
            Ok(())
        })
        .await;
    }
    // No logind this time (its calls fail): the session bus's screen saver alone.
    let _saver = active_screen_saver("org.gnome.ScreenSaver");
    let sandbox = Sandbox::new("locked_saver_at_start");
    let app = App::launch_with("locked_saver_at_start", &sandbox, None, &env).await;
    app.run(move |app| async move { only_locked(&app, "No request is waiting.").await })
        .await;
}

/// Settings' "Lock after" shows the setting (5 minutes until chosen), keeps "Never", and the
/// backend refuses a number not offered.
async fn lock_setting(app: &AppRef) -> TestResult {
    const READ: &str = "const s = document.getElementById('lock-after'); \
                        return s.dataset.loaded ? [s.value, s.selectedOptions[0].textContent] : null;";
    app.click("settings-open").await?;
    let v = app
        .wait_script(READ, "the lock setting", |v| !v.is_null())
        .await?;
    assert_eq!(v, serde_json::json!(["5", "5 minutes"]));
    app.script(
        "const s = document.getElementById('lock-after'); s.value = '0'; \
         s.dispatchEvent(new Event('change')); return true;",
    )
    .await?;
    app.wait_script(
        "return document.getElementById('lock-note').textContent;",
        "the setting saved",
        |t| t.as_str().is_some_and(|t| t.contains("no longer locks")),
    )
    .await?;
    app.script(
        "document.querySelector('[data-testid=lock-panel]').scrollIntoView({block: 'center'}); return true;",
    )
    .await?;
    app.shot("settings-lock-never").await;
    app.click("settings-close").await?;
    app.click("settings-open").await?;
    let v = app
        .wait_script(READ, "the lock setting again", |v| !v.is_null())
        .await?;
    assert_eq!(v, serde_json::json!(["0", "Never"]));
    app.click("settings-close").await?;
    assert_eq!(
        invoke_code(app, "set_lock_after", "{minutes: 7}").await?,
        "invalid_input"
    );
    Ok(())
}

/// Signs in with the first code, adds this computer's passkey with `PIN` (the second code)
/// and switches transfer:write to the passkey scenario.
async fn signed_in_with_a_pin(app: &AppRef) -> TestResult {
    app.sign_in_on_demo(PHONE).await?;
    app.click("passkey-add").await?;
    app.wait_stage("step-up-otp").await?;
    let code = app.inbox_code(2).await?;
    app.fill("stepup-code-input", &code).await?;
    app.click("verify-stepup").await?;
    app.wait_stage("logged").await?;
    app.fill("passkey-pin", PIN).await?;
    app.fill("passkey-pin-confirm", PIN).await?;
    app.click("passkey-register").await?;
    app.wait_script(
        "return document.querySelectorAll('[data-testid=passkey-item]').length;",
        "this computer's passkey",
        |v| v.as_u64() == Some(1),
    )
    .await?;
    app.pick_scenario("passkey").await
}

async fn ctrl_l(app: &AppRef) -> TestResult {
    use thirtyfour::prelude::*;
    app.driver
        .action_chain()
        .key_down(Key::Control)
        .send_keys("l")
        .key_up(Key::Control)
        .perform()
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_opens_it_a_wrong_one_waits_and_a_restart_stays_locked() {
    let _bus = SESSION_BUS.read().await;
    let sandbox = Arc::new(Sandbox::new("lock_pin"));
    let app = App::launch("lock_pin", &sandbox, None).await;
    let sb = sandbox.clone();
    app.run(move |app| async move {
        signed_in_with_a_pin(&app).await?;
        ctrl_l(&app).await?;
        only_locked(&app, "No request is waiting.").await?;
        app.el("unlock-pin").await?;
        assert_eq!(app.text("unlock-tries").await?, "8 tries left.");
        app.shot("01-locked-with-a-pin").await;

        // A wrong PIN spends a try of the passkeys' counter; the next try must wait.
        app.fill("unlock-pin", "111111").await?;
        app.click("unlock").await?;
        app.wait_error("Wrong PIN. 7 tries left").await?;
        assert_eq!(app.text("unlock-tries").await?, "7 tries left.");
        app.fill("unlock-pin", "222222").await?;
        app.click("unlock").await?;
        app.wait_error("Too soon after a wrong PIN").await?;
        assert_eq!(
            app.text("unlock-tries").await?,
            "7 tries left.",
            "no try spent"
        );
        app.shot("02-wrong-pin-then-too-soon").await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        app.fill("unlock-pin", "333333").await?;
        app.click("unlock").await?;
        app.wait_error("Wrong PIN. 6 tries left").await?;
        let wrong = tokio::time::Instant::now();
        // The second wrong PIN waits 2 s; a try before then is refused.
        app.fill("unlock-pin", PIN).await?;
        app.click("unlock").await?;
        app.wait_error("Too soon after a wrong PIN").await?;
        app.wait_script(
            "return document.querySelector('[data-testid=unlock-wait]').hidden;",
            "the wait to end",
            |v| v == &Value::Bool(true),
        )
        .await?;
        // The backend's 2 s count from the wrong PIN, whatever the page shows.
        tokio::time::sleep_until(wrong + Duration::from_millis(2300)).await;

        // A request waits on a passkey step: the PIN typed to unlock is its verification.
        let mut cli = Proc::spawn(sb.countersign(&[
            "approve",
            "--scope",
            "transfer:write",
            "--meta",
            "amount=20",
            "--reason",
            "Pay Bo",
            "--json",
        ]));
        let number = cli.match_number().await;
        only_locked(&app, "1 request is waiting.").await?;
        app.fill("unlock-pin", PIN).await?;
        app.click("unlock").await?;
        app.wait_stage("request").await?;
        app.pick_number(number).await?;
        app.click("approve-request").await?;
        app.wait_stage("step-up-otp").await?;
        app.el("approve-passkey").await?;
        assert!(
            !app.in_view("passkey-pin").await.unwrap_or(false),
            "the PIN is not asked a second time"
        );
        app.shot("03-request-after-unlock-no-second-pin").await;
        app.click("approve-passkey").await?;
        app.wait_stage("done").await?;
        let out = finish(cli).await;
        let v: Value = serde_json::from_str(out.stdout.trim())?;
        assert_eq!(v["status"], "granted", "{out:?}");
        Ok(())
    })
    .await;

    // With a PIN set, a new start is locked.
    let app = App::launch("lock_pin_restart", &sandbox, None).await;
    let sb = sandbox.clone();
    app.run(move |app| async move {
        only_locked(&app, "No request is waiting.").await?;
        assert_eq!(status_locked(&sb).await, true);
        app.shot("04-started-locked").await;
        // "Forgot PIN": the passkeys' reset, and a sign-out.
        app.click("forgot-pin").await?;
        app.click("forgot-pin").await?;
        app.wait_stage("login").await?;
        let said = app.text("notice").await?;
        assert!(said.contains("Sign in again"), "{said}");
        assert_eq!(status_locked(&sb).await, false);
        app.shot("05-forgot-pin-signed-out").await;
        Ok(())
    })
    .await;
}
