//! The user stories, end to end: the real window against a standalone `prelude-emulator`.

use countersign_e2e::{App, AppRef, EmulatorProc, Sandbox, TestResult};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const PHONE: &str = "+33612345678";
const SESSION_ROWS: &str = "return document.querySelectorAll('[data-testid=session-row]').length;";

async fn sign_in(app: &AppRef, emu: &EmulatorProc, who: &str, nth: usize) -> TestResult {
    app.wait_stage("login").await?;
    app.fill("identifier-input", who).await?;
    app.click("send-code").await?;
    app.wait_stage("code").await?;
    let code = emu.nth_code(nth).await;
    app.fill("login-code-input", &code).await?;
    app.click("verify-login").await?;
    app.wait_stage("logged").await
}

fn emulator() -> Arc<EmulatorProc> {
    Arc::new(EmulatorProc::start(&["--resend-cooldown", "1"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_story_phone_login_then_transfer_write() {
    let emu = emulator();
    let sandbox = Sandbox::new("seed_story");
    let app = App::launch("seed_story", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        app.fill("identifier-input", PHONE).await?;
        app.shot("01-login").await;
        app.click("send-code").await?;
        app.wait_stage("code").await?;
        let code = emu.nth_code(1).await;
        app.fill("login-code-input", &code).await?;
        app.shot("02-code").await;
        app.click("verify-login").await?;
        app.wait_stage("logged").await?;
        let sid = app.full_text("session-id").await?;
        assert!(sid.starts_with("ses_"), "session id {sid:?}");
        app.shot("03-logged").await;

        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        assert_eq!(app.text("stepup-progress").await?, "STEP 1 OF 1 · SMS");
        let summary = app.text("approval-summary").await?;
        assert!(
            summary.contains("transfer:write") && summary.contains("500"),
            "{summary}"
        );
        assert!(
            app.text("stepup-countdown")
                .await?
                .starts_with("Expires in")
        );
        let code = emu.nth_code(2).await;
        app.fill("stepup-code-input", &code).await?;
        app.shot("04-step-up").await;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        assert_eq!(app.text("scope-granted").await?, "Scope granted.");
        // The scope and session are technical details, folded under the headline.
        app.script("document.querySelector('[data-testid=technical-details]').open = true;")
            .await?;
        assert_eq!(app.full_text("session-id").await?, sid);
        assert_eq!(app.text("granted-scope").await?, "transfer:write");
        app.shot("05-done").await;
        app.click("back-to-account").await?;
        app.wait_stage("logged").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_code_then_right_code() {
    let emu = emulator();
    let sandbox = Sandbox::new("wrong_code");
    let app = App::launch("wrong_code", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu, PHONE, 1).await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let right = emu.nth_code(2).await;
        let wrong = if right == "000000" {
            "111111"
        } else {
            "000000"
        };
        app.fill("stepup-code-input", wrong).await?;
        app.click("verify-stepup").await?;
        app.wait_error("Wrong code.").await?;
        assert!(app.text("error").await?.contains("4 tries left"));
        assert_eq!(app.stage().await?, "step-up-otp");
        app.shot("wrong-code").await;
        app.fill("stepup-code-input", &right).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_scope_says_the_hook_denied_it() {
    let emu = emulator();
    emu.put_stepup(json!({"allowed_scopes": [{
        "scope": "transfer:write", "mode": "direct",
        "direct": {"identifier_types": ["phone_number"], "status": "block",
                   "granted_for": 300, "grant_mode": "session-bound"}
    }]}))
    .await;
    let sandbox = Sandbox::new("blocked");
    let app = App::launch("blocked", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu, PHONE, 1).await?;
        app.click("request-scope").await?;
        app.wait_error("Your hook denied this scope.").await?;
        assert_eq!(app.stage().await?, "logged");
        // The seed's words stay, and a next step follows beneath them.
        let next = app.text("error-next").await?;
        assert!(
            next.starts_with("Nothing was approved.") && next.contains("then try again"),
            "{next}"
        );
        app.shot("blocked").await;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_then_sms_challenge() {
    let emu = emulator();
    emu.put_stepup(json!({"allowed_scopes": [{
        "scope": "transfer:write", "mode": "direct",
        "direct": {"identifier_types": ["phone_number"], "status": "review",
                   "granted_for": 300, "grant_mode": "session-bound",
                   "steps": [{"order": 1, "key": "verify_email", "expiration_duration": 600},
                             {"order": 2, "key": "verify_sms", "expiration_duration": 600}]}
    }]}))
    .await;
    let sandbox = Sandbox::new("multi_step");
    let app = App::launch("multi_step", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu, PHONE, 1).await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        assert_eq!(app.text("stepup-progress").await?, "STEP 1 OF 2 · EMAIL");
        let out = emu.outbox().await;
        let mail = emu.nth_code(2).await;
        assert_eq!(emu.outbox().await[1]["channel"], "email", "{out:?}");
        app.shot("step-1-email").await;
        app.fill("stepup-code-input", &mail).await?;
        app.click("verify-stepup").await?;
        let until = std::time::Instant::now() + Duration::from_secs(15);
        while app.text("stepup-progress").await? != "STEP 2 OF 2 · SMS" {
            assert!(std::time::Instant::now() < until, "never reached step 2");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sms = emu.nth_code(3).await;
        assert_eq!(emu.outbox().await[2]["channel"], "sms");
        app.shot("step-2-sms").await;
        app.fill("stepup-code-input", &sms).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_sends_the_code_again() {
    let emu = emulator();
    let sandbox = Sandbox::new("resend");
    let app = App::launch_with(
        "resend",
        &sandbox,
        Some(&emu.url),
        &[("COUNTERSIGN_RESEND_COOLDOWN_SECS", "0")],
    )
    .await;
    // The app offers a resend at once; the emulator's own cooldown (1 s) passes on its clock.
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        app.fill("identifier-input", PHONE).await?;
        app.click("send-code").await?;
        app.wait_stage("code").await?;
        emu.nth_code(1).await;
        emu.move_clock(2).await;
        app.click("resend-login-code").await?;
        let code = emu.nth_code(2).await;
        app.fill("login-code-input", &code).await?;
        app.click("verify-login").await?;
        app.wait_stage("logged").await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        emu.nth_code(3).await;
        emu.move_clock(2).await;
        app.click("resend-stepup-code").await?;
        let code = emu.nth_code(4).await;
        assert_eq!(emu.outbox().await[3]["purpose"], "step_up");
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_then_log_in_again() {
    let emu = emulator();
    let sandbox = Sandbox::new("logout");
    let app = App::launch("logout", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu, PHONE, 1).await?;
        let first = app.full_text("session-id").await?;
        assert!(first.starts_with("ses_"), "session id {first:?}");
        app.click("logout").await?;
        app.wait_stage("login").await?;
        // The last identifier is remembered.
        let typed = app
            .script("return document.getElementById('identifier').value;")
            .await?;
        assert_eq!(typed.as_str(), Some(PHONE));
        // One code per identifier per cooldown.
        emu.move_clock(2).await;
        app.click("send-code").await?;
        app.wait_stage("code").await?;
        let code = emu.nth_code(2).await;
        app.fill("login-code-input", &code).await?;
        app.click("verify-login").await?;
        app.wait_stage("logged").await?;
        assert_ne!(app.full_text("session-id").await?, first);
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_the_session() {
    let emu = emulator();
    let sandbox = Sandbox::new("resume");
    let app = App::launch("resume", &sandbox, Some(&emu.url)).await;
    let e = emu.clone();
    let sid = Arc::new(std::sync::Mutex::new(String::new()));
    let s = sid.clone();
    app.run(move |app| async move {
        sign_in(&app, &e, PHONE, 1).await?;
        let id = app.full_text("session-id").await?;
        assert!(id.starts_with("ses_"), "session id {id:?}");
        *s.lock().unwrap() = id;
        // Fault matrix row 20: the app closes in the middle of a challenge.
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        Ok(())
    })
    .await;
    let app = App::launch("resume", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        app.wait_stage("step-up-otp").await?;
        // One status, true to what is known: a code may have gone out before the restart.
        assert_eq!(app.text("notice").await?, "Your approval was still open.");
        let step = app.text("step-instructions").await?;
        assert!(
            step.contains("sent before Countersign closed, still works")
                && !step.contains("No code has gone out"),
            "{step}"
        );
        let error_shown = app
            .script("return document.querySelector('[data-testid=error]').checkVisibility();")
            .await?;
        assert_eq!(
            error_shown.as_bool(),
            Some(false),
            "no error beside the one status"
        );
        app.shots_in_view(
            "resumed",
            &["step-instructions", "stepup-code-input", "verify-stepup"],
        )
        .await?;
        // The code sent before the restart still passes it.
        let code = emu.nth_code(2).await;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        assert_eq!(app.full_text("session-id").await?, *sid.lock().unwrap());
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_the_other_sessions() {
    use prelude_session::{ClientConfig, Endpoint, Identifier, MemoryStore, SessionClient};
    let emu = emulator();
    let sandbox = Sandbox::new("revoke_others");
    let app = App::launch("revoke_others", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        // Two other devices of the same user.
        let mut others = Vec::new();
        for n in 1..=2 {
            let other = SessionClient::new(
                ClientConfig::new(Endpoint::url(&emu.url)?),
                Arc::new(MemoryStore::new()),
            )?;
            other.start_otp_login(&Identifier::parse(PHONE)?).await?;
            let code = emu.nth_code(n).await;
            other.check_otp(&code).await?;
            others.push(other);
            // One code per identifier per cooldown: the next device asks after it.
            emu.move_clock(2).await;
        }

        sign_in(&app, &emu, PHONE, 3).await?;
        // Session management is folded away: the signed-in card fits the window.
        app.click("sessions-toggle").await?;
        app.click("refresh-sessions").await?;
        app.wait_script(SESSION_ROWS, "three sessions", |n| n.as_u64() == Some(3))
            .await?;
        // Each row is named by device and when it was last active, with its own Sign out.
        let rows = app
            .script(
                "const rows = [...document.querySelectorAll('[data-testid=session-row]')]; \
                 rows[rows.length - 1].scrollIntoView({ block: 'end' }); \
                 return rows.map((r) => [r.textContent, \
                   r.querySelector('[data-testid=session-sign-out]')?.checkVisibility() ?? false]);",
            )
            .await?;
        for row in rows.as_array().into_iter().flatten() {
            let text = row[0].as_str().unwrap_or_default();
            assert!(text.contains("last active") && !text.contains("ses_"), "{text}");
            assert_eq!(row[1].as_bool(), Some(true), "a Sign out on {text}");
        }
        app.shot("sessions").await;
        // One other device signed out from its own row.
        app.script(
            "[...document.querySelectorAll('[data-testid=session-row]')] \
               .find((r) => !/this device/i.test(r.textContent)) \
               .querySelector('[data-testid=session-sign-out]').click();",
        )
        .await?;
        app.wait_script(SESSION_ROWS, "that session to go", |n| n.as_u64() == Some(2))
            .await?;
        let mut still = Vec::new();
        for other in &others {
            still.push(other.refresh().await.is_ok());
        }
        assert_eq!(still.iter().filter(|ok| **ok).count(), 1, "{still:?}");
        assert_eq!(app.stage().await?, "logged");
        app.shot("two-sessions").await;
        // It asks first: one click arms it and changes nothing yet.
        app.click("revoke-others").await?;
        assert_eq!(
            app.text("revoke-others").await?,
            "Sign the others out? Click again"
        );
        assert_eq!(app.script(SESSION_ROWS).await?, 2);
        app.click("revoke-others").await?;
        assert!(app.text("toast").await?.contains("signed out"));
        app.wait_script(SESSION_ROWS, "the other session to go", |n| {
            n.as_u64() == Some(1)
        })
        .await?;
        for other in &others {
            assert!(
                other.refresh().await.is_err(),
                "the other devices must be signed out"
            );
        }
        assert_eq!(app.stage().await?, "logged");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_inbox_fills_in_the_code() {
    let emu = emulator();
    let sandbox = Sandbox::new("inbox");
    let app = App::launch("inbox", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        assert!(app.el("demo-inbox").await?.is_displayed().await?);
        app.fill("identifier-input", PHONE).await?;
        app.click("send-code").await?;
        app.wait_stage("code").await?;
        let code = emu.nth_code(1).await;
        let msg = app.el("demo-inbox-message").await?;
        assert_eq!(msg.attr("data-code").await?.as_deref(), Some(code.as_str()));
        app.shot("inbox").await;
        msg.click().await?;
        let filled = app
            .script("return document.getElementById('login-code').value;")
            .await?;
        assert_eq!(filled.as_str(), Some(code.as_str()));
        app.click("verify-login").await?;
        app.wait_stage("logged").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_show_the_server_and_the_approval_history() {
    let emu = emulator();
    let sandbox = Sandbox::new("settings");
    let app = App::launch("settings", &sandbox, Some(&emu.url)).await;
    let sandbox_dir = sandbox.dir.clone();
    app.run(move |app| async move {
        sign_in(&app, &emu, PHONE, 1).await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        // Deny ends it at once and is recorded as denied.
        app.click("deny-request").await?;
        app.wait_stage("logged").await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let code = emu.nth_code(3).await;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;

        app.click("settings-open").await?;
        let url_choice = app.el("server-url").await?;
        assert!(url_choice.is_selected().await?, "the server in use is a URL");
        assert!(!url_choice.is_enabled().await?, "set by COUNTERSIGN_ENDPOINT for this run");
        // That server can still be tested.
        app.click("test-connection").await?;
        app.wait_script(
            "return document.getElementById('server-status').textContent;",
            "the connection test to answer",
            |t| t.as_str().is_some_and(|t| t.contains("signing key")),
        )
        .await?;
        let outcomes = app
            .wait_script(
                "return [...document.querySelectorAll('[data-testid=audit-entry]')].map(e => e.dataset.outcome).join(',');",
                "the approval history",
                |o| o.as_str().is_some_and(|o| !o.is_empty()),
            )
            .await?;
        assert_eq!(outcomes, "granted,denied");
        let log = app.text("audit-log").await?;
        assert!(!log.contains(&code), "no code in the history");
        app.shot("settings").await;
        // Export through the save dialog, as CSV by the name given.
        let csv = sandbox_dir.join("history.csv");
        app.click("export-audit").await?;
        app.save_as("Save the approval history", &csv).await?;
        let note = app
            .wait_script(
                "return document.getElementById('history-note').textContent;",
                "the export to be reported",
                |n| n.as_str().is_some_and(|n| n.starts_with("Saved to")),
            )
            .await?;
        let text = std::fs::read_to_string(&csv).map_err(|e| format!("{note}: {e}"))?;
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("started_at,ended_at,outcome"), "{text}");
        assert_eq!(lines.len(), 3, "a header and two approvals: {text}");
        assert!(lines[1].contains(",denied,") && lines[2].contains(",granted,"), "{text}");
        assert!(!text.contains(&code), "no code in the export");
        app.click("settings-close").await?;
        Ok(())
    })
    .await;
}
