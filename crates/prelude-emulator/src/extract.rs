//! Axum extractors for what a frontend route needs from its request before it runs: a DPoP
//! proof (regular or challenge-scoped) and the bearer session. A route that names one gets a
//! checked value or the request is refused with the right `{code, message}`.

use crate::api::ApiError;
use crate::dpop::{self, Proof, Target};
use crate::shared::AppState;
use crate::state::{Data, Seen};
use crate::tokens::KeyUse;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use prelude_wire::Code;
use prelude_wire::time::numeric_date;

fn path(parts: &Parts) -> &str {
    parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path(), |u| u.0.path())
}

fn verified(parts: &Parts, app: &AppState) -> Result<Option<Proof>, ApiError> {
    let target = Target {
        method: parts.method.as_str(),
        origins: &app.origins.own,
        path: path(parts),
    };
    dpop::extract(&parts.headers, target, app.now(), app.cfg.dpop_window_secs)
}

/// The nonce check of a regular proof, when the switch demands one.
fn nonce_ok(app: &AppState, proof: &Proof) -> Result<(), ApiError> {
    let d = app.data();
    if d.faults.require_dpop_nonce && proof.nonce.as_deref() != Some(d.dpop_nonce.as_str()) {
        let mut e = ApiError::new(
            Code::UseDpopNonce,
            "the DPoP proof must carry the server nonce",
        );
        e.dpop_nonce = Some(d.dpop_nonce.clone());
        return Err(e);
    }
    Ok(())
}

/// A verified regular proof whose `jti` is not remembered yet. The route admits it with
/// [`Pending::admit`] once its request has authenticated (the key holds the session, or the
/// login it finalizes is valid) and before it changes anything. So proofs from keys that
/// authenticate nothing never enter the replay cache, and no flood of them can fill it.
pub struct Pending(Proof);

impl Pending {
    /// RFC 7638 thumbprint of the proof's key.
    pub fn jkt(&self) -> &str {
        &self.0.jkt
    }

    /// Whether [`Pending::admit`] would accept the `jti` now, changing nothing.
    ///
    /// # Errors
    /// `400 invalid_dpop_proof` for a replayed `jti`, `429 rate_limited` when the key or the
    /// replay cache is full.
    pub fn check(&self, app: &AppState, d: &Data) -> Result<(), ApiError> {
        seen_error(
            d.seen_jtis
                .check(&self.0.jkt, &self.0.jti, app.now(), &app.cfg),
        )
    }

    /// Remembers the `jti` until the proof's `iat` leaves the window, and hands the proof out.
    ///
    /// # Errors
    /// As [`Pending::check`].
    pub fn admit(self, app: &AppState, d: &mut Data) -> Result<Proof, ApiError> {
        let now = app.now();
        let keep_until = self.0.iat.max(now).saturating_add(app.cfg.dpop_window_secs);
        let seen = d
            .seen_jtis
            .remember(&self.0.jkt, &self.0.jti, now, keep_until, &app.cfg);
        seen_error(seen).map(|()| self.0)
    }
}

fn seen_error(seen: Seen) -> Result<(), ApiError> {
    match seen {
        Seen::New => Ok(()),
        Seen::Replay => Err(ApiError::new(
            Code::InvalidDpopProof,
            "the proof jti was already used",
        )),
        Seen::KeyFull => Err(ApiError::too_many(
            Code::RateLimited,
            "too many proofs from this key; try again shortly",
            5,
        )),
        Seen::Full => Err(ApiError::too_many(
            Code::RateLimited,
            "too many proofs in flight; try again shortly",
            5,
        )),
    }
}

/// A required regular proof (docs/protocol.md, "DPoP"): verified and its nonce enforced when
/// the switch is on; its `jti` is checked against replays when the route admits it.
pub struct Dpop(pub Pending);

impl FromRequestParts<AppState> for Dpop {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let proof = verified(parts, app)?
            .ok_or_else(|| ApiError::new(Code::MissingDpopProof, "a DPoP proof is required"))?;
        nonce_ok(app, &proof)?;
        Ok(Self(Pending(proof)))
    }
}

/// A regular proof where one is optional: absent is fine, a bad one is still refused.
pub struct MaybeDpop(pub Option<Pending>);

impl FromRequestParts<AppState> for MaybeDpop {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let proof = verified(parts, app)?;
        if let Some(p) = &proof {
            nonce_ok(app, p)?;
        }
        Ok(Self(proof.map(Pending)))
    }
}

/// A challenge-scoped proof: verified here, but judged only in [`ChallengeDpop::bound_to`],
/// once the body has named the challenge token (`/otp/check` takes login codes too, which
/// carry no proof).
pub struct ChallengeDpop(Result<Option<Proof>, ApiError>);

impl FromRequestParts<AppState> for ChallengeDpop {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        Ok(Self(verified(parts, app)))
    }
}

impl ChallengeDpop {
    /// The proof where none is asked for (the SDKs sign no step-up send): absent is fine, a
    /// bad one is still refused, and the caller checks a present one's key.
    pub fn optional(self) -> Result<Option<Proof>, ApiError> {
        self.0
    }

    /// The proof, which must exist, carry no nonce, and have the challenge token's `jti`.
    pub fn bound_to(self, challenge_jti: &str) -> Result<Proof, ApiError> {
        let proof = self
            .0?
            .ok_or_else(|| ApiError::new(Code::MissingDpopProof, "a DPoP proof is required"))?;
        if proof.nonce.is_some() {
            return Err(ApiError::new(
                Code::InvalidDpopProof,
                "a challenge-scoped proof carries no nonce",
            ));
        }
        if proof.jti != challenge_jti {
            return Err(ApiError::new(
                Code::InvalidDpopProof,
                "the proof jti must equal the challenge token jti",
            ));
        }
        Ok(proof)
    }
}

/// The caller of a Bearer route: the access token is ours, unexpired, of a live session.
pub struct Caller {
    pub user_id: String,
    pub sid: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = crate::api::authorization(&parts.headers, "Bearer")
            .ok_or_else(|| ApiError::unauthorized("a Bearer access token is required"))?;
        let claims = app
            .keys
            .verify(KeyUse::Access, token)
            .ok_or_else(|| ApiError::unauthorized("the access token is not valid"))?;
        if numeric_date(&claims["exp"]).is_none_or(|exp| exp <= app.now() as f64) {
            return Err(ApiError::unauthorized("the access token has expired"));
        }
        let sid = claims["sid"].as_str().unwrap_or_default().to_owned();
        let d = app.data();
        match d.sessions.get(&sid) {
            Some(s) if !s.revoked => Ok(Self {
                user_id: s.user_id.clone(),
                sid,
            }),
            _ => Err(ApiError::unauthorized("the session has ended")),
        }
    }
}

/// The bearer session when an `Authorization` header is sent, checked as [`Caller`] is; no
/// header is `None`.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        if !parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            return Ok(Self(None));
        }
        Caller::from_request_parts(parts, app)
            .await
            .map(|c| Self(Some(c)))
    }
}

/// The proof must be signed by the key the session was pinned to at finalize: `jkt` is the
/// proof key's RFC 7638 thumbprint.
pub fn same_key(d: &Data, sid: &str, jkt: &str) -> Result<(), ApiError> {
    match d.sessions.get(sid) {
        Some(s) if s.jkt == jkt => Ok(()),
        _ => Err(ApiError::new(
            Code::DpopKeyMismatch,
            "the proof is not signed by the session's key",
        )),
    }
}
