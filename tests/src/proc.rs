//! Commands a test runs beside the window (`countersign approve`, a second launch): killed and
//! reaped if the test ends first.

use std::process::{Child, Command};

/// What a finished command printed and how it exited.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A command running for a test; killed and reaped if the test ends before it does.
pub struct Proc(Option<Child>);

impl Proc {
    pub fn spawn(mut cmd: Command) -> Self {
        Self(Some(cmd.spawn().expect("the command starts")))
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// Kills it now (a requester that dies).
    pub fn kill(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for a command off the async runtime.
pub async fn finish(mut p: Proc) -> Finished {
    let child = p.0.take().expect("not finished yet");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("wait task")
        .expect("child output");
    Finished {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
