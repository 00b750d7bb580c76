//! A value that never shows in `Debug` output: a secret that must reach its one reader but no
//! log line or test failure.

use serde::{Deserialize, Serialize};

/// Holds a secret (an access token) that serialises as itself but prints as `[redacted]` in
/// `Debug`. It has no `Display`, so reading it is always [`Redacted::expose`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that hands it on.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> std::fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value_and_serde_keeps_it() {
        let r = Redacted::new("eyJ.secret.sig".to_owned());
        assert_eq!(format!("{r:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&r)), "Some([redacted])");
        assert_eq!(serde_json::to_value(&r).unwrap(), "eyJ.secret.sig");
        let back: Redacted<String> = serde_json::from_str("\"eyJ.secret.sig\"").unwrap();
        assert_eq!(back.expose(), "eyJ.secret.sig");
    }
}
