//! The signed-in user's sessions, and the demo controls that reach into the session: a reset
//! ends it, a moved clock moves what the screen counts down.

use super::Backend;
use crate::error::{AppError, AppResult};
use crate::outcome::AttemptOutcome;
use crate::view::{BenchView, SessionRow};
use prelude_session::RevokeTarget;

impl Backend {
    // -----------------------------------------------------------------------------------------
    // Sessions

    pub async fn list_sessions(&mut self) -> AppResult<Vec<SessionRow>> {
        if !self.signed_in() {
            return Err(AppError::NotSignedIn);
        }
        let own = self.session.client().session_id();
        let list = self.session.client().list_sessions(Some(50), None).await?;
        Ok(list
            .sessions
            .into_iter()
            .map(|s| SessionRow {
                current: own.as_deref() == Some(s.id.as_str()),
                device: [s.device_model.clone(), s.os_version.clone()]
                    .into_iter()
                    .flatten()
                    .filter(|x| x != "unknown")
                    .collect::<Vec<_>>()
                    .join(" · "),
                kind: match s.device_type.as_deref() {
                    Some("desktop") => Some("Desktop"),
                    Some("mobile") => Some("Phone"),
                    Some("tablet") => Some("Tablet"),
                    _ => None,
                },
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
            })
            .collect())
    }

    pub async fn revoke_sessions(&mut self, target: &str, id: Option<String>) -> AppResult<()> {
        if !self.signed_in() {
            return Err(AppError::NotSignedIn);
        }
        let r = crate::labels::REVOKE_TARGETS;
        let t = match (target, id) {
            (t, _) if t == r.all => RevokeTarget::All,
            (t, _) if t == r.others => RevokeTarget::Others,
            ("mine", _) => RevokeTarget::Mine,
            (t, Some(id)) if t == r.one => RevokeTarget::Session(id.into()),
            _ => {
                return Err(AppError::InvalidInput(
                    "choose all, others, mine, or one session".into(),
                ));
            }
        };
        self.session.client().revoke_sessions(t).await?;
        if self.session.client().profile().is_none() {
            self.end_flow(AttemptOutcome::Cancelled, None);
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Demo

    /// Resets the demo server; the local session is gone with it.
    pub async fn reset_demo(&mut self) -> AppResult<()> {
        self.demo.reset()?;
        self.end_flow(AttemptOutcome::Cancelled, None);
        // The server forgot the session; forget it here too (the revoke is refused, harmlessly).
        let _ = self.session.client().logout().await;
        Ok(())
    }

    /// Moves the emulated clock by `by` seconds, or back to real time with `None`. What the
    /// screen counts down (a code, a challenge, a grant) follows the server's clock.
    ///
    /// # Errors
    /// As [`crate::demo::Demo::move_clock`].
    pub async fn move_clock(&mut self, by: Option<i64>) -> AppResult<BenchView> {
        let (moved, view) = self.demo.move_clock(by).await?;
        self.session.clock_moved(moved);
        Ok(view)
    }
}
