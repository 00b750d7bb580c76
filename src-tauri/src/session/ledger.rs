//! Which scope each step-up granted, and until when, so a requester never receives a token
//! that carries a scope another approval granted (docs/approval-protocol.md, "Guarantees").

use std::collections::BTreeSet;

/// A scope one step-up granted in this run.
#[derive(Clone, Debug)]
struct Granted {
    scope: String,
    /// Unix milliseconds; `None` when the server did not say how long the grant lasts (it then
    /// counts until sign-out).
    until_ms: Option<i64>,
}

/// The grants of this run, and the scopes the session carried when it was signed in. Only in
/// memory: a process that starts again cannot be told it (`Session::carry_out`).
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    granted: Vec<Granted>,
    /// Scopes the access token carried right after this run's login. Empty for a resumed
    /// session: what it carries may come from an approval of an earlier run.
    at_sign_in: BTreeSet<String>,
}

impl Ledger {
    /// A session was signed in with a token carrying `scopes`; earlier grants are forgotten.
    pub(super) fn signed_in(&mut self, scopes: &[String]) {
        self.granted.clear();
        self.at_sign_in = scopes.iter().cloned().collect();
    }

    /// The session ended, or was resumed: nothing it carries counts as from sign-in.
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }

    /// A step-up granted `scope` until `until_ms` (Unix ms), or for an unknown time.
    pub(super) fn granted(&mut self, scope: &str, until_ms: Option<i64>) {
        self.granted.push(Granted {
            scope: scope.to_owned(),
            until_ms,
        });
    }

    /// The scopes among `carried` (a token's `scope` claim) that the request for `own` may not
    /// receive: those another step-up granted (still live at `now_ms`), and any the session did
    /// not carry at sign-in. Sorted, without repeats.
    pub(super) fn foreign(&self, carried: &[String], own: &str, now_ms: i64) -> Vec<String> {
        let live = |s: &str| {
            self.granted
                .iter()
                .any(|g| g.scope == s && g.until_ms.is_none_or(|u| u > now_ms))
        };
        let found: BTreeSet<&String> = carried
            .iter()
            .filter(|s| s.as_str() != own)
            .filter(|s| live(s) || !self.at_sign_in.contains(*s))
            .collect();
        found.into_iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_the_own_scope_and_sign_in_scopes_pass() {
        let mut l = Ledger::default();
        l.signed_in(&scopes(&["prld:profile"]));
        l.granted("transfer:write", Some(10_000));
        let carried = scopes(&["prld:profile", "read:logs", "transfer:write"]);
        assert_eq!(l.foreign(&carried, "read:logs", 5_000), ["transfer:write"]);
        assert!(
            l.foreign(&carried, "transfer:write", 5_000)
                .contains(&"read:logs".to_owned()),
            "a scope not from sign-in and not asked is foreign even if unrecorded"
        );
        l.granted("read:logs", None);
        assert!(
            l.foreign(&scopes(&["read:logs"]), "read:logs", 5_000)
                .is_empty()
        );
        // A sign-in scope that a step-up granted again counts as that step-up's while it lives.
        l.granted("prld:profile", Some(6_000));
        assert_eq!(
            l.foreign(&scopes(&["prld:profile"]), "read:logs", 5_000),
            ["prld:profile"]
        );
        assert!(
            l.foreign(&scopes(&["prld:profile"]), "read:logs", 7_000)
                .is_empty()
        );
        l.reset();
        assert_eq!(
            l.foreign(&scopes(&["prld:profile"]), "read:logs", 7_000),
            ["prld:profile"],
            "a resumed session's scopes may be earlier approvals'"
        );
    }
}
