//! Display labels for wire terms: the view models carry these words, so the screen spells no
//! grant mode or scope name of its own (docs/approval-protocol.md, "What the prompt says").

use crate::outcome::AttemptOutcome;
use prelude_wire::{Channel, GrantMode, IdentifierKind, StepKey};
use serde::Serialize;

/// A grant mode (docs/protocol.md, "Grant modes") as the granted screen names how far it
/// reaches: "This sign-in". A mode this app does not know is named as such, not spelled out.
pub fn mode_label(mode: &str) -> &'static str {
    match GrantMode::parse(mode) {
        Some(GrantMode::SingleUse) => "One request",
        Some(GrantMode::SessionBound) => "This sign-in",
        Some(GrantMode::ProfileBound) => "All your devices",
        None => "As the server decides",
    }
}

/// A code's channel as a sentence names it, mid-sentence: "SMS" or "email".
pub const fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "SMS",
        Channel::Email => "email",
    }
}

/// A step of the history as a person says it ("text code"); `None` for a custom step, which
/// the history names by its key.
pub fn step_label(step: &str) -> Option<&'static str> {
    match StepKey::parse(step).ok()? {
        StepKey::VerifySms => Some("text code"),
        StepKey::VerifyEmail => Some("email code"),
        StepKey::VerifyPasskey => Some("passkey on this computer"),
        StepKey::Custom(_) => None,
    }
}

/// How an attempt ended, as the history's badge says it.
const OUTCOMES: &[(AttemptOutcome, &str)] = &[
    (AttemptOutcome::Granted, "Approved"),
    (AttemptOutcome::Denied, "Denied"),
    (AttemptOutcome::Reported, "Reported"),
    (AttemptOutcome::Blocked, "Blocked"),
    (AttemptOutcome::Cancelled, "Cancelled"),
    (AttemptOutcome::TimedOut, "Timed out"),
    (AttemptOutcome::Withdrawn, "Withdrawn"),
    (AttemptOutcome::Refused, "Refused"),
    (AttemptOutcome::Failed, "Failed"),
    (AttemptOutcome::PasskeyAdded, "Passkey added"),
    (AttemptOutcome::PasskeyUsed, "Signed in by passkey"),
    (AttemptOutcome::PasskeyRemoved, "Passkey removed"),
    (AttemptOutcome::PasskeyReset, "PIN reset"),
];

/// An audit line's outcome (`AttemptOutcome::as_str`) as the history's badge says it; `None`
/// for a word this app does not know (a newer app's line), which the badge then shows as is.
pub fn outcome_label(outcome: &str) -> Option<&'static str> {
    OUTCOMES
        .iter()
        .find(|(o, _)| o.as_str() == outcome)
        .map(|(_, label)| *label)
}

/// What the account panel says for one kind of address: its form's words and its input's
/// HTML `type` and `autocomplete`. `kind` is the value `add_identifier` takes back.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KindWords {
    pub kind: &'static str,
    /// The row's word for it: "Email" or "Phone".
    pub name: &'static str,
    pub label: &'static str,
    pub placeholder: &'static str,
    pub hint: &'static str,
    /// What the panel says once one is added.
    pub added: &'static str,
    pub input_type: &'static str,
    pub autocomplete: &'static str,
}

/// The kinds of address the account panel adds, email first.
pub const KINDS: [KindWords; 2] = [
    KindWords {
        kind: "email",
        name: "Email",
        label: "Email address",
        placeholder: "you@example.com",
        hint: "We’ll send a code to this address.",
        added: "The email address is on your account.",
        input_type: "email",
        autocomplete: "email",
    },
    KindWords {
        kind: "phone",
        name: "Phone",
        label: "Phone number",
        placeholder: "+33 6 12 34 56 78",
        hint: "Start with + and the country code. We’ll send a code by text message.",
        added: "The phone number is on your account.",
        input_type: "tel",
        autocomplete: "tel",
    },
];

/// The panel's words for an identifier kind, by the kind it speaks of.
pub const fn kind_words(kind: IdentifierKind) -> &'static KindWords {
    match kind {
        IdentifierKind::EmailAddress => &KINDS[0],
        IdentifierKind::PhoneNumber => &KINDS[1],
    }
}

/// The scope the app's own approval form asks for: a bank transfer, with its amount, currency
/// and payee as metadata. The view gives it to the form (`formScope`), which sends it back.
pub const TRANSFER_SCOPE: &str = "transfer:write";

/// The values `revoke_sessions` takes as `target`, as the view gives them to the sessions
/// panel (`user.revokeTargets`): the panel sends one back and spells none.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RevokeTargets {
    /// Every session but this one.
    pub others: &'static str,
    /// Every session, this one too.
    pub all: &'static str,
    /// One session, named by `sessionId`.
    pub one: &'static str,
}

/// The one table of [`RevokeTargets`]; `revoke_sessions` reads `target` by it.
pub const REVOKE_TARGETS: RevokeTargets = RevokeTargets {
    others: "others",
    all: "all",
    one: "session",
};

/// Scopes this app has words for: the scope, what it allows as a person says it, and the
/// thing it allows as a noun for "any …".
const SCOPES: &[(&str, &str, &str)] = &[
    (TRANSFER_SCOPE, "Send a bank transfer", "bank transfer"),
    (
        prelude_wire::PASSKEY_WRITE_SCOPE,
        "Add or remove a passkey",
        "change to this account's passkeys",
    ),
    (
        "passkey:demo",
        "Try an approval by passkey",
        "passkey trial",
    ),
];

fn known(scope: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    SCOPES.iter().find(|(s, _, _)| *s == scope)
}

/// What a scope allows, as a person says it ("Send a bank transfer"); `None` for a scope this
/// app has no words for (the screen then shows the scope's name).
pub fn scope_words(scope: &str) -> Option<&'static str> {
    known(scope).map(|(_, words, _)| *words)
}

/// The thing a scope allows, as a noun for "any …": "bank transfer" for `transfer:write`.
fn scope_noun(scope: &str) -> &'static str {
    known(scope).map_or("action of this kind", |(_, _, noun)| *noun)
}

/// The heading of an approval with no details: "Approve any bank transfer"; `None` when it
/// names its details, or for a scope this app has no words for (its name heads the screen).
pub fn broad_title(scope: &str, has_details: bool) -> Option<String> {
    (!has_details && scope_words(scope).is_some())
        .then(|| format!("Approve any {}", scope_noun(scope)))
}

/// `secs` in words: "5 minutes", "1 hour", "1 hour 30 minutes", "45 seconds".
pub fn duration(secs: i64) -> String {
    let unit = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => unit(s, "second"),
        (0, m, 0) => unit(m, "minute"),
        (0, m, s) => format!("{} {}", unit(m, "minute"), unit(s, "second")),
        (h, 0, _) => unit(h, "hour"),
        (h, m, _) => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
    }
}

/// What an approval with no details allows, in words: any action the scope names, not one in
/// particular, with the grant's reach and length when the challenge says them; `None` for a
/// request that names its details (metadata), which the server signs into the grant.
///
/// `mode` is the challenge's `grant_mode` and `granted_for` its length in seconds; both are
/// unknown before the step-up starts (docs/protocol.md, "Step-up").
pub fn broad(
    scope: &str,
    has_details: bool,
    mode: Option<&str>,
    granted_for: Option<i64>,
) -> Option<String> {
    if has_details {
        return None;
    }
    let noun = scope_noun(scope);
    let length = granted_for.filter(|s| *s > 0).map(duration);
    Some(match (mode.and_then(GrantMode::parse), length) {
        (Some(GrantMode::SingleUse), Some(l)) => {
            format!(
                "No details were given: it allows any one {noun}, not a particular one, within {l}."
            )
        }
        (Some(GrantMode::SessionBound), Some(l)) => format!(
            "No details were given: it allows any {noun} from this sign-in for {l}, not one in particular."
        ),
        (Some(GrantMode::ProfileBound), Some(l)) => format!(
            "No details were given: it allows any {noun} from any of your devices for {l}, not one in particular."
        ),
        (_, Some(l)) => {
            format!("No details were given: it allows any {noun} for {l}, not one in particular.")
        }
        (_, None) => format!(
            "No details were given: it allows any {noun}, not one in particular. The next step says for how long."
        ),
    })
}

/// A step that cannot go on: its code goes to an address the account does not have.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadEnd {
    /// What happened: "No code can come: …".
    pub why: String,
    /// What would fix it.
    pub fix: String,
    /// The account panel's action that fixes it, as its button says.
    pub action: &'static str,
    /// `email` or `phone`: which address is missing.
    pub missing: &'static str,
}

/// The dead end for a step whose code goes by `channel`, to an address the account lacks.
pub fn dead_end(channel: Channel) -> DeadEnd {
    let (by, missing, action, address) = match channel {
        Channel::Email => ("email", "email", "Add an email address", "email address"),
        Channel::Sms => (
            "text message",
            "phone",
            "Add a phone number",
            "phone number",
        ),
    };
    DeadEnd {
        why: format!(
            "No code can come: this step sends it by {by}, and your account has no {address}."
        ),
        fix: format!(
            "Adding an {address} to your account would let this step work: deny this approval, add one, then ask again."
        )
        .replace("an phone", "a phone"),
        action,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_read_as_words() {
        assert_eq!(duration(300), "5 minutes");
        assert_eq!(duration(60), "1 minute");
        assert_eq!(duration(45), "45 seconds");
        assert_eq!(duration(90), "1 minute 30 seconds");
        assert_eq!(duration(3600), "1 hour");
        assert_eq!(duration(5400), "1 hour 30 minutes");
    }

    #[test]
    fn an_approval_without_details_says_it_allows_any() {
        assert_eq!(
            broad("transfer:write", false, Some("session-bound"), Some(300)).as_deref(),
            Some(
                "No details were given: it allows any bank transfer from this sign-in for 5 minutes, not one in particular."
            )
        );
        assert!(
            broad("transfer:write", false, Some("single-use"), Some(60))
                .unwrap()
                .contains("any one bank transfer")
        );
        assert!(
            broad("deploy:prod", false, None, None)
                .unwrap()
                .contains("any action of this kind")
        );
        assert_eq!(broad("transfer:write", true, None, None), None);
        assert_eq!(
            broad_title("transfer:write", false).as_deref(),
            Some("Approve any bank transfer")
        );
        assert_eq!(broad_title("transfer:write", true), None);
        assert_eq!(broad_title("deploy:prod", false), None);
    }

    #[test]
    fn dead_ends_name_the_fix() {
        let d = dead_end(prelude_wire::Channel::Email);
        assert!(d.why.contains("no email address"), "{}", d.why);
        assert!(d.fix.starts_with("Adding an email address"), "{}", d.fix);
        assert_eq!(d.missing, "email");
        let d = dead_end(prelude_wire::Channel::Sms);
        assert!(d.fix.starts_with("Adding a phone number"), "{}", d.fix);
        assert_eq!(d.action, "Add a phone number");
    }

    #[test]
    fn wire_words_have_labels() {
        assert_eq!(mode_label("session-bound"), "This sign-in");
        assert_eq!(mode_label("for-ever"), "As the server decides");
        assert_eq!(channel_label(Channel::Sms), "SMS");
        assert_eq!(channel_label(Channel::Email), "email");
        assert_eq!(step_label("verify_sms"), Some("text code"));
        assert_eq!(
            step_label("verify_passkey"),
            Some("passkey on this computer")
        );
        assert_eq!(step_label("confirm_in_app"), None);
        assert_eq!(outcome_label("timed_out"), Some("Timed out"));
        assert_eq!(outcome_label("passkey_used"), Some("Signed in by passkey"));
        assert_eq!(outcome_label("something_new"), None);
        assert_eq!(kind_words(IdentifierKind::PhoneNumber).input_type, "tel");
        assert_eq!(kind_words(IdentifierKind::EmailAddress).name, "Email");
    }
}
