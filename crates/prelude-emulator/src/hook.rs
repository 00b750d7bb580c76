//! Calls to the customer's backend: the delegated step-up hook, signed with RSA-PSS, and the
//! customer JWKS that verifies custom-step tokens (docs/protocol.md, "Step-up").

use crate::Error;
use crate::state::{Decision, DirectDecision, GrantMode, StepSpec};
use crate::util::{OsRng, b64, random_token, unb64};
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
use rsa::traits::PublicKeyParts as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const HOOK_TIMEOUT: Duration = Duration::from_secs(5);
pub const HOOK_MAX_BYTES: usize = 64 * 1024;
const JWKS_TTL: Duration = Duration::from_secs(600);

/// The app's key for signing hook requests; its public half is in `/.well-known/jwks.json`.
pub struct HookKey {
    key: rsa::pss::SigningKey<Sha256>,
    pub kid: String,
    pub jwk: Value,
}

impl HookKey {
    pub fn generate() -> Self {
        let private = rsa::PrivateKey::new(&mut OsRng, 2048).expect("RSA key generation");
        let public = private.to_public_key();
        let kid = format!("hook-{}", random_token(6));
        let jwk = json!({
            "kty": "RSA", "alg": "PS256", "use": "sig", "kid": kid,
            "n": b64(public.n_bytes()), "e": b64(public.e_bytes()),
        });
        Self {
            key: rsa::pss::SigningKey::<Sha256>::new(private),
            kid,
            jwk,
        }
    }

    /// base64url RSASSA-PSS-SHA256 over the raw body.
    pub fn sign(&self, body: &[u8]) -> String {
        b64(self.key.sign(body).to_vec())
    }
}

/// Reads a response body, refusing more than `limit` bytes.
async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| no(e.without_url().to_string()))?
    {
        if buf.len() + chunk.len() > limit {
            return Err(no(format!("the answer is larger than {limit} bytes")));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

#[derive(Deserialize)]
struct HookAnswer {
    status: Decision,
    #[serde(default, deserialize_with = "crate::util::de_seconds")]
    granted_for: i64,
    grant_mode: Option<GrantMode>,
    #[serde(default)]
    steps: Vec<StepSpec>,
}

/// Validates a hook answer by the rules behind `step_up.hook_failed`.
pub fn validate_answer(bytes: &[u8]) -> Result<DirectDecision, Error> {
    let a: HookAnswer =
        serde_json::from_slice(bytes).map_err(|e| no(format!("the answer is not valid: {e}")))?;
    if !(0..=86_400).contains(&a.granted_for) {
        return Err(no("granted_for must be 0 to 86400"));
    }
    let grant_mode = match (a.status, a.grant_mode) {
        (_, Some(m)) => m,
        (Decision::Block, None) => GrantMode::SingleUse,
        (_, None) => return Err(no("grant_mode is required")),
    };
    if a.status != Decision::Block && grant_mode != GrantMode::SingleUse && a.granted_for == 0 {
        return Err(no("this grant mode needs granted_for > 0"));
    }
    if a.status == Decision::Review && a.steps.is_empty() {
        return Err(no("review needs at least one step"));
    }
    for s in &a.steps {
        // A step key by the wire's rule: `completed` is no step.
        if prelude_wire::StepKey::parse(&s.key).is_err()
            || !(0..=86_400).contains(&s.expiration_duration)
        {
            return Err(no(format!("step {:?} is not valid", s.key)));
        }
    }
    Ok(DirectDecision {
        identifier_types: vec![],
        status: a.status,
        granted_for: a.granted_for,
        grant_mode,
        steps: a.steps,
    })
}

/// Posts the signed hook request and returns the validated decision.
pub async fn call_hook(
    http: &reqwest::Client,
    key: &HookKey,
    url: &str,
    body: &Value,
) -> Result<DirectDecision, Error> {
    let bytes = serde_json::to_vec(body).map_err(|e| no(e.to_string()))?;
    let resp = http
        .post(url)
        .timeout(HOOK_TIMEOUT)
        .header("content-type", "application/json")
        .header("user-agent", "Prelude-SessionStepUpHook/1.0")
        .header("x-webhook-signature", key.sign(&bytes))
        .header("x-webhook-signature-key-id", &key.kid)
        .body(bytes)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                no("the hook did not answer within 5 s")
            } else {
                no(format!(
                    "the hook could not be reached: {}",
                    e.without_url()
                ))
            }
        })?;
    if !resp.status().is_success() {
        return Err(no(format!(
            "the hook answered HTTP {}",
            resp.status().as_u16()
        )));
    }
    let bytes = read_limited(resp, HOOK_MAX_BYTES).await?;
    validate_answer(&bytes)
}

/// Customer JWKS, cached for 10 minutes. A failed fetch, or a `kid` the set does not have,
/// is remembered for [`JWKS_RETRY_AFTER`], so a stream of bad tokens cannot make the emulator
/// fetch the customer's JWKS on every request.
#[derive(Default)]
pub struct JwksCache {
    map: Mutex<HashMap<String, Fetched>>,
}

struct Fetched {
    at: Instant,
    /// `None` when the fetch failed.
    keys: Option<Vec<Value>>,
}

pub const JWKS_RETRY_AFTER: Duration = Duration::from_secs(30);

enum Cached {
    Key(Value),
    Miss(String),
    Stale,
}

impl JwksCache {
    fn cached(&self, url: &str, kid: &str) -> Cached {
        let Ok(map) = self.map.lock() else {
            return Cached::Stale;
        };
        let Some(f) = map.get(url) else {
            return Cached::Stale;
        };
        let age = f.at.elapsed();
        let found = f
            .keys
            .as_ref()
            .and_then(|keys| keys.iter().find(|k| k["kid"] == kid).cloned());
        match found {
            Some(k) if age <= JWKS_TTL => Cached::Key(k),
            _ if age <= JWKS_RETRY_AFTER => Cached::Miss(match f.keys {
                Some(_) => format!("no key {kid:?} in the JWKS (cached)"),
                None => "the JWKS could not be fetched (cached)".to_owned(),
            }),
            _ => Cached::Stale,
        }
    }

    pub async fn key(&self, http: &reqwest::Client, url: &str, kid: &str) -> Result<Value, Error> {
        match self.cached(url, kid) {
            Cached::Key(k) => return Ok(k),
            Cached::Miss(why) => return Err(no(why)),
            Cached::Stale => {}
        }
        let fetched = fetch_jwks(http, url).await;
        let found = fetched
            .as_ref()
            .ok()
            .and_then(|keys| keys.iter().find(|k| k["kid"] == kid).cloned());
        let outcome = match (&fetched, found) {
            (_, Some(k)) => Ok(k),
            (Ok(_), None) => Err(no(format!("no key {kid:?} in the JWKS"))),
            (Err(why), None) => Err(no(why.to_string())),
        };
        if let Ok(mut map) = self.map.lock() {
            map.insert(
                url.to_owned(),
                Fetched {
                    at: Instant::now(),
                    keys: fetched.ok(),
                },
            );
        }
        outcome
    }
}

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<Vec<Value>, Error> {
    let resp = http
        .get(url)
        .timeout(HOOK_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            no(format!(
                "the JWKS could not be fetched: {}",
                e.without_url()
            ))
        })?;
    if !resp.status().is_success() {
        return Err(no(format!(
            "the JWKS answered HTTP {}",
            resp.status().as_u16()
        )));
    }
    let set: Value = serde_json::from_slice(&read_limited(resp, HOOK_MAX_BYTES).await?)
        .map_err(|_| no("the JWKS is not JSON"))?;
    Ok(set["keys"].as_array().cloned().unwrap_or_default())
}

/// Checks a hook request's `X-Webhook-Signature` against an RSA JWK (what a customer does).
pub fn verify_pss(jwk: &Value, body: &[u8], signature_b64: &str) -> bool {
    let num = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(unb64)
            .map(|b| rsa::BoxedUint::from_be_slice_vartime(&b))
    };
    let (Some(n), Some(e)) = (num("n"), num("e")) else {
        return false;
    };
    let Ok(public) = rsa::PublicKey::new(n, e) else {
        return false;
    };
    let Some(sig) =
        unb64(signature_b64).and_then(|s| rsa::pss::Signature::try_from(s.as_slice()).ok())
    else {
        return false;
    };
    rsa::pss::VerifyingKey::<Sha256>::new(public)
        .verify(body, &sig)
        .is_ok()
}

/// The `kid` of an RS256 token, read before its key is known.
pub fn rs256_kid(token: &str) -> Result<String, Error> {
    let head = token.split('.').next().ok_or_else(|| no("not a JWT"))?;
    let header: Value = serde_json::from_slice(&unb64(head).ok_or_else(|| no("not a JWT"))?)
        .map_err(|_| no("not a JWT"))?;
    if header["alg"] != "RS256" {
        return Err(no("the verification token must be RS256"));
    }
    header["kid"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| no("the verification token has no kid"))
}

/// Verifies an RS256 JWT with an RSA JWK and returns its claims.
pub fn verify_rs256(token: &str, jwk: &Value) -> Result<Value, Error> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(no("not a JWT"));
    }
    let num = |name: &str| -> Result<rsa::BoxedUint, Error> {
        let bytes = jwk[name]
            .as_str()
            .and_then(unb64)
            .ok_or_else(|| no(format!("the JWK has no {name}")))?;
        Ok(rsa::BoxedUint::from_be_slice_vartime(&bytes))
    };
    let public = rsa::PublicKey::new(num("n")?, num("e")?)
        .map_err(|e| no(format!("the JWK is not usable: {e}")))?;
    let sig = unb64(parts[2]).ok_or_else(|| no("the signature is not base64url"))?;
    let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice())
        .map_err(|_| no("the signature is malformed"))?;
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .map_err(|_| no("the signature does not verify"))?;
    serde_json::from_slice(&unb64(parts[1]).ok_or_else(|| no("the payload is not base64url"))?)
        .map_err(|_| no("the payload is not JSON"))
}

/// A refusal of what a customer's system sent or did.
fn no(why: impl Into<String>) -> Error {
    Error::Customer(why.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_answers_are_validated() {
        let ok = br#"{"status":"review","granted_for":300,"grant_mode":"session-bound","steps":[{"order":1,"key":"verify_email","expiration_duration":600}]}"#;
        assert_eq!(validate_answer(ok).unwrap().steps.len(), 1);
        assert!(validate_answer(br#"{"status":"block"}"#).is_ok());
        // Seconds are JSON numbers, which a backend may write with a fraction or an exponent.
        let fractional = br#"{"status":"review","granted_for":300.0,"grant_mode":"session-bound","steps":[{"order":1,"key":"verify_email","expiration_duration":6.005e2}]}"#;
        let d = validate_answer(fractional).unwrap();
        assert_eq!((d.granted_for, d.steps[0].expiration_duration), (300, 600));
        for bad in [
            &br#"{"status":"review","granted_for":300,"grant_mode":"session-bound","steps":[]}"#[..],
            br#"{"status":"continue","granted_for":0,"grant_mode":"profile-bound"}"#,
            br#"{"status":"continue","granted_for":90000,"grant_mode":"single-use"}"#,
            br#"{"status":"maybe"}"#,
            br#"{"status":"continue"}"#,
            br#"{"status":"continue","granted_for":"300","grant_mode":"single-use"}"#,
            br#"{"status":"continue","granted_for":1e300,"grant_mode":"single-use"}"#,
            br#"not json"#,
            br#"{"status":"review","granted_for":300,"grant_mode":"single-use","steps":[{"order":1,"key":"completed","expiration_duration":60}]}"#,
        ] {
            assert!(
                validate_answer(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
