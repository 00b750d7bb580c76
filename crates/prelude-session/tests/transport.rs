//! What the client takes from its transport: plain HTTP only to this computer, bodies up to
//! 1 MiB, and the server's clock only within 30 days of ours.

mod common;

use common::*;
use prelude_session::{
    ClientConfig, Endpoint, Error, MAX_CLOCK_SKEW_SECS, MAX_RESPONSE_BYTES, MemoryStore,
    SessionClient,
};
use serde_json::json;
use std::sync::Arc;

#[test]
fn plain_http_beyond_this_computer_is_refused() {
    for url in [
        "http://192.0.2.10:4010",
        "http://10.0.0.1",
        "http://0.0.0.0:4010",
        "http://example.com",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://[2001:db8::1]:4010",
        "http://[::]:4010",
        "HTTP://EMU.EXAMPLE/",
    ] {
        let e = Endpoint::url(url).unwrap_err();
        assert_eq!(e.code(), "plain_http_refused", "{url}");
        assert!(matches!(&e, Error::PlainHttp { .. }), "{url}");
        let words = e.to_string();
        assert!(words.contains("127.0.0.0/8"), "{words}");
        assert!(words.contains("https://"), "{words}");
    }
    for url in [
        "http://127.0.0.1:4010",
        "http://127.8.9.10",
        "http://localhost:4010",
        "http://LocalHost",
        "http://[::1]:4010",
        "http://[::ffff:127.0.0.1]:4010",
        "https://192.0.2.10:4010",
        "https://emu.example",
    ] {
        assert!(Endpoint::url(url).is_ok(), "{url}");
    }
}

#[test]
fn an_endpoint_made_by_hand_is_checked_too() {
    let endpoint = Endpoint::Url(url::Url::parse("http://192.0.2.10:4010").unwrap());
    let e =
        SessionClient::new(ClientConfig::new(endpoint), Arc::new(MemoryStore::new())).unwrap_err();
    assert_eq!(e.code(), "plain_http_refused");
}

#[test]
fn extra_roots_must_hold_a_certificate() {
    let mut cfg = ClientConfig::new(Endpoint::url("https://emu.example").unwrap());
    for bad in [&b"not a certificate"[..], b""] {
        cfg.extra_root_pem = Some(bad.to_vec());
        let e = SessionClient::new(cfg.clone(), Arc::new(MemoryStore::new())).unwrap_err();
        assert_eq!(e.code(), "invalid_input");
    }
}

/// An error body of exactly `len` bytes.
fn error_body(len: usize) -> Vec<u8> {
    let mut b = br#"{"code":"bad_request","message":"padded"}"#.to_vec();
    b.resize(len, b' ');
    b
}

#[tokio::test]
async fn a_body_past_one_mebibyte_is_refused_however_it_comes() {
    let json = ("content-type", "application/json");
    // Announced by Content-Length.
    let announced = stand_in(move |_| {
        http_answer(
            "400 Bad Request",
            &[json],
            &error_body(MAX_RESPONSE_BYTES + 1),
        )
    })
    .await;
    // Chunked: no length said.
    let chunked = stand_in(|_| {
        let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
        for _ in 0..40 {
            out.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
            out.extend_from_slice(&[b' '; 64 * 1024]);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    })
    .await;
    // Up to the connection's end.
    let until_close = stand_in(|_| {
        let mut out =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
                .to_vec();
        out.resize(out.len() + 2 * MAX_RESPONSE_BYTES, b' ');
        out
    })
    .await;
    for url in [announced, chunked, until_close] {
        let c = signed_in_client(&url);
        let e = c.refresh().await.unwrap_err();
        assert!(
            matches!(e, Error::ResponseTooLarge { limit } if limit == MAX_RESPONSE_BYTES),
            "{url}: {e:?}"
        );
        assert_eq!(e.code(), "response_too_large");
    }
    // Exactly the limit is read.
    let at_limit =
        stand_in(move |_| http_answer("400 Bad Request", &[json], &error_body(MAX_RESPONSE_BYTES)))
            .await;
    let e = signed_in_client(&at_limit).refresh().await.unwrap_err();
    assert!(matches!(e, Error::BadRequest { .. }), "{e:?}");
}

/// A server whose clock is `skew` seconds from ours: it refuses a proof whose `iat` is more
/// than 300 s from its clock, as the emulator does, and dates every answer by its clock.
async fn skewed_server(skew: i64) -> String {
    stand_in(move |head| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let server_now = now + skew;
        let date = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(server_now as u64),
        );
        let iat = proof_iat(head).unwrap_or(0);
        let headers = [
            ("content-type", "application/json"),
            ("date", date.as_str()),
            ("x-refresh-token", "rt_2"),
        ];
        if (iat - server_now).abs() > 300 {
            return http_answer(
                "400 Bad Request",
                &headers,
                br#"{"code":"invalid_dpop_proof","message":"iat is outside the window"}"#,
            );
        }
        let exp = server_now + 60;
        let access = unsigned_jwt(&json!({"sub": "usr_1", "sid": "ses_1", "exp": exp}));
        let body = json!({ "access_token": access, "expires_at": exp });
        http_answer("200 OK", &headers, body.to_string().as_bytes())
    })
    .await
}

fn proof_iat(head: &str) -> Option<i64> {
    use base64::Engine as _;
    let proof = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("dpop"))?
        .1
        .trim();
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(proof.split('.').nth(1)?)
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&claims).ok()?["iat"].as_i64()
}

#[tokio::test]
async fn a_server_clock_within_thirty_days_is_corrected_for() {
    for skew in [29 * 86_400, -29 * 86_400, MAX_CLOCK_SKEW_SECS - 60] {
        let c = signed_in_client(&skewed_server(skew).await);
        c.refresh()
            .await
            .unwrap_or_else(|e| panic!("{skew}: {e:?}"));
        assert!(
            c.access_token().is_some(),
            "{skew}: the expiry is moved onto our clock"
        );
    }
}

#[tokio::test]
async fn a_server_clock_past_thirty_days_is_refused_in_words() {
    for (skew, words) in [
        (31 * 86_400, "31 days ahead of"),
        (-40 * 86_400, "40 days behind"),
        (MAX_CLOCK_SKEW_SECS + 3_600, "30 days ahead of"),
    ] {
        let c = signed_in_client(&skewed_server(skew).await);
        let e = c.refresh().await.unwrap_err();
        assert!(matches!(e, Error::ClockSkew { .. }), "{skew}: {e:?}");
        assert_eq!(e.code(), "clock_skew_too_large");
        let said = e.to_string();
        assert!(
            said.starts_with("this computer's clock, or the server's, is off"),
            "{said}"
        );
        assert!(said.contains(words), "{said}");
        // Nothing was adopted: a second try meets the same refusal.
        assert!(matches!(c.refresh().await, Err(Error::ClockSkew { .. })));
    }
}

#[tokio::test]
async fn the_bench_moves_the_emulators_clock_a_week_either_way() {
    for week in [7 * 86_400, -7 * 86_400] {
        let emu = emulator().await;
        let c = client(&emu);
        login(&emu, &c, PHONE).await;
        move_clock(&emu, week);
        c.refresh()
            .await
            .unwrap_or_else(|e| panic!("{week}: {e:?}"));
        let ch = c.request_step_up("transfer:write", None).await.unwrap();
        c.send_step_up_otp(&ch).await.unwrap();
        assert!(
            c.submit_step_up_otp(&ch, &last_code(&emu).code)
                .await
                .unwrap()
                .is_completed(),
            "{week}: the step-up passes on the moved clock"
        );
    }
}
