//! The WebAuthn relying-party checks (Level 3 §7.1 registration, §7.2 assertion) with the
//! policy of docs/protocol.md "Passkeys" (PASSKEYS.md §5): parsing of clientDataJSON,
//! authenticatorData, the attestation object and ES256 COSE keys, and signature verification.
//!
//! Pure functions over bytes and the stored record; the routes own state and status codes.

use crate::util::b64;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use minicbor::Decoder;
use minicbor::data::Type;
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub(crate) const UP: u8 = 0x01;
pub(crate) const UV: u8 = 0x04;
pub(crate) const BE: u8 = 0x08;
pub(crate) const BS: u8 = 0x10;
const AT: u8 = 0x40;
const ED: u8 = 0x80;
/// COSE ES256, the only algorithm offered (`pubKeyCredParams`).
pub const ES256: i64 = -7;
pub(crate) const MAX_CREDENTIAL_ID: usize = 1023;

/// Why a ceremony was refused: the check (as numbered in docs/protocol.md, "Passkeys") and a
/// sentence for the log and the error message. No secret is ever put in `why`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub check: &'static str,
    pub why: String,
    /// The sign counter went backwards: the caller blocks the credential.
    pub counter_regression: bool,
}

pub(crate) fn refuse<T>(check: &'static str, why: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        check,
        why: why.into(),
        counter_regression: false,
    })
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.check, self.why)
    }
}

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// base64url with or without padding (PASSKEYS.md §4.1).
pub fn unb64_lenient(text: &str) -> Option<Vec<u8>> {
    LENIENT.decode(text).ok()
}

pub(crate) fn field(check: &'static str, name: &str, text: &str) -> Result<Vec<u8>, Refusal> {
    unb64_lenient(text).map_or_else(|| refuse(check, format!("{name} is not base64url")), Ok)
}

/// What the relying party accepts: its RP ID, exact origins and whether UV is required.
pub struct Policy<'a> {
    pub rp_id: &'a str,
    pub origins: &'a [String],
    pub uv_required: bool,
}

// ---------------------------------------------------------------------------------------------
// The JSON the client sends (unknown fields ignored: SDKs forward WebAuthn JSON verbatim)

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssertionJson {
    id: String,
    raw_id: String,
    #[serde(rename = "type")]
    kind: String,
    response: AssertionResponseJson,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssertionResponseJson {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    authenticator_data: String,
    signature: String,
    #[serde(default)]
    user_handle: Option<String>,
}

/// The credential ID and the `userHandle` of an assertion, read before its record is looked
/// up (R3/A2: `type`, `rawId` decoding, `id == base64url(rawId)`).
pub struct AssertionHead {
    pub credential_id: String,
    pub user_handle: Option<Vec<u8>>,
    body: AssertionResponseJson,
}

pub(crate) fn credential_id(
    check: &'static str,
    kind: &str,
    id: &str,
    raw_id: &str,
) -> Result<Vec<u8>, Refusal> {
    if kind != "public-key" {
        return refuse(check, format!("type must be public-key, not {kind:?}"));
    }
    let raw = field(check, "rawId", raw_id)?;
    if raw.is_empty() || raw.len() > MAX_CREDENTIAL_ID {
        return refuse(check, "rawId must be 1 to 1023 bytes");
    }
    if unb64_lenient(id).as_deref() != Some(raw.as_slice()) {
        return refuse(check, "id is not base64url(rawId)");
    }
    Ok(raw)
}

/// Reads an `AuthenticationResponseJSON` far enough to find its credential.
///
/// # Errors
/// A [`Refusal`] on A2 for a malformed body, another type, or an `id` that is not `rawId`.
pub fn assertion_head(value: serde_json::Value) -> Result<AssertionHead, Refusal> {
    let a: AssertionJson = serde_json::from_value(value)
        .or_else(|e| refuse("A2", format!("the assertion is malformed: {e}")))?;
    let raw = credential_id("A2", &a.kind, &a.id, &a.raw_id)?;
    let user_handle = match &a.response.user_handle {
        Some(h) if !h.is_empty() => Some(field("A4", "userHandle", h)?),
        _ => None,
    };
    Ok(AssertionHead {
        credential_id: b64(raw),
        user_handle,
        body: a.response,
    })
}

// ---------------------------------------------------------------------------------------------
// clientDataJSON

pub(crate) fn check_client_data(
    check: &'static str,
    bytes: &[u8],
    kind: &str,
    challenge: &str,
    policy: &Policy<'_>,
) -> Result<(), Refusal> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text =
        std::str::from_utf8(bytes).or_else(|_| refuse(check, "clientDataJSON is not UTF-8"))?;
    let v: serde_json::Value =
        serde_json::from_str(text).or_else(|_| refuse(check, "clientDataJSON is not JSON"))?;
    let obj = match v.as_object() {
        Some(o) => o,
        None => return refuse(check, "clientDataJSON is not a JSON object"),
    };
    let got = obj.get("type").and_then(|t| t.as_str()).unwrap_or_default();
    if got != kind {
        return refuse(check, format!("clientData.type is {got:?}, not {kind:?}"));
    }
    // Both sides decode, so padding differences do not matter; the bytes must be equal.
    let sent = obj
        .get("challenge")
        .and_then(|c| c.as_str())
        .and_then(unb64_lenient);
    if sent.is_none() || sent != unb64_lenient(challenge) {
        return refuse(check, "clientData.challenge is not the challenge issued");
    }
    let origin = obj
        .get("origin")
        .and_then(|o| o.as_str())
        .unwrap_or_default();
    if !policy.origins.iter().any(|o| same_origin(o, origin)) {
        return refuse(
            check,
            format!("clientData.origin {origin:?} is not in allowed_origins"),
        );
    }
    if obj.get("crossOrigin").and_then(|c| c.as_bool()) == Some(true) {
        return refuse(check, "clientData.crossOrigin is true");
    }
    if obj.contains_key("topOrigin") {
        return refuse(check, "clientData.topOrigin is present");
    }
    Ok(())
}

/// Exact origin match, with the scheme and host compared case-insensitively (PASSKEYS.md R7).
fn same_origin(allowed: &str, claimed: &str) -> bool {
    match (url::Url::parse(allowed), url::Url::parse(claimed)) {
        (Ok(a), Ok(c)) => {
            // An origin has no path: anything after the authority makes it no match.
            a.origin() == c.origin()
                && claimed.len() == a.origin().ascii_serialization().len()
                && c.origin().is_tuple()
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// authenticatorData, COSE keys, the attestation object

/// authenticatorData, parsed (WebAuthn L3 §6.1).
pub struct AuthData {
    pub flags: u8,
    pub sign_count: u32,
    pub attested: Option<Attested>,
}

/// Attested credential data (L3 §6.5.1) with its ES256 key.
pub struct Attested {
    pub aaguid: [u8; 16],
    pub credential_id: Vec<u8>,
    /// The COSE_Key bytes exactly as received; stored and parsed again at each assertion.
    pub cose_key: Vec<u8>,
}

pub(crate) fn parse_auth_data(
    check: &'static str,
    bytes: &[u8],
    rp_id: &str,
) -> Result<AuthData, Refusal> {
    if bytes.len() < 37 {
        return refuse(check, "authenticatorData is shorter than 37 bytes");
    }
    if bytes[..32] != Sha256::digest(rp_id.as_bytes())[..] {
        return refuse(check, "rpIdHash is not SHA-256 of the configured rp_id");
    }
    let flags = bytes[32];
    let sign_count = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
    let mut rest = &bytes[37..];
    let attested = if flags & AT != 0 {
        if rest.len() < 18 {
            return refuse(check, "attested credential data is truncated");
        }
        let mut aaguid = [0u8; 16];
        aaguid.copy_from_slice(&rest[..16]);
        let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        if len == 0 || len > MAX_CREDENTIAL_ID {
            return refuse(check, "credentialIdLength must be 1 to 1023");
        }
        rest = &rest[18..];
        if rest.len() < len {
            return refuse(check, "the credential ID is truncated");
        }
        let credential_id = rest[..len].to_vec();
        rest = &rest[len..];
        let used = cbor_item_len(rest).ok_or_else(|| Refusal {
            check,
            why: "credentialPublicKey is not one CBOR item".into(),
            counter_regression: false,
        })?;
        let cose_key = rest[..used].to_vec();
        rest = &rest[used..];
        Some(Attested {
            aaguid,
            credential_id,
            cose_key,
        })
    } else {
        None
    };
    if flags & ED != 0 {
        let used = cbor_item_len(rest);
        let is_map = Decoder::new(rest).datatype().ok() == Some(Type::Map);
        if !is_map || used != Some(rest.len()) {
            return refuse(check, "the extensions are not one CBOR map ending the data");
        }
    } else if !rest.is_empty() {
        return refuse(check, "authenticatorData has trailing bytes");
    }
    Ok(AuthData {
        flags,
        sign_count,
        attested,
    })
}

/// The length of the definite-length CBOR item at the start of `bytes`.
fn cbor_item_len(bytes: &[u8]) -> Option<usize> {
    let mut d = Decoder::new(bytes);
    skip_definite(&mut d, 0)?;
    Some(d.position())
}

/// Skips one item, refusing indefinite lengths and nesting deeper than 8.
pub(crate) fn skip_definite(d: &mut Decoder<'_>, depth: u8) -> Option<()> {
    if depth > 8 {
        return None;
    }
    match d.datatype().ok()? {
        Type::Map => {
            let n = d.map().ok()??;
            for _ in 0..n {
                skip_definite(d, depth + 1)?;
                skip_definite(d, depth + 1)?;
            }
        }
        Type::Array => {
            let n = d.array().ok()??;
            for _ in 0..n {
                skip_definite(d, depth + 1)?;
            }
        }
        Type::BytesIndef | Type::StringIndef | Type::MapIndef | Type::ArrayIndef | Type::Break => {
            return None;
        }
        Type::Bytes => {
            d.bytes().ok()?;
        }
        Type::String => {
            d.str().ok()?;
        }
        _ => d.skip().ok()?,
    }
    Some(())
}

/// An ES256 COSE_Key (L3 §6.5.1.1) as the uncompressed SEC1 point `04 ‖ x ‖ y`, checked to
/// lie on P-256.
///
/// # Errors
/// A [`Refusal`] on `check` naming what is wrong.
pub fn cose_es256_point(check: &'static str, cose: &[u8]) -> Result<Vec<u8>, Refusal> {
    let bad = |why: &str| Refusal {
        check,
        why: format!("credentialPublicKey: {why}"),
        counter_regression: false,
    };
    let mut d = Decoder::new(cose);
    let n = d
        .map()
        .ok()
        .flatten()
        .ok_or_else(|| bad("not a definite CBOR map"))?;
    if n > 16 {
        return Err(bad("too many entries"));
    }
    let (mut kty, mut alg, mut crv) = (None, None, None);
    let (mut x, mut y): (Option<&[u8]>, Option<&[u8]>) = (None, None);
    let mut seen = Vec::new();
    for _ in 0..n {
        let label = d.i64().map_err(|_| bad("a label is not an integer"))?;
        if seen.contains(&label) {
            return Err(bad("a label appears twice"));
        }
        seen.push(label);
        match label {
            1 => kty = Some(d.i64().map_err(|_| bad("kty is not an integer"))?),
            3 => alg = Some(d.i64().map_err(|_| bad("alg is not an integer"))?),
            -1 => crv = Some(d.i64().map_err(|_| bad("crv is not an integer"))?),
            -2 => x = Some(d.bytes().map_err(|_| bad("x is not a byte string"))?),
            -3 => y = Some(d.bytes().map_err(|_| bad("y is not a byte string"))?),
            _ => skip_definite(&mut d, 1).ok_or_else(|| bad("an entry is malformed"))?,
        }
    }
    if d.position() != cose.len() {
        return Err(bad("trailing bytes"));
    }
    if alg != Some(ES256) {
        return Err(bad(&format!(
            "alg {alg:?} is not ES256 (-7), the only algorithm offered"
        )));
    }
    if kty != Some(2) || crv != Some(1) {
        return Err(bad("an ES256 key needs kty 2 (EC2) and crv 1 (P-256)"));
    }
    let (Some(x), Some(y)) = (x, y) else {
        return Err(bad("x or y is missing"));
    };
    if x.len() != 32 || y.len() != 32 {
        return Err(bad("x and y must be 32 bytes each"));
    }
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    p256::PublicKey::from_sec1_bytes(&point).map_err(|_| bad("the point is not on P-256"))?;
    Ok(point)
}

// ---------------------------------------------------------------------------------------------
// Assertion (§7.2)

/// The stored credential an assertion is checked against.
pub struct StoredKey<'a> {
    pub cose_key: &'a [u8],
    pub sign_count: u32,
    pub backup_eligible: bool,
}

/// What a verified assertion changes on the record (§5.7).
pub struct Asserted {
    pub sign_count: u32,
    pub uv: bool,
    pub backup_state: bool,
}

/// Verifies an assertion's client data, authenticator data, signature and sign counter
/// (WebAuthn L3 §7.2; checks A5–A10 of docs/protocol.md "Passkeys").
///
/// # Errors
/// The first failed check; `counter_regression` is set when the counter went backwards.
pub fn verify_assertion(
    head: &AssertionHead,
    challenge: &str,
    policy: &Policy<'_>,
    stored: &StoredKey<'_>,
) -> Result<Asserted, Refusal> {
    let body = &head.body;
    let client_data = field("A5", "clientDataJSON", &body.client_data_json)?;
    check_client_data("A5", &client_data, "webauthn.get", challenge, policy)?;
    let auth_bytes = field("A6", "authenticatorData", &body.authenticator_data)?;
    let auth = parse_auth_data("A6", &auth_bytes, policy.rp_id)?;
    if auth.attested.is_some() {
        return refuse("A6", "the AT flag is set in an assertion");
    }
    if auth.flags & UP == 0 {
        return refuse("A7", "user presence (UP) is not set");
    }
    if policy.uv_required && auth.flags & UV == 0 {
        return refuse("A7", "user verification (UV) is required and not set");
    }
    if auth.flags & BE == 0 && auth.flags & BS != 0 {
        return refuse("A8", "BS is set without BE");
    }
    if (auth.flags & BE != 0) != stored.backup_eligible {
        return refuse("A8", "BE differs from the registered credential's");
    }
    let point = cose_es256_point("A9", stored.cose_key)?;
    let signature = field("A9", "signature", &body.signature)?;
    let mut message = auth_bytes.clone();
    message.extend_from_slice(&Sha256::digest(&client_data));
    if UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &point)
        .verify(&message, &signature)
        .is_err()
    {
        return refuse(
            "A9",
            "the signature over authenticatorData and the clientDataJSON hash does not verify",
        );
    }
    if (auth.sign_count != 0 || stored.sign_count != 0) && auth.sign_count <= stored.sign_count {
        return Err(Refusal {
            check: "A10",
            why: format!(
                "the sign counter went from {} to {}: the authenticator may be cloned",
                stored.sign_count, auth.sign_count
            ),
            counter_regression: true,
        });
    }
    Ok(Asserted {
        sign_count: auth.sign_count,
        uv: auth.flags & UV != 0,
        backup_state: auth.flags & BS != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_but_ignore_case() {
        assert!(same_origin("https://localhost", "https://LOCALHOST"));
        assert!(same_origin("https://localhost", "https://localhost"));
        assert!(!same_origin("https://localhost", "https://localhost/"));
        assert!(!same_origin("https://localhost", "http://localhost"));
        assert!(!same_origin("https://localhost", "https://localhost:8443"));
        assert!(!same_origin("https://localhost", "https://evil.localhost"));
        assert!(!same_origin("https://localhost", "null"));
    }

    #[test]
    fn cbor_items_are_measured_and_indefinite_lengths_refused() {
        assert_eq!(cbor_item_len(&[0xa1, 0x01, 0x02, 0xff]), Some(3));
        assert_eq!(cbor_item_len(&[0xbf, 0x01, 0x02, 0xff]), None);
        assert_eq!(cbor_item_len(&[0x5f, 0x41, 0x00, 0xff]), None);
        assert_eq!(cbor_item_len(&[0x58]), None);
    }
}
