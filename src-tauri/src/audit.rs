//! The local approval log: one JSON line per approval attempt, in the app's data dir. It holds
//! what was asked, the steps, the outcome and the error code; never a code or a token.

use prelude_wire::text::escaped;
#[cfg(test)]
use prelude_wire::time::rfc3339;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

// Every text of an entry is written through these: a character that could reorder or hide
// text (U+202E, U+2028, …) is spelled out as `\u{202E}`, in the log and in both exports.
// Requests holding one are refused before they reach the log; this is the second line.

fn rec<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&escaped(v))
}

fn rec_opt<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(t) => rec(t, s),
        None => s.serialize_none(),
    }
}

fn rec_map<S: Serializer>(m: &BTreeMap<String, String>, s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(m.len()))?;
    for (k, v) in m {
        map.serialize_entry(&escaped(k), &escaped(v))?;
    }
    map.end()
}

fn rec_list<S: Serializer>(l: &[String], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(l.len()))?;
    for v in l {
        seq.serialize_element(&escaped(v))?;
    }
    seq.end()
}
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// When the attempt started, RFC 3339 UTC.
    pub started_at: String,
    pub ended_at: String,
    #[serde(serialize_with = "rec")]
    pub server: String,
    #[serde(serialize_with = "rec_opt")]
    pub session_id: Option<String>,
    #[serde(serialize_with = "rec")]
    pub scope: String,
    #[serde(serialize_with = "rec_map")]
    pub metadata: BTreeMap<String, String>,
    /// The step keys passed, in order.
    #[serde(serialize_with = "rec_list")]
    pub steps: Vec<String>,
    pub wrong_codes: u32,
    /// `granted`, `denied`, `reported` (denied as suspicious), `blocked`, `cancelled`,
    /// `timed_out`, `withdrawn` (the requester stopped waiting), `refused` or `failed`.
    pub outcome: String,
    #[serde(serialize_with = "rec_opt")]
    pub error_code: Option<String>,
    /// Who asked, when another program or a link did.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "rec_opt"
    )]
    pub requester: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "rec_opt"
    )]
    pub reason: Option<String>,
}

pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&self, entry: &AuditEntry) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(line.as_bytes())?;
        f.sync_data()
    }

    /// Newest first. Lines that do not parse are skipped and counted, not dropped from the file.
    pub fn read(&self, limit: usize) -> std::io::Result<(Vec<AuditEntry>, usize)> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], 0)),
            Err(e) => return Err(e),
        };
        let mut entries = Vec::new();
        let mut unreadable = 0;
        for line in std::io::BufReader::new(f).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<AuditEntry>(&line) {
                Ok(e) => entries.push(e),
                Err(_) => unreadable += 1,
            }
        }
        entries.reverse();
        entries.truncate(limit);
        Ok((entries, unreadable))
    }

    /// Every readable entry, oldest first, as a person would read it: an indented JSON array,
    /// or CSV with a header row when `csv`. Unreadable lines are counted, not dropped from the
    /// log.
    pub fn export(&self, csv: bool) -> std::io::Result<(String, usize)> {
        let (mut entries, unreadable) = self.read(usize::MAX)?;
        entries.reverse();
        let text = if csv {
            to_csv(&entries)
        } else {
            serde_json::to_string_pretty(&entries).map_err(std::io::Error::other)?
        };
        Ok((text, unreadable))
    }
}

/// One row per entry; metadata and steps as `key=value; …` and `a → b` in one cell each.
fn to_csv(entries: &[AuditEntry]) -> String {
    fn cell(s: &str) -> String {
        // Spell out characters that reorder or hide text, quote every cell that could split a
        // row, and defuse spreadsheet formulas.
        let s = escaped(s);
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.into_owned()
        };
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    }
    let mut out = String::from(
        "started_at,ended_at,outcome,scope,metadata,steps,wrong_codes,error_code,requester,reason,session_id,server\n",
    );
    for e in entries {
        let meta: Vec<String> = e.metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let row = [
            e.started_at.clone(),
            e.ended_at.clone(),
            e.outcome.clone(),
            e.scope.clone(),
            meta.join("; "),
            e.steps.join(" → "),
            e.wrong_codes.to_string(),
            e.error_code.clone().unwrap_or_default(),
            e.requester.clone().unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
            e.session_id.clone().unwrap_or_default(),
            e.server.clone(),
        ];
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(outcome: &str) -> AuditEntry {
        AuditEntry {
            started_at: rfc3339(0),
            ended_at: rfc3339(60),
            server: "Built-in demo server".into(),
            session_id: Some("ses_1".into()),
            scope: "transfer:write".into(),
            metadata: BTreeMap::from([("amount".into(), "500".into())]),
            steps: vec!["verify_sms".into()],
            wrong_codes: 1,
            outcome: outcome.into(),
            error_code: None,
            requester: None,
            reason: None,
        }
    }

    #[test]
    fn append_read_newest_first_and_skip_bad_lines() {
        let dir = std::env::temp_dir().join(format!("audit-{}", std::process::id()));
        let log = AuditLog::new(dir.join("approvals.jsonl"));
        log.append(&entry("blocked")).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{ torn line\n")
            .unwrap();
        log.append(&entry("granted")).unwrap();
        let (entries, bad) = log.read(10).unwrap();
        assert_eq!(bad, 1);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].outcome, "granted");
        let (json, skipped) = log.export(false).unwrap();
        assert_eq!(skipped, 1);
        let back: Vec<AuditEntry> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].outcome, "blocked", "oldest first");
        let mut odd = entry("denied");
        odd.reason = Some("Pay \"ACME\", now".into());
        odd.requester = Some("=cmd".into());
        log.append(&odd).unwrap();
        let (csv, _) = log.export(true).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4, "{csv}");
        assert!(lines[0].starts_with("started_at,ended_at,outcome,scope"));
        assert!(
            lines[3].contains("\"Pay \"\"ACME\"\", now\""),
            "{}",
            lines[3]
        );
        assert!(
            lines[3].contains(",'=cmd,"),
            "a formula is defused: {}",
            lines[3]
        );
        assert!(lines[1].contains("amount=500"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn raw_bidi_never_reaches_the_log_or_an_export() {
        let dir = std::env::temp_dir().join(format!("audit-bidi-{}", std::process::id()));
        let log = AuditLog::new(dir.join("approvals.jsonl"));
        let mut odd = entry("refused");
        odd.metadata = BTreeMap::from([("payee".into(), "\u{202E}dtL EMCA".into())]);
        odd.reason = Some("Pay\u{2028}now".into());
        odd.requester = Some("evil\u{200B} (pid 1)".into());
        odd.steps = vec!["verify\u{2066}_sms".into()];
        log.append(&odd).unwrap();
        let raw = std::fs::read_to_string(log.path()).unwrap();
        let (json, _) = log.export(false).unwrap();
        let (csv, _) = log.export(true).unwrap();
        for (what, text) in [("log", &raw), ("json", &json), ("csv", &csv)] {
            // Rows and lines end in '\n'; nothing else of its kind is left.
            assert!(
                !text
                    .chars()
                    .any(|c| c != '\n' && prelude_wire::text::is_refused(c)),
                "{what}: {text:?}"
            );
            assert!(text.contains("\\u{202E}dtL EMCA"), "{what}: {text}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_825_600), "2000-02-29T12:00:00Z");
    }
}
