//! The `countersign` command. `approve` and `status` are answered here; anything else is the
//! app, `countersign-app` in this binary's folder, run in this process's place with the same
//! arguments (on Unix by `execve`, so it keeps this process's id).

use crate::program::{APP, beside_this_binary};
use std::ffi::OsString;
use std::process::ExitCode;

/// `countersign`'s `main`.
pub fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    match argv.get(1).and_then(|a| a.to_str()) {
        Some("approve") => crate::client::main(argv),
        Some("status") => crate::status::main(argv),
        _ => become_app(argv),
    }
}

/// Runs the app with `argv`'s arguments in this process's place; returns only if it could
/// not, with 127 when the app's binary is missing and 126 when it cannot be run (as a shell
/// does).
fn become_app(argv: Vec<OsString>) -> ExitCode {
    let app = match beside_this_binary(APP) {
        Ok(p) => p,
        Err(e) => return cannot_start(&format!("cannot find the app: {e}"), 126),
    };
    let mut cmd = std::process::Command::new(&app);
    cmd.args(argv.into_iter().skip(1));
    #[cfg(unix)]
    let e = std::os::unix::process::CommandExt::exec(&mut cmd);
    #[cfg(not(unix))]
    let e = match cmd.status() {
        Ok(status) => {
            let code = status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1);
            return ExitCode::from(code);
        }
        Err(e) => e,
    };
    let status = if e.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    cannot_start(&format!("cannot run {}: {e}", app.display()), status)
}

fn cannot_start(why: &str, status: u8) -> ExitCode {
    eprintln!("countersign: {why}");
    ExitCode::from(status)
}
