//! What the backend holds only in memory, for Countersign's restart at rest (`rest.rs`):
//! whether anything is under way, and the account's context that the process taking over
//! carries on with. Secrets are not part of it: that process resumes the session from the
//! keyring.

use super::Backend;
use crate::approvals::ApprovalsCarry;
use prelude_session::Identifier;
use serde::{Deserialize, Serialize};

/// The account's context of this run: whose it is, the address signed in with and those added.
/// Applied only to a resumed session of the same user. The ledger of grants is not part of
/// it: the file could say any scope was there at sign-in, and a requester would then receive a
/// token carrying another approval's scope; the process taking over counts every scope the
/// session carries as another approval's, as after any start (docs/approval-protocol.md,
/// "Guarantees").
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountCarry {
    user_id: String,
    signed_in_with: Option<Identifier>,
    added: Vec<Identifier>,
}

/// All the backend hands over: the account's context (when someone is signed in) and what
/// the guards remember (mutes, this minute's requests and links).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BackendCarry {
    account: Option<AccountCarry>,
    approvals: ApprovalsCarry,
}

impl Backend {
    /// Nothing lives only in memory: no request waits; no sign-in code, step-up, address or
    /// passkey action is under way. What remains is carried over ([`Backend::carry_out`]).
    pub fn at_rest(&self) -> bool {
        self.approvals.at_rest()
            && self.session.at_rest()
            && self.registrations.is_idle()
            && self.passkey.is_idle()
    }

    /// What the process taking over at `now_ms` (Unix ms) carries on with.
    pub fn carry_out(&self, now_ms: i64) -> BackendCarry {
        BackendCarry {
            account: self.account_carry(),
            approvals: self.approvals.carry_out(now_ms),
        }
    }

    /// Takes over `carry` at `now_ms`, once the stored session resumed: the guards' memory
    /// always; the account's context only if it is the resumed session's user. True when the
    /// account's context was taken.
    pub fn carry_in(&mut self, carry: BackendCarry, now_ms: i64) -> bool {
        self.approvals.carry_in(carry.approvals, now_ms);
        carry.account.is_some_and(|a| self.account_carry_in(a))
    }

    /// This run's account context; `None` when no one is signed in.
    fn account_carry(&self) -> Option<AccountCarry> {
        let user_id = self.user_id().ok()?;
        Some(AccountCarry {
            added: self.registrations.added_for(&user_id),
            user_id,
            signed_in_with: self.session.carry_out(),
        })
    }

    fn account_carry_in(&mut self, carry: AccountCarry) -> bool {
        if self.user_id().ok().as_deref() != Some(carry.user_id.as_str()) {
            return false;
        }
        self.session.carry_in(carry.signed_in_with);
        self.registrations.carry_in(&carry.user_id, carry.added);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Server;
    use prelude_emulator::{Config, Emulator};
    use prelude_session::{MemoryStore, SecretStore};
    use std::sync::Arc;

    async fn connect(emu: &Emulator, store: &Arc<dyn SecretStore>) -> Backend {
        let mut b = Backend::connect(Server::Url(emu.url()), "unit", None, Some(store.clone()))
            .await
            .unwrap();
        b.resume().await;
        b
    }

    async fn emulator() -> Emulator {
        let cfg = Config {
            resend_cooldown_secs: 0,
            ..Config::default()
        };
        Emulator::start(cfg, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    }

    fn last_code(emu: &Emulator) -> String {
        emu.outbox().last().unwrap().code.clone()
    }

    async fn sign_in(emu: &Emulator, b: &mut Backend, phone: &str) {
        b.start_login(phone).await.unwrap();
        assert!(!b.at_rest(), "a code is under way");
        b.verify_login_code(&last_code(emu)).await.unwrap();
    }

    fn shown(b: &Backend) -> (Option<String>, Vec<String>) {
        let user = b.view(None, "system".into()).user.unwrap();
        let ids = b.identifiers().unwrap().identifiers;
        (user.identifier, ids.into_iter().map(|r| r.value).collect())
    }

    #[tokio::test]
    async fn a_restart_at_rest_carries_the_account_s_context_to_the_same_user_only() {
        let emu = emulator().await;
        let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
        let mut b = connect(&emu, &store).await;
        assert!(
            b.account_carry().is_none(),
            "no one signed in, no account to carry"
        );
        sign_in(&emu, &mut b, "+33699990011").await;
        b.add_identifier("email", "grace@example.com", false)
            .await
            .unwrap();
        assert!(!b.at_rest(), "an address waits");
        b.verify_identifier_code(&last_code(&emu)).await.unwrap();
        assert!(b.at_rest());
        let before = shown(&b);
        assert_eq!(
            before,
            (
                Some("+33699990011".into()),
                vec!["+33699990011".into(), "grace@example.com".into()]
            )
        );
        // Through the file's form, as the next process reads it.
        let now = crate::approvals::now_ms();
        let text = serde_json::to_string(&b.carry_out(now)).unwrap();
        let carry: BackendCarry = serde_json::from_str(&text).unwrap();

        // The next process resumes the stored session, knowing none of it until it is
        // carried in.
        let mut next = connect(&emu, &store).await;
        assert_eq!(shown(&next), (None, vec![]));
        assert!(next.carry_in(carry.clone(), now));
        assert_eq!(shown(&next), before);

        // Another user's session takes nothing of it.
        let other: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
        let mut stranger = connect(&emu, &other).await;
        sign_in(&emu, &mut stranger, "+33699990012").await;
        assert!(!stranger.carry_in(carry, now));
        assert_eq!(
            shown(&stranger),
            (Some("+33699990012".into()), vec!["+33699990012".into()])
        );
    }

    /// Finding: the carry file's ledger could name any scope as carried at sign-in, so a
    /// requester received a token carrying a scope another approval granted.
    #[tokio::test]
    async fn a_carried_ledger_never_lets_a_token_with_another_approval_s_scope_go_out() {
        let emu = emulator().await;
        let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::new());
        let mut b = connect(&emu, &store).await;
        sign_in(&emu, &mut b, "+33699990013").await;
        let transfer = crate::session::Approval {
            scope: "transfer:write".into(),
            metadata: std::collections::BTreeMap::from([("amount".into(), "500".into())]),
        };
        b.request_step_up(transfer).await.unwrap();
        b.verify_step_up_code(&last_code(&emu)).await.unwrap();
        b.finish_step_up().unwrap();
        let now = crate::approvals::now_ms();
        let mut carry = serde_json::to_value(b.carry_out(now)).unwrap();

        let mut next = connect(&emu, &store).await;
        let scopes = next.session.client().profile().unwrap().scopes;
        assert!(scopes.iter().any(|s| s == "transfer:write"), "{scopes:?}");
        // Written in the file: every scope the token carries was there at sign-in.
        carry["account"]["ledger"] = serde_json::json!({"granted": [], "at_sign_in": scopes});
        assert!(next.carry_in(serde_json::from_value(carry).unwrap(), now));
        let h = next.session.handout("read:logs", true);
        assert!(h.withheld, "transfer:write was another approval's");
        assert!(h.access_token.is_none());
    }
}
