//! The middleware every matched route passes: counting, the fault switches, and `Date` from
//! the server clock.

use crate::api::ApiError;
use crate::shared::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use std::time::Duration;

/// Counts each matched request under its route template, and marks the state for saving
/// after a request that may have changed it.
pub(crate) async fn count(State(app): State<AppState>, req: Request, next: Next) -> Response {
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
pub(crate) async fn faults(State(app): State<AppState>, req: Request, next: Next) -> Response {
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
pub(crate) async fn date(State(app): State<AppState>, req: Request, next: Next) -> Response {
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
