//! Nothing secret crosses into the webview, the log files or the settings store.

use countersign_e2e::{App, EmulatorProc, Sandbox};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_under(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// `code` as a whole word (a 6-digit run inside a timestamp is not a leak).
fn has_word(text: &str, code: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == code)
}

/// JWTs (access and challenge tokens), the emulator's refresh and verification handles, and
/// key material.
fn secret_shapes(text: &str) -> Vec<String> {
    let mut found = vec![];
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c))) {
        let jwt = word.starts_with("eyJ") && word.matches('.').count() >= 2;
        if jwt || word.starts_with("rt_") || word.starts_with("vt_") {
            found.push(word.chars().take(24).collect());
        }
    }
    for key in [
        "access_token",
        "refresh_token",
        "challenge_token",
        "PRIVATE KEY",
        "\"d\":",
    ] {
        if text.contains(key) {
            found.push(key.to_owned());
        }
    }
    found
}

/// The file holds no token, key or submitted code.
fn assert_no_secret_in(f: &Path, codes: &[String]) {
    let text = String::from_utf8_lossy(&std::fs::read(f).unwrap_or_default()).into_owned();
    let shapes = secret_shapes(&text);
    assert!(shapes.is_empty(), "{}: {shapes:?}", f.display());
    for c in codes {
        assert!(
            !has_word(&text, c),
            "{} holds a submitted code",
            f.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_webview_logs_or_store() {
    let emu = Arc::new(EmulatorProc::start(&["--resend-cooldown", "1"]));
    let sandbox = Sandbox::new("secrets");
    let app = App::launch("secrets", &sandbox, Some(&emu.url)).await;
    let e = emu.clone();
    let submitted = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sub = submitted.clone();
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        app.script(
            "window.__seen = []; window.addEventListener('countersign:ipc', (e) => window.__seen.push(e.detail)); return true;",
        )
        .await?;
        app.fill("identifier-input", "+33612345678").await?;
        app.click("send-code").await?;
        app.wait_stage("code").await?;
        let code = e.nth_code(1).await;
        sub.lock().unwrap().push(code.clone());
        app.fill("login-code-input", &code).await?;
        app.click("verify-login").await?;
        app.wait_stage("logged").await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let code = e.nth_code(2).await;
        sub.lock().unwrap().push(code.clone());
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        app.click("back-to-account").await?;
        app.wait_stage("logged").await?;
        app.click("logout").await?;
        app.wait_stage("login").await?;

        let seen = app.script("return JSON.stringify(window.__seen);").await?;
        let seen: Vec<Value> = serde_json::from_str(seen.as_str().unwrap_or("[]"))?;
        let names: Vec<&str> = seen.iter().filter_map(|s| s["name"].as_str()).collect();
        for cmd in ["start_login", "verify_login_code", "request_step_up", "verify_step_up_code", "logout"] {
            assert!(names.contains(&cmd), "{cmd} was not observed: {names:?}");
        }
        assert!(names.contains(&"demo-inbox"), "inbox events were not observed: {names:?}");
        let all = serde_json::to_string(&seen)?;
        assert!(secret_shapes(&all).is_empty(), "secrets in IPC: {:?}", secret_shapes(&all));
        // Codes appear only as the demo phone's screen, never in an answer to a command.
        for s in &seen {
            if s["kind"] == "event" || s["name"] == "demo_inbox" {
                continue;
            }
            let text = s["payload"].to_string();
            for c in sub.lock().unwrap().iter() {
                assert!(!has_word(&text, c), "a submitted code came back in {}", s["name"]);
            }
        }
        Ok(())
    })
    .await;

    // The app has exited: read everything it wrote (logs, settings, emulator-free data dir).
    let mut files = vec![];
    files_under(&sandbox.dir, &mut files);
    let logs: Vec<_> = files
        .iter()
        .filter(|p| p.to_string_lossy().contains("/logs/"))
        .collect();
    assert!(
        !logs.is_empty(),
        "the app wrote no log file under {}",
        sandbox.dir.display()
    );
    for f in &files {
        assert_no_secret_in(f, &submitted.lock().unwrap());
    }
}

/// The default set-up, the embedded server: its state file (signing seeds, pending codes), the
/// audit log, the settings and the logs are all private to the user.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_server_and_every_file_the_app_writes_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new("private_files");
    let app = App::launch("private_files", &sandbox, None).await;
    let submitted = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sub = submitted.clone();
    app.run(move |app| async move {
        let codes = app.approve_on_demo("+33612345678").await?;
        sub.lock().unwrap().extend(codes);
        Ok(())
    })
    .await;

    let mut files = vec![];
    files_under(&sandbox.dir, &mut files);
    let state: Vec<_> = files
        .iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("emulator-"))
        })
        .collect();
    assert_eq!(
        state.len(),
        1,
        "the embedded server's state file: {files:?}"
    );
    assert!(
        files
            .iter()
            .any(|p| p.to_string_lossy().contains("approvals-")),
        "the audit log: {files:?}"
    );
    for f in &files {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o077,
            0,
            "{} is readable by others ({mode:o})",
            f.display()
        );
        let dir = f.parent().unwrap();
        if dir != sandbox.dir.as_path() && dir.starts_with(&sandbox.dir) {
            let dmode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                dmode & 0o077,
                0,
                "{} is open to others ({dmode:o})",
                dir.display()
            );
        }
        if state.contains(&f) {
            // It is the demo phone's memory: codes are there by design, tokens never.
            continue;
        }
        assert_no_secret_in(f, &submitted.lock().unwrap());
    }
}
