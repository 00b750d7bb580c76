//! What the request screen shows is what gets signed, and only a deliberate act answers it:
//! text others control is refused, isolated, warned and capped; a code that arrives by drop or
//! insertion is kept; a stray Enter or click answers nothing. Real window, standalone emulator.

use countersign_e2e::{App, AppRef, EmulatorProc, Proc, Sandbox, TestResult, finish};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use thirtyfour::prelude::*;

const PHONE: &str = "+33612345678";

fn emulator() -> Arc<EmulatorProc> {
    Arc::new(EmulatorProc::start(&["--resend-cooldown", "1"]))
}

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
    let mut all = vec!["approve"];
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

/// Presses Enter (a WebDriver key action) on whatever has the focus.
async fn press_enter(app: &AppRef) -> TestResult {
    app.driver
        .action_chain()
        .send_keys(Key::Enter)
        .perform()
        .await?;
    Ok(())
}

/// Gives the element with `testid` the focus.
async fn focus(app: &AppRef, testid: &str) -> TestResult {
    let e = app.el(testid).await?;
    app.driver
        .execute("arguments[0].focus();", vec![e.to_json()?])
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_that_reads_otherwise_is_refused_and_a_look_alike_is_warned() {
    let emu = emulator();
    let sandbox = Arc::new(Sandbox::new("text_lookalike"));
    let app = App::launch("text_lookalike", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu).await?;

        // Refused by the command, naming the key (and the code point), before the screen.
        for (args, names) in [
            (&["--meta", "payee=\u{202E}dtL EMCA"][..], "payee"),
            (&["--meta", "amount=\u{200B}"][..], "amount"),
            (&["--meta", "payee=AC\u{200D}ME"][..], "payee"),
            (&["--reason", "Pay\u{2028}now"][..], "reason"),
            (&["--meta", "identifier=ada@example.com"][..], "identifier"),
        ] {
            let mut all = vec!["--scope", "transfer:write"];
            all.extend_from_slice(args);
            let out = finish(ask(&sandbox, &all)).await;
            assert_eq!(out.code, Some(3), "{args:?}: {out:?}");
            assert!(out.stderr.contains(&format!("\"{names}\"")) || out.stderr.contains(names), "{args:?}: {out:?}");
            assert!(!out.stderr.contains('\u{202E}'), "the value is never echoed: {out:?}");
        }
        assert_eq!(app.stage().await?, "logged");

        // A payee in Cyrillic letters that read as "ACME": shown with a warning beside it,
        // isolated in the heading, and the answers stay in view.
        let cli = ask(
            &sandbox,
            &[
                "--scope", "transfer:write",
                "--meta", "amount=5",
                "--meta", "currency=EUR",
                "--meta", "payee=АСМЕ",
                "--meta", "ref=PаyPal",
                "--reason", "Pay invoice 7",
                "--timeout", "120",
                "--json",
            ],
        );
        wait_request(&app, "Pay invoice 7").await?;
        let seen = app
            .script(
                "const m = document.querySelector('[data-testid=request-metadata]'); \
                 const rows = [...m.querySelectorAll(':scope > div')].map(r => [r.querySelector('dt').textContent, r.querySelector('dd bdi').textContent, r.querySelector('.lookalike')?.textContent || null]); \
                 return {rows, title: [...document.querySelectorAll('[data-testid=request-title] bdi')].map(b => b.textContent)};",
            )
            .await?;
        let rows = seen["rows"].as_array().ok_or("no rows")?;
        let row = |k: &str| rows.iter().find(|r| r[0] == k).cloned().unwrap_or(Value::Null);
        assert_eq!(row("Payee")[1], "АСМЕ", "{seen}");
        assert!(row("Payee")[2].as_str().is_some_and(|w| w.contains("Cyrillic")), "{seen}");
        assert!(row("Ref")[2].as_str().is_some_and(|w| w.contains("Latin and Cyrillic")), "{seen}");
        assert_eq!(row("Amount")[2], Value::Null, "plain text is not warned: {seen}");
        assert_eq!(seen["title"], json!(["АСМЕ"]), "the payee is isolated in the heading");
        // Who asks is isolated too, whole: letters in a path cannot reorder its pid.
        let source = app
            .script(
                "const s = document.querySelector('[data-testid=request-source]');                  return [s.querySelector('bdi')?.textContent || null, s.textContent, s.closest('.asked-by').title];",
            )
            .await?;
        let exe = std::env::current_exe()?.display().to_string();
        assert_eq!(source[0], exe.as_str(), "{source}");
        assert!(source[2].as_str().is_some_and(|t| t.contains(&exe)), "{source}");
        app.shots_in_view("lookalike", &["lookalike-warning", "approve-request", "deny-request", "deny-report"]).await?;
        app.click("deny-request").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");

        // A link may not use the reserved `identifier` outside a registration...
        let long = format!("{}@example.com", "a".repeat(300));
        let link = format!("countersign://approve?scope=transfer:write&amount=5&identifier={long}");
        let out = finish(Proc::spawn(sandbox.countersign(&[&link]))).await;
        assert_eq!(out.code, Some(0), "{out:?}");
        app.wait_script(
            "return document.querySelector('[data-testid=notice]').textContent;",
            "the link refused",
            |v| v.as_str().is_some_and(|t| t.contains("ignored") && t.contains("identifier")),
        )
        .await?;
        assert_eq!(app.stage().await?, "logged");
        // ...and within one, its 312 characters are shown shortened, whole in the tooltip, with
        // the link's warning and the answers in view.
        let link = format!("countersign://approve?scope=prld:email:register&identifier={long}&reason=Register");
        let out = finish(Proc::spawn(sandbox.countersign(&[&link]))).await;
        assert_eq!(out.code, Some(0), "{out:?}");
        wait_request(&app, "Register").await?;
        let cut = app
            .script(
                "const b = document.querySelector('[data-testid=request-metadata] dd bdi'); \
                 return [b.dataset.shortened || '', b.title.length, [...b.textContent].length];",
            )
            .await?;
        assert_eq!(cut, json!(["true", long.len(), 49]), "shortened to 48 and an ellipsis");
        app.shots_in_view("long-link", &["request-hint", "approve-request", "deny-request"]).await?;
        app.click("deny-request").await?;
        app.wait_stage("logged").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_enter_or_click_answers_nothing() {
    let emu = emulator();
    let sandbox = Arc::new(Sandbox::new("text_stray"));
    let app = App::launch("text_stray", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu).await?;
        let sent = emu.outbox().await.len();
        let cli = ask(
            &sandbox,
            &["--scope", "transfer:write", "--meta", "amount=5", "--reason", "stray", "--json"],
        );
        wait_request(&app, "stray").await?;
        // Neither answer has the focus.
        let focused = app
            .script("return document.activeElement?.dataset?.testid || document.activeElement?.tagName;")
            .await?;
        assert!(
            !["approve-request", "deny-request", "deny-report"].contains(&focused.as_str().unwrap_or("")),
            "{focused}"
        );
        // Enter where the focus is, and Enter on each answer given the focus: nothing.
        press_enter(&app).await?;
        for testid in ["approve-request", "deny-request"] {
            focus(&app, testid).await?;
            press_enter(&app).await?;
        }
        // The window gains focus: the answers settle again, and a click meanwhile is dropped.
        let settling = app
            .script(
                "window.dispatchEvent(new Event('focus')); \
                 const b = document.querySelector('[data-testid=approve-request]'); \
                 const state = [b.getAttribute('aria-disabled'), b.title]; b.click(); return state;",
            )
            .await?;
        assert_eq!(settling[0], "true", "{settling}");
        assert!(settling[1].as_str().is_some_and(|t| t.contains("wait")), "{settling}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.stage().await?, "request");
        app.shot("01-request-after-enter").await;
        // Once settled, a deliberate click answers: denied, and no code ever went out.
        app.click("deny-request").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(out.stdout.contains(r#""status":"denied""#), "{out:?}");
        assert_eq!(emu.outbox().await.len(), sent, "no step-up started");

        // On the check, Enter submits only from the code field, once a code is typed there.
        let mut cli = ask(
            &sandbox,
            &["--scope", "transfer:write", "--meta", "amount=6", "--reason", "check", "--json"],
        );
        wait_request(&app, "check").await?;
        app.pick_number(cli.match_number().await).await?;
        app.click("approve-request").await?;
        app.wait_stage("step-up-otp").await?;
        let code = emu.nth_code(sent + 1).await;
        focus(&app, "stepup-code-input").await?;
        press_enter(&app).await?;
        focus(&app, "verify-stepup").await?;
        press_enter(&app).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.stage().await?, "step-up-otp");
        assert_eq!(
            app.script("return document.getElementById('error').hidden;").await?,
            true,
            "nothing was submitted"
        );
        app.fill("stepup-code-input", &code).await?;
        focus(&app, "stepup-code-input").await?;
        press_enter(&app).await?;
        app.wait_stage("done").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(0), "{out:?}");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_dropped_or_inserted_is_kept() {
    let emu = emulator();
    let sandbox = Arc::new(Sandbox::new("text_insert"));
    let app = App::launch("text_insert", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        app.fill("identifier-input", PHONE).await?;
        app.click("send-code").await?;
        app.wait_stage("code").await?;
        // Our own words (the number the code went to) carry no look-alike warning.
        assert_eq!(
            app.script("return document.querySelectorAll('[data-testid=lookalike-warning]').length;")
                .await?,
            0
        );
        let code = emu.nth_code(1).await;
        // Inserted whole (as an input method or autofill does): maxlength would have kept
        // "Your Cou"; the code finder keeps the code, and it is submitted.
        let r = app
            .script(&format!(
                "const i = document.querySelector('[data-testid=login-code-input]'); i.focus(); \
                 document.execCommand('insertText', false, 'Your Countersign code is {code}'); \
                 return i.getAttribute('maxlength');"
            ))
            .await?;
        assert_eq!(r, Value::Null, "no maxlength cuts an insertion");
        app.wait_stage("logged").await?;

        // On the check: what the form submits is recorded before its handler clears the field.
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let code = emu.nth_code(2).await;
        let wrong = if code == "123456" { "654321" } else { "123456" };
        app.script(
            "window.__submitted = []; document.addEventListener('submit', (e) => \
             window.__submitted.push(e.target.querySelector('.code-input')?.value), true); return true;",
        )
        .await?;
        app.script(&format!(
            "const i = document.querySelector('[data-testid=stepup-code-input]'); i.focus(); \
             document.execCommand('insertText', false, 'Your Countersign code is {wrong}'); return true;"
        ))
        .await?;
        app.wait_error("Wrong code").await?;
        assert_eq!(app.script("return window.__submitted;").await?, json!([wrong]));
        // Autofill's replacement text, then a drop: each read by the code finder.
        let dashed = format!("code: {}-{}-{}.", &wrong[..2], &wrong[2..4], &wrong[4..]);
        app.script(&format!(
            "const i = document.querySelector('[data-testid=stepup-code-input]'); \
             i.dispatchEvent(new InputEvent('beforeinput', {{inputType: 'insertReplacementText', \
               data: '{dashed}', cancelable: true, bubbles: true}})); return true;"
        ))
        .await?;
        app.wait_script("return window.__submitted;", "a second submission", |v| {
            v.as_array().is_some_and(|a| a.len() == 2)
        })
        .await?;
        assert_eq!(app.script("return window.__submitted[1];").await?, wrong);
        app.wait_error("Wrong code").await?;
        app.wait_script(
            "return document.getElementById('card').getAttribute('aria-busy');",
            "the check to be answered",
            |v| v.as_str() == Some("false"),
        )
        .await?;
        let dropped = app.script(&format!(
            "const i = document.querySelector('[data-testid=stepup-code-input]'); \
             const dt = new DataTransfer(); dt.setData('text/plain', 'Your Countersign code is {code}\\nDo not share it.'); \
             const drop = new DragEvent('drop', {{dataTransfer: dt, cancelable: true, bubbles: true}}); \
             i.dispatchEvent(drop); return [drop.dataTransfer?.getData('text/plain') || '', drop.defaultPrevented];"
        ))
        .await?;
        assert_eq!(dropped[1], true, "the drop is taken by the code field: {dropped}");
        app.wait_stage("done").await?;
        assert_eq!(app.script("return window.__submitted[2];").await?, code.as_str());
        app.shot("01-granted-after-drop").await;
        Ok(())
    })
    .await;
}

/// Whether the error line and its "Start again" are shown.
async fn error_shown(app: &AppRef) -> WebDriverResult<Value> {
    app.script(
        "return [!document.getElementById('error').hidden, \
         !document.getElementById('error-actions').hidden];",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_and_its_start_again_leave_with_their_request() {
    let emu = emulator();
    let sandbox = Arc::new(Sandbox::new("text_stale"));
    let app = App::launch("text_stale", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu).await?;
        let sent = emu.outbox().await.len();
        let mut first = ask(
            &sandbox,
            &[
                "--scope",
                "transfer:write",
                "--meta",
                "amount=5",
                "--reason",
                "first",
                "--json",
            ],
        );
        wait_request(&app, "first").await?;
        let second = ask(
            &sandbox,
            &[
                "--scope",
                "transfer:write",
                "--meta",
                "amount=5000",
                "--reason",
                "second",
                "--json",
            ],
        );
        // The server no longer allows the scope: the first request stays, with the error.
        emu.put_stepup(json!({"allowed_scopes": [{
            "scope": "read:logs", "mode": "direct",
            "direct": {"identifier_types": ["phone_number"], "status": "continue",
                       "granted_for": 300, "grant_mode": "session-bound"}
        }]}))
        .await;
        app.pick_number(first.match_number().await).await?;
        app.click("approve-request").await?;
        app.wait_script(
            "return document.getElementById('error').hidden;",
            "an error about the first request",
            |v| v == &json!(false),
        )
        .await?;
        wait_request(&app, "first").await?;
        assert_eq!(error_shown(&app).await?[0], true);
        // Its requester ends; the second request takes the screen. The error (and a "Start
        // again", which would now start the second one) was about the first.
        first.kill();
        wait_request(&app, "second").await?;
        assert_eq!(error_shown(&app).await?, json!([false, false]));
        app.shots_in_view("stale-error-gone", &["approve-request", "deny-request"])
            .await?;
        app.click("deny-request").await?;
        let out = finish(second).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert_eq!(emu.outbox().await.len(), sent, "no code went out");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_from_an_input_method_is_kept_and_other_digits_are_named() {
    let emu = emulator();
    let sandbox = Arc::new(Sandbox::new("text_ime"));
    let app = App::launch("text_ime", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu).await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let code = emu.nth_code(2).await;
        let wrong = if code == "123456" { "654321" } else { "123456" };
        app.script(
            "window.__submitted = []; document.addEventListener('submit', (e) => \
             window.__submitted.push(e.target.querySelector('.code-input')?.value), true); return true;",
        )
        .await?;
        // The Enter that commits a composition submits nothing.
        let kept = app
            .script(&format!(
                "const i = document.querySelector('[data-testid=stepup-code-input]'); i.focus(); \
                 i.value = '{wrong}'; \
                 const k = new KeyboardEvent('keydown', {{key: 'Enter', isComposing: true, bubbles: true, cancelable: true}}); \
                 i.dispatchEvent(k); return k.defaultPrevented;"
            ))
            .await?;
        assert_eq!(kept, false, "the input method keeps its Enter");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.script("return window.__submitted;").await?, json!([]));
        // Full-width digits composed in steps: left alone while composing, then read as 0-9.
        let full: String = code
            .chars()
            .map(|c| char::from_u32(u32::from(c) - u32::from('0') + 0xFF10).unwrap())
            .collect();
        let half: String = full.chars().take(2).collect();
        let during = app
            .script(&format!(
                "const i = document.querySelector('[data-testid=stepup-code-input]'); i.value = ''; \
                 i.dispatchEvent(new CompositionEvent('compositionstart', {{bubbles: true}})); \
                 i.value = '{half}'; \
                 i.dispatchEvent(new InputEvent('input', {{inputType: 'insertCompositionText', data: '{half}', isComposing: true, bubbles: true}})); \
                 return i.value;"
            ))
            .await?;
        assert_eq!(during, half.as_str(), "the field is the input method's while it composes");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(error_shown(&app).await?[0], false);
        let after = app
            .script(&format!(
                "const i = document.querySelector('[data-testid=stepup-code-input]'); i.value = '{full}'; \
                 i.dispatchEvent(new InputEvent('input', {{inputType: 'insertCompositionText', data: '{full}', isComposing: true, bubbles: true}})); \
                 i.dispatchEvent(new CompositionEvent('compositionend', {{data: '{full}', bubbles: true}})); \
                 return i.value;"
            ))
            .await?;
        assert_eq!(after, code.as_str());
        assert_eq!(error_shown(&app).await?[0], false);
        // Digits of another script are refused in words, not dropped in silence.
        app.script(
            "const i = document.querySelector('[data-testid=stepup-code-input]'); i.value = ''; i.focus(); \
             document.execCommand('insertText', false, 'رمزك ١٢٣٤٥٦'); return true;",
        )
        .await?;
        app.wait_error("digits 0 to 9").await?;
        app.shots_in_view("other-digits", &[]).await?;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        assert_eq!(app.script("return window.__submitted;").await?, json!([code]));
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_devices_name_is_isolated_and_capped() {
    use prelude_session::{ClientConfig, Endpoint, Identifier, MemoryStore, SessionClient};
    let emu = emulator();
    let sandbox = Sandbox::new("text_device");
    let app = App::launch("text_device", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        // Another device whose User-Agent names it at length (the server keeps 64 characters).
        let model = "Pixel-".repeat(20);
        let mut cfg = ClientConfig::new(Endpoint::url(&emu.url)?);
        cfg.user_agent = format!("{model} Android");
        let other = SessionClient::new(cfg, Arc::new(MemoryStore::new()))?;
        other.start_otp_login(&Identifier::parse(PHONE)?).await?;
        other.check_otp(&emu.nth_code(1).await).await?;
        emu.move_clock(2).await;
        app.wait_stage("login").await?;
        app.fill("identifier-input", PHONE).await?;
        app.click("send-code").await?;
        app.wait_stage("code").await?;
        let code = emu.nth_code(2).await;
        app.fill("login-code-input", &code).await?;
        app.click("verify-login").await?;
        app.wait_stage("logged").await?;
        app.click("sessions-toggle").await?;
        app.click("refresh-sessions").await?;
        let shown = app
            .wait_script(
                // Every row names its device now: the other device's is the row not marked current.
                "const b = document.querySelector('[data-testid=session-row]:not(:has(.current)) .meta span bdi'); \
                 return b ? [b.textContent, b.title] : null;",
                "the other device's name",
                |v| v.is_array(),
            )
            .await?;
        let (text, title) = (shown[0].as_str().unwrap(), shown[1].as_str().unwrap());
        assert!(text.ends_with('…') && text.chars().count() == 49, "{text}");
        assert!(
            title.starts_with("Pixel-Pixel-") && title.ends_with("Android"),
            "{title}"
        );
        for (w, h) in [(1040, 760), (720, 560)] {
            app.resize(w, h).await?;
            for t in ["light", "dark"] {
                app.set_theme(t).await?;
                app.script(
                    "document.querySelectorAll('[data-testid=session-row]')[1]\
                     .scrollIntoView({block: 'center'}); return true;",
                )
                .await?;
                app.shot(&format!("device-name-{w}x{h}-{t}")).await;
            }
        }
        Ok(())
    })
    .await;
}
