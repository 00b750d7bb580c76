fn main() {
    // `countersign --version` names the commit it was built from.
    let commit = std::process::Command::new("git")
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
        "cancel_step_up",
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
