//! Signing keys and JWTs: access tokens and challenge tokens are EdDSA (Ed25519) JWTs with a `kid`,
//! published at `/.well-known/jwks.json` and `/.well-known/step-up-jwks.json` (docs/protocol.md, "Tokens").

use crate::util::{b64, random_bytes, unb64};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How many signed or verified tokens [`Keys`] remembers; the oldest go first.
pub const KNOWN_TOKENS: usize = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    known: Mutex<Known>,
}

/// Tokens these keys signed or already verified, by key use and SHA-256 of the compact JWS, with
/// their claims. The same bytes verify the same way under keys that never change, so a token
/// presented again (the access token on each call of a step-up, a challenge token at `otp`
/// then at `otp/check`) costs a hash instead of an Ed25519 verification (most of a request's
/// time on the emulator). Bounded: the oldest entry goes when [`KNOWN_TOKENS`] are held, and a
/// forgotten token is verified again.
#[derive(Default)]
struct Known {
    claims: HashMap<(KeyUse, [u8; 32]), Value>,
    order: VecDeque<(KeyUse, [u8; 32])>,
}

impl Known {
    fn insert(&mut self, key: (KeyUse, [u8; 32]), claims: Value) {
        if self.claims.insert(key, claims).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > KNOWN_TOKENS {
            if let Some(old) = self.order.pop_front() {
                self.claims.remove(&old);
            }
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Keys {
    pub fn from_seeds(seeds: &KeySeeds) -> Self {
        Self {
            access: key_of(&seeds.access),
            step_up: key_of(&seeds.step_up),
            access_kid: seeds.access_kid.clone(),
            step_up_kid: seeds.step_up_kid.clone(),
            known: Mutex::default(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        // The map holds no invariant a panicking holder could break halfway.
        self.known.lock().unwrap_or_else(|e| e.into_inner())
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
        let token = format!("{input}.{}", b64(sig.as_ref()));
        self.known().insert((usage, digest(&token)), claims.clone());
        token
    }

    /// Verifies a token this emulator issued and returns its claims. Expiry is the caller's call.
    /// A token these keys signed or verified before is recognised by its hash (see [`Known`]).
    pub fn verify(&self, usage: KeyUse, token: &str) -> Option<Value> {
        let id = (usage, digest(token));
        if let Some(claims) = self.known().claims.get(&id) {
            return Some(claims.clone());
        }
        let claims = self.verify_signature(usage, token)?;
        self.known().insert(id, claims.clone());
        Some(claims)
    }

    fn verify_signature(&self, usage: KeyUse, token: &str) -> Option<Value> {
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

    /// A remembered token answers with its own claims and only for its own key use; a token
    /// one byte away, or one from other keys, is still verified and refused.
    #[test]
    fn remembered_tokens_change_no_answer() {
        let keys = Keys::from_seeds(&KeySeeds::generate());
        let other = Keys::from_seeds(&KeySeeds::generate());
        let t = keys.sign(KeyUse::StepUp, &json!({"jti": "j-1"}));
        assert_eq!(keys.verify(KeyUse::StepUp, &t).unwrap()["jti"], "j-1");
        assert_eq!(keys.verify(KeyUse::StepUp, &t).unwrap()["jti"], "j-1");
        assert!(keys.verify(KeyUse::Access, &t).is_none());
        assert!(other.verify(KeyUse::StepUp, &t).is_none());
        let foreign = other.sign(KeyUse::StepUp, &json!({"jti": "j-2"}));
        assert!(keys.verify(KeyUse::StepUp, &foreign).is_none());
        let (head, sig) = t.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let forged = format!("{head}.{flipped}{}", &sig[1..]);
        assert!(keys.verify(KeyUse::StepUp, &forged).is_none());
    }

    /// The memory is bounded: past [`KNOWN_TOKENS`] the oldest is forgotten, and a forgotten
    /// token still verifies, by its signature.
    #[test]
    fn the_memory_is_bounded_and_a_forgotten_token_still_verifies() {
        let keys = Keys::from_seeds(&KeySeeds::generate());
        let first = keys.sign(KeyUse::Access, &json!({"n": 0}));
        for n in 1..=KNOWN_TOKENS {
            keys.sign(KeyUse::Access, &json!({ "n": n }));
        }
        {
            let known = keys.known();
            assert_eq!(known.claims.len(), KNOWN_TOKENS);
            assert_eq!(known.order.len(), KNOWN_TOKENS);
            assert!(!known.claims.contains_key(&(KeyUse::Access, digest(&first))));
        }
        assert_eq!(keys.verify(KeyUse::Access, &first).unwrap()["n"], 0);
        assert_eq!(keys.known().claims.len(), KNOWN_TOKENS);
    }
}
