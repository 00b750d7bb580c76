//! Which demo messages belong to an approval that ended unanswered: the inbox shows their
//! codes void, not live.

use crate::view::InboxMessage;
use prelude_emulator::{Emulator, Purpose};
use std::collections::HashSet;

/// Which demo messages belong to an approval that ended unanswered.
#[derive(Debug, Default)]
pub(super) struct OutboxMarks {
    /// Message ids in the outbox when the open approval began.
    before: HashSet<String>,
    /// Step-up codes of approvals denied, reported or cancelled: nothing can enter them any
    /// more (the challenge token is gone), so the inbox shows them void, not live.
    void: HashSet<String>,
}

impl OutboxMarks {
    /// Notes `e`'s messages as an approval begins.
    pub(super) fn began(&mut self, e: &Emulator) {
        self.before = e.outbox().into_iter().map(|m| m.id).collect();
    }

    /// The step-up codes sent since the approval began are void.
    pub(super) fn abandoned(&mut self, e: &Emulator) {
        let sent = e
            .outbox()
            .into_iter()
            .filter(|m| m.purpose == Purpose::StepUp && !self.before.contains(&m.id));
        let ids: Vec<String> = sent.map(|m| m.id).collect();
        self.void.extend(ids);
    }

    /// The codes sent to `to` for `purpose` are void.
    pub(super) fn void_sent_to(&mut self, e: &Emulator, purpose: Purpose, to: &str) {
        let sent = e
            .outbox()
            .into_iter()
            .filter(|m| m.purpose == purpose && m.to == to);
        let ids: Vec<String> = sent.map(|m| m.id).collect();
        self.void.extend(ids);
    }

    /// `e`'s messages, the void ones marked so.
    pub(super) fn marked(&self, e: &Emulator) -> Vec<InboxMessage> {
        e.outbox()
            .into_iter()
            .map(|m| {
                let void = self.void.contains(&m.id);
                let mut m = InboxMessage::from(m);
                if void && m.status == "live" {
                    m.status = "void";
                }
                m
            })
            .collect()
    }
}
