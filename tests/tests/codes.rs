//! The code contract: every error code the app can send across IPC has a sentence in
//! ui/messages.js. The app's codes are `AppCode` (src-tauri/src/codes.rs, one table), and the
//! wire codes it passes on are those `ErrorCode::Wire(…)` names there; both are read from the
//! source, so a new code without a sentence fails here. Needs no window.

use std::collections::BTreeSet;

/// Where the app's codes are declared: the `app_codes!` table and the `Wire(…)` arms.
const CODES: &str = "src-tauri/src/codes.rs";

fn read(rel: &str) -> String {
    let path = countersign_e2e::workspace_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
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

/// The app's own codes: the `app_codes!` table's lines `Variant = "code",`.
fn app_codes(src: &str) -> BTreeSet<String> {
    let table = &src[src.find("app_codes! {").expect("the app_codes! table")..];
    let table = &table[..table.find("\n}").expect("the table ends")];
    table
        .lines()
        .filter_map(|line| {
            let (variant, rest) = line.trim().split_once(" = \"")?;
            let (code, _) = rest.split_once("\",")?;
            variant
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
                .then(|| code.to_owned())
        })
        .collect()
}

/// The wire codes the app passes on: every `Code::X` on a line that makes an
/// `ErrorCode::Wire` (`Wire(Code::X)`, or `c @ (Code::X | Code::Y) => Wire(c)`).
fn wire_codes_sent(src: &str, wire: &[(String, String)]) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for line in src.lines().filter(|l| l.contains("Wire(")) {
        // `Code::X` itself, not the tail of `ErrorCode::` or `AppCode::`.
        let own = line.match_indices("Code::").filter(|(at, _)| {
            !line[..*at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        });
        for (at, _) in own {
            let name = ident_at(&line[at + "Code::".len()..]);
            let (_, code) = wire
                .iter()
                .find(|(v, _)| v == name)
                .unwrap_or_else(|| panic!("{CODES}: Code::{name} is not in prelude-wire's codes"));
            codes.insert(code.clone());
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
    let src = read(CODES);
    let app = app_codes(&src);
    let passed_on = wire_codes_sent(&src, &wire);
    assert!(app.len() > 30, "too few app codes read: {app:?}");
    assert!(
        passed_on.len() > 15,
        "too few wire codes read: {passed_on:?}"
    );
    // What the reading must find, so a reading that finds too little fails here.
    for known in [
        "generic",
        "needs_passkey",
        "wrong_pin",
        "timeout",
        "number_mismatch",
    ] {
        assert!(app.contains(known), "`{known}` was not read from {CODES}");
    }
    for known in [
        "conflict",
        "invalid_identifier",
        "token_reused",
        "passkey_step_unavailable",
    ] {
        assert!(
            passed_on.contains(known),
            "`{known}` was not read from {CODES}"
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
    let missing: Vec<_> = app
        .iter()
        .chain(&passed_on)
        .filter(|c| !have.contains(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes with no sentence in ui/messages.js: {missing:?}"
    );
}
