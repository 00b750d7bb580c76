//! `/stepup/request`: decide (a direct rule or the customer's delegated hook) and open a
//! challenge.

use super::challenge::challenge_claims;
use super::grants::apply_grant;
use super::request::{header_str, validate_metadata, validate_scope};
use crate::api::{ApiError, Body};
use crate::extract::{Caller, MaybeDpop, same_key};
use crate::shared::AppState;
use crate::state::*;
use crate::tokens::KeyUse;
use crate::util::prefixed_id;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepUpRequest {
    scope: String,
    metadata: Option<BTreeMap<String, String>>,
    dispatch_id: Option<String>,
}

enum Plan {
    Direct(DirectDecision),
    Hook(String),
}

fn platform_of(user_agent: &str) -> &'static str {
    let ua = user_agent.to_ascii_lowercase();
    if ua.contains("android") {
        "ANDROID"
    } else if ua.contains("iphone") || ua.contains("ipad") || ua.contains("ios") {
        "IOS"
    } else {
        "WEB"
    }
}

pub(super) async fn request(
    State(app): State<AppState>,
    ConnectInfo(crate::tls::Peer(peer)): ConnectInfo<crate::tls::Peer>,
    Caller { user_id, sid }: Caller,
    // Swift and Android sign this call, the web SDK does not: a proof is optional, but a bad
    // one is still refused.
    MaybeDpop(proof): MaybeDpop,
    headers: HeaderMap,
    Body(body): Body<StepUpRequest>,
) -> Result<Response, ApiError> {
    let _ = body.dispatch_id;
    validate_scope(&body.scope)?;
    let mut metadata = body.metadata.unwrap_or_default();
    validate_metadata(&metadata)?;
    let (plan, user) = {
        let mut d = app.data();
        if let Some(p) = proof {
            same_key(&d, &sid, p.jkt())?;
            p.admit(&app, &mut d)?;
        }
        let now = app.now();
        let open = d
            .challenges
            .values()
            .filter(|c| c.session_id == sid && !c.redeemed && c.expires_at > now)
            .count();
        if open >= app.cfg.max_open_challenges {
            return Err(ApiError::too_many(
                Code::TooManyChallenges,
                format!(
                    "this session already has {open} open challenges; finish or let one expire"
                ),
                60,
            ));
        }
        let config = d
            .stepup_config
            .as_ref()
            .ok_or_else(|| ApiError::new(Code::NotConfigured, "step-up is not configured"))?;
        let rules: Vec<&ScopeRule> = config
            .allowed_scopes
            .iter()
            .filter(|r| r.scope == body.scope)
            .collect();
        if rules.is_empty() {
            return Err(ApiError::new(
                Code::ScopeNotAllowed,
                format!("scope {} is not allowed", body.scope),
            ));
        }
        let user = d
            .users
            .get(&user_id)
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("unknown user"))?;
        let user_types: Vec<IdentifierType> = user.identifiers.iter().map(|i| i.kind).collect();
        // The reserved registration scopes run Prelude's own step, whatever their entry says.
        let reserved = super::register::decide(&d, &user, &body.scope, &mut metadata)?;
        let plan = reserved.map(Plan::Direct).or_else(|| {
            rules.iter().find_map(|r| match r.mode {
                ScopeMode::Delegated => r
                    .delegated
                    .as_ref()
                    .map(|x| Plan::Hook(x.delegation_hook.clone())),
                ScopeMode::Direct => r
                    .direct
                    .as_ref()
                    .filter(|dd| {
                        dd.identifier_types.is_empty()
                            || dd.identifier_types.iter().any(|t| user_types.contains(t))
                    })
                    .cloned()
                    .map(Plan::Direct),
                ScopeMode::Managed => None,
            })
        });
        let plan = plan.ok_or_else(|| {
            ApiError::new(
                Code::DirectScopeIdentifierMismatch,
                "no rule for this scope matches the user's identifiers",
            )
        })?;
        (plan, user)
    };
    let decision = match plan {
        Plan::Direct(d) => d,
        Plan::Hook(url) => {
            let user_agent = header_str(&headers, "user-agent").unwrap_or_default();
            let hook_body = json!({
                "scope_requested": body.scope,
                "user_id": user.id,
                "identifiers": user.identifiers,
                "signals": {
                    "user_agent": user_agent,
                    "platform": platform_of(user_agent),
                    "ip": peer.ip().to_string(),
                },
                "metadata": metadata,
            });
            let answer = if app.data().faults.hook_unreachable {
                Err(crate::Error::Customer(
                    "the hook is unreachable (switch)".to_owned(),
                ))
            } else {
                crate::hook::call_hook(app.http(), app.hook_key(), &url, &hook_body).await
            };
            match answer {
                Ok(d) => d,
                Err(why) => {
                    // The caller sees a block; the detail is for the emulator's operator.
                    tracing::warn!(scope = %body.scope, "step-up hook failed ({why}); treated as block");
                    DirectDecision {
                        identifier_types: vec![],
                        status: Decision::Block,
                        granted_for: 0,
                        grant_mode: GrantMode::SingleUse,
                        steps: vec![],
                    }
                }
            }
        }
    };
    tracing::info!(scope = %body.scope, status = ?decision.status, "step-up decision");
    if decision.status == Decision::Block {
        return Ok(axum::Json(json!({"status": "block"})).into_response());
    }
    let now = app.now();
    let mut steps: Vec<ChallengeStep> = decision
        .steps
        .iter()
        .map(|s| ChallengeStep {
            order: s.order,
            key: s.key.clone(),
            expiration_duration: s.expiration_duration,
            done: false,
            started_at: None,
        })
        .collect();
    steps.sort_by_key(|s| s.order);
    if let Some(first) = steps.first_mut() {
        first.started_at = Some(now);
    }
    let span: i64 = steps.iter().map(|s| s.expiration_duration).sum();
    let ch = Challenge {
        id: prefixed_id("chl"),
        user_id: user_id.clone(),
        session_id: sid.clone(),
        scope: body.scope.clone(),
        metadata,
        status: decision.status,
        grant_mode: decision.grant_mode,
        granted_for: decision.granted_for,
        steps,
        current_jti: uuid::Uuid::new_v4().to_string(),
        spent_jtis: Default::default(),
        created_at: now,
        expires_at: now + span.clamp(600, 86_400),
        redeemed: false,
        passkey: None,
    };
    let status = match decision.status {
        Decision::Continue => "continue",
        _ => "review",
    };
    let mut d = app.data();
    if decision.status == Decision::Continue && d.faults.omit_continue_token {
        // The quirk seen on the real service: granted server-side, no token to redeem.
        let grant = Grant {
            scope: ch.scope.clone(),
            expires_at: now + ch.granted_for.max(1),
        };
        let mode = match ch.grant_mode {
            GrantMode::SingleUse => GrantMode::SessionBound,
            m => m,
        };
        apply_grant(&mut d, &sid, &user_id, mode, grant);
        return Ok(axum::Json(json!({"status": "continue"})).into_response());
    }
    let cid = ch.id.clone();
    d.challenges.insert(cid.clone(), ch);
    let options = super::passkey_request::arm_passkey_step(&mut d, &cid);
    let claims = challenge_claims(&app, &d.challenges[&cid], d.faults.rewrite_signed_metadata);
    let token = app.keys.sign(KeyUse::StepUp, &claims);
    let mut body = json!({"status": status, "challenge_token": token});
    if let Some(o) = options {
        body["public_key_credential_request_options"] = o;
    }
    Ok(axum::Json(body).into_response())
}
