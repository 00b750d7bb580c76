//! Which script an interpreter runs, read from its arguments: the program a person is shown
//! for `python3 deploy.py` is the script, not the interpreter.

use std::path::Path;

/// Programs that run a script named in their arguments. A name is matched without a version
/// suffix (`python3.11` is `python`).
const INTERPRETERS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "mksh",
    "fish",
    "csh",
    "tcsh",
    "busybox",
    "python",
    "pypy",
    "perl",
    "ruby",
    "node",
    "nodejs",
    "deno",
    "bun",
    "php",
    "lua",
    "luajit",
    "tclsh",
    "wish",
    "rscript",
    "pwsh",
    "osascript",
    "java",
    "awk",
    "gawk",
    "mawk",
];

/// An interpreter's options after which the program is inline code, a module or the
/// standard input rather than a script file, and its options that take the next argument.
fn options(interpreter: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match interpreter {
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "fish" | "csh" | "tcsh" | "busybox" => (
            &["-c", "-s", "-"],
            &["-o", "+o", "-O", "+O", "--rcfile", "--init-file"],
        ),
        "python" | "pypy" => (&["-c", "-m", "-"], &["-W", "-X", "--check-hash-based-pycs"]),
        "perl" => (&["-e", "-E", "-"], &["-I", "-M", "-m"]),
        "ruby" => (&["-e", "-"], &["-I", "-r", "-C", "-E"]),
        "node" | "nodejs" | "deno" | "bun" => (
            &["-e", "--eval", "-p", "--print", "-"],
            &["-r", "--require", "--import", "--loader"],
        ),
        "php" => (&["-r", "-"], &["-c", "-d", "-z"]),
        "lua" | "luajit" => (&["-e", "-"], &["-l"]),
        _ => (&["-"], &[]),
    }
}

/// The interpreter `exe` is, by its file name without a version suffix (`python3.11` is
/// `python`); `None` for any other program.
pub(super) fn interpreter(exe: &Path) -> Option<String> {
    let name = exe.file_name()?.to_str()?;
    let name = name.strip_suffix(" (deleted)").unwrap_or(name);
    let bare = name
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-')
        .to_ascii_lowercase();
    INTERPRETERS.contains(&bare.as_str()).then_some(bare)
}

/// The script `interpreter` says it runs: its first argument that is not an option (or an
/// option's value). `None` for inline code (`-c`, `-e`, `-m`, …) or the standard input.
pub(super) fn script_of(interpreter: &str, argv: &[String]) -> Option<String> {
    let (inline, with_value) = options(interpreter);
    let mut args = argv.iter().skip(1);
    while let Some(a) = args.next() {
        if a == "--" {
            return args.next().cloned();
        }
        if inline.contains(&a.as_str()) {
            return None;
        }
        if with_value.contains(&a.as_str()) {
            args.next();
            continue;
        }
        if !a.starts_with('-') && !a.starts_with('+') {
            return Some(a.clone());
        }
        // Short options written together (`sh -ec CODE`, `python3 -Bc CODE`, `perl -we
        // CODE`): an inline-code letter anywhere in the cluster means no script follows.
        if let Some(letters) = a.strip_prefix('-').filter(|l| !l.starts_with('-')) {
            for (i, l) in letters.char_indices() {
                let one = format!("-{l}");
                if inline.contains(&one.as_str()) {
                    return None;
                }
                if with_value.contains(&one.as_str()) {
                    // The rest of the cluster is its value; if there is none, the next argument is.
                    if i + l.len_utf8() == letters.len() {
                        args.next();
                    }
                    break;
                }
            }
        }
    }
    None
}
