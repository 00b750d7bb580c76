//! What the lock (src/lock/) asks of the backend: the PIN's state and check, and the waiting
//! requests. The lock's logic stays in its own module.

use super::Backend;
use crate::authenticator::pin::PinState;
use crate::error::AppResult;

impl Backend {
    /// Whether the Countersign PIN is set, and its tries left.
    ///
    /// # Errors
    /// The keyring cannot be read.
    pub fn pin_state(&self) -> AppResult<PinState> {
        Ok(self.authenticator.pin().state()?)
    }

    /// Checks the PIN against the passkeys' hash and tries counter (a wrong one spends a try).
    ///
    /// # Errors
    /// `pin_not_set`, `wrong_pin` with the tries left, `pin_blocked`, `keyring_unavailable`.
    pub fn verify_pin(&self, pin: &str) -> AppResult<()> {
        Ok(self.authenticator.pin().verify(pin)?)
    }

    /// The request answered next: the one in its step-up, else the head of the queue.
    pub fn front_request(&self) -> Option<String> {
        self.approving_request()
            .or_else(|| self.approvals.head_id())
    }

    /// The ID of the request whose step-up runs, if any.
    pub fn approving_request(&self) -> Option<String> {
        self.session
            .flow()
            .approving()
            .and_then(|a| a.attempt.request.as_ref())
            .map(|t| t.id.clone())
    }

    /// Every request waiting for an answer, the one on screen included.
    pub fn queued_requests(&self) -> usize {
        self.approvals.len()
    }
}
