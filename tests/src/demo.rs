//! The embedded demo server from the person's side: signing in with a code read from the demo
//! inbox, and switching the approval scenario with its picker.

use crate::{AppRef, TestResult};

impl AppRef {
    /// Signs in as `who` on the embedded server with the first code the demo inbox shows.
    pub async fn sign_in_on_demo(&self, who: &str) -> TestResult {
        self.wait_stage("login").await?;
        self.fill("identifier-input", who).await?;
        self.click("send-code").await?;
        self.wait_stage("code").await?;
        let code = self.inbox_code(1).await?;
        self.fill("login-code-input", &code).await?;
        self.click("verify-login").await?;
        self.wait_stage("logged").await
    }

    /// Sets the demo scenario `name` through its picker, and waits until the command is done.
    pub async fn pick_scenario(&self, name: &str) -> TestResult {
        self.script(&format!(
            "const s = document.getElementById('scenario'); s.value = '{name}'; \
             s.dispatchEvent(new Event('change')); return true;"
        ))
        .await?;
        self.wait_script(
            "return document.getElementById('card').getAttribute('aria-busy');",
            "the scenario to be set",
            |v| v.as_str() != Some("true"),
        )
        .await?;
        Ok(())
    }
}
