//! The move from the folders of the old bundle identifier (`dev.countersign.app`, which ends in
//! `.app` and clashes with macOS bundle names) to the current one's, once, at the first start
//! that holds the profile's lock. The keyring needs no move: its service (`countersign`) and
//! accounts never named the identifier.

use std::path::Path;

/// The bundle identifier before 0.2, whose folders are moved.
pub const OLD_IDENTIFIER: &str = "dev.countersign.app";

/// What a start moved, for the log.
#[derive(Debug, PartialEq, Eq)]
pub enum Moved {
    /// No old folder: nothing to do.
    Nothing,
    /// The whole old folder became the new one.
    Folder,
    /// The new folder existed: these files came over, and these stayed (the new folder
    /// had its own of that name).
    Files {
        moved: Vec<String>,
        kept: Vec<String>,
    },
}

/// Whether `name` is a file the app keeps per profile: settings, the audit log, the embedded
/// server's state.
fn ours(name: &str) -> bool {
    (name.starts_with("settings") && name.ends_with(".json"))
        || (name.starts_with("approvals-") && name.ends_with(".jsonl"))
        || (name.starts_with("emulator-") && name.ends_with(".json"))
}

/// Moves what the old identifier's folder beside `new_dir` holds into `new_dir`: the whole
/// folder by one rename when `new_dir` does not exist yet, else the settings, audit logs and
/// emulator state files that `new_dir` lacks (regular files only). Another start of another
/// profile may be doing the same: whatever it moved first is simply not found here. Nothing
/// is ever replaced, and nothing moves into a `new_dir` that is a symbolic link.
///
/// # Errors
/// `InvalidInput` when `new_dir` is a symbolic link; I/O errors other than "not found" (the
/// old folder cannot be read, a rename fails).
pub fn move_old_data(new_dir: &Path) -> std::io::Result<Moved> {
    let Some(old) = new_dir.parent().map(|p| p.join(OLD_IDENTIFIER)) else {
        return Ok(Moved::Nothing);
    };
    if old == new_dir {
        return Ok(Moved::Nothing);
    }
    match std::fs::symlink_metadata(&old) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Ok(Moved::Nothing),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Moved::Nothing),
        Err(e) => return Err(e),
    }
    match std::fs::symlink_metadata(new_dir) {
        // Moving into it would follow the link out, wherever it points.
        Ok(m) if m.file_type().is_symlink() => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link: nothing moved into it",
                    new_dir.display()
                ),
            ));
        }
        Ok(_) => {}
        Err(_) => match rename_new(&old, new_dir) {
            Ok(()) => return Ok(Moved::Folder),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Moved::Nothing),
            // Another start made the new folder meanwhile: file by file below.
            Err(_) if std::fs::symlink_metadata(new_dir).is_ok_and(|m| m.is_dir()) => {}
            Err(e) => return Err(e),
        },
    }
    std::fs::create_dir_all(new_dir)?;
    let (mut moved, mut kept) = (vec![], vec![]);
    for entry in std::fs::read_dir(&old)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !ours(&name) || !entry.file_type()?.is_file() {
            continue;
        }
        let to = new_dir.join(&name);
        if std::fs::symlink_metadata(&to).is_ok() {
            kept.push(name);
            continue;
        }
        // A link then an unlink, never a rename: a file made at `to` since the check above
        // makes the link fail rather than be replaced.
        match std::fs::hard_link(entry.path(), &to) {
            Ok(()) => {
                std::fs::remove_file(entry.path())?;
                moved.push(name);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => kept.push(name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // A file system without hard links: the check above is all there is.
            Err(_) => match std::fs::rename(entry.path(), &to) {
                Ok(()) => moved.push(name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            },
        }
    }
    moved.sort();
    kept.sort();
    // Gone once empty; what is left (logs, a file the new folder had too) stays in place.
    let _ = std::fs::remove_dir(&old);
    Ok(Moved::Files { moved, kept })
}

/// Renames `from` to `to`, which must not exist: where the kernel can say so
/// (`RENAME_NOREPLACE`), an existing `to` fails the call rather than being replaced (an empty
/// folder made meanwhile would be).
fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::fcntl::{RenameFlags, renameat2};
        match renameat2(None, from, None, to, RenameFlags::RENAME_NOREPLACE) {
            // A file system without the flag: the check before the call is all there is.
            Err(nix::errno::Errno::EINVAL) => {}
            done => return done.map_err(std::io::Error::from),
        }
    }
    std::fs::rename(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Temp(std::path::PathBuf);

    impl Temp {
        fn new(name: &str) -> Self {
            let d = std::env::temp_dir().join(format!("cs-migrate-{name}-{}", std::process::id()));
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

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn the_old_folder_becomes_the_new_one() {
        let t = Temp::new("whole");
        let old = t.0.join(OLD_IDENTIFIER);
        let new = t.0.join("dev.countersign.Countersign");
        write(&old.join("settings.json"), r#"{"theme":"dark"}"#);
        write(&old.join("approvals-default.jsonl"), "{}\n");
        write(&old.join("logs/countersign.log"), "x");
        assert_eq!(move_old_data(&new).unwrap(), Moved::Folder);
        assert!(!old.exists());
        assert_eq!(
            std::fs::read_to_string(new.join("settings.json")).unwrap(),
            r#"{"theme":"dark"}"#
        );
        assert!(new.join("approvals-default.jsonl").is_file());
        assert!(new.join("logs/countersign.log").is_file());
        // Once moved, a later start finds nothing to do.
        assert_eq!(move_old_data(&new).unwrap(), Moved::Nothing);
    }

    #[test]
    fn into_an_existing_folder_only_what_it_lacks_comes_over() {
        let t = Temp::new("merge");
        let old = t.0.join(OLD_IDENTIFIER);
        let new = t.0.join("dev.countersign.Countersign");
        write(&old.join("settings-work.json"), "old work");
        write(&old.join("emulator-work.json"), "old state");
        write(&old.join("approvals-work.jsonl"), "old log");
        write(&old.join("settings.json"), "old default");
        write(&old.join("notes.txt"), "not ours");
        write(&new.join("settings.json"), "new default");
        let moved = move_old_data(&new).unwrap();
        assert_eq!(
            moved,
            Moved::Files {
                moved: vec![
                    "approvals-work.jsonl".into(),
                    "emulator-work.json".into(),
                    "settings-work.json".into()
                ],
                kept: vec!["settings.json".into()],
            }
        );
        assert_eq!(
            std::fs::read_to_string(new.join("settings.json")).unwrap(),
            "new default",
            "the new folder's own file wins"
        );
        assert_eq!(
            std::fs::read_to_string(new.join("emulator-work.json")).unwrap(),
            "old state"
        );
        assert!(old.join("notes.txt").is_file(), "what is not ours stays");
        assert!(old.join("settings.json").is_file(), "a clash loses nothing");
    }

    #[cfg(unix)]
    #[test]
    fn nothing_moves_through_a_linked_new_folder() {
        let t = Temp::new("link");
        let old = t.0.join(OLD_IDENTIFIER);
        let new = t.0.join("dev.countersign.Countersign");
        let elsewhere = t.0.join("elsewhere");
        write(&old.join("settings.json"), "old default");
        write(&old.join("approvals-work.jsonl"), "old log");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &new).unwrap();
        let e = move_old_data(&new).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        assert_eq!(
            std::fs::read_to_string(old.join("settings.json")).unwrap(),
            "old default"
        );
        // A dangling link is no folder to make or fill either.
        std::fs::remove_file(&new).unwrap();
        std::os::unix::fs::symlink(t.0.join("nowhere"), &new).unwrap();
        assert!(move_old_data(&new).is_err());
        assert!(!t.0.join("nowhere").exists());
        assert!(old.join("approvals-work.jsonl").is_file());
    }

    #[test]
    fn a_moved_file_keeps_its_mode_and_a_clash_is_kept() {
        let t = Temp::new("mode");
        let old = t.0.join(OLD_IDENTIFIER);
        let new = t.0.join("dev.countersign.Countersign");
        write(&old.join("approvals-work.jsonl"), "old log");
        write(&old.join("settings-work.json"), "old work");
        write(&new.join("settings-work.json"), "new work");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let p = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(old.join("approvals-work.jsonl"), p).unwrap();
        }
        assert_eq!(
            move_old_data(&new).unwrap(),
            Moved::Files {
                moved: vec!["approvals-work.jsonl".into()],
                kept: vec!["settings-work.json".into()],
            }
        );
        assert!(
            !old.join("approvals-work.jsonl").exists(),
            "moved, not copied"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(new.join("approvals-work.jsonl"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_to_string(new.join("settings-work.json")).unwrap(),
            "new work"
        );
    }

    #[test]
    fn no_old_folder_is_nothing_to_do() {
        let t = Temp::new("none");
        let new = t.0.join("dev.countersign.Countersign");
        assert_eq!(move_old_data(&new).unwrap(), Moved::Nothing);
        assert!(!new.exists());
        // A file where the old folder was is not a folder to move.
        write(&t.0.join(OLD_IDENTIFIER), "x");
        assert_eq!(move_old_data(&new).unwrap(), Moved::Nothing);
    }
}
