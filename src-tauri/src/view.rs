//! View models: everything the UI receives. No token, key or submitted code is ever here.

use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use std::collections::BTreeMap;

mod lock;
pub use lock::{LockSettingView, LockView};

// Text others control (a requester, a link, the server, another device) is serialised
// through these, so the screen never receives a character that reorders or hides text; the
// requests and challenges themselves were refused before they got here if they held one.

/// A text, neutralised (`prelude_wire::text::neutralised`).
fn shown<T: AsRef<str>, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&prelude_wire::text::neutralised(v.as_ref()))
}

/// A grant mode as its display label.
fn mode_label<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(m) => s.serialize_str(crate::labels::mode_label(m)),
        None => s.serialize_none(),
    }
}

fn shown_opt<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(t) => shown(t, s),
        None => s.serialize_none(),
    }
}

/// Marks the start of text in a notice that others control (a requester's name): the view
/// draws it isolated. U+2068 FIRST STRONG ISOLATE, which such text never holds itself (it is
/// refused or written out before it gets here).
pub const ISOLATE_START: char = '\u{2068}';
/// Marks the end of it: U+2069 POP DIRECTIONAL ISOLATE.
pub const ISOLATE_END: char = '\u{2069}';

/// `text` marked for the notice to draw it isolated (see [`notice_parts`]).
pub fn isolated(text: &str) -> String {
    format!("{ISOLATE_START}{text}{ISOLATE_END}")
}

/// A notice as the parts the page draws (ui/words.js): plain strings, and `{"isolate": …}`
/// for what [`isolated`] marked, each neutralised. A notice names requesters whose paths may
/// hold right-to-left letters; isolated, they cannot reorder the sentence around them.
fn notice_parts<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    let Some(text) = v else {
        return s.serialize_none();
    };
    let mut parts = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(ISOLATE_START) {
        let (before, marked) = rest.split_at(start);
        let marked = &marked[ISOLATE_START.len_utf8()..];
        let end = marked.find(ISOLATE_END).unwrap_or(marked.len());
        if !before.is_empty() {
            parts.push(serde_json::Value::from(
                prelude_wire::text::neutralised(before).into_owned(),
            ));
        }
        parts.push(serde_json::json!({
            "isolate": prelude_wire::text::neutralised(&marked[..end]),
        }));
        rest = marked.get(end + ISOLATE_END.len_utf8()..).unwrap_or("");
    }
    if !rest.is_empty() {
        parts.push(serde_json::Value::from(
            prelude_wire::text::neutralised(rest).into_owned(),
        ));
    }
    parts.serialize(s)
}

/// Metadata as `[key, value, warning]` triples: the value neutralised, and the warning (or
/// `null`) when it could pass for another (`prelude_wire::text::lookalike`).
fn shown_pairs<S: Serializer>(m: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(m.len()))?;
    for (k, v) in m {
        seq.serialize_element(&(
            prelude_wire::text::neutralised(k),
            prelude_wire::text::neutralised(v),
            prelude_wire::text::lookalike(v),
        ))?;
    }
    seq.end()
}

/// Warnings for texts that could pass for others, by the view field they belong to
/// (`source`, `reason`, `askedBy`).
pub type Warnings = BTreeMap<&'static str, String>;

/// The look-alike warnings for `texts`, named by field.
pub fn warnings(texts: &[(&'static str, Option<&str>)]) -> Warnings {
    texts
        .iter()
        .filter_map(|(field, t)| Some((*field, prelude_wire::text::lookalike((*t)?)?)))
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Login,
    Code,
    Logged,
    /// Signed in, with a request from another program or a link on screen.
    Request,
    StepUpOtp,
    Done,
    /// Locked: nothing but "Locked" and the count of waiting requests (lock/mod.rs).
    Locked,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerView {
    /// `embedded`, `app_id` or `url`.
    pub kind: &'static str,
    pub label: String,
    /// The server has the emulator's demo routes (inbox, scenarios).
    pub demo: bool,
    pub scenarios: bool,
    /// The scenario preset in force on the embedded server, when the rules are one.
    pub scenario: Option<&'static str>,
    /// Who can sign in on the embedded server's demo: its seeded user's phone and email.
    pub demo_identities: Vec<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub user_id: Option<String>,
    pub session_id: Option<prelude_wire::SessionId>,
    pub identifier: Option<String>,
    /// Who approves, partly hidden: "+33 •••• 5678".
    pub approver: Option<String>,
    pub scopes: Vec<String>,
    /// What the sessions panel sends back to sign sessions out.
    pub revoke_targets: crate::labels::RevokeTargets,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeView {
    #[serde(serialize_with = "shown")]
    pub scope: prelude_wire::Scope,
    /// The scope in words (`labels::scope_words`).
    pub scope_words: Option<&'static str>,
    /// `[key, value, warning]` triples.
    #[serde(serialize_with = "shown_pairs")]
    pub metadata: Vec<(String, String)>,
    pub step: usize,
    pub step_count: usize,
    #[serde(serialize_with = "shown")]
    pub step_key: String,
    /// `sms` or `email` for OTP steps.
    pub channel: Option<&'static str>,
    /// The channel as a sentence names it: "SMS" or "email" (`labels::channel_label`).
    pub channel_label: Option<&'static str>,
    /// Where the code went, partly hidden.
    pub destination: Option<String>,
    /// When the step ends, Unix milliseconds.
    pub expires_ms: Option<i64>,
    /// When another code may be sent, Unix milliseconds.
    pub resend_ms: Option<i64>,
    /// A custom step this app can complete (the demo's stand-in for the customer's app).
    pub custom_here: bool,
    /// The current step's code went out (an OTP step whose sending failed has none yet).
    pub code_sent: bool,
    /// Restored after a restart: whether its code went out before is not known.
    pub resumed: bool,
    /// Who asked: the requesting program, "a link", or this computer for the app's own form.
    #[serde(serialize_with = "shown")]
    pub asked_by: String,
    /// Look-alike warnings (`askedBy`).
    pub warnings: Warnings,
    /// When it was asked, Unix milliseconds.
    pub asked_ms: i64,
    /// What an approval with no details allows, in words (`labels::broad`).
    pub broad: Option<String>,
    /// Its heading then (`labels::broad_title`).
    pub broad_title: Option<String>,
    /// The step cannot go on: no code can come (`labels::dead_end`).
    pub dead_end: Option<crate::labels::DeadEnd>,
    /// Set when the current step is `verify_passkey`.
    pub passkey: Option<PasskeyStepView>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantView {
    #[serde(serialize_with = "shown")]
    pub scope: prelude_wire::Scope,
    /// The scope in words (`labels::scope_words`).
    pub scope_words: Option<&'static str>,
    pub session_id: Option<prelude_wire::SessionId>,
    /// Serialised as its display label ("This sign-in", `labels::mode_label`).
    #[serde(serialize_with = "mode_label")]
    pub grant_mode: Option<String>,
    /// `[key, value, warning]` triples.
    #[serde(serialize_with = "shown_pairs")]
    pub metadata: Vec<(String, String)>,
    /// When the grant ends, Unix milliseconds, when the server said how long it lasts.
    pub expires_ms: Option<i64>,
    /// The program (or "a link") that asked for this approval.
    #[serde(serialize_with = "shown_opt")]
    pub requester: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    pub stage: Stage,
    pub server: ServerView,
    pub theme: String,
    pub rules: InputRules,
    /// The scope the app's own approval form asks for (`labels::TRANSFER_SCOPE`).
    pub form_scope: &'static str,
    /// The identifier being signed in with (code stage), shown as typed.
    pub identifier: Option<String>,
    pub last_identifier: Option<String>,
    /// Unix milliseconds after which a login code may be sent again.
    pub login_resend_ms: Option<i64>,
    /// The code on screen (login or step) has no tries left: only a new code helps.
    pub code_exhausted: bool,
    pub user: Option<UserView>,
    pub challenge: Option<ChallengeView>,
    pub grant: Option<GrantView>,
    /// Something the user should know that is not an error of the last action (it may name
    /// a requester).
    #[serde(serialize_with = "notice_parts")]
    pub notice: Option<String>,
    /// Set when secrets are kept in memory only, because no secure store works.
    pub store_warning: Option<String>,
    /// The request from another program or a link that is on screen.
    pub request: Option<RequestView>,
    /// Requests waiting behind it (or behind what is on screen).
    pub waiting: usize,
    /// A request was just reported as suspicious: offer to sign out the other sessions.
    pub report_offer: bool,
    /// When the decision on screen runs out, Unix milliseconds: a request's own deadline, or
    /// during its step-up the earlier of that and the step's.
    pub deadline: Option<i64>,
    /// Passkeys on this screen: sign-in with this computer, the PIN to set after the
    /// `prld:passkey:write` step-up.
    pub passkey: PasskeyView,
    /// While locked: how it opens. `None` otherwise.
    pub lock: Option<LockView>,
}

/// What the screens need of passkeys; no key, challenge or PIN ever.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyView {
    /// Offer "Sign in with this computer": a passkey for this server is here and the server
    /// allows passkey sign-in (as far as is known).
    pub login: bool,
    /// Passkey sign-in asks for the PIN (the server requires user verification).
    pub login_pin: bool,
    /// The step-up for `prld:passkey:write` passed: ask for the PIN, then register.
    pub setup: bool,
    /// An approval waits for a passkey: it is asked again once one is added.
    pub waiting: bool,
    /// A PIN is set on this computer (setting up asks for the current one then).
    pub pin_set: bool,
    /// Tries left on the PIN; 0 means blocked until reset.
    pub pin_tries_left: u32,
}

/// The `verify_passkey` step on the approval screen.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyStepView {
    /// The server sent request options: a passkey of this user exists on the server.
    pub available: bool,
    /// A passkey for this server is on this computer.
    pub here: bool,
    /// The PIN is asked (the options require user verification).
    pub pin: bool,
    pub pin_tries_left: u32,
}

/// Settings' passkey section for the current server.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeySettingsView {
    /// The RP ID its passkeys are pinned to, if any yet.
    pub rp_id: Option<String>,
    /// The origin claimed instead of `https://<rpId>`.
    pub origin: Option<String>,
    /// The built-in server: its RP ID is `localhost`, always.
    pub fixed: bool,
}

/// A row of the account panel's passkey list.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRow {
    pub id: String,
    #[serde(serialize_with = "shown_opt")]
    pub nickname: Option<String>,
    /// Unix milliseconds.
    pub created_ms: i64,
    pub last_used_ms: i64,
    /// `here` (this computer's), `gone` (deleted here by a PIN reset), `elsewhere`, or
    /// `unconfirmed` (a key here whose registration the server has not confirmed; no dates).
    pub place: &'static str,
}

/// An approval asked by another program or a link, as the person sees it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    pub id: String,
    /// "/usr/bin/dash (pid 4242), running /srv/deploy.sh by its own account" or "a link".
    #[serde(serialize_with = "shown")]
    pub source: String,
    /// The program that asked, in parts: what the system vouches for and what it claims.
    pub requester: Option<crate::requests::source::Requester>,
    pub from_link: bool,
    #[serde(serialize_with = "shown_opt")]
    pub reason: Option<String>,
    #[serde(serialize_with = "shown")]
    pub scope: String,
    /// The scope in words (`labels::scope_words`).
    pub scope_words: Option<&'static str>,
    /// `[key, value, warning]` triples.
    #[serde(serialize_with = "shown_pairs")]
    pub metadata: Vec<(String, String)>,
    /// Look-alike warnings (`source`, `reason`).
    pub warnings: Warnings,
    /// When it came, Unix milliseconds.
    pub received_ms: i64,
    /// When it times out, Unix milliseconds.
    pub expires_ms: i64,
    /// What it allows when it names no details, in words (`labels::broad`).
    pub broad: Option<String>,
    /// Its heading then (`labels::broad_title`).
    pub broad_title: Option<String>,
    /// The numbers to pick from (number matching), for a program's request.
    pub matching: Option<MatchView>,
    /// A program's request, with matching turned off in Settings: the screen says so.
    pub matching_off: bool,
}

/// The numbers a request screen offers; one is on the requester's terminal.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchView {
    /// Three two-digit numbers, ascending.
    pub choices: Vec<u8>,
    /// The right one was picked: "Continue to approve" is on.
    pub picked: bool,
    /// The number picked, once it was the right one.
    pub chosen: Option<u8>,
}

/// What the sign-in form says under the identifier as it is typed.
#[derive(Clone, Debug, Serialize)]
pub struct IdentifierCheck {
    /// `good`, `bad`, or empty when nothing is typed.
    pub state: &'static str,
    pub message: String,
}

/// The wire rules a form shows: code lengths and the identifier hint.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRules {
    pub code_min: usize,
    pub code_max: usize,
    /// A value longer than this many characters is shown shortened, whole in its title.
    pub shown_max: usize,
    pub identifier_hint: &'static str,
}

pub use crate::view_rows::InboxMessage;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    #[serde(serialize_with = "shown")]
    pub id: prelude_wire::SessionId,
    /// Parsed by the server from the other device's User-Agent: its owner's words.
    #[serde(serialize_with = "shown")]
    pub device: String,
    /// `Desktop`, `Phone`, `Tablet`, or `None` when the server does not know.
    pub kind: Option<&'static str>,
    pub created_at: Option<String>,
    pub last_seen_at: Option<String>,
    pub current: bool,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerSettingsView {
    pub kind: &'static str,
    pub value: String,
    pub overridden: bool,
    /// Whether a standalone emulator's management key is known, and from where; never the key.
    pub emulator_key: crate::emulator_key::KeySource,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    /// Each with its display labels (`outcomeLabel`, `stepLabels`, `view_rows::labelled_entries`).
    #[serde(serialize_with = "crate::view_rows::labelled_entries")]
    pub entries: Vec<crate::audit::AuditEntry>,
    /// Lines of the log that could not be read (kept in the file).
    pub unreadable: usize,
    pub path: Option<String>,
}

/// Settings' "Start with the session" switch.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutostartView {
    /// The profile's autostart entry exists.
    pub on: bool,
    /// The switch can be turned on: the session has a tray.
    pub available: bool,
    /// Why it cannot, when it cannot.
    pub why: Option<String>,
}

/// A program muted after a report, as Settings lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MutedView {
    /// "/usr/bin/dash, running /srv/deploy.sh by its own account", neutralised.
    #[serde(serialize_with = "shown")]
    pub program: String,
    /// When the mute ends, RFC 3339.
    pub until: String,
}

/// "this computer (name)": the device an approval started in the app itself comes from. Read
/// once: every view of an open approval shows it.
pub fn this_computer() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty() && n.len() <= 64 && !n.chars().any(char::is_control));
        match name {
            Some(n) => format!("this computer ({n})"),
            None => "this computer".to_owned(),
        }
    })
}

/// `+33612345678` → `+33 •••• 5678`, `ada@example.com` → `a••@example.com`.
pub fn mask(identifier: &str) -> String {
    if let Some((local, domain)) = identifier.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}••@{domain}");
    }
    let n = identifier.chars().count();
    if n <= 6 || !identifier.starts_with('+') {
        return identifier.to_owned();
    }
    let cc = country_code_len(&identifier[1..]);
    let head = &identifier[..1 + cc];
    let tail: String = identifier.chars().skip(n - 4).collect();
    format!("{head} •••• {tail}")
}

/// How many digits the E.164 country calling code at the start of `digits` has (ITU-T E.164
/// assignments: 1 and 7 are one digit; the two-digit codes are listed; the rest have three).
fn country_code_len(digits: &str) -> usize {
    const TWO: [&str; 44] = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if digits.starts_with('1') || digits.starts_with('7') {
        1
    } else if TWO.iter().any(|c| digits.starts_with(c)) {
        2
    } else {
        3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking() {
        assert_eq!(mask("+33612345678"), "+33 •••• 5678");
        assert_eq!(mask("+14155550123"), "+1 •••• 0123");
        assert_eq!(mask("+79161234567"), "+7 •••• 4567");
        assert_eq!(mask("+353861234567"), "+353 •••• 4567");
        assert_eq!(mask("+4915112345678"), "+49 •••• 5678");
        assert_eq!(mask("ada@example.com"), "a••@example.com");
    }

    #[test]
    fn others_text_reaches_the_screen_neutralised_and_warned() {
        let row = SessionRow {
            id: "ses_1".into(),
            device: "Pixel\u{202E}8 · Android".into(),
            kind: None,
            created_at: None,
            last_seen_at: None,
            current: false,
        };
        let v = serde_json::to_value(&row).unwrap();
        assert_eq!(v["device"], "Pixel\u{FFFD}8 · Android");
        let grant = GrantView {
            scope: prelude_wire::Scope::new("transfer:write").unwrap(),
            scope_words: None,
            session_id: None,
            grant_mode: Some("single-use\u{2028}".into()),
            metadata: vec![
                ("payee".into(), "АСМЕ".into()),
                ("amount".into(), "5\u{200B}00".into()),
            ],
            expires_ms: None,
            requester: None,
        };
        let v = serde_json::to_value(&grant).unwrap();
        assert_eq!(v["grantMode"], "As the server decides");
        assert_eq!(v["metadata"][0][0], "payee");
        assert!(v["metadata"][0][2].as_str().unwrap().contains("Cyrillic"));
        assert_eq!(v["metadata"][1][1], "5\u{FFFD}00");
        assert!(v["metadata"][1][2].is_null());
        let w = warnings(&[("source", Some("PаyPal (pid 7)")), ("reason", Some("Pay"))]);
        assert!(w["source"].contains("Latin and Cyrillic"));
        assert!(!w.contains_key("reason"));
    }

    #[test]
    fn stages_serialise_as_the_ui_contract() {
        let s = serde_json::to_string(&[Stage::Login, Stage::StepUpOtp, Stage::Done]).unwrap();
        assert_eq!(s, r#"["login","step-up-otp","done"]"#);
    }
}

/// The test bench: the emulator's switches and clock.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchView {
    pub faults: prelude_emulator::Faults,
    pub clock_offset_secs: i64,
    /// Unix milliseconds on the emulated clock.
    pub emulated_now_ms: i64,
    /// The routes a switch may break.
    pub routes: Vec<BenchRoute>,
    /// Why the emulator last refused a passkey ceremony (its own words, shown as text).
    pub passkey_refusal: Option<prelude_emulator::state::PasskeyRefusal>,
}

/// A route the bench's switches may break.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRoute {
    /// The absolute path, as the fault switches name it: `/v1/session/otp/check`.
    pub path: String,
    /// The path under the frontend base with `-` for `/`, for the boxes' test ids: `otp-check`.
    pub slug: String,
}
