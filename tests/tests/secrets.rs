//! Nothing secret crosses into the webview, the log files or the settings store.

use countersign_e2e::{App, EmulatorProc, Sandbox};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

async fn nth(emu: &EmulatorProc, n: usize) -> String {
    for _ in 0..100 {
        let out = emu.outbox().await;
        if out.len() >= n {
            return out[n - 1]["code"].as_str().unwrap_or_default().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("message #{n} never sent");
}

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
        let code = nth(&e, 1).await;
        sub.lock().unwrap().push(code.clone());
        app.fill("login-code-input", &code).await?;
        app.click("verify-login").await?;
        app.wait_stage("logged").await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let code = nth(&e, 2).await;
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
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap_or_default()).into_owned();
        assert!(
            secret_shapes(&text).is_empty(),
            "{}: {:?}",
            f.display(),
            secret_shapes(&text)
        );
        for c in submitted.lock().unwrap().iter() {
            assert!(
                !has_word(&text, c),
                "{} holds a submitted code",
                f.display()
            );
        }
    }
}
