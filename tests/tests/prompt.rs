//! The approval prompt at a glance, in the real window: a transfer's amount in one format with
//! its payee (or a warning that none is given) and who approves; the requester's note labelled
//! as unchecked; one deadline under the title from the request to its check; a request with no
//! details marked broad; a step no code can come for as a dead end with Deny only; errors
//! under their field; and a reported request's code void in the demo inbox.

use countersign_e2e::{App, AppRef, Proc, Sandbox, finish};
use std::sync::Arc;
use thirtyfour::prelude::*;

const PHONE: &str = "+33612345678";

/// Whether the element with `testid` is drawn.
async fn shown(app: &AppRef, testid: &str) -> WebDriverResult<bool> {
    let v = app
        .script(&format!(
            "return document.querySelector('[data-testid=\"{testid}\"]')?.checkVisibility() ?? false;"
        ))
        .await?;
    Ok(v.as_bool() == Some(true))
}

/// The strings of a JSON array the page returned; nothing for anything else.
fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

/// The facts box's rows on screen, as `fact=Label: value` lines.
async fn facts(app: &AppRef) -> WebDriverResult<Vec<String>> {
    let v = app
        .script(
            "return [...document.querySelectorAll('#stage-root [data-bind-list] > div')].map((r) => \
               `${r.dataset.fact || ''}=${r.querySelector('dt').textContent}: ${r.querySelector('dd').textContent}`);",
        )
        .await?;
    Ok(strings(&v))
}

/// Seconds left in a countdown's "Expires in m:ss".
async fn seconds_left(
    app: &AppRef,
    testid: &str,
) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    let text = app.text(testid).await?;
    let left = text
        .strip_prefix("Expires in ")
        .ok_or_else(|| format!("{testid} says {text:?}"))?;
    let (m, s) = left.split_once(':').ok_or_else(|| format!("{text:?}"))?;
    Ok(m.parse::<u64>()? * 60 + s.parse::<u64>()?)
}

/// Whether `a`'s top is below `b`'s bottom.
async fn below(app: &AppRef, a: &str, b: &str) -> WebDriverResult<bool> {
    let v = app
        .script(&format!(
            "const r = (t) => document.querySelector(`[data-testid=${{t}}]`).getBoundingClientRect(); \
             return r('{a}').top >= r('{b}').bottom - 1;"
        ))
        .await?;
    Ok(v.as_bool() == Some(true))
}

/// The facts that share a line with another, by name; none is the goal.
async fn sharing_a_row(app: &AppRef) -> WebDriverResult<Vec<String>> {
    let v = app
        .script(
            "const rows = [...document.querySelectorAll('#stage-root [data-bind-list] > div')]; \
             return rows.filter((r) => rows.some((o) => o !== r \
               && o.getBoundingClientRect().top === r.getBoundingClientRect().top)) \
               .map((r) => r.dataset.fact || r.textContent);",
        )
        .await?;
    Ok(strings(&v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_shows_its_amount_payee_approver_note_and_one_deadline() {
    let sandbox = Arc::new(Sandbox::new("prompt_transfer"));
    let app = App::launch("prompt_transfer", &sandbox, None).await;
    app.run(move |app| async move {
        app.sign_in_on_demo(PHONE).await?;
        // Sessions are named by device and OS, with when each was last active.
        app.click("sessions-toggle").await?;
        let row = app
            .wait_script(
                "const r = document.querySelector('[data-testid=session-row]'); return r ? r.textContent : '';",
                "this device's session row",
                |v| v.as_str().is_some_and(|t| t.contains("last active")),
            )
            .await?;
        let row = row.as_str().unwrap_or_default();
        assert!(row.starts_with("Countersign · "), "{row}");
        assert!(row.contains("This device") || row.contains("this device"), "{row}");
        assert!(!row.contains("ses_"), "a raw session id: {row}");
        assert!(shown(&app, "session-sign-out").await?);

        let mut cli = Proc::spawn(sandbox.countersign(&[
            "approve",
            "--scope",
            "transfer:write",
            "--meta",
            "amount=12",
            "--meta",
            "currency=EUR",
            "--reason",
            "Pay invoice 2291",
        ]));
        app.wait_stage("request").await?;
        let title = app.text("request-title").await?;
        assert!(title.contains('€') && (title.contains("12.00") || title.contains("12,00")), "{title}");
        // One money format: the title's amount is the facts box's, and the payee's absence is
        // a warning row of its own; who approves closes the box, masked.
        let rows = facts(&app).await?;
        let amount = rows
            .iter()
            .find_map(|r| r.strip_prefix("amount=Amount: "))
            .ok_or_else(|| format!("no amount row: {rows:?}"))?
            .to_owned();
        // WebDriver reads the locale's no-break space as a space.
        assert!(title.contains(&amount.replace('\u{a0}', " ")), "{title} vs {amount}");
        assert!(rows.contains(&"no-payee=Payee: not given".to_owned()), "{rows:?}");
        assert!(rows.contains(&"approver=Approving as: +33 •••• 5678".to_owned()), "{rows:?}");
        assert!(!rows.iter().any(|r| r.contains("Currency") || r.contains("EUR")), "{rows:?}");
        // The requester's words are labelled as theirs, and unchecked.
        let note = app.text("requester-note").await?;
        assert!(note.starts_with("Note from the requester (not checked)"), "{note}");
        assert_eq!(app.text("request-reason").await?, "Pay invoice 2291");
        // The deadline is under the title.
        assert!(below(&app, "request-countdown", "request-title").await?);
        assert!(below(&app, "request-source", "request-countdown").await?);
        let on_request = seconds_left(&app, "request-countdown").await?;
        app.shots_in_view(
            "prompt-request",
            &["request-title", "request-countdown", "approve-request", "deny-request", "deny-report"],
        )
        .await?;
        // Amount, payee and who approves each keep a row, down to the smallest window.
        assert_eq!(sharing_a_row(&app).await?, Vec::<String>::new(), "at 720x560");
        app.resize(1040, 760).await?;
        assert_eq!(sharing_a_row(&app).await?, Vec::<String>::new(), "at 1040x760");

        app.pick_number(cli.match_number().await).await?;
        app.click("approve-request").await?;
        app.wait_stage("step-up-otp").await?;
        app.inbox_code(2).await?;
        // The same deadline carries on: the request's, not the code's ten minutes.
        let on_check = seconds_left(&app, "stepup-countdown").await?;
        assert!(on_check <= on_request, "{on_check} s on the check after {on_request} s");
        assert!(below(&app, "stepup-countdown", "approval-title").await?);
        let rows = facts(&app).await?;
        assert!(rows.contains(&format!("amount=Amount: {amount}")), "{rows:?}");
        assert!(rows.contains(&"no-payee=Payee: not given".to_owned()), "{rows:?}");
        assert!(rows.contains(&"approver=Approving as: +33 •••• 5678".to_owned()), "{rows:?}");
        let note = app.text("requester-note").await?;
        assert!(note.starts_with("Note from the requester (not checked)"), "{note}");
        let same_style = app
            .script(
                "const n = document.querySelector('[data-testid=requester-note]'); \
                 return n.tagName === 'FIGURE' && n.classList.contains('note');",
            )
            .await?;
        assert_eq!(same_style.as_bool(), Some(true));

        // A wrong code is said under the code field, and the way out stays in view.
        let step = app.inbox_code(2).await?;
        let wrong = if step == "000000" { "111111" } else { "000000" };
        app.fill("stepup-code-input", wrong).await?;
        app.click("verify-stepup").await?;
        app.wait_error("Wrong code.").await?;
        let under = app
            .script(
                "const e = document.querySelector('[data-testid=error]'); \
                 return e.closest('.field')?.contains(document.getElementById('stepup-code')) ?? false;",
            )
            .await?;
        assert_eq!(under.as_bool(), Some(true), "the error is under the code field");
        // A code typed wrong is the person's own input: no "Details" to open.
        let details = app
            .script("return document.querySelector('[data-testid=error] [data-testid=error-details]') === null;")
            .await?;
        assert_eq!(details.as_bool(), Some(true), "Details beside a wrong code");
        app.shots_in_view(
            "prompt-check",
            &[
                "approval-title",
                "stepup-countdown",
                "stepup-code-input",
                "error",
                "verify-stepup",
                "deny-request",
                "deny-report",
            ],
        )
        .await?;
        assert_eq!(sharing_a_row(&app).await?, Vec::<String>::new(), "check at 720x560");
        app.resize(1040, 760).await?;

        // Reported: the code sent for it can no longer be entered, and the inbox says so.
        app.click("deny-report").await?;
        app.el("report-why").await?;
        let mark = app
            .wait_script(
                "const m = document.querySelector('[data-testid=demo-inbox-message]'); \
                 return m ? [m.dataset.status, m.textContent] : null;",
                "the reported request's code marked void",
                |v| v[0].as_str() == Some("void"),
            )
            .await?;
        assert!(mark[1].as_str().unwrap_or_default().contains("Void"), "{mark}");
        app.shots_in_view("prompt-reported", &["report-why", "revoke-after-report"])
            .await?;
        app.resize(1040, 760).await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");

        // The history writes the amount the same way.
        app.click("settings-open").await?;
        let line = app
            .wait_script(
                "return document.querySelector('[data-testid=audit-entry] .what')?.textContent || '';",
                "the request in the history",
                |v| v.as_str().is_some_and(|t| !t.is_empty()),
            )
            .await?;
        let line = line.as_str().unwrap_or_default();
        assert_eq!(line, format!("Send a bank transfer · {amount} (payee not given)"));
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_details_says_it_allows_any_and_is_marked_broad() {
    let sandbox = Arc::new(Sandbox::new("prompt_broad"));
    let app = App::launch("prompt_broad", &sandbox, None).await;
    app.run(move |app| async move {
        app.sign_in_on_demo(PHONE).await?;
        let mut cli = Proc::spawn(sandbox.countersign(&["approve", "--scope", "transfer:write"]));
        app.wait_stage("request").await?;
        assert_eq!(
            app.text("request-title").await?,
            "Approve any bank transfer?"
        );
        let broad = app.text("broad").await?;
        assert!(broad.starts_with("Broad"), "{broad}");
        assert!(
            broad.contains("any bank transfer, not one in particular"),
            "{broad}"
        );
        assert!(!broad.contains("transfer:write"), "a wire term: {broad}");
        app.shots_in_view(
            "prompt-broad-request",
            &["broad", "approve-request", "deny-request"],
        )
        .await?;
        app.resize(1040, 760).await?;
        app.pick_number(cli.match_number().await).await?;
        app.click("approve-request").await?;
        app.wait_stage("step-up-otp").await?;
        // The check knows the grant's mode and length, and says them.
        assert_eq!(
            app.text("approval-title").await?,
            "Approve any bank transfer"
        );
        let broad = app.text("broad").await?;
        assert!(
            broad.contains(
                "any bank transfer from this sign-in for 5 minutes, not one in particular"
            ),
            "{broad}"
        );
        app.shots_in_view(
            "prompt-broad-check",
            &["broad", "verify-stepup", "deny-request"],
        )
        .await?;
        app.resize(1040, 760).await?;
        app.click("deny-request").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_no_code_can_come_for_is_a_dead_end_with_deny_only() {
    let sandbox = Sandbox::new("prompt_dead_end");
    let app = App::launch("prompt_dead_end", &sandbox, None).await;
    app.run(move |app| async move {
        // A user with a phone number only, and approvals that start with an email code.
        app.sign_in_on_demo("+33612345699").await?;
        app.pick_scenario("email_then_sms").await?;
        // The choice is confirmed in a note, which goes with the screen it was made on.
        app.wait_script(
            "return document.querySelector('[data-testid=toast]').textContent;",
            "the scenario's note",
            |v| {
                v.as_str()
                    .is_some_and(|t| t.starts_with("Next approvals: "))
            },
        )
        .await?;
        assert!(shown(&app, "toast").await?);
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        // Well within the note's own 4 s.
        assert!(
            !shown(&app, "toast").await?,
            "the scenario's note outlived its screen"
        );
        app.wait_drawn("dead-end", "the dead end").await?;
        let why = app.text("dead-end-why").await?;
        assert!(why.contains("your account has no email address"), "{why}");
        let fix = app.text("dead-end-fix").await?;
        assert!(
            fix.starts_with("Adding an email address to your account"),
            "{fix}"
        );
        assert_eq!(
            app.text("dead-end-add-email").await?,
            "Add an email address"
        );
        // Nothing that asks for input, nothing that claims success: Deny only.
        for gone in [
            "stepup-code-input",
            "verify-stepup",
            "resend-stepup-code",
            "error",
            "toast",
            "step-instructions",
        ] {
            assert!(!shown(&app, gone).await?, "{gone} at a dead end");
        }
        assert!(shown(&app, "deny-request").await?);
        app.shots_in_view(
            "prompt-dead-end",
            &["dead-end-why", "dead-end-add-email", "deny-request"],
        )
        .await?;
        app.resize(1040, 760).await?;
        // Its way out ends this approval and opens the account screen.
        app.click("dead-end-add-email").await?;
        app.wait_stage("logged").await?;
        assert!(app.text("signed-in-as").await?.contains("+33612345699"));
        Ok(())
    })
    .await;
}

/// The UI formats money in one place: `money()` in ui/money.js; every other file calls it.
#[test]
fn the_ui_formats_money_in_one_place() {
    let ui = countersign_e2e::workspace_root().join("ui");
    let mut formats = Vec::new();
    for entry in std::fs::read_dir(&ui).expect("ui/") {
        let path = entry.expect("ui/ entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("js") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a UI file");
        for (n, line) in text.lines().enumerate() {
            if line.contains("NumberFormat")
                || line.contains("toFixed(")
                || line.contains("toLocaleString")
            {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                formats.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        !formats.is_empty() && formats.iter().all(|f| f.starts_with("money.js:")),
        "money is formatted outside ui/money.js:\n{}",
        formats.join("\n")
    );
}
