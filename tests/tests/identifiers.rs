//! "Add an email address" in the real window, on the embedded demo server: the code goes to
//! the new address (read from the demo inbox), the address then shows on the account, and the
//! "email, then SMS" approval that had no address to send to passes.

use countersign_e2e::{App, AppRef, Sandbox, TestResult};

/// Opens the account's "Your email and phone" panel, if it is folded.
async fn open_panel(app: &AppRef) -> TestResult {
    app.script("const p = document.getElementById('identifiers-panel'); p.open = true; p.scrollIntoView({block: 'nearest'}); return true;")
        .await?;
    app.el("identifier-add-email").await?;
    Ok(())
}

/// The addresses the panel lists, as `kind value` lines.
async fn listed(app: &AppRef) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let v = app
        .script(
            "return [...document.querySelectorAll('[data-testid=identifier-row]')] \
             .map((r) => r.dataset.kind + ' ' + r.querySelector('bdi').textContent);",
        )
        .await?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Waits until the panel lists `line`.
async fn wait_listed(app: &AppRef, line: &str) -> TestResult {
    app.wait_script(
        "return [...document.querySelectorAll('[data-testid=identifier-row]')] \
         .map((r) => r.dataset.kind + ' ' + r.querySelector('bdi').textContent);",
        &format!("{line} in the list"),
        |v| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(line)))
        },
    )
    .await?;
    Ok(())
}

/// Waits until the panel's own error line says `text`; its sentence and its "Details".
async fn panel_error(
    app: &AppRef,
    text: &str,
) -> Result<(String, String), Box<dyn std::error::Error + Send + Sync>> {
    let v = app
        .wait_script(
            "const e = document.querySelector('[data-testid=identifier-error]'); \
             return e && !e.hidden ? [e.firstChild?.textContent || '', \
               e.querySelector('[data-testid=error-details] code')?.textContent || ''] : ['', ''];",
            &format!("the panel to say {text:?}"),
            |v| v[0].as_str().is_some_and(|s| s.contains(text)),
        )
        .await?;
    Ok((
        v[0].as_str().unwrap_or_default().to_owned(),
        v[1].as_str().unwrap_or_default().to_owned(),
    ))
}

/// Adds `email` from the open panel with the code the inbox shows as message `n`.
async fn add_email(app: &AppRef, email: &str, n: usize) -> TestResult {
    app.click("identifier-add-email").await?;
    app.fill("identifier-value", email).await?;
    app.click("identifier-send").await?;
    app.el("identifier-code").await?;
    let code = app.inbox_code(n).await?;
    app.fill("identifier-code", &code).await?;
    app.click("identifier-verify").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_an_email_address() {
    let sandbox = Sandbox::new("identifiers_add");
    let app = App::launch("identifiers_add", &sandbox, None).await;
    app.run(move |app| async move {
        app.sign_in_on_demo("+33612340001").await?;
        open_panel(&app).await?;
        assert_eq!(listed(&app).await?, ["phone +33612340001"]);
        app.shot("identifiers-panel").await;

        // Not an email address: said in words, nothing sent.
        app.click("identifier-add-email").await?;
        app.fill("identifier-value", "grace.example.com").await?;
        app.click("identifier-send").await?;
        // A plain input error: said in words, with no "Details" to open.
        let (said, details) = panel_error(&app, "email address").await?;
        assert!(!said.contains("invalid_input"), "{said}");
        assert_eq!(details, "", "a plain input error has no Details");
        let under = app
            .script(
                "const f = document.getElementById('identifier-value'); \
                 return [f.getAttribute('aria-invalid'), \
                   f.closest('.field').contains(document.querySelector('[data-testid=identifier-error]'))];",
            )
            .await?;
        assert_eq!(under, serde_json::json!(["true", true]), "under the address field, marked");
        // Someone else's address: refused before any code goes out.
        app.fill("identifier-value", "ADA@example.com").await?;
        app.click("identifier-send").await?;
        let (said, details) = panel_error(&app, "already on an account").await?;
        assert!(!said.contains("identifier_already_exists"), "{said}");
        assert!(
            details.starts_with("identifier_already_exists: "),
            "{details}"
        );
        app.script("document.querySelector('[data-testid=identifier-error] summary').click(); return true;")
            .await?;
        app.shot("identifiers-taken").await;
        // A look-alike of that address (a Cyrillic а): warned about before any code, with
        // the part named; sent only when confirmed, and then the emulator refuses the mix.
        app.fill("identifier-value", "\u{430}da@example.com").await?;
        app.click("identifier-send").await?;
        let (said, _) = panel_error(&app, "could pass for someone else").await?;
        assert!(
            said.contains("part before @") && said.contains("Cyrillic"),
            "{said}"
        );
        app.el("identifier-anyway").await?;
        app.shot("identifiers-lookalike").await;
        app.click("identifier-anyway").await?;
        let (said, _) = panel_error(&app, "cannot be used here").await?;
        assert!(said.contains("mixes scripts"), "the refusal says why: {said}");
        app.click("identifier-cancel").await?;

        // A new address: its code arrives in the demo inbox (the login code was the first).
        app.click("identifier-add-email").await?;
        app.fill("identifier-value", " Grace@Example.COM").await?;
        app.click("identifier-send").await?;
        app.el("identifier-code").await?;
        assert_eq!(app.text("identifier-pending").await?, "grace@example.com");
        let code = app.inbox_code(2).await?;
        let label = app
            .script("return document.querySelector('[data-testid=demo-inbox-message]')?.textContent || '';")
            .await?;
        let label = label.as_str().unwrap_or_default();
        assert!(
            label.contains("grace@example.com") && label.contains("Code to add this address"),
            "{label}"
        );
        app.shot("identifiers-code").await;
        app.fill("identifier-code", &code).await?;
        app.click("identifier-verify").await?;
        wait_listed(&app, "email grace@example.com").await?;
        assert_eq!(
            listed(&app).await?,
            ["phone +33612340001", "email grace@example.com"]
        );
        // "Add a phone number" works the same way, with a text message.
        app.click("identifier-add-phone").await?;
        app.fill("identifier-value", "+44 20 7946 0018").await?;
        app.click("identifier-send").await?;
        app.el("identifier-code").await?;
        let sms = app.inbox_code(3).await?;
        app.fill("identifier-code", &sms).await?;
        app.click("identifier-verify").await?;
        wait_listed(&app, "phone +442079460018").await?;
        // An address given up before its code was entered: the inbox marks that code void.
        app.click("identifier-add-email").await?;
        app.fill("identifier-value", "lin@example.com").await?;
        app.click("identifier-send").await?;
        app.el("identifier-code").await?;
        app.inbox_code(4).await?;
        app.click("identifier-cancel-code").await?;
        app.wait_script(
            "return document.querySelector('[data-testid=demo-inbox-message]')?.dataset.status;",
            "the given-up code marked void",
            |v| v.as_str() == Some("void"),
        )
        .await?;
        // Light and dark, wide and small, with the list scrolled into view as a person would.
        for (w, h) in [(1040, 760), (720, 560)] {
            app.resize(w, h).await?;
            for theme in ["light", "dark"] {
                app.set_theme(theme).await?;
                app.script("document.querySelector('[data-testid=identifier-list]').scrollIntoView({block: 'center'}); return true;")
                    .await?;
                app.shot(&format!("identifiers-added-{w}x{h}-{theme}")).await;
                assert!(app.in_view("identifier-list").await?, "{w}x{h} {theme}");
            }
        }
        Ok(())
    })
    .await;
}

/// The payoff: a user with no email hits "email, then SMS", adds an address from the account
/// panel, and the approval asked again passes both steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_no_email_dead_end_is_left_by_adding_an_email() {
    let sandbox = Sandbox::new("identifiers_payoff");
    let app = App::launch("identifiers_payoff", &sandbox, None).await;
    app.run(move |app| async move {
        app.sign_in_on_demo("+33612340002").await?;
        app.pick_scenario("email_then_sms").await?;
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let why = app.text("dead-end-why").await?;
        assert!(why.contains("your account has no email address"), "{why}");
        app.shot("payoff-dead-end").await;
        // The dead end's way out ends this approval and opens the account screen.
        app.click("dead-end-add-email").await?;
        app.wait_stage("logged").await?;
        open_panel(&app).await?;
        add_email(&app, "new.address@example.org", 2).await?;
        wait_listed(&app, "email new.address@example.org").await?;
        app.shot("payoff-added").await;

        // Asked again: the first code goes to the new address, the second by text message.
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        let mail = app.inbox_code(3).await?;
        let to = app
            .script("return document.querySelector('[data-testid=demo-inbox-message]')?.textContent || '';")
            .await?;
        assert!(
            to.as_str().unwrap_or_default().contains("new.address@example.org"),
            "{to}"
        );
        app.fill("stepup-code-input", &mail).await?;
        app.click("verify-stepup").await?;
        let sms = app.inbox_code(4).await?;
        app.fill("stepup-code-input", &sms).await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        assert_eq!(app.text("scope-granted").await?, "Scope granted.");
        app.shot("payoff-granted").await;
        Ok(())
    })
    .await;
}
