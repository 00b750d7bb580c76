//! The approval protocol between `countersign approve` (or a second launch) and the running
//! app: one JSON object per line, each way, over the per-user socket. docs/approval-protocol.md
//! is its description; version 1.

use crate::redacted::Redacted;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const VERSION: u32 = 1;
/// The refusal code of a line the app cannot read: a malformed one, or an op it does not
/// know (an app older than the command).
pub const INVALID_INPUT: &str = "invalid_input";
/// A line longer than this is refused: a request is a few hundred bytes.
pub const MAX_LINE: usize = 16 * 1024;
/// The requester's own words, shown in full, so kept to what a screen shows in full.
pub const MAX_REASON_CHARS: usize = 200;
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;
pub const MAX_TIMEOUT_SECS: u64 = 3600;

/// What a client sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Ask the person to approve `scope` with `metadata`.
    Approve {
        v: u32,
        scope: String,
        #[serde(default)]
        metadata: BTreeMap<String, String>,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        timeout_secs: Option<u64>,
        /// Return the scoped access token with a grant: a bearer secret, usable by whoever
        /// holds it until it expires.
        #[serde(default)]
        want_token: bool,
    },
    /// A second launch: bring the window forward, and open `link` if it carries one.
    Show {
        v: u32,
        #[serde(default)]
        link: Option<String>,
    },
    /// `countersign status`: how the app is, answered with [`AppMessage::Status`].
    Status { v: u32 },
}

/// The app's answers: `queued` once, then one `result`; `shown` for a `show`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AppMessage {
    Queued {
        v: u32,
        request_id: String,
        /// 1 when it is on screen now.
        position: usize,
        /// The number the person picks on screen (number matching), 10 to 99; absent when
        /// matching is off for the profile.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<u8>,
    },
    Result(Box<Outcome>),
    Shown {
        v: u32,
    },
    Status(AppStatus),
}

/// The app's answer to a `status` op. `tray` and `locked` are absent from an app older than
/// them (read as `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppStatus {
    pub v: u32,
    /// A session is open: approvals can be put to the person.
    pub signed_in: bool,
    /// The session has a tray (a StatusNotifier host, tray.rs), asked when the op arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tray: Option<bool>,
    /// The app is locked (docs/approval-protocol.md, "The lock").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Granted,
    /// The person said no.
    Denied,
    /// The person said no and marked the request as suspicious.
    Reported,
    /// The server's rules (the hook) refused the scope.
    Blocked,
    /// The person cancelled, or the approval ended before it was answered.
    Cancelled,
    TimedOut,
    /// The request could not be put to the person: not signed in, bad input, a queue that is
    /// full, or a challenge that does not say what was asked.
    Refused,
}

impl Status {
    /// `countersign approve`'s exit status.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Granted => 0,
            Status::Denied | Status::Reported | Status::Blocked => 1,
            Status::Cancelled | Status::TimedOut => 2,
            Status::Refused => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Granted => "granted",
            Status::Denied => "denied",
            Status::Reported => "reported",
            Status::Blocked => "blocked",
            Status::Cancelled => "cancelled",
            Status::TimedOut => "timed_out",
            Status::Refused => "refused",
        }
    }
}

/// How a request ended, as the requester learns it. Its `Debug` hides the access token, so a
/// log line or a test failure never prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub v: u32,
    pub status: Status,
    pub scope: String,
    pub metadata: BTreeMap<String, String>,
    pub session_id: Option<prelude_wire::SessionId>,
    pub challenge_id: Option<prelude_wire::ChallengeId>,
    /// RFC 3339, when the grant lasts a known time.
    pub grant_expires_at: Option<String>,
    /// Why it ended so, in words (the hook's refusal, a timeout, …).
    pub reason: Option<String>,
    /// A stable code for a refusal or failure (`not_signed_in`, `metadata_mismatch`, …).
    pub code: Option<String>,
    /// Only with `want_token` and a grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Redacted<String>>,
}

impl Outcome {
    pub fn new(status: Status, ask: &Ask) -> Self {
        Self {
            v: VERSION,
            status,
            scope: ask.scope.clone(),
            metadata: ask.metadata.clone(),
            session_id: None,
            challenge_id: None,
            grant_expires_at: None,
            reason: None,
            code: None,
            access_token: None,
        }
    }

    pub fn because(mut self, code: &str, reason: impl Into<String>) -> Self {
        self.code = Some(code.to_owned());
        self.reason = Some(reason.into());
        self
    }
}

/// A checked approval request: what the screen will show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ask {
    pub scope: String,
    pub metadata: BTreeMap<String, String>,
    pub reason: Option<String>,
    pub timeout_secs: u64,
    pub want_token: bool,
}

/// Why a request is refused before it reaches the screen; the message names the field.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

impl Ask {
    /// Checks every field by the wire's rules; nothing is cut or changed but the reason's
    /// surrounding space.
    pub fn check(
        scope: &str,
        metadata: BTreeMap<String, String>,
        reason: Option<&str>,
        timeout_secs: Option<u64>,
        want_token: bool,
    ) -> Result<Self, BadRequest> {
        let bad = |e: prelude_wire::RuleError| BadRequest(e.message);
        prelude_wire::check_scope(scope).map_err(bad)?;
        for (k, v) in &metadata {
            prelude_wire::check_metadata_entry(k, v).map_err(bad)?;
            if super::matching::is_reserved_key(k) {
                return Err(BadRequest(format!(
                    "metadata key {k:?} is reserved: Countersign adds it itself (number matching)"
                )));
            }
        }
        prelude_wire::check_metadata(&metadata).map_err(bad)?;
        // What the screen shows is what is signed: no character that reorders, hides or
        // breaks the text, something visible, and `identifier` only for a registration.
        prelude_wire::text::check_requested_metadata(scope, &metadata).map_err(bad)?;
        let reason = match reason.map(str::trim) {
            None | Some("") => None,
            Some(r) if r.chars().count() > MAX_REASON_CHARS => {
                return Err(BadRequest(format!(
                    "the reason is at most {MAX_REASON_CHARS} characters (got {})",
                    r.chars().count()
                )));
            }
            Some(r) => {
                prelude_wire::text::check_shown("reason", "the reason", r).map_err(bad)?;
                Some(r.to_owned())
            }
        };
        let timeout_secs = timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
        if !(1..=MAX_TIMEOUT_SECS).contains(&timeout_secs) {
            return Err(BadRequest(format!(
                "the timeout is 1 to {MAX_TIMEOUT_SECS} seconds (got {timeout_secs})"
            )));
        }
        Ok(Self {
            scope: scope.to_owned(),
            metadata,
            reason,
            timeout_secs,
            want_token,
        })
    }

    pub fn message(&self) -> ClientMessage {
        ClientMessage::Approve {
            v: VERSION,
            scope: self.scope.clone(),
            metadata: self.metadata.clone(),
            reason: self.reason.clone(),
            timeout_secs: Some(self.timeout_secs),
            want_token: self.want_token,
        }
    }
}

impl ClientMessage {
    /// Reads one line; a version this app does not speak is refused by name.
    pub fn parse(line: &str) -> Result<Self, BadRequest> {
        let m: ClientMessage = serde_json::from_str(line)
            .map_err(|e| BadRequest(format!("not a request of protocol version {VERSION}: {e}")))?;
        let v = match &m {
            ClientMessage::Approve { v, .. }
            | ClientMessage::Show { v, .. }
            | ClientMessage::Status { v } => *v,
        };
        if v != VERSION {
            return Err(BadRequest(format!(
                "protocol version {v} is not spoken here (this app speaks {VERSION})"
            )));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn requests_are_checked_field_by_field() {
        let ok = Ask::check(
            "transfer:write",
            meta(&[("amount", "500")]),
            Some(" Pay invoice 2291 "),
            None,
            false,
        )
        .unwrap();
        assert_eq!(ok.reason.as_deref(), Some("Pay invoice 2291"));
        assert_eq!(ok.timeout_secs, DEFAULT_TIMEOUT_SECS);
        let err = |scope: &str, m: &[(&str, &str)], reason: Option<&str>, t: Option<u64>| {
            Ask::check(scope, meta(m), reason, t, false).unwrap_err().0
        };
        assert!(err("transfer write", &[], None, None).contains("scope"));
        assert!(err("t", &[("thirteenchars", "x")], None, None).contains("thirteenchars"));
        assert!(err("t", &[("k", &"v".repeat(33))], None, None).contains("32"));
        assert!(err("t", &[("k", "")], None, None).contains("visible"));
        assert!(err("t", &[("k", "a\u{7}")], None, None).contains("\"k\""));
        // The screen would show "ACME Ltd" for what signs "\u{202E}dtL EMCA": refused, by key.
        let e = err(
            "transfer:write",
            &[("payee", "\u{202E}dtL EMCA")],
            None,
            None,
        );
        assert!(e.contains("\"payee\"") && e.contains("U+202E"), "{e}");
        assert!(err("t", &[("amount", "\u{200B}")], None, None).contains("visible"));
        assert!(err("t", &[], Some("Pay\u{2028}now"), None).contains("reason"));
        assert!(err("t", &[], Some("\u{200D}"), None).contains("U+200D"));
        let long = "a".repeat(300) + "@example.com";
        let e = err("transfer:write", &[("identifier", &long)], None, None);
        assert!(e.contains("identifier"), "{e}");
        assert!(
            Ask::check(
                "prld:email:register",
                meta(&[("identifier", "ada@example.com")]),
                None,
                None,
                false
            )
            .is_ok()
        );
        let six = [
            ("a", "1"),
            ("b", "1"),
            ("c", "1"),
            ("d", "1"),
            ("e", "1"),
            ("f", "1"),
        ];
        assert!(err("t", &six, None, None).contains("5"));
        assert!(err("t", &[], Some(&"r".repeat(201)), None).contains("200"));
        assert!(err("t", &[], Some("a\nb"), None).contains("U+000A"));
        assert!(err("t", &[], None, Some(0)).contains("timeout"));
        assert!(err("t", &[], None, Some(3601)).contains("timeout"));
        let e = err("t", &[("cs:number", "42")], None, None);
        assert!(e.contains("cs:number") && e.contains("reserved"), "{e}");
    }

    #[test]
    fn the_reserved_key_is_refused_in_any_case_and_its_namespace_with_it() {
        // A requester's `CS:Number=42` would show on the screen beside the numbers offered,
        // a hint at which to pick; every other key under `cs:` is kept for Countersign too.
        for key in [
            "CS:NUMBER",
            "Cs:Number",
            "cs:NUMBER",
            "cs:number2",
            "cs:match",
            "CS:x",
        ] {
            let e = Ask::check("t", meta(&[(key, "42")]), None, None, false).unwrap_err();
            assert!(e.0.contains("reserved"), "{key}: {e}");
        }
        for key in ["cs", "csnumber", "acs:number", "number"] {
            assert!(
                Ask::check("t", meta(&[(key, "42")]), None, None, false).is_ok(),
                "{key}"
            );
        }
    }

    #[test]
    fn lines_parse_strictly() {
        let m = ClientMessage::parse(r#"{"op":"approve","v":1,"scope":"s"}"#).unwrap();
        assert!(matches!(
            m,
            ClientMessage::Approve {
                want_token: false,
                ..
            }
        ));
        assert!(
            ClientMessage::parse(r#"{"op":"approve","v":2,"scope":"s"}"#)
                .unwrap_err()
                .0
                .contains("version 2")
        );
        assert!(ClientMessage::parse(r#"{"op":"approve","v":1,"scope":"s","skip":true}"#).is_err());
        assert!(ClientMessage::parse(r#"{"op":"grant","v":1}"#).is_err());
        assert_eq!(
            ClientMessage::parse(r#"{"op":"status","v":1}"#).unwrap(),
            ClientMessage::Status { v: 1 }
        );
        assert!(ClientMessage::parse(r#"{"op":"status","v":2}"#).is_err());
        assert!(ClientMessage::parse(r#"{"op":"status","v":1,"locked":false}"#).is_err());
        let answer = AppMessage::Status(AppStatus {
            v: VERSION,
            signed_in: true,
            tray: Some(false),
            locked: Some(false),
        });
        assert_eq!(
            serde_json::to_value(answer).unwrap(),
            serde_json::json!({"event": "status", "v": 1, "signed_in": true, "tray": false, "locked": false})
        );
        // An app from before the tray and the lock: both unknown.
        let old: AppMessage =
            serde_json::from_str(r#"{"event":"status","v":1,"signed_in":true}"#).unwrap();
        assert!(matches!(
            old,
            AppMessage::Status(AppStatus {
                tray: None,
                locked: None,
                ..
            })
        ));
        assert!(ClientMessage::parse("not json").is_err());
    }

    #[test]
    fn statuses_map_to_exit_codes() {
        use Status::*;
        let codes: Vec<u8> = [
            Granted, Denied, Reported, Blocked, Cancelled, TimedOut, Refused,
        ]
        .iter()
        .map(|s| s.exit_code())
        .collect();
        assert_eq!(codes, [0, 1, 1, 1, 2, 2, 3]);
        let json = serde_json::to_value(AppMessage::Result(Box::new(Outcome::new(
            TimedOut,
            &Ask::check("s", BTreeMap::new(), None, None, false).unwrap(),
        ))))
        .unwrap();
        assert_eq!(json["event"], "result");
        assert_eq!(json["status"], "timed_out");
        assert!(json.get("access_token").is_none());
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let ask = Ask::check("s", BTreeMap::new(), None, None, true).unwrap();
        let mut o = Outcome::new(Status::Granted, &ask);
        o.access_token = Some(String::from("eyJ.secret-token.sig").into());
        let shown = format!("{o:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert_eq!(
            serde_json::to_value(&o).unwrap()["access_token"],
            "eyJ.secret-token.sig",
            "the requester that asked for it still gets it"
        );
    }
}
