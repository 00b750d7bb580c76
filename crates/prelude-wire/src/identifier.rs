//! The identifier of a user on the wire (`{type, value}`, docs/protocol.md "Identifiers"): one
//! type for the client that sends it and the server that reads it.

use crate::{Channel, IdentifierKind, RuleError, broken};
use serde::{Deserialize, Serialize};

/// A phone number (E.164) or an email address, as `identifier` on the wire:
/// `{"type": "phone_number", "value": "+33612345678"}`. Unknown fields are refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    /// Phone number or email address.
    #[serde(rename = "type")]
    pub kind: IdentifierKind,
    /// As given: E.164 for a phone number (`+33612345678`), the address for an email.
    pub value: String,
}

impl Identifier {
    /// A phone number in E.164 (`+` and 7 to 15 digits, docs/protocol.md "Identifiers").
    ///
    /// # Errors
    /// A [`RuleError`] on `identifier` when `value` is not E.164.
    pub fn phone(value: impl Into<String>) -> Result<Self, RuleError> {
        let id = Self {
            kind: IdentifierKind::PhoneNumber,
            value: value.into(),
        };
        id.check().map(|()| id)
    }

    /// An email address (docs/protocol.md, "Identifiers").
    ///
    /// # Errors
    /// A [`RuleError`] on `identifier` when `value` is not an email address.
    pub fn email(value: impl Into<String>) -> Result<Self, RuleError> {
        let id = Self {
            kind: IdentifierKind::EmailAddress,
            value: value.into(),
        };
        id.check().map(|()| id)
    }

    /// Reads what a person typed: `+` and digits (spaces, dots, dashes and brackets allowed)
    /// is a phone number, anything with `@` an email address.
    ///
    /// # Errors
    /// A [`RuleError`] on `identifier` for text that is neither, or breaks its kind's rule.
    pub fn parse(input: &str) -> Result<Self, RuleError> {
        let t = input.trim();
        if t.contains('@') {
            return Self::email(t.to_owned());
        }
        if t.starts_with('+') {
            let compact: String = t
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
                .collect();
            return Self::phone(compact);
        }
        Err(broken(
            "identifier",
            "enter a phone number starting with + and the country code, or an email address",
        ))
    }

    /// Checks the value against its kind's rule ([`crate::check_phone`], [`crate::check_email`]).
    ///
    /// # Errors
    /// The [`RuleError`] of the rule it breaks.
    pub fn check(&self) -> Result<(), RuleError> {
        match self.kind {
            IdentifierKind::PhoneNumber => crate::check_phone(&self.value),
            IdentifierKind::EmailAddress => crate::check_email(&self.value),
        }
    }

    /// The same identifier in its one canonical form (docs/protocol.md, "Identifiers"):
    /// [`crate::canonical_phone`] or [`crate::canonical_email`] of its value.
    ///
    /// # Errors
    /// The wire rule the value breaks.
    pub fn canonical(&self) -> Result<Identifier, RuleError> {
        let value = match self.kind {
            IdentifierKind::PhoneNumber => crate::canonical_phone(&self.value),
            IdentifierKind::EmailAddress => crate::canonical_email(&self.value),
        }?;
        Ok(Identifier {
            kind: self.kind,
            value,
        })
    }

    /// The channel its codes go out on.
    pub fn channel(&self) -> Channel {
        self.kind.channel()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identifiers_read_and_write_as_the_wire_spells_them() {
        let id = Identifier::parse(" +33 6 12-34.56 78 ").unwrap();
        assert_eq!(id, Identifier::phone("+33612345678").unwrap());
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            json!({"type": "phone_number", "value": "+33612345678"})
        );
        assert_eq!(id.channel(), Channel::Sms);
        let extra = json!({"type": "email_address", "value": "a@b.co", "x": 1});
        assert!(serde_json::from_value::<Identifier>(extra).is_err());
        let email = Identifier::email("Ada@Example.COM").unwrap();
        assert_eq!(email.canonical().unwrap().value, "ada@example.com");
        for bad in ["", "0612345678", "+12", "a@b", "a b@c.d"] {
            assert_eq!(
                Identifier::parse(bad).unwrap_err().field,
                "identifier",
                "{bad:?}"
            );
        }
    }
}
