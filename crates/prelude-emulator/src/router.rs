//! Merges each part's routes (frontend, well-known, management, control, web) under their
//! prefixes, with the guard and the layers around them.

use crate::api::ApiError;
use crate::guard;
use crate::shared::{AppState, UNMATCHED};
use crate::{control, frontend, management};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use prelude_wire::Code;

use crate::layers::{count, date, faults};
use crate::serve::{BODY_TIMEOUT, MAX_BODY_BYTES};

/// The whole router for `app`.
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
