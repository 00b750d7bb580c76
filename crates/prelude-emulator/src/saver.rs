//! Keeping the state across restarts, off the request path. Handlers only mark the state
//! dirty; one task writes it at most about once a second and once more at shutdown, so a crash
//! loses at most the last second.

use crate::Error;
use crate::shared::AppState;
use std::time::Duration;
use tokio::sync::watch;

/// Saves come at most this often.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Writes the state now if it changed since the last write.
///
/// # Errors
/// [`Error::StateWrite`] when it cannot be written.
pub fn save_if_dirty(app: &AppState) -> Result<(), Error> {
    app.persist
        .save_if_dirty(|| serde_json::to_vec(&*app.data()))
}

/// The saver: wakes on a change, waits out the rest of the second, writes, and writes a last
/// time when `stop` fires.
pub fn spawn_saver(app: AppState, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = app.persist.marked() => {}
                _ = stop.changed() => break,
            }
            tokio::select! {
                _ = tokio::time::sleep(SAVE_EVERY) => {}
                _ = stop.changed() => break,
            }
            let a = app.clone();
            match tokio::task::spawn_blocking(move || save_if_dirty(&a)).await {
                Ok(Err(e)) => tracing::error!(error = %e, "state not saved"),
                Err(e) => tracing::error!(error = %e, "state saver failed"),
                Ok(Ok(())) => {}
            }
        }
        let a = app.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || save_if_dirty(&a)).await {
            tracing::error!(error = %e, "state not saved at shutdown");
        }
    })
}
