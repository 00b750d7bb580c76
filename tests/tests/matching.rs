//! Number matching, end to end: `countersign approve` prints a number on its terminal, the
//! window offers three, and only the right pick leads on; a wrong pick denies and mutes; and
//! Settings can turn it off.

use countersign_e2e::{App, AppRef, EmulatorProc, Proc, Sandbox, TestResult, finish};
use serde_json::Value;
use std::sync::Arc;

const PHONE: &str = "+33612345678";

async fn sign_in(app: &AppRef, emu: &EmulatorProc) -> TestResult {
    app.wait_stage("login").await?;
    app.fill("identifier-input", PHONE).await?;
    app.click("send-code").await?;
    app.wait_stage("code").await?;
    let code = emu.nth_code(1).await;
    app.fill("login-code-input", &code).await?;
    app.click("verify-login").await?;
    app.wait_stage("logged").await
}

fn ask(sandbox: &Sandbox, args: &[&str]) -> Proc {
    let mut all = vec!["approve", "--scope", "transfer:write", "--json"];
    all.extend_from_slice(args);
    Proc::spawn(sandbox.countersign(&all))
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

/// The numbers on screen, as numbers.
async fn offered(app: &AppRef) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    app.el("match-number").await?;
    let v = app
        .script("return [...document.querySelectorAll('[data-testid=match-number]')].map((b) => b.textContent);")
        .await?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str()?.parse().ok())
        .collect())
}

async fn approve_disabled(app: &AppRef) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let v = app
        .script("return document.querySelector('[data-testid=approve-request]').disabled;")
        .await?;
    Ok(v.as_bool() == Some(true))
}

/// The one JSON object `--json` prints: stdout holds nothing else.
fn one_object(stdout: &str) -> Value {
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    serde_json::from_str(stdout.trim()).expect("one JSON object")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_number_leads_on_to_the_approval() {
    let emu = Arc::new(EmulatorProc::start(&["--resend-cooldown", "1"]));
    let sandbox = Arc::new(Sandbox::new("match_right"));
    let app = App::launch("match_right", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu).await?;
        let mut cli = ask(&sandbox, &["--meta", "amount=500", "--reason", "right"]);
        let n = cli.match_number().await;
        wait_request(&app, "right").await?;
        let choices = offered(&app).await?;
        assert_eq!(choices.len(), 3, "{choices:?}");
        assert!(choices.contains(&n), "{n} not in {choices:?}");
        assert!(approve_disabled(&app).await?, "Continue waits for the pick");
        // The one thing to do before Continue reads as text, not as a grey hint.
        let same = app
            .script(
                "const c = (t) => getComputedStyle(document.querySelector(`[data-testid=${t}]`)).color; \
                 return c('match-ask') === c('request-title');",
            )
            .await?;
        assert_eq!(same, serde_json::json!(true), "the pick's instruction in the text colour");
        app.shot("01-numbers").await;
        app.pick_number(n).await?;
        app.wait_script(
            "return document.querySelector('[data-testid=approve-request]').disabled;",
            "Continue available",
            |v| v.as_bool() == Some(false),
        )
        .await?;
        let pressed = app
            .script("return [...document.querySelectorAll('[data-testid=match-number][aria-pressed=true]')].map((b) => b.textContent);")
            .await?;
        assert_eq!(pressed, serde_json::json!([format!("{n:02}")]));
        app.shot("02-picked").await;
        app.click("approve-request").await?;
        app.wait_stage("step-up-otp").await?;
        // Signed, never listed.
        let screen = app
            .script("return document.getElementById('stage-root').textContent.toLowerCase();")
            .await?;
        assert!(
            !screen.as_str().unwrap_or("").contains("cs:number"),
            "{screen}"
        );
        let code = emu.nth_code(2).await;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(0), "{out:?}");
        let v = one_object(&out.stdout);
        assert_eq!(v["status"], "granted");
        assert!(v["metadata"].get("cs:number").is_none(), "{v}");
        assert!(out.stderr.contains(&format!("pick {n:02}")), "{out:?}");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_number_denies_and_mutes_the_program() {
    let emu = Arc::new(EmulatorProc::start(&["--resend-cooldown", "1"]));
    let sandbox = Arc::new(Sandbox::new("match_wrong"));
    let app = App::launch("match_wrong", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu).await?;
        let sent = emu.outbox().await.len();
        let mut cli = ask(&sandbox, &["--reason", "wrong"]);
        let n = cli.match_number().await;
        wait_request(&app, "wrong").await?;
        let wrong = *offered(&app).await?.iter().find(|c| **c != n).unwrap();
        app.pick_number(wrong).await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        let v = one_object(&out.stdout);
        assert_eq!(v["status"], "denied");
        assert_eq!(v["code"], "number_mismatch");
        app.wait_stage("logged").await?;
        assert!(app.text("notice").await?.contains("20 minutes"));
        app.shot("01-denied").await;
        assert_eq!(emu.outbox().await.len(), sent, "no step-up started");

        // The program that asked (this test) is muted now.
        let out = finish(ask(&sandbox, &["--reason", "again"])).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert_eq!(one_object(&out.stdout)["code"], "muted");
        let log = std::fs::read_to_string(
            sandbox
                .dir
                .join("data/dev.countersign.Countersign")
                .join(format!("approvals-{}.jsonl", sandbox.profile)),
        )?;
        assert!(
            log.lines()
                .any(|l| l.contains(r#""errorCode":"number_mismatch""#)),
            "{log}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_turned_off_says_so_and_asks_for_no_number() {
    let emu = Arc::new(EmulatorProc::start(&["--resend-cooldown", "1"]));
    let sandbox = Arc::new(Sandbox::new("match_off"));
    let app = App::launch("match_off", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu).await?;
        // The reserved key is the app's own.
        let out = finish(ask(&sandbox, &["--meta", "cs:number=42"])).await;
        assert_eq!(out.code, Some(3), "{out:?}");
        assert!(out.stderr.contains("reserved"), "{out:?}");

        app.click("settings-open").await?;
        app.wait_script(
            "return document.getElementById('matching-switch').checked;",
            "matching on by default",
            |v| v.as_bool() == Some(true),
        )
        .await?;
        // No PIN on this computer yet: Settings says how one is chosen, and asks for no
        // "current PIN" it could not have. Its PIN section is drawn by the settings module,
        // loaded on first use, so it may come a moment after the matching switch.
        app.wait_script(
            "return [document.getElementById('pin-none').checkVisibility(), \
               document.getElementById('pin-old').checkVisibility()];",
            "no PIN: no change form",
            |v| *v == serde_json::json!([true, false]),
        )
        .await?;
        app.click("matching-switch").await?;
        app.wait_script(
            "return document.getElementById('matching-note').textContent;",
            "the switch saved",
            |v| v.as_str().is_some_and(|t| t.starts_with("Off")),
        )
        .await?;
        app.click("settings-close").await?;

        let cli = ask(&sandbox, &["--reason", "off"]);
        wait_request(&app, "off").await?;
        let said = app.text("matching").await?;
        assert!(said.contains("off"), "{said}");
        let numbers = app
            .script("return document.querySelectorAll('[data-testid=match-number]').length;")
            .await?;
        assert_eq!(numbers.as_u64(), Some(0));
        app.shot("01-off").await;
        app.click("approve-request").await?;
        app.wait_stage("step-up-otp").await?;
        app.click("deny-request").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(!out.stderr.contains("pick"), "{out:?}");
        Ok(())
    })
    .await;
}
