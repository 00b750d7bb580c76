//! Listing and revoking the user's sessions (docs/protocol.md, "Sessions").

use crate::error::{Error, Result};
use crate::http::Call;
use crate::{RevokeTarget, SessionClient, SessionList};
use prelude_wire::routes;

impl SessionClient {
    /// The user's sessions (`GET me/list`), a page of at most `limit` after `offset`.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] without a session; [`Error::BadRequest`] for a limit or offset
    /// the server refuses; the transport's errors.
    pub async fn list_sessions(
        &self,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<SessionList> {
        let mut call = Call::get(routes::ME_LIST).bearer();
        if let Some(l) = limit {
            call.query.push(("limit".into(), l.to_string()));
        }
        if let Some(o) = offset {
            call.query.push(("offset".into(), o.to_string()));
        }
        self.call(&call).await?.json()
    }

    /// Revokes sessions; when that includes this one, the local state is wiped too.
    pub async fn revoke_sessions(&self, target: RevokeTarget) -> Result<()> {
        let own = self.session_id();
        let mut call = Call::post(routes::ME_REVOKE).bearer();
        let includes_own = match &target {
            RevokeTarget::All => {
                call.query.push(("target".into(), "all".into()));
                true
            }
            RevokeTarget::Others => {
                call.query.push(("target".into(), "others".into()));
                false
            }
            RevokeTarget::Mine => {
                call.query.push(("target".into(), "mine".into()));
                true
            }
            RevokeTarget::Session(id) => {
                if id.trim().is_empty() {
                    return Err(Error::InvalidInput("the session id is empty".into()));
                }
                call.query.push(("target".into(), "session".into()));
                call.query.push(("session_id".into(), id.to_string()));
                own.as_ref() == Some(id)
            }
        };
        self.call(&call).await?;
        if includes_own {
            self.wipe_local()?;
        }
        Ok(())
    }
}
