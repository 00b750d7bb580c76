//! The view model, derived from the flow; reading it changes nothing.

use super::{Backend, input_rules, ms, resend_cooldown};
use crate::session::{Approving, Flow};
use crate::view::{AppView, ChallengeView, Stage, UserView, mask, this_computer};
use prelude_wire::Channel;

impl Backend {
    /// The view of the flow as it is; reads only.
    pub fn view(&self, last_identifier: Option<String>, theme: String) -> AppView {
        let profile = self.session.client().profile();
        let identifier = self.session.flow().identifier().map(|i| i.value.clone());
        let user = self.signed_in().then(|| UserView {
            user_id: profile.as_ref().and_then(|p| p.user_id.clone()),
            session_id: profile.as_ref().and_then(|p| p.session_id.clone()),
            identifier: identifier.clone().or_else(|| last_identifier.clone()),
            approver: identifier
                .as_deref()
                .or(last_identifier.as_deref())
                .map(mask),
            scopes: profile
                .as_ref()
                .map(|p| p.scopes.clone())
                .unwrap_or_default(),
            revoke_targets: crate::labels::REVOKE_TARGETS,
        });
        // A code with no tries left may be replaced at once.
        let login_resend_ms = match self.session.flow() {
            Flow::CodeSent { sent_at, .. } if !self.session.flow().code_exhausted() => {
                Some(ms(*sent_at + resend_cooldown()))
            }
            _ => None,
        };
        let mut server = self.server.view(self.demo.is_demo());
        server.scenario = self.demo.scenario();
        let request = self
            .approvals
            .request_view(super::requests::focus(self.session.flow()));
        let stage = match self.session.flow().stage() {
            Stage::Logged if request.as_ref().is_some_and(|r| !self.passkey_holds(&r.id)) => {
                Stage::Request
            }
            s => s,
        };
        let challenge = self
            .session
            .flow()
            .approving()
            .map(|a| self.challenge_view(a));
        // One deadline for the decision: a request's own, and a step's when it ends sooner.
        let deadline = match stage {
            Stage::Request => request.as_ref().map(|r| r.expires_ms),
            Stage::StepUpOtp => {
                let step = challenge.as_ref().and_then(|c| c.expires_ms);
                let asked = request.as_ref().map(|r| r.expires_ms);
                step.into_iter().chain(asked).min()
            }
            _ => None,
        };
        AppView {
            deadline,
            stage,
            server,
            theme,
            rules: input_rules(),
            form_scope: crate::labels::TRANSFER_SCOPE,
            identifier,
            last_identifier,
            login_resend_ms,
            code_exhausted: self.session.flow().code_exhausted(),
            user,
            challenge,
            grant: self.session.flow().grant().cloned(),
            notice: self.notice.text().map(str::to_owned),
            // What happened, in words, and what to do; the store's own reason is technical.
            store_warning: self.store.degraded().map(|why| {
                let what = if why.contains("locked") {
                    "the system keyring is locked"
                } else {
                    "no system keyring answers"
                };
                format!(
                    "Countersign will not remember your sign-in after it closes: {what}. You can still sign in and approve. To be remembered, unlock or start your keyring (such as GNOME Keyring), then restart Countersign."
                )
            }),
            waiting: self.approvals.waiting(super::requests::focus(self.session.flow())),
            request,
            report_offer: self.notice.report_offer(),
            passkey: self.passkey_view(),
            lock: None,
        }
    }

    fn challenge_view(&self, a: &Approving) -> ChallengeView {
        let c = &a.challenge;
        let (step, step_count) = c.progress().unwrap_or((1, 1));
        let channel = c
            .position()
            .and_then(|p| p.step().and_then(|s| s.channel()));
        let destination = match (channel, self.session.flow().identifier()) {
            (Some(Channel::Sms), Some(id)) if !id.value.contains('@') => Some(mask(&id.value)),
            (Some(Channel::Email), Some(id)) if id.value.contains('@') => Some(mask(&id.value)),
            (Some(Channel::Sms), _) => Some("your phone".into()),
            (Some(Channel::Email), _) => Some("your email address".into()),
            (None, _) => None,
        };
        ChallengeView {
            scope: c.scope.clone(),
            scope_words: crate::labels::scope_words(&c.scope),
            metadata: crate::requests::matching::shown(&c.metadata),
            step,
            step_count,
            step_key: c.current_step.clone().unwrap_or_default(),
            channel: channel.map(Channel::as_str),
            channel_label: channel.map(crate::labels::channel_label),
            destination,
            expires_ms: c.expires_at.map(|s| s * 1000),
            resend_ms: a
                .sent_at
                .filter(|_| a.tries_left != Some(0))
                .map(|t| ms(t + resend_cooldown())),
            custom_here: channel.is_none() && self.demo.has_customer(),
            code_sent: a.sent_at.is_some(),
            resumed: a.attempt.resumed,
            warnings: crate::view::warnings(&[(
                "askedBy",
                a.attempt.request.as_ref().map(|r| r.requester.as_str()),
            )]),
            asked_by: match &a.attempt.request {
                Some(r) => r.requester.clone(),
                None => this_computer().to_owned(),
            },
            asked_ms: a.attempt.started.saturating_mul(1000),
            broad: crate::labels::broad(
                &c.scope,
                crate::requests::matching::has_details(&c.metadata),
                c.grant_mode.as_deref(),
                c.granted_for,
            ),
            broad_title: crate::labels::broad_title(
                &c.scope,
                crate::requests::matching::has_details(&c.metadata),
            ),
            dead_end: a.missing_address.map(crate::labels::dead_end),
            passkey: self.passkey_step_view(c),
        }
    }
}
