//! The vocabulary of the Prelude Session API that both sides share: what an identifier, a
//! scope, metadata and a code look like, the error codes with their statuses, step keys,
//! channels, grant modes, route paths, id newtypes and time helpers. `docs/protocol.md` is the
//! contract these follow.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

pub mod code;
pub mod identifier;
pub mod ids;
pub mod routes;
pub mod text;
pub mod time;
pub mod vocab;

pub use code::Code;
pub use identifier::Identifier;
pub use ids::{ChallengeId, Scope, SessionId};
pub use vocab::{
    COMPLETED, Channel, CurrentStep, EMAIL_REGISTER_SCOPE, GrantMode, IdentifierKind,
    PASSKEY_WRITE_SCOPE, PHONE_REGISTER_SCOPE, StepKey, VERIFY_PASSKEY,
};

/// A value that breaks a wire rule. `field` names what was wrong, for messages and for the
/// UI to point at the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub field: &'static str,
    pub message: String,
}

fn broken(field: &'static str, message: impl Into<String>) -> RuleError {
    RuleError {
        field,
        message: message.into(),
    }
}

/// How many digits a one-time code may have.
pub const CODE_LENGTHS: RangeInclusive<usize> = 4..=8;
/// At most this many metadata entries on a step-up request.
pub const MAX_METADATA_KEYS: usize = 5;
/// A metadata key is at most this many characters.
pub const MAX_METADATA_KEY_CHARS: usize = 12;
/// A metadata value is at most this many characters (`identifier` may be an email address).
pub const MAX_METADATA_VALUE_CHARS: usize = 32;
pub const MAX_IDENTIFIER_VALUE_CHARS: usize = 320;
pub const MAX_SCOPE_CHARS: usize = 128;
/// E.164 allows at most 15 digits after the `+`; shorter than 7 is never a real number.
pub const PHONE_DIGITS: RangeInclusive<usize> = 7..=15;

/// The hint a form shows for an identifier.
pub const IDENTIFIER_HINT: &str =
    "A phone number with + and the country code (like +33612345678), or an email address";

fn scope_chars_ok(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
}

/// A phone number in E.164 form: `+`, then 7 to 15 digits, not starting with 0.
pub fn check_phone(value: &str) -> Result<(), RuleError> {
    let ok = value.strip_prefix('+').is_some_and(|d| {
        PHONE_DIGITS.contains(&d.len())
            && d.bytes().all(|b| b.is_ascii_digit())
            && !d.starts_with('0')
    });
    if ok {
        Ok(())
    } else {
        Err(broken(
            "identifier",
            "a phone number needs + and 7 to 15 digits, like +33612345678",
        ))
    }
}

/// An email address: one `@`, something before it, a dotted domain after it, no spaces.
pub fn check_email(value: &str) -> Result<(), RuleError> {
    let ok = value.chars().count() <= MAX_IDENTIFIER_VALUE_CHARS
        && !value.chars().any(char::is_whitespace)
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        });
    if ok {
        Ok(())
    } else {
        Err(broken("identifier", "that email address is not valid"))
    }
}

/// NFC (Unicode Normalization Form C), so that one text typed two ways compares equal.
fn nfc(text: &str) -> String {
    icu_normalizer::ComposingNormalizerBorrowed::new_nfc()
        .normalize(text)
        .into_owned()
}

/// Unicode simple lower case: the one-character mapping of UnicodeData.txt. `char::to_lowercase`
/// is the full mapping, which differs only for U+0130 (İ → "i̇", two characters).
fn simple_lowercase(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

/// The canonical form of an email address (docs/protocol.md, "Identifiers"): trimmed and
/// NFC-normalised; the domain through IDNA to-ASCII (UTS #46), then lower case; the local part
/// in Unicode simple lower case. Two addresses are one mailbox when their canonical forms are
/// equal, so `" Ada@Example.COM"` gives `"ada@example.com"` and `"zoé@bücher.example"` gives
/// `"zoé@xn--bcher-kva.example"`. The result is NFC again, so canonical forms are fixed points.
///
/// # Errors
/// A [`RuleError`] on `identifier` when the domain is no IDNA name or the result is not an
/// email address by [`check_email`].
pub fn canonical_email(value: &str) -> Result<String, RuleError> {
    let text = nfc(value.trim());
    let (local, domain) = text
        .split_once('@')
        .ok_or_else(|| broken("identifier", "that email address is not valid"))?;
    let domain = idna::domain_to_ascii(domain)
        .map_err(|_| broken("identifier", "that email address's domain is not valid"))?
        .to_ascii_lowercase();
    let local: String = local.chars().map(simple_lowercase).collect();
    let canonical = nfc(&format!("{local}@{domain}"));
    check_email(&canonical)?;
    Ok(canonical)
}

/// The canonical form of a phone number (docs/protocol.md, "Identifiers"): trimmed and
/// NFC-normalised; after a leading `+`, spaces, `-`, `.`, `(` and `)` are removed and nothing
/// else, so `"+33 (6) 12-34.56.78"` gives `"+33612345678"`. The result must be E.164.
///
/// # Errors
/// A [`RuleError`] on `identifier` when the result fails [`check_phone`] (no leading `+`, any
/// other character, or the wrong number of digits).
pub fn canonical_phone(value: &str) -> Result<String, RuleError> {
    let text = nfc(value.trim());
    let canonical = match text.strip_prefix('+') {
        Some(rest) => {
            let digits: String = rest
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
                .collect();
            format!("+{digits}")
        }
        None => text,
    };
    check_phone(&canonical)?;
    Ok(canonical)
}

/// A scope: 1 to 128 characters of `[a-zA-Z0-9.-_:]`.
pub fn check_scope(scope: &str) -> Result<(), RuleError> {
    if !scope.is_empty() && scope.len() <= MAX_SCOPE_CHARS && scope_chars_ok(scope) {
        Ok(())
    } else {
        Err(broken(
            "scope",
            format!("a scope is 1 to {MAX_SCOPE_CHARS} letters, digits or . - _ : (got {scope:?})"),
        ))
    }
}

/// Checks one metadata entry.
pub fn check_metadata_entry(key: &str, value: &str) -> Result<(), RuleError> {
    if key.is_empty() || key.chars().count() > MAX_METADATA_KEY_CHARS || !scope_chars_ok(key) {
        return Err(broken(
            "metadata",
            format!(
                "metadata key {key:?} must be 1 to {MAX_METADATA_KEY_CHARS} letters, digits or . - _ :"
            ),
        ));
    }
    let limit = if key == "identifier" {
        MAX_IDENTIFIER_VALUE_CHARS
    } else {
        MAX_METADATA_VALUE_CHARS
    };
    if value.chars().count() > limit {
        return Err(broken(
            "metadata",
            format!("metadata value for {key:?} is longer than {limit} characters"),
        ));
    }
    Ok(())
}

/// Step-up metadata: at most 5 entries, each as [`check_metadata_entry`] says.
pub fn check_metadata(m: &BTreeMap<String, String>) -> Result<(), RuleError> {
    if m.len() > MAX_METADATA_KEYS {
        return Err(broken(
            "metadata",
            format!(
                "at most {MAX_METADATA_KEYS} metadata entries, got {}",
                m.len()
            ),
        ));
    }
    m.iter().try_for_each(|(k, v)| check_metadata_entry(k, v))
}

/// A code as submitted: 4 to 8 ASCII digits, nothing else.
pub fn check_code(code: &str) -> Result<(), RuleError> {
    if CODE_LENGTHS.contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(broken("code", "the code is 4 to 8 digits"))
    }
}

/// The code in what a person pasted or typed: the first run of 4 to 8 digits, where spaces
/// and dashes inside the run are ignored ("027 194", "Your code is 538750."). Full-width
/// digits, spaces and dashes, which an East Asian input method types, are read as their
/// ASCII forms (their NFKC forms); the digits of other scripts ("١٢٣٤٥٦") are not digits of
/// a code (docs/protocol.md, "Codes").
pub fn find_code(text: &str) -> Option<String> {
    let text: String = text.chars().map(half_width).collect();
    let mut run = String::new();
    let flush = |run: &mut String| {
        let found = CODE_LENGTHS.contains(&run.len()).then(|| run.clone());
        run.clear();
        found
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            run.push(c);
            if run.len() > *CODE_LENGTHS.end() {
                // Too long to be a code (a phone number, an amount): skip the whole run.
                while chars
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || *c == ' ' || *c == '-')
                {
                    chars.next();
                }
                run.clear();
            }
        } else if (c == ' ' || c == '-')
            && !run.is_empty()
            && chars.peek().is_some_and(char::is_ascii_digit)
        {
            continue;
        } else if let Some(code) = flush(&mut run) {
            return Some(code);
        }
    }
    flush(&mut run)
}

/// A full-width digit, space or hyphen-minus as its ASCII form (U+FF10–FF19, U+3000,
/// U+FF0D); any other character as it is.
fn half_width(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' => char::from(b'0' + (u32::from(c) - 0xFF10) as u8),
        '\u{3000}' => ' ',
        '\u{FF0D}' => '-',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert!(check_phone("+33612345678").is_ok());
        for bad in [
            "33612345678",
            "+0612345678",
            "+123456",
            "+1234567890123456",
            "+33 6",
        ] {
            assert!(check_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(check_email("ada@example.com").is_ok());
        for bad in [
            "a@b.c.", "a@b", "@b.c", "a b@c.d", "a@@b.c", "a@.b.c", "a@b..c",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert!(check_email(&format!("{}@example.com", "a".repeat(320))).is_err());
    }

    #[test]
    fn emails_have_one_canonical_form() {
        let cases = [
            ("ada@example.com", "ada@example.com"),
            ("  Ada@Example.COM\n", "ada@example.com"),
            ("ADA@EXAMPLE.COM", "ada@example.com"),
            // NFC: a decomposed é is the composed one.
            ("Zoe\u{301}@example.com", "zo\u{e9}@example.com"),
            (
                "zo\u{e9}@B\u{fc}cher.Example",
                "zo\u{e9}@xn--bcher-kva.example",
            ),
            (
                "zo\u{e9}@xn--bcher-kva.example",
                "zo\u{e9}@xn--bcher-kva.example",
            ),
            // Simple lower case: İ is i, not i + a combining dot; a final Σ is σ.
            ("\u{130}pek@example.com", "ipek@example.com"),
            ("\u{3a3}\u{3a3}@example.com", "\u{3c3}\u{3c3}@example.com"),
        ];
        for (raw, want) in cases {
            let got = canonical_email(raw).unwrap();
            assert_eq!(got, want, "{raw:?}");
            assert_eq!(
                canonical_email(&got).unwrap(),
                got,
                "a fixed point: {raw:?}"
            );
        }
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "a@b@example.com",
            "a b@example.com",
            "a@exa mple.com",
            "a@example..com",
        ] {
            assert_eq!(
                canonical_email(bad).unwrap_err().field,
                "identifier",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn phones_have_one_canonical_form() {
        for raw in [
            "+33612345678",
            " +33 6 12 34 56 78 ",
            "+33 (6) 12-34.56.78",
            "+33-6-12-34-56-78",
        ] {
            assert_eq!(canonical_phone(raw).unwrap(), "+33612345678", "{raw:?}");
        }
        // Only those separators, only after a leading +.
        for bad in [
            "33612345678",
            "0033612345678",
            "+33/612345678",
            "+33_612345678",
            "+33\u{a0}612345678",
            "+33 6 12 34 56 7a",
            "(+33) 612345678",
            "+",
        ] {
            assert!(canonical_phone(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scopes_and_metadata() {
        assert!(check_scope("transfer:write").is_ok());
        assert!(check_scope("").is_err());
        assert!(check_scope("a b").is_err());
        assert!(check_scope(&"a".repeat(129)).is_err());
        let mut m = BTreeMap::new();
        m.insert("amount".to_owned(), "500".to_owned());
        assert!(check_metadata(&m).is_ok());
        m.insert("waytoolongkey".to_owned(), "x".to_owned());
        assert_eq!(check_metadata(&m).unwrap_err().field, "metadata");
        let mut m = BTreeMap::new();
        m.insert("payee".to_owned(), "x".repeat(33));
        assert!(check_metadata(&m).is_err());
        m.insert("payee".to_owned(), "é".repeat(32));
        assert!(check_metadata(&m).is_ok(), "limits count characters");
        let six: BTreeMap<_, _> = (0..6).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(check_metadata(&six).is_err());
    }

    #[test]
    fn codes_are_four_to_eight_digits() {
        for ok in ["1234", "123456", "12345678"] {
            assert!(check_code(ok).is_ok(), "{ok}");
        }
        for bad in ["123", "123456789", "12a456", " 123456", ""] {
            assert!(check_code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn codes_are_found_in_what_people_paste() {
        let cases = [
            ("027 194", Some("027194")),
            (" 538750\n", Some("538750")),
            ("Your Countersign code is 538750", Some("538750")),
            ("12-34-56", Some("123456")),
            ("code: 12345678.", Some("12345678")),
            ("call +33612345678 then type 4321", Some("4321")),
            ("abc", None),
            ("12", None),
            ("", None),
            // An input method's full-width digits are the same digits.
            ("１２３４５６", Some("123456")),
            ("コード：５３８\u{3000}７５０", Some("538750")),
            ("１２－３４－５６", Some("123456")),
            // Other scripts' digits are not read as a code.
            ("١٢٣٤٥٦", None),
            ("۱۲۳۴۵۶", None),
            ("१२३४५६", None),
        ];
        for (text, want) in cases {
            assert_eq!(find_code(text).as_deref(), want, "{text:?}");
        }
    }
}
