//! The app on its embedded demo server, as a presenter runs it: codes come from the demo
//! inbox, scenarios from its picker.

use countersign_e2e::{App, AppRef, Sandbox, TestResult};
use serde_json::Value;
use std::time::{Duration, Instant};
use thirtyfour::error::WebDriverResult;

const PHONE: &str = "+33612345678";

async fn sign_in(app: &AppRef) -> TestResult {
    app.sign_in_on_demo(PHONE).await
}

/// Every visible control in the window has a name a screen reader can say: its label, its
/// text, `aria-label` or `aria-labelledby`. Returns the ones that do not.
const UNNAMED: &str = r#"
const named = (el) => {
  const by = el.getAttribute('aria-labelledby');
  if (by && by.split(/\s+/).some((id) => document.getElementById(id)?.textContent.trim())) return true;
  if ((el.getAttribute('aria-label') || '').trim()) return true;
  if (el.id && document.querySelector(`label[for="${el.id}"]`)?.textContent.trim()) return true;
  if (el.closest('label')?.textContent.trim()) return true;
  return el.tagName === 'BUTTON' && el.textContent.trim().length > 0;
};
const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
return [...document.querySelectorAll('button, input, select, textarea, a[href]')]
  .filter((el) => visible(el) && el.type !== 'hidden' && !named(el))
  .map((el) => el.dataset.testid || el.id || el.outerHTML.slice(0, 60));
"#;

async fn all_named(app: &AppRef, stage: &str) -> TestResult {
    let unnamed = app.script(UNNAMED).await?;
    let list = unnamed.as_array().cloned().unwrap_or_default();
    if !unnamed.is_array() || !list.is_empty() {
        return Err(format!("on {stage}, controls without a name: {unnamed}").into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_step_is_confirmed_in_the_demo_app() {
    let sandbox = Sandbox::new("custom_step");
    let app = App::launch("custom_step", &sandbox, None).await;
    app.run(move |app| async move {
        sign_in(&app).await?;
        app.pick_scenario("email_then_app").await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        assert_eq!(app.text("stepup-progress").await?, "STEP 1 OF 2 · EMAIL");
        let code = app.inbox_code(2).await?;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        // Step 2 is the customer's own check: no code, a confirmation.
        let until = Instant::now() + Duration::from_secs(15);
        while !app.text("stepup-progress").await?.starts_with("STEP 2 OF 2") {
            if Instant::now() > until {
                return Err("step 2 never came".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let hidden = app
            .script("return document.querySelector('[data-testid=stepup-code-input]').closest('.field').hidden;")
            .await?;
        assert_eq!(hidden, Value::Bool(true), "no code field on a custom step");
        // What happens and what to do, without the step's wire key.
        let says = app.text("step-instructions").await?;
        assert!(
            says.contains("your own app confirms this approval") && says.contains("confirm below"),
            "{says}"
        );
        assert!(!says.contains("confirm_in_app"), "{says}");
        app.shot("custom-step").await;
        app.click("confirm-custom-step").await?;
        app.wait_stage("done").await?;
        assert_eq!(app.text("scope-granted").await?, "Scope granted.");
        app.shot("granted").await;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_control_has_an_accessible_name_on_every_stage() {
    let sandbox = Sandbox::new("a11y");
    let app = App::launch("a11y", &sandbox, None).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        all_named(&app, "login").await?;
        // The demo's user is one click away.
        let filled = app
            .script(
                "const b = document.querySelectorAll('[data-testid=demo-identities] button'); \
                 b[0].click(); return [b.length, document.getElementById('identifier').value];",
            )
            .await?;
        assert_eq!(filled, serde_json::json!([2, PHONE]));
        app.click("send-code").await?;
        app.wait_stage("code").await?;
        all_named(&app, "code").await?;
        let code = app.inbox_code(1).await?;
        app.fill("login-code-input", &code).await?;
        app.click("verify-login").await?;
        app.wait_stage("logged").await?;
        all_named(&app, "logged").await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        all_named(&app, "step-up-otp").await?;
        // The error is tied to the code field, and the theme toggle says which theme is on.
        let described = app
            .script("return document.getElementById('stepup-code').getAttribute('aria-describedby');")
            .await?;
        assert_eq!(described.as_str(), Some("error"));
        let theme = app
            .script("return document.getElementById('theme-toggle').getAttribute('aria-label');")
            .await?;
        assert!(
            theme.as_str().is_some_and(|t| t.starts_with("Colour theme: ")),
            "{theme}"
        );
        // The card is no live region: only status text is announced.
        let live = app
            .script("return document.querySelectorAll('#card[aria-live], #card [aria-live] [role=alert]').length;")
            .await?;
        assert_eq!(live.as_u64(), Some(0));
        let code = app.inbox_code(2).await?;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        all_named(&app, "done").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_keyring_the_session_is_kept_in_memory_and_the_user_is_told() {
    let sandbox = Sandbox::new("no_keyring");
    // No Secret Service on this bus: the store's check fails at the first look.
    let app = App::launch_with(
        "no_keyring",
        &sandbox,
        None,
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    )
    .await;
    app.run(move |app| async move {
        sign_in(&app).await?;
        let warning = app.text("store-warning").await?;
        assert!(
            warning.contains("will not remember your sign-in") && warning.contains("unlock"),
            "{warning}"
        );
        app.shot("warning").await;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let code = app.inbox_code(2).await?;
        app.fill("stepup-code-input", &code).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_with_no_tries_left_offers_a_new_code_at_once() {
    let sandbox = Sandbox::new("no_tries_left");
    let app = App::launch("no_tries_left", &sandbox, None).await;
    app.run(move |app| async move {
        sign_in(&app).await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let right = app.inbox_code(2).await?;
        let wrong = if right == "000000" {
            "111111"
        } else {
            "000000"
        };
        for _ in 0..5 {
            app.fill("stepup-code-input", wrong).await?;
            app.click("verify-stepup").await?;
            app.wait_error("Wrong code.").await?;
        }
        app.wait_error("No tries are left").await?;
        let verify = app.el("verify-stepup").await?;
        assert!(
            !verify.is_enabled().await?,
            "Verify is off: another try cannot work"
        );
        let resend = app.el("resend-stepup-code").await?;
        assert_eq!(resend.text().await?, "Send a new code");
        assert!(resend.is_enabled().await?, "the way out is open at once");
        // The way out sits beside the Approve it replaces; the error is under the field, so
        // neither pushes the other below the fold.
        let beside = app
            .script(
                "const r = document.querySelector('[data-testid=resend-stepup-code]'); \
                 return r.parentElement.classList.contains('decide') \
                   && r.previousElementSibling?.dataset.testid === 'verify-stepup' \
                   && document.querySelector('[data-testid=error]').closest('.field') !== null;",
            )
            .await?;
        assert_eq!(beside.as_bool(), Some(true), "Send a new code beside Approve");
        app.shots_in_view("no-tries-left-view", &["error", "resend-stepup-code", "deny-request"])
            .await?;
        app.resize(1040, 760).await?;
        assert_eq!(
            app.stage().await?,
            "step-up-otp",
            "still approving, still signed in"
        );
        // The inbox marks the spent code, and the sign-in code as used.
        wait_marks(&app, &[(&right, "no_tries_left")]).await?;
        app.shot("no-tries-left").await;
        app.click("resend-stepup-code").await?;
        let fresh = app.inbox_code(3).await?;
        app.fill("stepup-code-input", &fresh).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        wait_marks(&app, &[(&fresh, "used"), (&right, "no_tries_left")]).await?;
        let marked = app
            .script("return document.querySelectorAll('[data-testid=demo-inbox-message][data-status=used]').length;")
            .await?;
        assert_eq!(marked.as_u64(), Some(2), "the sign-in code and the fresh one");
        app.shot("inbox-marks").await;
        Ok(())
    })
    .await;
}

/// Waits until the demo inbox marks each code as given.
async fn wait_marks(app: &AppRef, marks: &[(&str, &str)]) -> TestResult {
    let want: Vec<Value> = marks
        .iter()
        .map(|(c, s)| serde_json::json!([c, s]))
        .collect();
    let codes: Vec<&str> = marks.iter().map(|(c, _)| *c).collect();
    app.wait_script(
        &format!(
            "const want = {}; return want.map((c) => {{ \
               const b = document.querySelector(`[data-testid=demo-inbox-message][data-code=\"${{c}}\"]`); \
               return [c, b ? b.dataset.status : null]; }});",
            serde_json::json!(codes)
        ),
        "the inbox marks",
        |v| v.as_array() == Some(&want),
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_picker_shows_the_scenario_in_force_after_a_restart() {
    let sandbox = Sandbox::new("scenario_restart");
    let app = App::launch("scenario_restart", &sandbox, None).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        app.pick_scenario("blocked").await
    })
    .await;
    let app = App::launch("scenario_restart", &sandbox, None).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        let shown = app
            .script("return document.getElementById('scenario').value;")
            .await?;
        assert_eq!(shown.as_str(), Some("blocked"));
        app.shot("picker-after-restart").await;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approval_says_what_is_approved_and_can_be_denied() {
    let sandbox = Sandbox::new("deny");
    let app = App::launch("deny", &sandbox, None).await;
    app.run(move |app| async move {
        sign_in(&app).await?;
        // Nothing is asked for a transfer that is not filled in.
        app.fill("amount-input", "-5").await?;
        app.click("request-scope").await?;
        app.wait_error("amount above 0").await?;
        assert_eq!(app.stage().await?, "logged");
        // The sentence has no wire code, and a plain input error has no "Details": it is said
        // under the amount field, which is marked.
        let said = sentence_of_error(&app).await?;
        assert!(!said.contains("invalid_input"), "{said}");
        assert_eq!(error_details(&app).await?, "");
        let marked = app
            .script(
                "const f = document.getElementById('amount');                  return [f.getAttribute('aria-invalid'),                    f.closest('.field').contains(document.querySelector('[data-testid=error]'))];",
            )
            .await?;
        assert_eq!(marked, serde_json::json!(["true", true]), "the amount field");
        app.shot("invalid-amount").await;
        app.fill("amount-input", "500").await?;
        app.fill("payee-input", "ACME Ltd").await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let title = app.text("approval-title").await?;
        assert!(
            title.starts_with("Approve") && title.contains("500") && title.ends_with("to ACME Ltd"),
            "{title}"
        );
        // Who asked, and when: this computer, for the app's own form; the scope in words.
        let source = app.text("request-source").await?;
        assert!(source.starts_with("this computer"), "{source}");
        assert!(app.text("asked-time").await?.starts_with("at "));
        assert_eq!(app.text("scope-words").await?, "Send a bank transfer");
        app.shot("approve-or-deny").await;
        app.click("deny-request").await?;
        app.wait_stage("logged").await?;
        assert!(app.text("toast").await?.starts_with("Denied."));
        Ok(())
    })
    .await;
}

/// The error line's own sentence, without its "Details".
async fn sentence_of_error(app: &AppRef) -> WebDriverResult<String> {
    let v = app
        .script(
            "return document.querySelector('[data-testid=error]').firstChild?.textContent || '';",
        )
        .await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

/// The technical text folded under the error's "Details".
async fn error_details(app: &AppRef) -> WebDriverResult<String> {
    let v = app
        .script("return document.querySelector('[data-testid=error] [data-testid=error-details] code')?.textContent || '';")
        .await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

/// "Email, then SMS" for a user who has no email address: the person reads what is wrong in
/// words, as a dead end (no error banner, no code claimed to be sent, no code field).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_the_account_cannot_receive_is_said_in_words() {
    let sandbox = Sandbox::new("no_email");
    let app = App::launch("no_email", &sandbox, None).await;
    app.run(move |app| async move {
        // A user with a phone number only.
        app.sign_in_on_demo("+33612345699").await?;
        app.pick_scenario("email_then_sms").await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let said = app.text("dead-end-why").await?;
        assert!(said.contains("your account has no email address"), "{said}");
        assert!(
            !said.contains("invalid_identifier") && !said.contains("Bad request"),
            "{said}"
        );
        let banner = app
            .script("return document.querySelector('[data-testid=error]').checkVisibility();")
            .await?;
        assert_eq!(banner.as_bool(), Some(false), "the dead end says it once");
        app.shot("no-email-details").await;
        Ok(())
    })
    .await;
}

/// Fault matrix rows 17-19: a corrupted settings file, state file and audit log line. The app
/// starts, says what it did, and keeps the unreadable data aside rather than losing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_files_are_set_aside_and_the_app_starts() {
    let sandbox = Sandbox::new("corrupted");
    let data = sandbox.dir.join("data").join("dev.countersign.Countersign");
    std::fs::create_dir_all(&data).unwrap();
    let p = &sandbox.profile;
    std::fs::write(data.join(format!("settings-{p}.json")), b"{ torn settings").unwrap();
    std::fs::write(
        data.join(format!("emulator-{p}.json")),
        b"\x00\x01 not json",
    )
    .unwrap();
    let good = r#"{"startedAt":"2026-11-27T10:00:00Z","endedAt":"2026-11-27T10:01:00Z","server":"Built-in demo server","sessionId":"ses_1","scope":"transfer:write","metadata":{},"steps":["verify_sms"],"wrongCodes":0,"outcome":"granted","errorCode":null}"#;
    std::fs::write(
        data.join(format!("approvals-{p}.jsonl")),
        format!("{good}\n{{ torn line\n"),
    )
    .unwrap();
    let app = App::launch("corrupted", &sandbox, None).await;
    let data2 = data.clone();
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        let notice = app.text("notice").await?;
        assert!(notice.contains("could not be read"), "{notice}");
        app.shot("01-notice").await;
        // Nothing is lost: both unreadable files are kept beside the new ones.
        let names: Vec<String> = std::fs::read_dir(&data2)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .any(|n| n.contains("settings") && n.contains("unreadable")),
            "{names:?}"
        );
        assert!(
            names
                .iter()
                .any(|n| n.contains("emulator") && n.contains("corrupt")),
            "{names:?}"
        );
        // The demo works from a fresh state.
        sign_in(&app).await?;
        // The audit log's torn line is skipped and counted; the good entry shows.
        app.click("settings-open").await?;
        app.wait_script(
            "return document.getElementById('history-note').textContent;",
            "the damaged line to be counted",
            |n| {
                n.as_str()
                    .is_some_and(|n| n.contains("1 damaged line was skipped"))
            },
        )
        .await?;
        assert_eq!(
            app.script("return document.querySelectorAll('[data-testid=audit-entry]').length;")
                .await?,
            1
        );
        app.click("settings-close").await?;
        Ok(())
    })
    .await;
}

/// The bundle identifier changed from `dev.countersign.app`: the first start moves that
/// folder's settings and audit log, and the app starts with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_identifiers_data_is_moved_at_first_start() {
    let sandbox = Sandbox::new("old_id");
    let old = sandbox.dir.join("data").join("dev.countersign.app");
    let new = sandbox.dir.join("data").join("dev.countersign.Countersign");
    std::fs::create_dir_all(&old).unwrap();
    let p = &sandbox.profile;
    std::fs::write(
        old.join(format!("settings-{p}.json")),
        br#"{"theme":"dark"}"#,
    )
    .unwrap();
    let entry = r#"{"startedAt":"2026-11-27T10:00:00Z","endedAt":"2026-11-27T10:01:00Z","server":"Built-in demo server","sessionId":"ses_1","scope":"transfer:write","metadata":{},"steps":["verify_sms"],"wrongCodes":0,"outcome":"granted","errorCode":null}"#;
    std::fs::write(
        old.join(format!("approvals-{p}.jsonl")),
        format!("{entry}\n"),
    )
    .unwrap();
    let app = App::launch("old_id", &sandbox, None).await;
    let log = new.join(format!("approvals-{p}.jsonl"));
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        assert_eq!(
            app.script("return document.getElementById('app').dataset.theme;")
                .await?,
            "dark"
        );
        assert!(!old.exists(), "the old folder is gone");
        assert_eq!(std::fs::read_to_string(&log)?, format!("{entry}\n"));
        app.click("settings-open").await?;
        app.wait_script(
            "return document.querySelectorAll('[data-testid=audit-entry]').length;",
            "the moved history",
            |n| n == 1,
        )
        .await?;
        app.click("settings-close").await?;
        Ok(())
    })
    .await;
}

/// Settings: what was typed for one kind of server stays with it, and a bad address is refused
/// in words, with the technical detail under "Details".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_keep_each_kind_of_server_apart_and_say_what_is_wrong() {
    let sandbox = Sandbox::new("server_choice");
    let app = App::launch("server_choice", &sandbox, None).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        app.click("settings-open").await?;
        app.wait_script(
            "return document.querySelector('[data-testid=server-embedded]').checked;",
            "the settings to load",
            |v| v.as_bool() == Some(true),
        )
        .await?;
        let value = "return document.querySelector('[data-testid=server-value]').value;";
        app.click("server-url").await?;
        app.fill("server-value", "not a url").await?;
        app.click("save-server").await?;
        let said = app
            .wait_script(
                "return document.querySelector('[data-testid=server-status]').firstChild?.textContent || '';",
                "the refusal",
                |t| t.as_str().is_some_and(|t| !t.is_empty() && t != "Switching…"),
            )
            .await?;
        let said = said.as_str().unwrap_or_default();
        assert!(said.contains("is not a web address such as https://example.com"), "{said}");
        assert!(!said.contains("invalid_input"), "{said}");
        // A plain input error: under the field, the field marked, no "Details".
        let details = app
            .script("return document.querySelector('[data-testid=server-status] [data-testid=error-details]') === null;")
            .await?;
        assert_eq!(details.as_bool(), Some(true), "no Details for an input error");
        let marked = app
            .script(
                "const f = document.getElementById('server-value');                  return [f.getAttribute('aria-invalid'),                    f.closest('.field').contains(document.getElementById('server-status'))];",
            )
            .await?;
        assert_eq!(marked, serde_json::json!(["true", true]), "the server field");
        app.shot("bad-url").await;
        app.click("server-app-id").await?;
        assert_eq!(app.script(value).await?.as_str(), Some(""), "the URL stays with URLs");
        app.fill("server-value", "my-app").await?;
        app.click("server-url").await?;
        assert_eq!(app.script(value).await?.as_str(), Some("not a url"));
        app.click("server-app-id").await?;
        assert_eq!(app.script(value).await?.as_str(), Some("my-app"));
        // A standalone emulator's key goes in once and never comes back to the page.
        app.click("server-url").await?;
        let key = "an-emulator-key-for-the-e2e";
        app.fill("emulator-key", key).await?;
        app.click("set-emulator-key").await?;
        let state = "return document.querySelector('[data-testid=emulator-key-state]').textContent;";
        app.wait_script(state, "the key to be set", |t| t.as_str() == Some("Key set."))
            .await?;
        let field = "return document.querySelector('[data-testid=emulator-key]').value;";
        assert_eq!(app.script(field).await?.as_str(), Some(""));
        let page = app.script("return document.documentElement.outerHTML;").await?;
        assert!(!page.as_str().unwrap_or_default().contains(key), "the key is in the page");
        app.click("forget-emulator-key").await?;
        app.wait_script(state, "the key to be forgotten", |t| t.as_str() == Some("No key set."))
            .await?;
        app.click("settings-close").await?;
        Ok(())
    })
    .await;
}
