//! The real Secret Service (run by scripts/test.sh in a private D-Bus session with an
//! unlocked gnome-keyring): a session survives dropping the client.

mod common;

use common::*;
use prelude_session::{ClientConfig, Endpoint, KeyringStore, SecretStore, SessionClient};
use std::sync::Arc;

fn keyring_client(emu: &prelude_emulator::Emulator, profile: &str) -> SessionClient {
    let mut cfg = ClientConfig::new(Endpoint::url(&emu.url()).unwrap());
    cfg.profile = profile.into();
    SessionClient::new(cfg, Arc::new(KeyringStore::new("countersign-tests"))).unwrap()
}

#[tokio::test]
async fn a_session_survives_a_new_client_through_the_keyring() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run the tests with scripts/test.sh"
    );
    let store = KeyringStore::new("countersign-tests");
    let profile = format!("kr-{}", std::process::id());
    store
        .probe(&profile)
        .expect("a real, unlocked Secret Service (not the in-memory mock)");

    let emu = emulator().await;
    let first = keyring_client(&emu, &profile);
    let user = login(&emu, &first, PHONE).await;
    drop(first);

    let second = keyring_client(&emu, &profile);
    assert!(second.has_stored_session().unwrap());
    let resumed = second
        .refresh()
        .await
        .expect("the stored key and token resume the session");
    assert_eq!(resumed.profile.session_id, user.profile.session_id);

    // Another profile sees nothing of it.
    let stranger = keyring_client(&emu, &format!("{profile}-other"));
    assert!(!stranger.has_stored_session().unwrap());

    second.logout().await.unwrap();
    let ns = format!(
        "{profile}/{}",
        Endpoint::url(&emu.url()).unwrap().host_key()
    );
    for item in [
        prelude_session::Item::RefreshToken,
        prelude_session::Item::DpopKey,
    ] {
        assert!(
            store.get(&ns, item).unwrap().is_none(),
            "{item:?} left after logout"
        );
    }
}

#[test]
fn one_connection_store_reads_what_the_keyring_crate_wrote_and_back() {
    use prelude_session::{Item, SecretServiceStore};
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run the tests with scripts/test.sh"
    );
    let ns = format!("ss-{}", std::process::id());
    let ours = SecretServiceStore::new("countersign-tests");
    ours.probe(&ns).expect("a real, unlocked Secret Service");
    ours.set(&ns, Item::RefreshToken, "rt-one").unwrap();
    // A new store (a new connection) and the keyring crate both see it.
    let again = SecretServiceStore::new("countersign-tests");
    assert_eq!(
        again
            .get(&ns, Item::RefreshToken)
            .unwrap()
            .unwrap()
            .as_str(),
        "rt-one"
    );
    let theirs = KeyringStore::new("countersign-tests");
    assert_eq!(
        theirs
            .get(&ns, Item::RefreshToken)
            .unwrap()
            .unwrap()
            .as_str(),
        "rt-one"
    );
    theirs.set(&ns, Item::RefreshToken, "rt-two").unwrap();
    assert_eq!(
        ours.get(&ns, Item::RefreshToken).unwrap().unwrap().as_str(),
        "rt-two",
        "an update replaces the item, it does not add one"
    );
    ours.delete(&ns, Item::RefreshToken).unwrap();
    assert!(theirs.get(&ns, Item::RefreshToken).unwrap().is_none());
    assert!(ours.get(&ns, Item::RefreshToken).unwrap().is_none());
    // Another service name is another place.
    ours.set(&ns, Item::DpopKey, "k").unwrap();
    assert!(
        SecretServiceStore::new("countersign-tests-other")
            .get(&ns, Item::DpopKey)
            .unwrap()
            .is_none()
    );
    ours.delete(&ns, Item::DpopKey).unwrap();
}
