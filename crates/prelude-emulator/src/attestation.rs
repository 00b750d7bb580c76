//! The WebAuthn registration ceremony (Level 3 §7.1) with the policy of docs/protocol.md
//! "Passkeys": the attestation JSON, strict CBOR of the attestation object, and checks R3–R14.
//! The parts it shares with assertions (client data, authenticator data, COSE keys) are in
//! `webauthn`.

use crate::util::b64;
use crate::webauthn::{
    BE, BS, Policy, Refusal, UP, UV, check_client_data, cose_es256_point, credential_id, field,
    parse_auth_data, refuse, skip_definite,
};
use minicbor::Decoder;
use minicbor::data::Type;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttestationJson {
    id: String,
    raw_id: String,
    #[serde(rename = "type")]
    kind: String,
    response: AttestationResponseJson,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttestationResponseJson {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    attestation_object: String,
    #[serde(default)]
    transports: Option<Vec<String>>,
}

/// The attestation object's `fmt`, whether `attStmt` is empty, and `authData`, from strict
/// CBOR: a definite map of exactly those three text keys, no duplicates, nothing after it.
fn parse_attestation_object(bytes: &[u8]) -> Result<(String, bool, Vec<u8>), Refusal> {
    let bad = |why: &str| Refusal {
        check: "R9",
        why: format!("attestationObject: {why}"),
        counter_regression: false,
    };
    let mut d = Decoder::new(bytes);
    let n = d
        .map()
        .ok()
        .flatten()
        .ok_or_else(|| bad("not a definite CBOR map"))?;
    if n != 3 {
        return Err(bad("must hold exactly fmt, attStmt and authData"));
    }
    let (mut fmt, mut empty, mut auth) = (None, None, None);
    for _ in 0..n {
        let key = d.str().map_err(|_| bad("a key is not text"))?;
        match key {
            "fmt" if fmt.is_none() => {
                fmt = Some(d.str().map_err(|_| bad("fmt is not text"))?.to_owned());
            }
            "attStmt" if empty.is_none() => {
                if d.datatype().ok() != Some(Type::Map) {
                    return Err(bad("attStmt is not a map"));
                }
                let start = d.position();
                skip_definite(&mut d, 0).ok_or_else(|| bad("attStmt is malformed"))?;
                // An empty definite map is the single byte A0.
                empty = Some(d.position() - start == 1);
            }
            "authData" if auth.is_none() => {
                auth = Some(
                    d.bytes()
                        .map_err(|_| bad("authData is not a byte string"))?
                        .to_vec(),
                );
            }
            _ => return Err(bad("an unknown or repeated key")),
        }
    }
    if d.position() != bytes.len() {
        return Err(bad("trailing bytes"));
    }
    match (fmt, empty, auth) {
        (Some(f), Some(e), Some(a)) => Ok((f, e, a)),
        _ => Err(bad("a key is missing")),
    }
}

/// A credential that passed registration, ready to be stored.
pub struct NewCredential {
    pub credential_id: String,
    pub cose_key: Vec<u8>,
    pub sign_count: u32,
    pub uv: bool,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub aaguid: String,
    pub transports: Vec<String>,
}

/// What registration may accept besides the policy: the attestation settings of the config.
pub struct AttestationPolicy<'a> {
    pub preference: &'a str,
    pub aaguid_allowlist: &'a [String],
    /// Accept a statement of another format, unverified (the emulator checks no chains).
    pub accept_unverified: bool,
}

/// Verifies a `RegistrationResponseJSON` against the challenge bound to its registration
/// token (WebAuthn L3 §7.1; checks R3–R14 of docs/protocol.md "Passkeys").
///
/// # Errors
/// The first failed check, as a [`Refusal`].
pub fn verify_registration(
    value: serde_json::Value,
    challenge: &str,
    policy: &Policy<'_>,
    attestation: &AttestationPolicy<'_>,
) -> Result<NewCredential, Refusal> {
    let a: AttestationJson = serde_json::from_value(value)
        .or_else(|e| refuse("R3", format!("the attestation is malformed: {e}")))?;
    let raw = credential_id("R3", &a.kind, &a.id, &a.raw_id)?;
    let client_data = field("R4", "clientDataJSON", &a.response.client_data_json)?;
    check_client_data("R5-R7", &client_data, "webauthn.create", challenge, policy)?;
    let att = field("R9", "attestationObject", &a.response.attestation_object)?;
    let (fmt, att_stmt_empty, auth_bytes) = parse_attestation_object(&att)?;
    let auth = parse_auth_data("R10", &auth_bytes, policy.rp_id)?;
    let Some(attested) = auth.attested else {
        return refuse("R10", "the AT flag is clear: no attested credential data");
    };
    if auth.flags & UP == 0 {
        return refuse("R11", "user presence (UP) is not set");
    }
    if policy.uv_required && auth.flags & UV == 0 {
        return refuse("R11", "user verification (UV) is required and not set");
    }
    if auth.flags & BE == 0 && auth.flags & BS != 0 {
        return refuse("R11", "BS is set without BE");
    }
    cose_es256_point("R12", &attested.cose_key)?;
    if attested.credential_id != raw {
        return refuse("R3", "rawId is not the attested credential ID");
    }
    let verified = match fmt.as_str() {
        "none" if att_stmt_empty => false,
        "none" => return refuse("R13", "fmt none needs an empty attStmt"),
        other if attestation.preference == "none" || attestation.accept_unverified => {
            // W3C lets an RP that asked for none treat any statement as none; the switch
            // does so whatever was asked.
            tracing::info!(fmt = other, "attestation statement accepted unverified");
            false
        }
        other => {
            return refuse(
                "R13",
                format!("attestation format {other:?} cannot be verified by the emulator"),
            );
        }
    };
    if !attestation.aaguid_allowlist.is_empty() && !verified {
        return refuse(
            "R13",
            "aaguid_allowlist needs a verified attestation, and none was verified",
        );
    }
    let aaguid = uuid::Uuid::from_bytes(attested.aaguid).to_string();
    Ok(NewCredential {
        credential_id: b64(raw),
        cose_key: attested.cose_key,
        sign_count: auth.sign_count,
        uv: auth.flags & UV != 0,
        backup_eligible: auth.flags & BE != 0,
        backup_state: auth.flags & BS != 0,
        aaguid,
        transports: a
            .response
            .transports
            .unwrap_or_default()
            .into_iter()
            .take(8)
            .filter(|t| t.len() <= 32)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestation_objects_are_strict() {
        // {fmt: none, attStmt: {}, authData: h''} then a stray byte.
        let mut ok = vec![0xa3, 0x63];
        ok.extend_from_slice(b"fmt");
        ok.push(0x64);
        ok.extend_from_slice(b"none");
        ok.push(0x67);
        ok.extend_from_slice(b"attStmt");
        ok.push(0xa0);
        ok.push(0x68);
        ok.extend_from_slice(b"authData");
        ok.push(0x40);
        assert!(parse_attestation_object(&ok).is_ok());
        let mut trailing = ok.clone();
        trailing.push(0);
        assert!(parse_attestation_object(&trailing).is_err());
        let mut dup = ok.clone();
        // Rename authData to fmt (same length prefix differs): build a duplicate fmt instead.
        dup[0] = 0xa4;
        dup.extend_from_slice(&[0x63, b'f', b'm', b't', 0x64, b'n', b'o', b'n', b'e']);
        assert!(parse_attestation_object(&dup).is_err());
    }
}
