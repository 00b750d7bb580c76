//! The test bench in the app, as an acceptance tester uses it: on the embedded server, the
//! clock expires a challenge and a grant on demand, and a fault switch breaks a route until
//! it is turned off again, without losing the session.

use countersign_e2e::{App, AppRef, Sandbox, TestResult};

const PHONE: &str = "+33612345678";

async fn sign_in(app: &AppRef) -> TestResult {
    app.sign_in_on_demo(PHONE).await
}

/// What is wrong with the table of failing routes as laid out now, in words; empty when each
/// checkbox sits under its own column header, clear of every header and route name, and
/// nothing runs past the dialog or needs a sideways scroll.
const ROUTE_TABLE_PROBLEMS: &str = r#"
const dialog = document.querySelector('[data-testid=bench]');
const table = document.querySelector('[data-testid=fault-routes]');
table.scrollIntoView({ block: 'center' });
const d = dialog.getBoundingClientRect();
const problems = [];
const textRects = (el) => { const r = document.createRange(); r.selectNodeContents(el); return [...r.getClientRects()]; };
const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
const within = (a, b) => a.left >= b.left - 0.5 && a.right <= b.right + 0.5;
if (d.left < 0 || d.right > window.innerWidth) problems.push(`the dialog spans ${d.left}..${d.right} of ${window.innerWidth}`);
if (dialog.scrollWidth > dialog.clientWidth) problems.push(`the dialog scrolls sideways (${dialog.scrollWidth} > ${dialog.clientWidth})`);
const heads = [...table.tHead.rows[0].cells];
const boxes = [...table.querySelectorAll('tbody input[type=checkbox]')];
if (boxes.length === 0) problems.push('no checkboxes');
const texts = [...table.querySelectorAll('th')].flatMap((th) => textRects(th).map((r) => [th, r]));
for (const [th, r] of texts) {
  if (!within(r, th.getBoundingClientRect())) problems.push(`"${th.textContent}" runs out of its cell`);
  if (!within(r, d)) problems.push(`"${th.textContent}" runs past the dialog`);
}
for (const box of boxes) {
  const b = box.getBoundingClientRect();
  const id = box.dataset.testid;
  if (b.width === 0 || b.height === 0) problems.push(`${id} is not drawn`);
  if (!within(b, d)) problems.push(`${id} runs past the dialog`);
  const head = heads[box.closest('td').cellIndex].getBoundingClientRect();
  if (!within(b, head)) problems.push(`${id} is not under its column header`);
  for (const [th, r] of texts) if (meets(b, r)) problems.push(`${id} covers "${th.textContent}"`);
}
return problems;
"#;

async fn route_table_fits(app: &AppRef, w: u32, h: u32) -> TestResult {
    app.resize(w, h).await?;
    let problems = app.script(ROUTE_TABLE_PROBLEMS).await?;
    app.shot(&format!("00-routes-{w}x{h}")).await;
    assert_eq!(problems, serde_json::json!([]), "at {w}x{h}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_expires_a_challenge_and_a_grant() {
    let sandbox = Sandbox::new("bench_clock");
    // A new approval right after the first sends a new code: no cooldown in the way, so
    // nothing waits for one to pass.
    let app = App::launch_with(
        "bench_clock",
        &sandbox,
        None,
        &[("COUNTERSIGN_RESEND_COOLDOWN_SECS", "0")],
    )
    .await;
    app.run(move |app| async move {
        sign_in(&app).await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let code = app.inbox_code(2).await?;
        assert_eq!(
            app.script("return document.querySelector('[data-testid=emulated-clock]').hidden;")
                .await?,
            true
        );

        // A step lasts 10 minutes: 11 minutes on, the countdown says so at once.
        app.click("bench-open").await?;
        app.click("clock-plus-10m").await?;
        app.bench_says("moved 10 min forward").await?;
        app.click("clock-plus-1m").await?;
        app.bench_says("moved 1 min forward").await?;
        assert!(app.text("bench-clock").await?.contains("+11 min"));
        app.shot("01-bench").await;
        app.click("bench-close").await?;
        let badge = app.text("emulated-clock").await?;
        assert!(badge.contains("+11 min"), "{badge}");
        app.wait_script(
            "return document.querySelector('[data-testid=stepup-countdown]').textContent;",
            "the countdown to follow the clock",
            |v| v.as_str() == Some("Expired"),
        )
        .await?;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_script(
            "return document.querySelector('[data-testid=error]').textContent;",
            "an expiry error",
            |v| v.as_str().is_some_and(|s| s.contains("expired")),
        )
        .await?;
        app.shot("02-expired").await;

        // Back to now, a new approval is granted; an hour later its grant is over.
        app.click("bench-open").await?;
        app.click("clock-now").await?;
        app.bench_says("back to real time").await?;
        app.click("bench-close").await?;
        assert_eq!(
            app.script("return document.querySelector('[data-testid=emulated-clock]').hidden;")
                .await?,
            true
        );
        app.click("restart-approval").await?;
        app.wait_stage("step-up-otp").await?;
        let code = app.inbox_code(3).await?;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        assert!(app.text("grant-countdown").await?.starts_with("in "));
        app.click("bench-open").await?;
        app.click("clock-plus-1h").await?;
        app.bench_says("moved 1 h forward").await?;
        app.click("bench-close").await?;
        app.wait_script(
            "return document.querySelector('[data-testid=grant-countdown]').textContent;",
            "the grant to end",
            |v| v.as_str() == Some("Expired"),
        )
        .await?;
        app.shot("03-grant-expired").await;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_switch_breaks_a_route_until_it_is_off() {
    let sandbox = Sandbox::new("bench_faults");
    let app = App::launch("bench_faults", &sandbox, None).await;
    let sandbox_dir = sandbox.dir.clone();
    app.run(move |app| async move {
        sign_in(&app).await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let code = app.inbox_code(2).await?;

        // The routes' table: headed columns, each box under its header, at both sizes.
        app.click("bench-open").await?;
        for (w, h) in [(720, 560), (1040, 760)] {
            route_table_fits(&app, w, h).await?;
        }

        // 5xx on the code check: a clear, coded error, and the approval stays open.
        app.set_switch("fault-5xx-otp-check", true).await?;
        app.click("faults-apply").await?;
        app.bench_says("Switches applied.").await?;
        app.shot("01-switch").await;
        app.click("bench-close").await?;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_script(
            "return document.querySelector('[data-testid=error]').dataset.code || '';",
            "a coded server error",
            |v| v.as_str() == Some("internal"),
        )
        .await?;
        assert_eq!(app.stage().await?, "step-up-otp");

        // Off again: the same code goes through, in the same session.
        app.click("bench-open").await?;
        app.click("faults-clear").await?;
        app.bench_says("Every switch is off.").await?;
        assert_eq!(
            app.script(
                "return document.querySelector('[data-testid=fault-5xx-otp-check]').checked;"
            )
            .await?,
            false
        );
        // The switches travel in a scenario file: export with the switch on, turn it off,
        // import the file, and it is on again.
        let file = sandbox_dir.join("my-case.json");
        app.set_switch("fault-nonce", true).await?;
        app.click("faults-apply").await?;
        app.bench_says("Switches applied.").await?;
        app.click("scenario-export").await?;
        app.save_as("Save the scenario", &file).await?;
        app.bench_says("Saved to").await?;
        let text = std::fs::read_to_string(&file)?;
        assert!(text.contains("\"require_dpop_nonce\": true"), "{text}");
        app.click("faults-clear").await?;
        app.bench_says("Every switch is off.").await?;
        app.click("scenario-import").await?;
        app.open_file("Open a scenario", &file).await?;
        app.bench_says("Scenario imported.").await?;
        assert_eq!(
            app.script("return document.querySelector('[data-testid=fault-nonce]').checked;")
                .await?,
            true
        );
        app.click("faults-clear").await?;
        app.bench_says("Every switch is off.").await?;
        app.click("bench-close").await?;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        Ok(())
    })
    .await;
}
