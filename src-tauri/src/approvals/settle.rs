//! Settling: when the attempt for a queued request ends, its requester gets the answer once,
//! and the request leaves the queue. docs/approval-protocol.md, "Messages" and "Guarantees".

use super::{Approvals, AttemptEnded, Handout};
use crate::outcome::AttemptOutcome;
use crate::requests::protocol::{Outcome, Status};
use prelude_wire::time::rfc3339;

impl Approvals {
    /// Answers the requester behind an attempt that ended in `session_id`, if the attempt
    /// answers a request and its outcome ends it. For a grant, `handout` is asked what the
    /// requester receives, given the request's scope and whether it wants the access token.
    pub fn attempt_ended(
        &mut self,
        ended: &AttemptEnded<'_>,
        session_id: Option<prelude_wire::SessionId>,
        handout: impl FnOnce(&str, bool) -> Handout,
    ) {
        let Some(tag) = &ended.attempt.request else {
            return;
        };
        let Some(status) = ended.outcome.status() else {
            return;
        };
        let Some(p) = self.queue.get(&tag.id) else {
            return;
        };
        let mut o = Outcome::new(status, &p.ask);
        o.session_id = session_id;
        o.challenge_id = ended.attempt.challenge_id.clone();
        let mut withheld = false;
        if status == Status::Granted {
            let h = handout(&p.ask.scope, p.ask.want_token);
            o.grant_expires_at = h.grant_expires_ms.map(|ms| rfc3339(ms / 1000));
            o.access_token = h.access_token;
            withheld = h.withheld;
        }
        let (code, why) = match (ended.outcome, ended.error) {
            (_, Some(e)) => (e.code().to_string(), crate::error::for_people(e)),
            (o @ AttemptOutcome::Denied, _) => (o.as_str().into(), "the person denied it".into()),
            (o @ AttemptOutcome::Reported, _) => (
                o.as_str().into(),
                "the person denied it and reported it as suspicious".into(),
            ),
            (o @ AttemptOutcome::Cancelled, _) => {
                (o.as_str().into(), "the approval was cancelled".into())
            }
            (o @ AttemptOutcome::TimedOut, _) => {
                (o.as_str().into(), "no one answered in time".into())
            }
            _ if withheld => (
                "token_withheld".into(),
                "the session's access token also carries a scope that another approval granted, so it was not handed out".into(),
            ),
            _ => (String::new(), String::new()),
        };
        if !code.is_empty() {
            o = o.because(&code, why);
        }
        self.queue.resolve(&tag.id, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::Notice;
    use crate::requests::protocol::Ask;
    use crate::requests::source::{Requester, Source};
    use std::collections::BTreeMap;
    use tokio::sync::oneshot;

    fn queued(want_token: bool) -> (Approvals, String, oneshot::Receiver<Outcome>) {
        let mut a = Approvals::default();
        a.set_number_matching(false);
        let ask = Ask::check(
            "transfer:write",
            BTreeMap::new(),
            None,
            Some(60),
            want_token,
        )
        .unwrap();
        let source = Source::Program(Requester {
            executable: "/usr/bin/deploy".into(),
            script: None,
            pid: 7,
        });
        let (tx, rx) = oneshot::channel();
        let (id, _) = a
            .enqueue(source, ask, Some(tx), true, &mut Notice::default())
            .unwrap();
        (a, id, rx)
    }

    /// The approvals part answers from the ended attempt and what the session hands over:
    /// it reads no flow.
    #[test]
    fn a_grant_is_answered_from_the_ended_attempt_and_the_handout() {
        let (mut a, id, mut rx) = queued(true);
        let ended = AttemptEnded {
            attempt: a.attempt(&id).unwrap(),
            outcome: AttemptOutcome::Granted,
            error: None,
        };
        a.attempt_ended(&ended, Some("sess-1".into()), |scope, want_token| {
            assert_eq!((scope, want_token), ("transfer:write", true));
            Handout {
                grant_expires_ms: Some(1_700_000_000_000),
                access_token: None,
                withheld: true,
            }
        });
        let o = rx.try_recv().unwrap();
        assert_eq!(o.status, Status::Granted);
        assert_eq!(o.session_id.as_deref(), Some("sess-1"));
        assert_eq!(o.grant_expires_at.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(o.code.as_deref(), Some("token_withheld"));
        assert!(o.access_token.is_none());
        assert!(a.is_empty(), "answered once, and out of the queue");
    }

    /// A failure that ends no request (a step that can be tried again) leaves it waiting; a
    /// denial is answered without asking the session for a grant.
    #[test]
    fn only_an_outcome_that_ends_the_request_answers_it() {
        let (mut a, id, mut rx) = queued(false);
        let attempt = a.attempt(&id).unwrap();
        let failed = AttemptEnded {
            attempt: attempt.clone(),
            outcome: AttemptOutcome::Failed,
            error: None,
        };
        a.attempt_ended(&failed, None, |_, _| unreachable!("no grant"));
        assert!(rx.try_recv().is_err());
        assert_eq!(a.len(), 1);
        let denied = AttemptEnded {
            attempt,
            outcome: AttemptOutcome::Denied,
            error: None,
        };
        a.attempt_ended(&denied, Some("sess-1".into()), |_, _| {
            unreachable!("no grant")
        });
        let o = rx.try_recv().unwrap();
        assert_eq!(
            (o.status, o.code.as_deref()),
            (Status::Denied, Some("denied"))
        );
        assert!(o.grant_expires_at.is_none());
    }
}
