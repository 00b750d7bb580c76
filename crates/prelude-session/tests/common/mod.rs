//! Shared set-up: a real emulator on a loopback port and a client with an in-memory store.
#![allow(dead_code)]

use prelude_emulator::{Config, Emulator, OutboxMessage};
use prelude_session::{ClientConfig, Endpoint, Identifier, MemoryStore, SessionClient};
use std::sync::Arc;
use std::time::Duration;

pub const PHONE: &str = "+33612345678";

pub async fn emulator() -> Emulator {
    emulator_with(Config::default()).await
}

/// Moves the emulator's clock forward, past a cooldown or an expiry, instead of sleeping.
pub fn move_clock(emu: &Emulator, secs: i64) {
    let app = emu.state();
    app.set_clock_offset(app.clock_offset() + secs);
}

/// Waits until the emulator has received `n` more requests on `route` than `before`.
pub async fn arrived(emu: &Emulator, route: &str, before: u64, n: u64) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while emu.state().request_count(route) < before + n {
        assert!(
            std::time::Instant::now() < until,
            "{route} never reached the emulator"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn emulator_with(cfg: Config) -> Emulator {
    Emulator::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

pub fn client(emu: &Emulator) -> SessionClient {
    client_with_store(emu, Arc::new(MemoryStore::new()))
}

pub fn client_with_store(emu: &Emulator, store: Arc<MemoryStore>) -> SessionClient {
    let mut cfg = ClientConfig::new(Endpoint::url(&emu.url()).unwrap());
    cfg.timeout = Duration::from_secs(5);
    cfg.profile = "test".into();
    SessionClient::new(cfg, store).unwrap()
}

pub fn last_code(emu: &Emulator) -> OutboxMessage {
    emu.outbox().last().cloned().expect("a message was sent")
}

pub async fn login(emu: &Emulator, c: &SessionClient, who: &str) -> prelude_session::User {
    let id = Identifier::parse(who).unwrap();
    c.start_otp_login(&id).await.unwrap();
    let code = last_code(emu).code;
    c.check_otp(&code).await.unwrap()
}

/// A stand-in server on loopback, for what the emulator never answers (a fractional
/// NumericDate, an oversized body, a clock months off): each request gets the bytes `answer`
/// makes from its head (request line and headers), then the connection closes. Its base URL.
pub async fn stand_in<F>(answer: F) -> String
where
    F: Fn(&str) -> Vec<u8> + Send + Sync + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match sock.read(&mut chunk).await {
                        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let body_len = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + body_len {
                    match sock.read(&mut chunk).await {
                        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
                let out = answer(&head);
                // The client may hang up mid-answer (a body past its cap): not an error here.
                let _ = sock.write_all(&out).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    url
}

/// An HTTP/1.1 answer with a `Content-Length`, closing the connection.
pub fn http_answer(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// An unsigned JWT with these claims: the client reads tokens, it never verifies them.
pub fn unsigned_jwt(claims: &serde_json::Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.{}",
        b64(br#"{"alg":"EdDSA","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes()),
        b64(b"not-a-signature")
    )
}

/// A client of `url` whose store already holds a refresh token, as after a login.
pub fn signed_in_client(url: &str) -> SessionClient {
    use prelude_session::{Item, SecretStore};
    let endpoint = Endpoint::url(url).unwrap();
    let store = Arc::new(MemoryStore::new());
    let ns = format!("test/{}", endpoint.host_key());
    store
        .set(
            &ns,
            Item::RefreshToken,
            r#"{"token":"rt_1","expires_at":null}"#,
        )
        .unwrap();
    let mut cfg = ClientConfig::new(endpoint);
    cfg.timeout = Duration::from_secs(5);
    cfg.profile = "test".into();
    SessionClient::new(cfg, store).unwrap()
}
