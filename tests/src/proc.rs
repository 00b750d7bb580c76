//! Commands a test runs beside the window (`countersign approve`, a second launch): killed and
//! reaped if the test ends first.

use std::io::BufRead;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a finished command printed and how it exited.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A command running for a test; killed and reaped if the test ends before it does.
pub struct Proc {
    child: Option<Child>,
    /// Its stderr as read so far, once a test reads it while the command runs.
    stderr: Option<Arc<Mutex<String>>>,
    /// The thread that reads it, which ends with the pipe.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Self {
        Self {
            child: Some(cmd.spawn().expect("the command starts")),
            stderr: None,
            reader: None,
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kills it now (a requester that dies).
    pub fn kill(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The number `countersign approve` printed on its stderr for the person to pick
    /// ("… pick 42 …"), waiting up to 30 s for it.
    pub async fn match_number(&mut self) -> u8 {
        let reader = &mut self.reader;
        let seen = self.stderr.get_or_insert_with(|| {
            let pipe = self
                .child
                .as_mut()
                .and_then(|c| c.stderr.take())
                .expect("stderr is piped");
            let seen = Arc::new(Mutex::new(String::new()));
            let into = seen.clone();
            *reader = Some(std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = into.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            }));
            seen
        });
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let text = seen.lock().unwrap().clone();
            let number = text
                .split_once("pick ")
                .and_then(|(_, rest)| rest.get(..2))
                .and_then(|n| n.parse().ok());
            if let Some(n) = number {
                return n;
            }
            assert!(Instant::now() < until, "no number on stderr: {text:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
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
    let child = p.child.take().expect("not finished yet");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("wait task")
        .expect("child output");
    // What was read while it ran comes first; the reader thread ends with the pipe.
    let mut stderr = String::new();
    if let Some(reader) = p.reader.take() {
        let _ = tokio::task::spawn_blocking(move || reader.join()).await;
    }
    if let Some(seen) = &p.stderr {
        stderr.push_str(&seen.lock().unwrap());
    }
    stderr.push_str(&String::from_utf8_lossy(&out.stderr));
    Finished {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    }
}
