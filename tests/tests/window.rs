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
        assert_eq!(app.text("server-label").await?, "Built-in demo server");
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
