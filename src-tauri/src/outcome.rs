//! How an approval attempt ended: the audit log's word for it, and the requester's status.

use crate::requests::protocol::Status;

/// How one approval attempt ended. The audit log writes [`AttemptOutcome::as_str`]; a
/// requester learns [`AttemptOutcome::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The step-up passed and the scope was granted.
    Granted,
    /// The person refused it (or picked the wrong number, or the program is muted).
    Denied,
    /// The person refused it and reported it as suspicious.
    Reported,
    /// The hook (or a direct rule) denied the scope.
    Blocked,
    /// The person or the app stopped it (cancel, sign-out).
    Cancelled,
    /// The requester stopped waiting.
    Withdrawn,
    /// No one answered in time.
    TimedOut,
    /// It could not be put to the person, or the server's challenge was refused.
    Refused,
    /// A step failed; a request stays and may be started again.
    Failed,
    /// A passkey was added (a line of its own in the audit log, never a request's).
    PasskeyAdded,
    /// A passkey of this computer signed in.
    PasskeyUsed,
    /// A passkey was removed.
    PasskeyRemoved,
    /// This computer's passkeys were reset.
    PasskeyReset,
}

impl AttemptOutcome {
    /// The audit log's spelling, e.g. `"timed_out"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Granted => "granted",
            AttemptOutcome::Denied => "denied",
            AttemptOutcome::Reported => "reported",
            AttemptOutcome::Blocked => "blocked",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::Withdrawn => "withdrawn",
            AttemptOutcome::TimedOut => "timed_out",
            AttemptOutcome::Refused => "refused",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::PasskeyAdded => "passkey_added",
            AttemptOutcome::PasskeyUsed => "passkey_used",
            AttemptOutcome::PasskeyRemoved => "passkey_removed",
            AttemptOutcome::PasskeyReset => "passkey_reset",
        }
    }

    /// The status a requester learns when this outcome ends its request
    /// (docs/approval-protocol.md, "Result"); `None` for a failed attempt, after which the
    /// request stays and the person may start again, and for a passkey's line, which answers
    /// no request.
    pub const fn status(self) -> Option<Status> {
        Some(match self {
            AttemptOutcome::Granted => Status::Granted,
            AttemptOutcome::Denied => Status::Denied,
            AttemptOutcome::Reported => Status::Reported,
            AttemptOutcome::Blocked => Status::Blocked,
            AttemptOutcome::Cancelled | AttemptOutcome::Withdrawn => Status::Cancelled,
            AttemptOutcome::TimedOut => Status::TimedOut,
            AttemptOutcome::Refused => Status::Refused,
            AttemptOutcome::Failed
            | AttemptOutcome::PasskeyAdded
            | AttemptOutcome::PasskeyUsed
            | AttemptOutcome::PasskeyRemoved
            | AttemptOutcome::PasskeyReset => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_but_a_failure_ends_the_request_with_its_status() {
        let all = [
            AttemptOutcome::Granted,
            AttemptOutcome::Denied,
            AttemptOutcome::Reported,
            AttemptOutcome::Blocked,
            AttemptOutcome::Cancelled,
            AttemptOutcome::Withdrawn,
            AttemptOutcome::TimedOut,
            AttemptOutcome::Refused,
            AttemptOutcome::Failed,
            AttemptOutcome::PasskeyAdded,
            AttemptOutcome::PasskeyUsed,
            AttemptOutcome::PasskeyRemoved,
            AttemptOutcome::PasskeyReset,
        ];
        for o in all {
            match o.status() {
                // The status keeps the outcome's word, except that a withdrawn request is
                // cancelled for its requester.
                Some(s) if o == AttemptOutcome::Withdrawn => assert_eq!(s, Status::Cancelled),
                Some(s) => assert_eq!(s.as_str(), o.as_str()),
                None => assert!(
                    o == AttemptOutcome::Failed || o.as_str().starts_with("passkey_"),
                    "{o:?}"
                ),
            }
        }
    }
}
