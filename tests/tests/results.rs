//! The screens after a decision, in the real window: the granted screen leads with what was
//! approved and turns neutral when the grant ends; notes about an earlier screen go when the
//! screen changes; a program's step-up has one Deny, and a report says why to sign out.

use countersign_e2e::{App, AppRef, EmulatorProc, Proc, Sandbox, TestResult, finish};
use std::sync::Arc;
use std::time::Duration;
use thirtyfour::prelude::*;

const PHONE: &str = "+33612345678";

/// Whether the element with `testid` is drawn: present, and neither it nor a closed
/// `<details>` around it hides it.
async fn shown(app: &AppRef, testid: &str) -> WebDriverResult<bool> {
    let v = app
        .script(&format!(
            "return document.querySelector('[data-testid=\"{testid}\"]')?.checkVisibility() ?? false;"
        ))
        .await?;
    Ok(v.as_bool() == Some(true))
}

async fn bench_says(app: &AppRef, text: &str) -> TestResult {
    app.wait_script(
        "return document.querySelector('[data-testid=bench-note]').textContent;",
        text,
        |v| v.as_str().is_some_and(|s| s.contains(text)),
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_granted_screen_says_what_was_approved_and_ends_with_the_grant() {
    let sandbox = Sandbox::new("result_grant");
    let app = App::launch_with(
        "result_grant",
        &sandbox,
        None,
        &[("COUNTERSIGN_RESEND_COOLDOWN_SECS", "1")],
    )
    .await;
    app.run(move |app| async move {
        app.sign_in_on_demo(PHONE).await?;

        // The app's own form: one Deny, and nothing to report (nobody else asked).
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        assert!(shown(&app, "deny-request").await?);
        assert!(!shown(&app, "deny-report").await?);
        // At the default size the card is wide enough for the title on one line.
        let lines = app
            .script(
                "const h = document.querySelector('[data-testid=approval-title]');
                 return h.getBoundingClientRect().height / parseFloat(getComputedStyle(h).fontSize);",
            )
            .await?;
        let lines = lines.as_f64().unwrap_or(f64::NAN);
        assert!(lines < 2.0, "the title wraps at 1040x760: {lines} ems high");

        // A note about the code step goes with the code step.
        app.click("resend-stepup-code").await?;
        app.wait_script(
            "return document.querySelector('[data-testid=toast]').textContent;",
            "the resend note",
            |v| v.as_str() == Some("A new code is on its way."),
        )
        .await?;
        let code = app.inbox_code(3).await?;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        assert!(!shown(&app, "toast").await?, "the resend note outlived its screen");

        // What happened leads; "Scope granted." follows it; the technical facts are folded.
        let title = app.text("grant-title").await?;
        assert!(
            title.contains('€') && title.contains("500.00") && title.ends_with(" to ACME Ltd approved"),
            "{title}"
        );
        assert_eq!(app.text("scope-granted").await?, "Scope granted.");
        let below = app
            .script(
                "const y = (t) => document.querySelector(`[data-testid=${t}]`).getBoundingClientRect();
                 return y('scope-granted').top >= y('grant-title').bottom;",
            )
            .await?;
        assert_eq!(below.as_bool(), Some(true), "the headline comes first");
        for folded in ["granted-scope", "session-id", "grant-mode"] {
            assert!(!shown(&app, folded).await?, "{folded} is folded away");
        }
        assert!(!shown(&app, "grant-expired").await?);
        app.shots_in_view("granted", &["grant-title", "scope-granted", "back-to-account"]).await?;
        app.resize(1040, 760).await?;
        app.script("document.querySelector('[data-testid=technical-details]').open = true;")
            .await?;
        assert_eq!(app.text("granted-scope").await?, "transfer:write");
        assert!(app.text("session-id").await?.starts_with("ses_"));
        assert_eq!(app.text("grant-mode").await?, "This sign-in");
        app.shot("granted-details").await;

        // An hour on, the grant is over: no tick, no "Scope granted.", and it says so.
        app.click("bench-open").await?;
        app.click("clock-plus-1h").await?;
        bench_says(&app, "moved 1 h forward").await?;
        app.click("bench-close").await?;
        app.wait_script(
            "return document.querySelector('[data-testid=grant-countdown]').textContent;",
            "the grant to end",
            |v| v.as_str() == Some("Expired"),
        )
        .await?;
        assert!(app.text("grant-expired").await?.starts_with("This approval has expired"));
        let title = app.text("grant-title").await?;
        assert!(
            title.starts_with("Approval expired: ") && title.ends_with("to ACME Ltd") && !title.contains("approved"),
            "{title}"
        );
        assert!(!shown(&app, "scope-granted").await?, "\"Scope granted.\" past its end");
        let tick = app
            .script("return document.querySelector('.success-mark').checkVisibility();")
            .await?;
        assert_eq!(tick.as_bool(), Some(false), "the green tick past its end");
        app.shots_in_view("grant-expired", &["grant-expired", "back-to-account"]).await?;
        app.resize(1040, 760).await?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_programs_step_up_has_one_deny_and_a_report_says_why_to_sign_out() {
    let emu = Arc::new(EmulatorProc::start(&["--resend-cooldown", "1"]));
    let sandbox = Arc::new(Sandbox::new("result_report"));
    let app = App::launch("result_report", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        app.fill("identifier-input", PHONE).await?;
        app.click("send-code").await?;
        app.wait_stage("code").await?;
        let code = emu.nth_code(1).await;
        app.fill("login-code-input", &code).await?;
        app.click("verify-login").await?;
        app.wait_stage("logged").await?;

        let mut cli = Proc::spawn(sandbox.countersign(&[
            "approve",
            "--scope",
            "transfer:write",
            "--meta",
            "amount=500",
            "--meta",
            "currency=EUR",
            "--meta",
            "payee=ACME Ltd",
            "--reason",
            "report me",
        ]));
        app.wait_stage("request").await?;
        app.pick_number(cli.match_number().await).await?;
        app.click("approve-request").await?;
        app.wait_stage("step-up-otp").await?;
        // One Deny, then the report, and no other way to answer.
        assert_eq!(app.text("deny-request").await?, "Deny");
        assert_eq!(app.text("deny-report").await?, "Report as suspicious");
        let answers = app
            .script(
                "return [...document.querySelectorAll('#stage-root button:not([data-action=resend-stepup])')]
                   .filter((b) => b.checkVisibility()).map((b) => b.textContent.trim()).join('|');",
            )
            .await?;
        assert_eq!(
            answers.as_str(),
            Some("Approve|Deny|Report as suspicious"),
            "{answers:?}"
        );
        let order = app
            .script(
                "const r = (t) => document.querySelector(`[data-testid=${t}]`).getBoundingClientRect();
                 return r('deny-report').top > r('deny-request').top
                   || r('deny-report').left > r('deny-request').left;",
            )
            .await?;
        assert_eq!(order.as_bool(), Some(true), "the report comes after Deny");
        // Esc does not answer the request: it stays on screen.
        app.driver.active_element().await?.send_keys(Key::Escape).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.stage().await?, "step-up-otp");
        app.shots_in_view("step-up-request", &["verify-stepup", "deny-request"]).await?;
        app.resize(1040, 760).await?;

        app.click("deny-report").await?;
        let why = app.text("report-why").await?;
        assert!(why.contains("signed in as you elsewhere") && why.contains("ends their access"), "{why}");
        app.shots_in_view("reported", &["report-why", "revoke-after-report"]).await?;
        app.resize(1040, 760).await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(out.stdout.starts_with("Denied and reported"), "{out:?}");
        Ok(())
    })
    .await;
}
