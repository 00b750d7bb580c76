//! Emulator-only routes under `/emulator/v1/`: the outbox, reset, fault switches and counters.

use crate::api::Body;
use crate::server::AppState;
use crate::state::Faults;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/outbox",
            get(|State(app): State<AppState>| async move { axum::Json(app.data().outbox.clone()) })
                .delete(|State(app): State<AppState>| async move {
                    app.data().outbox.clear();
                    StatusCode::NO_CONTENT
                }),
        )
        .route(
            "/reset",
            post(|State(app): State<AppState>| async move {
                app.reset();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/faults",
            get(|State(app): State<AppState>| async move { axum::Json(app.data().faults.clone()) })
                .put(
                    |State(app): State<AppState>, Body(f): Body<Faults>| async move {
                        app.set_faults(f.clone());
                        axum::Json(f).into_response()
                    },
                ),
        )
        .route(
            "/stats",
            get(|State(app): State<AppState>| async move { axum::Json(app.stats()) }),
        )
}
