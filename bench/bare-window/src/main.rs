//! The smallest Tauri window that tells when its page is up: the baseline Countersign's startup
//! time and memory are compared with.

use std::time::Instant;

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

#[tauri::command]
fn ready() {
    let ms = START.get().map_or(0, |s| s.elapsed().as_millis());
    eprintln!("ui ready after {ms} ms");
}

fn main() {
    START.get_or_init(Instant::now);
    if let Err(e) = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ready])
        .run(tauri::generate_context!())
    {
        eprintln!("bare-window: {e}");
        std::process::exit(1);
    }
}
