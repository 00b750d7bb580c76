//! Emulator-only routes under `/emulator/v1/`: the outbox, reset, fault switches and counters.

use crate::api::{ApiError, Body};
use crate::server::AppState;
use crate::state::{Faults, Identifier};
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
        .route("/users", post(create_user))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    identifiers: Vec<Identifier>,
}

/// Seeds a user with several identifiers (a phone and an email), which OTP login alone cannot
/// make: multi-step challenges need one.
async fn create_user(
    State(app): State<AppState>,
    Body(body): Body<NewUser>,
) -> Result<impl IntoResponse, ApiError> {
    if body.identifiers.is_empty() {
        return Err(ApiError::bad_request(
            "bad_request",
            "give at least one identifier",
        ));
    }
    for id in &body.identifiers {
        crate::frontend::validate_identifier(id)?;
    }
    let mut d = app.data();
    if let Some(taken) = body.identifiers.iter().find(|i| d.find_user(i).is_some()) {
        return Err(ApiError::conflict(
            "identifier_already_exists",
            format!("{} already belongs to a user", taken.value),
        ));
    }
    let id = crate::server::add_user(&mut d, body.identifiers, app.now());
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "id": id })),
    ))
}
