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

/// What a piece of ui/*.js spells: a string's text (a template's text between its `${…}`), a
/// regular expression's source, or an object literal's key.
#[derive(Debug, PartialEq)]
enum Spelled {
    Text(String),
    Regex(String),
    Key(String),
}

/// A small JavaScript reader: enough of the grammar to tell strings, templates (and the code
/// inside their `${…}`), regular expressions, comments and object keys apart.
struct Js<'a> {
    src: &'a [char],
    at: usize,
    line: usize,
    found: Vec<(usize, Spelled)>,
}

impl Js<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.src.get(self.at + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// The last character before `self.at` that is not white space.
    fn before(&self) -> Option<char> {
        self.src[..self.at]
            .iter()
            .rev()
            .find(|c| !c.is_whitespace())
            .copied()
    }

    /// Reads code until the end, or until the `}` that closes a template's `${`.
    fn code(&mut self, in_template: bool) {
        let mut depth = 0usize;
        let mut word = String::new();
        let mut word_before = None;
        while let Some(c) = self.peek(0) {
            if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
                if word.is_empty() {
                    word_before = self.before();
                }
                word.push(c);
                self.bump();
                continue;
            }
            if !word.is_empty() {
                let next = self.src[self.at..].iter().find(|c| !c.is_whitespace());
                let keyish = matches!(word_before, Some('{' | ','));
                if keyish && next == Some(&':') {
                    self.found.push((self.line, Spelled::Key(word.clone())));
                }
                let regex_may_follow = matches!(word.as_str(), "return" | "typeof" | "case");
                word.clear();
                if regex_may_follow && c == '/' && self.peek(1) != Some('/') {
                    self.bump();
                    self.regex();
                    continue;
                }
            }
            match c {
                '\'' | '"' => {
                    self.bump();
                    let text = self.quoted(c);
                    self.found.push((self.line, Spelled::Text(text)));
                }
                '`' => {
                    self.bump();
                    self.template();
                }
                '/' if self.peek(1) == Some('/') => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                '/' if self.peek(1) == Some('*') => {
                    self.bump();
                    self.bump();
                    while self.peek(0).is_some()
                        && !(self.peek(0) == Some('*') && self.peek(1) == Some('/'))
                    {
                        self.bump();
                    }
                    self.bump();
                    self.bump();
                }
                '/' => {
                    let prev = self.before();
                    self.bump();
                    let starts_regex = prev.is_none_or(|p| "(,=:[!&|?{};+-*%<>~^".contains(p));
                    if starts_regex {
                        self.regex();
                    }
                }
                '{' => {
                    depth += 1;
                    self.bump();
                }
                '}' => {
                    self.bump();
                    if depth == 0 && in_template {
                        return;
                    }
                    depth = depth.saturating_sub(1);
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    /// A string's text, after its opening quote.
    fn quoted(&mut self, quote: char) -> String {
        let mut text = String::new();
        while let Some(c) = self.bump() {
            match c {
                '\\' => text.extend(self.bump()),
                c if c == quote => break,
                c => text.push(c),
            }
        }
        text
    }

    /// A template's text pieces, after its opening backquote; the code in `${…}` is read as code.
    fn template(&mut self) {
        let mut text = String::new();
        while let Some(c) = self.bump() {
            match c {
                '\\' => text.extend(self.bump()),
                '`' => break,
                '$' if self.peek(0) == Some('{') => {
                    self.bump();
                    self.found
                        .push((self.line, Spelled::Text(std::mem::take(&mut text))));
                    self.code(true);
                }
                c => text.push(c),
            }
        }
        self.found.push((self.line, Spelled::Text(text)));
    }

    /// A regular expression's source, after its opening slash; `\/` is read as `/`.
    fn regex(&mut self) {
        let mut source = String::new();
        let mut class = false;
        while let Some(c) = self.bump() {
            match c {
                '\\' => source.extend(self.bump()),
                '[' => {
                    class = true;
                    source.push(c);
                }
                ']' => {
                    class = false;
                    source.push(c);
                }
                '/' if !class => break,
                '\n' => break,
                c => source.push(c),
            }
        }
        self.found.push((self.line, Spelled::Regex(source)));
    }
}

fn spelled(js: &str) -> Vec<(usize, Spelled)> {
    let src: Vec<char> = js.chars().collect();
    let mut reader = Js {
        src: &src,
        at: 0,
        line: 1,
        found: Vec::new(),
    };
    reader.code(false);
    reader.found
}

/// The `"word"`s of `Type::Variant => "word",` lines in a source file: how an enum of the
/// app spells itself on the wire.
fn spellings(rel: &str, ty: &str) -> BTreeSet<String> {
    read(rel)
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix(ty)?.strip_prefix("::")?;
            let (_, word) = rest.split_once(" => \"")?;
            Some(word.split_once("\",")?.0.to_owned())
        })
        .collect()
}

/// The wire's words: error codes (the wire's and the app's), step keys, where a challenge
/// stands, channels, identifier kinds, grant modes, reserved scopes, and the outcome and
/// status words of an approval; the words come from `prelude-wire` itself and from the app's
/// own tables, none is listed here.
fn wire_words() -> BTreeSet<String> {
    use prelude_wire::{Channel, Code, GrantMode, IdentifierKind, StepKey};
    let mut words: BTreeSet<String> = Code::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    words.extend(app_codes(&read(CODES)));
    words.extend(StepKey::MANAGED.iter().map(|k| k.as_str().to_owned()));
    words.insert(prelude_wire::COMPLETED.to_owned());
    words.extend(Channel::ALL.map(|c| c.as_str().to_owned()));
    words.extend(IdentifierKind::ALL.map(|k| k.as_str().to_owned()));
    words.extend(GrantMode::ALL.map(|m| m.as_str().to_owned()));
    words.extend(
        [
            prelude_wire::PASSKEY_WRITE_SCOPE,
            prelude_wire::PHONE_REGISTER_SCOPE,
            prelude_wire::EMAIL_REGISTER_SCOPE,
        ]
        .map(str::to_owned),
    );
    words.extend(spellings("src-tauri/src/outcome.rs", "AttemptOutcome"));
    words.extend(spellings(
        "crates/countersign-requests/src/protocol.rs",
        "Status",
    ));
    words
}

/// What of the wire `s` spells, if anything: a word of the vocabulary, or a route path.
fn wire_term(s: &Spelled, words: &BTreeSet<String>) -> Option<String> {
    use prelude_wire::routes;
    let route = |text: &str| {
        routes::BASES.iter().any(|b| text.contains(b))
            || routes::FRONTEND
                .iter()
                .chain(routes::EMULATOR)
                .any(|r| text == *r)
    };
    match s {
        Spelled::Text(t) | Spelled::Key(t) if words.contains(t) => Some(t.clone()),
        Spelled::Text(t) if route(t) => Some(t.clone()),
        Spelled::Regex(r) if route(r) => Some(r.clone()),
        Spelled::Regex(r) => r
            .split(|c: char| !(c.is_ascii_alphanumeric() || "_:-".contains(c)))
            .find(|w| words.contains(*w))
            .map(str::to_owned),
        _ => None,
    }
}

/// The reader finds what it must, so a reading that finds nothing cannot pass.
#[test]
fn the_js_reader_tells_strings_regexes_and_keys_apart() {
    let js = "// 'commented'\nconst A = { verify_sms: \"text\", b: 'it\\'s' };\n\
              const t = `by ${m.channel === \"sms\" ? \"SMS\" : `x${1}`} to ${m.to}`;\n\
              if (/^no_(email|phone)_for_step$/.test(c) && a / b / c) x = r.replace(/^\\/v1\\/session\\//, \"\");\n\
              /* \"block\" */ const q = cond ? red : blue;";
    let found: Vec<Spelled> = spelled(js).into_iter().map(|(_, s)| s).collect();
    let text = |t: &str| Spelled::Text(t.into());
    for want in [
        Spelled::Key("verify_sms".into()),
        text("text"),
        text("it's"),
        text("sms"),
        text("SMS"),
        text("by "),
        text(" to "),
        Spelled::Regex("^no_(email|phone)_for_step$".into()),
        Spelled::Regex("^/v1/session/".into()),
    ] {
        assert!(found.contains(&want), "{want:?} not in {found:?}");
    }
    assert!(found.contains(&Spelled::Key("b".into())));
    for not in [text("commented"), text("block"), Spelled::Key("red".into())] {
        assert!(!found.contains(&not), "{not:?} in {found:?}");
    }
    assert!(
        !found
            .iter()
            .any(|s| matches!(s, Spelled::Regex(r) if r.contains(" b ")))
    );
    let words = wire_words();
    let terms: Vec<_> = found.iter().filter_map(|s| wire_term(s, &words)).collect();
    assert_eq!(
        terms,
        ["verify_sms", "sms", "email", "^/v1/session/"],
        "{found:?}"
    );
}

/// The UI spells no wire term: no step key, channel, identifier kind, grant mode, reserved
/// scope, outcome or status word, error code, or route path. The view models carry display
/// labels and flags instead, and the values the UI sends back are the ones the backend gave.
/// `ui/messages.js` is the one exception: its table is keyed by the serialised code (held to
/// the codes by the test above).
#[test]
fn the_ui_spells_no_wire_term() {
    let words = wire_words();
    // What the vocabulary must hold, so a reading that finds too little fails here.
    for known in [
        "verify_sms",
        "completed",
        "email",
        "session-bound",
        "bad_check_code",
        "invalid_input",
        "wrong_pin",
        "timed_out",
        "passkey_used",
        "prld:passkey:write",
    ] {
        assert!(words.contains(known), "`{known}` is not in the vocabulary");
    }
    let dir = countersign_e2e::workspace_root().join("ui");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("ui/")
        .map(|e| e.expect("a ui/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .filter(|p| !p.ends_with("messages.js"))
        .collect();
    files.sort();
    assert!(files.len() > 10, "too few UI modules read: {files:?}");
    let mut spelled_terms = Vec::new();
    for path in &files {
        let js = std::fs::read_to_string(path).expect("a UI module");
        for (line, s) in spelled(&js) {
            if let Some(term) = wire_term(&s, &words) {
                let name = path.file_name().unwrap().to_string_lossy();
                spelled_terms.push(format!("ui/{name}:{line}: {term:?}"));
            }
        }
    }
    assert!(
        spelled_terms.is_empty(),
        "the UI spells wire terms; give it labels or flags from the view model:\n{}",
        spelled_terms.join("\n")
    );
}
