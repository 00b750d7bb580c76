//! From `countersign approve` to the request painted on screen: the wall time between the
//! command's start and the page's first frame showing the request, over N runs (default 20),
//! against the real window. Run it through scripts/bench-approve.sh, which sets up Xvfb, a
//! D-Bus session and the keyring.

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

    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        let reason = format!("bench {i}");
        let started = now_ms();
        let cli = Proc::spawn(sandbox.countersign(&[
            "approve",
            "--scope",
            "transfer:write",
            "--reason",
            &reason,
        ]));
        let painted = view
            .wait_script(
                "const a = document.getElementById('app'); \
                 const r = document.querySelector('[data-testid=request-reason]'); \
                 return [r ? r.textContent : '', a.dataset.requestPainted || ''];",
                "the request painted",
                |v| {
                    v[0].as_str() == Some(reason.as_str())
                        && v[1].as_str().is_some_and(|p| !p.is_empty())
                },
            )
            .await
            .expect("the request reaches the screen");
        // The id in the mark is this request's: it is the one whose reason is on screen.
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
    app.close().await;
    samples.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!("countersign approve -> request painted, {runs} runs (debug build):");
    println!(
        "  median {:.0} ms   p90 {:.0} ms   min {:.0} ms   max {:.0} ms   (target: median <= 150 ms)",
        pct(0.5),
        pct(0.9),
        samples[0],
        samples[samples.len() - 1]
    );
}
