//! A minimal StatusNotifier host on the session bus, for the benches: Countersign finds a
//! tray while it runs. Prints "ready" once the watcher's name is owned; runs until killed.

#[cfg(target_os = "linux")]
fn main() {
    let _host = countersign_e2e::tray::TrayHost::start();
    println!("ready");
    loop {
        std::thread::park();
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("tray-host: Linux only");
}
