//! What the request screen shows of the queue; reading it changes nothing.

use super::{Approvals, Focus};
use crate::requests::source::Source;
use crate::view::{MatchView, RequestView};

impl Approvals {
    /// The request on screen: when the person is free to see it, or while its step-up runs.
    pub fn request_view(&self, focus: Focus<'_>) -> Option<RequestView> {
        let head = self.queue.head()?;
        let mine = focus.step_up.flatten() == Some(head.id.as_str());
        if !(mine || focus.free) {
            return None;
        }
        let source = head.source.label();
        Some(RequestView {
            warnings: crate::view::warnings(&[
                ("source", Some(&source)),
                ("reason", head.ask.reason.as_deref()),
            ]),
            id: head.id.clone(),
            source: head.source.label(),
            requester: head.source.requester().cloned(),
            from_link: head.source == Source::Link,
            reason: head.ask.reason.clone(),
            scope: head.ask.scope.clone(),
            scope_words: crate::labels::scope_words(&head.ask.scope),
            metadata: head.ask.metadata.clone().into_iter().collect(),
            received_ms: head.received_ms,
            expires_ms: head.deadline_ms,
            broad_title: crate::labels::broad_title(&head.ask.scope, !head.ask.metadata.is_empty()),
            broad: crate::labels::broad(&head.ask.scope, !head.ask.metadata.is_empty(), None, None),
            matching: self.match_view(&head.id),
            matching_off: head.source != Source::Link && head.matching.is_none(),
        })
    }

    /// How many requests wait besides the one on screen (all of them when none is shown).
    pub fn waiting(&self, focus: Focus<'_>) -> usize {
        match self.request_view(focus) {
            Some(_) => self.queue.waiting(),
            None => self.queue.len(),
        }
    }

    /// What the request screen shows of `id`'s matching.
    fn match_view(&self, id: &str) -> Option<MatchView> {
        let m = self.queue.get(id)?.matching.as_ref()?;
        Some(MatchView {
            choices: m.choices.to_vec(),
            picked: m.picked,
            chosen: m.picked.then_some(m.number),
        })
    }
}
