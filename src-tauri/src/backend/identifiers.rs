//! Adding an email address or a phone number to the account: a step-up for Prelude's reserved
//! scope, whose code goes to the new address (docs/protocol.md, "Registering an identifier").
//! It runs beside any approval and never touches it.

use super::*;
use crate::session::code_in;
use prelude_session::{IdentifierKind, canonical_identifier};
use serde::Serialize;

/// An address typed for the account is at most this long: the wire's limit for
/// `metadata.identifier`.
const MAX_TYPED_CHARS: usize = prelude_wire::MAX_IDENTIFIER_VALUE_CHARS;

/// What this app knows of the account's addresses, and the one being added.
#[derive(Default)]
pub(super) struct Registrations {
    /// `(user id, identifier)` added here. Prelude gives the frontend no call that lists a
    /// user's identifiers, so the panel shows the one signed in with and these.
    added: Vec<(String, Identifier)>,
    pending: Option<Pending>,
}

impl Registrations {
    /// No address waits for its code.
    pub(super) fn is_idle(&self) -> bool {
        self.pending.is_none()
    }

    /// The addresses added here for `user`.
    pub(super) fn added_for(&self, user: &str) -> Vec<Identifier> {
        self.added
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, i)| i.clone())
            .collect()
    }

    /// Knows `ids` as added for `user` (carried from the process before).
    pub(super) fn carry_in(&mut self, user: &str, ids: Vec<Identifier>) {
        for id in ids {
            if !self.added.iter().any(|(u, i)| u == user && *i == id) {
                self.added.push((user.to_owned(), id));
            }
        }
    }
}

/// A registration waiting for its code.
#[derive(Clone)]
struct Pending {
    user: String,
    challenge: StepUpChallenge,
    /// When its code was last sent, for the resend countdown.
    sent_at: SystemTime,
}

impl Pending {
    fn identifier(&self) -> Option<Identifier> {
        let value = self
            .challenge
            .metadata
            .get(prelude_wire::text::RESERVED_IDENTIFIER_KEY)?;
        let kind = if self.challenge.scope == prelude_wire::PHONE_REGISTER_SCOPE {
            IdentifierKind::PhoneNumber
        } else {
            IdentifierKind::EmailAddress
        };
        Some(Identifier {
            kind,
            value: value.clone(),
        })
    }
}

/// The account's addresses as the panel shows them.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentifiersView {
    pub identifiers: Vec<IdentifierRow>,
    /// The address waiting for its code, when one is.
    pub pending: Option<IdentifierRow>,
    /// Unix ms from when another code may be asked for the pending one.
    pub resend_ms: Option<i64>,
    /// The kinds the panel adds, with their words; each `kind` is what `add_identifier` takes.
    pub kinds: &'static [crate::labels::KindWords],
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentifierRow {
    /// `email` or `phone`: a `kinds` entry's `kind`.
    pub kind: &'static str,
    /// The row's word for its kind: "Email" or "Phone".
    pub kind_name: &'static str,
    pub value: String,
    /// The address this session signed in with.
    pub signed_in_with: bool,
}

fn row(id: &Identifier, signed_in_with: bool) -> IdentifierRow {
    let words = crate::labels::kind_words(id.kind);
    IdentifierRow {
        kind: words.kind,
        kind_name: words.name,
        value: id.value.clone(),
        signed_in_with,
    }
}

/// What the person typed, as the kind the button named: `email` or `phone`.
fn typed_identifier(kind: &str, typed: &str) -> AppResult<Identifier> {
    let kind = IdentifierKind::ALL
        .into_iter()
        .find(|k| crate::labels::kind_words(*k).kind == kind)
        .ok_or_else(|| AppError::InvalidInput("choose email or phone".into()))?;
    if typed.chars().count() > MAX_TYPED_CHARS {
        return Err(AppError::InvalidInput(format!(
            "that is longer than {MAX_TYPED_CHARS} characters"
        )));
    }
    let id = Identifier {
        kind,
        value: typed.to_owned(),
    };
    canonical_identifier(&id).map_err(|_| {
        AppError::InvalidInput(match kind {
            IdentifierKind::EmailAddress => "enter an email address, like you@example.com".into(),
            IdentifierKind::PhoneNumber => {
                "enter a phone number starting with + and the country code".into()
            }
        })
    })
}

impl Backend {
    /// The registration waiting for its code, for the signed-in user.
    fn pending(&self) -> AppResult<Pending> {
        let user = self.user_id()?;
        self.registrations
            .pending
            .clone()
            .filter(|p| p.user == user)
            .ok_or(AppError::WrongStage)
    }

    pub(super) fn user_id(&self) -> AppResult<String> {
        if !self.signed_in() {
            return Err(AppError::NotSignedIn);
        }
        self.session
            .client()
            .profile()
            .and_then(|p| p.user_id)
            .ok_or(AppError::NotSignedIn)
    }

    /// The panel: the address signed in with, those added here, and one waiting for its code.
    ///
    /// # Errors
    /// [`AppError::NotSignedIn`].
    pub fn identifiers(&self) -> AppResult<IdentifiersView> {
        let user = self.user_id()?;
        let signed_with = self
            .session
            .flow()
            .identifier()
            .and_then(|i| canonical_identifier(i).ok());
        let mut identifiers: Vec<IdentifierRow> =
            signed_with.iter().map(|i| row(i, true)).collect();
        for (_, id) in self.registrations.added.iter().filter(|(u, _)| *u == user) {
            if signed_with.as_ref() != Some(id) {
                identifiers.push(row(id, false));
            }
        }
        let pending = self
            .registrations
            .pending
            .as_ref()
            .filter(|p| p.user == user);
        Ok(IdentifiersView {
            identifiers,
            pending: pending
                .and_then(Pending::identifier)
                .map(|i| row(&i, false)),
            resend_ms: pending.map(|p| ms(p.sent_at + resend_cooldown())),
            kinds: &crate::labels::KINDS,
        })
    }

    /// Starts adding an address: asks for the reserved scope and sends the code to it. A
    /// registration already waiting is dropped first. An email address that could pass for
    /// another is sent only when `anyway` (the person saw the warning and confirmed it).
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for an address that is not one and
    /// [`AppError::LookalikeIdentifier`] for a look-alike (both before any request); the
    /// server's refusals (`identifier_already_exists`, `scope_not_allowed`, …).
    pub async fn add_identifier(
        &mut self,
        kind: &str,
        typed: &str,
        anyway: bool,
    ) -> AppResult<IdentifiersView> {
        let user = self.user_id()?;
        let id = typed_identifier(kind, typed)?;
        if !anyway
            && id.kind == IdentifierKind::EmailAddress
            && let Some(warning) = prelude_wire::text::email_lookalike(&id.value)
        {
            return Err(AppError::LookalikeIdentifier(warning));
        }
        self.registrations.pending = None;
        let ch = self.session.client().register_identifier(&id).await?;
        self.session.client().send_step_up_otp(&ch).await?;
        self.registrations.pending = Some(Pending {
            user,
            challenge: ch,
            sent_at: SystemTime::now(),
        });
        self.identifiers()
    }

    /// Sends the pending address's code again (after the server's cooldown).
    ///
    /// # Errors
    /// [`AppError::WrongStage`] with nothing pending; the server's refusals.
    pub async fn resend_identifier_code(&mut self) -> AppResult<IdentifiersView> {
        let ch = self.pending()?.challenge;
        self.session.client().send_step_up_otp(&ch).await?;
        if let Some(p) = &mut self.registrations.pending {
            p.sent_at = SystemTime::now();
        }
        self.identifiers()
    }

    /// Checks the code the new address received; when it passes, the address is on the
    /// account and the completed challenge is redeemed.
    ///
    /// # Errors
    /// [`AppError::WrongStage`] with nothing pending; [`AppError::InvalidInput`] for no code in
    /// what was typed; a wrong code (the registration stays, to try again); a challenge that
    /// ended (the registration is dropped); [`AppError::ChallengeMismatch`] when the completed
    /// token signs another address.
    pub async fn verify_identifier_code(&mut self, typed: &str) -> AppResult<IdentifiersView> {
        let pending = self.pending()?;
        let ch = pending.challenge.clone();
        let code = code_in(typed)?;
        let done = match self.session.client().submit_step_up_otp(&ch, &code).await {
            Ok(done) => done,
            // A challenge that ended, or an address someone else took meanwhile, cannot pass:
            // the person starts again. A wrong code or a wait keeps it.
            Err(
                e @ (SessionError::ExpiredChallengeToken
                | SessionError::TokenReused
                | SessionError::InvalidChallengeToken { .. }
                | SessionError::IdentifierAlreadyExists { .. }),
            ) => {
                self.registrations.pending = None;
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        self.registrations.pending = None;
        if !done.is_completed() || done.scope != ch.scope || done.metadata != ch.metadata {
            return Err(AppError::ChallengeMismatch);
        }
        self.session.client().redeem_step_up(&done).await?;
        if let Some(id) = pending.identifier()
            && !self
                .registrations
                .added
                .iter()
                .any(|(u, i)| *u == pending.user && *i == id)
        {
            self.registrations.added.push((pending.user, id));
        }
        self.identifiers()
    }

    /// Drops the address waiting for its code; nothing is added (the server lets the challenge
    /// expire).
    ///
    /// # Errors
    /// [`AppError::NotSignedIn`].
    pub fn cancel_identifier(&mut self) -> AppResult<IdentifiersView> {
        // Its code can no longer be entered here: the demo inbox shows it void, not live.
        let given_up = self.registrations.pending.take();
        if let Some(id) = given_up.and_then(|p| p.identifier()) {
            self.demo
                .void_sent_to(prelude_emulator::Purpose::Register, &id.value);
        }
        self.identifiers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prelude_emulator::{Config, DemoScenario};
    use prelude_session::MemoryStore;
    use std::collections::BTreeMap;

    /// A backend on a fresh emulator (no send cooldown), signed in as a phone-only user.
    async fn signed_in_by_phone(phone: &str) -> (Emulator, Backend) {
        let emu = Emulator::start(
            Config {
                resend_cooldown_secs: 0,
                ..Config::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let mut b = Backend::connect(
            Server::Url(emu.url()),
            "unit",
            None,
            Some(Arc::new(MemoryStore::new())),
        )
        .await
        .unwrap();
        b.resume().await;
        b.start_login(phone).await.unwrap();
        let code = emu.outbox().last().unwrap().code.clone();
        b.verify_login_code(&code).await.unwrap();
        (emu, b)
    }

    fn last(emu: &Emulator) -> prelude_emulator::OutboxMessage {
        emu.outbox().last().unwrap().clone()
    }

    #[tokio::test]
    async fn the_no_email_dead_end_opens_once_an_email_is_added() {
        let (emu, mut b) = signed_in_by_phone("+33699990001").await;
        emu.set_scenario(DemoScenario::EmailThenSms);
        let transfer = Approval {
            scope: "transfer:write".into(),
            metadata: BTreeMap::from([("amount".into(), "500".into())]),
        };
        let e = b.request_step_up(transfer.clone()).await.unwrap_err();
        assert_eq!(e.code(), "no_email_for_step");

        let v = b
            .add_identifier("email", " Grace@Example.COM ", false)
            .await
            .unwrap();
        let pending = v.pending.unwrap();
        assert_eq!(
            (pending.kind, pending.value.as_str()),
            ("email", "grace@example.com")
        );
        assert!(v.resend_ms.is_some());
        let mail = last(&emu);
        assert_eq!(mail.to, "grace@example.com");
        // A wrong code keeps it waiting; the right one adds it.
        let wrong = if mail.code == "000000" {
            "111111"
        } else {
            "000000"
        };
        let e = b.verify_identifier_code(wrong).await.unwrap_err();
        assert_eq!(e.code(), "invalid_otp_code");
        assert!(b.identifiers().unwrap().pending.is_some());
        let v = b.verify_identifier_code(&mail.code).await.unwrap();
        assert!(v.pending.is_none());
        let shown: Vec<_> = v
            .identifiers
            .iter()
            .map(|r| (r.kind, r.value.as_str(), r.signed_in_with))
            .collect();
        assert_eq!(
            shown,
            [
                ("phone", "+33699990001", true),
                ("email", "grace@example.com", false)
            ]
        );

        // The approval that was stuck sends its code now, to the new address.
        b.resend_step_up_code().await.unwrap();
        assert_eq!(last(&emu).to, "grace@example.com");
        b.deny_step_up().unwrap();
        // Asked again, it passes both steps.
        b.request_step_up(transfer).await.unwrap();
        assert_eq!(last(&emu).to, "grace@example.com");
        b.verify_step_up_code(&last(&emu).code).await.unwrap();
        assert_eq!(last(&emu).to, "+33699990001");
        b.verify_step_up_code(&last(&emu).code).await.unwrap();
        assert_eq!(b.view(None, "system".into()).stage, Stage::Done);
    }

    #[tokio::test]
    async fn a_taken_or_malformed_address_is_refused_and_nothing_waits() {
        let (emu, mut b) = signed_in_by_phone("+33699990002").await;
        let sent = emu.outbox().len();
        let e = b
            .add_identifier("email", "ADA@example.com", false)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "identifier_already_exists");
        let e = b
            .add_identifier("phone", "+33 6 99 99 00 02", false)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "identifier_already_exists");
        let e = b.add_identifier("email", "grace", false).await.unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert_eq!(emu.outbox().len(), sent, "no code went out");
        assert!(b.identifiers().unwrap().pending.is_none());
        assert_eq!(
            b.verify_identifier_code("123456").await.unwrap_err().code(),
            "wrong_stage"
        );
        // Signed out, there is no account to add to.
        b.logout().await.unwrap();
        assert_eq!(b.identifiers().unwrap_err().code(), "not_signed_in");
    }

    /// A look-alike of someone else's address: a warning before any code, naming the part;
    /// sent only once confirmed, where the emulator still refuses a mix of scripts.
    #[tokio::test]
    async fn a_look_alike_address_is_warned_about_before_any_code() {
        let (emu, mut b) = signed_in_by_phone("+33699990003").await;
        let sent = emu.outbox().len();
        for (typed, part) in [
            ("\u{430}da@example.com", "The part before @"),
            ("ada@ex\u{430}mple.com", "The domain"),
            ("grace@\u{441}\u{43e}\u{440}.example", "The domain"),
        ] {
            let e = b.add_identifier("email", typed, false).await.unwrap_err();
            assert_eq!(e.code(), "lookalike_identifier", "{typed}");
            let why = e.reason().unwrap();
            assert!(why.starts_with(part) && why.contains("Cyrillic"), "{why}");
        }
        assert_eq!(
            emu.outbox().len(),
            sent,
            "no code before the person confirms"
        );
        assert!(b.identifiers().unwrap().pending.is_none());
        // Confirmed: a wholly Cyrillic domain goes out; a mix is the emulator's refusal.
        let e = b
            .add_identifier("email", "\u{430}da@example.com", true)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "invalid_identifier");
        b.add_identifier("email", "grace@\u{441}\u{43e}\u{440}.example", true)
            .await
            .unwrap();
        assert_eq!(emu.outbox().len(), sent + 1);
        // Plain addresses meet no warning.
        b.add_identifier("email", "grace@example.com", false)
            .await
            .unwrap();
    }

    #[test]
    fn a_typed_address_is_checked_before_any_request() {
        assert_eq!(
            typed_identifier("email", " Grace@Example.COM ")
                .unwrap()
                .value,
            "grace@example.com"
        );
        assert_eq!(
            typed_identifier("phone", "+44 20 7946 0018").unwrap().value,
            "+442079460018"
        );
        for (kind, typed) in [
            ("email", ""),
            ("email", "+442079460018"),
            ("phone", "grace@example.com"),
            ("phone", "020 7946 0018"),
            ("fax", "+442079460018"),
        ] {
            assert_eq!(
                typed_identifier(kind, typed).unwrap_err().code(),
                "invalid_input",
                "{kind} {typed:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(MAX_TYPED_CHARS));
        assert_eq!(
            typed_identifier("email", &long).unwrap_err().code(),
            "invalid_input"
        );
    }
}
