//! The signed-in user's sessions, and the demo server's controls.

use super::{Backend, CustomerBackend};
use crate::error::{AppError, AppResult};
use crate::outcome::AttemptOutcome;
use crate::view::{InboxMessage, SessionRow};
use prelude_emulator::DemoScenario;
use prelude_session::RevokeTarget;
use std::collections::HashSet;

/// Which demo messages belong to an approval that ended unanswered.
#[derive(Debug, Default)]
pub(crate) struct OutboxMarks {
    /// Message ids in the outbox when the open approval began.
    before: HashSet<String>,
    /// Step-up codes of approvals denied, reported or cancelled: nothing can enter them any
    /// more (the challenge token is gone), so the inbox shows them void, not live.
    void: HashSet<String>,
}

impl Backend {
    /// Notes the embedded demo's messages as an approval begins.
    pub(super) fn mark_outbox(&mut self) {
        if let Some(e) = &self.emulator {
            self.outbox.before = e.outbox().into_iter().map(|m| m.id).collect();
        }
    }

    /// The step-up codes sent since the approval began are void: it ended unanswered.
    pub(super) fn void_outbox(&mut self) {
        let Some(e) = &self.emulator else { return };
        let sent = e.outbox().into_iter().filter(|m| {
            m.purpose == prelude_emulator::Purpose::StepUp && !self.outbox.before.contains(&m.id)
        });
        let ids: Vec<String> = sent.map(|m| m.id).collect();
        self.outbox.void.extend(ids);
    }

    /// The demo codes sent to `to` for `purpose` are void: what they were for was given up,
    /// and nothing can enter them any more.
    pub(super) fn void_sent_to(&mut self, purpose: prelude_emulator::Purpose, to: &str) {
        let Some(e) = &self.emulator else { return };
        let sent = e
            .outbox()
            .into_iter()
            .filter(|m| m.purpose == purpose && m.to == to);
        let ids: Vec<String> = sent.map(|m| m.id).collect();
        self.outbox.void.extend(ids);
    }

    // -----------------------------------------------------------------------------------------
    // Sessions

    pub async fn list_sessions(&mut self) -> AppResult<Vec<SessionRow>> {
        if !self.signed_in() {
            return Err(AppError::NotSignedIn);
        }
        let own = self.client.session_id();
        let list = self.client.list_sessions(Some(50), None).await?;
        Ok(list
            .sessions
            .into_iter()
            .map(|s| SessionRow {
                current: own.as_deref() == Some(s.id.as_str()),
                device: [s.device_model.clone(), s.os_version.clone()]
                    .into_iter()
                    .flatten()
                    .filter(|x| x != "unknown")
                    .collect::<Vec<_>>()
                    .join(" · "),
                kind: match s.device_type.as_deref() {
                    Some("desktop") => Some("Desktop"),
                    Some("mobile") => Some("Phone"),
                    Some("tablet") => Some("Tablet"),
                    _ => None,
                },
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
            })
            .collect())
    }

    pub async fn revoke_sessions(&mut self, target: &str, id: Option<String>) -> AppResult<()> {
        if !self.signed_in() {
            return Err(AppError::NotSignedIn);
        }
        let r = crate::labels::REVOKE_TARGETS;
        let t = match (target, id) {
            (t, _) if t == r.all => RevokeTarget::All,
            (t, _) if t == r.others => RevokeTarget::Others,
            ("mine", _) => RevokeTarget::Mine,
            (t, Some(id)) if t == r.one => RevokeTarget::Session(id.into()),
            _ => {
                return Err(AppError::InvalidInput(
                    "choose all, others, mine, or one session".into(),
                ));
            }
        };
        self.client.revoke_sessions(t).await?;
        if self.client.profile().is_none() {
            self.end_flow(AttemptOutcome::Cancelled, None);
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Demo

    pub async fn demo_inbox(&self) -> AppResult<Vec<InboxMessage>> {
        if let Some(e) = &self.emulator {
            return Ok(e
                .outbox()
                .into_iter()
                .map(|m| {
                    let void = self.outbox.void.contains(&m.id);
                    let mut m = InboxMessage::from(m);
                    if void && m.status == "live" {
                        m.status = "void";
                    }
                    m
                })
                .collect());
        }
        match &self.demo_url {
            Some(url) => crate::http::fetch_outbox(url, self.emulator_key.as_ref()).await,
            None => Err(AppError::DemoOnly),
        }
    }

    pub async fn set_scenario(&mut self, name: &str) -> AppResult<()> {
        if self.emulator.is_none() {
            return Err(AppError::DemoOnly);
        }
        let s = DemoScenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| AppError::InvalidInput(format!("unknown scenario {name}")))?;
        if s == DemoScenario::EmailThenApp {
            self.start_customer().await?;
        }
        if let Some(emu) = &self.emulator {
            emu.set_scenario(s);
        }
        Ok(())
    }

    /// Starts the stand-in for the customer's backend, once, and points the embedded server's
    /// custom steps at its keys. Made on first use: it generates an RSA key.
    pub(super) async fn start_customer(&mut self) -> AppResult<()> {
        let emu = self.emulator.as_ref().ok_or(AppError::DemoOnly)?;
        if self.customer.is_none() {
            let customer = CustomerBackend::start(serde_json::json!({"status": "block"}))
                .await
                .map_err(|e| AppError::Emulator(e.to_string()))?;
            emu.set_jwks_url(Some(customer.jwks_url()));
            self.customer = Some(customer);
        }
        Ok(())
    }

    /// Resets the demo server; the local session is gone with it.
    pub async fn reset_demo(&mut self) -> AppResult<()> {
        let emu = self.emulator.as_ref().ok_or(AppError::DemoOnly)?;
        emu.reset();
        self.end_flow(AttemptOutcome::Cancelled, None);
        self.notice = None;
        // The server forgot the session; forget it here too (the revoke is refused, harmlessly).
        let _ = self.client.logout().await;
        Ok(())
    }
}
