//! Everything the emulator remembers: apps' configuration, users, sessions, verifications,
//! challenges and the outbox. One mutex guards it; no handler awaits while holding it.

pub use crate::limits::{ReplayCache, Seen, Throttle};
use crate::tokens::KeySeeds;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The fault switches and the passkey records live in their own files.
pub use crate::faults::{Faults, MAX_CLOCK_OFFSET_SECS, MAX_DELAY_MS};
pub use crate::passkey_state::*;
/// The kind of an identifier: the wire vocabulary's.
pub use prelude_wire::IdentifierKind as IdentifierType;
/// Where a code is sent, and how long a grant lasts: the wire vocabulary's.
pub use prelude_wire::{Channel, GrantMode};

/// A user's identifier (`{type, value}`): the wire vocabulary's, with its canonical form.
pub use prelude_wire::Identifier;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Login,
    StepUp,
    /// The code of a step that adds its identifier to the user (`prld:<kind>:register`).
    Register,
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
    /// What became of the code, so the demo inbox can mark spent ones.
    #[serde(default)]
    pub status: CodeStatus,
    /// When the code stops working (Unix seconds); `status` turns `expired` then.
    #[serde(default)]
    pub expires_at: i64,
    /// The [`Verification::id`] it was sent for, so what becomes of that verification marks
    /// its messages alone, not another's that happens to carry the same code to the same
    /// identifier (`--fixed-code`). Empty in files written before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub verification_id: String,
}

/// The state of the code a message carried: every way a code stops working has its own
/// value, so the demo inbox never offers a dead code as live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeStatus {
    /// It can still be entered.
    #[default]
    Live,
    /// It was entered and accepted.
    Used,
    /// Too many wrong codes were entered for it.
    NoTriesLeft,
    /// Its time ran out, or the time of the challenge step it was sent for.
    Expired,
    /// A newer code for the same identifier replaced it.
    Replaced,
    /// The session whose step-up challenge it was sent for ended.
    SessionEnded,
    /// Its identifier is locked out after too many wrong codes; shown while the lockout
    /// lasts (the code works again after it, if its time has not run out).
    LockedOut,
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
    /// Names it in the messages sent for it (not its handle, which is a secret of the
    /// client's). Empty in files written before it existed.
    #[serde(default)]
    pub id: String,
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
    #[serde(deserialize_with = "crate::util::de_seconds")]
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
    /// The WebAuthn request of the current `verify_passkey` step, when options were issued.
    #[serde(default)]
    pub passkey: Option<StepPasskey>,
}

/// The WebAuthn request a `verify_passkey` step issued (docs/protocol.md, "Passkeys"): its
/// challenge, bound to the challenge token current when it was issued.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepPasskey {
    /// base64url of 32 random bytes.
    pub challenge: String,
    /// The `jti` of the challenge token that carried the options.
    pub jti: String,
    /// `allowCredentials`: the user's usable credential IDs when issued.
    pub allow: Vec<String>,
    pub uv_required: bool,
    /// Assertions refused so far; the challenge ends at the limit.
    pub refused: u32,
}

impl Challenge {
    pub fn current_step(&self) -> Option<&ChallengeStep> {
        self.steps.iter().find(|s| !s.done)
    }
    pub fn current_step_key(&self) -> String {
        self.current_step()
            .map(|s| s.key.clone())
            .unwrap_or_else(|| prelude_wire::COMPLETED.to_owned())
    }
}

/// Step-up configuration, as the management API stores it (docs/protocol.md, "Management API").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepUpConfig {
    pub jwks_url: Option<String>,
    pub step_keys: Vec<serde_json::Value>,
    pub allowed_scopes: Vec<ScopeRule>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Prelude runs the flow itself: only the reserved registration scopes (docs/protocol.md,
    /// "Registering an identifier").
    Managed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegated {
    pub delegation_hook: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectDecision {
    #[serde(default)]
    pub identifier_types: Vec<IdentifierType>,
    pub status: Decision,
    #[serde(default, deserialize_with = "crate::util::de_seconds")]
    pub granted_for: i64,
    pub grant_mode: GrantMode,
    #[serde(default)]
    pub steps: Vec<StepSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// `jti` of each session-start token already finalized → when it expires.
    #[serde(default)]
    pub spent_login_tokens: HashMap<String, i64>,
    pub sessions: HashMap<String, Session>,
    /// Hash of every refresh token issued to a live session → that session; spent ones stay
    /// while the session lives, to detect reuse.
    pub refresh_index: HashMap<String, String>,
    /// When each spent refresh token was spent; reuse is detected for a day after.
    #[serde(default)]
    pub refresh_spent_at: HashMap<String, i64>,
    pub challenges: HashMap<String, Challenge>,
    pub outbox: Vec<OutboxMessage>,
    pub faults: Faults,
    pub login_configs: Vec<LoginConfig>,
    pub stepup_config: Option<StepUpConfig>,
    /// Scopes registered through `config/scopes`.
    pub scopes: Vec<String>,
    pub dpop_nonce: String,
    /// `jti`s of custom-step verification tokens already accepted → when they expire.
    #[serde(default)]
    pub used_verification_tokens: HashMap<String, i64>,
    /// The passkey configuration (`PUT /config/passkey`).
    #[serde(default)]
    pub passkey_config: Option<PasskeyConfig>,
    /// Registered passkeys by credential ID (base64url).
    #[serde(default)]
    pub passkeys: HashMap<String, StoredPasskey>,
    /// Open registration ceremonies by SHA-256 of their registration token. Not persisted.
    #[serde(skip)]
    pub registrations: HashMap<String, PendingRegistration>,
    /// Webhook events, newest last (at most [`MAX_EVENTS`]).
    #[serde(default)]
    pub events: Vec<WebhookEvent>,
    /// Open passkey sign-ins by SHA-256 of their login token. Not persisted.
    #[serde(skip)]
    pub passkey_logins: HashMap<String, PendingLogin>,
    /// Proof `jti`s seen recently. Not persisted.
    #[serde(skip)]
    pub seen_jtis: ReplayCache,
    /// Sends and failures per identifier. Not persisted.
    #[serde(skip)]
    pub throttle: Throttle,
    /// The last passkey registration, assertion or sign-in refused, for the test bench. Not
    /// persisted.
    #[serde(skip)]
    pub last_passkey_refusal: Option<PasskeyRefusal>,
    /// The demo seed's revision this state has (`demo::SEED_REVISION`); 0 for a state saved
    /// before revisions were counted, or one never seeded.
    #[serde(default)]
    pub seed_revision: u32,
}

impl Data {
    pub fn new() -> Self {
        Self {
            keys: KeySeeds::generate(),
            users: HashMap::new(),
            verifications: HashMap::new(),
            spent_login_tokens: HashMap::new(),
            sessions: HashMap::new(),
            refresh_index: HashMap::new(),
            refresh_spent_at: HashMap::new(),
            challenges: HashMap::new(),
            outbox: Vec::new(),
            faults: Faults::default(),
            login_configs: Vec::new(),
            stepup_config: None,
            scopes: Vec::new(),
            dpop_nonce: crate::util::random_token(16),
            used_verification_tokens: HashMap::new(),
            passkey_config: None,
            passkeys: HashMap::new(),
            registrations: HashMap::new(),
            passkey_logins: HashMap::new(),
            last_passkey_refusal: None,
            seed_revision: 0,
            events: Vec::new(),
            seen_jtis: ReplayCache::default(),
            throttle: Throttle::default(),
        }
    }

    /// Records a webhook event, dropping the oldest past [`MAX_EVENTS`].
    pub fn record_event(&mut self, kind: &str, now: i64, payload: serde_json::Value) {
        if self.events.len() >= MAX_EVENTS {
            let extra = self.events.len() + 1 - MAX_EVENTS;
            self.events.drain(..extra);
        }
        self.events.push(WebhookEvent {
            kind: kind.to_owned(),
            created_at: crate::util::rfc3339(now),
            payload,
        });
    }

    pub fn find_user(&self, id: &Identifier) -> Option<&User> {
        self.users.values().find(|u| u.identifiers.contains(id))
    }

    /// Puts every user's identifiers in canonical form, as a state file written before
    /// identifiers had one may hold them otherwise.
    ///
    /// # Errors
    /// What [`canonical_users`] refuses; nothing is changed then.
    pub fn canonicalize_users(&mut self) -> Result<(), crate::Error> {
        let mut users: Vec<(String, Vec<Identifier>)> = self
            .users
            .values()
            .map(|u| (u.id.clone(), u.identifiers.clone()))
            .collect();
        canonical_users(&mut users)?;
        for (id, identifiers) in users {
            if let Some(u) = self.users.get_mut(&id) {
                u.identifiers = identifiers;
            }
        }
        Ok(())
    }

    /// Brings a loaded state's values into range; says what was changed.
    pub fn repair(&mut self) -> Vec<String> {
        self.faults
            .repair()
            .into_iter()
            .map(|n| format!("state file: {n}"))
            .collect()
    }

    /// Sets what became of `v`'s code, on every message sent for it that still shows it live.
    pub fn mark_code(&mut self, v: &Verification, status: CodeStatus) {
        for m in self.outbox.iter_mut() {
            // A message or verification from an older file has no id: matched as before.
            let of_v = if v.id.is_empty() || m.verification_id.is_empty() {
                m.to == v.to && m.code == v.code
            } else {
                m.verification_id == v.id
            };
            if m.status == CodeStatus::Live && of_v {
                m.status = status;
            }
        }
    }

    /// The outbox as seen at `now`: a live code past its time shows as expired, and one whose
    /// identifier is locked out as locked out.
    pub fn outbox_at(&self, now: i64) -> Vec<OutboxMessage> {
        self.outbox
            .iter()
            .cloned()
            .map(|mut m| {
                if m.status == CodeStatus::Live && m.expires_at > 0 && m.expires_at <= now {
                    m.status = CodeStatus::Expired;
                } else if m.status == CodeStatus::Live
                    && self.throttle.locked_for(&m.to, now).is_some()
                {
                    m.status = CodeStatus::LockedOut;
                }
                m
            })
            .collect()
    }

    /// Ends a session: it is revoked, and the codes sent for its step-up challenges stop
    /// working (their verifications end, their messages say so).
    pub fn end_session(&mut self, sid: &str) {
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        s.revoked = true;
        let challenges = &self.challenges;
        let mut ended = vec![];
        self.verifications.retain(|_, v| {
            let of_session = matches!(&v.target, VerificationTarget::StepUp { challenge_id, .. }
                if challenges.get(challenge_id).is_some_and(|c| c.session_id == sid));
            if of_session {
                ended.push(v.clone());
            }
            !of_session
        });
        for v in ended {
            self.mark_code(&v, CodeStatus::SessionEnded);
        }
    }

    /// Forgets the verifications expired at `now`. Their messages say expired for good, even
    /// if the clock is moved back later.
    pub fn forget_expired_verifications(&mut self, now: i64) {
        let mut ended = vec![];
        self.verifications.retain(|_, v| {
            if v.expires_at > now {
                return true;
            }
            ended.push(v.clone());
            false
        });
        for v in ended {
            self.mark_code(&v, CodeStatus::Expired);
        }
    }

    /// Forgets what can no longer matter at `now`: ended verifications, challenges and
    /// sessions, spent tokens past their expiry, and refresh hashes of ended sessions.
    pub fn purge(&mut self, now: i64, cfg: &crate::Config) {
        self.forget_expired_verifications(now);
        self.challenges
            .retain(|_, c| c.expires_at > now && !(c.redeemed && c.current_step().is_none()));
        self.spent_login_tokens.retain(|_, exp| *exp > now);
        self.registrations.retain(|_, r| r.expires_at > now);
        self.passkey_logins.retain(|_, l| l.expires_at > now);
        self.used_verification_tokens.retain(|_, exp| *exp > now);
        // A revoked session stays a day, so its holder still hears "revoked", not "unknown".
        // One that goes ends first, so the codes of its step-up challenges say so.
        let gone: Vec<String> = self
            .sessions
            .values()
            .filter(|s| {
                s.refresh_expires_at <= now || (s.revoked && s.last_seen_at + 86_400 <= now)
            })
            .map(|s| s.id.clone())
            .collect();
        for sid in &gone {
            self.end_session(sid);
            self.sessions.remove(sid);
        }
        let index = &mut self.refresh_index;
        self.refresh_spent_at.retain(|hash, at| {
            let keep = *at + REUSE_DETECTION_SECS > now;
            if !keep {
                index.remove(hash);
            }
            keep
        });
        let sessions = &self.sessions;
        self.refresh_index
            .retain(|_, sid| sessions.contains_key(sid));
        let index = &self.refresh_index;
        self.refresh_spent_at
            .retain(|hash, _| index.contains_key(hash));
        self.seen_jtis.purge(now);
        self.throttle.purge(now, cfg.lockout_window_secs);
    }
}

impl Default for Data {
    fn default() -> Self {
        Self::new()
    }
}

/// Puts each user's identifiers (user id, identifiers) in canonical form.
///
/// # Errors
/// Names the user and the value when an identifier breaks a wire rule, and both users when
/// two of them (or one, twice) hold the same canonical identifier.
pub fn canonical_users(users: &mut [(String, Vec<Identifier>)]) -> Result<(), crate::Error> {
    // Sorted, so the same file always gets the same message.
    users.sort_by(|a, b| a.0.cmp(&b.0));
    let mut owner: HashMap<Identifier, String> = HashMap::new();
    for (id, identifiers) in users.iter_mut() {
        for i in identifiers.iter_mut() {
            let c = i
                .canonical()
                .map_err(|e| crate::Error::Users(format!("user {id}: {:?}: {e}", i.value)))?;
            match owner.insert(c.clone(), id.clone()) {
                Some(first) if first == *id => {
                    return Err(crate::Error::Users(format!(
                        "user {id} holds {} twice",
                        c.value
                    )));
                }
                Some(first) => {
                    return Err(crate::Error::Users(format!(
                        "users {first} and {id}: {} belongs to two users (one mailbox or phone, spelt two ways); keep it on one",
                        c.value
                    )));
                }
                None => {}
            }
            *i = c;
        }
    }
    Ok(())
}

/// How long a spent refresh token is remembered, so that presenting it again revokes its
/// session.
pub const REUSE_DETECTION_SECS: i64 = 86_400;
