//! Approvals asked by other programs, end to end: `countersign approve` runs as a subprocess
//! against the real window, which runs against a standalone `prelude-emulator`.

use countersign_e2e::{App, AppRef, EmulatorProc, Proc, Sandbox, TestResult, finish};
use serde_json::{Value, json};
use std::sync::Arc;

const PHONE: &str = "+33612345678";

async fn sign_in(app: &AppRef, emu: &EmulatorProc) -> TestResult {
    app.wait_stage("login").await?;
    app.fill("identifier-input", PHONE).await?;
    app.click("send-code").await?;
    app.wait_stage("code").await?;
    let code = emu.nth_code(1).await;
    app.fill("login-code-input", &code).await?;
    app.click("verify-login").await?;
    app.wait_stage("logged").await
}

fn emulator() -> Arc<EmulatorProc> {
    Arc::new(EmulatorProc::start(&["--resend-cooldown", "1"]))
}

fn ask(sandbox: &Sandbox, args: &[&str]) -> Proc {
    let mut all = vec!["approve"];
    all.extend_from_slice(args);
    Proc::spawn(sandbox.countersign(&all))
}

/// `countersign approve ARGS…` run by a shell script, as a deploy script would; and the
/// script's path.
fn ask_from_script(sandbox: &Sandbox, args: &[&str]) -> (Proc, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let script = sandbox.dir.join("pay.sh");
    // The command is not the script's last, so the shell waits for it rather than exec it.
    std::fs::write(
        &script,
        "#!/bin/sh\n\"$COUNTERSIGN\" approve \"$@\"\nstatus=$?\nexit $status\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let base = sandbox.countersign(&[]);
    let mut c = std::process::Command::new(&script);
    c.args(args)
        .env("COUNTERSIGN", base.get_program())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    (Proc::spawn(c), script)
}

/// How the screen names this test process when it runs `countersign approve` itself.
fn this_test() -> String {
    format!(
        "{} (pid {})",
        std::env::current_exe().unwrap().display(),
        std::process::id()
    )
}

/// Waits until the request on screen has `reason`.
async fn wait_request(app: &AppRef, reason: &str) -> TestResult {
    app.wait_stage("request").await?;
    app.wait_script(
        "return document.querySelector('[data-testid=request-reason]')?.textContent || '';",
        &format!("the request {reason:?} on screen"),
        |v| v.as_str() == Some(reason),
    )
    .await?;
    Ok(())
}

async fn step_up_with(app: &AppRef, code: &str) -> TestResult {
    app.wait_stage("step-up-otp").await?;
    app.fill("stepup-code-input", code).await?;
    app.click("verify-stepup").await?;
    app.wait_stage("done").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_from_a_script_is_granted() {
    let emu = emulator();
    let sandbox = Arc::new(Sandbox::new("req_granted"));
    let app = App::launch("req_granted", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu).await?;
        let session = app.full_text("session-id").await?;
        assert!(session.starts_with("ses_"), "session id {session:?}");
        let (mut cli, script) = ask_from_script(
            &sandbox,
            &[
                "--scope",
                "transfer:write",
                "--meta",
                "amount=500",
                "--meta",
                "currency=EUR",
                "--meta",
                "payee=ACME Ltd",
                "--reason",
                "Pay invoice 2291",
                "--json",
            ],
        );
        wait_request(&app, "Pay invoice 2291").await?;
        // The script's interpreter, as the system names it, and the script it says it runs;
        // not countersign, the helper the script ran.
        let sh = std::fs::canonicalize("/bin/sh")?;
        let source = app.full_text("request-source").await?;
        assert_eq!(source, format!("{} (pid {})", sh.display(), cli.id()));
        let claim = app.full_text("request-script").await?;
        assert_eq!(
            claim,
            format!("· running {}, by its own account", script.display())
        );
        let title = app.text("request-title").await?;
        assert!(
            title.contains("ACME Ltd") && title.contains("500"),
            "{title}"
        );
        // The amount and its currency are one formatted value, the payee a row of its own.
        let meta = app.text("request-metadata").await?;
        assert!(
            meta.contains("€") && meta.contains("500.00") && meta.contains("PayeeACME Ltd"),
            "{meta}"
        );
        app.shot("01-request").await;
        app.pick_number(cli.match_number().await).await?;
        app.click("approve-request").await?;
        app.wait_stage("step-up-otp").await?;
        assert_eq!(app.full_text("request-source").await?, source);
        // At the default size, every answer is in view without scrolling.
        for testid in [
            "stepup-code-input",
            "verify-stepup",
            "deny-request",
            "deny-report",
        ] {
            assert!(app.in_view(testid).await?, "{testid} at 1040x760");
        }
        app.shot("02-step-up").await;
        step_up_with(&app, &emu.nth_code(2).await).await?;
        assert!(app.text("grant-requester").await?.contains("was told"));
        app.shot("03-granted").await;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(0), "{out:?}");
        let v: Value = serde_json::from_str(out.stdout.trim())?;
        assert_eq!(v["status"], "granted");
        assert_eq!(v["scope"], "transfer:write");
        assert_eq!(
            v["metadata"],
            json!({"amount": "500", "currency": "EUR", "payee": "ACME Ltd"})
        );
        assert_eq!(v["session_id"], session.as_str());
        assert!(
            v["challenge_id"].as_str().is_some_and(|c| !c.is_empty()),
            "{v}"
        );
        assert!(v["grant_expires_at"].as_str().is_some(), "{v}");
        assert!(v.get("access_token").is_none(), "no token unless asked");

        // With --print-access-token, stdout is the token alone.
        app.click("back-to-account").await?;
        app.wait_stage("logged").await?;
        let mut cli = ask(
            &sandbox,
            &[
                "--scope",
                "transfer:write",
                "--meta",
                "amount=7",
                "--reason",
                "token",
                "--print-access-token",
            ],
        );
        wait_request(&app, "token").await?;
        app.pick_number(cli.match_number().await).await?;
        app.click("approve-request").await?;
        step_up_with(&app, &emu.nth_code(3).await).await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(0), "{out:?}");
        let token = out.stdout.trim();
        assert_eq!(token.split('.').count(), 3, "a JWT alone: {token:?}");
        assert!(out.stderr.contains("Granted transfer:write"), "{out:?}");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_reported_timed_out_and_blocked() {
    let emu = emulator();
    let sandbox = Arc::new(Sandbox::new("req_denied"));
    let app = App::launch("req_denied", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu).await?;
        let cli = ask(
            &sandbox,
            &["--scope", "transfer:write", "--reason", "deny me", "--json"],
        );
        wait_request(&app, "deny me").await?;
        app.click("deny-request").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(out.stdout.contains(r#""status":"denied""#), "{out:?}");

        let cli = ask(
            &sandbox,
            &[
                "--scope",
                "transfer:write",
                "--reason",
                "too slow",
                "--timeout",
                "2",
            ],
        );
        let out = finish(cli).await;
        assert_eq!(out.code, Some(2), "{out:?}");
        assert!(out.stdout.starts_with("Timed out"), "{out:?}");
        app.wait_stage("logged").await?;
        assert!(
            app.text("notice")
                .await?
                .contains("was not answered in time")
        );

        // A report mutes the program that asked: here a script, so the test's own requests
        // (another program) still reach the screen.
        let (mut cli, script) = ask_from_script(
            &sandbox,
            &["--scope", "transfer:write", "--reason", "report me"],
        );
        wait_request(&app, "report me").await?;
        app.pick_number(cli.match_number().await).await?;
        app.click("approve-request").await?;
        app.wait_stage("step-up-otp").await?;
        app.click("deny-report").await?;
        app.el("revoke-after-report").await?;
        app.shot("01-reported").await;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(out.stdout.starts_with("Denied and reported"), "{out:?}");
        // Its next request is refused unseen, and the person is told once.
        let (cli, _) = ask_from_script(
            &sandbox,
            &["--scope", "transfer:write", "--reason", "again", "--json"],
        );
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        let v: Value = serde_json::from_str(out.stdout.trim())?;
        assert_eq!(
            (v["status"].as_str(), v["code"].as_str()),
            (Some("denied"), Some("muted")),
            "{v}"
        );
        app.wait_script(
            "return document.querySelector('[data-testid=notice]')?.textContent || '';",
            "the mute told",
            |t| t.as_str().is_some_and(|t| t.contains("20 minutes")),
        )
        .await?;
        app.shot("02-muted").await;
        assert_eq!(app.stage().await?, "logged", "nothing reached the screen");

        emu.put_stepup(json!({"allowed_scopes": [{
            "scope": "transfer:write", "mode": "direct",
            "direct": {"identifier_types": ["phone_number"], "status": "block",
                       "granted_for": 300, "grant_mode": "session-bound"}
        }]}))
        .await;
        let mut cli = ask(
            &sandbox,
            &["--scope", "transfer:write", "--reason", "blocked", "--json"],
        );
        wait_request(&app, "blocked").await?;
        app.pick_number(cli.match_number().await).await?;
        app.click("approve-request").await?;
        app.wait_error("Your hook denied this scope.").await?;
        let out = finish(cli).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        let v: Value = serde_json::from_str(out.stdout.trim())?;
        assert_eq!(v["status"], "blocked");
        assert_eq!(v["reason"], "Your hook denied this scope.");

        // A fourth request within the minute from the same program never reaches the screen.
        let out = finish(ask(
            &sandbox,
            &["--scope", "transfer:write", "--reason", "fourth", "--json"],
        ))
        .await;
        assert_eq!(out.code, Some(3), "{out:?}");
        let v: Value = serde_json::from_str(out.stdout.trim())?;
        assert_eq!(
            (v["status"].as_str(), v["code"].as_str()),
            (Some("refused"), Some("rate_limited")),
            "{v}"
        );

        // Every request is in the audit log with its requester.
        let log = std::fs::read_to_string(
            sandbox
                .dir
                .join("data/dev.countersign.Countersign")
                .join(format!("approvals-{}.jsonl", sandbox.profile)),
        )?;
        for outcome in ["denied", "timed_out", "blocked", "refused"] {
            assert!(
                log.lines()
                    .any(|l| l.contains(&format!(r#""outcome":"{outcome}""#))
                        && l.contains(&format!(r#""requester":"{}""#, this_test()))),
                "{outcome} in {log}"
            );
        }
        let script = script.display().to_string();
        for outcome in ["reported", "denied"] {
            assert!(
                log.lines().any(
                    |l| l.contains(&format!(r#""outcome":"{outcome}""#)) && l.contains(&script)
                ),
                "{outcome} by the script in {log}"
            );
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_queue_in_order_and_a_dead_requester_leaves() {
    let emu = emulator();
    let sandbox = Arc::new(Sandbox::new("req_queue"));
    let app = App::launch("req_queue", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        sign_in(&app, &emu).await?;
        let first = ask(
            &sandbox,
            &["--scope", "transfer:write", "--reason", "first"],
        );
        wait_request(&app, "first").await?;
        // Started one after the other, so their order in the queue is known.
        let waiting = |n: &'static str| {
            let app = app.clone();
            async move {
                app.wait_script(
                    "return document.querySelector('[data-testid=queue-count]').textContent;",
                    n,
                    |v| v.as_str() == Some(n),
                )
                .await
            }
        };
        let second = ask(
            &sandbox,
            &["--scope", "transfer:write", "--reason", "second"],
        );
        waiting("1 more waiting").await?;
        let third = ask(
            &sandbox,
            &["--scope", "transfer:write", "--reason", "third"],
        );
        waiting("2 more waiting").await?;
        app.shot("01-queue").await;
        // The first requester dies: its request leaves, and the next one is shown.
        let mut first = first;
        first.kill();
        wait_request(&app, "second").await?;
        assert!(app.text("notice").await?.contains("stopped waiting"));
        assert_eq!(app.text("queue-count").await?, "1 more waiting");
        app.click("deny-request").await?;
        wait_request(&app, "third").await?;
        app.click("deny-request").await?;
        app.wait_stage("logged").await?;
        let (second, third) = (finish(second).await, finish(third).await);
        assert_eq!(
            (second.code, third.code),
            (Some(1), Some(1)),
            "{second:?} {third:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_bad_input_and_the_socket() {
    let emu = emulator();
    let sandbox = Arc::new(Sandbox::new("req_links"));
    let app = App::launch("req_links", &sandbox, Some(&emu.url)).await;
    app.run(move |app| async move {
        app.wait_stage("login").await?;
        // Nobody signed in: the command could not ask.
        let out = finish(ask(&sandbox, &["--scope", "transfer:write"])).await;
        assert_eq!(out.code, Some(3), "{out:?}");
        assert!(out.stdout.contains("no one is signed in"), "{out:?}");
        sign_in(&app, &emu).await?;

        // Bad input is refused by the command, and nothing reaches the screen.
        for (args, says) in [
            (&["--scope", "transfer:write", "--bogus"][..], "--bogus"),
            (&["--scope", "transfer:write", "--meta", "abcdefghijklm=1"][..], "abcdefghijklm"),
            (&["--scope", "transfer:write", "--meta", &format!("k={}", "v".repeat(33))][..], "32"),
            (&["--scope", "transfer:write", "--meta", "a=1", "--meta", "b=1", "--meta", "c=1", "--meta", "d=1", "--meta", "e=1", "--meta", "f=1"][..], "5"),
            (&["--scope", "not a scope"][..], "scope"),
        ] {
            let out = finish(ask(&sandbox, args)).await;
            assert_eq!(out.code, Some(3), "{args:?}: {out:?}");
            assert!(out.stderr.contains(says), "{args:?}: {out:?}");
        }
        assert_eq!(app.stage().await?, "logged");
        assert_eq!(app.script("return document.querySelector('[data-testid=queue-count]').hidden;").await?, true);

        // The socket is private.
        let sock = sandbox.runtime_dir().join("countersign").join(format!("{}.sock", sandbox.profile));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&sock)?.permissions().mode() & 0o777, 0o600);

        // A link (a second launch of the app) opens the request, marked as from a link; the
        // same link again is collapsed into it.
        let link = "countersign://approve?scope=transfer:write&amount=12&currency=EUR&reason=From%20a%20link";
        for _ in 0..2 {
            let out = finish(Proc::spawn(sandbox.countersign(&[link]))).await;
            assert_eq!(out.code, Some(0), "{out:?}");
        }
        wait_request(&app, "From a link").await?;
        assert_eq!(app.text("request-source").await?, "a link");
        assert_eq!(app.script("return document.querySelector('[data-testid=queue-count]').hidden;").await?, true);
        // A transfer with no payee cannot be judged: its row says so, as a warning.
        let payee = app
            .script(
                "const r = document.querySelector('#stage-root [data-fact=no-payee]'); \
                 const d = r?.querySelector('dd'); \
                 return r ? [r.querySelector('dt').textContent, d.textContent, getComputedStyle(d, '::before').content] : null;",
            )
            .await?;
        assert_eq!(payee, json!(["Payee", "not given", "\"⚠ \""]), "{payee}");
        app.shot("01-link").await;
        app.click("deny-request").await?;
        app.wait_stage("logged").await?;

        // Another user's process is refused by the peer check, even with the path open to it.
        if std::process::Command::new("id").arg("-u").output()?.stdout == b"0\n"
            && std::process::Command::new("setpriv").arg("--version").output().is_ok()
        {
            let dir = sock.parent().unwrap().to_owned();
            for p in [&sandbox.dir, &sandbox.runtime_dir(), &dir, &sock] {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777))?;
            }
            // perl-base is in every Debian: a peer that speaks the protocol as user nobody. The app
            // may drop it before it has written: a write to the closed socket must not kill it.
            let mut peer = std::process::Command::new("setpriv");
            peer
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "perl", "-MIO::Socket::UNIX", "-e"])
                .arg(r#"$SIG{PIPE} = "IGNORE"; my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!"; print $s qq({"op":"approve","v":1,"scope":"transfer:write"}\n); my $l = <$s>; print defined $l ? $l : "closed\n";"#)
                .arg(&sock)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let res = finish(Proc::spawn(peer)).await;
            std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600))?;
            assert_eq!(res.stdout.trim(), "closed", "{res:?}");
            assert_eq!(app.stage().await?, "logged");
        } else {
            eprintln!("not root or no setpriv: the other-uid check is covered by the mode test only");
        }
        Ok(())
    })
    .await;
}
