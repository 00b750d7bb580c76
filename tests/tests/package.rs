//! The Debian package, as installed: `scripts/test.sh` builds it with `scripts/package.sh` and
//! names it in `COUNTERSIGN_DEB`. It is unpacked into a temporary root; its files, its tools'
//! verdicts, and one real-window flow of the packaged binary on its embedded server are checked.
//! The page and its assets must be inside the binary: nothing is read from the source tree.

use countersign_e2e::{App, Sandbox};
use std::path::{Path, PathBuf};
use std::process::Command;

fn package() -> PathBuf {
    let deb = std::env::var_os("COUNTERSIGN_DEB")
        .map(PathBuf::from)
        .expect(
            "COUNTERSIGN_DEB names the package: scripts/test.sh builds it with scripts/package.sh",
        );
    assert!(deb.exists(), "{} is missing", deb.display());
    deb
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Unpacks into a root of its own per `name` (the tests run in parallel).
fn unpack(deb: &Path, name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("countersign-deb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root));
    root
}

#[test]
fn the_package_holds_what_a_desktop_needs_and_its_tools_agree() {
    let deb = package();
    let root = unpack(&deb, "files");
    for f in [
        "usr/bin/countersign",
        "usr/bin/countersign-app",
        "usr/bin/prelude-emulator",
        "usr/share/applications/Countersign.desktop",
        "usr/share/metainfo/dev.countersign.Countersign.metainfo.xml",
        "usr/share/doc/countersign/copyright",
        "usr/share/doc/countersign/changelog.gz",
        "usr/share/man/man1/countersign.1.gz",
        "usr/share/man/man1/prelude-emulator.1.gz",
    ] {
        assert!(root.join(f).is_file(), "{f} is not in the package");
    }
    for size in [16, 24, 32, 48, 64, 128, 256, 512] {
        let icon = format!("usr/share/icons/hicolor/{size}x{size}/apps/countersign.png");
        assert!(root.join(&icon).is_file(), "{icon} is not in the package");
    }
    let desktop =
        std::fs::read_to_string(root.join("usr/share/applications/Countersign.desktop")).unwrap();
    for line in [
        "Exec=countersign %u",
        "Icon=countersign",
        "Categories=Utility;",
        "StartupWMClass=Countersign",
        "MimeType=x-scheme-handler/countersign;",
    ] {
        assert!(
            desktop.lines().any(|l| l == line),
            "{line} missing:\n{desktop}"
        );
    }
    run(Command::new("desktop-file-validate")
        .arg(root.join("usr/share/applications/Countersign.desktop")));
    run(Command::new("appstreamcli")
        .args(["validate", "--no-net"])
        .arg(root.join("usr/share/metainfo/dev.countersign.Countersign.metainfo.xml")));

    // Starting with the session is the person's choice in Settings, never the package's.
    for autostart in ["etc/xdg/autostart", "usr/share/gnome/autostart"] {
        assert!(
            !root.join(autostart).exists(),
            "the package installs {autostart}"
        );
    }

    let depends = run(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .arg("Depends"));
    // The tray's library is loaded at run time, so no linker finds it: named by hand.
    for lib in [
        "libwebkit2gtk-4.1-0",
        "libgtk-3-0",
        "libc6",
        "libayatana-appindicator3-1",
    ] {
        assert!(depends.contains(lib), "Depends lacks {lib}: {depends}");
    }
    let lintian = run(Command::new("lintian")
        .args(["--fail-on", "error,warning", "--tag-display-limit", "0"])
        .arg(&deb));
    assert!(
        !lintian
            .lines()
            .any(|l| l.starts_with("E:") || l.starts_with("W:")),
        "{lintian}"
    );

    let version = run(Command::new(root.join("usr/bin/countersign")).arg("--version"));
    assert!(
        version.starts_with(&format!("countersign {} (", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    assert!(!version.contains("unknown commit"), "{version}");
    // The command answers `status` itself: no app runs for this profile.
    let sandbox = Sandbox::new("package_status");
    let status = Command::new(root.join("usr/bin/countersign"))
        .args(["status", "--json", "--profile", "package-status"])
        .env("XDG_RUNTIME_DIR", sandbox.runtime_dir())
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1), "{status:?}");
    assert_eq!(
        String::from_utf8_lossy(&status.stdout).trim(),
        r#"{"profile":"package-status","running":false}"#
    );
    let help = run(Command::new(root.join("usr/bin/prelude-emulator")).arg("--help"));
    assert!(
        help.contains("--scenario") && help.contains("--public-url"),
        "{help}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_packaged_app_approves_on_its_embedded_server() {
    let root = unpack(&package(), "run");
    let bin = root.join("usr/bin/countersign");
    let sandbox = Sandbox::new("package");
    // Run from elsewhere, so nothing can come from the source tree.
    std::env::set_current_dir(std::env::temp_dir()).unwrap();
    let app = App::launch_binary("package", &sandbox, None, &[], &bin).await;
    app.run(move |app| async move {
        app.approve_on_demo("+33612345678").await?;
        app.shot("granted").await;
        Ok(())
    })
    .await;
    let _ = std::fs::remove_dir_all(root);
}
