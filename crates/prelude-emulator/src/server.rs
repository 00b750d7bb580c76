//! The embeddable server: shared state, persistence, middleware and start/stop.

use crate::api::ApiError;
use crate::config::Config;
use crate::state::*;
use crate::tokens::Keys;
use crate::util::unix_now;
use crate::{Error, emulator_api, frontend, management};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Shared {
    pub cfg: Config,
    pub keys: Keys,
    data: Mutex<Data>,
    skew: AtomicI64,
    pub outbox_tx: broadcast::Sender<OutboxMessage>,
    stats: Mutex<HashMap<String, u64>>,
    save_lock: Mutex<()>,
    hook_key: std::sync::OnceLock<crate::hook::HookKey>,
    pub jwks_cache: crate::hook::JwksCache,
    /// For hook calls and customer JWKS; made on first use (it loads the trust store).
    http: std::sync::OnceLock<reqwest::Client>,
}

pub type AppState = Arc<Shared>;

impl Shared {
    /// The server clock, shifted by the `clock_skew_secs` fault.
    pub fn now(&self) -> i64 {
        unix_now() + self.skew.load(Ordering::Relaxed)
    }

    /// The hook-signing key, made on first use (RSA key generation takes a moment).
    pub fn hook_key(&self) -> &crate::hook::HookKey {
        self.hook_key.get_or_init(crate::hook::HookKey::generate)
    }

    pub fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        })
    }

    pub fn data(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock cannot leave Data half-written in a way we could
        // repair, and handlers don't panic; keep serving rather than poisoning every request.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_faults(&self, faults: Faults) {
        self.skew.store(faults.clock_skew_secs, Ordering::Relaxed);
        let mut d = self.data();
        // Turning the nonce on starts a new one, so clients meet the demand at least once.
        if faults.require_dpop_nonce && !d.faults.require_dpop_nonce {
            d.dpop_nonce = crate::util::random_token(16);
        }
        d.faults = faults;
    }

    pub fn reset(&self) {
        let mut d = self.data();
        let keys = d.keys.clone();
        *d = Data::new();
        d.keys = keys;
        if !self.cfg.bare {
            seed_demo(&mut d, self.now());
        }
        self.skew.store(0, Ordering::Relaxed);
    }

    pub fn push_outbox(&self, d: &mut Data, msg: OutboxMessage) {
        if self.cfg.log_codes {
            tracing::info!(
                channel = ?msg.channel, to = %msg.to, purpose = ?msg.purpose, code = %msg.code,
                "emulated message sent"
            );
        } else {
            tracing::info!(channel = ?msg.channel, purpose = ?msg.purpose, "emulated message sent");
        }
        d.outbox.push(msg.clone());
        let _ = self.outbox_tx.send(msg);
    }

    pub fn request_count(&self, path: &str) -> u64 {
        self.stats
            .lock()
            .map(|s| s.get(path).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    pub fn stats(&self) -> HashMap<String, u64> {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The origin the client used, for DPoP `htu` and the token issuer.
    pub fn origin(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_ascii_lowercase();
        let scheme = if self.cfg.tls { "https" } else { "http" };
        format!("{scheme}://{host}")
    }

    pub fn issuer(&self, headers: &HeaderMap) -> String {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_ascii_lowercase()
    }

    fn save(&self) -> Result<(), Error> {
        let Some(path) = &self.cfg.state_file else {
            return Ok(());
        };
        let _guard = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        let text = serde_json::to_vec_pretty(&*self.data()).map_err(|e| Error::StateWrite {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(path, &text).map_err(|source| Error::StateWrite {
            path: path.clone(),
            source,
        })
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Loads the state file. A file that does not parse is moved aside (never dropped) and the
/// emulator starts fresh; the returned note says where it went.
fn load_state(path: &Path) -> Result<(Option<Data>, Option<String>), Error> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, None)),
        Err(source) => {
            return Err(Error::StateRead {
                path: path.to_owned(),
                source,
            });
        }
    };
    match serde_json::from_slice::<Data>(&bytes) {
        Ok(d) => Ok((Some(d), None)),
        Err(e) => {
            let aside = path.with_extension(format!("corrupt-{}", unix_now()));
            std::fs::rename(path, &aside).map_err(|source| Error::StateWrite {
                path: aside.clone(),
                source,
            })?;
            Ok((
                None,
                Some(format!(
                    "state file {} could not be read ({e}); it was moved to {} and the emulator started fresh",
                    path.display(),
                    aside.display()
                )),
            ))
        }
    }
}

/// The demo setup: OTP login by SMS and email, and `transfer:write` behind a one-step review
/// (SMS for phone users, email for email-only users), granted to the session for 300 s.
pub fn seed_demo(d: &mut Data, now: i64) {
    for channel in [Channel::Sms, Channel::Email] {
        d.login_configs.push(LoginConfig {
            id: crate::util::prefixed_id("lcfg"),
            config_type: "otp".into(),
            channel_type: channel,
            is_default: channel == Channel::Sms,
            granted_scopes: vec![],
            created_at: now,
        });
    }
    add_user(
        d,
        vec![
            Identifier {
                kind: IdentifierType::PhoneNumber,
                value: DEMO_PHONE.into(),
            },
            Identifier {
                kind: IdentifierType::EmailAddress,
                value: DEMO_EMAIL.into(),
            },
        ],
        now,
    );
    d.scopes = vec!["transfer:write".into()];
    d.stepup_config = Some(StepUpConfig {
        jwks_url: None,
        step_keys: vec![],
        allowed_scopes: demo_rules(DemoScenario::ReviewSms),
        created_at: now,
        updated_at: now,
    });
}

pub fn add_user(d: &mut Data, identifiers: Vec<Identifier>, now: i64) -> String {
    let user = User {
        id: crate::util::prefixed_id("usr"),
        identifiers,
        created_at: now,
        grants: vec![],
    };
    let id = user.id.clone();
    d.users.insert(id.clone(), user);
    id
}

/// The demo user has a phone and an email, so every scenario (email then SMS too) works.
pub const DEMO_PHONE: &str = "+33612345678";
pub const DEMO_EMAIL: &str = "ada@example.com";

/// Decisions the app's scenario presets switch between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoScenario {
    /// review → verify_sms (verify_email for users without a phone).
    ReviewSms,
    /// review → verify_email → verify_sms.
    EmailThenSms,
    /// block.
    Blocked,
    /// continue: granted at once.
    Granted,
}

pub fn demo_rules(s: DemoScenario) -> Vec<ScopeRule> {
    let rule = |types: Vec<IdentifierType>, status: Decision, steps: Vec<&str>| ScopeRule {
        scope: "transfer:write".into(),
        mode: ScopeMode::Direct,
        delegated: None,
        direct: Some(DirectDecision {
            identifier_types: types,
            status,
            granted_for: 300,
            grant_mode: GrantMode::SessionBound,
            steps: steps
                .into_iter()
                .enumerate()
                .map(|(i, k)| StepSpec {
                    order: i as u32 + 1,
                    key: k.into(),
                    expiration_duration: 600,
                })
                .collect(),
        }),
    };
    use IdentifierType::*;
    match s {
        DemoScenario::ReviewSms => vec![
            rule(vec![PhoneNumber], Decision::Review, vec!["verify_sms"]),
            rule(vec![EmailAddress], Decision::Review, vec!["verify_email"]),
        ],
        DemoScenario::EmailThenSms => vec![rule(
            vec![PhoneNumber, EmailAddress],
            Decision::Review,
            vec!["verify_email", "verify_sms"],
        )],
        DemoScenario::Blocked => vec![rule(
            vec![PhoneNumber, EmailAddress],
            Decision::Block,
            vec![],
        )],
        DemoScenario::Granted => vec![rule(
            vec![PhoneNumber, EmailAddress],
            Decision::Continue,
            vec![],
        )],
    }
}

/// Counts requests, applies the fault switches, stamps `Date` with the (possibly shifted)
/// server clock, and persists the state after changes.
async fn around(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    if let Ok(mut s) = app.stats.lock() {
        *s.entry(path.clone()).or_default() += 1;
    }
    let faults = app.data().faults.clone();
    let emulator_route = path.starts_with("/emulator/");
    if faults.delay_ms > 0 && !emulator_route {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms.min(120_000))).await;
    }
    let mut resp = if !emulator_route && faults.fail_routes.iter().any(|r| r == &path) {
        ApiError::internal("injected failure").into_response()
    } else if !emulator_route && faults.rate_limit_routes.iter().any(|r| r == &path) {
        ApiError::rate_limited("too many requests (injected)").into_response()
    } else {
        next.run(req).await
    };
    let date = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + Duration::from_secs(app.now().max(0) as u64),
    );
    if let Ok(v) = HeaderValue::from_str(&date) {
        resp.headers_mut().insert(header::DATE, v);
    }
    if method != Method::GET
        && method != Method::OPTIONS
        && let Err(e) = app.save()
    {
        tracing::error!(error = %e, "state not saved");
    }
    resp
}

pub fn router(app: AppState) -> Router {
    let web_root = app.cfg.web_root.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_credentials(true)
        .allow_headers(AllowHeaders::mirror_request())
        .allow_methods(AllowMethods::mirror_request())
        .expose_headers([
            "x-refresh-token".parse().expect("static header name"),
            "x-refresh-token-expires-at"
                .parse()
                .expect("static header name"),
            "dpop-nonce".parse().expect("static header name"),
            "x-verification-token".parse().expect("static header name"),
        ]);
    let router = Router::new();
    let router = match web_root {
        Some(dir) => router.nest_service("/web", tower_http::services::ServeDir::new(dir)),
        None => router,
    };
    router
        .nest("/v1/session", frontend::routes())
        .merge(frontend::well_known())
        .nest("/v2/session/apps/{app_id}", management::routes())
        .nest("/emulator/v1", emulator_api::routes())
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(middleware::from_fn_with_state(app.clone(), around))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .with_state(app)
}

/// A running emulator. Dropping it leaves the server running until the runtime ends; call
/// [`Emulator::shutdown`] to stop it cleanly.
pub struct Emulator {
    shared: AppState,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    notices: Vec<String>,
    cert_pem: Option<String>,
}

impl Emulator {
    /// Binds `addr` (port 0 picks a free port) and serves until shut down.
    pub async fn start(cfg: Config, addr: SocketAddr) -> Result<Self, Error> {
        cfg.validate()?;
        let mut notices = Vec::new();
        let loaded = match &cfg.state_file {
            Some(p) => {
                let (d, note) = load_state(p)?;
                if let Some(n) = note {
                    tracing::error!("{n}");
                    notices.push(n);
                }
                d
            }
            None => None,
        };
        let fresh = loaded.is_none();
        let data = loaded.unwrap_or_default();
        let skew = data.faults.clock_skew_secs;
        let keys = Keys::from_seeds(&data.keys);
        let (outbox_tx, _) = broadcast::channel(64);
        let shared = Arc::new(Shared {
            cfg,
            keys,
            data: Mutex::new(data),
            skew: AtomicI64::new(skew),
            outbox_tx,
            stats: Mutex::new(HashMap::new()),
            save_lock: Mutex::new(()),
            hook_key: std::sync::OnceLock::new(),
            jwks_cache: Default::default(),
            http: std::sync::OnceLock::new(),
        });
        if fresh && !shared.cfg.bare {
            let now = shared.now();
            seed_demo(&mut shared.data(), now);
        }
        shared.save()?;

        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(shared.clone()).into_make_service_with_connect_info::<crate::tls::Peer>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let mut cert_pem = None;
        let task = if shared.cfg.tls {
            let (acceptor, pem) = crate::tls::self_signed()?;
            if let Some(out) = &shared.cfg.cert_out {
                write_atomic(out, pem.as_bytes()).map_err(|source| Error::StateWrite {
                    path: out.clone(),
                    source,
                })?;
            }
            cert_pem = Some(pem);
            let (listener, accepting) =
                crate::tls::TlsListener::new(listener, acceptor).map_err(|source| Error::Bind {
                    addr: addr.to_string(),
                    source,
                })?;
            tokio::spawn(async move {
                let serve = axum::serve(listener, app).with_graceful_shutdown(stopped);
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "emulator server stopped");
                }
                accepting.stop().await;
            })
        } else {
            tokio::spawn(async move {
                let serve = axum::serve(listener, app).with_graceful_shutdown(stopped);
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "emulator server stopped");
                }
            })
        };
        Ok(Self {
            shared,
            addr,
            stop: Some(stop),
            task: Some(task),
            notices,
            cert_pem,
        })
    }

    pub fn url(&self) -> String {
        let scheme = if self.shared.cfg.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The self-signed certificate (PEM) when serving HTTPS.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Problems met at start that did not stop it (e.g. a corrupt state file moved aside).
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    pub fn state(&self) -> &AppState {
        &self.shared
    }

    pub fn subscribe_outbox(&self) -> broadcast::Receiver<OutboxMessage> {
        self.shared.outbox_tx.subscribe()
    }

    pub fn outbox(&self) -> Vec<OutboxMessage> {
        self.shared.data().outbox.clone()
    }

    pub fn reset(&self) {
        self.shared.reset();
        if let Err(e) = self.shared.save() {
            tracing::error!(error = %e, "state not saved");
        }
    }

    /// Switches the decision for `transfer:write` (the app's scenario presets).
    pub fn set_scenario(&self, scenario: DemoScenario) {
        let now = self.shared.now();
        {
            let mut d = self.shared.data();
            let cfg = d.stepup_config.get_or_insert_with(|| StepUpConfig {
                created_at: now,
                ..Default::default()
            });
            cfg.allowed_scopes.retain(|r| r.scope != "transfer:write");
            cfg.allowed_scopes.extend(demo_rules(scenario));
            cfg.updated_at = now;
            if !d.scopes.iter().any(|s| s == "transfer:write") {
                d.scopes.push("transfer:write".into());
            }
        }
        if let Err(e) = self.shared.save() {
            tracing::error!(error = %e, "state not saved");
        }
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
