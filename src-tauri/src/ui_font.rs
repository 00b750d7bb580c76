//! The desktop's interface font, named to the page before it draws.
//!
//! The style sheet's font is `var(--font-ui, sans-serif)`. CSS's `system-ui` would name the
//! desktop's font too, but WebKitGTK resolves it through a second fontconfig search for every
//! size and weight on screen, which cost the first frame 10 to 16 ms on a 2-core machine
//! (README, "Benchmarks"). So the app reads GTK's `gtk-font-name` once, on the main thread, and
//! the window's first script sets `--font-ui` to that family by name.

use std::sync::OnceLock;

/// The family in use, resolved once by [`resolve`]; `None`: the style sheet's `sans-serif`.
static FAMILY: OnceLock<Option<String>> = OnceLock::new();

/// Reads the desktop's interface font family. Call on the main thread, after GTK is up.
pub fn resolve() {
    FAMILY.get_or_init(desktop_family);
}

#[cfg(target_os = "linux")]
fn desktop_family() -> Option<String> {
    use gtk::prelude::*;
    let name = gtk::Settings::default()?.gtk_font_name()?;
    family_of(&name)
}

#[cfg(not(target_os = "linux"))]
fn desktop_family() -> Option<String> {
    // WebView2 and WKWebView resolve `system-ui` themselves.
    Some("system-ui".to_owned())
}

/// The family of a Pango font name ("Cantarell 11", "Noto Sans Bold 10"), when it is a real
/// family: generic names ("Sans") are left to `sans-serif`, and only plain names (letters,
/// digits, spaces, `-`, `_`, at most 64) are passed on, as the name goes into CSS.
#[cfg(target_os = "linux")]
fn family_of(font_name: &str) -> Option<String> {
    let family = gtk::pango::FontDescription::from_string(font_name).family()?;
    // A list ("Noto Sans, Sans"): the first is the desktop's choice.
    let family = family.split(',').next()?.trim().to_owned();
    let plain = !family.is_empty()
        && family.len() <= 64
        && family
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_'));
    let generic = [
        "sans",
        "sans serif",
        "sans-serif",
        "serif",
        "monospace",
        "system-ui",
    ]
    .contains(&family.to_ascii_lowercase().as_str());
    (plain && !generic).then_some(family)
}

/// The script that names the family to the page (an adopted style sheet: the document has
/// no element yet when it runs); empty when there is none to name.
pub fn page_script() -> String {
    match FAMILY.get().cloned().flatten() {
        Some(family) => script_for(&family),
        None => String::new(),
    }
}

fn script_for(family: &str) -> String {
    let value = if family == "system-ui" {
        "system-ui, sans-serif".to_owned()
    } else {
        format!("\"{family}\", sans-serif")
    };
    let css = serde_json::Value::String(format!(":root {{ --font-ui: {value}; }}"));
    format!(
        "try {{ const s = new CSSStyleSheet(); s.replaceSync({css}); document.adoptedStyleSheets = [...document.adoptedStyleSheets, s]; }} catch (_) {{}}"
    )
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_family_is_taken_from_the_font_name_and_only_a_plain_real_one() {
        assert_eq!(family_of("Cantarell 11").as_deref(), Some("Cantarell"));
        assert_eq!(family_of("Noto Sans Bold 10").as_deref(), Some("Noto Sans"));
        assert_eq!(
            family_of("Adwaita Sans, 11").as_deref(),
            Some("Adwaita Sans")
        );
        assert_eq!(
            family_of("Noto Sans,DejaVu Sans 10").as_deref(),
            Some("Noto Sans")
        );
        // Generic names stay with the style sheet's `sans-serif`.
        assert_eq!(family_of("Sans 10"), None);
        assert_eq!(family_of("Sans Serif 10"), None);
        assert_eq!(family_of("Monospace 10"), None);
        // Nothing that could end the CSS string or the rule.
        assert_eq!(family_of("Evil\" } body { color: red 10"), None);
        assert_eq!(family_of("Evil\\22 10"), None);
        assert_eq!(family_of(&format!("{} 10", "A".repeat(65))), None);
        assert_eq!(family_of(""), None);
    }

    #[test]
    fn the_script_sets_one_custom_property_with_a_fallback() {
        let s = script_for("Cantarell");
        assert!(
            s.contains(r#"s.replaceSync(":root { --font-ui: \"Cantarell\", sans-serif; }")"#),
            "{s}"
        );
        assert!(s.starts_with("try {") && s.ends_with("catch (_) {}"), "{s}");
        assert!(script_for("system-ui").contains("--font-ui: system-ui, sans-serif;"));
    }
}
