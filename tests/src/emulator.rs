//! The standalone emulator as a test starts it: its own process on a free loopback port.

use crate::target_bin;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `prelude-emulator` process on a free loopback port.
pub struct EmulatorProc {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl EmulatorProc {
    pub fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(target_bin("prelude-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("prelude-emulator starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("ready line");
        let url = line
            .trim()
            .strip_prefix("prelude-emulator listening on ")
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
            .to_owned();
        Self {
            child,
            url,
            http: reqwest::Client::new(),
        }
    }

    pub async fn outbox(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/emulator/v1/outbox", self.url))
            .send()
            .await
            .expect("outbox reachable")
            .json()
            .await
            .expect("outbox is JSON")
    }

    /// The code of message `n` (from 1), waiting until it has been sent.
    pub async fn nth_code(&self, n: usize) -> String {
        for _ in 0..100 {
            let out = self.outbox().await;
            if out.len() >= n {
                return out[n - 1]["code"].as_str().unwrap_or_default().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the emulator never sent message #{n}");
    }

    /// The newest code sent, waiting briefly for it.
    pub async fn last_code(&self) -> String {
        for _ in 0..50 {
            if let Some(m) = self.outbox().await.last() {
                return m["code"].as_str().unwrap_or_default().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no code was sent");
    }

    /// Moves the emulator's clock forward (past a cooldown, an expiry) instead of waiting.
    pub async fn move_clock(&self, secs: i64) {
        let url = format!("{}/emulator/v1/clock", self.url);
        let now: Value = self
            .http
            .get(&url)
            .send()
            .await
            .expect("clock reachable")
            .json()
            .await
            .expect("clock is JSON");
        let offset = now["offset_secs"].as_i64().unwrap_or(0) + secs;
        let r = self
            .http
            .put(&url)
            .json(&serde_json::json!({ "offset_secs": offset }))
            .send()
            .await
            .expect("clock reachable");
        assert!(r.status().is_success(), "PUT clock: {}", r.status());
    }

    /// Replaces the step-up configuration through the management API.
    pub async fn put_stepup(&self, body: Value) {
        let r = self
            .http
            .put(format!("{}/v2/session/apps/demo/config/stepup", self.url))
            .bearer_auth(prelude_management_key())
            .json(&body)
            .send()
            .await
            .expect("management API reachable");
        assert!(r.status().is_success(), "PUT config/stepup: {}", r.status());
    }
}

pub fn prelude_management_key() -> &'static str {
    "emu_mgmt_demo_key"
}

impl Drop for EmulatorProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
