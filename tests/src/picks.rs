//! Number matching from the person's side: picking a number on the request screen.

use crate::{AppRef, TestResult};
use std::time::{Duration, Instant};

impl AppRef {
    /// Picks `n` among the request's numbers (number matching), once the numbers are there
    /// and settled, as [`Self::click`] waits for a button.
    pub async fn pick_number(&self, n: u8) -> TestResult {
        let want = format!("{n:02}");
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            for e in self.driver.find_all(Self::sel("match-number")).await? {
                if e.text().await? != want {
                    continue;
                }
                let settled = e.is_enabled().await.unwrap_or(false)
                    && e.attr("aria-disabled").await.ok().flatten().as_deref() != Some("true");
                if settled {
                    return Ok(e.click().await?);
                }
            }
            if Instant::now() > until {
                return Err(format!("no number {want} to pick").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
