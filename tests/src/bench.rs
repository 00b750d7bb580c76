//! The test bench from the person's side: switching a fault and waiting for the bench to say
//! it took effect, since each switch is a round trip to the emulator.

use crate::{AppRef, TestResult};

impl AppRef {
    /// Sets the bench's checkbox `testid` to `on`, clicking it only when it differs.
    pub async fn set_switch(&self, testid: &str, on: bool) -> TestResult {
        let e = self.el(testid).await?;
        if e.is_selected().await? != on {
            e.click().await?;
        }
        Ok(())
    }

    /// Waits until the bench's note says `text`: its last change reached the emulator.
    pub async fn bench_says(&self, text: &str) -> TestResult {
        self.wait_script(
            "return document.querySelector('[data-testid=bench-note]').textContent;",
            text,
            |v| v.as_str().is_some_and(|s| s.contains(text)),
        )
        .await?;
        Ok(())
    }
}
