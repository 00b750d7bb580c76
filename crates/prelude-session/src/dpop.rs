//! The device's DPoP key and proofs (RFC 9449; docs/protocol.md, "DPoP").

use crate::util::{b64, unb64};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::json;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// An ES256 key pair. Its `Debug` never shows the private half.
#[derive(Clone)]
pub struct DpopKey {
    key: SigningKey,
    /// The proofs' protected header, base64url: it holds only the public key, so it is built
    /// once per key instead of once per proof.
    header: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DpopKey {{ jkt: {}, private: [redacted] }}",
            self.thumbprint()
        )
    }
}

impl DpopKey {
    /// A new key from the OS generator.
    pub fn generate() -> Self {
        loop {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut_slice()).expect("OS random number generator unavailable");
            // A scalar of zero or ≥ n is refused; try again (probability ~2^-32).
            if let Ok(key) = SigningKey::from_slice(seed.as_slice()) {
                return Self::of(key);
            }
        }
    }

    /// The raw 32-byte scalar, base64url: what goes into the keyring.
    pub(crate) fn export(&self) -> Zeroizing<String> {
        Zeroizing::new(b64(self.key.to_bytes()))
    }

    pub(crate) fn import(text: &str) -> Option<Self> {
        let raw = Zeroizing::new(unb64(text.trim())?);
        SigningKey::from_slice(&raw).ok().map(Self::of)
    }

    fn of(key: SigningKey) -> Self {
        let (x, y) = coordinates(&key);
        let header = json!({
            "typ": "dpop+jwt",
            "alg": "ES256",
            "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y},
        });
        Self {
            key,
            header: b64(header.to_string()),
        }
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> String {
        let (x, y) = coordinates(&self.key);
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        b64(Sha256::digest(canonical.as_bytes()))
    }

    /// A compact JWS proof. `jti` is a fresh UUID for regular proofs and the challenge token's
    /// `jti` for challenge-scoped ones; those never carry a nonce.
    pub fn proof(&self, htm: &str, htu: &str, jti: &str, iat: i64, nonce: Option<&str>) -> String {
        let mut claims = json!({"jti": jti, "htm": htm, "htu": htu, "iat": iat});
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        let input = format!("{}.{}", self.header, b64(claims.to_string()));
        let sig: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64(sig.to_bytes()))
    }
}

/// The public key's affine coordinates, base64url (RFC 7518 §6.2.1.2–3).
fn coordinates(key: &SigningKey) -> (String, String) {
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    (b64(&bytes[1..33]), b64(&bytes[33..65]))
}

/// `scheme://host[:port]/path` with the scheme and host lower-cased and no query or fragment.
pub fn normalize_htu(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{host}{port}{}", url.scheme(), url.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_import_round_trip_keeps_the_key() {
        let k = DpopKey::generate();
        let again = DpopKey::import(&k.export()).unwrap();
        assert_eq!(k.thumbprint(), again.thumbprint());
        assert_eq!(k.header, again.header);
        assert!(DpopKey::import("not a key").is_none());
    }

    #[test]
    fn debug_hides_the_private_key() {
        let k = DpopKey::generate();
        let shown = format!("{k:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains(k.export().as_str()));
    }

    #[test]
    fn htu_is_normalised() {
        let u = url::Url::parse("HTTPS://API.Example.COM:443/v1/x?q=1#f").unwrap();
        assert_eq!(normalize_htu(&u), "https://api.example.com/v1/x");
    }

    #[test]
    fn proof_has_the_rfc_9449_shape() {
        let k = DpopKey::generate();
        let p = k.proof(
            "POST",
            "https://h/v1/session/refresh",
            "j-1",
            100,
            Some("n"),
        );
        let parts: Vec<&str> = p.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&unb64(parts[0]).unwrap()).unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert!(header["jwk"].get("d").is_none());
        // The header built once names this key: its RFC 7638 thumbprint is the key's.
        let jwk = &header["jwk"];
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        assert_eq!(b64(Sha256::digest(canonical.as_bytes())), k.thumbprint());
        let claims: serde_json::Value = serde_json::from_slice(&unb64(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["nonce"], "n");
        assert_eq!(claims["jti"], "j-1");
        assert!(claims.get("ath").is_none());
        assert_eq!(unb64(parts[2]).unwrap().len(), 64);
    }
}
