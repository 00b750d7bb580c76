//! The window's looks from a tester's side: its size, its theme, and screenshots at the sizes
//! and themes a person meets.

use crate::{AppRef, TestResult};
use std::time::Duration;

impl AppRef {
    /// Sets the window to `w`×`h` pixels and waits until the page has taken that size.
    pub async fn resize(&self, w: u32, h: u32) -> TestResult {
        self.driver.set_window_rect(0, 0, w, h).await?;
        self.wait_script(
            "return [window.outerWidth, window.outerHeight];",
            "the window to take its size",
            |v| v[0].as_u64() == Some(u64::from(w)),
        )
        .await?;
        Ok(())
    }

    /// Turns the theme toggle until the page is in `want` (`light`, `dark` or `system`), and
    /// lets the buttons finish fading to their new colours.
    pub async fn set_theme(&self, want: &str) -> TestResult {
        for _ in 0..3 {
            let now = self
                .script("return document.getElementById('app').dataset.theme;")
                .await?;
            if now.as_str() == Some(want) {
                // Buttons fade to their new colours in 150 ms.
                tokio::time::sleep(Duration::from_millis(400)).await;
                return Ok(());
            }
            self.click("theme-toggle").await?;
            self.wait_script(
                "return document.getElementById('app').dataset.theme;",
                "the theme to change",
                |v| v.as_str() != now.as_str(),
            )
            .await?;
        }
        Err(format!("the theme never became {want}").into())
    }

    /// Screenshots `LABEL-WxH-THEME` at 1040×760 and 720×560, light and dark, with each of
    /// `testids` in view in each; the window stays at the last size.
    pub async fn shots_in_view(&self, label: &str, testids: &[&str]) -> TestResult {
        for (w, h) in [(1040, 760), (720, 560)] {
            self.resize(w, h).await?;
            for t in ["light", "dark"] {
                self.set_theme(t).await?;
                self.shot(&format!("{label}-{w}x{h}-{t}")).await;
                for testid in testids {
                    assert!(self.in_view(testid).await?, "{testid} at {w}x{h} {t}");
                }
            }
        }
        Ok(())
    }
}
