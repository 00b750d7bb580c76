//! A private X server (Xvfb) per window, for the tests and the benches.

use crate::terminate;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A private X server for one window. Windows that share a display cover each other, and WebKit
/// stops painting a covered window: its screenshots would show a stale frame.
pub struct Display {
    child: Child,
    name: String,
}

impl Display {
    /// Starts one; it ends when dropped.
    pub fn start() -> Self {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x900x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb on the PATH (Debian package xvfb)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("Xvfb reports its display");
        let n: u32 = line.trim().parse().expect("a display number");
        Self {
            child,
            name: format!(":{n}"),
        }
    }

    /// Its name, for `DISPLAY`: `:N`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}
