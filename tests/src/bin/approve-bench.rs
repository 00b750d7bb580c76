//! From `countersign approve` to the request painted on screen: the wall time between the
//! command's start and the page's first frame showing the request, over N runs (default 20),
//! against the real window: with the window open, and (Linux, with a tray host on the bus)
//! with the window closed to the tray, so that the request has to build it again. Run it
//! through scripts/bench-approve.sh, which sets up Xvfb, a D-Bus session and the keyring.

use countersign_e2e::{App, EmulatorProc, Proc, Sandbox, finish};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let emu = EmulatorProc::start(&["--resend-cooldown", "1"]);
    // A tray from the start, so that closing the window keeps the app.
    #[cfg(target_os = "linux")]
    let _host = countersign_e2e::tray::TrayHost::start();
    let sandbox = Sandbox::new("approve_bench");
    let app = App::launch("approve_bench", &sandbox, Some(&emu.url)).await;
    let driver = app.driver.clone();
    let view = countersign_e2e::AppRef::new(driver);
    view.wait_stage("login").await.expect("login screen");
    view.fill("identifier-input", "+33612345678")
        .await
        .expect("fill");
    view.click("send-code").await.expect("send");
    view.wait_stage("code").await.expect("code screen");
    let code = emu.nth_code(1).await;
    view.fill("login-code-input", &code).await.expect("fill");
    view.click("verify-login").await.expect("verify");
    view.wait_stage("logged").await.expect("signed in");

    // The app's build, which the harness starts (COUNTERSIGN_E2E_BUILD), not this driver's.
    let build = format!("{} build", countersign_e2e::build_profile());
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        let reason = format!("bench {i}");
        // The last request's mark stays until this one's first frame replaces it.
        let before = view
            .wait_script(
                "return document.getElementById('app').dataset.requestPainted || '';",
                "the last mark",
                |_| true,
            )
            .await
            .expect("the page answers");
        let started = now_ms();
        let cli = ask(&sandbox, &reason, i);
        let painted = view
            .wait_script(
                "const a = document.getElementById('app'); \
                 const r = document.querySelector('[data-testid=request-reason]'); \
                 return [r ? r.textContent : '', a.dataset.requestPainted || ''];",
                "the request painted",
                |v| {
                    v[0].as_str() == Some(reason.as_str())
                        && v[1]
                            .as_str()
                            .is_some_and(|p| !p.is_empty() && v[1] != before)
                },
            )
            .await
            .expect("the request reaches the screen");
        // A new mark with this request's reason on screen: this request's first frame.
        let at: u128 = painted[1]
            .as_str()
            .and_then(|p| p.split(' ').nth(1))
            .and_then(|t| t.parse().ok())
            .expect("a painted time");
        samples.push(at.saturating_sub(started) as f64);
        view.click("deny-request").await.expect("deny");
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        view.wait_stage("logged").await.expect("back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The figure before the tray and the lock came (84 ms) must hold.
    report(&format!("window open, {build}"), runs, samples, 84);
    #[cfg(target_os = "linux")]
    {
        let display = app.display().to_owned();
        let samples = closed_runs(&view, &sandbox, &display, runs).await;
        report(&format!("no window, {build}"), runs, samples, 600);
    }
    app.close().await;
    // Started again at rest: the same profile, signed in, without WebDriver (which holds a
    // process image to itself), so that the app may start itself again in the tray.
    #[cfg(target_os = "linux")]
    {
        let n = runs.min(5);
        let samples = rested_runs(&sandbox, &emu.url, n).await;
        report(
            &format!("at rest (started again in the tray, no WebKit yet), {build}"),
            n,
            samples,
            600,
        );
    }
}

/// Each run times a request from the app at rest (started again in the tray, with no WebKit
/// process, its memory handed back) until its window's page is ready, which is when it has painted its first view,
/// the request; then lets the request time out, closes the window and waits for the next
/// start again at rest.
#[cfg(target_os = "linux")]
async fn rested_runs(sandbox: &Sandbox, endpoint: &str, runs: usize) -> Vec<f64> {
    use countersign_e2e::tray::close;
    use std::io::BufRead;
    let x = countersign_e2e::Display::start();
    let display = x.name().to_owned();
    let mut cmd = sandbox.countersign(&["--background", "--endpoint", endpoint]);
    cmd.env("XDG_CACHE_HOME", sandbox.dir.join("cache"))
        .env("DISPLAY", &display)
        .env("COUNTERSIGN_TRAY_WAIT_SECS", "5")
        .env("RUST_LOG", "info");
    let mut app = cmd.spawn().expect("the app");
    let (tx, rx) = std::sync::mpsc::channel::<(u128, String)>();
    let err = app.stderr.take().expect("its stderr");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send((now_ms(), line));
        }
    });
    let wait_line = |what: &str, secs: u64| -> u128 {
        let until = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok((t, line)) if line.contains(what) => return t,
                Ok(_) => {}
                Err(_) => panic!("the app never logged {what:?}"),
            }
        }
    };
    wait_line("listening for approval requests", 30);
    // Settled in the tray: the start's memory is handed back (hand_back.rs) before each run.
    wait_line("memory handed back", 30);
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        let started = now_ms();
        let cli = ask_with(
            sandbox,
            &format!("rested {i}"),
            100 + i,
            &["--timeout", "2"],
        );
        let at = wait_line("ui ready after", 30);
        samples.push(at.saturating_sub(started) as f64);
        let out = finish(cli).await;
        assert_eq!(out.code, Some(2), "timed out: {out:?}");
        assert!(close(&display), "the window closes");
        wait_line("at rest: starting again in the tray", 60);
        wait_line("listening for approval requests", 30);
        wait_line("memory handed back", 30);
    }
    let _ = app.kill();
    let _ = app.wait();
    samples
}

/// `countersign approve` from a script of its own for run `n`: each run is another program
/// to the rate limit (3 a minute per program), which would otherwise refuse all but three.
fn ask(sandbox: &Sandbox, reason: &str, n: usize) -> Proc {
    ask_with(sandbox, reason, n, &[])
}

/// [`ask`], with more arguments for `countersign approve`.
fn ask_with(sandbox: &Sandbox, reason: &str, n: usize, more: &[&str]) -> Proc {
    use std::os::unix::fs::PermissionsExt;
    let script = sandbox.dir.join(format!("bench-{n}.sh"));
    std::fs::write(
        &script,
        "#!/bin/sh\n\"$COUNTERSIGN\" approve \"$@\"\nexit $?\n",
    )
    .expect("the script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let base = sandbox.countersign(&[]);
    let mut c = std::process::Command::new(&script);
    c.args(["--scope", "transfer:write", "--reason", reason])
        .args(more)
        .env("COUNTERSIGN", base.get_program())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    Proc::spawn(c)
}

fn report(what: &str, runs: usize, mut samples: Vec<f64>, target: u32) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!("countersign approve -> request painted, {what}, {runs} runs:");
    println!(
        "  median {:.0} ms   p90 {:.0} ms   min {:.0} ms   max {:.0} ms   (target: median <= {target} ms)",
        pct(0.5),
        pct(0.9),
        samples[0],
        samples[samples.len() - 1]
    );
}

/// Each run closes the window (the app stays in the tray, with no web process) and times a
/// request until the rebuilt window paints it; WebDriver follows the rebuilt window.
#[cfg(target_os = "linux")]
async fn closed_runs(
    view: &countersign_e2e::AppRef,
    sandbox: &Sandbox,
    display: &str,
    runs: usize,
) -> Vec<f64> {
    use countersign_e2e::tray::{app_pid, children, close, windows};
    let pid = app_pid(&sandbox.profile).expect("the app's process");
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        assert!(close(display), "the window closes");
        let web = || {
            children(pid)
                .iter()
                .any(|c| c.starts_with("WebKitWebProces"))
        };
        for _ in 0..300 {
            if windows(display).is_empty() && !web() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(windows(display).is_empty() && !web(), "the window is gone");
        let reason = format!("closed {i}");
        let started = now_ms();
        let cli = ask(sandbox, &reason, runs + i);
        let mut at = None;
        for _ in 0..1500 {
            if let Ok(handles) = view.driver.windows().await
                && let Some(h) = handles.first()
                && view.driver.switch_to_window(h.clone()).await.is_ok()
                && let Ok(v) = view
                    .script(
                        "const a = document.getElementById('app'); \
                         const r = document.querySelector('[data-testid=request-reason]'); \
                         return [r ? r.textContent : '', a ? a.dataset.requestPainted || '' : ''];",
                    )
                    .await
                && v[0].as_str() == Some(reason.as_str())
                && let Some(t) = v[1]
                    .as_str()
                    .and_then(|p| p.split(' ').nth(1))
                    .and_then(|t| t.parse::<u128>().ok())
            {
                at = Some(t);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let at = at.expect("the request reaches the rebuilt window");
        samples.push(at.saturating_sub(started) as f64);
        view.click("deny-request").await.expect("deny");
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        view.wait_stage("logged").await.expect("back");
    }
    samples
}
