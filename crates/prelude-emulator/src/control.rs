//! The control plane under `/emulator/v1/`: the outbox, reset, fault switches, the clock,
//! counters and seeding users. Reachable only under the emulator's own Host and from its own
//! origin (see `guard`). Once the emulator has a management key of its operator's own, every
//! route takes it; with the public default key (on loopback only), only seeding users does.

use crate::api::{ApiError, Body};
use crate::scenario::Scenario;
use crate::shared::AppState;
use crate::state::{Faults, Identifier, MAX_CLOCK_OFFSET_SECS};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prelude_wire::{Code, routes};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            routes::EMULATOR_OUTBOX,
            get(|State(app): State<AppState>| async move {
                axum::Json(app.data().outbox_at(app.now()))
            })
            .delete(|State(app): State<AppState>| async move {
                app.data().outbox.clear();
                app.persist.mark();
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
        .route(routes::EMULATOR_FAULTS, get(get_faults).put(put_faults))
        .route(routes::EMULATOR_PASSKEY_REFUSAL, get(get_passkey_refusal))
        .route(routes::EMULATOR_CLOCK, get(get_clock).put(put_clock))
        .route(
            routes::EMULATOR_SCENARIO,
            get(get_scenario).put(put_scenario),
        )
        .route(
            "/stats",
            get(|State(app): State<AppState>| async move { axum::Json(app.stats()) }),
        )
        .route("/users", post(create_user))
        .route(
            "/events",
            get(|State(app): State<AppState>| async move {
                axum::Json(serde_json::json!({"events": app.data().events}))
            }),
        )
}

/// With a management key of the operator's own, refuses a control-plane request that does
/// not carry it (`401 unauthorized`), before the route runs.
pub async fn require_own_key(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if app.cfg.has_own_key()
        && let Err(e) = crate::management::require_key(&app, req.headers())
    {
        return e.into_response();
    }
    next.run(req).await
}

fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(Code::InvalidRequest, format!("{field}: {why}"))
}

async fn get_faults(State(app): State<AppState>) -> axum::Json<Faults> {
    axum::Json(app.data().faults.clone())
}

/// `GET /emulator/v1/passkeys/refusal`: `{"refusal": null | {at, ceremony, check, why}}`, why
/// the last passkey ceremony was refused.
async fn get_passkey_refusal(State(app): State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "refusal": app.data().last_passkey_refusal.clone() }))
}

async fn put_faults(
    State(app): State<AppState>,
    Body(f): Body<Faults>,
) -> Result<Response, ApiError> {
    f.check().map_err(|(field, why)| invalid(field, why))?;
    app.set_faults(f.clone());
    Ok(axum::Json(f).into_response())
}

async fn get_scenario(State(app): State<AppState>) -> axum::Json<Scenario> {
    axum::Json(Scenario::export(&app))
}

/// Imports a scenario file; a file with an error changes nothing.
async fn put_scenario(
    State(app): State<AppState>,
    body: axum::body::Bytes,
) -> Result<axum::Json<Scenario>, ApiError> {
    Scenario::parse(&body)?.apply(&app)?;
    Ok(axum::Json(Scenario::export(&app)))
}

/// `{"offset_secs": N}`: seconds added to real time; 0 is now.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Clock {
    offset_secs: i64,
    /// The emulated time (unix seconds); read-only.
    #[serde(default, skip_deserializing)]
    now: i64,
}

async fn get_clock(State(app): State<AppState>) -> axum::Json<Clock> {
    axum::Json(Clock {
        offset_secs: app.clock_offset(),
        now: app.now(),
    })
}

async fn put_clock(
    State(app): State<AppState>,
    Body(c): Body<Clock>,
) -> Result<axum::Json<Clock>, ApiError> {
    if c.offset_secs.abs() > MAX_CLOCK_OFFSET_SECS {
        return Err(invalid(
            "offset_secs",
            format!("must be within ±{MAX_CLOCK_OFFSET_SECS} s (7 days)"),
        ));
    }
    app.set_clock_offset(c.offset_secs);
    Ok(get_clock(State(app)).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    identifiers: Vec<Identifier>,
}

/// Seeds a user with several identifiers (a phone and an email), which OTP login alone cannot
/// make: multi-step challenges need one. It decides who logs in as whom, so it takes the
/// management key.
async fn create_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<NewUser>,
) -> Result<impl IntoResponse, ApiError> {
    crate::management::require_key(&app, &headers)?;
    if body.identifiers.is_empty() || body.identifiers.len() > 10 {
        return Err(invalid("identifiers", "give 1 to 10 identifiers"));
    }
    let mut identifiers = Vec::with_capacity(body.identifiers.len());
    for id in &body.identifiers {
        let id = crate::frontend::request::canonical_identifier(id)?;
        if identifiers.contains(&id) {
            return Err(invalid(
                "identifiers",
                format!("{} is given twice", id.value),
            ));
        }
        identifiers.push(id);
    }
    let mut d = app.data();
    if let Some(taken) = identifiers.iter().find(|i| d.find_user(i).is_some()) {
        return Err(ApiError::new(
            Code::IdentifierAlreadyExists,
            format!("{} already belongs to a user", taken.value),
        ));
    }
    let id = crate::demo::add_user(&mut d, identifiers, app.now());
    drop(d);
    app.persist.mark();
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "id": id })),
    ))
}
