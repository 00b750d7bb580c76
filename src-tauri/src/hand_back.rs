//! Handing memory back to the system while Countersign waits in the tray with no window.
//!
//! A start in the tray links GTK, WebKit and their 169 libraries, and the dynamic loader reads
//! much of them at start: their symbol and hash tables (every library is built with immediate
//! binding) and the code their constructors run. Those pages stay mapped in this process only,
//! so its PSS counts them whole (about 41 MiB), though nothing touches them again until a
//! window is built. Once the start has settled and no window exists, [`hand_back`]:
//! - asks glibc to return the heap's free pages (`malloc_trim(3)`);
//! - advises `MADV_PAGEOUT` (madvise(2), Linux 5.4) on every read-only mapping of a file. The
//!   kernel reclaims the pages that only this process maps; those another process shares stay.
//!   A page needed later is read again from its file, unchanged. Anonymous and writable
//!   mappings (the heap, where keys and tokens live) are never advised, so nothing of them is
//!   pushed to swap; with swap on, the loader's relocated read-only copies (RELRO: addresses
//!   only) may be.
//!
//! These are the process's only `unsafe` calls (the workspace denies `unsafe_code` elsewhere).
#![allow(unsafe_code)]

use std::time::Duration;

/// How long after a start in the tray the memory is handed back: the session's resume, the
/// tray item and the lock's watchers have run by then, so their pages are not read again at
/// once.
pub const AFTER_START: Duration = Duration::from_secs(5);

/// What one [`hand_back`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandedBack {
    /// Mappings advised.
    pub mappings: usize,
    /// Their length in bytes (advised, not all of it resident).
    pub bytes: u64,
    /// Resident set before and after, in KiB (`VmRSS` of `/proc/self/status`).
    pub rss_kib: (u64, u64),
}

/// One line of `/proc/self/maps` worth advising: `(start, length)` in bytes.
///
/// A mapping qualifies when it maps a file (a path, a non-zero inode) and is not writable:
/// code, read-only data and the relocated tables made read-only after loading. Writable
/// mappings hold the process's own data.
fn advisable(line: &str) -> Option<(usize, usize)> {
    let mut f = line.split_ascii_whitespace();
    let range = f.next()?;
    let perms = f.next()?;
    let (_offset, _dev, inode) = (f.next()?, f.next()?, f.next()?);
    let path = f.next()?;
    if !path.starts_with('/') || inode == "0" || perms.as_bytes().get(1) != Some(&b'-') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (end > start).then(|| (start, end - start))
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Returns the heap's free pages and pages out the read-only file mappings (module docs).
///
/// Takes a few milliseconds; call it off the main thread.
///
/// # Errors
/// `/proc/self/maps` cannot be read. A mapping the kernel refuses (a device's, or one gone
/// since the list was read) is skipped.
pub fn hand_back() -> std::io::Result<HandedBack> {
    let before = rss_kib();
    trim_heap();
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let (mut mappings, mut bytes) = (0, 0u64);
    for (start, len) in maps.lines().filter_map(advisable) {
        // SAFETY: MADV_PAGEOUT changes no content this process can observe: a reclaimed clean
        // page of a file is read again from the file, an anonymous one from swap (or it stays),
        // whatever the range. A range unmapped since the list was read fails with ENOMEM; a
        // range mapped again meanwhile is advised the same harmless way.
        let advised = unsafe {
            rustix::mm::madvise(
                start as *mut std::ffi::c_void,
                len,
                rustix::mm::Advice::LinuxPageOut,
            )
        };
        if advised.is_ok() {
            mappings += 1;
            bytes += len as u64;
        }
    }
    Ok(HandedBack {
        mappings,
        bytes,
        rss_kib: (before, rss_kib()),
    })
}

#[cfg(target_env = "gnu")]
fn trim_heap() {
    // SAFETY: malloc_trim(3) takes the allocator's own locks and releases free memory only.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn trim_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_mappings_of_files_are_advised() {
        let code = "7f1c2a000000-7f1c2a200000 r-xp 00001000 fd:01 131 /usr/lib/x86_64-linux-gnu/libgtk-3.so.0.2409.32";
        assert_eq!(advisable(code), Some((0x7f1c2a000000, 0x200000)));
        let relro = "7f1c2a200000-7f1c2a201000 r--p 00200000 fd:01 131 /usr/lib/libx.so";
        assert_eq!(advisable(relro), Some((0x7f1c2a200000, 0x1000)));
        for refused in [
            // The library's own data: written.
            "7f1c2a201000-7f1c2a202000 rw-p 00201000 fd:01 131 /usr/lib/libx.so",
            // The heap, anonymous memory, the stack, the kernel's pages.
            "55d0c0000000-55d0c0100000 rw-p 00000000 00:00 0 [heap]",
            "7f1c2a300000-7f1c2a400000 r--p 00000000 00:00 0",
            "7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0 [vdso]",
            // A path with no inode, a short line, a reversed range.
            "7f1c2a300000-7f1c2a400000 r--p 00000000 00:00 0 /x",
            "7f1c2a300000-7f1c2a400000 r--p",
            "7f1c2a400000-7f1c2a300000 r--p 00000000 fd:01 9 /x",
        ] {
            assert_eq!(advisable(refused), None, "{refused}");
        }
    }

    /// The workspace denies `unsafe_code`; this module is the one place that allows it.
    #[test]
    fn no_other_source_file_allows_unsafe_code() {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                let name = e.file_name();
                if p.is_dir() && name != "target" && name != ".git" && name != "node_modules" {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs")
                    && std::fs::read_to_string(&p)
                        .is_ok_and(|s| s.contains(concat!("allow(", "unsafe_code)")))
                {
                    out.push(p.display().to_string());
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut found = Vec::new();
        walk(&root, &mut found);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].ends_with("src-tauri/src/hand_back.rs"),
            "{found:?}"
        );
    }

    #[test]
    fn handing_back_advises_this_process_s_libraries_and_it_runs_on() {
        let done = hand_back().expect("/proc/self/maps");
        assert!(done.mappings > 0, "{done:?}");
        assert!(done.bytes > 0, "{done:?}");
        assert!(done.rss_kib.0 > 0, "{done:?}");
        // Code paged out is read again on its next call.
        let text: String = ["still", "runs"].join(" ");
        assert_eq!(text, "still runs");
        assert!(hand_back().expect("again").mappings > 0);
    }
}
