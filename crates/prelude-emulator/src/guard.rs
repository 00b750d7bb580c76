//! Who may talk to the emulator, as middleware. Anything listening on loopback can be reached by
//! every local process and, through the user's browser, by any web page. So every request must
//! name one of the emulator's own hosts (no DNS rebinding), the control plane and the management
//! API refuse foreign origins, and CORS goes only to the frontend API, for loopback and named
//! origins. The rules themselves are in `origins`.

use crate::origins::{is_loopback_origin, own_host, own_origin};
use crate::shared::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowCredentials, AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

/// Refuses a request whose Host is not the emulator's own, before anything else runs.
pub async fn check_host(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match own_host(&app.origins, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Whether a path belongs to the frontend API, which browsers may call cross-origin.
fn is_frontend(path: &str) -> bool {
    path.starts_with("/v1/session/") || path.starts_with("/.well-known/")
}

/// For the control plane and the management API: a request a browser made for another site
/// (it carries a foreign `Origin`) is refused, whatever its method or content type.
pub async fn check_origin(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if is_frontend(req.uri().path()) || *req.method() == Method::OPTIONS {
        return next.run(req).await;
    }
    match own_origin(&app.origins, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// CORS. The frontend API: loopback origins and `--cors-origin` origins, and only the named
/// ones get credentials (cookies), never an origin merely mirrored. The control plane and the
/// management API: `--cors-origin` origins alone, never with credentials (they take a bearer
/// key, not cookies).
pub fn cors(app: &AppState) -> CorsLayer {
    let allow = app.clone();
    let creds = app.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |o: &HeaderValue, p: &Parts| {
            o.to_str().is_ok_and(|o| {
                allow.origins.is_listed(o) || (is_frontend(p.uri.path()) && is_loopback_origin(o))
            })
        }))
        .allow_credentials(AllowCredentials::predicate(
            move |o: &HeaderValue, p: &Parts| {
                is_frontend(p.uri.path()) && o.to_str().is_ok_and(|o| creds.origins.is_listed(o))
            },
        ))
        .allow_methods(AllowMethods::list([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
        ]))
        .allow_headers(AllowHeaders::list([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            "dpop".parse().expect("static header name"),
            "x-refresh-token".parse().expect("static header name"),
            "x-verification-token".parse().expect("static header name"),
        ]))
        .expose_headers([
            "x-refresh-token".parse().expect("static header name"),
            "x-refresh-token-expires-at"
                .parse()
                .expect("static header name"),
            "dpop-nonce".parse().expect("static header name"),
            "x-verification-token".parse().expect("static header name"),
        ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_frontend_api_is_open_to_pages() {
        assert!(is_frontend("/v1/session/otp"));
        assert!(is_frontend("/.well-known/jwks.json"));
        assert!(!is_frontend("/emulator/v1/outbox"));
        assert!(!is_frontend("/v2/session/apps/demo/config/stepup"));
    }
}
