//! Rules for text that others control and a person reads or a record keeps: refused
//! characters, look-alike warnings (UTS #39), and how such text is neutralised for display.
//! `docs/approval-protocol.md` ("What the screen vouches for") is the contract.

use crate::{RuleError, broken};
use std::borrow::Cow;
use std::collections::BTreeMap;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_script::{Script, UnicodeScript};
use unicode_security::MixedScript;

/// A screen shows at most this many characters of one value; the rest is behind an ellipsis,
/// with the whole value in the element's title.
pub const MAX_SHOWN_CHARS: usize = 48;

/// The metadata key only a registration (`prld:<kind>:register`) may use: the wire allows it
/// 320 characters, every other value 32.
pub const RESERVED_IDENTIFIER_KEY: &str = "identifier";

/// Why a character may not be shown: it changes how the text around it reads, or cannot be
/// seen. Cf covers the bidi controls (U+202A–202E, U+2066–2069, U+200E/F) and the zero-width
/// characters, ZWJ and ZWNJ included. `prev` is the character before it, if any.
fn refusal(prev: Option<char>, c: char) -> Option<&'static str> {
    Some(match c.general_category() {
        GeneralCategory::Format => {
            "an invisible formatting character, which can reorder or hide text"
        }
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            "a line or paragraph separator"
        }
        GeneralCategory::Control => "a control character",
        GeneralCategory::PrivateUse => "a private-use character",
        GeneralCategory::Surrogate | GeneralCategory::Unassigned => "an unassigned character",
        // Default-ignorable code points that are not Cf render as nothing: the combining
        // grapheme joiner, Hangul fillers, Khmer inherent vowels, variation selectors. Inside a
        // value they make two different values look the same ("ACME" and "AC\u{34F}ME").
        // An emoji presentation selector right after a symbol ("❤️") is how that symbol is
        // written, so it stays.
        _ if is_default_ignorable(c) && !is_emoji_presentation(prev, c) => {
            "an invisible character, which makes the text look like another"
        }
        _ => return None,
    })
}

/// UTS #39 identifier type `Default_Ignorable` (the Default_Ignorable_Code_Point property).
fn is_default_ignorable(c: char) -> bool {
    use unicode_security::GeneralSecurityProfile;
    use unicode_security::general_security_profile::IdentifierType;
    c.identifier_type() == Some(IdentifierType::Default_Ignorable)
}

/// U+FE0E or U+FE0F right after a symbol (category So): the text or emoji form of it.
fn is_emoji_presentation(prev: Option<char>, c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}')
        && prev.is_some_and(|p| p.general_category() == GeneralCategory::OtherSymbol)
}

/// At most this many nonspacing marks (Mn, Me) in a row (UTS #39 §5.4): more stack into a
/// tower that draws over the text around the value.
pub const MAX_MARKS_IN_A_ROW: usize = 4;

/// The refused characters of `value`, with why, in order. Besides single characters, a mark
/// past [`MAX_MARKS_IN_A_ROW`], or the same mark twice in a row (UTS #39 §5.4), is refused.
fn refusals(value: &str) -> impl Iterator<Item = (usize, char, &'static str)> + '_ {
    let mut prev = None;
    let mut marks = 0;
    value.char_indices().filter_map(move |(i, c)| {
        let mark = matches!(
            c.general_category(),
            GeneralCategory::NonspacingMark | GeneralCategory::EnclosingMark
        );
        let repeated = mark && prev == Some(c);
        marks = if mark { marks + 1 } else { 0 };
        let why = refusal(prev, c).or(if repeated {
            Some("the same combining mark twice, which looks like once")
        } else if marks > MAX_MARKS_IN_A_ROW {
            Some("a combining mark past four in a row, which can draw over other text")
        } else {
            None
        });
        prev = Some(c);
        why.map(|w| (i, c, w))
    })
}

/// Whether `c`, standing alone, is refused in shown text (categories Cc, Cf, Co, Cn, Zl, Zp,
/// and the default-ignorable code points).
pub fn is_refused(c: char) -> bool {
    refusal(None, c).is_some()
}

/// Whether something in `value` can be seen. UTS #39's skeleton drops the default-ignorable
/// code points (Hangul fillers, variation selectors) that render as nothing; what is left
/// must hold a letter, digit, punctuation or symbol, and not only the blank Braille pattern.
fn has_visible(value: &str) -> bool {
    unicode_security::skeleton(value).any(|c| {
        c != '\u{2800}'
            && matches!(
                c.general_category_group(),
                unicode_properties::GeneralCategoryGroup::Letter
                    | unicode_properties::GeneralCategoryGroup::Number
                    | unicode_properties::GeneralCategoryGroup::Punctuation
                    | unicode_properties::GeneralCategoryGroup::Symbol
            )
    })
}

/// Checks one text a person will read: no refused character, and something visible. `what`
/// names it in the message (`metadata value for "payee"`, `the reason`); the value itself is
/// never echoed.
///
/// # Errors
/// [`RuleError`] with `field`, naming the first refused character by code point.
pub fn check_shown(field: &'static str, what: &str, value: &str) -> Result<(), RuleError> {
    if let Some((_, c, why)) = refusals(value).next() {
        return Err(broken(
            field,
            format!("{what} holds U+{:04X}, {why}", u32::from(c)),
        ));
    }
    if !has_visible(value) {
        return Err(broken(field, format!("{what} has no visible character")));
    }
    Ok(())
}

/// Checks every metadata value with [`check_shown`]; keys are ASCII by the wire's rules.
///
/// # Errors
/// The first value that breaks a rule, named by its key.
pub fn check_metadata_shown(m: &BTreeMap<String, String>) -> Result<(), RuleError> {
    m.iter()
        .try_for_each(|(k, v)| check_shown("metadata", &format!("metadata value for {k:?}"), v))
}

/// Whether `scope` is a registration, `prld:<kind>:register` (docs/protocol.md, reserved
/// scopes): the only requests that may carry [`RESERVED_IDENTIFIER_KEY`].
pub fn is_registration(scope: &str) -> bool {
    scope
        .strip_prefix("prld:")
        .and_then(|s| s.strip_suffix(":register"))
        .is_some_and(|kind| !kind.is_empty() && !kind.contains(':'))
}

/// The metadata a requester (another program or a link) may ask with: shown text only, and
/// `identifier` only for a registration.
///
/// # Errors
/// [`RuleError`] naming the key.
pub fn check_requested_metadata(
    scope: &str,
    m: &BTreeMap<String, String>,
) -> Result<(), RuleError> {
    if m.contains_key(RESERVED_IDENTIFIER_KEY) && !is_registration(scope) {
        return Err(broken(
            "metadata",
            format!(
                "metadata key {RESERVED_IDENTIFIER_KEY:?} is reserved for prld:<kind>:register scopes"
            ),
        ));
    }
    check_metadata_shown(m)
}

/// The scripts of `value`'s letters, in order of first use, without Common and Inherited.
fn scripts(value: &str) -> Vec<Script> {
    let mut seen = Vec::new();
    for c in value.chars() {
        let s = c.script();
        if !matches!(s, Script::Common | Script::Inherited | Script::Unknown) && !seen.contains(&s)
        {
            seen.push(s);
        }
    }
    seen
}

/// A warning for a value that could pass for another (UTS #39): one that is not single-script
/// ("PаyPal" with a Cyrillic а), or one with letters or digits outside ASCII whose skeleton is
/// all ASCII ("АСМЕ" in Cyrillic, "ＡＣＭＥ" in full width). `None` for plain text.
pub fn lookalike(value: &str) -> Option<String> {
    let found = scripts(value);
    let names = || {
        found
            .iter()
            .map(|s| s.full_name())
            .collect::<Vec<_>>()
            .join(" and ")
    };
    if !value.is_single_script() {
        return Some(format!("Mixes {} letters.", names()));
    }
    let unusual = value.chars().any(|c| {
        !c.is_ascii()
            && matches!(
                c.general_category_group(),
                unicode_properties::GeneralCategoryGroup::Letter
                    | unicode_properties::GeneralCategoryGroup::Number
            )
    });
    if unusual && unicode_security::skeleton(value).all(|c| c.is_ascii()) {
        return Some(match found.as_slice() {
            [] | [Script::Latin] => "Special letters that look like plain ones.".to_owned(),
            _ => format!("{} letters that look like Latin ones.", names()),
        });
    }
    None
}

/// The parts of an email address read apart for look-alikes: the part before the last `@`,
/// then each label of the domain in Unicode (an `xn--` label as it displays). `None` without
/// an `@`.
fn email_parts(value: &str) -> Option<(String, Vec<String>)> {
    let (local, domain) = value.rsplit_once('@')?;
    let (domain, _) = idna::domain_to_unicode(domain);
    Some((
        local.to_owned(),
        domain.split('.').map(str::to_owned).collect(),
    ))
}

/// A warning for an email address that could pass for another (UTS #39): [`lookalike`] on
/// the part before `@` and on each label of the domain (read in Unicode), saying which part.
/// `None` for a plain address, for anything without an `@` (a phone number is ASCII digits),
/// and for an address wholly in one script that reads as itself ("иван@почта.рф").
pub fn email_lookalike(value: &str) -> Option<String> {
    let (local, labels) = email_parts(value)?;
    // One sentence: "The part before @ mixes Cyrillic and Latin letters."
    let said = |part: &str, w: String| match w.strip_prefix("Mixes ") {
        Some(rest) => format!("{part} mixes {rest}"),
        None => format!("{part} has {}", w.replacen("Special", "special", 1)),
    };
    if let Some(w) = lookalike(&local) {
        return Some(said("The part before @", w));
    }
    labels
        .iter()
        .find_map(|l| lookalike(l))
        .map(|w| said("The domain", w))
}

/// Whether an email address mixes scripts inside its part before `@` or inside one label of
/// its domain (read in Unicode): UTS #39 §5.1 single-script, each part on its own, so a
/// Cyrillic domain under `.com` is not mixed but `аda` with a Cyrillic `а` is.
pub fn email_mixes_scripts(value: &str) -> bool {
    email_parts(value).is_some_and(|(local, labels)| {
        !local.is_single_script() || labels.iter().any(|l| !l.is_single_script())
    })
}

/// `value` with every refused character replaced by U+FFFD, for text that cannot be refused
/// any more (a server's message, another device's name): shown, but unable to reorder or hide.
pub fn neutralised(value: &str) -> Cow<'_, str> {
    replaced(value, |_, out| out.push('\u{FFFD}'))
}

/// `value` with each refused character written by `put`; borrowed when there is none.
fn replaced(value: &str, put: impl Fn(char, &mut String)) -> Cow<'_, str> {
    let mut found = refusals(value).peekable();
    if found.peek().is_none() {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    let mut from = 0;
    for (i, c, _) in found {
        out.push_str(&value[from..i]);
        put(c, &mut out);
        from = i + c.len_utf8();
    }
    out.push_str(&value[from..]);
    Cow::Owned(out)
}

/// `value` with every refused character written out as `\u{202E}`, for records (the audit
/// log, its exports): what was there stays readable, and nothing reorders the text.
pub fn escaped(value: &str) -> Cow<'_, str> {
    replaced(value, |c, out| {
        out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)))
    })
}

/// [`neutralised`], with `&`, `<` and `>` escaped, for a notification body: notification
/// servers render a subset of HTML markup (Desktop Notifications Specification, "Markup").
pub fn markup_escaped(value: &str) -> String {
    neutralised(value)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_for(value: &str) -> String {
        check_shown("metadata", "metadata value for \"payee\"", value)
            .unwrap_err()
            .message
    }

    #[test]
    fn bidi_controls_are_refused_by_name() {
        let m = refused_for("\u{202E}dtL EMCA");
        assert!(m.contains("\"payee\"") && m.contains("U+202E"), "{m}");
        for c in ['\u{202A}', '\u{2066}', '\u{2069}', '\u{200F}', '\u{061C}'] {
            assert!(is_refused(c), "U+{:04X}", u32::from(c));
        }
        assert!(refused_for("50\u{2067}00").contains("U+2067"));
    }

    #[test]
    fn zero_width_and_joiners_are_refused() {
        assert!(refused_for("\u{200B}").contains("U+200B"));
        assert!(refused_for("AC\u{200D}ME").contains("U+200D"), "ZWJ");
        assert!(refused_for("AC\u{200C}ME").contains("U+200C"), "ZWNJ");
        assert!(refused_for("\u{FEFF}ACME").contains("U+FEFF"));
        assert!(refused_for("ACME\u{E0041}").contains("U+E0041"), "a tag");
    }

    #[test]
    fn invisible_characters_that_are_not_format_characters_are_refused() {
        // Each renders as nothing, so the value would look like another one.
        for (value, c) in [
            ("AC\u{34F}ME", "U+034F"),
            ("ACME\u{3164}Ltd", "U+3164"),
            ("\u{3164}", "U+3164"),
            ("\u{115F}\u{1160}", "U+115F"),
            ("AC\u{FFA0}ME", "U+FFA0"),
            ("5\u{17B4}00", "U+17B4"),
            ("AC\u{180B}ME", "U+180B"),
            ("5\u{FE0F}00", "U+FE0F"),
            ("A\u{FE00}CME", "U+FE00"),
            ("\u{FE0F}", "U+FE0F"),
            ("ACME\u{E0100}", "U+E0100"),
        ] {
            assert!(refused_for(value).contains(c), "{value:?}");
            assert!(neutralised(value).contains('\u{FFFD}'), "{value:?}");
            assert!(
                escaped(value).contains(&format!("\\u{{{}}}", &c[2..])),
                "{value:?}"
            );
        }
        // The emoji form of a symbol is written with U+FE0F after it, and stays.
        for fine in ["❤️", "☎️ 2291", "✈\u{FE0E}"] {
            assert!(check_shown("metadata", "v", fine).is_ok(), "{fine:?}");
            assert_eq!(neutralised(fine), fine);
        }
    }

    #[test]
    fn stacked_or_doubled_marks_are_refused() {
        let tower = "A\u{0301}\u{0300}\u{0302}\u{0303}\u{0304}";
        let m = refused_for(tower);
        assert!(
            m.contains("U+0304") && m.contains("four"),
            "a fifth mark: {m}"
        );
        assert!(refused_for("ACME\u{0301}\u{0301}").contains("twice"));
        assert!(refused_for("5\u{20DD}\u{20DD}00").contains("U+20DD"));
        assert!(neutralised(tower).ends_with('\u{FFFD}'));
        // Up to four different marks on one letter are writing (Vietnamese, Indic scripts).
        for fine in ["Nguyễn", "ệ", "क्षि", "A\u{0301}\u{0300}\u{0302}\u{0303}"] {
            assert!(check_shown("metadata", "v", fine).is_ok(), "{fine:?}");
        }
    }

    #[test]
    fn separators_and_controls_are_refused() {
        assert!(refused_for("Pay\u{2028}now").contains("U+2028"));
        assert!(refused_for("Pay\u{2029}now").contains("U+2029"));
        assert!(refused_for("a\u{7}").contains("control"));
        assert!(refused_for("a\u{85}").contains("U+0085"));
        assert!(refused_for("\u{E000}").contains("private-use"));
    }

    #[test]
    fn text_must_hold_something_visible() {
        for blank in ["", " ", "\u{A0}\u{A0}", "\u{3000}", "\u{2800}", "\u{0301}"] {
            let m = refused_for(blank);
            assert!(m.contains("no visible character"), "{blank:?}: {m}");
        }
        for fine in [
            "ACME Ltd",
            "5000",
            "Café Ünïcode",
            "株式会社",
            "€",
            "❤️",
            "FR76 3000 6000 0112 3456 7890 189",
        ] {
            assert!(check_shown("metadata", "v", fine).is_ok(), "{fine:?}");
        }
    }

    #[test]
    fn look_alikes_get_a_warning() {
        let cyrillic = lookalike("АСМЕ").expect("Cyrillic that reads as ACME");
        assert!(cyrillic.contains("Cyrillic"), "{cyrillic}");
        let mixed = lookalike("PаyPal").expect("a Cyrillic а among Latin letters");
        assert!(mixed.contains("Latin and Cyrillic"), "{mixed}");
    }

    #[test]
    fn an_address_is_read_part_by_part_for_look_alikes() {
        // A Cyrillic а in the local part, in a domain label, or in a label given as `xn--`.
        let local = email_lookalike("\u{430}da@example.com").expect("mixed local part");
        assert!(
            local.starts_with("The part before @ mixes") && local.contains("Cyrillic"),
            "{local}"
        );
        assert!(email_mixes_scripts("\u{430}da@example.com"));
        let domain = email_lookalike("ada@ex\u{430}mple.com").expect("mixed domain label");
        assert!(domain.starts_with("The domain"), "{domain}");
        let puny = idna::domain_to_ascii("ex\u{430}mple.com").unwrap();
        assert!(email_mixes_scripts(&format!("ada@{puny}")));
        // Wholly Cyrillic letters that read as Latin ones: a warning, not a mix.
        let whole = email_lookalike("ada@\u{441}\u{43e}\u{440}.com").expect("Cyrillic сор");
        assert!(
            whole.contains("Cyrillic letters that look like Latin"),
            "{whole}"
        );
        assert!(!email_mixes_scripts("ada@\u{441}\u{43e}\u{440}.com"));
        // Plain and genuinely non-Latin addresses pass.
        for ok in [
            "ada@example.com",
            "zo\u{e9}@b\u{fc}cher.example",
            "\u{438}\u{432}\u{430}\u{43d}@\u{43f}\u{43e}\u{447}\u{442}\u{430}.\u{440}\u{444}",
            "+33612345678",
        ] {
            assert_eq!(email_lookalike(ok), None, "{ok}");
            assert!(!email_mixes_scripts(ok), "{ok}");
        }
        assert!(lookalike("ＡＣＭＥ").is_some(), "full-width Latin");
        assert!(lookalike("𝐀𝐂𝐌𝐄").is_some(), "mathematical bold");
        assert!(lookalike("Τοp").is_some(), "Greek and Latin");
        for plain in [
            "ACME Ltd",
            "500",
            "Café",
            "Иван Петров",
            "株式会社",
            "O’Brien & Co",
            "ada@example.com",
        ] {
            assert_eq!(lookalike(plain), None, "{plain}");
        }
    }

    #[test]
    fn identifier_is_only_for_registrations() {
        let m = BTreeMap::from([("identifier".to_owned(), "ada@example.com".to_owned())]);
        let e = check_requested_metadata("transfer:write", &m).unwrap_err();
        assert!(e.message.contains("\"identifier\""), "{}", e.message);
        assert!(check_requested_metadata("prld:email:register", &m).is_ok());
        assert!(check_requested_metadata("prld:phone:register", &m).is_ok());
        for not in [
            "prld::register",
            "prld:a:b:register",
            "xprld:email:register",
            "prld:email:registered",
        ] {
            assert!(check_requested_metadata(not, &m).is_err(), "{not}");
        }
        let payee = BTreeMap::from([("payee".to_owned(), "\u{202E}dtL EMCA".to_owned())]);
        let e = check_requested_metadata("transfer:write", &payee).unwrap_err();
        assert!(e.message.contains("payee"), "{}", e.message);
    }

    #[test]
    fn what_cannot_be_refused_is_neutralised() {
        assert_eq!(neutralised("ACME"), "ACME");
        assert_eq!(neutralised("\u{202E}dtL"), "\u{FFFD}dtL");
        assert_eq!(escaped("a\u{202E}b\u{2028}"), "a\\u{202E}b\\u{2028}");
        assert_eq!(escaped("plain"), "plain");
        assert_eq!(
            markup_escaped("<b>x</b> & \u{200B}"),
            "&lt;b&gt;x&lt;/b&gt; &amp; \u{FFFD}"
        );
    }
}
