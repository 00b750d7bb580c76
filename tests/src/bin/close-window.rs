//! Closes Countersign's window on the X display in `DISPLAY` as a window manager does, for
//! the memory bench (scripts/bench_tray_memory.py): a click in the window first, since GTK
//! drops a delete request while the tray menu's grab holds.

#[cfg(target_os = "linux")]
fn main() {
    let display = std::env::var("DISPLAY").unwrap_or_default();
    countersign_e2e::tray::click_in(&display);
    std::thread::sleep(std::time::Duration::from_millis(300));
    countersign_e2e::tray::close_window(&display);
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("close-window: Linux only");
}
