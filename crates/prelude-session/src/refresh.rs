//! Single-flight refresh with rotation and the session epoch (docs/protocol.md, "Tokens").

use crate::error::{Error, Result};
use crate::http::{Call, Proof, Reply};
use crate::store::Item;
use crate::util::jwt_claims;
use crate::{AccessToken, Profile, SessionClient, User};
use prelude_wire::routes;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::Ordering;

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    /// Unix seconds on the server's clock; a NumericDate, so it may carry a fraction.
    #[serde(deserialize_with = "crate::util::de_numeric_date")]
    expires_at: i64,
}

/// The refresh token as stored: the token and its expiry as the server wrote it.
#[derive(Serialize, Deserialize)]
struct StoredRefresh {
    token: String,
    expires_at: Option<String>,
}

impl SessionClient {
    /// Refreshes the session now. Any number of concurrent calls, and the refreshes that 401s
    /// trigger, share one request: the single-use refresh token is spent once.
    pub async fn refresh(&self) -> Result<User> {
        let generation = self.inner.generation.load(Ordering::SeqCst);
        self.refresh_if_unchanged(generation).await
    }

    /// Refreshes unless someone else did since `generation` was read.
    pub(crate) async fn refresh_if_unchanged(&self, generation: u64) -> Result<User> {
        let _slot = self.inner.refresh_slot.lock().await;
        if self.inner.generation.load(Ordering::SeqCst) != generation
            && let Some(profile) = self.profile()
        {
            return Ok(User { profile });
        }
        self.refresh_locked(None).await
    }

    /// One `/refresh` on the wire. The caller holds the refresh slot.
    pub(crate) async fn refresh_locked(
        &self,
        step_up_token: Option<&SecretString>,
    ) -> Result<User> {
        let epoch = self.inner.epoch.load(Ordering::SeqCst);
        let token = self
            .stored_refresh_token()?
            .ok_or_else(|| Error::unauthorized("not signed in"))?;
        let mut call = Call::post(routes::REFRESH).proof(Proof::Regular);
        call.refresh_token = Some(token);
        if let Some(t) = step_up_token {
            call.body = Some(json!({"step_up_token": t.expose_secret()}));
        }
        let reply = self.send(&call, None).await?;
        self.accept_tokens(&reply, epoch, "refresh")
    }

    pub(crate) fn stored_refresh_token(&self) -> Result<Option<SecretString>> {
        let Some(raw) = self.store_get(Item::RefreshToken)? else {
            return Ok(None);
        };
        let stored: StoredRefresh = serde_json::from_str(&raw).map_err(|_| {
            Error::KeyringUnavailable("the stored refresh token is unreadable".into())
        })?;
        Ok(Some(SecretString::from(stored.token)))
    }

    /// Takes the tokens of `/login/finalize` or `/refresh`. The rotated refresh token is
    /// persisted before the access token is used; a logout since `epoch` wins.
    pub(crate) fn accept_tokens(&self, reply: &Reply, epoch: u64, what: &str) -> Result<User> {
        let t: TokenReply = reply.json()?;
        if t.access_token.is_empty() {
            return Err(Error::Generic {
                code: "refresh_failed".into(),
                message: "the server returned no access token".into(),
            });
        }
        let claims = jwt_claims(&t.access_token)
            .ok_or_else(|| Error::decoding("the access token is not a JWT"))?;
        let rt = reply
            .header("x-refresh-token")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::decoding("the server returned no refresh token"))?;
        if self.inner.epoch.load(Ordering::SeqCst) != epoch {
            return Err(Error::unauthorized(format!(
                "the session was signed out during {what}"
            )));
        }
        let stored = StoredRefresh {
            token: rt,
            expires_at: reply.header("x-refresh-token-expires-at"),
        };
        let text = zeroize::Zeroizing::new(
            serde_json::to_string(&stored).map_err(|_| Error::decoding("refresh token"))?,
        );
        self.store_set(Item::RefreshToken, &text)?;
        // After the refresh token is kept: it is spent on the server either way, and the new
        // one resumes the session once the clock is right.
        let offset = reply.clock_offset()?;
        self.local().access = Some(AccessToken {
            token: SecretString::from(t.access_token),
            expires_at: t.expires_at + offset,
        });
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        Ok(User {
            profile: Profile::from_claims(claims),
        })
    }

    /// The signed-in user, refreshing first when the cached token is missing or expired.
    pub async fn current_user(&self) -> Result<User> {
        let fresh = self
            .local()
            .access
            .as_ref()
            .is_some_and(|a| a.expires_at > crate::util::unix_now() + 5);
        if fresh && let Some(profile) = self.profile() {
            return Ok(User { profile });
        }
        self.refresh().await
    }
}
