//! The authenticator under attack: PIN checks and assertions at once, a used-up counter, and
//! RP ID and origin settings that a browser would refuse.

use super::pin::MAX_TRIES;
use super::*;
use prelude_passkey::{CredentialParameters, RpEntity, UserEntity};
use prelude_session::{Authenticator as _, Item, MemoryStore, StoreError};
use std::sync::Barrier;
use zeroize::Zeroizing;

const PIN: &str = "246810";
const NS: &str = "t/passkeys";

/// A keyring whose answers arrive late, as the Secret Service's over D-Bus can: the value is
/// read, then the reply takes a while, so two readers at once get the same count unless
/// the read-modify-writes are serialised.
struct SlowReads(MemoryStore);

impl SecretStore for SlowReads {
    fn get(&self, ns: &str, item: Item) -> Result<Option<Zeroizing<String>>, StoreError> {
        let value = self.0.get(ns, item);
        std::thread::sleep(std::time::Duration::from_millis(40));
        value
    }
    fn set(&self, ns: &str, item: Item, value: &str) -> Result<(), StoreError> {
        self.0.set(ns, item, value)
    }
    fn delete(&self, ns: &str, item: Item) -> Result<(), StoreError> {
        self.0.delete(ns, item)
    }
}

fn slow() -> LocalAuthenticator {
    let store = Arc::new(SlowReads(MemoryStore::new())) as Arc<dyn SecretStore>;
    LocalAuthenticator::new(Arc::new(PlatformStore::over(store)), "t")
}

fn creation(rp: &str) -> CreationOptions {
    CreationOptions {
        rp: RpEntity {
            id: Some(rp.into()),
            name: "Test".into(),
        },
        user: UserEntity {
            id: b64(b"usr_1"),
            name: "ada@example.com".into(),
            display_name: "Ada".into(),
        },
        challenge: b64([9u8; 32]),
        pub_key_cred_params: vec![CredentialParameters {
            kind: "public-key".into(),
            alg: -7,
        }],
        timeout: None,
        exclude_credentials: vec![],
        authenticator_selection: None,
        attestation: Some("none".into()),
    }
}

fn request(rp: &str) -> RequestOptions {
    RequestOptions {
        challenge: b64([5u8; 32]),
        rp_id: Some(rp.into()),
        timeout: None,
        allow_credentials: vec![],
        user_verification: Some("discouraged".into()),
    }
}

fn click() -> Consent {
    Consent {
        present: true,
        pin: Some(SecretString::from(PIN)),
    }
}

fn count_of(a: &Assertion) -> u32 {
    let auth = unb64(&a.0.response.authenticator_data).unwrap();
    u32::from_be_bytes(auth[33..37].try_into().unwrap())
}

#[test]
fn wrong_pins_at_once_each_spend_a_try() {
    let a = slow();
    a.pin().set(PIN).unwrap();
    let n = MAX_TRIES as usize;
    let start = Barrier::new(n);
    std::thread::scope(|s| {
        for _ in 0..n {
            s.spawn(|| {
                start.wait();
                assert!(a.pin().verify("000000").is_err());
            });
        }
    });
    assert_eq!(a.pin().state().unwrap().tries_left, 0);
    assert_eq!(a.pin().verify(PIN), Err(AuthenticatorError::PinBlocked));
}

#[test]
fn assertions_at_once_never_share_a_counter() {
    let a = slow();
    a.pin().set(PIN).unwrap();
    a.ceremony("embedded", click())
        .make_credential(&creation("localhost"))
        .unwrap();
    let start = Barrier::new(4);
    let mut counts: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let c = a.ceremony("embedded", click());
                    count_of(&c.get_assertion(&request("localhost")).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 3, 4]);
}

#[test]
fn a_used_up_counter_refuses_rather_than_wraps() {
    let mem = Arc::new(MemoryStore::new());
    let a = LocalAuthenticator::new(
        Arc::new(PlatformStore::over(mem.clone() as Arc<dyn SecretStore>)),
        "t",
    );
    a.pin().set(PIN).unwrap();
    a.ceremony("embedded", click())
        .make_credential(&creation("localhost"))
        .unwrap();
    a.keys
        .update(|k| {
            k.servers.get_mut("embedded").unwrap().credentials[0].sign_count = u32::MAX;
            Ok(())
        })
        .unwrap();
    let c = a.ceremony("embedded", click());
    assert!(c.get_assertion(&request("localhost")).is_err());
    assert_eq!(
        c.take_failure().map(|e| e.code().as_str()),
        Some("passkey_damaged")
    );
    let keys: serde_json::Value =
        serde_json::from_str(&mem.get(NS, Item::PasskeyKeys).unwrap().unwrap()).unwrap();
    assert_eq!(
        keys["servers"]["embedded"]["credentials"][0]["sign_count"],
        u32::MAX,
        "never stored lower"
    );
}

#[test]
fn an_rp_id_is_a_domain_and_an_origin_lies_under_it() {
    let mem = Arc::new(MemoryStore::new());
    let a = LocalAuthenticator::new(
        Arc::new(PlatformStore::over(mem as Arc<dyn SecretStore>)),
        "t",
    );
    let server = "url:https://auth.example.com";
    for ip in ["127.0.0.1", "10.0.0.1", "192.168.1.10"] {
        assert_eq!(
            a.set_server_rp(server, Some(ip), None).unwrap_err().code(),
            "invalid_input",
            "{ip}"
        );
    }
    for (rp, origin) in [
        ("example.com", "https://evilexample.com"),
        ("example.com", "https://example.com.evil.net"),
        ("example.com", "https://127.0.0.1"),
        ("example.com", "https://[::1]:8443"),
        ("app.example.com", "https://example.com"),
    ] {
        assert_eq!(
            a.set_server_rp(server, Some(rp), Some(origin))
                .unwrap_err()
                .code(),
            "invalid_input",
            "{rp} {origin}"
        );
    }
    a.set_server_rp(server, Some("example.com"), Some("https://example.com"))
        .unwrap();
    a.set_server_rp(
        server,
        Some("example.com"),
        Some("https://app.example.com:8443"),
    )
    .unwrap();

    // An origin set before any RP ID is known is checked when the server names its RP ID.
    let fresh = "url:https://auth.other.net";
    a.set_server_rp(fresh, None, Some("https://login.other.net"))
        .unwrap();
    a.pin().set(PIN).unwrap();
    let c = a.ceremony(fresh, click());
    assert!(c.make_credential(&creation("attacker.example")).is_err());
    assert_eq!(
        c.take_failure().map(|e| e.code().as_str()),
        Some("invalid_input")
    );
    assert_eq!(a.local_ids(fresh).unwrap().0.len(), 0, "no key was made");
    let c = a.ceremony(fresh, click());
    c.make_credential(&creation("other.net")).unwrap();
}
