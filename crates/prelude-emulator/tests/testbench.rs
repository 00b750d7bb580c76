//! What testers drive: scenario files (export, import, start from one), the clock, and the
//! switches for lost and late messages, an unreachable hook and rewritten signed metadata.

mod common;

use common::*;
use prelude_emulator::customer::CustomerBackend;
use prelude_emulator::{Config, Emulator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn import(t: &T, body: &str) -> reqwest::Response {
    t.http
        .put(t.url("/emulator/v1/scenario"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn put_faults(t: &T, faults: Value) {
    let r = t.put_json("/emulator/v1/faults", &faults).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn export_import_export_gives_the_same_file_and_holds_no_secret() {
    let t = T::new().await;
    let r = t
        .http
        .post(t.url("/emulator/v1/users"))
        .bearer_auth(prelude_emulator::DEFAULT_MANAGEMENT_KEY)
        .json(&json!({"identifiers": [{"type": "email_address", "value": "bo@example.com"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    put_faults(
        &t,
        json!({"delay_ms": 5, "clock_skew_secs": 60, "messages_lost": false}),
    )
    .await;
    let (at, _) = t.login(&Key::new(7)).await;
    t.request(&at, "transfer:write").await;

    let first = t.get_json("/emulator/v1/scenario").await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["users"].as_array().unwrap().len(), 2);
    assert_eq!(first["faults"]["clock_skew_secs"], 60);
    let text = first.to_string();
    for secret in [
        "seed",
        "\"keys\"",
        "rt_",
        "eyJ",
        "refresh",
        "verification_token",
        "verification_id",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    for m in t.emu.outbox() {
        assert!(!text.contains(&m.code), "a code in the scenario");
    }
    // Into a fresh emulator, and out again: the same file.
    let other = T::new().await;
    let r = import(&other, &text).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(other.get_json("/emulator/v1/scenario").await, first);
    let r = import(&t, &text).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(t.get_json("/emulator/v1/scenario").await, first);
    // The in-process API agrees.
    assert_eq!(
        serde_json::to_value(t.emu.export_scenario()).unwrap(),
        first
    );
}

#[tokio::test]
async fn a_bad_file_is_refused_by_name_and_changes_nothing() {
    let t = T::new().await;
    let before = t.get_json("/emulator/v1/scenario").await;
    let mut unknown = before.clone();
    unknown["surprise"] = json!(1);
    let mut bad_user = before.clone();
    bad_user["users"][0]["colour"] = json!("blue");
    let mut bad_value = before.clone();
    bad_value["faults"]["delay_ms"] = json!(999_999);
    let mut twice = before.clone();
    let u = twice["users"][0].clone();
    let mut u2 = u.clone();
    u2["id"] = json!("usr_second");
    twice["users"] = json!([u, u2]);
    let mut newer = before.clone();
    newer["version"] = json!(2);
    for (body, named) in [
        ("not json".to_owned(), "not valid"),
        (unknown.to_string(), "surprise"),
        (bad_user.to_string(), "colour"),
        (bad_value.to_string(), "faults.delay_ms"),
        (twice.to_string(), "belongs to two users"),
        (newer.to_string(), "version"),
    ] {
        let r = import(&t, &body).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(v["code"], "invalid_request");
        assert!(
            v["message"].as_str().unwrap().contains(named),
            "{named}: {}",
            v["message"]
        );
        assert_eq!(
            t.get_json("/emulator/v1/scenario").await,
            before,
            "unchanged after {named}"
        );
    }
}

#[test]
fn the_binary_starts_from_a_scenario_file_and_refuses_a_bad_one() {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("emu-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut s = rt.block_on(async {
        let emu = Emulator::start(Config::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let s = emu.export_scenario();
        emu.shutdown().await;
        s
    });
    s.users[0].identifiers.push(
        serde_json::from_value(json!(
            {"type": "email_address", "value": "second@example.com"}
        ))
        .unwrap(),
    );
    s.faults.clock_skew_secs = 120;
    let file = dir.join("scenario.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&s).unwrap()).unwrap();

    let (mut child, base) = spawn_binary(&["--scenario".as_ref(), file.as_os_str()]);
    let got: Value = rt.block_on(async {
        reqwest::get(format!("{base}/emulator/v1/scenario"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got, serde_json::to_value(&s).unwrap());

    std::fs::write(&file, r#"{"version": 1, "what": true}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_prelude-emulator"))
        .args(["--listen", "127.0.0.1:0", "--scenario"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("what"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn lost_and_late_messages() {
    let t = T::new().await;
    let phone = |n: u32| json!({"identifier": {"type": "phone_number", "value": format!("+3361234500{n}")}});
    put_faults(&t, json!({"messages_lost": true})).await;
    assert_eq!(
        t.post("/otp", phone(1)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(t.emu.outbox().is_empty(), "never delivered");

    put_faults(&t, json!({"message_delay_ms": 400})).await;
    let sent = Instant::now();
    assert_eq!(
        t.post("/otp", phone(2)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(t.emu.outbox().is_empty(), "not yet delivered");
    while t.emu.outbox().is_empty() {
        assert!(sent.elapsed() < Duration::from_secs(5), "never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sent.elapsed() >= Duration::from_millis(400));
    let r = t
        .put_json("/emulator/v1/faults", &json!({"message_delay_ms": 120_001}))
        .await;
    assert_eq!(code_of(r).await.1, "invalid_request");
}

#[tokio::test]
async fn an_unreachable_hook_blocks_its_scope_without_a_call() {
    let customer = CustomerBackend::start(json!({"status": "continue", "granted_for": 60,
        "grant_mode": "session-bound"}))
    .await
    .unwrap();
    let t = T::new().await;
    t.put_stepup(delegated(&customer.hook_url(), &customer.jwks_url()))
        .await;
    let (at, _) = t.login(&Key::new(8)).await;
    put_faults(&t, json!({"hook_unreachable": true})).await;
    assert_eq!(t.request(&at, "transfer:write").await["status"], "block");
    assert!(customer.calls().is_empty());
    put_faults(&t, json!({})).await;
    assert_eq!(t.request(&at, "transfer:write").await["status"], "continue");
    assert_eq!(customer.calls().len(), 1);
}

#[tokio::test]
async fn the_metadata_switch_changes_what_challenge_tokens_sign() {
    let t = T::new().await;
    let (at, _) = t.login(&Key::new(10)).await;
    put_faults(&t, json!({"rewrite_signed_metadata": true})).await;
    assert_eq!(
        t.get_json("/emulator/v1/faults").await["rewrite_signed_metadata"],
        true
    );
    assert_eq!(
        t.get_json("/emulator/v1/scenario").await["faults"]["rewrite_signed_metadata"],
        true,
        "scenario files carry the switch"
    );
    let answer = t.request(&at, "transfer:write").await;
    let signed = claims_of(answer["challenge_token"].as_str().unwrap());
    assert_eq!(
        signed["metadata"],
        json!({"amount": "5000", "currency": "EUR0"}),
        "every value differs from what was asked"
    );
    put_faults(&t, json!({})).await;
    let answer = t.request(&at, "transfer:write").await;
    let signed = claims_of(answer["challenge_token"].as_str().unwrap());
    assert_eq!(
        signed["metadata"],
        json!({"amount": "500", "currency": "EUR"})
    );
}

#[tokio::test]
async fn the_clock_moves_and_expires_what_it_passes() {
    let t = T::new().await;
    let (at, _) = t.login(&Key::new(9)).await;
    let r = t
        .put_json("/emulator/v1/clock", &json!({"offset_secs": 61}))
        .await;
    let clock: Value = r.json().await.unwrap();
    assert_eq!(clock["offset_secs"], 61);
    assert!((clock["now"].as_i64().unwrap() - now() - 61).abs() <= 2);
    let r = t
        .http
        .get(t.htu("/me/list"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the access token lapsed"
    );
    let r = t
        .put_json("/emulator/v1/clock", &json!({"offset_secs": 0}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = t
        .http
        .get(t.htu("/me/list"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "back to now");
}

/// The demo inbox marks what became of each code: used, out of tries, or expired.
#[tokio::test]
async fn outbox_marks_used_spent_and_expired_codes() {
    let t = &T::new().await;
    let status = |i: usize| async move {
        let list = t.get_json("/emulator/v1/outbox").await;
        list[i]["status"].as_str().unwrap_or_default().to_owned()
    };
    let ask = |phone: &'static str| {
        t.post(
            "/otp",
            json!({"identifier": {"type": "phone_number", "value": phone}}),
        )
    };
    // Used: the right code.
    let vt = verification_token(&ask("+33612345611").await);
    assert_eq!(status(0).await, "live");
    let code = t.emu.outbox()[0].code.clone();
    assert_eq!(t.check(&vt, &code).await.status(), StatusCode::OK);
    assert_eq!(status(0).await, "used");
    // Out of tries: five wrong codes.
    let vt = verification_token(&ask("+33612345612").await);
    let right = t.emu.outbox()[1].code.clone();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        t.check(&vt, wrong).await;
    }
    assert_eq!(status(1).await, "no_tries_left");
    assert_eq!(
        status(0).await,
        "used",
        "another number's code is untouched"
    );
    // Expired: its time passes on the server's clock.
    ask("+33612345613").await;
    assert_eq!(status(2).await, "live");
    t.emu.state().set_clock_offset(11 * 60);
    assert_eq!(status(2).await, "expired");
    assert_eq!(
        t.emu.outbox()[2].status,
        prelude_emulator::CodeStatus::Expired
    );
    assert_eq!(
        status(1).await,
        "no_tries_left",
        "an ended code stays as it ended"
    );
}

#[tokio::test]
async fn outbox_says_how_every_code_stopped_working() {
    let t = &T::new().await;
    let status = |i: usize| async move {
        let list = t.get_json("/emulator/v1/outbox").await;
        list[i]["status"].as_str().unwrap_or_default().to_owned()
    };
    let ask = |phone: &'static str| {
        t.post(
            "/otp",
            json!({"identifier": {"type": "phone_number", "value": phone}}),
        )
    };
    // Replaced: a new code for the same number, however it is spelt, ends the one before.
    let first = verification_token(&ask("+33612345621").await);
    ask("+33612345621").await;
    assert_eq!(
        (status(0).await, status(1).await),
        ("replaced".into(), "live".into())
    );
    ask("+33 6 12 34 56 21").await;
    assert_eq!(status(1).await, "replaced");
    let old = t.emu.outbox()[0].code.clone();
    assert_eq!(
        t.check(&first, &old).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status(2).await, "live");

    // Session ended: a step-up code of a session that was revoked.
    let key = Key::new(70);
    let (at, rt) = t.login(&key).await;
    let ct = t.request(&at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        t.post("/otp", json!({"challenge_token": ct}))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let n = t.emu.outbox().len() - 1;
    assert_eq!(status(n).await, "live");
    let r = t
        .http
        .post(t.htu("/revoke"))
        .header("x-refresh-token", &rt)
        .header("dpop", key.proof("POST", &t.htu("/revoke"), None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(status(n).await, "session_ended");
    // No new code goes out for it either.
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(t.emu.outbox().len(), n + 1);

    // Expired with its step: a step shorter than the code's own ten minutes.
    t.put_stepup(
        json!({"allowed_scopes": [{"scope": "transfer:write", "mode": "direct",
        "direct": {"status": "review", "granted_for": 300, "grant_mode": "session-bound",
            "steps": [{"order": 1, "key": "verify_sms", "expiration_duration": 60}]}}]}),
    )
    .await;
    let (at, _) = t.login(&Key::new(71)).await;
    let ct = t.request(&at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    t.post("/otp", json!({"challenge_token": ct})).await;
    let n = t.emu.outbox().len() - 1;
    assert_eq!(status(n).await, "live");
    t.emu.state().set_clock_offset(61);
    assert_eq!(status(n).await, "expired");

    // Forgotten once expired: it stays expired when the clock is moved back.
    let vt = verification_token(&ask("+33612345622").await);
    let n = t.emu.outbox().len() - 1;
    let app = t.emu.state();
    app.data().purge(app.now() + 601, &app.cfg);
    t.emu.state().set_clock_offset(0);
    assert_eq!(status(n).await, "expired");
    let code = t.emu.outbox()[n].code.clone();
    assert_eq!(t.check(&vt, &code).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn outbox_shows_codes_locked_out_while_the_lockout_lasts() {
    let t = T::with(Config {
        resend_cooldown_secs: 0,
        lockout_failures: 2,
        lockout_secs: 60,
        ..Config::default()
    })
    .await;
    let r = t
        .post(
            "/otp",
            json!({"identifier": {"type": "email_address", "value": "ada@example.com"}}),
        )
        .await;
    let vt = verification_token(&r);
    let right = t.emu.outbox()[0].code.clone();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..2 {
        t.check(&vt, wrong).await;
    }
    let status = || async { t.get_json("/emulator/v1/outbox").await[0]["status"].clone() };
    assert_eq!(status().await, "locked_out");
    assert_eq!(
        code_of(t.check(&vt, &right).await).await.1,
        "too_many_attempts"
    );
    // The lockout ends before the code's time does: it works again, and shows so.
    t.emu.state().set_clock_offset(61);
    assert_eq!(status().await, "live");
    assert_eq!(t.check(&vt, &right).await.status(), StatusCode::OK);
    assert_eq!(status().await, "used");
}

/// What becomes of one verification marks its own messages alone, even when another carries
/// the same code to the same number (`--fixed-code`), and a verification forgotten to make
/// room for a new one stays expired when the clock is moved back.
#[tokio::test]
async fn outbox_marks_each_verification_on_its_own() {
    let t = &T::with(Config {
        resend_cooldown_secs: 0,
        fixed_code: Some("123456".into()),
        ..Config::default()
    })
    .await;
    let status = |i: usize| async move {
        let list = t.get_json("/emulator/v1/outbox").await;
        list[i]["status"].as_str().unwrap_or_default().to_owned()
    };
    // A step-up code for +33612345678, then a login code to the same number: both 123456.
    let (at, _) = t.login(&Key::new(72)).await;
    let ct = t.request(&at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let step_up = t.emu.outbox().len() - 1;
    let vt = verification_token(
        &t.post(
            "/otp",
            json!({"identifier": {"type": "phone_number", "value": "+33 6 12 34 56 78"}}),
        )
        .await,
    );
    let login = step_up + 1;
    assert_eq!(t.check(&vt, "123456").await.status(), StatusCode::OK);
    assert_eq!(status(login).await, "used");
    assert_eq!(
        status(step_up).await,
        "live",
        "the step-up code still works"
    );

    // Room for a new verification: the expired one is forgotten, and says so for good.
    let t = &T::with(Config {
        resend_cooldown_secs: 0,
        max_verifications: 1,
        ..Config::default()
    })
    .await;
    let ask = |phone: &'static str| {
        t.post(
            "/otp",
            json!({"identifier": {"type": "phone_number", "value": phone}}),
        )
    };
    ask("+33612345631").await;
    t.emu.state().set_clock_offset(11 * 60);
    assert_eq!(ask("+33612345632").await.status(), StatusCode::NO_CONTENT);
    t.emu.state().set_clock_offset(0);
    let list = t.get_json("/emulator/v1/outbox").await;
    assert_eq!(list[0]["status"], "expired");
    assert_eq!(list[1]["status"], "live");
}

/// A session forgotten when its refresh token expires ends its step-up codes, and they say so.
#[tokio::test]
async fn outbox_says_session_ended_when_a_session_expires() {
    let t = &T::with(Config {
        resend_cooldown_secs: 0,
        refresh_ttl_secs: 60,
        ..Config::default()
    })
    .await;
    let (at, _) = t.login(&Key::new(73)).await;
    let ct = t.request(&at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let n = t.emu.outbox().len() - 1;
    let app = t.emu.state();
    app.data().purge(app.now() + 61, &app.cfg);
    let list = t.get_json("/emulator/v1/outbox").await;
    assert_eq!(list[n]["status"], "session_ended");
}

/// An imported scenario without a user ends that user's sessions and their step-up codes.
#[tokio::test]
async fn a_scenario_without_a_user_ends_its_sessions() {
    let t = &T::new().await;
    let key = Key::new(74);
    let (at, rt) = t.login(&key).await;
    let ct = t.request(&at, "transfer:write").await["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t.post("/otp", json!({"challenge_token": ct})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let n = t.emu.outbox().len() - 1;
    let mut s = t.emu.export_scenario();
    s.users.clear();
    t.emu.import_scenario(s).unwrap();
    assert_eq!(
        t.refresh(&key, &rt, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let list = t.get_json("/emulator/v1/outbox").await;
    assert_eq!(list[n]["status"], "session_ended");
}
