//! A whole flow at trace level: no token, code or key in the captured output.

mod common;

use common::*;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_traced_flow_prints_no_secret() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emu = emulator_with(prelude_emulator::Config {
        log_codes: false,
        resend_cooldown_secs: 1,
        ..prelude_emulator::Config::default()
    })
    .await;
    let store = Arc::new(prelude_session::MemoryStore::new());
    let c = client_with_store(&emu, store.clone());
    login(&emu, &c, PHONE).await;
    let login_code = last_code(&emu).code;
    let ch = c.request_step_up("transfer:write", None).await.unwrap();
    tracing::debug!(?ch, "challenge");
    c.send_step_up_otp(&ch).await.unwrap();
    let step_code = last_code(&emu).code;
    let done = c.submit_step_up_otp(&ch, &step_code).await.unwrap();
    c.redeem_step_up(&done).await.unwrap();
    let ns = format!(
        "test/{}",
        prelude_session::Endpoint::url(&emu.url())
            .unwrap()
            .host_key()
    );
    let key = prelude_session::SecretStore::get(&*store, &ns, prelude_session::Item::DpopKey)
        .unwrap()
        .unwrap()
        .to_string();
    let refresh =
        prelude_session::SecretStore::get(&*store, &ns, prelude_session::Item::RefreshToken)
            .unwrap()
            .unwrap()
            .to_string();
    tracing::debug!(client = ?c, "done");
    c.logout().await.unwrap();

    let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(out.len() > 200, "the flow was traced: {out}");
    assert!(!out.contains(&key), "DPoP key in the log");
    assert!(!out.contains("rt_"), "refresh token in the log");
    assert!(!refresh.is_empty());
    assert!(!out.contains("eyJ"), "a JWT in the log");
    for code in [login_code, step_code] {
        let words: Vec<&str> = out.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        assert!(!words.contains(&code.as_str()), "code {code} in the log");
    }
}
