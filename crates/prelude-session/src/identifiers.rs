//! Adding a phone number or an email address to the signed-in user: the reserved scopes
//! `prld:phone:register` and `prld:email:register` (docs/protocol.md, "Registering an
//! identifier").

use crate::error::{Error, Result};
use crate::{Identifier, IdentifierKind, SessionClient, StepUpChallenge};
use prelude_wire::text::RESERVED_IDENTIFIER_KEY;
use std::collections::BTreeMap;

/// The reserved scope that adds an identifier of `kind`.
pub fn registration_scope(kind: IdentifierKind) -> &'static str {
    match kind {
        IdentifierKind::PhoneNumber => prelude_wire::PHONE_REGISTER_SCOPE,
        IdentifierKind::EmailAddress => prelude_wire::EMAIL_REGISTER_SCOPE,
    }
}

/// The step whose code proves the new identifier of `kind`: `verify_sms` or `verify_email`.
fn registration_step(kind: IdentifierKind) -> &'static str {
    match kind {
        IdentifierKind::PhoneNumber => "verify_sms",
        IdentifierKind::EmailAddress => "verify_email",
    }
}

/// `identifier` in the one canonical form the server keeps (docs/protocol.md, "Identifiers"):
/// an email address lower-cased with its domain in IDNA form, a phone number as E.164.
///
/// # Errors
/// [`Error::InvalidInput`] naming the rule the value breaks.
pub fn canonical_identifier(identifier: &Identifier) -> Result<Identifier> {
    let value = match identifier.kind {
        IdentifierKind::PhoneNumber => prelude_wire::canonical_phone(&identifier.value),
        IdentifierKind::EmailAddress => prelude_wire::canonical_email(&identifier.value),
    }
    .map_err(|e| Error::InvalidInput(e.message))?;
    Ok(Identifier {
        kind: identifier.kind,
        value,
    })
}

impl SessionClient {
    /// Starts adding `identifier` to the signed-in user, as Prelude's "Register an Identifier"
    /// does: a step-up for `prld:email:register` or `prld:phone:register` with the identifier,
    /// in canonical form, in `metadata.identifier`. The server calls no hook; the challenge's
    /// one step (`verify_email` or `verify_sms`) sends its code to the **new** identifier.
    /// Then, as for any OTP step: [`Self::send_step_up_otp`], [`Self::submit_step_up_otp`]
    /// with the code, and [`Self::redeem_step_up`] once completed. The identifier is on the
    /// account when the code passes; nothing changes if it never does.
    ///
    /// The registration never takes the place of the step-up in progress
    /// ([`Self::active_step_up`], and what [`Self::restore_step_up`] offers after a restart):
    /// an approval open meanwhile stays the one in progress.
    ///
    /// The answer is checked here: its signed scope, step and `metadata.identifier` must be
    /// the ones asked for, so a code is never sent for another identifier than the person
    /// typed.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a value that is not an email address or E.164 number, or
    /// that holds a character refused in shown text (checked before any request); [`Error::IdentifierAlreadyExists`] when an account holds
    /// it, this one included; [`Error::ScopeNotAllowed`] when the app does not allow the
    /// scope; [`Error::InvalidChallengeToken`] for an answer that signs something else, or is
    /// blocked; the other errors of [`Self::request_step_up`].
    pub async fn register_identifier(&self, identifier: &Identifier) -> Result<StepUpChallenge> {
        let id = canonical_identifier(identifier)?;
        // It will be read on the account: nothing that reorders, hides or controls text.
        prelude_wire::text::check_shown("identifier", "the address", &id.value)
            .map_err(|e| Error::InvalidInput(e.message))?;
        let scope = registration_scope(id.kind);
        let metadata = BTreeMap::from([(RESERVED_IDENTIFIER_KEY.to_owned(), id.value.clone())]);
        let challenge = self.request_step_up(scope, Some(metadata.clone())).await?;
        let step = registration_step(id.kind);
        if challenge.is_blocked()
            || challenge.scope != scope
            || challenge.metadata != metadata
            || challenge.current_step.as_deref() != Some(step)
        {
            // Not the challenge asked for: no code is sent for it (it never took the saved
            // slot, so an approval open meanwhile stays).
            return Err(Error::InvalidChallengeToken {
                code: "invalid_challenge_token".into(),
                message: format!(
                    "the server did not answer with a {step} step for this identifier"
                ),
            });
        }
        Ok(challenge)
    }
}
