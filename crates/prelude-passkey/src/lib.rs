//! A storage-free WebAuthn platform authenticator's byte recipe (PASSKEYS.md §4.7–§4.8,
//! WebAuthn Level 3 §6) and the passkey JSON shapes (§4.2–§4.6).
//!
//! Nothing here stores or generates keys: the caller supplies the private scalar, the credential
//! ID and the sign counter, keeps them where it wants (the app: the OS keyring) and decides
//! user presence and verification. This crate turns those into the exact bytes a relying party
//! verifies: authenticatorData, a `none` attestation object, clientDataJSON and a DER ES256
//! signature over `authenticatorData ‖ SHA-256(clientDataJSON)`.

pub mod json;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

pub use json::*;

/// Flag bit 0: user present (WebAuthn L3 §6.1).
pub const FLAG_UP: u8 = 0x01;
/// Flag bit 2: user verified.
pub const FLAG_UV: u8 = 0x04;
/// Flag bit 3: backup eligible.
pub const FLAG_BE: u8 = 0x08;
/// Flag bit 4: backed up (only with BE).
pub const FLAG_BS: u8 = 0x10;
/// Flag bit 6: attested credential data included.
pub const FLAG_AT: u8 = 0x40;
/// Flag bit 7: extension data included.
pub const FLAG_ED: u8 = 0x80;

/// COSE algorithm number of ES256 (RFC 9053 §2.1).
pub const COSE_ALG_ES256: i64 = -7;
/// The all-zero AAGUID of an authenticator that attests nothing (WebAuthn L3 §6.5.1).
pub const ZERO_AAGUID: [u8; 16] = [0; 16];
/// The longest credential ID WebAuthn allows, in bytes (L3 §6.5.1).
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;
/// Length of authenticatorData without attested credential data or extensions.
pub const AUTH_DATA_MIN_LEN: usize = 37;

/// What the recipe refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyError {
    /// The private scalar is zero, not below the P-256 order, or not 32 bytes.
    #[error("the private key is not a valid P-256 scalar")]
    InvalidKey,
    /// A credential ID must be 16 to 1023 bytes (WebAuthn L3 §6.5.1 allows 1..1023; §4.8 asks
    /// for at least 16 so that IDs do not collide).
    #[error("a credential ID must be 16 to 1023 bytes")]
    CredentialIdLength,
}

/// base64url without padding (RFC 4648 §5), as WebAuthn JSON carries binary values.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64url with or without `=` padding (PASSKEYS.md §4.1); `None` when it is not.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    LENIENT.decode(text).ok()
}

/// `rpIdHash`: SHA-256 of the RP ID's ASCII bytes (WebAuthn L3 §6.1).
pub fn rp_id_hash(rp_id: &str) -> [u8; 32] {
    Sha256::digest(rp_id.as_bytes()).into()
}

/// Attested credential data (WebAuthn L3 §6.5.1): `aaguid (16) ‖ credentialIdLength (u16 BE) ‖
/// credentialId ‖ credentialPublicKey (COSE_Key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredentialData<'a> {
    pub aaguid: [u8; 16],
    pub credential_id: &'a [u8],
    pub public_key_cose: &'a [u8],
}

/// authenticatorData (WebAuthn L3 §6.1): `rpIdHash (32) ‖ flags (1) ‖ signCount (u32 BE) ‖
/// attested credential data?`. The AT flag is set exactly when `attested` is given; the other
/// flag bits are taken from `flags` as they are, so a caller can also build what a relying party
/// must refuse.
///
/// # Errors
/// [`PasskeyError::CredentialIdLength`] when the attested credential ID is longer than 1023 bytes.
pub fn authenticator_data(
    rp_id: &str,
    flags: u8,
    sign_count: u32,
    attested: Option<&AttestedCredentialData<'_>>,
) -> Result<Vec<u8>, PasskeyError> {
    let mut out = Vec::with_capacity(AUTH_DATA_MIN_LEN + 128);
    out.extend_from_slice(&rp_id_hash(rp_id));
    let flags = match attested {
        Some(_) => flags | FLAG_AT,
        None => flags & !FLAG_AT,
    };
    out.push(flags);
    out.extend_from_slice(&sign_count.to_be_bytes());
    if let Some(a) = attested {
        let len = u16::try_from(a.credential_id.len())
            .ok()
            .filter(|&l| usize::from(l) <= MAX_CREDENTIAL_ID_LEN)
            .ok_or(PasskeyError::CredentialIdLength)?;
        out.extend_from_slice(&a.aaguid);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(a.credential_id);
        out.extend_from_slice(a.public_key_cose);
    }
    Ok(out)
}

fn encoder() -> minicbor::Encoder<Vec<u8>> {
    minicbor::Encoder::new(Vec::new())
}

/// The COSE_Key of an ES256 public key in CTAP2 canonical CBOR (WebAuthn L3 §6.5.1.1):
/// `{1: 2 (kty EC2), 3: -7 (alg ES256), -1: 1 (crv P-256), -2: x, -3: y}`, 77 bytes.
pub fn cose_key_es256(key: &VerifyingKey) -> Vec<u8> {
    let point = key.to_sec1_point(false);
    let bytes = point.as_bytes();
    let (x, y) = (&bytes[1..33], &bytes[33..65]);
    let mut e = encoder();
    // Writing into a Vec cannot fail (its error type is Infallible).
    let _ = e
        .map(5)
        .and_then(|e| e.i64(1)?.i64(2))
        .and_then(|e| e.i64(3)?.i64(COSE_ALG_ES256))
        .and_then(|e| e.i64(-1)?.i64(1))
        .and_then(|e| e.i64(-2)?.bytes(x))
        .and_then(|e| e.i64(-3)?.bytes(y));
    e.into_writer()
}

/// The attestation object of the `none` format (WebAuthn L3 §6.5.4, §8.7):
/// `{"fmt": "none", "attStmt": {}, "authData": <bytes>}` in canonical key order.
pub fn attestation_object_none(auth_data: &[u8]) -> Vec<u8> {
    let mut e = encoder();
    let _ = e
        .map(3)
        .and_then(|e| e.str("fmt")?.str("none"))
        .and_then(|e| e.str("attStmt")?.map(0))
        .and_then(|e| e.str("authData")?.bytes(auth_data));
    e.into_writer()
}

/// The `type` member of clientDataJSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyType {
    /// `webauthn.create`: registration.
    Create,
    /// `webauthn.get`: assertion.
    Get,
}

impl CeremonyType {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "webauthn.create",
            Self::Get => "webauthn.get",
        }
    }
}

/// CCDToString (WebAuthn L3 §5.8.1.2): a JSON string with `"`, `\` and control characters
/// escaped, the last as `\uXXXX`.
fn ccd_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// clientDataJSON in the limited verification order of WebAuthn L3 §5.8.1.1:
/// `{"type":…,"challenge":…,"origin":…,"crossOrigin":false}`. `challenge` is the options'
/// base64url string copied unchanged; `origin` is e.g. `https://localhost`.
pub fn client_data_json(kind: CeremonyType, challenge: &str, origin: &str) -> String {
    let mut out = String::with_capacity(96 + challenge.len() + origin.len());
    out.push_str("{\"type\":");
    ccd_string(&mut out, kind.as_str());
    out.push_str(",\"challenge\":");
    ccd_string(&mut out, challenge);
    out.push_str(",\"origin\":");
    ccd_string(&mut out, origin);
    out.push_str(",\"crossOrigin\":false}");
    out
}

/// One device-bound ES256 credential: its private key, ID, RP ID and user handle. `Debug`
/// shows the ID and RP, never the key.
#[derive(Clone)]
pub struct Credential {
    key: SigningKey,
    id: Vec<u8>,
    rp_id: String,
    user_handle: Vec<u8>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("id", &b64(&self.id))
            .field("rp_id", &self.rp_id)
            .field("private_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// A credential from its 32-byte private scalar (big-endian, as SEC1 stores it), a
    /// credential ID of 16 to 1023 bytes, the RP ID it is scoped to and the user handle the
    /// relying party gave at registration (`user.id`, decoded).
    ///
    /// # Errors
    /// [`PasskeyError::InvalidKey`] for a scalar that is not a P-256 private key,
    /// [`PasskeyError::CredentialIdLength`] for an ID out of range.
    pub fn from_secret(
        secret: &[u8],
        id: Vec<u8>,
        rp_id: impl Into<String>,
        user_handle: Vec<u8>,
    ) -> Result<Self, PasskeyError> {
        if !(16..=MAX_CREDENTIAL_ID_LEN).contains(&id.len()) {
            return Err(PasskeyError::CredentialIdLength);
        }
        let key = SigningKey::from_slice(secret).map_err(|_| PasskeyError::InvalidKey)?;
        Ok(Self {
            key,
            id,
            rp_id: rp_id.into(),
            user_handle,
        })
    }

    /// The raw credential ID.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The RP ID this credential is scoped to.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// The user handle (`user.id` bytes) given at registration.
    pub fn user_handle(&self) -> &[u8] {
        &self.user_handle
    }

    /// The public key as a COSE_Key (see [`cose_key_es256`]).
    pub fn public_key_cose(&self) -> Vec<u8> {
        cose_key_es256(self.key.verifying_key())
    }

    /// A DER `Ecdsa-Sig-Value` (RFC 3279 §2.2.3) ES256 signature over `authenticatorData ‖
    /// SHA-256(clientDataJSON)` (WebAuthn L3 §6.5.5, §7.2).
    pub fn sign(&self, auth_data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
        let mut message = Vec::with_capacity(auth_data.len() + 32);
        message.extend_from_slice(auth_data);
        message.extend_from_slice(&Sha256::digest(client_data_json));
        let signature: DerSignature = self.key.sign(&message);
        signature.as_bytes().to_vec()
    }

    /// The registration response of a device-bound platform authenticator (PASSKEYS.md §4.8):
    /// `none` attestation, zero AAGUID, `flags` as given (normally `UP|UV` or `UP`; AT is added),
    /// sign count 0, `authenticatorAttachment: "platform"`, `transports: ["internal"]`.
    ///
    /// # Errors
    /// Never for a credential built by [`Credential::from_secret`]; the type is the recipe's.
    pub fn registration(
        &self,
        challenge: &str,
        origin: &str,
        flags: u8,
    ) -> Result<RegistrationResponse, PasskeyError> {
        let cose = self.public_key_cose();
        let auth_data = authenticator_data(
            &self.rp_id,
            flags,
            0,
            Some(&AttestedCredentialData {
                aaguid: ZERO_AAGUID,
                credential_id: &self.id,
                public_key_cose: &cose,
            }),
        )?;
        let client_data = client_data_json(CeremonyType::Create, challenge, origin);
        let spki = {
            // SubjectPublicKeyInfo DER for P-256: a fixed 26-byte prefix, then the SEC1 point.
            const PREFIX: [u8; 26] = [
                0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
            ];
            let mut der = PREFIX.to_vec();
            der.extend_from_slice(self.key.verifying_key().to_sec1_point(false).as_bytes());
            der
        };
        Ok(RegistrationResponse {
            id: b64(&self.id),
            raw_id: b64(&self.id),
            kind: "public-key".into(),
            authenticator_attachment: Some("platform".into()),
            response: AttestationResponse {
                client_data_json: b64(client_data.as_bytes()),
                attestation_object: b64(attestation_object_none(&auth_data)),
                transports: Some(vec!["internal".into()]),
                authenticator_data: Some(b64(&auth_data)),
                public_key: Some(b64(spki)),
                public_key_algorithm: Some(COSE_ALG_ES256),
            },
            client_extension_results: Some(serde_json::Map::new()),
        })
    }

    /// An assertion (PASSKEYS.md §4.8): authenticatorData `rpIdHash ‖ flags ‖ sign_count`,
    /// clientDataJSON of type `webauthn.get`, the DER signature and the user handle. The caller
    /// stores `sign_count` before it lets the result leave.
    pub fn assertion(
        &self,
        challenge: &str,
        origin: &str,
        flags: u8,
        sign_count: u32,
    ) -> AuthenticationResponse {
        // No attested data, so the length check cannot fail; fall back to an empty buffer
        // rather than panic.
        let auth_data =
            authenticator_data(&self.rp_id, flags, sign_count, None).unwrap_or_else(|_| Vec::new());
        let client_data = client_data_json(CeremonyType::Get, challenge, origin);
        self.assertion_from_parts(&auth_data, client_data.as_bytes())
    }

    /// Signs the given authenticatorData and clientDataJSON bytes and wraps them as an
    /// `AuthenticationResponseJSON`: the building block of [`Credential::assertion`], open so a
    /// test can build what a relying party must refuse.
    pub fn assertion_from_parts(
        &self,
        auth_data: &[u8],
        client_data_json: &[u8],
    ) -> AuthenticationResponse {
        AuthenticationResponse {
            id: b64(&self.id),
            raw_id: b64(&self.id),
            kind: "public-key".into(),
            authenticator_attachment: Some("platform".into()),
            response: AssertionResponse {
                client_data_json: b64(client_data_json),
                authenticator_data: b64(auth_data),
                signature: b64(self.sign(auth_data, client_data_json)),
                user_handle: Some(b64(&self.user_handle)),
            },
            client_extension_results: Some(serde_json::Map::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;

    fn credential() -> Credential {
        Credential::from_secret(&[7u8; 32], vec![0xab; 32], "localhost", b"usr_1".to_vec())
            .expect("valid key")
    }

    #[test]
    fn cose_key_has_the_canonical_es256_layout() {
        let c = credential();
        let cose = c.public_key_cose();
        assert_eq!(cose.len(), 77);
        assert_eq!(
            &cose[..10],
            &[0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]
        );
        assert_eq!(&cose[42..45], &[0x22, 0x58, 0x20]);
        let point = c.key.verifying_key().to_sec1_point(false);
        assert_eq!(&cose[10..42], &point.as_bytes()[1..33]);
        assert_eq!(&cose[45..77], &point.as_bytes()[33..65]);
        // And it decodes as the map kty=2, alg=-7, crv=1.
        let mut d = minicbor::Decoder::new(&cose);
        assert_eq!(d.map().unwrap(), Some(5));
        let mut seen = Vec::new();
        for _ in 0..5 {
            let k = d.i64().unwrap();
            if k >= 1 || k == -1 {
                seen.push((k, d.i64().unwrap()));
            } else {
                assert_eq!(d.bytes().unwrap().len(), 32);
            }
        }
        assert_eq!(seen, vec![(1, 2), (3, -7), (-1, 1)]);
    }

    #[test]
    fn registration_auth_data_follows_the_w3c_layout() {
        let c = credential();
        let r = c
            .registration("Y2hhbGxlbmdl", "https://localhost", FLAG_UP | FLAG_UV)
            .unwrap();
        let auth = unb64(r.response.authenticator_data.as_deref().unwrap()).unwrap();
        // 37 + 16 (AAGUID) + 2 + 32 (ID) + 77 (COSE) = 164 (PASSKEYS.md §4.8).
        assert_eq!(auth.len(), 164);
        assert_eq!(&auth[..32], &rp_id_hash("localhost"));
        assert_eq!(auth[32], 0x45, "UP|UV|AT");
        assert_eq!(&auth[33..37], &[0, 0, 0, 0]);
        assert_eq!(&auth[37..53], &ZERO_AAGUID);
        assert_eq!(&auth[53..55], &[0x00, 0x20]);
        assert_eq!(&auth[55..87], c.id());
        assert_eq!(&auth[87..], c.public_key_cose().as_slice());

        let att = unb64(&r.response.attestation_object).unwrap();
        let mut head = vec![0xa3, 0x63];
        head.extend_from_slice(b"fmt");
        head.push(0x64);
        head.extend_from_slice(b"none");
        head.push(0x67);
        head.extend_from_slice(b"attStmt");
        head.push(0xa0);
        head.push(0x68);
        head.extend_from_slice(b"authData");
        head.extend_from_slice(&[0x58, 0xa4]);
        assert_eq!(&att[..head.len()], head.as_slice());
        assert_eq!(&att[head.len()..], auth.as_slice());

        let cd = unb64(&r.response.client_data_json).unwrap();
        assert_eq!(
            String::from_utf8(cd).unwrap(),
            r#"{"type":"webauthn.create","challenge":"Y2hhbGxlbmdl","origin":"https://localhost","crossOrigin":false}"#
        );
        assert_eq!(r.id, r.raw_id);
        assert_eq!(r.kind, "public-key");
    }

    #[test]
    fn assertion_signs_auth_data_and_the_client_data_hash_in_der() {
        let c = credential();
        let a = c.assertion("abc", "https://localhost", FLAG_UP | FLAG_UV, 9);
        let auth = unb64(&a.response.authenticator_data).unwrap();
        assert_eq!(auth.len(), AUTH_DATA_MIN_LEN);
        assert_eq!(auth[32], 0x05, "UP|UV, no AT");
        assert_eq!(&auth[33..37], &[0, 0, 0, 9]);
        let cd = unb64(&a.response.client_data_json).unwrap();
        let sig_bytes = unb64(&a.response.signature).unwrap();
        assert_eq!(sig_bytes[0], 0x30, "DER SEQUENCE, not raw r||s");
        let sig = p256::ecdsa::DerSignature::from_bytes(&sig_bytes).unwrap();
        let mut msg = auth.clone();
        msg.extend_from_slice(&Sha256::digest(&cd));
        c.key.verifying_key().verify(&msg, &sig).unwrap();
        assert_eq!(
            a.response.user_handle.as_deref().map(unb64),
            Some(Some(b"usr_1".to_vec()))
        );
    }

    #[test]
    fn at_follows_the_attested_data_and_other_flags_pass_through() {
        let auth = authenticator_data("x", FLAG_AT | FLAG_BE | FLAG_BS, 1, None).unwrap();
        assert_eq!(auth[32], FLAG_BE | FLAG_BS);
    }

    #[test]
    fn client_data_escapes_like_ccd_to_string() {
        let cd = client_data_json(CeremonyType::Get, "c", "https://a\"b\\\n");
        assert!(cd.contains(r#""origin":"https://a\"b\\\u000a""#), "{cd}");
        let v: serde_json::Value = serde_json::from_str(&cd).unwrap();
        assert_eq!(v["origin"], "https://a\"b\\\n");
    }

    #[test]
    fn bad_keys_and_ids_are_refused_and_debug_redacts() {
        assert_eq!(
            Credential::from_secret(&[0u8; 32], vec![1; 32], "x", vec![]).unwrap_err(),
            PasskeyError::InvalidKey
        );
        assert_eq!(
            Credential::from_secret(&[7u8; 32], vec![1; 15], "x", vec![]).unwrap_err(),
            PasskeyError::CredentialIdLength
        );
        assert_eq!(
            Credential::from_secret(&[7u8; 32], vec![1; 1024], "x", vec![]).unwrap_err(),
            PasskeyError::CredentialIdLength
        );
        let shown = format!("{:?}", credential());
        assert!(shown.contains("[redacted]"));
        let secret_hex: String = [7u8; 32].iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown.contains(&secret_hex));
    }

    #[test]
    fn base64url_accepts_padding_and_emits_none() {
        assert_eq!(b64([0xff]), "_w");
        assert_eq!(unb64("_w=="), Some(vec![0xff]));
        assert_eq!(unb64("_w"), Some(vec![0xff]));
        assert_eq!(unb64("/w"), None);
    }

    #[test]
    fn options_and_responses_round_trip_with_l3_names() {
        let raw = serde_json::json!({
            "rp": {"id": "localhost", "name": "Demo"},
            "user": {"id": "dXNy", "name": "ada", "displayName": "Ada"},
            "challenge": "Y2g",
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "timeout": 300000,
            "excludeCredentials": [{"id": "AA", "type": "public-key"}],
            "authenticatorSelection": {"residentKey": "required", "requireResidentKey": true,
                                       "userVerification": "required"},
            "attestation": "none",
            "hints": ["client-device"]
        });
        let o: CreationOptions = serde_json::from_value(raw).unwrap();
        assert_eq!(o.user.display_name, "Ada");
        assert_eq!(o.pub_key_cred_params[0].alg, -7);
        let back = serde_json::to_value(&o).unwrap();
        assert_eq!(
            back["authenticatorSelection"]["userVerification"],
            "required"
        );
        assert!(back.get("hints").is_none());

        let r: RequestOptions =
            serde_json::from_str(r#"{"challenge":"Y2hhbGxlbmdl","rpId":"example.com"}"#).unwrap();
        assert!(r.allow_credentials.is_empty());
        let a = credential().assertion(&r.challenge, "https://example.com", FLAG_UP, 1);
        let v = serde_json::to_value(&a).unwrap();
        for key in [
            "clientDataJSON",
            "authenticatorData",
            "signature",
            "userHandle",
        ] {
            assert!(v["response"].get(key).is_some(), "{key}");
        }
        assert_eq!(v["rawId"], v["id"]);
    }
}
