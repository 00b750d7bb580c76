//! Who is at the other end of the approval socket, named from what the system vouches for.
//! The kernel gives the peer's pid (`SO_PEERCRED`, never the message); a pidfd pins that
//! process while /proc is read, and the reads count only if it is still alive afterwards,
//! so a reused pid cannot lie. The program is the executable (/proc/PID/exe, kept by the
//! kernel), not `comm`, which a process chooses. When the peer is our own `countersign
//! approve`, the program described is the one that ran it: the helper's parent.

use super::script::{interpreter, script_of};
use super::source::Requester;
use rustix::process::{Pid, PidfdFlags, pidfd_open};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a peer is not described.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The program that asked has ended, or left `countersign approve` to pid 1 or a
    /// subreaper: no one waits for the answer.
    #[error("the program that asked is gone")]
    Gone,
    /// /proc does not say (another mount, a process that hides itself).
    #[error("cannot tell which program asked: {0}")]
    Unknown(String),
}

impl PeerError {
    /// The requester's stable code for it (docs/approval-protocol.md).
    pub fn code(&self) -> &'static str {
        match self {
            PeerError::Gone => "requester_gone",
            PeerError::Unknown(_) => "requester_unknown",
        }
    }
}

/// A described peer: who the screen names, and a pidfd of that process, readable (poll(2)
/// `POLLIN`) once it ends.
pub struct Identified {
    pub requester: Requester,
    pub watch: OwnedFd,
}

/// How much of a path the screen shows; the end (the file name) is kept.
const SHOWN_CHARS: usize = 120;

/// Clock ticks since boot (the unit of /proc/PID/stat's start time), now.
pub fn boot_ticks() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let hz = rustix::param::clock_ticks_per_second();
    (t.tv_sec as u64).saturating_mul(hz) + (t.tv_nsec as u64).saturating_mul(hz) / 1_000_000_000
}

/// The `countersign` binary whose processes are helpers (`countersign approve`): the
/// program described is the one that ran them.
#[derive(Clone, Debug)]
pub struct Helper {
    path: String,
    /// Device and inode; `None` when no such file exists (yet).
    id: Option<(u64, u64)>,
}

impl Helper {
    /// The `countersign` command beside this app's binary, which is the one
    /// `countersign approve` runs. Missing, it matches a peer that runs that path once it
    /// exists (an upgrade in place), and nothing before.
    ///
    /// # Errors
    /// This binary's path cannot be read.
    pub fn beside_this_binary() -> Result<Self, PeerError> {
        use countersign_requests::program::{COMMAND, beside_this_binary};
        let path = beside_this_binary(COMMAND).map_err(|e| unknown("our executable", e))?;
        match Self::at(&path) {
            Ok(h) => Ok(h),
            Err(_) if !path.exists() => Ok(Self {
                path: without_deleted(&path),
                id: None,
            }),
            Err(e) => Err(e),
        }
    }

    /// The binary this process runs (a test's own binary as the helper).
    ///
    /// # Errors
    /// /proc/self/exe cannot be read.
    pub fn this_binary() -> Result<Self, PeerError> {
        Self::at(Path::new("/proc/self/exe"))
    }

    /// The binary at `path` (a link is followed).
    ///
    /// # Errors
    /// It cannot be read.
    pub fn at(path: &Path) -> Result<Self, PeerError> {
        let meta = std::fs::metadata(path).map_err(|e| unknown("our executable", e))?;
        let real = std::fs::canonicalize(path)
            .or_else(|_| std::fs::read_link(path))
            .map_err(|e| unknown("our executable", e))?;
        Ok(Self {
            path: without_deleted(&real),
            id: Some((meta.dev(), meta.ino())),
        })
    }

    /// Whether `p` runs it: the same file, or the same path when the file was replaced
    /// since one of them started.
    fn runs_in(&self, p: &Process) -> bool {
        self.id == Some(p.exe_id) || self.path == without_deleted(&p.exe)
    }
}

fn without_deleted(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.strip_suffix(" (deleted)").unwrap_or(&s).to_owned()
}

/// Describes the peer with process id `pid` that connected no later than `accepted` (clock
/// ticks since boot, from [`boot_ticks`] at accept time); a peer that runs `helper` is
/// described by its parent.
///
/// # Errors
/// [`PeerError::Gone`] when the peer or its caller has ended (or the pid now names a process
/// started after the connection); [`PeerError::Unknown`] when /proc does not tell.
pub fn identify(pid: i32, accepted: u64, helper: &Helper) -> Result<Identified, PeerError> {
    let peer = Process::read(pid)?;
    // A process that started after the connection is not the peer: its pid was reused.
    if peer.stat.start > accepted.saturating_add(1) {
        return Err(PeerError::Gone);
    }
    if !helper.runs_in(&peer) {
        return Ok(peer.describe());
    }
    // Our own helper: the program is whoever ran it.
    let ppid = peer.stat.ppid;
    if ppid <= 1 {
        return Err(PeerError::Gone);
    }
    let parent = Process::read(ppid)?;
    // The helper still has that parent after its pidfd was opened, so the pidfd pins the
    // process that ran the helper (a parent that ends hands its children over at once).
    if peer.reread()?.ppid != ppid || parent.stat.start > peer.stat.start {
        return Err(PeerError::Gone);
    }
    if parent.ns_pid == Some(1) {
        return Err(PeerError::Gone);
    }
    if peer.stat.sid != parent.stat.sid {
        return Err(if peer.stat.sid == peer.pid {
            PeerError::Unknown(OWN_SESSION.to_owned())
        } else {
            PeerError::Gone
        });
    }
    Ok(parent.describe())
}

/// Why a helper in a session other than its parent's is not described. A subreaper is not
/// marked in /proc, and a process keeps its session when it is handed over: a helper outside
/// its parent's session was either handed to a subreaper when its caller ended, or started in
/// a session of its own (`setsid`, `start_new_session`), whose caller may have left it at
/// once (`setsid -f`). The two cannot be told apart, so neither is put to the person.
const OWN_SESSION: &str = "countersign approve runs in a session of its own, so the program that ran it cannot be told from one that took it in; run it in its caller's session";

/// Whether the process behind `pidfd` has ended: a pidfd is readable from then on (poll(2)
/// `POLLIN`, pidfd_open(2)). Does not wait.
///
/// # Errors
/// poll's errno.
pub fn has_ended(pidfd: &OwnedFd) -> nix::Result<bool> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    Ok(poll(&mut fds, PollTimeout::ZERO)? > 0)
}

/// What /proc/PID/stat says, after the command name (which may hold anything).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stat {
    ppid: i32,
    sid: i32,
    /// Clock ticks after boot.
    start: u64,
}

/// Fields 4 (ppid), 6 (session) and 22 (start time) of proc_pid_stat(5).
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state).
    Some(Stat {
        ppid: f.get(1)?.parse().ok()?,
        sid: f.get(3)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
    })
}

/// The pid in the innermost pid namespace, from the `NSpid:` line of /proc/PID/status.
fn parse_ns_pid(status: &str) -> Option<i32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// /proc/PID/cmdline: NUL-separated arguments.
fn split_cmdline(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// `text` as the screen may show it: characters that are invisible or reorder the text
/// (controls, format characters such as bidi controls and zero-width ones, separators
/// other than the space) are written as `\u{…}`, and a long text keeps its end.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || (c.is_whitespace() && c != ' ') || hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    let n = out.chars().count();
    if n > SHOWN_CHARS {
        let tail: String = out.chars().skip(n - (SHOWN_CHARS - 1)).collect();
        return format!("…{tail}");
    }
    out
}

/// Default-ignorable and format characters (Unicode `Cf` and its neighbours): invisible, or
/// able to reorder what follows.
fn hidden(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0x110BD | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// One process as /proc shows it, read while a pidfd pins it.
struct Process {
    pid: i32,
    pidfd: OwnedFd,
    exe: PathBuf,
    /// Device and inode of the executable.
    exe_id: (u64, u64),
    argv: Vec<String>,
    stat: Stat,
    ns_pid: Option<i32>,
}

fn unknown(what: &str, e: impl std::fmt::Display) -> PeerError {
    PeerError::Unknown(format!("{what}: {e}"))
}

impl Process {
    fn read(pid: i32) -> Result<Self, PeerError> {
        let p = Pid::from_raw(pid).ok_or(PeerError::Gone)?;
        let pidfd = pidfd_open(p, PidfdFlags::empty()).map_err(|e| {
            if e == rustix::io::Errno::SRCH {
                PeerError::Gone
            } else {
                unknown("pidfd_open", e)
            }
        })?;
        let dir = PathBuf::from(format!("/proc/{pid}"));
        let gone_or = |what: &'static str| {
            move |e: std::io::Error| match e.kind() {
                std::io::ErrorKind::NotFound => PeerError::Gone,
                _ => unknown(what, e),
            }
        };
        let exe = std::fs::read_link(dir.join("exe")).map_err(gone_or("its executable"))?;
        let meta = std::fs::metadata(dir.join("exe")).map_err(gone_or("its executable"))?;
        let argv =
            split_cmdline(&std::fs::read(dir.join("cmdline")).map_err(gone_or("its arguments"))?);
        let stat = std::fs::read_to_string(dir.join("stat")).map_err(gone_or("its stat"))?;
        let status = std::fs::read_to_string(dir.join("status")).map_err(gone_or("its status"))?;
        let process = Self {
            pid,
            exe,
            exe_id: (meta.dev(), meta.ino()),
            argv,
            stat: parse_stat(&stat).ok_or_else(|| unknown("its stat", "unreadable"))?,
            ns_pid: parse_ns_pid(&status),
            pidfd,
        };
        // Alive after the reads: the pid named the pinned process all along.
        process.alive()?;
        Ok(process)
    }

    fn alive(&self) -> Result<(), PeerError> {
        match has_ended(&self.pidfd) {
            Ok(false) => Ok(()),
            Ok(true) => Err(PeerError::Gone),
            Err(e) => Err(unknown("poll", e)),
        }
    }

    /// Its stat again, while it is still the pinned process.
    fn reread(&self) -> Result<Stat, PeerError> {
        let text = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .map_err(|_| PeerError::Gone)?;
        self.alive()?;
        parse_stat(&text).ok_or_else(|| unknown("its stat", "unreadable"))
    }

    fn describe(self) -> Identified {
        let script = interpreter(&self.exe)
            .and_then(|i| script_of(&i, &self.argv))
            .map(|s| shown(&s));
        Identified {
            requester: Requester {
                executable: shown(&self.exe.to_string_lossy()),
                script,
                pid: self.pid as u32,
            },
            watch: self.pidfd,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        // A command name may hold spaces and parentheses: fields count from the last ')'.
        let line = "4242 (evil) 1 2 3 (x) S 77 4242 88 34816 4242 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 2412544 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 77,
                sid: 88,
                start: 123456
            })
        );
        assert_eq!(parse_stat("12 (short) S 1"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
        let me = std::fs::read_to_string("/proc/self/stat").unwrap();
        let s = parse_stat(&me).unwrap();
        assert_eq!(s.ppid as u32, std::os::unix::process::parent_id());
        assert!(s.start <= boot_ticks());
    }

    #[test]
    fn the_innermost_pid_and_the_arguments() {
        assert_eq!(
            parse_ns_pid("Name:\tx\nNSpid:\t4242\t17\t1\nNSpgid:\t1"),
            Some(1)
        );
        assert_eq!(parse_ns_pid("NSpid:\t4242\n"), Some(4242));
        assert_eq!(parse_ns_pid("Name:\tx\n"), None);
        assert_eq!(
            split_cmdline(b"/bin/sh\0./deploy.sh\0--fast\0\0"),
            args(&["/bin/sh", "./deploy.sh", "--fast"])
        );
        assert_eq!(split_cmdline(b""), Vec::<String>::new());
    }

    #[test]
    fn interpreters_are_known_by_their_executable() {
        for yes in [
            "/usr/bin/dash",
            "/bin/bash",
            "/usr/bin/python3",
            "/usr/bin/python3.11",
            "/usr/bin/perl5.36.0",
            "/usr/local/bin/node",
            "/usr/bin/ruby3.1",
            "/usr/bin/zsh (deleted)",
        ] {
            assert!(interpreter(Path::new(yes)).is_some(), "{yes}");
        }
        assert_eq!(
            interpreter(Path::new("/usr/bin/python3.11")).as_deref(),
            Some("python")
        );
        for no in [
            "/usr/bin/countersign",
            "/usr/bin/git",
            "/opt/shx",
            "/usr/bin/bashful",
        ] {
            assert_eq!(interpreter(Path::new(no)), None, "{no}");
        }
    }

    #[test]
    fn the_script_is_the_first_argument_that_is_not_an_option() {
        let cases: &[(&str, &[&str], Option<&str>)] = &[
            (
                "sh",
                &["sh", "/srv/deploy.sh", "prod"],
                Some("/srv/deploy.sh"),
            ),
            ("bash", &["bash", "-e", "-x", "./pay.sh"], Some("./pay.sh")),
            (
                "bash",
                &["bash", "-o", "pipefail", "+o", "x", "./pay.sh"],
                Some("./pay.sh"),
            ),
            (
                "python",
                &["python3", "-u", "-W", "ignore", "tools/pay.py", "-c"],
                Some("tools/pay.py"),
            ),
            ("perl", &["perl", "-w", "pay.pl"], Some("pay.pl")),
            ("bash", &["bash", "--", "-weird.sh"], Some("-weird.sh")),
            (
                "bash",
                &["bash", "-c", "countersign approve --scope s"],
                None,
            ),
            ("python", &["python3", "-m", "pay"], None),
            ("perl", &["perl", "-e", "system('countersign')"], None),
            ("node", &["node", "--eval", "x"], None),
            ("sh", &["sh"], None),
            ("sh", &["sh", "-"], None),
            ("sh", &["sh", "-s", "a"], None),
            // Options written together: inline code is not a script.
            ("sh", &["sh", "-ec", "countersign approve --scope s"], None),
            ("bash", &["bash", "-xc", "echo", "pay.sh"], None),
            ("python", &["python3", "-Bc", "import os"], None),
            ("python", &["python3", "-Im", "pay"], None),
            ("perl", &["perl", "-we", "system('countersign')"], None),
            ("ruby", &["ruby", "-we", "x"], None),
            (
                "python",
                &["python3", "-uW", "ignore", "pay.py"],
                Some("pay.py"),
            ),
            ("python", &["python3", "-Wignore", "pay.py"], Some("pay.py")),
            ("perl", &["perl", "-wMstrict", "pay.pl"], Some("pay.pl")),
            ("bash", &["bash", "-ex", "./pay.sh"], Some("./pay.sh")),
        ];
        for (i, argv, want) in cases {
            assert_eq!(script_of(i, &args(argv)).as_deref(), *want, "{argv:?}");
        }
    }

    #[test]
    fn what_is_shown_cannot_hide_or_reorder() {
        assert_eq!(shown("/home/zoé/pay.sh"), "/home/zoé/pay.sh");
        assert_eq!(shown("/tmp/\u{202e}hs.yap"), "/tmp/\\u{202e}hs.yap");
        assert_eq!(
            shown("a\u{200b}b\nc\u{2028}d"),
            "a\\u{200b}b\\u{a}c\\u{2028}d"
        );
        let long = format!("/{}/pay.sh", "d".repeat(300));
        let s = shown(&long);
        assert_eq!(s.chars().count(), SHOWN_CHARS);
        assert!(s.starts_with('…') && s.ends_with("/pay.sh"), "{s}");
    }

    #[test]
    fn our_own_binary_is_described_by_the_program_that_ran_it() {
        // As a peer, this process runs this very binary, as `countersign approve` does: the
        // requester is its parent (the test runner).
        let me = std::process::id() as i32;
        let got = identify(me, boot_ticks(), &Helper::this_binary().unwrap()).unwrap();
        let parent = std::os::unix::process::parent_id();
        let exe = std::fs::read_link(format!("/proc/{parent}/exe")).unwrap();
        assert_eq!(got.requester.executable, exe.to_string_lossy());
        assert_eq!(got.requester.pid, parent);
        assert!(
            !has_ended(&got.watch).unwrap(),
            "the watch is on a live process"
        );
    }

    #[test]
    fn another_program_is_described_by_its_executable() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let got = identify(
            child.id() as i32,
            boot_ticks(),
            &Helper::this_binary().unwrap(),
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let got = got.unwrap();
        let sleep = std::fs::canonicalize(which("sleep")).unwrap();
        assert_eq!(got.requester.executable, sleep.to_string_lossy());
        assert_eq!(
            (got.requester.script, got.requester.pid),
            (None, child.id())
        );
        assert!(has_ended(&got.watch).unwrap(), "the watch sees it end");
    }

    fn which(name: &str) -> PathBuf {
        std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|d| d.join(name))
            .find(|p| p.exists())
            .unwrap()
    }

    #[test]
    fn a_process_newer_than_the_connection_is_not_the_peer() {
        let me = std::process::id() as i32;
        let started = parse_stat(&std::fs::read_to_string("/proc/self/stat").unwrap())
            .unwrap()
            .start;
        // As if the connection had been accepted before this process started: a reused pid.
        assert_eq!(
            identify(
                me,
                started.saturating_sub(5),
                &Helper::this_binary().unwrap()
            )
            .err(),
            Some(PeerError::Gone)
        );
        // A process that has ended.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert_eq!(
            identify(pid, boot_ticks(), &Helper::this_binary().unwrap()).err(),
            Some(PeerError::Gone)
        );
    }
}
