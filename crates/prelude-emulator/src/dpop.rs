//! DPoP proof verification, RFC 9449 §4.3, as docs/protocol.md ("DPoP") lays out.
//! Replay (jti) and nonce checks need the server state; they live in `extract`.
//! Signatures are checked with ring: several times faster than a pure-Rust P-256 verify, and
//! verification is most of what a `/refresh` costs.

use crate::api::ApiError;
use crate::util::{b64, unb64};
use axum::http::HeaderMap;
use prelude_wire::Code;
use prelude_wire::time::numeric_date;
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The longest `jti` accepted, in bytes (docs/protocol.md, "DPoP").
pub const MAX_JTI_BYTES: usize = 64;

/// What a valid proof tells us.
#[derive(Debug, Clone)]
pub struct Proof {
    /// RFC 7638 thumbprint of the proof's public key.
    pub jkt: String,
    pub jti: String,
    pub nonce: Option<String>,
    /// The proof's `iat`, rounded up to whole seconds, for how long its `jti` must be
    /// remembered.
    pub iat: i64,
}

/// Where a proof must point: one of the server's own origins plus the route's path.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub method: &'a str,
    pub origins: &'a [String],
    pub path: &'a str,
}

impl Target<'_> {
    fn matches(&self, htu: &str) -> bool {
        self.origins
            .iter()
            .any(|o| htu.strip_prefix(o.as_str()) == Some(self.path))
    }
}

/// Returns `Ok(None)` when no `DPoP` header is present, so routes where the proof is optional can
/// tell "absent" from "bad".
pub fn extract(
    headers: &HeaderMap,
    target: Target<'_>,
    now: i64,
    window_secs: i64,
) -> Result<Option<Proof>, ApiError> {
    let mut values = headers.get_all("dpop").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("more than one DPoP header"));
    }
    let text = first
        .to_str()
        .map_err(|_| invalid("DPoP header is not ASCII"))?;
    if text.contains(',') {
        return Err(invalid("more than one DPoP proof"));
    }
    verify(text.trim(), target, now, window_secs).map(Some)
}

fn invalid(why: &str) -> ApiError {
    ApiError::new(Code::InvalidDpopProof, why)
}

fn json_part(part: &str, what: &str) -> Result<Value, ApiError> {
    let bytes = unb64(part).ok_or_else(|| invalid(&format!("{what} is not base64url")))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| invalid(&format!("{what} is not JSON")))?;
    if !v.is_object() {
        return Err(invalid(&format!("{what} is not a JSON object")));
    }
    Ok(v)
}

fn verify(jws: &str, target: Target<'_>, now: i64, window_secs: i64) -> Result<Proof, ApiError> {
    let parts: Vec<&str> = jws.split('.').collect();
    if parts.len() != 3 {
        return Err(invalid("a DPoP proof is a compact JWS with three parts"));
    }
    let header = json_part(parts[0], "header")?;
    let claims = json_part(parts[1], "payload")?;

    let typ = header.get("typ").and_then(Value::as_str);
    if !typ.is_some_and(|t| crate::api::jws_typ_is(t, "dpop+jwt")) {
        return Err(invalid("typ must be dpop+jwt"));
    }
    match header.get("alg").and_then(Value::as_str) {
        Some("ES256") => {}
        Some(other) => return Err(invalid(&format!("alg {other} is not accepted; use ES256"))),
        None => return Err(invalid("alg is missing")),
    }
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("jwk is missing"))?;
    if jwk.contains_key("d") {
        return Err(invalid("jwk must be a public key"));
    }
    if jwk.get("kty").and_then(Value::as_str) != Some("EC")
        || jwk.get("crv").and_then(Value::as_str) != Some("P-256")
    {
        return Err(invalid("jwk must be an EC P-256 key"));
    }
    let coord = |name: &str| -> Result<(String, Vec<u8>), ApiError> {
        let s = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(&format!("jwk.{name} is missing")))?;
        let bytes = unb64(s).filter(|b| b.len() == 32);
        bytes
            .map(|b| (s.to_owned(), b))
            .ok_or_else(|| invalid(&format!("jwk.{name} must be 32 bytes of base64url")))
    };
    let (x_s, x) = coord("x")?;
    let (y_s, y) = coord("y")?;
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(4u8);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    let sig = unb64(parts[2]).ok_or_else(|| invalid("signature is not base64url"))?;
    if sig.len() != 64 {
        return Err(invalid("signature must be 64 bytes r||s"));
    }
    let signed_len = parts[0].len() + 1 + parts[1].len();
    // A point off the curve fails here too.
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &sec1)
        .verify(&jws.as_bytes()[..signed_len], &sig)
        .map_err(|_| invalid("signature does not verify"))?;

    let htm = claims.get("htm").and_then(Value::as_str);
    if htm != Some(target.method) {
        return Err(invalid("htm does not match the request method"));
    }
    let htu = claims
        .get("htu")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("htu is missing"))?;
    if !normalize_htu(htu).is_some_and(|h| target.matches(&h)) {
        return Err(invalid("htu does not match the request URL"));
    }
    // A NumericDate may carry a fraction (RFC 7519 §2); it is compared as a number.
    let iat = claims
        .get("iat")
        .and_then(numeric_date)
        .ok_or_else(|| invalid("iat is missing or not a NumericDate"))?;
    if (iat - now as f64).abs() > window_secs as f64 {
        return Err(invalid("iat is outside the accepted window"));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty())
        .ok_or_else(|| invalid("jti is missing"))?;
    // The SDKs send UUIDs (36 bytes); the cap bounds what the replay cache holds per entry.
    if jti.len() > MAX_JTI_BYTES {
        return Err(invalid(&format!(
            "jti is longer than {MAX_JTI_BYTES} bytes"
        )));
    }
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .map(str::to_owned);

    Ok(Proof {
        jkt: thumbprint(&x_s, &y_s),
        jti: jti.to_owned(),
        nonce,
        // Within the window of `now`, so the whole seconds fit.
        iat: iat.ceil() as i64,
    })
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, no white space.
pub fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    b64(Sha256::digest(canonical.as_bytes()))
}

/// `scheme://host[:port]/path`, lower-cased scheme and host, default port dropped, no query or
/// fragment (RFC 9449 §4.3 point 9).
pub fn normalize_htu(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let host = url.host_str()?;
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{}://{}{}{}", url.scheme(), host, port, url.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_normalisation() {
        assert_eq!(
            normalize_htu("HTTPS://API.Example.COM:443/v1/x?q=1#f").unwrap(),
            "https://api.example.com/v1/x"
        );
        assert_eq!(
            normalize_htu("http://127.0.0.1:4010/v1/session/refresh").unwrap(),
            "http://127.0.0.1:4010/v1/session/refresh"
        );
        assert!(normalize_htu("not a url").is_none());
    }

    #[test]
    fn rfc7638_example_shape() {
        // Thumbprints are 32 bytes of base64url, stable for the same key.
        let t = thumbprint("abc", "def");
        assert_eq!(t.len(), 43);
        assert_eq!(t, thumbprint("abc", "def"));
        assert_ne!(t, thumbprint("abd", "def"));
    }
}
