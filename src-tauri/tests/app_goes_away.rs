//! An app that goes away while a client talks to it (it quits, or starts itself again at rest
//! in the tray), with the real `countersign` binary as the client and a stand-in app on the
//! socket: a request it did not take is asked again once, one it took is not, a second
//! launch looks at the profile's lock again, and a request that finds the lock held and no
//! socket waits for the socket.

#![cfg(target_os = "linux")]

use countersign_lib::requests::socket::PrivateDir;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::net::unix::OwnedWriteHalf;

// Each test binary uses part of the shared harness.
#[allow(dead_code)]
mod support;

use support::{Sandbox, json, output};

/// The next connection's first line, and its writing half (dropping it closes the
/// connection).
async fn next_line(listener: &UnixListener) -> (String, OwnedWriteHalf) {
    let (s, _) = listener.accept().await.unwrap();
    let (r, w) = s.into_split();
    let mut line = String::new();
    tokio::io::BufReader::new(r)
        .read_line(&mut line)
        .await
        .unwrap();
    (line, w)
}

fn socket_dir(sandbox: &Sandbox) -> PrivateDir {
    PrivateDir::open(&sandbox.runtime().join("countersign")).unwrap()
}

/// An app that closes a connection before taking its request, as one starting itself again at
/// rest does: the command asks again, once, and the answer of the app that answers then is
/// its own. A connection closed after `queued` is not asked again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_app_closed_on_before_taking_it_is_asked_again() {
    let sandbox = Sandbox::new("not-taken");
    let dir = socket_dir(&sandbox);
    let listener = UnixListener::bind(dir.socket("t").unwrap()).unwrap();
    let app = tokio::spawn(async move {
        // Closed with no answer, before the request was taken.
        let (first, _) = next_line(&listener).await;
        let (second, mut w) = next_line(&listener).await;
        let queued = r#"{"event":"queued","v":1,"request_id":"r2","position":1}"#;
        let result = serde_json::json!({"event": "result", "v": 1, "status": "denied",
            "scope": "transfer:write", "metadata": {}, "session_id": null,
            "challenge_id": null, "grant_expires_at": null, "reason": null, "code": null});
        w.write_all(format!("{queued}\n{result}\n").as_bytes())
            .await
            .unwrap();
        [first, second].map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap())
    });
    let out =
        output(sandbox.countersign(&["approve", "--scope", "transfer:write", "--json"])).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(json(&out)["status"], "denied");
    let asked = app.await.unwrap();
    assert_eq!(asked[0], asked[1], "the same request, asked again");
    assert_eq!(asked[0]["scope"], "transfer:write");

    // Closed after `queued`: the request was taken, so it is not sent twice.
    let listener = UnixListener::bind({
        let p = dir.socket("t").unwrap();
        let _ = std::fs::remove_file(&p);
        p
    })
    .unwrap();
    let app = tokio::spawn(async move {
        let (_, mut w) = next_line(&listener).await;
        w.write_all(b"{\"event\":\"queued\",\"v\":1,\"request_id\":\"r3\",\"position\":1}\n")
            .await
            .unwrap();
        // A second connection would be a second request: none may come.
        tokio::time::timeout(Duration::from_secs(3), listener.accept())
            .await
            .is_err()
    });
    let out =
        output(sandbox.countersign(&["approve", "--scope", "transfer:write", "--json"])).await;
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("closed before answering"),
        "{out:?}"
    );
    assert!(app.await.unwrap(), "the taken request was not sent again");
}

/// A second launch whose app closes the connection without answering (it quits, or starts
/// again at rest) looks again rather than fail, and hands over to the app that answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_whose_app_went_away_before_answering_hands_over_to_the_next() {
    let sandbox = Sandbox::new("went-away");
    let dir = socket_dir(&sandbox);
    // The running app's hold on the profile.
    let _held = dir.lock("t").unwrap().expect("the profile's lock is free");
    let listener = UnixListener::bind(dir.socket("t").unwrap()).unwrap();
    let app = tokio::spawn(async move {
        let (first, _) = next_line(&listener).await;
        let (second, mut w) = next_line(&listener).await;
        w.write_all(b"{\"event\":\"shown\",\"v\":1}\n")
            .await
            .unwrap();
        [first, second]
    });
    let link = "countersign://approve?scope=transfer:write&amount=5";
    let out = output(sandbox.countersign(&[link])).await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already running"),
        "{out:?}"
    );
    let asked = app.await.unwrap();
    assert!(
        asked[1].contains("\"op\":\"show\"") && asked[1].contains(link),
        "{asked:?}"
    );
}

/// In the gap of a start again at rest the profile's lock is held and no socket answers: the
/// command waits for the socket rather than start a second launch, which would only hand the
/// app a "show" and bring its window up for a request that may never reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_the_gap_waits_for_the_socket_and_starts_no_launch() {
    let sandbox = Sandbox::new("gap");
    let held = socket_dir(&sandbox)
        .lock("t")
        .unwrap()
        .expect("the lock is free");
    let ask = sandbox.countersign(&["approve", "--scope", "transfer:write", "--json"]);
    let asked = tokio::spawn(output(ask));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !asked.is_finished(),
        "the command waits while the lock is held"
    );
    // The new image takes the lock and listens.
    drop(held);
    let desk = support::serve(&sandbox);
    let out = asked.await.unwrap();
    assert_eq!(json(&out)["status"], "denied", "{out:?}");
    // A launch the command started would find the lock held and hand over a "show".
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = desk.0.lock().unwrap();
    assert_eq!(seen.asked.len(), 1);
    assert!(
        seen.shown.is_empty(),
        "a launch was started: {:?}",
        seen.shown
    );
}

/// The lock's holder lets go with no socket (an app that quits removes its socket first): the
/// waiting command starts the app after all, with the profile it asks for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_lock_holder_ends_without_a_socket_starts_the_app() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new("holder_ends");
    // The command beside a stand-in app that only notes how it was started.
    let bin = sandbox.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(support::BIN, bin.join("countersign")).unwrap();
    let mark = sandbox.0.join("started");
    let app = bin.join("countersign-app");
    std::fs::write(&app, "#!/bin/sh\necho \"$@\" > \"$MARK\"\n").unwrap();
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o755)).unwrap();
    let held = socket_dir(&sandbox)
        .lock("t")
        .unwrap()
        .expect("the lock is free");
    let mut ask = std::process::Command::new(bin.join("countersign"));
    ask.args(["approve", "--scope", "transfer:write", "--json"]);
    sandbox.env(&mut ask);
    ask.env("MARK", &mark);
    let asked = tokio::spawn(output(ask));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!mark.exists(), "nothing is started while the lock is held");
    drop(held);
    for _ in 0..50 {
        if mark.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = std::fs::read_to_string(&mark).expect("the app was started");
    assert_eq!(started.trim(), "--profile t");
    // The started app's socket comes up: the request reaches it.
    let desk = support::serve(&sandbox);
    let out = asked.await.unwrap();
    assert_eq!(json(&out)["status"], "denied", "{out:?}");
    assert_eq!(desk.0.lock().unwrap().asked.len(), 1);
}
