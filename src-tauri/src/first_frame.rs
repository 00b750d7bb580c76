//! The first frame comes first. On a 2-core machine the embedded server, the keyring, the
//! tray and the screen-lock watchers compete with WebKit for the CPU while it builds the
//! first screen; work that screen does not need waits until its frame is out (the page's
//! `ui_ready`), or until [`LIMIT`] has passed, as a hidden window may draw no frame at all.

use std::time::Duration;
use tokio::sync::SetOnce;

/// The longest that deferred work waits for the first frame.
pub const LIMIT: Duration = Duration::from_secs(1);

static DRAWN: SetOnce<()> = SetOnce::const_new();

/// The page's first screen is out (`ui_ready`).
pub fn drawn() {
    let _ = DRAWN.set(());
}

/// Returns once the first frame is out, or after [`LIMIT`].
pub async fn passed() {
    let _ = tokio::time::timeout(LIMIT, DRAWN.wait()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deferred_work_waits_for_the_first_frame_at_most_the_limit() {
        // Nothing drawn yet: the wait ends at the limit, not before.
        let before = tokio::time::Instant::now();
        passed().await;
        assert_eq!(before.elapsed(), LIMIT);
        // Drawn: a wait ends at once, and a waiter already waiting is woken.
        let waiting = tokio::spawn(async {
            let at = tokio::time::Instant::now();
            passed().await;
            at.elapsed()
        });
        tokio::task::yield_now().await;
        drawn();
        assert!(waiting.await.expect("the waiter") < LIMIT);
        let again = tokio::time::Instant::now();
        passed().await;
        assert_eq!(again.elapsed(), Duration::ZERO);
    }
}
