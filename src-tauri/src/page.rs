//! The page the window loads: `ui/` with its JavaScript modules joined into one script by
//! `build.rs` (esbuild), embedded in the binary through Tauri's context.

/// The app's context: `tauri.conf.json`, with the bundled page as its assets.
pub(crate) fn context() -> tauri::Context<tauri::Wry> {
    tauri::generate_context!()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_is_one_script_with_every_module_in_it() {
        let context = super::context();
        let assets = context.assets();
        let get = |name: &str| {
            assets
                .get(&name.into())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        };
        let script = get("app.js").expect("the script is embedded");
        // The sheets' modules are imported on first use: in the bundle they are the same file.
        for module in ["ipc.js", "messages.js", "settings.js", "bench.js"] {
            assert!(get(module).is_none(), "{module} is embedded on its own");
        }
        assert!(
            script.contains("function initSettings("),
            "the settings sheet"
        );
        assert!(script.contains("function initBench("), "the test bench");
        assert!(!script.contains("\nimport "), "a module import is left");
        let html = get("index.html").expect("the page is embedded");
        assert!(html.contains(r#"<script type="module" src="app.js"></script>"#));
        assert!(!html.contains("modulepreload"), "a module is preloaded");
        for sheet in ["styles.css", "prompt.css"] {
            assert!(get(sheet).is_some(), "{sheet}");
        }
    }
}
