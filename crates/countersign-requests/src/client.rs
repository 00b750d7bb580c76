//! `countersign approve`: asks the running app (starting it if none runs) and waits for the
//! person's answer. Exit status: 0 granted; 1 denied or blocked; 2 cancelled or timed out;
//! 3 it could not ask, or a grant came without the token `--print-access-token` asked for.

use super::client_error::ClientError;
use super::connection::{self, Connection};
use super::protocol::{AppMessage, Ask, Outcome, Status};
use clap::Parser;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit status when the request could not be put to the person.
const CANNOT_ASK: u8 = 3;
/// How long a started app has to bring its socket up.
const START_WAIT: Duration = Duration::from_secs(30);

#[derive(Parser, Debug)]
#[command(
    name = "countersign approve",
    bin_name = "countersign approve",
    about = "Ask the person at this desktop to approve an action, and wait for the answer",
    after_help = "Exit status: 0 granted; 1 denied, reported or blocked; 2 cancelled or timed out; 3 could not ask, or granted without the token --print-access-token asked for."
)]
struct ApproveArgs {
    /// The scope to approve, e.g. transfer:write.
    #[arg(long)]
    scope: String,
    /// What is approved, shown on screen and signed into the challenge (up to 5).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// Why the approval is asked, shown to the person.
    #[arg(long)]
    reason: Option<String>,
    /// Seconds to wait for the person.
    #[arg(long, default_value_t = super::protocol::DEFAULT_TIMEOUT_SECS)]
    timeout: u64,
    /// Print the outcome as one JSON object.
    #[arg(long)]
    json: bool,
    /// On a grant, print the scoped access token alone on stdout. It is a bearer secret, not
    /// bound to any key: anyone who holds it can use it until it expires.
    #[arg(long)]
    print_access_token: bool,
    /// The profile whose app is asked.
    #[arg(long, env = "COUNTERSIGN_PROFILE", default_value = "default")]
    profile: String,
    /// The server the app uses if it has to be started.
    #[arg(long, env = "COUNTERSIGN_ENDPOINT")]
    endpoint: Option<String>,
    /// The Prelude app the app uses if it has to be started.
    #[arg(long, env = "COUNTERSIGN_APP_ID")]
    app_id: Option<String>,
    /// Certificates (PEM) the app trusts if it has to be started, as its own `--ca-file`.
    #[arg(long, env = "COUNTERSIGN_CA_FILE", value_name = "FILE")]
    ca_file: Option<std::path::PathBuf>,
}

fn cannot(why: &str) -> ExitCode {
    eprintln!("countersign approve: {why}");
    ExitCode::from(CANNOT_ASK)
}

/// `argv` starts with the program, then `approve`.
pub fn main(argv: Vec<std::ffi::OsString>) -> ExitCode {
    // With --print-access-token the token passes through this process; it becomes
    // non-dumpable once the app has read who asked (it reads /proc/PID/exe, closed to it
    // for a non-dumpable process).
    #[cfg(unix)]
    if let Err(e) = crate::harden::no_core_files() {
        eprintln!("countersign approve: could not turn off core files: {e}");
    }
    let args = match ApproveArgs::try_parse_from(argv.into_iter().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(CANNOT_ASK)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let ask = match ask_of(&args) {
        Ok(a) => a,
        Err(why) => return cannot(&why.to_string()),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return cannot(&e.to_string()),
    };
    match rt.block_on(ask_app(&args, &ask)) {
        Ok(outcome) => report(&args, &outcome),
        Err(why) => cannot(&why.to_string()),
    }
}

fn ask_of(args: &ApproveArgs) -> Result<Ask, ClientError> {
    crate::profile::check(&args.profile)?;
    let mut metadata = BTreeMap::new();
    for m in &args.meta {
        let (k, v) = m
            .split_once('=')
            .ok_or_else(|| ClientError::MetaNotPair(m.clone()))?;
        if metadata.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(ClientError::MetaTwice(k.to_owned()));
        }
    }
    Ask::check(
        &args.scope,
        metadata,
        args.reason.as_deref(),
        Some(args.timeout),
        args.print_access_token,
    )
    .map_err(ClientError::from)
}

async fn ask_app(args: &ApproveArgs, ask: &Ask) -> Result<Outcome, ClientError> {
    match ask_once(args, ask).await {
        // The app went away before it took the request: Countersign starting itself again in
        // the tray (or quitting). Asked once more, of the app that answers now.
        Err(ClientError::NotTaken) => ask_once(args, ask).await,
        r => r,
    }
}

async fn ask_once(args: &ApproveArgs, ask: &Ask) -> Result<Outcome, ClientError> {
    let mut conn = match connection::connect(&args.profile).await {
        Ok(c) => c,
        Err(e) if e.no_app() => start_app(args).await?,
        // Not safe to ask (another user's folder or server): start nothing, send nothing.
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = conn.send(&ask.message()).await {
        // The app may have refused at once (it could not tell who asks) and closed: its
        // answer is still there to read.
        if let Ok(Ok(Some(AppMessage::Result(o)))) =
            tokio::time::timeout(Duration::from_secs(2), conn.next()).await
        {
            return Ok(*o);
        }
        return Err(ClientError::Send(e));
    }
    // The app enforces the timeout; this only guards against an app that stopped answering.
    let until = Duration::from_secs(ask.timeout_secs + 10);
    let wait = async {
        let mut taken = false;
        loop {
            match conn.next().await {
                Ok(Some(AppMessage::Queued {
                    position, number, ..
                })) => {
                    taken = true;
                    #[cfg(unix)]
                    if let Err(e) = crate::harden::not_dumpable() {
                        eprintln!("countersign approve: could not become non-dumpable: {e}");
                    }
                    // On the terminal, with --json too: stdout keeps its one object.
                    match number {
                        None => {}
                        Some(n) if super::matching::NUMBERS.contains(&n) => eprintln!(
                            "Countersign offers three numbers: pick {n:02} to approve this request."
                        ),
                        Some(n) => return Err(ClientError::BadNumber(n)),
                    }
                    if !args.json {
                        let ahead = position.saturating_sub(1);
                        let queue = match ahead {
                            0 => String::new(),
                            1 => " (1 request ahead)".to_owned(),
                            n => format!(" ({n} requests ahead)"),
                        };
                        eprintln!("Waiting for the approval in Countersign{queue}…");
                    }
                }
                Ok(Some(AppMessage::Result(o))) => return Ok(*o),
                Ok(Some(AppMessage::Shown { .. } | AppMessage::Status(_))) => {
                    return Err(ClientError::OtherAnswer);
                }
                Ok(None) if !taken => return Err(ClientError::NotTaken),
                Ok(None) => return Err(ClientError::Closed),
                Err(e) => return Err(e.into()),
            }
        }
    };
    match tokio::time::timeout(until, wait).await {
        Ok(r) => r,
        Err(_) => {
            let mut o = Outcome::new(Status::TimedOut, ask);
            o.reason = Some("Countersign did not answer in time".into());
            Ok(o)
        }
    }
}

/// Starts the app for this profile in its own process group, so it outlives this command,
/// and waits for its socket. An app that holds the profile's lock but has no socket yet (one
/// starting, or starting itself again at rest) is waited for instead, for as long as it holds
/// the lock: a second launch would only hand it a "show", which brings the window up for a
/// request that may never reach it (a muted or rate-limited program's).
async fn start_app(args: &ApproveArgs) -> Result<Connection, ClientError> {
    #[cfg(unix)]
    if lock_held(&args.profile)? {
        match wait_for_socket(args, None).await? {
            Waited::Connected(c) => return Ok(c),
            // The holder ended (an app quitting removes its socket first): start one.
            Waited::LockFree => {}
        }
    }
    let app =
        crate::program::beside_this_binary(crate::program::APP).map_err(ClientError::NoProgram)?;
    let mut cmd = std::process::Command::new(&app);
    cmd.args(["--profile", &args.profile])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(e) = &args.endpoint {
        cmd.args(["--endpoint", e]);
    }
    if let Some(a) = &args.app_id {
        cmd.args(["--app-id", a]);
    }
    if let Some(f) = &args.ca_file {
        cmd.arg("--ca-file").arg(f);
    }
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd
        .spawn()
        .map_err(|e| ClientError::Start(app.display().to_string(), e))?;
    match wait_for_socket(args, Some(child)).await? {
        Waited::Connected(c) => Ok(c),
        Waited::LockFree => Err(ClientError::StartTimeout(START_WAIT.as_secs())),
    }
}

/// Whether another process holds the profile's lock now: taken and dropped at once, as
/// `countersign status` does (a launch that meets it meanwhile waits and takes it).
#[cfg(unix)]
fn lock_held(profile: &str) -> Result<bool, ClientError> {
    Ok(crate::socket_dir::runtime_dir()?.lock(profile)?.is_none())
}

enum Waited {
    Connected(Connection),
    /// No app was started and the lock's holder let go without a socket.
    LockFree,
}

/// Waits for the profile's socket, up to [`START_WAIT`]. `child`, the app this command
/// started, fails the wait when it exits with a failure first; with none, the wait also ends
/// when the profile's lock comes free.
async fn wait_for_socket(
    args: &ApproveArgs,
    mut child: Option<std::process::Child>,
) -> Result<Waited, ClientError> {
    let began = Instant::now();
    while began.elapsed() < START_WAIT {
        match connection::connect(&args.profile).await {
            Ok(c) => return Ok(Waited::Connected(c)),
            Err(e) if !e.no_app() => return Err(e.into()),
            Err(_) => {}
        }
        match child.as_mut() {
            // A launch that found another app starting for the profile hands over and ends
            // well: that app's socket comes up soon.
            Some(c) => {
                if let Ok(Some(status)) = c.try_wait()
                    && !status.success()
                {
                    return Err(ClientError::ExitedAtStart(status));
                }
            }
            #[cfg(unix)]
            None if !lock_held(&args.profile)? => return Ok(Waited::LockFree),
            None => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(match child {
        Some(_) => ClientError::StartTimeout(START_WAIT.as_secs()),
        None => ClientError::SocketLate {
            profile: args.profile.clone(),
            secs: START_WAIT.as_secs(),
        },
    })
}

/// The exit status for `o`: the status's own, except that a grant without the token that
/// `--print-access-token` asked for (withheld, or none to give) could not give what was asked.
fn exit_status(print_access_token: bool, o: &Outcome) -> u8 {
    if print_access_token && o.status == Status::Granted && o.access_token.is_none() {
        CANNOT_ASK
    } else {
        o.status.exit_code()
    }
}

fn report(args: &ApproveArgs, o: &Outcome) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let printed = if args.json {
        serde_json::to_string(o)
            .map_err(std::io::Error::other)
            .and_then(|s| writeln!(out, "{s}"))
    } else if args.print_access_token && o.status == Status::Granted {
        match &o.access_token {
            Some(t) => writeln!(out, "{}", t.expose()),
            None => {
                drop(out);
                let why = o
                    .reason
                    .as_deref()
                    .unwrap_or("no access token was available");
                return cannot(&format!("granted, but no token is printed: {why}"));
            }
        }
    } else {
        writeln!(out, "{}", line(o))
    };
    if printed.is_err() {
        return ExitCode::from(CANNOT_ASK);
    }
    if args.print_access_token && !args.json {
        eprintln!("{}", line(o));
    }
    ExitCode::from(exit_status(args.print_access_token, o))
}

/// One line for a person reading a terminal.
fn line(o: &Outcome) -> String {
    let what = if o.metadata.is_empty() {
        o.scope.clone()
    } else {
        let m: Vec<String> = o.metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{} ({})", o.scope, m.join(", "))
    };
    let why = o
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    match o.status {
        Status::Granted => {
            let until = o
                .grant_expires_at
                .as_deref()
                .map(|t| format!(" until {t}"))
                .unwrap_or_default();
            let session = o
                .session_id
                .as_deref()
                .map(|s| format!(" for session {s}"))
                .unwrap_or_default();
            format!("Granted {what}{session}{until}.")
        }
        Status::Denied => format!("Denied {what}{why}."),
        Status::Reported => format!("Denied and reported {what}{why}."),
        Status::Blocked => format!("Blocked {what}{why}."),
        Status::Cancelled => format!("Cancelled {what}{why}."),
        Status::TimedOut => format!("Timed out {what}{why}."),
        Status::Refused => format!("Refused{why}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request, or the words of its refusal (clap's or the command's).
    fn parse(extra: &[&str]) -> Result<Ask, Box<str>> {
        let argv = ["countersign", "approve"]
            .iter()
            .chain(extra)
            .map(|s| (*s).to_owned());
        let args = ApproveArgs::try_parse_from(argv.skip(1))
            .map_err(|e| e.to_string().into_boxed_str())?;
        ask_of(&args).map_err(|e| e.to_string().into_boxed_str())
    }

    #[test]
    fn bad_input_is_refused_by_the_command() {
        let ok = parse(&[
            "--scope",
            "transfer:write",
            "--meta",
            "amount=500",
            "--meta",
            "note=a=b",
        ])
        .unwrap();
        assert_eq!(ok.metadata["note"], "a=b", "only the first = splits");
        for (bad, says) in [
            (&["--scope", "t", "--bogus"][..], "--bogus"),
            (&["--meta", "a=1"][..], "--scope"),
            (&["--scope", "t", "--meta", "novalue"][..], "KEY=VALUE"),
            (
                &["--scope", "t", "--meta", "a=1", "--meta", "a=2"][..],
                "twice",
            ),
            (
                &["--scope", "t", "--meta", "keyofthirteen=1"][..],
                "keyofthirteen",
            ),
            (&["--scope", "bad scope"][..], "scope"),
            (&["--scope", "t", "--timeout", "0"][..], "timeout"),
            (&["--scope", "t", "--profile", "../x"][..], "profile"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_human_line_names_the_outcome() {
        let ask = parse(&["--scope", "transfer:write", "--meta", "amount=500"]).unwrap();
        let mut o = Outcome::new(Status::Granted, &ask);
        o.session_id = Some("s1".into());
        assert_eq!(
            line(&o),
            "Granted transfer:write (amount=500) for session s1."
        );
        let o = Outcome::new(Status::Blocked, &ask)
            .because("step_up_blocked", "Your hook denied this scope.");
        assert!(line(&o).starts_with("Blocked transfer:write"));
    }

    #[test]
    fn a_withheld_token_exits_3_when_it_was_asked_for() {
        let ask = parse(&["--scope", "read:logs", "--print-access-token"]).unwrap();
        let withheld = Outcome::new(Status::Granted, &ask)
            .because("token_withheld", "it also carries another approval's scope");
        assert_eq!(exit_status(true, &withheld), 3);
        assert_eq!(
            exit_status(false, &withheld),
            0,
            "granted, and no token asked"
        );
        let mut given = Outcome::new(Status::Granted, &ask);
        given.access_token = Some(String::from("eyJ.a.b").into());
        assert_eq!(exit_status(true, &given), 0);
        let denied = Outcome::new(Status::Denied, &ask);
        assert_eq!(exit_status(true, &denied), 1);
    }
}
