//! Start with the session: one XDG autostart entry per profile
//! (`$XDG_CONFIG_HOME/autostart/countersign-PROFILE.desktop`, the Desktop Application Autostart
//! Specification), which runs the app's own binary (`countersign-app --background --profile
//! PROFILE`, started straight rather than through the `countersign` command). Written here rather
//! than by tauri-plugin-autostart, which writes one entry per app, named after it, with
//! arguments fixed when the plugin starts (docs/approval-protocol.md, "Start with the session").

use crate::error::{AppError, AppResult};
use std::path::{Path, PathBuf};

/// What Settings shows for `profile`: whether it starts with the session, and whether it
/// can (`tray`: the session has a StatusNotifier host).
pub fn view(profile: &str, tray: bool) -> crate::view::AutostartView {
    let on = dir().is_some_and(|d| is_enabled(&d, profile));
    let why = if !tray {
        Some("This session has no system tray (a StatusNotifier host), so Countersign cannot start in the background: it would have nowhere to wait.".to_owned())
    } else if dir().is_none() {
        Some("No folder for autostart entries: neither XDG_CONFIG_HOME nor HOME is set.".to_owned())
    } else {
        None
    };
    crate::view::AutostartView {
        on,
        available: why.is_none(),
        why,
    }
}

/// Settings' switch: writes or removes `profile`'s entry for this executable. Turning it off
/// always works; turning it on needs a tray.
///
/// # Errors
/// [`AppError::InvalidInput`] to turn it on without a tray or a folder; [`AppError::Settings`]
/// when the entry cannot be written or removed.
pub fn switch(profile: &str, on: bool, tray: bool) -> AppResult<crate::view::AutostartView> {
    let shown = view(profile, tray);
    let Some(dir) = dir() else {
        return if on {
            Err(AppError::InvalidInput(shown.why.unwrap_or_default()))
        } else {
            Ok(shown)
        };
    };
    let done = if on {
        if let Some(why) = shown.why {
            return Err(AppError::InvalidInput(why));
        }
        let exe = std::env::current_exe().map_err(|e| AppError::Settings(e.to_string()))?;
        enable(&dir, &exe, profile)
    } else {
        disable(&dir, profile)
    };
    done.map_err(|e| AppError::Settings(format!("the autostart entry: {e}")))?;
    Ok(view(profile, tray))
}

/// The key that marks an entry as ours, with the profile it starts.
const PROFILE_KEY: &str = "X-Countersign-Profile";

/// The autostart folder: `$XDG_CONFIG_HOME/autostart`, or `~/.config/autostart`; `None` with
/// neither an absolute `XDG_CONFIG_HOME` nor a `HOME`.
pub fn dir() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".config"))
        })?;
    Some(config.join("autostart"))
}

/// The entry of `profile` in `dir` (a checked profile name: letters, digits, - and _).
pub fn entry_path(dir: &Path, profile: &str) -> PathBuf {
    dir.join(format!("countersign-{profile}.desktop"))
}

/// `path` as one argument of an `Exec` line: quoted, with the characters the Desktop Entry
/// Specification reserves inside quotes escaped, then escaped again as a string value.
fn exec_arg(path: &Path) -> String {
    let mut quoted = String::from("\"");
    for c in path.to_string_lossy().chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    // The string-value level: a backslash is written twice; `%` starts a field code.
    quoted.replace('\\', "\\\\").replace('%', "%%")
}

/// The text of the entry that starts `exe` in the background for `profile`.
pub fn entry(exe: &Path, profile: &str) -> String {
    format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=Countersign ({profile})\n\
         Comment=Approve sensitive actions; started with the session for profile {profile}\n\
         Exec={} --background --profile {profile}\n\
         Icon=countersign\n\
         Terminal=false\n\
         NoDisplay=true\n\
         X-GNOME-Autostart-enabled=true\n\
         {PROFILE_KEY}={profile}\n",
        exec_arg(exe)
    )
}

/// Refuses what an entry cannot hold as one value: a profile name outside the checked set
/// (it is written unquoted, in `Name`, `Exec` and the file name), and an executable path that
/// is not UTF-8 (it would be written as another path) or holds a control character (a line
/// break would end the `Exec` line and start a key of the path's choosing).
fn check_entry(exe: &Path, profile: &str) -> std::io::Result<()> {
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
    crate::cli::check_profile(profile).map_err(|e| invalid(e.to_string()))?;
    match exe.to_str() {
        Some(p) if !p.chars().any(char::is_control) => Ok(()),
        _ => Err(invalid(format!(
            "the program's path {} cannot be written in an autostart entry (not UTF-8, or a control character)",
            exe.display()
        ))),
    }
}

/// Writes `profile`'s entry for `exe` (whole, through a new temporary file, mode 0644, and a
/// rename). The temporary file is made new under a random name, so a file or link already
/// there is never written through.
///
/// # Errors
/// `InvalidInput` for a profile or path an entry cannot hold; the folder cannot be made or the
/// file written.
pub fn enable(dir: &Path, exe: &Path, profile: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    check_entry(exe, profile)?;
    std::fs::create_dir_all(dir)?;
    let path = entry_path(dir, profile);
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(
        ".countersign-{profile}.{:016x}.tmp",
        u64::from_le_bytes(nonce)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
    let written = options.open(&tmp).and_then(|mut f| {
        // Readable by the session whatever the umask; writable only by its owner.
        #[cfg(unix)]
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        f.write_all(entry(exe, profile).as_bytes())?;
        f.sync_all()
    });
    let done = written.and_then(|()| std::fs::rename(&tmp, &path));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// Removes `profile`'s entry; none there is no error.
///
/// # Errors
/// The file exists and cannot be removed.
pub fn disable(dir: &Path, profile: &str) -> std::io::Result<()> {
    match std::fs::remove_file(entry_path(dir, profile)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether `profile` starts with the session.
pub fn is_enabled(dir: &Path, profile: &str) -> bool {
    entry_path(dir, profile).is_file()
}

/// The executable an entry's `Exec` line starts, unquoted.
fn exec_of(text: &str) -> Option<PathBuf> {
    let line = text.lines().find_map(|l| l.strip_prefix("Exec="))?;
    let unescaped = line.replace("%%", "%").replace("\\\\", "\\");
    let rest = unescaped.strip_prefix('"')?;
    let mut path = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => path.push(chars.next()?),
            '"' => return Some(PathBuf::from(path)),
            c => path.push(c),
        }
    }
    None
}

/// Removes our entries that can no longer start anything: the executable they name is gone
/// (a moved or removed build). Entries of others are left alone. Gives what it removed.
pub fn remove_stale(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut removed = vec![];
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("countersign-") && name.ends_with(".desktop")) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        if !text.lines().any(|l| l.starts_with(PROFILE_KEY)) {
            continue;
        }
        let alive = exec_of(&text).is_some_and(|exe| exe.is_file());
        if !alive && std::fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Self {
            let d =
                std::env::temp_dir().join(format!("cs-autostart-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Self(d)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn validate(path: &Path) {
        let out = std::process::Command::new("desktop-file-validate")
            .arg(path)
            .output()
            .expect("desktop-file-validate (Debian package desktop-file-utils) runs");
        assert!(
            out.status.success() && out.stdout.is_empty(),
            "{}: {}{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn the_switch_writes_a_valid_entry_per_profile_and_removes_it() {
        let t = Temp::new("switch");
        let dir = t.0.join("autostart");
        let exe = t.0.join("bin dir/count$er\"sign%x");
        std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
        std::fs::write(&exe, "").unwrap();
        enable(&dir, &exe, "work").unwrap();
        enable(&dir, &exe, "default").unwrap();
        let work = entry_path(&dir, "work");
        validate(&work);
        validate(&entry_path(&dir, "default"));
        let text = std::fs::read_to_string(&work).unwrap();
        assert!(text.contains(" --background --profile work\n"), "{text}");
        assert_eq!(exec_of(&text).as_deref(), Some(exe.as_path()), "{text}");
        assert!(is_enabled(&dir, "work"));
        disable(&dir, "work").unwrap();
        assert!(!is_enabled(&dir, "work"));
        assert!(is_enabled(&dir, "default"), "one entry per profile");
        disable(&dir, "work").unwrap();
    }

    #[test]
    fn an_entry_holds_no_line_a_profile_or_path_did_not_mean() {
        let t = Temp::new("inject");
        let dir = t.0.join("autostart");
        let exe = t.0.join("countersign");
        std::fs::write(&exe, "").unwrap();
        for profile in ["a\nExec=/bin/sh", "a b", "a%f", "a\"b", "a;b", "../x", ""] {
            let e = enable(&dir, &exe, profile).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{profile:?}");
        }
        for bad in [
            "count\nExec=/bin/sh\nX",
            "count\rersign",
            "count\u{85}er",
            "a\tb",
        ] {
            let e = enable(&dir, &t.0.join(bad), "work").unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            let latin1 = t.0.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
            assert!(enable(&dir, &latin1, "work").is_err(), "not UTF-8");
        }
        let left: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "nothing written: {left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn the_entry_is_written_through_no_link_and_readable_by_the_session() {
        use std::os::unix::fs::PermissionsExt as _;
        let t = Temp::new("link");
        let dir = t.0.join("autostart");
        std::fs::create_dir_all(&dir).unwrap();
        let exe = t.0.join("countersign");
        std::fs::write(&exe, "").unwrap();
        // Links where the entry and its former temporary file go, to a file not ours.
        let victim = t.0.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let path = entry_path(&dir, "work");
        for link in [path.with_extension("desktop.tmp"), path.clone()] {
            std::os::unix::fs::symlink(&victim, &link).unwrap();
        }
        enable(&dir, &exe, "work").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(
            meta.file_type().is_file(),
            "the link was replaced, not followed"
        );
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        validate(&path);
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp") && !n.starts_with("countersign-work.desktop"))
            .collect();
        assert!(names.is_empty(), "no temporary file left: {names:?}");
    }

    #[test]
    fn entries_whose_program_is_gone_are_removed_and_others_kept() {
        let t = Temp::new("stale");
        let dir = t.0.join("autostart");
        let exe = t.0.join("countersign");
        std::fs::write(&exe, "").unwrap();
        enable(&dir, &exe, "live").unwrap();
        enable(&dir, &t.0.join("gone/countersign"), "old").unwrap();
        // Someone else's entry, even with our prefix, is not ours to remove.
        std::fs::write(
            dir.join("countersign-notes.desktop"),
            "[Desktop Entry]\nType=Application\nName=x\nExec=/nonexistent\n",
        )
        .unwrap();
        assert_eq!(remove_stale(&dir), vec![entry_path(&dir, "old")]);
        assert!(is_enabled(&dir, "live"));
        assert!(dir.join("countersign-notes.desktop").is_file());
    }
}
