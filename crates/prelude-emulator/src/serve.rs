//! Runs the router: one accept loop with bounded connections and handshakes, header and
//! body timeouts, and a shutdown that finishes within [`SHUTDOWN_LIMIT`].

use crate::config::Config;
use crate::tls::Acceptor as TlsAcceptor;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
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
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The borrow the wait returns is dropped at once: it must not live across an await.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}
