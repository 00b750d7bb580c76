//! Time per secret-store call against the real Secret Service: the keyring crate (a new D-Bus
//! connection and key exchange per call) beside our store that keeps one connection.
//! Needs a D-Bus session with an unlocked keyring, e.g.:
//! `dbus-run-session -- sh -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets;
//!  cargo bench -p prelude-session --bench keyring'`

use prelude_session::{Item, KeyringStore, SecretServiceStore, SecretStore};
use std::time::Instant;

const ROUNDS: u32 = 30;

fn per_call(store: &dyn SecretStore, ns: &str) -> (f64, f64, f64) {
    let (mut set, mut get, mut del) = (0.0, 0.0, 0.0);
    for i in 0..ROUNDS {
        let v = format!("value-{i}");
        let t = Instant::now();
        store.set(ns, Item::RefreshToken, &v).unwrap();
        set += t.elapsed().as_secs_f64();
        let t = Instant::now();
        assert_eq!(
            store.get(ns, Item::RefreshToken).unwrap().unwrap().as_str(),
            v
        );
        get += t.elapsed().as_secs_f64();
        let t = Instant::now();
        store.delete(ns, Item::RefreshToken).unwrap();
        del += t.elapsed().as_secs_f64();
    }
    let ms = |s: f64| s * 1e3 / f64::from(ROUNDS);
    (ms(set), ms(get), ms(del))
}

fn main() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        eprintln!("no D-Bus session; see the comment at the top of this file");
        return;
    }
    let ns = format!("bench-{}", std::process::id());
    let crate_store = KeyringStore::new("countersign-bench");
    let ours = SecretServiceStore::new("countersign-bench");
    // The first call opens our connection; leave it out, as a running app would.
    ours.probe(&ns).unwrap();
    for (name, store) in [
        (
            "keyring crate (connection per call)",
            &crate_store as &dyn SecretStore,
        ),
        ("one reused connection", &ours as &dyn SecretStore),
    ] {
        let (s, g, d) = per_call(store, &ns);
        println!(
            "{name:<38} set {s:>6.2} ms   get {g:>6.2} ms   delete {d:>6.2} ms   ({ROUNDS} rounds)"
        );
    }
}
