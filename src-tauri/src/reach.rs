//! Reaching a server over HTTP outside the session: an emulator's demo outbox, and the
//! connection test in Settings.

use crate::error::{AppError, AppResult};
use crate::server::Server;
use crate::view::InboxMessage;
use std::time::Duration;

pub async fn probe_demo(origin: &str) -> bool {
    fetch_outbox(origin).await.is_ok()
}

pub async fn fetch_outbox(origin: &str) -> AppResult<Vec<InboxMessage>> {
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
    let resp = http
        .get(format!("{origin}/emulator/v1/outbox"))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map_err(|e| AppError::Emulator(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(AppError::DemoOnly);
    }
    let msgs: Vec<Msg> = resp.json().await.map_err(|_| AppError::DemoOnly)?;
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
    prelude_session::use_ring();
    let http = reqwest::Client::builder()
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
    let jwks: serde_json::Value = resp
        .json()
        .await
        .map_err(|_| AppError::Connection(format!("{base} did not answer with a key set")))?;
    let keys = jwks["keys"].as_array().map_or(0, Vec::len);
    if keys == 0 {
        return Err(AppError::Connection(format!(
            "{base} published no signing keys"
        )));
    }
    Ok(format!("Reached {base}: {keys} signing key(s) published."))
}

/// One call to a standalone emulator's control plane (`/emulator/v1/…`): the answer's JSON,
/// or its `{code, message}` refusal as invalid input.
pub async fn control<T: serde::de::DeserializeOwned>(
    origin: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> AppResult<T> {
    let http = shared_http();
    let mut req = http
        .request(method, format!("{origin}/emulator/v1{path}"))
        .timeout(Duration::from_secs(5));
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| AppError::Emulator(e.without_url().to_string()))?;
    let status = resp.status();
    let value: serde_json::Value = resp.json().await.unwrap_or_default();
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
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    HTTP.get_or_init(|| {
        prelude_session::use_ring();
        reqwest::Client::new()
    })
}
