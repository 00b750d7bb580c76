//! A stand-in for the customer's backend, for demos and tests: a step-up hook endpoint that
//! answers a configurable decision and records the last calls it received, a JWKS, and RS256
//! verification tokens for custom steps. It listens on loopback inside the app, so it takes
//! the emulator's guard: its own Host only, no foreign `Origin`, JSON bodies of 64 KiB at most,
//! and the emulator's header and body timeouts and connection bound.

use crate::api::ApiError;
use crate::origins::{self, Origins};
use crate::serve::{BODY_TIMEOUT, MAX_BODY_BYTES};
use crate::util::{OsRng, b64, random_token, unix_now};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prelude_wire::Code;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the hook received.
#[derive(Clone, Debug)]
pub struct HookCall {
    pub body: Vec<u8>,
    pub signature: Option<String>,
    pub key_id: Option<String>,
    pub user_agent: Option<String>,
}

/// Hook calls kept; older ones are forgotten.
pub const KEPT_CALLS: usize = 16;

#[derive(Default)]
struct Inner {
    answer: Mutex<Vec<u8>>,
    delay_ms: Mutex<u64>,
    /// The newest [`KEPT_CALLS`], oldest first.
    calls: Mutex<VecDeque<HookCall>>,
}

pub struct CustomerBackend {
    url: String,
    key: rsa::pkcs1v15::SigningKey<Sha256>,
    kid: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
    /// Held while the backend runs; the accept loop stops when it goes.
    _stop: tokio::sync::watch::Sender<bool>,
}

impl CustomerBackend {
    /// Starts on a free loopback port; the hook answers `decision` until told otherwise.
    ///
    /// # Errors
    /// The port cannot be bound, or the RSA key not made.
    pub async fn start(decision: Value) -> std::io::Result<Self> {
        let private = rsa::PrivateKey::new(&mut OsRng, 2048).map_err(std::io::Error::other)?;
        let public = private.to_public_key();
        let kid = format!("cust-{}", random_token(6));
        let jwks = json!({"keys": [{
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": b64(public.n_bytes()), "e": b64(public.e_bytes()),
        }]});
        let inner = Arc::new(Inner::default());
        *inner.answer.lock().expect("fresh lock") = decision.to_string().into_bytes();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let origins = Arc::new(
            Origins::new(&crate::Config::default().addresses(), addr)
                .map_err(std::io::Error::other)?,
        );
        let app = Router::new()
            .route("/hook", post(hook))
            .route(
                "/jwks.json",
                get(move || {
                    let j = jwks.clone();
                    async move { axum::Json(j) }
                }),
            )
            .with_state(inner.clone())
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                BODY_TIMEOUT,
            ))
            .layer(middleware::from_fn(move |req: Request, next: Next| {
                let origins = origins.clone();
                async move {
                    match origins::own_host(&origins, &req)
                        .and_then(|()| origins::own_origin(&origins, &req))
                    {
                        Ok(()) => next.run(req).await,
                        Err(e) => e.into_response(),
                    }
                }
            }));
        // Served like the emulator: a client slow with its headers or body is cut off.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(crate::serve::accept_loop(
            listener,
            None,
            app,
            crate::Config::default(),
            stopped,
        ));
        Ok(Self {
            url,
            key: rsa::pkcs1v15::SigningKey::<Sha256>::new(private),
            kid,
            inner,
            task,
            _stop: stop,
        })
    }

    pub fn hook_url(&self) -> String {
        format!("{}/hook", self.url)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.url)
    }

    /// The decision the hook answers from now on.
    pub fn answer(&self, decision: Value) {
        self.answer_raw(decision.to_string().into_bytes());
    }

    /// Any bytes at all, to test how a broken hook is handled.
    pub fn answer_raw(&self, body: Vec<u8>) {
        if let Ok(mut a) = self.inner.answer.lock() {
            *a = body;
        }
    }

    pub fn delay(&self, d: Duration) {
        if let Ok(mut ms) = self.inner.delay_ms.lock() {
            *ms = d.as_millis() as u64;
        }
    }

    /// The newest hook calls received (at most [`KEPT_CALLS`]), oldest first.
    pub fn calls(&self) -> Vec<HookCall> {
        self.inner
            .calls
            .lock()
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// An RS256 verification token for a custom step (docs/protocol.md, "Custom steps").
    pub fn verification_token(&self, sub: &str, challenge_id: &str, step: &str) -> String {
        let now = unix_now();
        self.sign(&json!({
            "sub": sub, "challenge_id": challenge_id, "key": step, "status": "completed",
            "iat": now, "nbf": now, "exp": now + 300, "jti": random_token(12),
        }))
    }

    /// Signs arbitrary claims, for negative tests.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64(sig.to_vec()))
    }
}

impl Drop for CustomerBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn hook(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    // The emulator sends JSON; a body of another type may come from a page's simple request.
    if !crate::api::is_json(req.headers()) {
        return ApiError::new(
            Code::UnsupportedMediaType,
            "the hook takes Content-Type: application/json",
        )
        .into_response();
    }
    let headers = req.headers().clone();
    let body = match crate::api::read_body(req, &()).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Ok(mut calls) = inner.calls.lock() {
        if calls.len() >= KEPT_CALLS {
            calls.pop_front();
        }
        calls.push_back(HookCall {
            body: body.to_vec(),
            signature: h("x-webhook-signature"),
            key_id: h("x-webhook-signature-key-id"),
            user_agent: h("user-agent"),
        });
    }
    let delay = inner.delay_ms.lock().map(|d| *d).unwrap_or(0);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let answer = inner.answer.lock().map(|a| a.clone()).unwrap_or_default();
    ([("content-type", "application/json")], answer).into_response()
}
