//! The `countersign` command in front of the app: it answers `approve` and `status` with no
//! GUI library loaded, and becomes `countersign-app` for anything else.

use std::process::Command;

const COMMAND: &str = env!("CARGO_BIN_EXE_countersign");
const APP: &str = env!("CARGO_BIN_EXE_countersign-app");

/// The shared libraries a binary asks the loader for (its `DT_NEEDED` entries), as ldd(1)
/// resolves them.
fn needed(bin: &str) -> String {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .expect("ldd (libc-bin)");
    assert!(out.status.success(), "ldd {bin}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_command_loads_no_gui_library_and_the_app_does() {
    let command = needed(COMMAND);
    for gui in [
        "libgtk-3",
        "libwebkit2gtk",
        "libgdk-3",
        "libglib-2.0",
        "libdbus-1",
    ] {
        assert!(
            !command.contains(gui),
            "countersign loads {gui}:\n{command}"
        );
    }
    // The same check would pass on a binary ldd cannot read: the app's side shows it can.
    let app = needed(APP);
    assert!(app.contains("libwebkit2gtk"), "{app}");
}

#[test]
fn anything_but_approve_and_status_is_the_app_in_the_same_process() {
    // `--version` is the app's (its commit), printed by the app that the command became.
    let through = Command::new(COMMAND).arg("--version").output().unwrap();
    let direct = Command::new(APP).arg("--version").output().unwrap();
    assert!(through.status.success(), "{through:?}");
    assert_eq!(through.stdout, direct.stdout);
    assert!(
        String::from_utf8_lossy(&through.stdout).starts_with("countersign "),
        "{through:?}"
    );
    // An unknown flag is the app's usage error, named, with exit status 2.
    let bad = Command::new(COMMAND)
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
    // Named as the command people run, not the binary it runs.
    assert!(err.contains("Usage: countersign [OPTIONS]"), "{err}");
    for (sub, usage) in [
        ("approve", "Usage: countersign approve "),
        ("status", "Usage: countersign status "),
    ] {
        let help = Command::new(COMMAND)
            .args([sub, "--help"])
            .output()
            .unwrap();
        assert!(help.status.success(), "{help:?}");
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(text.contains(usage), "{text}");
    }
}

#[test]
fn without_the_app_beside_it_the_command_says_so_with_status_127() {
    let dir = std::env::temp_dir().join(format!("countersign-alone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let alone = dir.join("countersign");
    std::fs::copy(COMMAND, &alone).unwrap();
    let out = Command::new(&alone).arg("--version").output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("countersign: cannot run ") && err.contains("countersign-app"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
