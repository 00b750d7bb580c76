//! Newtypes for the strings that name things on the wire: a scope (checked), a challenge id and
//! a session id (opaque, as the server sends them).

use crate::RuleError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A scope: 1 to 128 characters of `[a-zA-Z0-9.-_:]` ([`crate::check_scope`]), like
/// `transfer:write`. Serialised as the bare string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

impl Scope {
    /// A checked scope.
    ///
    /// # Errors
    /// A [`RuleError`] on `scope` when the text breaks the scope rule.
    pub fn new(scope: impl Into<String>) -> Result<Scope, RuleError> {
        let scope = scope.into();
        crate::check_scope(&scope)?;
        Ok(Scope(scope))
    }

    /// The scope as the wire spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Scope {
    type Error = RuleError;
    fn try_from(s: String) -> Result<Scope, RuleError> {
        Scope::new(s)
    }
}

impl TryFrom<&str> for Scope {
    type Error = RuleError;
    fn try_from(s: &str) -> Result<Scope, RuleError> {
        Scope::new(s)
    }
}

impl TryFrom<&String> for Scope {
    type Error = RuleError;
    fn try_from(s: &String) -> Result<Scope, RuleError> {
        Scope::new(s.as_str())
    }
}

/// A scope already made is checked: this only copies it, so a caller may pass `&Scope` where
/// a text is taken too.
impl TryFrom<&Scope> for Scope {
    type Error = RuleError;
    fn try_from(s: &Scope) -> Result<Scope, RuleError> {
        Ok(s.clone())
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text of a name, for reading: `&scope` goes where a `&str` is taken, and a name compares
/// with a text.
macro_rules! reads_as_str {
    ($name:ident) => {
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

reads_as_str!(Scope);

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        reads_as_str!($name);

        impl $name {
            /// The id as the wire spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(
    /// A step-up challenge's id (`challenge_id`, `chl_…` from the emulator): opaque, not secret.
    ChallengeId
);
opaque_id!(
    /// A session's id (`sid` in tokens, `ses_…` from the emulator): opaque, not secret.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scopes_are_checked_when_made_and_read() {
        assert_eq!(
            Scope::new("transfer:write").unwrap().as_str(),
            "transfer:write"
        );
        assert_eq!(Scope::new("a b").unwrap_err().field, "scope");
        assert!(serde_json::from_value::<Scope>(json!("")).is_err());
        let s: Scope = serde_json::from_value(json!("x.y")).unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), json!("x.y"));
    }

    #[test]
    fn names_read_as_their_text() {
        let s = Scope::try_from("transfer:write").unwrap();
        assert_eq!(s, "transfer:write");
        assert!(s.starts_with("transfer"), "reads as a str");
        assert_eq!(Scope::try_from(&s).unwrap(), s);
        assert!(Scope::try_from(&"a b".to_owned()).is_err());
        let id = SessionId::from("ses_1");
        assert_eq!(id, "ses_1");
        assert_eq!(&*id, "ses_1");
        assert_eq!(ChallengeId::default(), "");
    }

    #[test]
    fn ids_are_bare_strings_on_the_wire() {
        let id: ChallengeId = serde_json::from_value(json!("chl_1")).unwrap();
        assert_eq!(id.as_str(), "chl_1");
        assert_eq!(
            serde_json::to_value(SessionId::from("ses_2")).unwrap(),
            json!("ses_2")
        );
    }
}
