//! Settling: when the attempt for a queued request ends, its requester gets the answer once,
//! and the request leaves the queue. docs/approval-protocol.md, "Outcomes" and "Guarantees".

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
        session_id: Option<String>,
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
