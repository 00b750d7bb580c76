//! The reserved scopes `prld:phone:register` and `prld:email:register` (docs/protocol.md,
//! "Registering an identifier"): a built-in one-step challenge, no hook, whose code goes to the
//! new identifier, which joins the user when the step passes.

use crate::api::ApiError;
use crate::state::*;
use prelude_wire::Code;
use std::collections::BTreeMap;

/// A user holds at most this many identifiers, as the control API seeds them [INF].
pub const MAX_IDENTIFIERS_PER_USER: usize = 10;

/// The registration step's lifetime in seconds, like the demo's OTP steps [INF].
const STEP_SECONDS: i64 = 600;

/// The kind of identifier a reserved registration scope adds, or `None` for any other scope.
pub(crate) fn reserved_kind(scope: &str) -> Option<IdentifierType> {
    match scope {
        prelude_wire::PHONE_REGISTER_SCOPE => Some(IdentifierType::PhoneNumber),
        prelude_wire::EMAIL_REGISTER_SCOPE => Some(IdentifierType::EmailAddress),
        _ => None,
    }
}

fn step_key(kind: IdentifierType) -> &'static str {
    match kind {
        IdentifierType::PhoneNumber => "verify_sms",
        IdentifierType::EmailAddress => "verify_email",
    }
}

fn what(kind: IdentifierType) -> &'static str {
    match kind {
        IdentifierType::PhoneNumber => "phone number",
        IdentifierType::EmailAddress => "email address",
    }
}

/// Refuses `id` when a user holds it already: another user, or `user` itself.
fn free_for(d: &Data, user_id: &str, id: &Identifier) -> Result<(), ApiError> {
    match d.find_user(id) {
        Some(u) if u.id == user_id => Err(ApiError::new(
            Code::IdentifierAlreadyExists,
            format!("this {} is already on your account", what(id.kind)),
        )),
        Some(_) => Err(ApiError::new(
            Code::IdentifierAlreadyExists,
            format!("this {} belongs to another user", what(id.kind)),
        )),
        None => Ok(()),
    }
}

/// The decision for a reserved registration scope: one OTP step on the new identifier, which
/// `metadata.identifier` names and which is rewritten there in its canonical form (the signed
/// token then says what will be added). `None` for any other scope, which goes to its rules.
///
/// # Errors
/// `400 invalid_metadata` without `metadata.identifier`; `400 invalid_identifier` for a value
/// that is not an email address or E.164 number, or holds a character refused in shown text; `409 identifier_already_exists` for one a
/// user holds; `409 conflict` for a user who holds [`MAX_IDENTIFIERS_PER_USER`] already.
pub(super) fn decide(
    d: &Data,
    user: &User,
    scope: &str,
    metadata: &mut BTreeMap<String, String>,
) -> Result<Option<DirectDecision>, ApiError> {
    let Some(kind) = reserved_kind(scope) else {
        return Ok(None);
    };
    let value = metadata
        .get(prelude_wire::text::RESERVED_IDENTIFIER_KEY)
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidMetadata,
                format!(
                    "{scope} needs the {} to add in metadata.identifier",
                    what(kind)
                ),
            )
        })?;
    let id = super::request::canonical_identifier(&Identifier {
        kind,
        value: value.clone(),
    })?;
    // [INF] An address a person will read on the account must read as it is: no bidi
    // control, invisible or control character (the shown-text rules).
    prelude_wire::text::check_shown("identifier", "the identifier", &id.value)
        .map_err(|e| ApiError::rule(Code::InvalidIdentifier, e))?;
    free_for(d, &user.id, &id)?;
    if user.identifiers.len() >= MAX_IDENTIFIERS_PER_USER {
        return Err(full());
    }
    metadata.insert(
        prelude_wire::text::RESERVED_IDENTIFIER_KEY.to_owned(),
        id.value,
    );
    Ok(Some(DirectDecision {
        identifier_types: vec![],
        status: Decision::Review,
        granted_for: 0,
        grant_mode: GrantMode::SingleUse,
        steps: vec![StepSpec {
            order: 1,
            key: step_key(kind).to_owned(),
            expiration_duration: STEP_SECONDS,
        }],
    }))
}

/// The identifier a registration challenge adds, from its (canonical) metadata.
fn target(ch: &Challenge) -> Option<Identifier> {
    let kind = reserved_kind(&ch.scope)?;
    let value = ch
        .metadata
        .get(prelude_wire::text::RESERVED_IDENTIFIER_KEY)?;
    Some(Identifier {
        kind,
        value: value.clone(),
    })
}

/// What a challenge's code is for, as the outbox says: adding an identifier, or a step-up.
pub(super) fn purpose(ch: &Challenge) -> Purpose {
    if reserved_kind(&ch.scope).is_some() {
        Purpose::Register
    } else {
        Purpose::StepUp
    }
}

/// Where the code of a registration challenge goes: the new identifier, never one the user
/// has. `None` for any other challenge.
pub(super) fn destination(ch: &Challenge) -> Option<String> {
    target(ch).map(|id| id.value)
}

/// Refuses to check a registration code once another user took the identifier meanwhile
/// (their own registration or first sign-in), or once the user's other registrations filled
/// the account, before a try is spent.
///
/// # Errors
/// `409 identifier_already_exists`; `409 conflict` for a full account.
pub(super) fn still_free(d: &Data, ch: &Challenge) -> Result<(), ApiError> {
    let Some(id) = target(ch) else {
        return Ok(());
    };
    match d.find_user(&id) {
        Some(u) if u.id != ch.user_id => free_for(d, &ch.user_id, &id),
        Some(_) => Ok(()),
        None => match d.users.get(&ch.user_id) {
            Some(u) if u.identifiers.len() >= MAX_IDENTIFIERS_PER_USER => Err(full()),
            _ => Ok(()),
        },
    }
}

fn full() -> ApiError {
    ApiError::new(
        Code::Conflict,
        format!("an account holds at most {MAX_IDENTIFIERS_PER_USER} identifiers"),
    )
}

/// Adds the identifier of a registration challenge to its user once every step passed; the
/// caller holds the lock from [`still_free`] to here, so no one takes it in between.
pub(super) fn attach_when_done(d: &mut Data, cid: &str) {
    let Some(ch) = d.challenges.get(cid) else {
        return;
    };
    if ch.current_step().is_some() {
        return;
    }
    let Some(id) = target(ch) else {
        return;
    };
    let user_id = ch.user_id.clone();
    if let Some(u) = d.users.get_mut(&user_id)
        && !u.identifiers.contains(&id)
    {
        tracing::info!(user = %user_id, kind = ?id.kind, "identifier registered");
        u.identifiers.push(id);
    }
}
