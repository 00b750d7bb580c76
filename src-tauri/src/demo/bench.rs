//! The test bench: the emulator's fault switches, its clock and its scenario files, for the
//! embedded server (in process) or a standalone emulator (its control plane over HTTP).
//! Never offered for a real Prelude app.

use super::Demo;
use crate::error::{AppError, AppResult};
use crate::view::BenchView;
use prelude_emulator::{Faults, Scenario};
use prelude_wire::routes;
use reqwest::Method;

/// The frontend routes a tester may break, in the order a flow meets them (relative to
/// [`routes::FRONTEND_BASE`]; a switch names the absolute path).
pub const ROUTES: [&str; 10] = [
    routes::OTP,
    routes::OTP_RETRY,
    routes::OTP_CHECK,
    routes::LOGIN_FINALIZE,
    routes::REFRESH,
    routes::STEPUP_REQUEST,
    routes::STEPUP_CONTINUE,
    routes::PASSKEY_REGISTER_FINISH,
    routes::ME_PASSKEYS,
    routes::REVOKE,
];

#[derive(serde::Deserialize)]
struct Refusal {
    refusal: Option<prelude_emulator::state::PasskeyRefusal>,
}

#[derive(serde::Deserialize)]
struct Clock {
    offset_secs: i64,
    now: i64,
}

impl Demo {
    /// Where the bench acts: `None` for a server that is not an emulator.
    fn remote_bench(&self) -> AppResult<Option<&str>> {
        if self.emulator.is_some() {
            return Ok(None);
        }
        self.external_origin().map(Some).ok_or(AppError::DemoOnly)
    }

    pub async fn bench(&self) -> AppResult<BenchView> {
        let (faults, offset, now, refusal) = match (self.remote_bench()?, &self.emulator) {
            (None, Some(e)) => (
                e.faults(),
                e.clock_offset(),
                e.now(),
                e.last_passkey_refusal(),
            ),
            (Some(origin), _) => {
                let f: Faults = crate::http::control(
                    origin,
                    self.emulator_key.as_ref(),
                    Method::GET,
                    routes::EMULATOR_FAULTS,
                    None,
                )
                .await?;
                let c: Clock = crate::http::control(
                    origin,
                    self.emulator_key.as_ref(),
                    Method::GET,
                    routes::EMULATOR_CLOCK,
                    None,
                )
                .await?;
                // An emulator from before passkeys has no such route: no refusal to show.
                let r: Option<Refusal> = crate::http::control(
                    origin,
                    self.emulator_key.as_ref(),
                    Method::GET,
                    routes::EMULATOR_PASSKEY_REFUSAL,
                    None,
                )
                .await
                .ok();
                (f, c.offset_secs, c.now, r.and_then(|r| r.refusal))
            }
            (None, None) => return Err(AppError::DemoOnly),
        };
        Ok(BenchView {
            faults,
            clock_offset_secs: offset,
            emulated_now_ms: now.saturating_mul(1000),
            routes: ROUTES
                .iter()
                .map(|r| crate::view::BenchRoute {
                    path: routes::frontend(r),
                    slug: r.trim_start_matches('/').replace('/', "-"),
                })
                .collect(),
            passkey_refusal: refusal,
        })
    }

    /// Sets every switch but the clock, which only [`Self::move_clock`] moves.
    pub async fn set_faults(&self, mut f: Faults) -> AppResult<BenchView> {
        f.clock_skew_secs = self.bench().await?.clock_offset_secs;
        match (self.remote_bench()?, &self.emulator) {
            (None, Some(e)) => e
                .set_faults(f)
                .map_err(|e| AppError::InvalidInput(e.to_string()))?,
            (Some(origin), _) => {
                let body =
                    serde_json::to_value(&f).map_err(|e| AppError::Emulator(e.to_string()))?;
                let _: Faults = crate::http::control(
                    origin,
                    self.emulator_key.as_ref(),
                    Method::PUT,
                    routes::EMULATOR_FAULTS,
                    Some(&body),
                )
                .await?;
            }
            (None, None) => return Err(AppError::DemoOnly),
        }
        self.bench().await
    }

    /// Moves the emulated clock by `by` seconds, or back to real time with `None`; by how many
    /// seconds it moved, and the bench after.
    ///
    /// # Errors
    /// [`AppError::DemoOnly`] for a server that is not an emulator; its refusal.
    pub async fn move_clock(&self, by: Option<i64>) -> AppResult<(i64, BenchView)> {
        let before = self.bench().await?.clock_offset_secs;
        let after = by.map_or(0, |d| before.saturating_add(d));
        match (self.remote_bench()?, &self.emulator) {
            (None, Some(e)) => e
                .set_clock_offset(after)
                .map_err(|e| AppError::InvalidInput(e.to_string()))?,
            (Some(origin), _) => {
                let body = serde_json::json!({ "offset_secs": after });
                let _: serde_json::Value = crate::http::control(
                    origin,
                    self.emulator_key.as_ref(),
                    Method::PUT,
                    routes::EMULATOR_CLOCK,
                    Some(&body),
                )
                .await?;
            }
            (None, None) => return Err(AppError::DemoOnly),
        }
        Ok((after - before, self.bench().await?))
    }

    /// The emulator's configuration, users, scenario and switches as a scenario file.
    pub async fn export_scenario(&self) -> AppResult<String> {
        let s: Scenario = match (self.remote_bench()?, &self.emulator) {
            (None, Some(e)) => e.export_scenario(),
            (Some(origin), _) => {
                crate::http::control(
                    origin,
                    self.emulator_key.as_ref(),
                    Method::GET,
                    routes::EMULATOR_SCENARIO,
                    None,
                )
                .await?
            }
            (None, None) => return Err(AppError::DemoOnly),
        };
        serde_json::to_string_pretty(&s).map_err(|e| AppError::Emulator(e.to_string()))
    }

    /// Replaces them with a scenario file's; a file with an error changes nothing, and the
    /// error names the field.
    pub async fn import_scenario(&self, text: &str) -> AppResult<BenchView> {
        match (self.remote_bench()?, &self.emulator) {
            (None, Some(e)) => {
                let s = Scenario::parse(text.as_bytes())
                    .map_err(|e| AppError::InvalidInput(e.message))?;
                e.import_scenario(s)
                    .map_err(|e| AppError::InvalidInput(e.to_string()))?;
            }
            (Some(origin), _) => {
                let body: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| AppError::InvalidInput(format!("scenario file: {e}")))?;
                let _: serde_json::Value = crate::http::control(
                    origin,
                    self.emulator_key.as_ref(),
                    Method::PUT,
                    routes::EMULATOR_SCENARIO,
                    Some(&body),
                )
                .await?;
            }
            (None, None) => return Err(AppError::DemoOnly),
        }
        self.bench().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use crate::server::Server;
    use prelude_session::MemoryStore;
    use std::sync::Arc;

    async fn embedded(tag: &str) -> Backend {
        let dir = crate::backend::temp_dir(&format!("bench-{tag}"));
        Backend::connect(
            Server::Embedded,
            "bench",
            Some(dir),
            Some(Arc::new(MemoryStore::new())),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn scenario_files_round_trip_and_a_bad_one_changes_nothing() {
        let mut b = embedded("scenario").await;
        let f = Faults {
            require_dpop_nonce: true,
            delay_ms: 250,
            fail_routes: vec!["/v1/session/refresh".into()],
            ..Faults::default()
        };
        b.demo().set_faults(f).await.unwrap();
        b.move_clock(Some(600)).await.unwrap();
        let first = b.demo().export_scenario().await.unwrap();
        b.demo().import_scenario(&first).await.unwrap();
        assert_eq!(
            b.demo().export_scenario().await.unwrap(),
            first,
            "export, import, export"
        );
        let v = b.demo().bench().await.unwrap();
        assert_eq!(v.clock_offset_secs, 600);
        assert!(v.faults.require_dpop_nonce && v.faults.delay_ms == 250);

        let mut bad: serde_json::Value = serde_json::from_str(&first).unwrap();
        bad["surprise"] = serde_json::json!(1);
        let e = b
            .demo()
            .import_scenario(&bad.to_string())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert!(e.to_string().contains("surprise"), "{e}");
        assert!(b.demo().import_scenario("{ torn").await.is_err());
        assert_eq!(
            b.demo().export_scenario().await.unwrap(),
            first,
            "nothing changed"
        );
        // No secret goes into the file.
        for word in ["private", "\"d\":", "refresh_token", "code\":\""] {
            assert!(!first.contains(word), "{word} in the scenario file");
        }
    }

    /// A standalone emulator started with a management key of its own refuses its control
    /// plane without it: the app sends the key it was given, for the bench and the inbox.
    #[tokio::test]
    async fn the_bench_and_inbox_send_a_standalone_emulators_own_key() {
        use crate::emulator_key::KeySource;
        const KEY: &str = "an-operator-key-for-the-bench";
        let emu = prelude_emulator::Emulator::start(
            prelude_emulator::Config {
                management_key: KEY.into(),
                ..Default::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let store = Arc::new(MemoryStore::new());
        let connect =
            || Backend::connect(Server::Url(emu.url()), "keyed", None, Some(store.clone()));
        // No key yet: the emulator keeps its control plane to itself.
        let mut b = connect().await.unwrap();
        assert_eq!(b.emulator_key_source(), KeySource::None);
        assert_eq!(b.demo().bench().await.unwrap_err().code(), "demo_only");

        // Not a key: refused, nothing kept.
        let e = b.set_emulator_key(Some("two words")).await.unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert_eq!(b.emulator_key_source(), KeySource::None);

        // The key from Settings, kept in the keyring: every bench action and the inbox work.
        b.set_emulator_key(Some(KEY)).await.unwrap();
        assert_eq!(b.emulator_key_source(), KeySource::Keyring);
        let f = Faults {
            delay_ms: 5,
            ..Faults::default()
        };
        assert_eq!(b.demo().set_faults(f).await.unwrap().faults.delay_ms, 5);
        assert_eq!(emu.faults().delay_ms, 5);
        assert_eq!(b.move_clock(Some(60)).await.unwrap().clock_offset_secs, 60);
        assert_eq!(emu.clock_offset(), 60);
        let file = b.demo().export_scenario().await.unwrap();
        b.demo().import_scenario(&file).await.unwrap();
        assert!(!file.contains(KEY), "the key is no part of a scenario file");
        b.start_login("+33612345678").await.unwrap();
        let inbox = b.demo().inbox().await.unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].to, "+33612345678");

        // The next start reads it from the keyring.
        let again = connect().await.unwrap();
        assert_eq!(again.demo().bench().await.unwrap().clock_offset_secs, 60);

        // A wrong key is refused by the emulator, with a sentence that says where to fix it.
        b.set_emulator_key(Some("not-the-key")).await.unwrap();
        assert_eq!(b.demo().bench().await.unwrap_err().code(), "demo_only");
        let e = crate::http::fetch_outbox(&emu.url(), b.demo().emulator_key())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("Settings"), "{e}");

        // Forgotten: gone from the keyring too.
        b.set_emulator_key(None).await.unwrap();
        assert_eq!(b.emulator_key_source(), KeySource::None);
        assert!(b.demo().emulator_key().is_none());
    }

    #[tokio::test]
    async fn the_clock_moves_and_comes_back_and_faults_keep_it() {
        let mut b = embedded("clock").await;
        assert_eq!(b.move_clock(Some(60)).await.unwrap().clock_offset_secs, 60);
        assert_eq!(
            b.move_clock(Some(3600)).await.unwrap().clock_offset_secs,
            3660
        );
        // Setting the switches leaves the clock where it is.
        let v = b.demo().set_faults(Faults::default()).await.unwrap();
        assert_eq!(v.clock_offset_secs, 3660);
        let e = b.move_clock(Some(7 * 86_400)).await.unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert_eq!(b.move_clock(None).await.unwrap().clock_offset_secs, 0);
    }
}
