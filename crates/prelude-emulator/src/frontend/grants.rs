//! Grants: what a completed challenge gives (single-use, session-bound or profile-bound), and
//! the scopes a session holds now.

use crate::api::ApiError;
use crate::shared::AppState;
use crate::state::*;
use crate::tokens::KeyUse;
use prelude_wire::Code;

pub(super) fn active_scopes(d: &Data, session: &Session, now: i64) -> Vec<String> {
    let mut scopes: Vec<String> = session
        .grants
        .iter()
        .chain(
            d.users
                .get(&session.user_id)
                .map(|u| u.grants.as_slice())
                .unwrap_or_default(),
        )
        .filter(|g| g.expires_at > now)
        .map(|g| g.scope.clone())
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// Applies the grant of a completed challenge; returns a scope for `single-use` grants, which
/// live only on the token minted now.
pub(super) fn redeem_step_up(
    app: &AppState,
    d: &mut Data,
    sid: &str,
    token: &str,
    now: i64,
) -> Result<Option<String>, ApiError> {
    let claims = app.keys.verify(KeyUse::StepUp, token).ok_or_else(|| {
        ApiError::new(
            Code::InvalidChallengeToken,
            "the step-up token is not valid",
        )
    })?;
    let cid = claims["challenge_id"].as_str().unwrap_or_default();
    let jti = claims["jti"].as_str().unwrap_or_default();
    let ch = d
        .challenges
        .get_mut(cid)
        .ok_or_else(|| ApiError::new(Code::InvalidChallengeToken, "unknown challenge"))?;
    if ch.session_id != sid {
        return Err(ApiError::new(
            Code::TokenMismatch,
            "the step-up token belongs to another session",
        ));
    }
    if ch.current_step().is_some() {
        return Err(ApiError::new(
            Code::StepNotCompleted,
            "the challenge still has steps to pass",
        ));
    }
    if ch.redeemed || ch.spent_jtis.contains(jti) || ch.current_jti != jti {
        return Err(ApiError::new(
            Code::TokenReused,
            "this step-up token was already used",
        ));
    }
    if ch.expires_at <= now {
        return Err(ApiError::new(
            Code::ExpiredChallengeToken,
            "the challenge has expired",
        ));
    }
    ch.redeemed = true;
    ch.spent_jtis.insert(jti.to_owned());
    let grant = Grant {
        scope: ch.scope.clone(),
        expires_at: now + ch.granted_for,
    };
    let (mode, user_id, scope) = (ch.grant_mode, ch.user_id.clone(), ch.scope.clone());
    tracing::info!(challenge = %cid, scope = %scope, mode = ?mode, "step-up granted");
    Ok(apply_grant(d, sid, &user_id, mode, grant))
}

pub(super) fn apply_grant(
    d: &mut Data,
    sid: &str,
    user_id: &str,
    mode: GrantMode,
    grant: Grant,
) -> Option<String> {
    match mode {
        GrantMode::SingleUse => Some(grant.scope),
        GrantMode::SessionBound => {
            if let Some(s) = d.sessions.get_mut(sid) {
                s.grants.retain(|g| g.scope != grant.scope);
                s.grants.push(grant);
            }
            None
        }
        GrantMode::ProfileBound => {
            if let Some(u) = d.users.get_mut(user_id) {
                u.grants.retain(|g| g.scope != grant.scope);
                u.grants.push(grant);
            }
            None
        }
    }
}
