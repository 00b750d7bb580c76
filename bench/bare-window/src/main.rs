//! The smallest Tauri window that tells when its page is up: the baseline Countersign's startup
//! time and memory are compared with.

use std::time::Instant;

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// The page's marks are milliseconds since its navigation started, and its start in
/// milliseconds since the Unix epoch, as Countersign logs them.
#[tauri::command]
fn ready(script_at: Option<u32>, paint_at: Option<u32>, navigation_start: Option<f64>) {
    let ms = START.get().map_or(0, |s| s.elapsed().as_millis());
    let origin = navigation_start
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(|t| format!(" page_origin_ms={t:.1}"))
        .unwrap_or_default();
    match (script_at, paint_at) {
        (Some(s), Some(p)) => {
            eprintln!(
                "ui ready after {ms} ms page_script_ms={s} page_view_ms={s} page_paint_ms={p}{origin}"
            )
        }
        _ => eprintln!("ui ready after {ms} ms"),
    }
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
