//! The code contract: every error code the app can send across IPC has a sentence in
//! ui/messages.js. The codes are read from the `code()` functions that make them (the app's
//! `AppError`, its authenticator's error and the session crate's `Error`), so a new arm there
//! without a sentence fails here. Needs no window.

use std::collections::BTreeSet;

/// The files whose `fn code(` decides a code the app serialises (`AppError::code()` and the two
/// it delegates to).
const CODE_SOURCES: &[&str] = &[
    "src-tauri/src/error.rs",
    "src-tauri/src/authenticator/mod.rs",
    "crates/prelude-session/src/error.rs",
];

fn read(rel: &str) -> String {
    let path = countersign_e2e::workspace_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// The body of the first `fn code(` in `src`, between its braces.
fn code_fn_body(src: &str, rel: &str) -> String {
    let start = src
        .find("fn code(")
        .unwrap_or_else(|| panic!("{rel} has no `fn code(`"));
    let open = start + src[start..].find('{').expect("a function body");
    let mut depth = 0usize;
    for (i, c) in src[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return src[open + 1..open + i].to_owned();
                }
            }
            _ => {}
        }
    }
    panic!("{rel}: unbalanced braces in `fn code(`");
}

/// `prelude_wire::Code`'s variants with their wire strings, from `Variant = "wire" => status,`.
fn wire_codes() -> Vec<(String, String)> {
    read("crates/prelude-wire/src/code.rs")
        .lines()
        .filter_map(|line| {
            let (variant, rest) = line.trim().split_once(" = \"")?;
            let (wire, _) = rest.split_once("\" =>")?;
            variant
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
                .then(|| (variant.to_owned(), wire.to_owned()))
        })
        .collect()
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every code a `code()` body returns: a literal, `Code::X.as_str()`, or a binding
/// `c @ (Code::X | Code::Y) => c.as_str()`; `x.code()` delegates to a file read on its own, and a
/// nested `match` is read by its arms. Any other arm shape fails, so the contract is not
/// silently narrowed when `code()` changes shape.
fn codes_returned(body: &str, wire: &[(String, String)], rel: &str) -> BTreeSet<String> {
    let variant = |name: &str| {
        wire.iter()
            .find(|(v, _)| v == name)
            .map(|(_, w)| w.clone())
            .unwrap_or_else(|| panic!("{rel}: Code::{name} is not in prelude-wire's codes"))
    };
    let mut codes = BTreeSet::new();
    for (at, _) in body.match_indices("=>") {
        let before = &body[..at];
        let rhs = body[at + 2..].trim_start();
        if let Some(lit) = rhs.strip_prefix('"') {
            codes.insert(lit[..lit.find('"').expect("a closed literal")].to_owned());
        } else if let Some(rest) = rhs.strip_prefix("Code::") {
            codes.insert(variant(ident_at(rest)));
        } else if rhs.starts_with("match ") {
            continue;
        } else {
            let name = ident_at(rhs);
            let after = &rhs[name.len()..];
            if after.starts_with(".code()") {
                continue;
            }
            assert!(
                !name.is_empty() && after.starts_with(".as_str()"),
                "{rel}: an arm of `fn code(` this test cannot read: `{}`",
                rhs.lines().next().unwrap_or_default()
            );
            let bound = before
                .rfind(&format!("{name} @"))
                .unwrap_or_else(|| panic!("{rel}: `{name}` is bound nowhere before its arm"));
            for part in before[bound..].split("Code::").skip(1) {
                codes.insert(variant(ident_at(part)));
            }
        }
    }
    codes
}

/// The keys of `TEXT` in ui/messages.js, in order: its lines `  some_code: (e) => …`.
fn sentences() -> Vec<String> {
    let js = read("ui/messages.js");
    let start = js
        .find("const TEXT = {")
        .expect("messages.js has its TEXT table");
    let end = start + js[start..].find("\n};").expect("TEXT ends");
    js[start..end]
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_owned()))
        .filter(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

/// Every code the app can send across IPC has a sentence: a code without one would show
/// "Something went wrong" where the app knows what went wrong.
#[test]
fn every_code_the_app_sends_has_a_sentence() {
    let wire = wire_codes();
    assert!(wire.len() > 40, "prelude-wire's codes were not read");
    let mut sent = BTreeSet::new();
    for rel in CODE_SOURCES {
        let found = codes_returned(&code_fn_body(&read(rel), rel), &wire, rel);
        assert!(found.len() > 5, "{rel}: too few codes read: {found:?}");
        sent.extend(found);
    }
    // What the parse must find, so a parse that reads too little fails here.
    for known in [
        "generic",
        "conflict",
        "needs_passkey",
        "wrong_pin",
        "invalid_identifier",
    ] {
        assert!(
            sent.contains(known),
            "`{known}` was not read from the code sources"
        );
    }
    let keys = sentences();
    let have: BTreeSet<String> = keys.iter().cloned().collect();
    // A key given twice keeps only its last sentence: the first would be dead.
    assert_eq!(
        have.len(),
        keys.len(),
        "a code keyed twice in ui/messages.js"
    );
    let missing: Vec<_> = sent.iter().filter(|c| !have.contains(*c)).collect();
    assert!(
        missing.is_empty(),
        "codes with no sentence in ui/messages.js: {missing:?}"
    );
}
