//! Everything the emulator remembers: apps' configuration, users, sessions, verifications,
//! challenges and the outbox. One mutex guards it; no handler awaits while holding it.

use crate::tokens::KeySeeds;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierType {
    PhoneNumber,
    EmailAddress,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: IdentifierType,
    pub value: String,
}

impl Identifier {
    pub fn channel(&self) -> Channel {
        match self.kind {
            IdentifierType::PhoneNumber => Channel::Sms,
            IdentifierType::EmailAddress => Channel::Email,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Login,
    StepUp,
}

/// One "sent" message, as `GET /emulator/v1/outbox` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: String,
    pub channel: Channel,
    pub to: String,
    pub code: String,
    pub purpose: Purpose,
    pub sent_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub identifiers: Vec<Identifier>,
    pub created_at: i64,
    /// `profile-bound` grants.
    #[serde(default)]
    pub grants: Vec<Grant>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub scope: String,
    pub expires_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum VerificationTarget {
    Login(Identifier),
    /// The step of a challenge this code verifies.
    StepUp {
        challenge_id: String,
        step: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verification {
    pub target: VerificationTarget,
    pub code: String,
    pub channel: Channel,
    pub to: String,
    pub expires_at: i64,
    pub last_sent_at: i64,
    pub wrong_attempts: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    /// RFC 7638 thumbprint of the DPoP key pinned at finalize.
    pub jkt: String,
    /// SHA-256 of the current refresh token; the token itself is never stored.
    pub refresh_hash: String,
    pub refresh_expires_at: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub revoked: bool,
    /// `session-bound` grants.
    #[serde(default)]
    pub grants: Vec<Grant>,
    pub device_type: String,
    pub device_model: String,
    pub os_version: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrantMode {
    SingleUse,
    SessionBound,
    ProfileBound,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Continue,
    Review,
    Block,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub order: u32,
    pub key: String,
    pub expiration_duration: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChallengeStep {
    pub order: u32,
    pub key: String,
    pub expiration_duration: i64,
    pub done: bool,
    /// When this step became current; its own expiry runs from here.
    pub started_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Challenge {
    pub id: String,
    pub user_id: String,
    pub session_id: String,
    pub scope: String,
    pub metadata: BTreeMap<String, String>,
    pub status: Decision,
    pub grant_mode: GrantMode,
    pub granted_for: i64,
    pub steps: Vec<ChallengeStep>,
    /// `jti` of the only token that may advance the challenge now.
    pub current_jti: String,
    pub spent_jtis: HashSet<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The completed token was exchanged at `/refresh`.
    pub redeemed: bool,
}

impl Challenge {
    pub fn current_step(&self) -> Option<&ChallengeStep> {
        self.steps.iter().find(|s| !s.done)
    }
    pub fn current_step_key(&self) -> String {
        self.current_step()
            .map(|s| s.key.clone())
            .unwrap_or_else(|| "completed".to_owned())
    }
}

/// The switches of `GET/PUT /emulator/v1/faults`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Demand a DPoP nonce on DPoP-signed routes.
    pub require_dpop_nonce: bool,
    /// Seconds added to the server clock (tokens, `Date`, proof `iat` window).
    pub clock_skew_secs: i64,
    /// Paths (e.g. `/v1/session/refresh`) answered with 500 `internal`.
    pub fail_routes: Vec<String>,
    /// Paths answered with 429 `rate_limited`.
    pub rate_limit_routes: Vec<String>,
    /// Delay before every response, in milliseconds.
    pub delay_ms: u64,
    /// On `continue`, answer with no challenge token (a quirk seen on the real service).
    pub omit_continue_token: bool,
}

/// Step-up configuration, as the management API stores it (PROTOCOL.md §7.1, new generation).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StepUpConfig {
    pub jwks_url: Option<String>,
    pub step_keys: Vec<serde_json::Value>,
    pub allowed_scopes: Vec<ScopeRule>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeRule {
    pub scope: String,
    pub mode: ScopeMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated: Option<Delegated>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct: Option<DirectDecision>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeMode {
    Delegated,
    Direct,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegated {
    pub delegation_hook: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectDecision {
    #[serde(default)]
    pub identifier_types: Vec<IdentifierType>,
    pub status: Decision,
    #[serde(default)]
    pub granted_for: i64,
    pub grant_mode: GrantMode,
    #[serde(default)]
    pub steps: Vec<StepSpec>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginConfig {
    pub id: String,
    pub config_type: String,
    pub channel_type: Channel,
    pub is_default: bool,
    pub granted_scopes: Vec<String>,
    pub created_at: i64,
}

/// The persisted state of one emulated app.
#[derive(Debug, Serialize, Deserialize)]
pub struct Data {
    pub keys: KeySeeds,
    pub users: HashMap<String, User>,
    pub verifications: HashMap<String, Verification>,
    pub spent_login_jtis: HashSet<String>,
    pub sessions: HashMap<String, Session>,
    /// Hash of every refresh token ever issued → its session; spent ones stay to detect reuse.
    pub refresh_index: HashMap<String, String>,
    pub challenges: HashMap<String, Challenge>,
    pub outbox: Vec<OutboxMessage>,
    pub faults: Faults,
    pub login_configs: Vec<LoginConfig>,
    pub stepup_config: Option<StepUpConfig>,
    /// Scopes registered through `config/scopes`.
    pub scopes: Vec<String>,
    pub dpop_nonce: String,
    /// `jti`s of custom-step verification tokens already accepted.
    #[serde(default)]
    pub used_verification_jtis: HashSet<String>,
    /// Proof `jti`s seen recently → when they may be forgotten. Not persisted.
    #[serde(skip)]
    pub seen_jtis: HashMap<String, i64>,
}

impl Data {
    pub fn new() -> Self {
        Self {
            keys: KeySeeds::generate(),
            users: HashMap::new(),
            verifications: HashMap::new(),
            spent_login_jtis: HashSet::new(),
            sessions: HashMap::new(),
            refresh_index: HashMap::new(),
            challenges: HashMap::new(),
            outbox: Vec::new(),
            faults: Faults::default(),
            login_configs: Vec::new(),
            stepup_config: None,
            scopes: Vec::new(),
            dpop_nonce: crate::util::random_token(16),
            used_verification_jtis: HashSet::new(),
            seen_jtis: HashMap::new(),
        }
    }

    pub fn find_user(&self, id: &Identifier) -> Option<&User> {
        self.users.values().find(|u| u.identifiers.contains(id))
    }

    /// Records a proof `jti`; false when it was already seen (a replay).
    pub fn remember_jti(&mut self, jti: &str, now: i64, keep_for: i64) -> bool {
        if self.seen_jtis.len() > 10_000 {
            self.seen_jtis.retain(|_, until| *until > now);
        }
        match self.seen_jtis.get(jti) {
            Some(until) if *until > now => false,
            _ => {
                self.seen_jtis.insert(jti.to_owned(), now + keep_for);
                true
            }
        }
    }
}

impl Default for Data {
    fn default() -> Self {
        Self::new()
    }
}
