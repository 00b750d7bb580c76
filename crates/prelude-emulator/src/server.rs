//! Builds the router and runs it: one accept loop with bounded connections and handshakes,
//! header and body timeouts, and a shutdown that finishes within [`SHUTDOWN_LIMIT`].

use crate::api::ApiError;
use crate::config::Config;
use crate::demo::{self, DemoScenario};
use crate::guard;
use crate::origins::Origins;
use crate::shared::{AppState, Shared, UNMATCHED};
use crate::state::{Data, Faults, OutboxMessage};
use crate::tls::Acceptor as TlsAcceptor;
use crate::util::unix_now;
use crate::{Error, control, frontend, management, persist, saver};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use prelude_wire::Code;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A request body must arrive within this.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take over its TLS handshake.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(5);
/// Shutdown returns within this, whatever the clients do.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);
/// How often ended verifications, challenges and spent tokens are forgotten.
const PURGE_EVERY: Duration = Duration::from_secs(10);

/// Counts each matched request under its route template, and marks the state for saving
/// after a request that may have changed it.
async fn count(State(app): State<AppState>, req: Request, next: Next) -> Response {
    // A nested service (the web root) carries no matched path: one bucket for all of it.
    match req.extensions().get::<MatchedPath>() {
        Some(p) => app.count(p.as_str()),
        None => app.count("/web/{*file}"),
    }
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let resp = next.run(req).await;
    if changes {
        app.persist.mark();
    }
    resp
}

/// Applies the fault switches to a matched route (after it is counted, so a test can see a
/// delayed request arrive).
async fn faults(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().path(), |u| u.0.path())
        .to_owned();
    if path.starts_with("/emulator/") {
        return next.run(req).await;
    }
    // Read under the lock without copying the switches: this runs on every request.
    let (delay, fail, limited, lose) = {
        let d = app.data();
        let f = &d.faults;
        (
            f.delay_ms.min(crate::state::MAX_DELAY_MS),
            f.fail_routes.iter().any(|r| r == &path),
            f.rate_limit_routes.iter().any(|r| r == &path),
            f.lose_response_routes.iter().any(|r| r == &path),
        )
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if fail {
        ApiError::internal("injected failure").into_response()
    } else if limited {
        ApiError::too_many(Code::RateLimited, "too many requests (injected)", 1).into_response()
    } else if lose {
        // The request takes effect; then the body fails, and the server drops the connection
        // before the client has an answer.
        let (parts, _) = next.run(req).await.into_parts();
        let broken = futures_util::stream::once(async {
            Err::<axum::body::Bytes, _>(std::io::Error::other("response lost (injected)"))
        });
        Response::from_parts(parts, axum::body::Body::from_stream(broken))
    } else {
        next.run(req).await
    }
}

/// Stamps `Date` with the server clock.
async fn date(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if let Some(v) = http_date(app.now()) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

/// An HTTP date for `unix`, or `None` outside what the format can say.
fn http_date(unix: i64) -> Option<HeaderValue> {
    // Year 9999 is the format's limit; the clock offset keeps us far inside it.
    let secs = u64::try_from(unix).ok().filter(|s| *s < 253_402_300_800)?;
    let t = std::time::UNIX_EPOCH.checked_add(Duration::from_secs(secs))?;
    HeaderValue::from_str(&httpdate::fmt_http_date(t)).ok()
}

pub fn router(app: AppState) -> Router {
    let mut router = Router::new()
        .nest(
            "/v1/session",
            frontend::routes().route_layer(middleware::from_fn(crate::api::json_bodies_only)),
        )
        .merge(frontend::well_known())
        .nest("/v2/session/apps/{app_id}", management::routes());
    if app.cfg.control_plane {
        router = router.nest(
            "/emulator/v1",
            control::routes().route_layer(middleware::from_fn_with_state(
                app.clone(),
                control::require_own_key,
            )),
        );
    }
    #[cfg(feature = "web")]
    if let Some(dir) = app.cfg.web_root.clone() {
        router = router.nest_service("/web", tower_http::services::ServeDir::new(dir));
    }
    let counted = app.clone();
    router
        .route_layer(middleware::from_fn_with_state(app.clone(), faults))
        .route_layer(middleware::from_fn_with_state(app.clone(), count))
        .fallback(move || async move {
            counted.count(UNMATCHED);
            ApiError::not_found("no such route")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(Code::MethodNotAllowed, "method not allowed on this route")
        })
        .layer(middleware::from_fn_with_state(app.clone(), date))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            guard::check_origin,
        ))
        .layer(guard::cors(&app))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            BODY_TIMEOUT,
        ))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            guard::check_host,
        ))
        .with_state(app)
}

/// Serves one connection until it ends, or until `stop`, when it finishes the request in
/// flight and closes.
async fn serve_conn<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut()
            .insert(ConnectInfo(crate::tls::Peer(peer)));
        router.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Also the idle timeout: hyper starts it when it waits for the next request.
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
        }
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// The accept loop. Connections beyond `max_connections` wait in the kernel's queue; each
/// TLS handshake runs on its connection's task, bounded in number and time.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    cfg: Config,
    mut stop: watch::Receiver<bool>,
) {
    let conns = Arc::new(Semaphore::new(cfg.max_connections));
    let handshakes = Arc::new(Semaphore::new(cfg.max_handshakes));
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = conns.clone().acquire_owned() => p,
            _ = stopped(&mut stop) => break,
        };
        let Ok(permit) = permit else { break };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then go on serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let (router, stop, tls, handshakes) = (
            router.clone(),
            stop.clone(),
            tls.clone(),
            handshakes.clone(),
        );
        let header_timeout = cfg.header_timeout;
        tasks.spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_conn(tcp, peer, router, header_timeout, stop).await,
                Some(acceptor) => {
                    let Ok(slot) = handshakes.acquire_owned().await else {
                        return;
                    };
                    let shaken = tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(tcp)).await;
                    drop(slot);
                    match shaken {
                        Ok(Ok(io)) => serve_conn(io, peer, router, header_timeout, stop).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    // Requests in flight get the rest of the limit; then the stragglers are cut off.
    let drained = tokio::time::timeout(SHUTDOWN_LIMIT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!(
            left = tasks.len(),
            "closing connections still open at shutdown"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// Resolves once `stop` is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The borrow the wait returns is dropped at once: it must not live across an await.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// A running emulator. Dropping it leaves the server running until the runtime ends; call
/// [`Emulator::shutdown`] to stop it cleanly.
pub struct Emulator {
    shared: AppState,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    notices: Vec<String>,
    cert_pem: Option<String>,
}

impl Emulator {
    /// Binds `addr` (port 0 picks a free port) and serves until shut down.
    pub async fn start(cfg: Config, addr: SocketAddr) -> Result<Self, Error> {
        // The hook client and the HTTPS listener need a TLS provider; an earlier one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        cfg.validate()?;
        cfg.check_reach(addr)?;
        let (loaded, notices) = match &cfg.state_file {
            Some(p) => persist::load(p)?,
            None => (None, vec![]),
        };
        for n in &notices {
            tracing::warn!("{n}");
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let origins = Origins::new(&cfg.addresses(), addr)?;
        let fresh = loaded.is_none();
        let shared = Arc::new(Shared::new(cfg, origins, loaded.unwrap_or_else(Data::new)));
        if fresh && !shared.cfg.bare {
            demo::seed(&mut shared.data(), unix_now());
        }
        if let Some(s) = shared.cfg.scenario.clone() {
            s.apply(&shared)
                .map_err(|e| Error::Config(format!("scenario: {}", e.message)))?;
        }
        shared.persist.mark();
        saver::save_if_dirty(&shared)?;

        let mut cert_pem = None;
        let tls = if shared.cfg.tls {
            let names = crate::tls::cert_names(&shared.origins);
            let (acceptor, pem) = crate::tls::self_signed(names)?;
            if let Some(out) = &shared.cfg.cert_out {
                persist::write_private(out, pem.as_bytes()).map_err(|source| {
                    Error::StateWrite {
                        path: out.clone(),
                        source,
                    }
                })?;
            }
            cert_pem = Some(pem);
            Some(acceptor)
        } else {
            None
        };
        let (stop, stopped) = watch::channel(false);
        let serve = accept_loop(
            listener,
            tls,
            router(shared.clone()),
            shared.cfg.clone(),
            stopped.clone(),
        );
        let tasks = vec![
            tokio::spawn(serve),
            saver::spawn_saver(shared.clone(), stopped.clone()),
            spawn_purger(shared.clone(), stopped),
        ];
        Ok(Self {
            shared,
            addr,
            stop,
            tasks,
            notices,
            cert_pem,
        })
    }

    /// The origin clients use: `--public-url`, else the bound address.
    pub fn url(&self) -> String {
        self.shared.origins.public.clone()
    }

    /// The self-signed certificate (PEM) when serving HTTPS.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Problems met at start that did not stop it (a corrupt state file moved aside, values
    /// repaired).
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
        self.shared.data().outbox_at(self.shared.now())
    }

    pub fn reset(&self) {
        self.shared.reset();
        self.saved();
    }

    /// Sets the fault switches, refusing a value out of range (the field is named).
    pub fn set_faults(&self, faults: Faults) -> Result<(), Error> {
        faults
            .check()
            .map_err(|(field, why)| Error::Config(format!("{field}: {why}")))?;
        self.shared.set_faults(faults);
        self.saved();
        Ok(())
    }

    /// The fault switches in force.
    pub fn faults(&self) -> Faults {
        self.shared.data().faults.clone()
    }

    /// Seconds the emulated clock is ahead of real time (negative: behind).
    pub fn clock_offset(&self) -> i64 {
        self.shared.clock_offset()
    }

    /// The emulated time, unix seconds.
    pub fn now(&self) -> i64 {
        self.shared.now()
    }

    /// Moves the clock to `secs` from real time (0 is now); at most a week either way.
    pub fn set_clock_offset(&self, secs: i64) -> Result<(), Error> {
        if secs.abs() > crate::state::MAX_CLOCK_OFFSET_SECS {
            return Err(Error::Config(
                "offset_secs: must be within ±604800 s (7 days)".into(),
            ));
        }
        self.shared.set_clock_offset(secs);
        self.saved();
        Ok(())
    }

    /// Which preset the rules for `transfer:write` are, if they are one.
    pub fn scenario(&self) -> Option<DemoScenario> {
        let d = self.shared.data();
        let rules: Vec<_> = d
            .stepup_config
            .as_ref()?
            .allowed_scopes
            .iter()
            .filter(|r| r.scope == "transfer:write")
            .cloned()
            .collect();
        DemoScenario::ALL
            .into_iter()
            .find(|s| demo::demo_rules(*s) == rules)
    }

    /// Switches the decision for `transfer:write` (the app's scenario presets).
    pub fn set_scenario(&self, scenario: DemoScenario) {
        let now = self.shared.now();
        demo::apply_scenario(&mut self.shared.data(), scenario, now);
        self.saved();
    }

    /// A change through this API is a person's choice: it is written at once, not within the
    /// second, so an app that exits right after keeps it.
    fn saved(&self) {
        self.shared.persist.mark();
        if let Err(e) = saver::save_if_dirty(&self.shared) {
            tracing::error!(error = %e, "state not saved");
        }
    }

    /// The configuration, users and switches as a scenario file (no keys, codes or tokens).
    pub fn export_scenario(&self) -> crate::Scenario {
        crate::Scenario::export(&self.shared)
    }

    /// Replaces them with a scenario's; a scenario with an error changes nothing.
    pub fn import_scenario(&self, s: crate::Scenario) -> Result<(), Error> {
        s.apply(&self.shared)
            .map_err(|e| Error::Config(format!("scenario: {}", e.message)))?;
        self.saved();
        Ok(())
    }

    /// Writes the state now if it changed since the last save (saves are otherwise coalesced,
    /// about once a second); for an embedding app about to exit.
    pub fn flush(&self) -> Result<(), Error> {
        saver::save_if_dirty(&self.shared)
    }

    /// Where custom-step verification tokens are checked (the customer's JWKS), or none.
    pub fn set_jwks_url(&self, url: Option<String>) {
        let now = self.shared.now();
        let mut d = self.shared.data();
        let cfg = d
            .stepup_config
            .get_or_insert_with(|| crate::state::StepUpConfig {
                created_at: now,
                ..Default::default()
            });
        cfg.jwks_url = url;
        cfg.updated_at = now;
        drop(d);
        self.saved();
    }

    /// Stops serving and saves; returns within about [`SHUTDOWN_LIMIT`] whatever clients do,
    /// once the port is free.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn spawn_purger(app: AppState, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped(&mut stop) => break,
            }
            let now = app.now();
            app.data().purge(now, &app.cfg);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_never_panic() {
        assert!(http_date(0).is_some());
        assert!(http_date(-1).is_none());
        assert!(http_date(300_000_000_000).is_none());
        assert!(http_date(i64::MAX).is_none());
    }
}
