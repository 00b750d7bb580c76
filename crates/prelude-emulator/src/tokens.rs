//! Signing keys and JWTs: access tokens and challenge tokens are EdDSA (Ed25519) JWTs with a `kid`,
//! published at `/.well-known/jwks.json` and `/.well-known/step-up-jwks.json` (docs/protocol.md, "Tokens").

use crate::util::{b64, random_bytes, unb64};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    Access,
    StepUp,
}

/// The seeds are persisted with the state so tokens stay valid across a restart.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeySeeds {
    access: [u8; 32],
    step_up: [u8; 32],
    access_kid: String,
    step_up_kid: String,
}

impl std::fmt::Debug for KeySeeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySeeds")
            .field("access_kid", &self.access_kid)
            .field("step_up_kid", &self.step_up_kid)
            .finish_non_exhaustive()
    }
}

impl KeySeeds {
    pub fn generate() -> Self {
        let mut a = [0u8; 32];
        let mut s = [0u8; 32];
        a.copy_from_slice(&random_bytes(32));
        s.copy_from_slice(&random_bytes(32));
        let tag = crate::util::random_token(6);
        Self {
            access: a,
            step_up: s,
            access_kid: format!("at-{tag}"),
            step_up_kid: format!("su-{tag}"),
        }
    }
}

pub struct Keys {
    access: Ed25519KeyPair,
    step_up: Ed25519KeyPair,
    access_kid: String,
    step_up_kid: String,
}

impl Keys {
    pub fn from_seeds(seeds: &KeySeeds) -> Self {
        Self {
            access: key_of(&seeds.access),
            step_up: key_of(&seeds.step_up),
            access_kid: seeds.access_kid.clone(),
            step_up_kid: seeds.step_up_kid.clone(),
        }
    }

    fn pick(&self, usage: KeyUse) -> (&Ed25519KeyPair, &str) {
        match usage {
            KeyUse::Access => (&self.access, &self.access_kid),
            KeyUse::StepUp => (&self.step_up, &self.step_up_kid),
        }
    }

    pub fn sign(&self, usage: KeyUse, claims: &Value) -> String {
        let (key, kid) = self.pick(usage);
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig = key.sign(input.as_bytes());
        format!("{input}.{}", b64(sig.as_ref()))
    }

    /// Verifies a token this emulator issued and returns its claims. Expiry is the caller's call.
    pub fn verify(&self, usage: KeyUse, token: &str) -> Option<Value> {
        let (key, kid) = self.pick(usage);
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&unb64(h)?).ok()?;
        if header.get("alg")? != "EdDSA" || header.get("kid")?.as_str()? != kid {
            return None;
        }
        let sig = unb64(s)?;
        UnparsedPublicKey::new(&ED25519, key.public_key().as_ref())
            .verify(format!("{h}.{p}").as_bytes(), &sig)
            .ok()?;
        serde_json::from_slice(&unb64(p)?).ok()
    }

    pub fn jwks(&self, usage: KeyUse) -> Value {
        let (key, kid) = self.pick(usage);
        json!({"keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": kid,
            "x": b64(key.public_key().as_ref()),
        }]})
    }
}

/// The Ed25519 key of a 32-byte seed (any 32 bytes are one).
fn key_of(seed: &[u8; 32]) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(seed).expect("32 bytes are an Ed25519 seed")
}

/// Reads a JWT's claims without checking the signature (for tokens we must inspect before
/// we know which key applies).
pub fn peek_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&unb64(payload)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_and_key_separation() {
        let keys = Keys::from_seeds(&KeySeeds::generate());
        let t = keys.sign(KeyUse::Access, &json!({"sub": "usr_1"}));
        assert_eq!(keys.verify(KeyUse::Access, &t).unwrap()["sub"], "usr_1");
        assert!(keys.verify(KeyUse::StepUp, &t).is_none());
        let mut forged = t.clone();
        forged.push('A');
        assert!(keys.verify(KeyUse::Access, &forged).is_none());
    }
}
