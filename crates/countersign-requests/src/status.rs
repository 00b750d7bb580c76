//! `countersign status [--json]`: whether the app runs for a profile and is signed in, asked
//! over the approval socket (docs/approval-protocol.md, op `status`). It never starts an app.
//! Exit status: 0 the app runs; 1 no app runs for the profile; 2 a usage error; 3 it could
//! not tell (an unsafe socket folder, another user's socket, no or an unexpected answer).

use super::client_error::ClientError;
use super::connection::{self, Connection};
use super::protocol::{AppMessage, ClientMessage, VERSION};
use super::socket_dir;
use super::transport::SocketError;
use clap::Parser;
use std::process::ExitCode;
use std::time::Duration;

/// Exit status when no app runs for the profile.
const NOT_RUNNING: u8 = 1;
/// Exit status when it could not tell.
const CANNOT_TELL: u8 = 3;
/// How long the app has to answer, and how long an app that holds the profile's lock has to
/// bring its socket up.
const WAIT: Duration = Duration::from_secs(10);

#[derive(Parser, Debug)]
#[command(
    name = "countersign status",
    bin_name = "countersign status",
    about = "Tell whether Countersign runs for a profile and is signed in; never starts it",
    after_help = "Exit status: 0 it runs; 1 it does not run; 2 usage error; 3 could not tell."
)]
struct StatusArgs {
    /// Print one JSON object: {"running", "profile", "signed_in", "tray", "locked"}. The last
    /// three are left out when no app runs, or when the running app is older than them.
    #[arg(long)]
    json: bool,
    /// The profile whose app is asked.
    #[arg(long, env = "COUNTERSIGN_PROFILE", default_value = "default")]
    profile: String,
}

/// What was learnt about the profile's app.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    NotRunning,
    /// `None` for what an app older than the op or the field does not say (see [`ask`]).
    Running {
        signed_in: Option<bool>,
        /// The session has a tray (a StatusNotifier host).
        tray: Option<bool>,
        /// The app is locked (docs/approval-protocol.md, "The lock").
        locked: Option<bool>,
    },
}

/// `argv` starts with the program, then `status`.
pub fn main(argv: Vec<std::ffi::OsString>) -> ExitCode {
    let args = match StatusArgs::try_parse_from(argv.into_iter().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    if let Err(why) = crate::profile::check(&args.profile) {
        return cannot(&why.to_string());
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return cannot(&e.to_string()),
    };
    match rt.block_on(find(&args.profile)) {
        Ok(found) => {
            println!("{}", shown(&args, &found));
            match found {
                Found::Running { .. } => ExitCode::SUCCESS,
                Found::NotRunning => ExitCode::from(NOT_RUNNING),
            }
        }
        Err(why) => cannot(&why.to_string()),
    }
}

fn cannot(why: &str) -> ExitCode {
    eprintln!("countersign status: {why}");
    ExitCode::from(CANNOT_TELL)
}

/// The line printed: one JSON object with `--json`, else a sentence.
fn shown(args: &StatusArgs, found: &Found) -> String {
    let profile = &args.profile;
    if args.json {
        let mut o = serde_json::json!({
            "running": matches!(found, Found::Running { .. }),
            "profile": profile,
        });
        if let Found::Running {
            signed_in,
            tray,
            locked,
        } = found
        {
            for (key, value) in [("signed_in", signed_in), ("tray", tray), ("locked", locked)] {
                if let Some(v) = value {
                    o[key] = (*v).into();
                }
            }
        }
        return o.to_string();
    }
    let (signed_in, tray, locked) = match found {
        Found::NotRunning => return format!("Countersign is not running for profile {profile}."),
        Found::Running {
            signed_in,
            tray,
            locked,
        } => (signed_in, tray, locked),
    };
    let mut line = match signed_in {
        Some(true) => format!("Countersign is running for profile {profile}, signed in"),
        Some(false) => format!("Countersign is running for profile {profile}, not signed in"),
        None => {
            return format!(
                "Countersign is running for profile {profile}; it is older than this command and does not tell whether it is signed in (restart it to know)."
            );
        }
    };
    match tray {
        Some(true) => line.push_str(", with a tray"),
        Some(false) => line.push_str(", with no tray"),
        None => {}
    }
    if *locked == Some(true) {
        line.push_str(", locked");
    }
    line.push('.');
    line
}

/// Finds the profile's app. With no socket to connect to, an app may still be starting: it
/// holds the profile's lock before its socket is up, so a held lock means waiting for the
/// socket.
#[cfg(unix)]
async fn find(profile: &str) -> Result<Found, ClientError> {
    let dir = socket_dir::runtime_dir()?;
    let path = dir.socket(profile)?;
    let mut waited = Duration::ZERO;
    loop {
        match connection::connect_at(&path).await {
            Ok(conn) => return ask(conn).await,
            Err(e) if !e.no_app() => return Err(e.into()),
            Err(_) => {}
        }
        // Taken and dropped at once: a launch that meets it meanwhile waits and takes it
        // after all (instance.rs).
        if dir.lock(profile)?.is_some() {
            return Ok(Found::NotRunning);
        }
        if waited >= WAIT {
            return Err(ClientError::SocketLate {
                profile: profile.to_owned(),
                secs: WAIT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
}

#[cfg(windows)]
async fn find(profile: &str) -> Result<Found, ClientError> {
    match connection::connect(profile).await {
        Ok(conn) => ask(conn).await,
        Err(e) if e.no_app() => Ok(Found::NotRunning),
        Err(e) => Err(e.into()),
    }
}

/// Sends `status` and reads the answer. An app from before the op refuses it as it refuses
/// any unknown op, with a `refused` result coded `invalid_input`: it runs, and does not say
/// whether it is signed in.
async fn ask(mut conn: Connection) -> Result<Found, ClientError> {
    conn.send(&ClientMessage::Status { v: VERSION })
        .await
        .map_err(ClientError::Ask)?;
    let answer = tokio::time::timeout(WAIT, conn.next())
        .await
        .map_err(|_| ClientError::NoAnswer(WAIT.as_secs()))?;
    match answer {
        Ok(Some(AppMessage::Status(s))) => Ok(Found::Running {
            signed_in: Some(s.signed_in),
            tray: s.tray,
            locked: s.locked,
        }),
        Ok(Some(AppMessage::Result(o)))
            if o.code.as_deref() == Some(super::protocol::INVALID_INPUT) =>
        {
            Ok(Found::Running {
                signed_in: None,
                tray: None,
                locked: None,
            })
        }
        Ok(Some(other)) => Err(SocketError::Protocol(format!("{other:?}")).into()),
        Ok(None) => Err(ClientError::ClosedWithoutAnswer),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(json: bool) -> StatusArgs {
        StatusArgs {
            json,
            profile: "work".into(),
        }
    }

    #[test]
    fn the_answer_is_one_sentence_or_one_object() {
        let cases = [
            (
                Found::Running {
                    signed_in: Some(true),
                    tray: Some(true),
                    locked: Some(false),
                },
                "Countersign is running for profile work, signed in, with a tray.",
                serde_json::json!({"running": true, "profile": "work", "signed_in": true, "tray": true, "locked": false}),
            ),
            (
                Found::Running {
                    signed_in: Some(false),
                    tray: Some(false),
                    locked: Some(false),
                },
                "Countersign is running for profile work, not signed in, with no tray.",
                serde_json::json!({"running": true, "profile": "work", "signed_in": false, "tray": false, "locked": false}),
            ),
            (
                Found::Running {
                    signed_in: Some(true),
                    tray: None,
                    locked: None,
                },
                "Countersign is running for profile work, signed in.",
                serde_json::json!({"running": true, "profile": "work", "signed_in": true}),
            ),
            (
                Found::Running {
                    signed_in: None,
                    tray: None,
                    locked: None,
                },
                "Countersign is running for profile work; it is older than this command and does not tell whether it is signed in (restart it to know).",
                serde_json::json!({"running": true, "profile": "work"}),
            ),
            (
                Found::NotRunning,
                "Countersign is not running for profile work.",
                serde_json::json!({"running": false, "profile": "work"}),
            ),
        ];
        for (found, sentence, object) in cases {
            assert_eq!(shown(&args(false), &found), sentence);
            let line = shown(&args(true), &found);
            assert!(!line.contains('\n'), "{line}");
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&line).unwrap(),
                object
            );
        }
    }
}
