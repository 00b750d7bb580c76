//! Closes Countersign's window on the X display in `DISPLAY` as a window manager does, for
//! the memory bench (scripts/bench_tray_memory.py), and waits until it is gone (exit status 1
//! if it does not go).

#[cfg(target_os = "linux")]
fn main() {
    let display = std::env::var("DISPLAY").unwrap_or_default();
    if !countersign_e2e::tray::close(&display) {
        eprintln!("close-window: the window did not close");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("close-window: Linux only");
}
