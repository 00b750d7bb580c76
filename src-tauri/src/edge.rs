//! The command edge: the one door every command passes to reach the backend. It waits for the
//! backend, locks it, starts the person's turn (the last notice goes), runs the one call, and
//! after a failure that ended the session sends the window back to sign-in.

use crate::AppState;
use crate::backend::Backend;
use crate::error::AppResult;
use crate::view::AppView;

/// What a command is to the notice on screen.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The person acts: what the last action said is gone before this one runs.
    Action,
    /// A look (a list, a setting, the demo's inbox): the notice stays.
    Look,
}

impl AppState {
    /// The one door: runs `call` on the backend under its lock. A failure that means the
    /// session is gone moves to sign-in (`Backend::note_failure`) before it is returned.
    ///
    /// # Errors
    /// The backend did not start ([`crate::error::AppError::Startup`]); `call`'s own.
    pub async fn door<T>(
        &self,
        edge: Edge,
        call: impl AsyncFnOnce(&mut Backend) -> AppResult<T>,
    ) -> AppResult<T> {
        let mut b = self.backend().await?.lock().await;
        // Again under the backend's lock: a lock that closed while this call waited for it
        // holds (the check in `backend` came before the wait).
        self.lock.gate()?;
        if edge == Edge::Action {
            b.notice().clear();
        }
        let r = call(&mut b).await;
        if let Err(e) = &r {
            b.note_failure(e);
            self.note_session(&b);
        }
        r
    }

    /// A person's action on the main window, answered with the whole view (after noting
    /// where a session is open).
    ///
    /// # Errors
    /// As [`Self::door`].
    pub async fn act(
        &self,
        call: impl AsyncFnOnce(&mut Backend) -> AppResult<()>,
    ) -> AppResult<AppView> {
        self.door(Edge::Action, async move |b| {
            call(b).await?;
            Ok(self.settled(b))
        })
        .await
    }

    /// A look at the backend: `call`'s answer; the notice stays.
    ///
    /// # Errors
    /// As [`Self::door`].
    pub async fn look<T>(
        &self,
        call: impl AsyncFnOnce(&mut Backend) -> AppResult<T>,
    ) -> AppResult<T> {
        self.door(Edge::Look, call).await
    }
}
