//! The WebAuthn Level 3 JSON shapes passkey ceremonies exchange (PASSKEYS.md §4.2–§4.6).
//!
//! Field names are the L3 ones (`camelCase` inside WebAuthn objects, `snake_case` in Prelude's
//! own objects). Binary values are base64url without padding (RFC 4648 §5). Unknown fields are
//! ignored on input, so a server's newer options still parse.

use serde::{Deserialize, Serialize};

/// `PublicKeyCredentialRpEntity` (WebAuthn L3 §5.4.2): `{id?, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpEntity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
}

/// `PublicKeyCredentialUserEntityJSON` (WebAuthn L3 §5.4.3): `id` is the base64url user handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEntity {
    pub id: String,
    pub name: String,
    pub display_name: String,
}

/// `PublicKeyCredentialParameters` (WebAuthn L3 §5.3): `{type: "public-key", alg}` with a COSE
/// algorithm number (`-7` is ES256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialParameters {
    #[serde(rename = "type")]
    pub kind: String,
    pub alg: i64,
}

/// `PublicKeyCredentialDescriptorJSON` (WebAuthn L3 §5.8.3): a credential ID (base64url) in
/// `allowCredentials` / `excludeCredentials`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialDescriptor {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
}

/// `AuthenticatorSelectionCriteria` (WebAuthn L3 §5.4.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_resident_key: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
}

/// `PublicKeyCredentialCreationOptionsJSON` (WebAuthn L3 §5.1.8; PASSKEYS.md §4.2): the
/// `public_key` of `me/passkeys/register/begin`. `timeout` is in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationOptions {
    pub rp: RpEntity,
    pub user: UserEntity,
    pub challenge: String,
    pub pub_key_cred_params: Vec<CredentialParameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_credentials: Vec<CredentialDescriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_selection: Option<AuthenticatorSelection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
}

/// `PublicKeyCredentialRequestOptionsJSON` (WebAuthn L3 §5.1.9; PASSKEYS.md §4.3): the
/// `public_key` of `login/passkey/begin` and `public_key_credential_request_options` of a
/// step-up answer. `timeout` is in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOptions {
    pub challenge: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default)]
    pub allow_credentials: Vec<CredentialDescriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
}

/// `AuthenticatorAttestationResponseJSON` (WebAuthn L3 §5.2.1): the convenience fields
/// (`authenticatorData`, `publicKey`, `publicKeyAlgorithm`) are optional here because iOS omits
/// them; a server derives everything from `attestationObject` (PASSKEYS.md §4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationResponse {
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    pub attestation_object: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_algorithm: Option<i64>,
}

/// `RegistrationResponseJSON` (WebAuthn L3 §5.1; PASSKEYS.md §4.4): the `attestation` of
/// `me/passkeys/register/finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResponse {
    pub id: String,
    pub raw_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    pub response: AttestationResponse,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_extension_results: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `AuthenticatorAssertionResponseJSON` (WebAuthn L3 §5.2.2): `signature` is the DER ECDSA
/// signature, base64url; `userHandle` is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssertionResponse {
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    pub authenticator_data: String,
    pub signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_handle: Option<String>,
}

/// `AuthenticationResponseJSON` (WebAuthn L3 §5.1; PASSKEYS.md §4.5): the `assertion` of
/// `login/passkey/finish` and the `passkey_assertion` of `stepup/continue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationResponse {
    pub id: String,
    pub raw_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    pub response: AssertionResponse,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_extension_results: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A stored credential as the server lists it (PASSKEYS.md §4.6). Times are Unix seconds;
/// missing fields read as their defaults, as the SDKs do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyCredential {
    #[serde(default)]
    pub credential_id: String,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub transports: Vec<String>,
    #[serde(default)]
    pub backup_state: bool,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub last_used_at: i64,
}
