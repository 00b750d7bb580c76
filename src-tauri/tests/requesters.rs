//! The approval socket with the real `countersign` binary as the client, and a recording desk
//! in place of the window: who the app names as the requester, which folder it trusts, and
//! how a later launch hands its link to the app that runs.

#![cfg(target_os = "linux")]

use countersign_lib::requests::socket::PrivateDir;
use countersign_lib::requests::source::{Requester, Source};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;

use support::{BIN, Sandbox, finish, json, output, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_is_named_by_its_interpreter_and_its_path_not_by_countersign() {
    let sandbox = Sandbox::new("script");
    let desk = serve(&sandbox);
    // The helper is not the last command, so the shell waits for it rather than exec it.
    let body =
        "\"$CS\" approve --scope transfer:write --meta amount=5 --timeout 30 --json\necho done\n";
    let by_shebang = sandbox.script("pay.sh", &format!("#!/bin/sh\n{body}"));
    let by_bash = sandbox.script("deploy.sh", body);
    let cases = [
        (Command::new(&by_shebang), "/bin/sh", by_shebang.clone()),
        (
            {
                let mut c = Command::new("bash");
                c.arg(&by_bash);
                c
            },
            "/usr/bin/bash",
            by_bash.clone(),
        ),
    ];
    for (n, (mut cmd, interpreter, script)) in cases.into_iter().enumerate() {
        sandbox.env(&mut cmd);
        let child = cmd.spawn().unwrap();
        let shell_pid = child.id();
        let out = finish(child).await;
        assert_eq!(json(&out)["status"], "denied", "{out:?}");
        // The number goes to the terminal; stdout is the one object and the script's echo.
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 2, "{stdout}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(" 42 "),
            "{out:?}"
        );
        let seen = desk.0.lock().unwrap();
        let (source, _) = &seen.asked[n];
        assert_eq!(
            source,
            &Source::Program(Requester {
                executable: std::fs::canonicalize(interpreter)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                script: Some(script.to_string_lossy().into_owned()),
                pid: shell_pid,
            }),
            "the script's interpreter, not countersign"
        );
        assert!(source.label().contains("by its own account"));
        assert!(!source.label().contains("countersign (pid"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_asks_directly_is_named_by_its_executable() {
    let sandbox = Sandbox::new("direct");
    let desk = serve(&sandbox);
    // perl is the peer itself here, with no script file: nothing is claimed.
    let sock = sandbox.runtime().join("countersign/t.sock");
    let mut peer = Command::new("perl");
    peer.args(["-MIO::Socket::UNIX", "-e"])
        .arg(r#"my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!"; print $s qq({"op":"approve","v":1,"scope":"transfer:write"}\n); while (my $l = <$s>) { print $l }"#)
        .arg(&sock);
    sandbox.env(&mut peer);
    let child = peer.spawn().unwrap();
    let pid = child.id();
    let out = finish(child).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("denied"),
        "{out:?}"
    );
    let seen = desk.0.lock().unwrap();
    assert_eq!(
        seen.asked[0].0,
        Source::Program(Requester {
            executable: std::fs::canonicalize("/usr/bin/perl")
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            script: None,
            pid,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_whose_caller_is_gone_is_withdrawn() {
    // This test process takes orphans in, as a session's subreaper (systemd --user) does.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let sandbox = Sandbox::new("orphan");
    let desk = serve(&sandbox);
    // The script leaves the helper behind and ends; setsid gives it a session of its own, as
    // a terminal does.
    let script = sandbox.script(
        "leave.sh",
        "\"$CS\" approve --scope transfer:write --meta amount=9 --timeout 30 --json &\nexit 0\n",
    );
    let mut cmd = Command::new("setsid");
    cmd.arg("sh").arg(&script);
    sandbox.env(&mut cmd);
    // The helper keeps the pipe: this reads until it ends.
    let out = output(cmd).await;
    let v = json(&out);
    assert_eq!(v["code"], "requester_gone", "{v}");
    let seen = desk.0.lock().unwrap();
    // Either it never reached the desk, or it was withdrawn when the script ended.
    assert_eq!(
        seen.asked.len(),
        seen.withdrawn.len(),
        "{:?}",
        seen.withdrawn
    );
    assert!(
        seen.asked
            .iter()
            .all(|(s, _)| s.label().contains("leave.sh")),
        "never named after the reaper"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_in_a_session_of_its_own_is_not_named_after_its_parent() {
    // This test process takes orphans in, as a session's subreaper (systemd --user) does.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let sandbox = Sandbox::new("own_session");
    let desk = serve(&sandbox);
    // `setsid -f` starts the helper in a session of its own and leaves it at once: its parent
    // is then the subreaper, which never asked.
    let mut cmd = Command::new("setsid");
    cmd.args([
        "-f",
        BIN,
        "approve",
        "--scope",
        "transfer:write",
        "--meta",
        "amount=9",
        "--timeout",
        "30",
        "--json",
    ]);
    sandbox.env(&mut cmd);
    let out = output(cmd).await;
    let v = json(&out);
    assert_eq!(v["status"], "refused", "{v}");
    assert_eq!(v["code"], "requester_unknown", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .is_some_and(|r| r.contains("session of its own")),
        "{v}"
    );
    assert!(
        desk.0.lock().unwrap().asked.is_empty(),
        "never put to the person, named after the subreaper"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_in_capitals_is_handed_to_the_running_app() {
    let sandbox = Sandbox::new("caps");
    let desk = serve(&sandbox);
    let link = "COUNTERSIGN://approve?scope=transfer:write&amount=5";
    let out = output(sandbox.countersign(&[link])).await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(desk.0.lock().unwrap().shown, vec![Some(link.to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_flag_is_named_and_starts_nothing() {
    let sandbox = Sandbox::new("bogus");
    let desk = serve(&sandbox);
    for argv in [&["--bogus"][..], &["--profile", "t", "--bogus=1"]] {
        let out = output(sandbox.countersign(argv)).await;
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("'--bogus'"), "{argv:?}: {err}");
    }
    // A bad value is a usage error too.
    let out = output(sandbox.countersign(&["--profile", "../x"])).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"../x\""));
    // Nothing reached the running app: the launch stopped before it forwarded anything.
    assert!(desk.0.lock().unwrap().shown.is_empty());
}

/// `countersign status ARGS…`: its exit status and stdout.
async fn status(sandbox: &Sandbox, args: &[&str]) -> (Option<i32>, String) {
    let out = output(sandbox.countersign(&[&["status"], args].concat())).await;
    assert!(out.stderr.is_empty(), "{out:?}");
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap().trim_end().to_owned(),
    )
}

fn object(line: &str) -> serde_json::Value {
    assert!(!line.contains('\n'), "one line: {line}");
    serde_json::from_str(line).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_whether_the_app_runs_and_is_signed_in_and_starts_none() {
    let sandbox = Sandbox::new("status");
    // No app: exit 1, and none is started.
    let (code, line) = status(&sandbox, &["--json"]).await;
    assert_eq!(code, Some(1));
    assert_eq!(
        object(&line),
        serde_json::json!({"running": false, "profile": "t"})
    );
    assert_eq!(
        status(&sandbox, &[]).await,
        (
            Some(1),
            "Countersign is not running for profile t.".to_owned()
        )
    );
    // Other tests' apps may run for profile `t` meanwhile, each in a runtime dir of its own.
    let mine = format!("XDG_RUNTIME_DIR={}", sandbox.runtime().display());
    let started: Vec<u32> = apps()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .unwrap_or_default()
                .split(|b| *b == 0)
                .any(|v| v == mine.as_bytes())
        })
        .collect();
    assert!(started.is_empty(), "no app was started: {started:?}");
    assert!(!sandbox.runtime().join("countersign/t.sock").exists());

    let desk = serve(&sandbox);
    let (code, line) = status(&sandbox, &["--json"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(
        object(&line),
        serde_json::json!({"running": true, "profile": "t", "signed_in": false, "tray": false, "locked": false})
    );
    desk.0.lock().unwrap().signed_in = true;
    let (code, line) = status(&sandbox, &["--json"]).await;
    assert_eq!(code, Some(0));
    // No lock or tray yet: those fields are left out rather than said false.
    assert_eq!(
        object(&line),
        serde_json::json!({"running": true, "profile": "t", "signed_in": true, "tray": false, "locked": false})
    );
    assert_eq!(
        status(&sandbox, &[]).await,
        (
            Some(0),
            "Countersign is running for profile t, signed in, with no tray.".to_owned()
        )
    );
    {
        let seen = desk.0.lock().unwrap();
        assert_eq!(seen.statuses, 3);
        assert!(
            seen.asked.is_empty() && seen.shown.is_empty(),
            "status asks nothing else"
        );
    }

    let out = output(sandbox.countersign(&["status", "--bogus"])).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("'--bogus'"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_answered_to_a_helper_whose_caller_is_gone() {
    // As in a_helper_whose_caller_is_gone_is_withdrawn: this process is the subreaper, and
    // the script leaves the command behind in its own session.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let sandbox = Sandbox::new("status-orphan");
    let desk = serve(&sandbox);
    desk.0.lock().unwrap().signed_in = true;
    let go = sandbox.0.join("go");
    nix::unistd::mkfifo(&go, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let answer = sandbox.0.join("answer");
    // The command starts only once the script has ended and it was handed to this process.
    let script = sandbox.script(
        "leave.sh",
        "(read _ < \"$GO\"; exec \"$CS\" status --json > \"$ANSWER\"; ) &\nexit 0\n",
    );
    let mut cmd = Command::new("setsid");
    cmd.arg("sh")
        .arg(&script)
        .env("GO", &go)
        .env("ANSWER", &answer);
    sandbox.env(&mut cmd);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    assert!(cmd.status().unwrap().success());
    std::fs::write(&go, "go\n").unwrap();
    let mut line = String::new();
    for _ in 0..600 {
        line = std::fs::read_to_string(&answer).unwrap_or_default();
        if line.ends_with('\n') {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        object(line.trim_end()),
        serde_json::json!({"running": true, "profile": "t", "signed_in": true, "tray": false, "locked": false})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_older_than_status_is_said_to_run() {
    let sandbox = Sandbox::new("status-old");
    let _desk = serve(&sandbox);
    // What an app answers to an op it does not know, as an app from before `status` did.
    let sock = sandbox.runtime().join("countersign/t.sock");
    let mut peer = Command::new("perl");
    peer.args(["-MIO::Socket::UNIX", "-e"])
        .arg(r#"my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!"; print $s qq({"op":"frobnicate","v":1}\n); print scalar <$s>"#)
        .arg(&sock);
    sandbox.env(&mut peer);
    let out = output(peer).await;
    let refused = json(&out);
    assert_eq!(
        (
            refused["event"].as_str(),
            refused["status"].as_str(),
            refused["code"].as_str()
        ),
        (Some("result"), Some("refused"), Some("invalid_input")),
        "{refused}"
    );
    drop(_desk);

    // An older app in its place answers `status` the same way.
    let old = Sandbox::new("status-older");
    let dir = PrivateDir::open(&old.runtime().join("countersign")).unwrap();
    let listener = tokio::net::UnixListener::bind(dir.socket("t").unwrap()).unwrap();
    let line = serde_json::to_string(&refused).unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let (s, _) = listener.accept().await.unwrap();
        let (r, mut w) = s.into_split();
        let mut asked = String::new();
        tokio::io::BufReader::new(r)
            .read_line(&mut asked)
            .await
            .unwrap();
        assert_eq!(asked, "{\"op\":\"status\",\"v\":1}\n");
        w.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    });
    let (code, line) = status(&old, &["--json"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(
        object(&line),
        serde_json::json!({"running": true, "profile": "t"})
    );
}

/// `countersign approve` with no runtime dir, its temp dir `tmp`.
fn approve_in_tmp(sandbox: &Sandbox, tmp: &Path) -> Command {
    let mut c = sandbox.countersign(&["approve", "--scope", "transfer:write"]);
    c.env_remove("XDG_RUNTIME_DIR").env("TMPDIR", tmp);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_refuses_a_socket_folder_that_is_not_its_own() {
    let sandbox = Sandbox::new("unsafe");
    let tmp = sandbox.0.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let uid = nix::unistd::geteuid();
    let folder = tmp.join(format!("countersign-{uid}"));
    let refused = |says: &'static str| {
        let c = approve_in_tmp(&sandbox, &tmp);
        async move {
            let out = output(c).await;
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_eq!(out.status.code(), Some(3), "{err}");
            assert!(
                err.contains("no safe folder") && err.contains(says),
                "{err}"
            );
        }
    };
    // Others may enter it.
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&folder)
        .unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    refused("mode 755").await;
    std::fs::remove_dir(&folder).unwrap();
    // A link to a folder that is fine in itself.
    let real = tmp.join("real");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&real)
        .unwrap();
    std::os::unix::fs::symlink(&real, &folder).unwrap();
    refused("symbolic link").await;
    std::fs::remove_file(&folder).unwrap();
    // Someone else's, made first.
    if uid.is_root() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&folder)
            .unwrap();
        nix::unistd::chown(&folder, Some(65534.into()), Some(65534.into())).unwrap();
        refused("belongs to uid 65534").await;
        assert_eq!(
            std::fs::read_dir(&folder).unwrap().count(),
            0,
            "nothing was made in it"
        );
    } else {
        eprintln!("not root: another user's folder is covered by socket.rs's unit tests only");
    }
}

/// The app processes running for profile `t` of this binary.
fn apps() -> Vec<u32> {
    let bin = std::fs::canonicalize(support::APP).unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
            let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = args.split(|b| *b == 0).collect();
            exe.as_deref() == Some(bin.as_path())
                && !args.contains(&&b"approve"[..])
                && args.windows(2).any(|w| w == [&b"--profile"[..], &b"t"[..]])
                && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                    !s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_requests_at_once_with_no_app_start_one_app_and_both_reach_it() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "this test starts the app's window: run it under xvfb-run (scripts/test.sh does)"
    );
    let sandbox = Sandbox::new("two");
    let ask = |n: &str| {
        let mut c = sandbox.countersign(&[
            "approve",
            "--scope",
            "transfer:write",
            "--reason",
            n,
            "--timeout",
            "60",
            "--json",
        ]);
        c.env("COUNTERSIGN_RENDERING", "cpu");
        output(c)
    };
    let (a, b) = tokio::join!(ask("first"), ask("second"));
    // A launch that handed itself over may still be ending as the answers arrive.
    let mut running = apps();
    for _ in 0..100 {
        if running.len() <= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        running = apps();
    }
    // Both reached an app that read its profile: no one is signed in to this fresh one.
    for out in [&a, &b] {
        assert_eq!(json(out)["code"], "not_signed_in", "{out:?}");
    }
    assert_eq!(running.len(), 1, "one app for the profile: {running:?}");
    let app = running[0];
    // The app writes no core file (its memory holds the DPoP key and the refresh token).
    let limits = std::fs::read_to_string(format!("/proc/{app}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
        ["0", "0"],
        "{core}"
    );
    // A third launch, the app running, hands over and ends.
    let out = output(sandbox.countersign(&[])).await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(apps(), running);
    // The real app answers `status`: it runs, and no one signed in to this fresh profile.
    let (code, line) = status(&sandbox, &["--json"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(
        object(&line),
        serde_json::json!({"running": true, "profile": "t", "signed_in": false, "tray": false, "locked": false})
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(app as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    for _ in 0..100 {
        if apps().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(apps().is_empty(), "the app ended");
}
