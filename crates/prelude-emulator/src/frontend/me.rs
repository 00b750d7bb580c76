//! `/me/list` and `/me/revoke`: the signed-in user's sessions.

use crate::api::ApiError;
use crate::extract::Caller;
use crate::shared::AppState;
use crate::state::*;
use crate::util::rfc3339;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) async fn list(
    State(app): State<AppState>,
    Caller { user_id, .. }: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let limit = match q.get("limit") {
        None => 10,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::new(Code::InvalidPaginationLimit, "limit must be 1 to 100"))?,
    };
    let offset = match q.get("offset") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= 1_000_000)
            .ok_or_else(|| {
                ApiError::new(Code::InvalidPaginationOffset, "offset must be 0 or more")
            })?,
    };
    let now = app.now();
    let d = app.data();
    let mut all: Vec<&Session> = d
        .sessions
        .values()
        .filter(|s| s.user_id == user_id && !s.revoked && s.refresh_expires_at > now)
        .collect();
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| {
            json!({
                "id": s.id,
                "device_model": s.device_model,
                "device_type": s.device_type,
                "os_version": s.os_version,
                "country_code": "ZZ",
                "created_at": rfc3339(s.created_at),
                "last_seen_at": rfc3339(s.last_seen_at),
                "expires_at": rfc3339(s.refresh_expires_at),
            })
        })
        .collect();
    Ok(
        axum::Json(json!({"sessions": page, "total": all.len(), "limit": limit, "offset": offset}))
            .into_response(),
    )
}

pub(super) async fn revoke(
    State(app): State<AppState>,
    Caller { user_id, sid }: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut d = app.data();
    let target = q.get("target").map(String::as_str).unwrap_or("");
    let ids: Vec<String> = match target {
        "all" => d
            .sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .map(|s| s.id.clone())
            .collect(),
        "others" => d
            .sessions
            .values()
            .filter(|s| s.user_id == user_id && s.id != sid)
            .map(|s| s.id.clone())
            .collect(),
        "mine" => vec![sid],
        "session" => {
            let id = q
                .get("session_id")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    ApiError::new(Code::BadRequest, "target=session needs a session_id")
                })?;
            match d.sessions.get(id) {
                Some(s) if s.user_id == user_id => vec![id.clone()],
                _ => return Err(ApiError::not_found("no such session")),
            }
        }
        _ => {
            return Err(ApiError::new(
                Code::BadRequest,
                "target must be all, others, mine or session",
            ));
        }
    };
    for id in &ids {
        d.end_session(id);
    }
    tracing::info!(count = ids.len(), target, "sessions revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}
