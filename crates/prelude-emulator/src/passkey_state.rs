//! What the emulator keeps about passkeys (docs/protocol.md, "Passkeys"): the app's passkey
//! configuration, the stored credentials, and the ceremonies in progress.

use serde::{Deserialize, Serialize};

/// `user_verification` of the passkey configuration (WebAuthn L3 §5.8.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    #[default]
    Required,
    Preferred,
    Discouraged,
}

impl UserVerification {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Preferred => "preferred",
            Self::Discouraged => "discouraged",
        }
    }
}

/// `attestation_preference` of the passkey configuration (WebAuthn L3 §5.4.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationPreference {
    #[default]
    None,
    Indirect,
    Direct,
    Enterprise,
}

impl AttestationPreference {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Indirect => "indirect",
            Self::Direct => "direct",
            Self::Enterprise => "enterprise",
        }
    }
}

/// One Android app allowed to use the RP ID (shape of docs/protocol.md, "Passkeys").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AndroidApp {
    pub package_name: String,
    #[serde(default)]
    pub sha256_cert_fingerprints: Vec<String>,
}

/// The passkey configuration of `PUT /config/passkey` (PASSKEYS.md §2.1). Times are Unix
/// seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeyConfig {
    pub rp_id: String,
    pub rp_name: String,
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub user_verification: UserVerification,
    #[serde(default)]
    pub attestation_preference: AttestationPreference,
    #[serde(default)]
    pub login_enabled: bool,
    #[serde(default)]
    pub granted_scopes: Vec<String>,
    #[serde(default)]
    pub aaguid_allowlist: Vec<String>,
    #[serde(default)]
    pub ios_app_ids: Vec<String>,
    #[serde(default)]
    pub android_apps: Vec<AndroidApp>,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
}

/// A registered WebAuthn credential record (WebAuthn L3 §7.1 step "credential record").
/// The public key is not a secret, so it may be persisted like users are.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredPasskey {
    /// base64url of the raw credential ID; the id in `me/passkeys/{id}`.
    pub credential_id: String,
    pub user_id: String,
    /// The COSE_Key bytes, base64url.
    pub public_key: String,
    pub alg: i64,
    pub sign_count: u32,
    pub uv_initialized: bool,
    pub transports: Vec<String>,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub aaguid: String,
    pub nickname: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    /// Set when the sign counter went backwards; the credential then passes no assertion.
    #[serde(default)]
    pub blocked: bool,
}

/// A webhook event the emulator records instead of delivering it (`GET /emulator/v1/events`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebhookEvent {
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339.
    pub created_at: String,
    pub payload: serde_json::Value,
}

/// At most this many recorded webhook events; the oldest go first.
pub const MAX_EVENTS: usize = 500;

/// A passkey sign-in between `login/passkey/begin` and `finish`. Not persisted.
#[derive(Clone, Debug)]
pub struct PendingLogin {
    pub challenge: String,
    pub expires_at: i64,
}

/// A registration ceremony between `register/begin` and `register/finish`. Not persisted.
#[derive(Clone, Debug)]
pub struct PendingRegistration {
    pub session_id: String,
    pub user_id: String,
    pub challenge: String,
    pub nickname: Option<String>,
    pub expires_at: i64,
}

/// Why the emulator last refused a passkey ceremony: what the test bench shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyRefusal {
    /// Unix seconds, real time.
    pub at: i64,
    /// `registration`, `assertion` or `sign-in`.
    pub ceremony: String,
    /// The check of PASSKEYS.md §5 that failed (`A7`, `R6`, …), when one did.
    pub check: String,
    pub why: String,
}
