//! Rows of the lists the UI shows, each serialised with its display labels: the demo inbox's
//! codes and the approval history's lines. The screen reads the labels and spells no channel,
//! step key, status or outcome of its own.

use crate::audit::AuditEntry;
use crate::labels::{channel_label, outcome_label, scope_words, step_label};
use prelude_wire::Channel;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

/// A code the emulated phone or mailbox received, as the demo inbox lists it. Serialised with
/// its display labels (`channelLabel`, `purposeLabel`, `statusLabel`), so the inbox spells no
/// channel, purpose or status of its own.
#[derive(Clone, Debug)]
pub struct InboxMessage {
    pub id: String,
    pub channel: String,
    pub to: String,
    /// The code the emulated phone or mailbox received; it is the demo's "screen", not a
    /// secret of the app's.
    pub code: String,
    pub purpose: String,
    pub sent_at: String,
    /// live, used, no_tries_left, expired, replaced, session_ended or locked_out (or ended,
    /// from a newer emulator), or void: its approval was denied or cancelled in this app. The
    /// inbox strikes out all but live.
    pub status: &'static str,
}

impl From<prelude_emulator::OutboxMessage> for InboxMessage {
    fn from(m: prelude_emulator::OutboxMessage) -> Self {
        Self {
            id: m.id,
            channel: m.channel.as_str().into(),
            to: m.to,
            code: m.code,
            purpose: match m.purpose {
                prelude_emulator::Purpose::Login => "login".into(),
                prelude_emulator::Purpose::StepUp => "step_up".into(),
                prelude_emulator::Purpose::Register => "register".into(),
            },
            sent_at: m.sent_at,
            status: match m.status {
                prelude_emulator::CodeStatus::Live => "live",
                prelude_emulator::CodeStatus::Used => "used",
                prelude_emulator::CodeStatus::NoTriesLeft => "no_tries_left",
                prelude_emulator::CodeStatus::Expired => "expired",
                prelude_emulator::CodeStatus::Replaced => "replaced",
                prelude_emulator::CodeStatus::SessionEnded => "session_ended",
                prelude_emulator::CodeStatus::LockedOut => "locked_out",
            },
        }
    }
}

/// What a code is for, as the inbox names it.
fn purpose_label(purpose: &str) -> &'static str {
    match purpose {
        "login" => "Sign-in code",
        "register" => "Code to add this address",
        _ => "Approval code",
    }
}

/// What became of a code, as the inbox marks it; `None` for a live code, which has no mark.
fn status_label(status: &str) -> Option<&'static str> {
    Some(match status {
        "live" => return None,
        "used" => "Used",
        "no_tries_left" => "No tries left",
        "expired" => "Expired",
        "replaced" => "Replaced by a newer code",
        "session_ended" => "Session ended",
        "locked_out" => "Locked out",
        "void" => "Void",
        _ => "No longer works",
    })
}

impl Serialize for InboxMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Shown<'a> {
            id: &'a str,
            channel: &'a str,
            /// "SMS" or "email", mid-sentence.
            channel_label: &'static str,
            to: &'a str,
            code: &'a str,
            purpose: &'a str,
            purpose_label: &'static str,
            sent_at: &'a str,
            status: &'static str,
            status_label: Option<&'static str>,
        }
        let channel = Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == self.channel);
        Shown {
            id: &self.id,
            channel: &self.channel,
            channel_label: channel.map_or("message", channel_label),
            to: &self.to,
            code: &self.code,
            purpose: &self.purpose,
            purpose_label: purpose_label(&self.purpose),
            sent_at: &self.sent_at,
            status: self.status,
            status_label: status_label(self.status),
        }
        .serialize(s)
    }
}

/// An audit line with the history's words for it: the outcome's badge and each step's name.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditRow<'a> {
    #[serde(flatten)]
    entry: &'a AuditEntry,
    /// `None` for an outcome this app does not know; the badge then shows it as written.
    outcome_label: Option<&'static str>,
    /// The scope in words ("Send a bank transfer"); `None` for one this app has no words for.
    scope_words: Option<&'static str>,
    /// One per step, in order: a managed step in words, a custom step by its key.
    step_labels: Vec<&'a str>,
}

/// Serialises audit lines as [`AuditRow`]s.
pub fn labelled_entries<S: Serializer>(entries: &[AuditEntry], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(entries.len()))?;
    for entry in entries {
        seq.serialize_element(&AuditRow {
            entry,
            outcome_label: outcome_label(&entry.outcome),
            scope_words: scope_words(&entry.scope),
            step_labels: entry
                .steps
                .iter()
                .map(|k| step_label(k).unwrap_or(k))
                .collect(),
        })?;
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inbox_codes_carry_their_labels() {
        let mut m = InboxMessage {
            id: "m1".into(),
            channel: "sms".into(),
            to: "+33 •••• 5678".into(),
            code: "123456".into(),
            purpose: "register".into(),
            sent_at: "2026-01-01T00:00:00Z".into(),
            status: "live",
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["channelLabel"], "SMS");
        assert_eq!(v["purposeLabel"], "Code to add this address");
        assert_eq!(v["statusLabel"], json!(null));
        assert_eq!(v["sentAt"], "2026-01-01T00:00:00Z");
        m.channel = "email".into();
        m.purpose = "step_up".into();
        m.status = "no_tries_left";
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["channelLabel"], "email");
        assert_eq!(v["purposeLabel"], "Approval code");
        assert_eq!(v["statusLabel"], "No tries left");
        m.status = "ended";
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["statusLabel"], "No longer works");
    }

    #[test]
    fn history_lines_carry_their_labels() {
        let entry = AuditEntry {
            started_at: "2026-01-01T00:00:00Z".into(),
            ended_at: "2026-01-01T00:01:00Z".into(),
            server: "embedded".into(),
            session_id: None,
            scope: "transfer:write".into(),
            metadata: Default::default(),
            steps: vec!["verify_sms".into(), "confirm_in_app".into()],
            wrong_codes: 0,
            outcome: "timed_out".into(),
            error_code: None,
            requester: None,
            reason: None,
        };
        let view = crate::view::AuditView {
            entries: vec![entry],
            unreadable: 0,
            path: None,
        };
        let v = serde_json::to_value(&view).unwrap();
        let row = &v["entries"][0];
        assert_eq!(row["outcome"], "timed_out", "the line itself is kept");
        assert_eq!(row["outcomeLabel"], "Timed out");
        assert_eq!(row["scopeWords"], "Send a bank transfer");
        assert_eq!(row["scope"], "transfer:write");
        assert_eq!(row["stepLabels"], json!(["text code", "confirm_in_app"]));
        assert_eq!(row["steps"], json!(["verify_sms", "confirm_in_app"]));
    }
}
