//! What to tell the person after something happened, until their next action: one sentence,
//! and whether it comes with the offer to sign out the other sessions (after a report).
//! Set by whatever happened; cleared once, when the next command of the person comes in.

/// The notice on screen, if any. Each new sentence replaces the last one and its offer.
#[derive(Debug, Default)]
pub struct Notice {
    text: Option<String>,
    /// A request was just reported: the notice offers to sign out the other sessions.
    report_offer: bool,
}

impl Notice {
    /// A notice with `text`, as the app starts (a repaired state, unreadable settings).
    pub fn new(text: Option<String>) -> Self {
        Self {
            text,
            report_offer: false,
        }
    }

    /// Tells the person `text`, in place of what the notice said.
    pub fn say(&mut self, text: impl Into<String>) {
        self.text = Some(text.into());
        self.report_offer = false;
    }

    /// Tells the person `text` about a request they reported, with the offer to sign out the
    /// other sessions.
    pub fn reported(&mut self, text: impl Into<String>) {
        self.text = Some(text.into());
        self.report_offer = true;
    }

    /// The person acts again: what was said before is gone.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// The sentence on screen.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Whether the sentence on screen comes with the offer to sign out the other sessions.
    pub fn report_offer(&self) -> bool {
        self.report_offer && self.text.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_sentence_drops_the_report_offer_of_the_last() {
        let mut n = Notice::default();
        n.reported("Denied and reported.");
        assert!(n.report_offer());
        n.say("An approval link was ignored: bad scope.");
        assert_eq!(n.text(), Some("An approval link was ignored: bad scope."));
        assert!(
            !n.report_offer(),
            "the offer belongs to the report's sentence"
        );
        n.reported("Denied and reported.");
        n.clear();
        assert_eq!((n.text(), n.report_offer()), (None, false));
    }
}
