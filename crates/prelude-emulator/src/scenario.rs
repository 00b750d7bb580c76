//! Scenario files: the emulator's configuration, users and fault switches as one JSON
//! document a tester can share. Signing keys, codes, tokens and sessions are never in it.
//! An import is checked whole before anything changes; export, import, export gives the same
//! file.

use crate::api::ApiError;
use crate::shared::Shared;
use crate::state::{
    Faults, Identifier, LoginConfig, PasskeyConfig, StepUpConfig, User, canonical_users,
};
use prelude_wire::Code;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The file format's version; a file of another version is refused.
pub const SCENARIO_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub version: u32,
    pub login_configs: Vec<LoginConfig>,
    pub stepup: Option<StepUpConfig>,
    pub scopes: Vec<String>,
    /// Sorted by id, so an export is stable.
    pub users: Vec<ScenarioUser>,
    /// Includes the clock (`clock_skew_secs`).
    pub faults: Faults,
    /// The passkey configuration. Registered passkeys are state and stay out of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioUser {
    pub id: String,
    pub identifiers: Vec<Identifier>,
    pub created_at: i64,
}

fn invalid(why: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidRequest, why)
}

impl Scenario {
    pub fn export(app: &Shared) -> Self {
        let d = app.data();
        let mut users: Vec<ScenarioUser> = d
            .users
            .values()
            .map(|u| ScenarioUser {
                id: u.id.clone(),
                identifiers: u.identifiers.clone(),
                created_at: u.created_at,
            })
            .collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        Self {
            version: SCENARIO_VERSION,
            login_configs: d.login_configs.clone(),
            stepup: d.stepup_config.clone(),
            scopes: d.scopes.clone(),
            users,
            faults: d.faults.clone(),
            passkey: d.passkey_config.clone(),
        }
    }

    /// Reads a scenario file's text; what is wrong is named (`unknown field …`, a line).
    pub fn parse(text: &[u8]) -> Result<Self, ApiError> {
        let s: Self = serde_json::from_slice(text)
            .map_err(|e| invalid(format!("the scenario file is not valid: {e}")))?;
        s.check()?;
        Ok(s)
    }

    /// Everything an import must satisfy, checked before anything changes.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.version != SCENARIO_VERSION {
            return Err(invalid(format!(
                "version: this emulator reads version {SCENARIO_VERSION}, the file says {}",
                self.version
            )));
        }
        self.faults
            .check()
            .map_err(|(field, why)| invalid(format!("faults.{field}: {why}")))?;
        for s in &self.scopes {
            prelude_wire::check_scope(s).map_err(|e| invalid(format!("scopes: {e}")))?;
        }
        if let Some(c) = &self.stepup {
            crate::management::check_scope_rules(&c.allowed_scopes, c.jwks_url.as_deref())
                .map_err(|e| invalid(format!("stepup: {}", e.message)))?;
        }
        if let Some(c) = &self.passkey {
            crate::management::check_passkey_config(c)
                .map_err(|e| invalid(format!("passkey: {}", e.message)))?;
        }
        let mut ids = HashSet::new();
        for u in &self.users {
            if u.id.is_empty() || u.id.len() > 64 || !ids.insert(u.id.as_str()) {
                return Err(invalid(format!(
                    "users: id {:?} is empty, too long or repeated",
                    u.id
                )));
            }
            if u.identifiers.is_empty() {
                return Err(invalid(format!("users: {} has no identifier", u.id)));
            }
        }
        // Two spellings of one mailbox or phone are one identifier: a file that gives it to
        // two users is refused, naming them.
        canonical_users(&mut self.user_identifiers())
            .map_err(|e| invalid(format!("users: {e}")))?;
        Ok(())
    }

    fn user_identifiers(&self) -> Vec<(String, Vec<Identifier>)> {
        self.users
            .iter()
            .map(|u| (u.id.clone(), u.identifiers.clone()))
            .collect()
    }

    /// Replaces the configuration, the users and the switches. Sessions of users who are gone
    /// end, and so do the codes of their step-up challenges. Identifiers are stored in their canonical form.
    pub fn apply(mut self, app: &Shared) -> Result<(), ApiError> {
        self.check()?;
        let mut canonical = self.user_identifiers();
        canonical_users(&mut canonical).map_err(|e| invalid(format!("users: {e}")))?;
        let mut canonical: std::collections::HashMap<String, Vec<Identifier>> =
            canonical.into_iter().collect();
        for u in &mut self.users {
            if let Some(ids) = canonical.remove(&u.id) {
                u.identifiers = ids;
            }
        }
        let faults = self.faults.clone();
        {
            let mut d = app.data();
            d.login_configs = self.login_configs;
            d.stepup_config = self.stepup;
            d.scopes = self.scopes;
            let kept: std::collections::HashMap<String, User> = std::mem::take(&mut d.users);
            d.users = self
                .users
                .into_iter()
                .map(|u| {
                    // Grants of a user who stays are kept: they are state, not configuration.
                    let grants = kept
                        .get(&u.id)
                        .map(|k| k.grants.clone())
                        .unwrap_or_default();
                    (
                        u.id.clone(),
                        User {
                            id: u.id,
                            identifiers: u.identifiers,
                            created_at: u.created_at,
                            grants,
                        },
                    )
                })
                .collect();
            let gone: Vec<String> = d
                .sessions
                .values()
                .filter(|s| !s.revoked && !d.users.contains_key(&s.user_id))
                .map(|s| s.id.clone())
                .collect();
            for sid in gone {
                d.end_session(&sid);
            }
            d.passkey_config = self.passkey;
            // A user who is gone takes their passkeys along.
            let users: HashSet<String> = d.users.keys().cloned().collect();
            d.passkeys.retain(|_, p| users.contains(&p.user_id));
        }
        app.set_faults(faults);
        Ok(())
    }
}
