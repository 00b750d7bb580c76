//! Reaching a server over HTTP outside the session: an emulator's demo outbox and control
//! plane, with its management key when it has one of its own, and the connection test in
//! Settings. Also the extra trusted roots of `--ca-file`, which every connection to a server
//! uses, the session's included.

use crate::error::{AppError, AppResult};
use crate::server::Server;
use crate::view::InboxMessage;
use prelude_session::{MAX_RESPONSE_BYTES, read_body};
use prelude_wire::routes;
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::OnceLock;
use std::time::Duration;

/// The PEM of `--ca-file` / `COUNTERSIGN_CA_FILE`: chosen once at start for the whole run,
/// like the profile.
static EXTRA_ROOTS: OnceLock<Vec<u8>> = OnceLock::new();

/// Trusts the certificates of `pem` beside the system's roots, for this run: the session, the
/// demo inbox, the test bench and the connection test. Called once, at start.
///
/// # Errors
/// [`AppError::InvalidInput`] when `pem` holds no certificate, or roots were already set.
pub fn trust(pem: Vec<u8>) -> AppResult<()> {
    prelude_session::extra_roots(&pem)?;
    EXTRA_ROOTS
        .set(pem)
        .map_err(|_| AppError::InvalidInput("the extra trusted roots are already set".into()))
}

/// The PEM given to [`trust`], if any.
pub fn extra_roots() -> Option<&'static [u8]> {
    EXTRA_ROOTS.get().map(Vec::as_slice)
}

/// A client that trusts the extra roots and follows no redirect (one could lead to plain
/// HTTP elsewhere).
fn builder() -> AppResult<reqwest::ClientBuilder> {
    prelude_session::use_ring();
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = extra_roots() {
        for cert in prelude_session::extra_roots(pem)? {
            b = b.add_root_certificate(cert);
        }
    }
    Ok(b)
}

/// Adds the management key as `Authorization: Bearer`, when there is one.
fn keyed(req: reqwest::RequestBuilder, key: Option<&SecretString>) -> reqwest::RequestBuilder {
    match key {
        Some(k) => req.bearer_auth(k.expose_secret()),
        None => req,
    }
}

/// The refusal of a control plane that wants a key the app lacks, or has wrong.
fn key_refused(key: Option<&SecretString>) -> AppError {
    AppError::InvalidInput(
        if key.is_some() {
            "the emulator refused its management key: set the right one in Settings or in COUNTERSIGN_EMULATOR_KEY"
        } else {
            "this emulator takes a management key: set it in Settings or in COUNTERSIGN_EMULATOR_KEY"
        }
        .into(),
    )
}

/// Whether `origin` answers as an emulator: its outbox reads, with `key`.
pub async fn probe_demo(origin: &str, key: Option<&SecretString>) -> bool {
    fetch_outbox(origin, key).await.is_ok()
}

/// The demo inbox: what a standalone emulator "sent".
///
/// # Errors
/// The emulator cannot be reached, wants a key (`invalid_input`), or is no emulator.
pub async fn fetch_outbox(
    origin: &str,
    key: Option<&SecretString>,
) -> AppResult<Vec<InboxMessage>> {
    #[derive(serde::Deserialize)]
    struct Msg {
        id: String,
        channel: String,
        to: String,
        code: String,
        purpose: String,
        sent_at: String,
        /// Older emulators do not say; their codes show as live.
        #[serde(default)]
        status: String,
    }
    let http = shared_http();
    let resp = keyed(
        http.get(format!(
            "{origin}{}",
            routes::emulator(routes::EMULATOR_OUTBOX)
        )),
        key,
    )
    .timeout(Duration::from_secs(3))
    .send()
    .await
    .map_err(|e| AppError::Emulator(e.without_url().to_string()))?;
    if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
        return Err(key_refused(key));
    }
    if !resp.status().is_success() {
        return Err(AppError::DemoOnly);
    }
    let body = read_body(resp, MAX_RESPONSE_BYTES).await?;
    let msgs: Vec<Msg> = serde_json::from_slice(&body).map_err(|_| AppError::DemoOnly)?;
    Ok(msgs
        .into_iter()
        .map(|m| InboxMessage {
            id: m.id,
            channel: m.channel,
            to: m.to,
            code: m.code,
            purpose: m.purpose,
            sent_at: m.sent_at,
            status: match m.status.as_str() {
                "used" => "used",
                "no_tries_left" => "no_tries_left",
                "expired" => "expired",
                "replaced" => "replaced",
                "session_ended" => "session_ended",
                "locked_out" => "locked_out",
                "live" | "" => "live",
                // A status from a newer emulator: the code no longer works, whatever the reason.
                _ => "ended",
            },
        })
        .collect())
}

/// Checks that a server answers like a Prelude frontend: its JWKS is reachable and readable.
pub async fn test_connection(server: &Server) -> AppResult<String> {
    let Some(endpoint) = server.endpoint()? else {
        return Ok("The built-in demo server runs inside the app.".into());
    };
    let origin = endpoint.origin();
    let base = origin.as_str().trim_end_matches('/').to_owned();
    let http = builder()?
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| AppError::Connection(e.to_string()))?;
    let resp = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .map_err(|e| AppError::Connection(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(AppError::Connection(format!(
            "{base} answered HTTP {}",
            resp.status().as_u16()
        )));
    }
    let body = read_body(resp, MAX_RESPONSE_BYTES).await?;
    let jwks: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| AppError::Connection(format!("{base} did not answer with a key set")))?;
    let keys = jwks["keys"].as_array().map_or(0, Vec::len);
    if keys == 0 {
        return Err(AppError::Connection(format!(
            "{base} published no signing keys"
        )));
    }
    // What a person can do next, and the keys' count last, for whoever checks the server.
    let plural = if keys == 1 { "" } else { "s" };
    Ok(format!(
        "Reached {base}: it answers like a Prelude server. Save and switch to use it ({keys} signing key{plural} found)."
    ))
}

/// One call to a standalone emulator's control plane (`/emulator/v1/…`), with its
/// management key when the app knows one: the answer's JSON, or its `{code, message}` refusal
/// as invalid input.
pub async fn control<T: serde::de::DeserializeOwned>(
    origin: &str,
    key: Option<&SecretString>,
    method: reqwest::Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> AppResult<T> {
    let http = shared_http();
    let mut req = keyed(
        http.request(method, format!("{origin}{}", routes::emulator(path))),
        key,
    )
    .timeout(Duration::from_secs(5));
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| AppError::Emulator(e.without_url().to_string()))?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(key_refused(key));
    }
    let body = read_body(resp, MAX_RESPONSE_BYTES).await?;
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if !status.is_success() {
        let why = value["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("the emulator answered HTTP {}", status.as_u16()));
        return Err(if status.is_client_error() {
            AppError::InvalidInput(why)
        } else {
            AppError::Emulator(why)
        });
    }
    serde_json::from_value(value).map_err(|e| AppError::Emulator(e.to_string()))
}

/// One client for the inbox poller and the control plane: building one loads the system's
/// trust store.
fn shared_http() -> &'static reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    // The roots were checked by `trust`, so the builder does not fail.
    HTTP.get_or_init(|| {
        builder()
            .ok()
            .and_then(|b| b.build().ok())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server whose every answer is a chunked body of `len` bytes.
    async fn answering(len: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = [0u8; 4096];
                    let _ = sock.read(&mut head).await;
                    let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
                    out.extend_from_slice(format!("{len:x}\r\n").as_bytes());
                    out.extend_from_slice(b"[");
                    out.resize(out.len() + len - 2, b' ');
                    out.extend_from_slice(b"]\r\n0\r\n\r\n");
                    let _ = sock.write_all(&out).await;
                });
            }
        });
        origin
    }

    #[tokio::test]
    async fn emulator_answers_past_one_mebibyte_are_refused() {
        let big = answering(MAX_RESPONSE_BYTES + 1).await;
        let e = fetch_outbox(&big, None).await.unwrap_err();
        assert_eq!(e.code(), "response_too_large");
        let e = control::<serde_json::Value>(&big, None, reqwest::Method::GET, "/faults", None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "response_too_large");
        let fits = answering(MAX_RESPONSE_BYTES).await;
        assert!(fetch_outbox(&fits, None).await.unwrap().is_empty());
    }
}
