//! The tray icon, a StatusNotifierItem on Linux through Tauri's tray support: a menu to open
//! the window, the number of waiting requests and Quit, and an icon that gains a mark while
//! requests wait. Created only where a tray host exists (tray.rs) and its library loads.

use crate::AppState;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

/// The tray item's id (the StatusNotifierItem's `Id` carries it).
const ID: &str = "countersign";
/// The name the tray shows for the item: its `Title`, which the indicator library takes from
/// GLib's application name.
pub const TITLE: &str = "Countersign";

/// One menu entry, top to bottom in [`ENTRIES`].
enum Entry {
    /// A clickable entry: its id, its label, and what it does.
    Action(&'static str, &'static str, fn(&AppHandle)),
    /// The number of waiting requests, not clickable.
    Waiting,
}

/// The menu. Adding an entry is one line here.
const ENTRIES: &[Entry] = &[
    Entry::Action("open", "Open Countersign", crate::window_life::show),
    Entry::Waiting,
    Entry::Action("lock", "Lock now", crate::lock::lock_now),
    Entry::Action("quit", "Quit", crate::window_life::quit),
];

/// The tray, kept in the app's state while it exists.
struct Tray {
    icon: TrayIcon,
    waiting: MenuItem<Wry>,
    plain: Image<'static>,
    marked: Image<'static>,
    /// Whether the marked icon is the one shown (the tray starts plain).
    marked_shown: std::sync::atomic::AtomicBool,
}

/// Whether the tray was tried, and with what result: it is tried once.
static TRIED: std::sync::Mutex<Option<bool>> = std::sync::Mutex::new(None);

/// Creates the tray where this session has a host for it, once (later calls return the
/// first one's answer): at start, after the first frame, or when the window closes before
/// that, so that an early close keeps the app in the tray all the same. Main thread.
///
/// # Errors
/// Tauri could not build the menu or the tray item; the next call tries again.
pub fn install_once(app: &AppHandle) -> tauri::Result<bool> {
    let mut tried = TRIED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(done) = *tried {
        return Ok(done);
    }
    let done = install(app)?;
    *tried = Some(done);
    Ok(done)
}

/// Creates the tray where this session has a host for it; says why not otherwise.
///
/// # Errors
/// Tauri could not build the menu or the tray item.
fn install(app: &AppHandle) -> tauri::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        if !crate::tray::host_present() {
            tracing::info!("no system tray in this session: closing the window quits Countersign");
            return Ok(false);
        }
        if !library_loads() {
            tracing::warn!(
                "the tray library (libayatana-appindicator3) is not installed: no tray icon, and closing the window quits Countersign"
            );
            return Ok(false);
        }
        glib::set_application_name(TITLE);
    }
    let waiting = MenuItem::with_id(app, "waiting", waiting_label(0), false, None::<&str>)?;
    let menu = Menu::new(app)?;
    for entry in ENTRIES {
        match entry {
            Entry::Action(id, label, _) => {
                menu.append(&MenuItem::with_id(app, *id, *label, true, None::<&str>)?)?
            }
            Entry::Waiting => menu.append(&waiting)?,
        }
    }
    let plain = tauri::include_image!("../icons/hicolor/64x64.png");
    let marked = marked(&plain);
    let icon = TrayIconBuilder::with_id(ID)
        .icon(plain.clone())
        .menu(&menu)
        .on_menu_event(|app, event| {
            for entry in ENTRIES {
                if let Entry::Action(id, _, run) = entry
                    && event.id() == *id
                {
                    run(app);
                }
            }
        })
        .build(app)?;
    app.manage(Tray {
        icon,
        waiting,
        plain,
        marked,
        marked_shown: std::sync::atomic::AtomicBool::new(false),
    });
    app.manage(crate::window_life::InTray);
    follow_queue(app.clone());
    Ok(true)
}

/// Keeps the count and the icon in step with the queue once the backend is up.
fn follow_queue(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let Ok(backend) = state.backend_while_locked().await else {
            return;
        };
        let mut count = backend.lock().await.watch_requests();
        loop {
            let n = *count.borrow_and_update();
            if let Some(tray) = app.try_state::<Tray>() {
                tray.show(n);
            }
            if count.changed().await.is_err() {
                return;
            }
        }
    });
}

impl Tray {
    fn show(&self, waiting: usize) {
        let _ = self.waiting.set_text(waiting_label(waiting));
        let mark = waiting > 0;
        // A new image is a new file for the panel to load, which blinks: only on a change.
        if self
            .marked_shown
            .swap(mark, std::sync::atomic::Ordering::Relaxed)
            == mark
        {
            return;
        }
        let icon = if mark { &self.marked } else { &self.plain };
        if let Err(e) = self.icon.set_icon(Some(icon.clone())) {
            // Still the other image: the next change of the count tries again.
            self.marked_shown
                .store(!mark, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(error = %e, "the tray icon could not be changed");
        }
    }
}

/// The menu's words for `n` waiting requests.
fn waiting_label(n: usize) -> String {
    match n {
        0 => "No requests waiting".to_owned(),
        1 => "1 request waiting".to_owned(),
        n => format!("{n} requests waiting"),
    }
}

/// The icon with a filled dot in its lower right quarter, ringed in white so that it reads on
/// dark and light panels alike.
fn marked(plain: &Image<'_>) -> Image<'static> {
    let (w, h) = (plain.width(), plain.height());
    let mut rgba = plain.rgba().to_vec();
    let r = w.min(h) as f32 * 0.22;
    let (cx, cy) = (w as f32 - r - 1.0, h as f32 - r - 1.0);
    for y in 0..h {
        for x in 0..w {
            let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
            let px = match d {
                d if d <= r * 0.72 => [0xd9, 0x48, 0x0f, 0xff],
                d if d <= r => [0xff, 0xff, 0xff, 0xff],
                _ => continue,
            };
            let i = ((y * w + x) * 4) as usize;
            rgba[i..i + 4].copy_from_slice(&px);
        }
    }
    Image::new_owned(rgba, w, h)
}

/// Whether the tray library loads: its loader panics when it is missing, so the first load
/// happens on a thread of its own, and a failed load leaves the app without a tray instead
/// of ending it.
#[cfg(target_os = "linux")]
fn library_loads() -> bool {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let loaded = std::thread::spawn(|| {
        let _ = &*libappindicator_sys::LIB;
    })
    .join()
    .is_ok();
    std::panic::set_hook(hook);
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_reads_as_words() {
        assert_eq!(waiting_label(0), "No requests waiting");
        assert_eq!(waiting_label(1), "1 request waiting");
        assert_eq!(waiting_label(3), "3 requests waiting");
    }

    #[test]
    fn the_mark_covers_the_lower_right_only() {
        let plain = Image::new_owned(vec![0; 64 * 64 * 4], 64, 64);
        let m = marked(&plain);
        let px = |x: u32, y: u32| {
            let i = ((y * 64 + x) * 4) as usize;
            m.rgba()[i..i + 4].to_vec()
        };
        assert_eq!(px(49, 49), vec![0xd9, 0x48, 0x0f, 0xff], "the dot");
        assert_eq!(px(5, 5), vec![0, 0, 0, 0], "the rest is the icon");
    }
}
