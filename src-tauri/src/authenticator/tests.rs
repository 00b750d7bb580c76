//! The authenticator on its own: the PIN policy (hash only, tries, block, reset), the counter,
//! RP pinning, separate servers, and the real Secret Service.

use super::pin::{MAX_TRIES, PinState};
use super::*;
use prelude_passkey::{CredentialDescriptor, CredentialParameters, RpEntity, UserEntity};
use prelude_session::{Authenticator as _, Item, MemoryStore, StoreError};
use zeroize::Zeroizing;

const PIN: &str = "246810";

fn memory() -> (Arc<MemoryStore>, LocalAuthenticator) {
    let mem = Arc::new(MemoryStore::new());
    let a = LocalAuthenticator::new(
        Arc::new(PlatformStore::over(mem.clone() as Arc<dyn SecretStore>)),
        "t",
    );
    (mem, a)
}

fn creation(rp: &str, user: &[u8]) -> CreationOptions {
    CreationOptions {
        rp: RpEntity {
            id: Some(rp.into()),
            name: "Test".into(),
        },
        user: UserEntity {
            id: b64(user),
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

fn request(rp: &str, allow: &[String], uv: &str) -> RequestOptions {
    RequestOptions {
        challenge: b64([5u8; 32]),
        rp_id: Some(rp.into()),
        timeout: None,
        allow_credentials: allow
            .iter()
            .map(|id| CredentialDescriptor {
                id: id.clone(),
                kind: "public-key".into(),
                transports: None,
            })
            .collect(),
        user_verification: Some(uv.into()),
    }
}

fn click(pin: Option<&str>) -> Consent {
    Consent {
        present: true,
        pin: pin.map(SecretString::from),
    }
}

fn register(a: &LocalAuthenticator, server: &str, rp: &str, user: &[u8]) -> String {
    if !a.pin().state().unwrap().set {
        a.pin().set(PIN).unwrap();
    }
    let c = a.ceremony(server, click(Some(PIN)));
    let att = c.make_credential(&creation(rp, user)).expect("registered");
    att.0.id
}

/// The flags byte and counter of an assertion's authenticatorData.
fn flags_and_count(a: &Assertion) -> (u8, u32) {
    let auth = unb64(&a.0.response.authenticator_data).unwrap();
    (
        auth[32],
        u32::from_be_bytes(auth[33..37].try_into().unwrap()),
    )
}

#[test]
fn the_pin_is_kept_only_as_a_salted_hash() {
    let (mem, a) = memory();
    a.pin().set(PIN).unwrap();
    let stored = mem.get("t/passkeys", Item::PinHash).unwrap().unwrap();
    assert!(!stored.contains(PIN));
    let v: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert!(v["m"].as_u64().unwrap() >= 19_456, "OWASP minimum memory");
    assert!(v["t"].as_u64().unwrap() >= 2);
    // Another profile with the same PIN: another salt, another hash.
    let (mem2, b) = memory();
    b.pin().set(PIN).unwrap();
    let other: serde_json::Value =
        serde_json::from_str(&mem2.get("t/passkeys", Item::PinHash).unwrap().unwrap()).unwrap();
    assert_ne!(v["salt"], other["salt"]);
    assert_ne!(v["hash"], other["hash"]);
    assert_eq!(
        a.pin().set("135790"),
        Err(AuthenticatorError::PinAlreadySet)
    );
    assert_eq!(
        a.pin().state().unwrap(),
        PinState {
            set: true,
            tries_left: MAX_TRIES
        }
    );
}

#[test]
fn a_pin_is_six_to_thirty_two_digits() {
    let (_, a) = memory();
    for bad in [
        "12345",
        "abcdef",
        "12345a",
        " 123456",
        "١٢٣٤٥٦",
        &"1".repeat(33),
    ] {
        assert_eq!(
            a.pin().set(bad),
            Err(AuthenticatorError::PinPolicy),
            "{bad}"
        );
    }
    assert!(!a.pin().state().unwrap().set);
    a.pin().set("000000").unwrap();
}

#[test]
fn eight_wrong_pins_block_until_reset_and_a_right_one_refills() {
    let (_, a) = memory();
    let id = register(&a, "embedded", "localhost", b"usr_1");
    a.pin().verify("111111").unwrap_err();
    a.pin().verify(PIN).unwrap();
    assert_eq!(a.pin().state().unwrap().tries_left, MAX_TRIES, "refilled");
    for left in (1..MAX_TRIES).rev() {
        assert_eq!(
            a.pin().verify("111111"),
            Err(AuthenticatorError::WrongPin { tries_left: left })
        );
    }
    assert_eq!(
        a.pin().verify("111111"),
        Err(AuthenticatorError::PinBlocked)
    );
    // The right PIN no longer opens anything, and no passkey signs, even without UV.
    assert_eq!(a.pin().verify(PIN), Err(AuthenticatorError::PinBlocked));
    let c = a.ceremony("embedded", click(None));
    let r = c.get_assertion(&request(
        "localhost",
        std::slice::from_ref(&id),
        "discouraged",
    ));
    assert!(matches!(r, Err(SessionError::Cancelled)));
    assert_eq!(c.take_failure(), Some(AuthenticatorError::PinBlocked));
    // Reset: keys gone, their server entries remembered, a new PIN can be set.
    a.reset().unwrap();
    assert_eq!(a.local_ids("embedded").unwrap(), (vec![], vec![id]));
    assert!(!a.pin().state().unwrap().set);
    a.pin().set("135790").unwrap();
}

#[test]
fn the_old_pin_changes_it() {
    let (_, a) = memory();
    a.pin().set(PIN).unwrap();
    assert_eq!(
        a.pin().change("000000", "135790"),
        Err(AuthenticatorError::WrongPin { tries_left: 7 })
    );
    assert_eq!(
        a.pin().change(PIN, "123"),
        Err(AuthenticatorError::PinPolicy)
    );
    a.pin().change(PIN, "135790").unwrap();
    a.pin().verify("135790").unwrap();
    assert!(a.pin().verify(PIN).is_err());
}

/// A store whose writes of one item fail, the others going to memory.
struct FailingWrites {
    inner: MemoryStore,
    item: Item,
}

impl SecretStore for FailingWrites {
    fn get(&self, ns: &str, item: Item) -> Result<Option<Zeroizing<String>>, StoreError> {
        self.inner.get(ns, item)
    }
    fn set(&self, ns: &str, item: Item, value: &str) -> Result<(), StoreError> {
        if item == self.item {
            return Err(StoreError("write refused".into()));
        }
        self.inner.set(ns, item, value)
    }
    fn delete(&self, ns: &str, item: Item) -> Result<(), StoreError> {
        self.inner.delete(ns, item)
    }
}

#[test]
fn the_tries_counter_drops_before_the_pin_is_compared() {
    let (mem, a) = memory();
    a.pin().set(PIN).unwrap();
    // Same entries, but the counter can no longer be written: even the right PIN is not
    // compared, since its try could not be counted first.
    let inner = MemoryStore::new();
    for item in [Item::PinHash, Item::PinTries] {
        let v = mem.get("t/passkeys", item).unwrap().unwrap();
        inner.set("t/passkeys", item, &v).unwrap();
    }
    let vault = pin::PinVault::new(
        Arc::new(FailingWrites {
            inner,
            item: Item::PinTries,
        }),
        "t/passkeys",
    );
    assert!(matches!(
        vault.verify(PIN),
        Err(AuthenticatorError::Keyring(_))
    ));
}

#[test]
fn the_counter_is_stored_before_the_assertion_leaves() {
    let (mem, a) = memory();
    let id = register(&a, "embedded", "localhost", b"usr_1");
    let c = a.ceremony("embedded", click(Some(PIN)));
    let first = c
        .get_assertion(&request("localhost", &[], "required"))
        .unwrap();
    let second = c
        .get_assertion(&request("localhost", &[], "required"))
        .unwrap();
    assert_eq!(flags_and_count(&first), (FLAG_UP | FLAG_UV, 1));
    assert_eq!(flags_and_count(&second), (FLAG_UP | FLAG_UV, 2));
    let keys: serde_json::Value =
        serde_json::from_str(&mem.get("t/passkeys", Item::PasskeyKeys).unwrap().unwrap()).unwrap();
    let stored = &keys["servers"]["embedded"]["credentials"][0];
    assert_eq!(stored["id"], id.as_str());
    assert_eq!(stored["sign_count"], 2);

    // When the counter cannot be stored, nothing is signed.
    let inner = MemoryStore::new();
    for item in [Item::PinHash, Item::PinTries, Item::PasskeyKeys] {
        let v = mem.get("t/passkeys", item).unwrap().unwrap();
        inner.set("t/passkeys", item, &v).unwrap();
    }
    let stuck = LocalAuthenticator::new(
        Arc::new(PlatformStore::over(Arc::new(FailingWrites {
            inner,
            item: Item::PasskeyKeys,
        }))),
        "t",
    );
    let c = stuck.ceremony("embedded", click(Some(PIN)));
    assert!(
        c.get_assertion(&request("localhost", &[], "required"))
            .is_err()
    );
    assert!(matches!(
        c.take_failure(),
        Some(AuthenticatorError::Keyring(_))
    ));
}

#[test]
fn user_verification_only_after_a_right_pin_and_only_when_required() {
    let (_, a) = memory();
    register(&a, "embedded", "localhost", b"usr_1");
    let no_pin = a.ceremony("embedded", click(None));
    assert!(
        no_pin
            .get_assertion(&request("localhost", &[], "required"))
            .is_err()
    );
    assert_eq!(no_pin.take_failure(), Some(AuthenticatorError::PinRequired));
    let wrong = a.ceremony("embedded", click(Some("999999")));
    assert!(
        wrong
            .get_assertion(&request("localhost", &[], "required"))
            .is_err()
    );
    assert_eq!(
        wrong.take_failure(),
        Some(AuthenticatorError::WrongPin { tries_left: 7 })
    );
    // Not required: the PIN is not asked (nor checked, nor counted), UV stays 0.
    let relaxed = a.ceremony("embedded", click(Some("999999")));
    let r = relaxed
        .get_assertion(&request("localhost", &[], "preferred"))
        .unwrap();
    assert_eq!(flags_and_count(&r).0, FLAG_UP);
    assert_eq!(a.pin().state().unwrap().tries_left, 7);
    // No click, no assertion.
    let absent = a.ceremony(
        "embedded",
        Consent {
            present: false,
            pin: Some(PIN.into()),
        },
    );
    assert!(
        absent
            .get_assertion(&request("localhost", &[], "required"))
            .is_err()
    );
    assert_eq!(
        absent.take_failure(),
        Some(AuthenticatorError::NoUserPresence)
    );
}

/// The PIN typed at the lock stands as an assertion's user verification (once, chosen by the
/// lock), never as a registration's, and not past a blocked PIN.
#[test]
fn the_locks_uv_grant_verifies_an_assertion_only() {
    let (_, a) = memory();
    register(&a, "embedded", "localhost", b"usr_1");
    let required = request("localhost", &[], "required");
    let granted = a.ceremony("embedded", click(None)).with_uv_granted();
    let r = granted.get_assertion(&required).unwrap();
    assert_eq!(flags_and_count(&r).0, FLAG_UP | FLAG_UV);
    assert_eq!(a.pin().state().unwrap().tries_left, MAX_TRIES);
    let make = a.ceremony("embedded", click(None)).with_uv_granted();
    assert!(
        make.make_credential(&creation("localhost", b"usr_2"))
            .is_err()
    );
    assert_eq!(make.take_failure(), Some(AuthenticatorError::PinRequired));
    for _ in 0..MAX_TRIES {
        let _ = a.pin().verify("999999");
    }
    let blocked = a.ceremony("embedded", click(None)).with_uv_granted();
    assert!(blocked.get_assertion(&required).is_err());
    assert_eq!(blocked.take_failure(), Some(AuthenticatorError::PinBlocked));
}

#[test]
fn two_servers_keep_separate_credentials_and_rp_ids() {
    let (_, a) = memory();
    let one = register(&a, "url:https://one.example", "one.example", b"usr_1");
    let two = register(&a, "url:https://two.example", "two.example", b"usr_1");
    assert_ne!(one, two);
    assert_eq!(
        a.local_ids("url:https://one.example").unwrap().0,
        vec![one.clone()]
    );
    // Server one's options naming server two's credential: nothing here answers them.
    let c = a.ceremony("url:https://one.example", click(Some(PIN)));
    assert!(
        c.get_assertion(&request("one.example", &[two], "required"))
            .is_err()
    );
    assert_eq!(c.take_failure(), Some(AuthenticatorError::NoPasskeyHere));
    // Pinned at the first registration: another RP's options are refused.
    assert!(
        c.get_assertion(&request("two.example", &[], "required"))
            .is_err()
    );
    assert!(matches!(
        c.take_failure(),
        Some(AuthenticatorError::WrongRp { .. })
    ));
    let r = c
        .get_assertion(&request("one.example", &[one], "required"))
        .unwrap();
    let cd = unb64(&r.0.response.client_data_json).unwrap();
    let cd: serde_json::Value = serde_json::from_slice(&cd).unwrap();
    assert_eq!(cd["origin"], "https://one.example");
    // The built-in server is pinned to localhost before any registration.
    let e = a.ceremony("embedded", click(Some(PIN)));
    assert!(
        e.make_credential(&creation("evil.example", b"usr_1"))
            .is_err()
    );
    assert!(matches!(
        e.take_failure(),
        Some(AuthenticatorError::WrongRp { .. })
    ));
}

#[test]
fn settings_override_the_origin_and_rp_id() {
    let (_, a) = memory();
    let server = "url:https://auth.example";
    for bad in [
        "http://auth.example",
        "https://auth.example/x",
        "https://auth.example/",
        "auth.example",
        "https://user@auth.example",
        "https://Auth.example",
        "https://auth.example:443",
        "https://auth.example#x",
        "https://auth.example?x",
    ] {
        assert_eq!(
            a.set_server_rp(server, None, Some(bad)).unwrap_err().code(),
            "invalid_input",
            "{bad}"
        );
    }
    for bad in [
        "Auth.Example",
        "a..b",
        ".example",
        "example.",
        "ex ample",
        "ex:443",
        "-x",
        "",
    ] {
        assert!(a.set_server_rp(server, Some(bad), None).is_err(), "{bad}");
    }
    a.set_server_rp(server, Some("example"), Some("https://app.example:8443"))
        .unwrap();
    let id = register(&a, server, "example", b"usr_2");
    let c = a.ceremony(server, click(Some(PIN)));
    let r = c
        .get_assertion(&request("example", &[id], "required"))
        .unwrap();
    let cd: serde_json::Value =
        serde_json::from_slice(&unb64(&r.0.response.client_data_json).unwrap()).unwrap();
    assert_eq!(cd["origin"], "https://app.example:8443");
}

#[test]
fn one_credential_per_server_and_user_and_excluded_ones_are_refused() {
    let (_, a) = memory();
    let first = register(&a, "embedded", "localhost", b"usr_1");
    let mut again = creation("localhost", b"usr_1");
    again.exclude_credentials = vec![CredentialDescriptor {
        id: first.clone(),
        kind: "public-key".into(),
        transports: None,
    }];
    let c = a.ceremony("embedded", click(Some(PIN)));
    assert!(matches!(
        c.make_credential(&again),
        Err(SessionError::PasskeyAlreadyRegistered)
    ));
    // The server forgot it (not excluded): the new one replaces it here.
    let second = register(&a, "embedded", "localhost", b"usr_1");
    assert_eq!(a.local_ids("embedded").unwrap().0, vec![second]);
    let other_user = register(&a, "embedded", "localhost", b"usr_2");
    assert_eq!(a.local_ids("embedded").unwrap().0.len(), 2);
    a.forget("embedded", &other_user).unwrap();
    assert_eq!(a.local_ids("embedded").unwrap().0.len(), 1);
}

#[test]
fn no_passkey_is_made_on_the_in_memory_fallback() {
    struct Broken;
    impl SecretStore for Broken {
        fn get(&self, _: &str, _: Item) -> Result<Option<Zeroizing<String>>, StoreError> {
            Err(StoreError("no keyring".into()))
        }
        fn set(&self, _: &str, _: Item, _: &str) -> Result<(), StoreError> {
            Err(StoreError("no keyring".into()))
        }
        fn delete(&self, _: &str, _: Item) -> Result<(), StoreError> {
            Err(StoreError("no keyring".into()))
        }
    }
    let store = Arc::new(PlatformStore::over(Arc::new(Broken)));
    store.probe_or_fall_back("t").unwrap_err();
    let a = LocalAuthenticator::new(store, "t");
    a.pin().set(PIN).unwrap();
    let c = a.ceremony("embedded", click(Some(PIN)));
    assert!(c.make_credential(&creation("localhost", b"usr_1")).is_err());
    let e = c.take_failure().unwrap();
    assert_eq!(e.code(), "keyring_unavailable");
    assert!(a.local_ids("embedded").unwrap().0.is_empty());
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn the_key_lives_in_the_secret_service_and_in_no_file() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run the tests with scripts/test.sh"
    );
    let profile = format!("pk-{}", std::process::id());
    let ss = Arc::new(prelude_session::SecretServiceStore::new(
        "countersign-tests",
    ));
    ss.probe(&profile)
        .expect("a real, unlocked Secret Service (not the in-memory mock)");
    let a = LocalAuthenticator::new(Arc::new(PlatformStore::over(ss.clone())), &profile);
    let id = register(&a, "embedded", "localhost", b"usr_1");
    // A second handle on the Secret Service reads the key back.
    let again = LocalAuthenticator::new(
        Arc::new(PlatformStore::over(Arc::new(
            prelude_session::SecretServiceStore::new("countersign-tests"),
        ))),
        &profile,
    );
    assert_eq!(again.local_ids("embedded").unwrap().0, vec![id.clone()]);
    let keys = again.keys.load().unwrap();
    let secret = keys.servers["embedded"].credentials[0].secret.clone();
    let raw = unb64(&secret).unwrap();
    // No data folder holds the key, in base64url or raw.
    let mut files = Vec::new();
    for var in ["XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "HOME"] {
        if let Some(d) = std::env::var_os(var) {
            let d = std::path::PathBuf::from(d);
            // HOME: only the folders Countersign writes.
            if var == "HOME" {
                for sub in [".local/share/countersign", ".config/countersign"] {
                    files_under(&d.join(sub), &mut files);
                }
            } else {
                files_under(&d, &mut files);
            }
        }
    }
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw.as_slice())
                && !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the key is in {}",
            f.display()
        );
    }
    again.reset().unwrap();
    ss.delete(&format!("{profile}/passkeys"), Item::PasskeyKeys)
        .unwrap();
}

#[test]
fn the_right_pin_verifies_and_the_kdf_cost_is_printed() {
    let (_, a) = memory();
    a.pin().set(PIN).unwrap();
    // Printed, not asserted (docs/protocol.md, "The Countersign PIN"): 50–250 ms in release.
    let began = std::time::Instant::now();
    a.pin().verify(PIN).unwrap();
    eprintln!(
        "PIN check (Argon2id, {} KiB, {} passes): {} ms",
        pin::KDF_MEMORY_KIB,
        pin::KDF_PASSES,
        began.elapsed().as_millis()
    );
}
