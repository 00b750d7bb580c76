//! The real window: what a first-time user sees.

use countersign_e2e::{App, Sandbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_screen_shows_its_fields_in_light_and_dark() {
    let sandbox = Sandbox::new("login_screen");
    let app = App::launch("login_screen", &sandbox, None).await;
    app.run(|app| async move {
        app.wait_stage("login").await?;
        assert_eq!(app.driver.title().await?, "Countersign");
        let input = app.el("identifier-input").await?;
        assert!(input.is_displayed().await?);
        assert_eq!(
            input.attr("autocomplete").await?.as_deref(),
            Some("username")
        );
        let label = app
            .script("return document.querySelector('label[for=identifier]').textContent;")
            .await?;
        assert_eq!(label.as_str(), Some("Phone number or email"));
        let send = app.el("send-code").await?;
        assert_eq!(send.text().await?, "Send code");
        // Read from the page: the badge may still be settling into a narrow header, where
        // WebDriver's visible text of a shrinking element can read empty for a moment.
        let badge = app
            .script("return document.getElementById('server-label').textContent;")
            .await?;
        assert_eq!(badge.as_str(), Some("Built-in demo server"));
        assert!(app.el("server-label").await?.is_displayed().await?);
        // The demo inbox is there for the embedded server.
        assert!(app.el("demo-inbox").await?.is_displayed().await?);

        // Validation as the user types.
        app.fill("identifier-input", "0612").await?;
        let hint = app
            .script("return document.getElementById('identifier-hint').textContent;")
            .await?;
        assert!(
            hint.as_str().unwrap_or_default().contains("country code"),
            "{hint}"
        );
        // Sending it anyway says so once, in the hint: no banner repeats it.
        app.click("send-code").await?;
        app.wait_script(
            "return document.getElementById('identifier').getAttribute('aria-invalid');",
            "the field marked invalid",
            |v| v.as_str() == Some("true"),
        )
        .await?;
        assert_eq!(app.stage().await?, "login");
        assert!(!app.el("error").await?.is_displayed().await?, "no banner");
        app.shot("login-bad-identifier").await;
        app.fill("identifier-input", "").await?;
        app.shot("login-light").await;

        // system → light → dark
        app.click("theme-toggle").await?;
        app.click("theme-toggle").await?;
        let theme = app
            .script("return document.getElementById('app').dataset.theme;")
            .await?;
        assert_eq!(theme.as_str(), Some("dark"));
        let bg = app
            .script("return getComputedStyle(document.querySelector('.card')).backgroundColor;")
            .await?;
        assert_eq!(bg.as_str(), Some("rgb(22, 26, 38)"), "dark card colour");
        app.shot("login-dark").await;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signed_in_screen_fits_the_default_and_the_smallest_window() {
    let sandbox = Sandbox::new("layout");
    let app = App::launch("layout", &sandbox, None).await;
    app.run(|app| async move {
        app.sign_in_on_demo("+33612345678").await?;
        for (w, h) in [(1040, 760), (720, 560)] {
            app.driver.set_window_rect(0, 0, w, h).await?;
            app.wait_script(
                "return [window.outerWidth, window.outerHeight];",
                "the window to take its size",
                |v| v[0].as_u64() == Some(w as u64),
            )
            .await?;
            app.shot(&format!("logged-{w}x{h}")).await;
            for testid in ["request-scope", "logout"] {
                assert!(app.in_view(testid).await?, "{testid} at {w}x{h}");
            }
        }
        // At 720x560 the step-up screen shows its code field and Approve, and the inbox stays
        // beside the card with the newest code in view.
        app.click("request-scope").await?;
        app.wait_stage("step-up-otp").await?;
        app.inbox_code(2).await?;
        app.shot("step-up-720x560").await;
        let strip = app
            .script("return getComputedStyle(document.getElementById('code-strip')).display;")
            .await?;
        assert_eq!(
            strip.as_str(),
            Some("none"),
            "no strip: the inbox is in view"
        );
        for testid in [
            "demo-inbox-message",
            "stepup-code-input",
            "verify-stepup",
            "deny-request",
        ] {
            assert!(app.in_view(testid).await?, "{testid} at 720x560");
        }
        // The same screen in the dark theme, for a look at its contrast.
        app.click("theme-toggle").await?;
        app.click("theme-toggle").await?;
        app.wait_script(
            "return document.getElementById('app').dataset.theme;",
            "the dark theme",
            |v| v.as_str() == Some("dark"),
        )
        .await?;
        // Buttons fade to their new colours in 150 ms.
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        app.shot("step-up-720x560-dark").await;
        app.click("demo-inbox-message").await?;
        app.click("verify-stepup").await?;
        app.wait_stage("done").await?;
        app.shot("done-720x560-dark").await;
        Ok(())
    })
    .await;
}

/// The page draws in the desktop's interface font (GTK's `gtk-font-name`, here from the
/// sandbox's settings.ini), named to it by the app, and in `sans-serif` where the desktop
/// names only a generic font.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_in_the_desktop_s_interface_font() {
    let family = "return getComputedStyle(document.body).fontFamily;";
    let sandbox = with_gtk_font("ui_font", "DejaVu Serif 11");
    let app = App::launch("ui_font", &sandbox, None).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        let named = app.script(family).await?;
        assert_eq!(
            named.as_str(),
            Some("\"DejaVu Serif\", sans-serif"),
            "{named}"
        );
        // After a reload too: the name comes with every load of the page.
        app.script("window.__before = true; location.reload(); return true;")
            .await?;
        app.wait_script(
            "return !window.__before && document.getElementById('app').dataset.ready === 'true';",
            "the page loaded again",
            |v| v.as_bool() == Some(true),
        )
        .await?;
        assert_eq!(app.script(family).await?, named);
        Ok(())
    })
    .await;

    let sandbox = with_gtk_font("ui_font_generic", "Sans 10");
    let app = App::launch("ui_font_generic", &sandbox, None).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        assert_eq!(app.script(family).await?.as_str(), Some("sans-serif"));
        Ok(())
    })
    .await;
}

/// A sandbox whose GTK settings name `font` as the interface font.
fn with_gtk_font(test: &str, font: &str) -> Sandbox {
    let sandbox = Sandbox::new(test);
    let gtk = sandbox.dir.join("config/gtk-3.0");
    std::fs::create_dir_all(&gtk).expect("gtk settings dir");
    std::fs::write(
        gtk.join("settings.ini"),
        format!("[Settings]\ngtk-font-name={font}\n"),
    )
    .expect("gtk settings");
    sandbox
}
