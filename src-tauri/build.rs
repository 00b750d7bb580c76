use std::path::{Path, PathBuf};
use std::{env, fs, process::Command};

fn main() {
    // `countersign --version` names the commit it was built from.
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown commit".to_owned());
    println!("cargo:rustc-env=COUNTERSIGN_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/heads");
    // Declaring the app's commands makes tauri-build generate one permission per command, so
    // the capability file can allow exactly these and nothing else.
    let manifest = tauri_build::AppManifest::new().commands(countersign_commands());
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri build step failed");
    let page = bundle_ui();
    embed_page(&page);
}

/// Builds the page the window loads into `$OUT_DIR/ui`: every file of `ui/` but its JavaScript
/// modules, which esbuild (installed by `npm ci`) joins into one `app.js`. One script file
/// draws the first screen about 13 ms sooner than 18 modules fetched in four waves (README,
/// "Benchmarks"). Nothing is lowered or minified: the bundle runs the sources' own code.
///
/// # Panics
/// When esbuild is not installed, or `ui/` cannot be read or bundled: the build stops with
/// the reason.
fn bundle_ui() -> PathBuf {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("the workspace root");
    let ui = root.join("ui");
    let lock = root.join("package-lock.json");
    println!("cargo:rerun-if-changed={}", ui.display());
    println!("cargo:rerun-if-changed={}", lock.display());
    let page = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("ui");
    if page.exists() {
        fs::remove_dir_all(&page).unwrap_or_else(|e| fail(&page, &e));
    }
    fs::create_dir_all(&page).unwrap_or_else(|e| fail(&page, &e));
    for entry in fs::read_dir(&ui).unwrap_or_else(|e| fail(&ui, &e)) {
        let path = entry.unwrap_or_else(|e| fail(&ui, &e)).path();
        assert!(
            !path.is_dir(),
            "{}: the page's files are copied one level deep",
            path.display()
        );
        if path.extension().is_none_or(|x| x != "js") {
            let name = path.file_name().expect("a file name");
            fs::copy(&path, page.join(name)).unwrap_or_else(|e| fail(&path, &e));
        }
    }
    let bin = if cfg!(windows) {
        "esbuild.cmd"
    } else {
        "esbuild"
    };
    let esbuild = root.join("node_modules").join(".bin").join(bin);
    if !esbuild.exists() {
        panic!(
            "{} is missing: the page's modules are bundled by esbuild. Run `npm ci` in {} \
             (scripts/run.sh and scripts/test.sh do it).",
            esbuild.display(),
            root.display()
        );
    }
    let out_file = page.join("app.js");
    let status = Command::new(&esbuild)
        .arg(ui.join("app.js"))
        .args([
            "--bundle",
            "--format=esm",
            "--target=esnext",
            "--charset=utf8",
        ])
        .args(["--log-level=warning"])
        .arg(format!("--outfile={}", out_file.display()))
        .status()
        .unwrap_or_else(|e| fail(&esbuild, &e));
    assert!(
        status.success(),
        "esbuild could not bundle {}: {status}",
        ui.display()
    );
    page
}

/// Points Tauri's embedded assets at `page`: `generate_context!` reads `TAURI_CONFIG` as a JSON
/// merge patch over `tauri.conf.json`, so one given by the caller (the Tauri CLI's `--config`)
/// is kept, with `build.frontendDist` set.
fn embed_page(page: &Path) {
    let mut patch: serde_json::Value = match env::var("TAURI_CONFIG") {
        Ok(given) => serde_json::from_str(&given).expect("TAURI_CONFIG is not JSON"),
        Err(_) => serde_json::Value::Null,
    };
    let dist = page.to_str().expect("OUT_DIR is not UTF-8");
    patch["build"]["frontendDist"] = serde_json::Value::from(dist);
    println!("cargo:rustc-env=TAURI_CONFIG={patch}");
}

fn fail(path: &Path, error: &std::io::Error) -> ! {
    panic!("{}: {error}", path.display())
}

fn countersign_commands() -> &'static [&'static str] {
    &[
        "app_state",
        "start_login",
        "resend_login_code",
        "verify_login_code",
        "change_identifier",
        "logout",
        "request_step_up",
        "resend_step_up_code",
        "verify_step_up_code",
        "finish_step_up",
        "list_sessions",
        "revoke_sessions",
        "list_identifiers",
        "add_identifier",
        "resend_identifier_code",
        "verify_identifier_code",
        "cancel_identifier",
        "demo_inbox",
        "set_scenario",
        "reset_demo",
        "set_theme",
        "server_settings",
        "set_emulator_key",
        "test_connection",
        "switch_server",
        "audit_log",
        "export_audit_log",
        "ui_ready",
        "check_identifier",
        "read_code",
        "complete_custom_step",
        "deny_step_up",
        "approve_request",
        "deny_request",
        "muted_programs",
        "unmute_programs",
        "pick_number",
        "number_matching",
        "set_number_matching",
        "autostart_state",
        "set_autostart",
        "bench_state",
        "set_faults",
        "move_clock",
        "export_scenario",
        "import_scenario",
        "list_passkeys",
        "add_passkey",
        "register_passkey",
        "cancel_passkey_setup",
        "rename_passkey",
        "delete_passkey",
        "approve_with_passkey",
        "login_with_passkey",
        "change_pin",
        "reset_pin",
        "passkey_settings",
        "set_passkey_server",
        "note_input",
        "lock_now",
        "unlock",
        "forgot_pin",
        "lock_setting",
        "set_lock_after",
    ]
}
