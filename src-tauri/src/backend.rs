//! The session owner behind the commands: which server, where the flow is, the challenge in
//! progress. It has no window and no Tauri types, so it is tested on its own.

use crate::audit::{AuditEntry, AuditLog, rfc3339};
use crate::error::{AppError, AppResult};
use crate::flow::{Approval, Approving, Attempt, Flow};
use crate::server::Server;
use crate::view::*;
use prelude_emulator::customer::CustomerBackend;
use prelude_emulator::{Config as EmuConfig, DemoScenario, Emulator};
use prelude_session::{
    ClientConfig, Endpoint, Error as SessionError, Identifier, PlatformStore, RevokeTarget,
    SecretStore, SessionClient, StepUpChallenge,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the UI waits before offering to resend a code: the emulator's default cooldown,
/// or `COUNTERSIGN_RESEND_COOLDOWN_SECS` (which the embedded emulator then uses too).
pub fn resend_cooldown() -> Duration {
    static SECS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    Duration::from_secs(*SECS.get_or_init(|| {
        std::env::var("COUNTERSIGN_RESEND_COOLDOWN_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|s| *s <= 600)
            .unwrap_or(30)
    }))
}

/// The keyring service. Debug builds use their own, so a development run never reads or
/// overwrites an installed app's session.
pub const KEYRING_SERVICE: &str = if cfg!(debug_assertions) {
    "countersign-dev"
} else {
    "countersign"
};

/// What a form needs to know of the wire rules, so the UI re-implements none of them.
pub fn input_rules() -> InputRules {
    InputRules {
        code_min: *prelude_wire::CODE_LENGTHS.start(),
        code_max: *prelude_wire::CODE_LENGTHS.end(),
        identifier_hint: prelude_wire::IDENTIFIER_HINT,
    }
}

/// The sign-in screen, as it can be drawn before the server is reached: the window shows it
/// in its first frame. A custom URL's demo inbox appears once the server has been asked.
pub fn boot_view(server: &Server, last_identifier: Option<String>, theme: String) -> AppView {
    AppView {
        stage: Stage::Login,
        server: server.view(matches!(server, Server::Embedded)),
        theme,
        rules: input_rules(),
        identifier: None,
        last_identifier,
        login_resend_at: None,
        user: None,
        challenge: None,
        grant: None,
        notice: None,
        store_warning: None,
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub struct Backend {
    server: Server,
    client: SessionClient,
    emulator: Option<Emulator>,
    /// The server answers the emulator's demo routes.
    demo_url: Option<String>,
    profile: String,
    flow: Flow,
    resumed: bool,
    /// Something to tell the user, until their next action.
    notice: Option<String>,
    audit: Option<AuditLog>,
    /// Where the key and the refresh token live; memory only if the platform's store failed
    /// its check.
    store: Arc<PlatformStore>,
    /// The stand-in for the customer's backend that signs custom-step tokens; started with
    /// the first demo scenario that has a custom step.
    customer: Option<CustomerBackend>,
}

impl Backend {
    /// Connects to the chosen server; for the embedded one, starts the emulator with its state
    /// in `data_dir`.
    pub async fn connect(
        server: Server,
        profile: &str,
        data_dir: Option<PathBuf>,
        store: Option<Arc<dyn SecretStore>>,
    ) -> AppResult<Self> {
        let began = std::time::Instant::now();
        let audit = data_dir
            .as_ref()
            .map(|d| AuditLog::new(d.join(format!("approvals-{profile}.jsonl"))));
        let mut emulator = None;
        let endpoint = match server.endpoint()? {
            Some(ep) => ep,
            None => {
                let cfg = EmuConfig {
                    state_file: data_dir.map(|d| d.join(format!("emulator-{profile}.json"))),
                    log_codes: false,
                    resend_cooldown_secs: resend_cooldown().as_secs() as i64,
                    // The app drives its emulator in process: no control plane over HTTP,
                    // and a management key no one else knows (never logged).
                    control_plane: false,
                    management_key: prelude_emulator::random_management_key(),
                    ..EmuConfig::default()
                };
                let emu = Emulator::start(cfg, "127.0.0.1:0".parse().expect("static address"))
                    .await
                    .map_err(|e| AppError::Emulator(e.to_string()))?;
                for n in emu.notices() {
                    tracing::warn!("{n}");
                }
                tracing::debug!(
                    ms = began.elapsed().as_millis() as u64,
                    "embedded emulator up"
                );
                let ep = Endpoint::url(&emu.url())?;
                emulator = Some(emu);
                ep
            }
        };
        let origin = endpoint.origin().as_str().trim_end_matches('/').to_owned();
        let mut cfg = ClientConfig::new(endpoint);
        cfg.profile = profile.to_owned();
        if server == Server::Embedded {
            // Its port is new on every start; its sessions (kept in the data dir) are not.
            cfg.store_key = Some(server.key());
        }
        cfg.user_agent = format!(
            "Countersign/{} ({})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS
        );
        // The store is checked at the first look (resume), off the start-up path.
        let store = Arc::new(match store {
            Some(s) => PlatformStore::over(s),
            None => PlatformStore::new(KEYRING_SERVICE),
        });
        let client = SessionClient::new(cfg, store.clone() as Arc<dyn SecretStore>)?;
        tracing::debug!(ms = began.elapsed().as_millis() as u64, "client ready");
        let demo =
            emulator.is_some() || (matches!(server, Server::Url(_)) && probe_demo(&origin).await);
        let demo_url = demo.then_some(origin);
        Ok(Self {
            server,
            client,
            emulator,
            demo_url,
            profile: profile.to_owned(),
            flow: Flow::default(),
            resumed: false,
            notice: None,
            audit,
            store,
            customer: None,
        })
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// Writes an ended attempt to the audit log.
    fn close_attempt(&self, a: Attempt, outcome: &str, error: Option<&AppError>) {
        let entry = AuditEntry {
            started_at: rfc3339(a.started),
            ended_at: rfc3339(unix_now()),
            server: self.server.label(),
            session_id: self.client.session_id(),
            scope: a.approval.scope,
            metadata: a.approval.metadata,
            steps: a.steps,
            wrong_codes: a.wrong_codes,
            outcome: outcome.to_owned(),
            error_code: error.map(|e| e.code().to_owned()),
        };
        if let Some(log) = &self.audit
            && let Err(e) = log.append(&entry)
        {
            tracing::error!(error = %e, "approval not written to the audit log");
        }
    }

    pub fn profile(&self) -> &str {
        &self.profile
    }

    pub fn emulator(&self) -> Option<&Emulator> {
        self.emulator.as_ref()
    }

    /// The base URL of an emulator reached over HTTP (not embedded), for the inbox poller.
    pub fn external_demo_url(&self) -> Option<String> {
        self.emulator
            .is_none()
            .then(|| self.demo_url.clone())
            .flatten()
    }

    pub async fn shutdown(self) {
        if let Some(e) = self.emulator {
            e.shutdown().await;
        }
    }

    /// Resumes a stored session once, at the first look.
    pub async fn resume(&mut self) {
        if self.resumed {
            return;
        }
        self.resumed = true;
        let began = std::time::Instant::now();
        if let Err(e) = self.store.probe_or_fall_back(&self.profile) {
            tracing::error!(error = %e, "no working secure store; secrets stay in memory this run");
        }
        let stored = self.client.has_stored_session();
        tracing::debug!(
            ms = began.elapsed().as_millis() as u64,
            "stored session looked up"
        );
        match stored {
            Ok(true) => match self.client.refresh().await {
                Ok(_) => {
                    if let Err(e) = self.flow.sign_in() {
                        tracing::warn!(error = %e, "session resumed on an unexpected screen");
                        return;
                    }
                    tracing::info!("session resumed");
                    match self.client.restore_step_up() {
                        Ok(Some(ch)) => {
                            let approval = Approval {
                                scope: ch.scope.clone(),
                                metadata: ch.metadata.clone(),
                            };
                            if self
                                .flow
                                .approve(ch, Attempt::new(approval, unix_now()))
                                .is_ok()
                            {
                                self.notice = Some(
                                    "Your approval was still open. Enter the code you received, or send a new one."
                                        .into(),
                                );
                            }
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "open approval not restored"),
                    }
                }
                Err(SessionError::Unauthorized { .. }) => {
                    self.notice = Some("Your session has ended. Sign in again.".into());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not resume the session");
                    self.notice = Some(format!("Could not resume your session: {e}"));
                }
            },
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "keyring unavailable");
                self.notice = Some(format!(
                    "The system keyring is unavailable ({e}). Unlock it, then restart Countersign."
                ));
            }
        }
    }

    /// The view of the flow as it is; reads only.
    pub fn view(&self, last_identifier: Option<String>, theme: String) -> AppView {
        let profile = self.client.profile();
        let identifier = self.flow.identifier().map(|i| i.value.clone());
        let user = self.signed_in().then(|| UserView {
            user_id: profile.as_ref().and_then(|p| p.user_id.clone()),
            session_id: profile.as_ref().and_then(|p| p.session_id.clone()),
            identifier: identifier.clone().or_else(|| last_identifier.clone()),
            scopes: profile
                .as_ref()
                .map(|p| p.scopes.clone())
                .unwrap_or_default(),
        });
        let login_resend_at = match &self.flow {
            Flow::CodeSent { sent_at, .. } => Some(ms(*sent_at + resend_cooldown())),
            _ => None,
        };
        AppView {
            stage: self.flow.stage(),
            server: self.server.view(self.demo_url.is_some()),
            theme,
            rules: input_rules(),
            identifier,
            last_identifier,
            login_resend_at,
            user,
            challenge: self.flow.approving().map(|a| self.challenge_view(a)),
            grant: self.flow.grant().cloned(),
            notice: self.notice.clone(),
            store_warning: self.store.degraded().map(|why| {
                format!(
                    "No secure store works on this computer ({why}). You can sign in and approve, but Countersign will not remember the session after it closes."
                )
            }),
        }
    }

    /// A session is open (and stored).
    pub fn signed_in(&self) -> bool {
        self.flow.is_signed_in()
    }

    fn challenge_view(&self, a: &Approving) -> ChallengeView {
        let c = &a.challenge;
        let (step, step_count) = c.progress().unwrap_or((1, 1));
        let destination = match (c.otp_channel(), self.flow.identifier()) {
            (Some("sms"), Some(id)) if !id.value.contains('@') => Some(mask(&id.value)),
            (Some("email"), Some(id)) if id.value.contains('@') => Some(mask(&id.value)),
            (Some("sms"), _) => Some("your phone".into()),
            (Some("email"), _) => Some("your email address".into()),
            _ => None,
        };
        ChallengeView {
            scope: c.scope.clone(),
            metadata: c.metadata.clone().into_iter().collect(),
            step,
            step_count,
            step_key: c.current_step.clone().unwrap_or_default(),
            channel: c.otp_channel(),
            destination,
            expires_at: c.expires_at.map(|s| s * 1000),
            resend_at: a.sent_at.map(|t| ms(t + resend_cooldown())),
            custom_here: c.otp_channel().is_none() && self.customer.is_some(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Login

    pub async fn start_login(&mut self, typed: &str) -> AppResult<Identifier> {
        self.notice = None;
        if self.flow.is_signed_in() {
            return Err(AppError::WrongStage);
        }
        let id = Identifier::parse(typed)?;
        self.client.start_otp_login(&id).await?;
        self.flow.code_sent(id.clone(), SystemTime::now())?;
        Ok(id)
    }

    pub async fn resend_login_code(&mut self) -> AppResult<()> {
        self.notice = None;
        self.require(Stage::Code)?;
        self.client.resend_otp().await?;
        self.flow.code_resent(SystemTime::now())
    }

    pub async fn verify_login_code(&mut self, typed: &str) -> AppResult<()> {
        self.notice = None;
        self.require(Stage::Code)?;
        self.client.check_otp(&code_in(typed)?).await?;
        self.flow.sign_in()
    }

    pub fn change_identifier(&mut self) -> AppResult<()> {
        self.notice = None;
        self.flow.change_identifier()
    }

    pub async fn logout(&mut self) -> AppResult<()> {
        self.notice = None;
        self.end_flow("cancelled", None);
        self.client.logout().await?;
        Ok(())
    }

    /// Signs out locally, writing the open attempt (if any) with `outcome`.
    fn end_flow(&mut self, outcome: &str, error: Option<&AppError>) {
        if let Some(a) = self.flow.signed_out() {
            self.close_attempt(a, outcome, error);
        }
        self.forget_stored_challenge();
    }

    fn forget_stored_challenge(&self) {
        if let Err(e) = self.client.cancel_step_up() {
            tracing::warn!(error = %e, "open approval not cleared from the keyring");
        }
    }

    fn require(&self, stage: Stage) -> AppResult<()> {
        if self.flow.stage() == stage {
            Ok(())
        } else if !self.flow.is_signed_in() && stage != Stage::Code {
            Err(AppError::NotSignedIn)
        } else {
            Err(AppError::WrongStage)
        }
    }

    /// A failure that means the session is gone sends the user back to the login screen.
    pub fn note_failure(&mut self, e: &AppError) {
        if let AppError::Session(SessionError::Unauthorized { .. }) = e
            && self.signed_in()
            && self.client.profile().is_none()
        {
            self.end_flow("failed", Some(e));
            self.notice = Some("Your session has ended. Sign in again.".into());
        }
    }

    // -----------------------------------------------------------------------------------------
    // Step-up

    pub async fn request_step_up(&mut self, approval: Approval) -> AppResult<()> {
        self.notice = None;
        self.flow.can_approve()?;
        if self.flow.grant().is_some() {
            self.flow.done()?;
        }
        let attempt = Attempt::new(approval.clone(), unix_now());
        let ch = match self
            .client
            .request_step_up(&approval.scope, Some(approval.metadata.clone()))
            .await
        {
            Ok(ch) => ch,
            Err(e) => {
                let e = AppError::from(e);
                self.close_attempt(attempt, "failed", Some(&e));
                return Err(e);
            }
        };
        if ch.is_blocked() {
            let e = AppError::StepUpBlocked;
            self.close_attempt(attempt, "blocked", Some(&e));
            return Err(e);
        }
        if ch.is_completed() {
            self.flow.granted(self.grant_view(&ch))?;
            self.close_attempt(attempt, "granted", None);
            return Ok(());
        }
        self.flow.approve(ch, attempt)?;
        self.enter_step().await
    }

    /// Starts the current step: for an OTP step, sends its code (the app drives sending).
    async fn enter_step(&mut self) -> AppResult<()> {
        let ch = self.flow.approving_mut()?.challenge.clone();
        if ch.otp_channel().is_none() {
            return Ok(());
        }
        if let Err(e) = self.client.send_step_up_otp(&ch).await {
            let e = AppError::from(e);
            self.note_step_failure(&e);
            return Err(e);
        }
        self.flow.step_code_sent(SystemTime::now())
    }

    pub async fn resend_step_up_code(&mut self) -> AppResult<()> {
        self.notice = None;
        let ch = self.flow.approving_mut()?.challenge.clone();
        if let Err(e) = self.client.send_step_up_otp(&ch).await {
            let e = AppError::from(e);
            self.note_step_failure(&e);
            return Err(e);
        }
        self.flow.step_code_sent(SystemTime::now())
    }

    pub async fn verify_step_up_code(&mut self, typed: &str) -> AppResult<()> {
        self.notice = None;
        let ch = self.flow.approving_mut()?.challenge.clone();
        let next = match self.client.submit_step_up_otp(&ch, &code_in(typed)?).await {
            Ok(next) => next,
            Err(e) => {
                let e = AppError::from(e);
                self.note_step_failure(&e);
                return Err(e);
            }
        };
        self.step_passed(&ch, next).await
    }

    /// Passes a custom step. On the demo server the stand-in for the customer's backend signs
    /// the verification token, as the customer's own app would after its check; a real
    /// server's custom steps are completed by the app that asked for them.
    pub async fn complete_custom_step(&mut self) -> AppResult<()> {
        self.notice = None;
        let ch = self.flow.approving_mut()?.challenge.clone();
        let step = ch.current_step.clone().unwrap_or_default();
        if ch.otp_channel().is_some() {
            return Err(AppError::WrongStage);
        }
        let customer = self
            .customer
            .as_ref()
            .ok_or(AppError::CustomStepElsewhere)?;
        let user = self
            .client
            .profile()
            .and_then(|p| p.user_id)
            .ok_or(AppError::NotSignedIn)?;
        let token = customer.verification_token(&user, &ch.challenge_id, &step);
        let next = match self.client.continue_step_up(&ch, &token).await {
            Ok(next) => next,
            Err(e) => {
                let e = AppError::from(e);
                self.note_step_failure(&e);
                return Err(e);
            }
        };
        self.step_passed(&ch, next).await
    }

    /// After a step passed: the next step, or the grant.
    async fn step_passed(
        &mut self,
        ch: &StepUpChallenge,
        next: Option<StepUpChallenge>,
    ) -> AppResult<()> {
        match next {
            None => {
                let grant = self.grant_view(ch);
                if let Some(a) = self.flow.granted(grant)? {
                    self.close_attempt(a, "granted", None);
                }
                self.forget_stored_challenge();
                Ok(())
            }
            Some(next) => {
                self.flow.next_step(next)?;
                self.enter_step().await
            }
        }
    }

    /// A wrong code keeps the challenge; a dead challenge ends the approval.
    fn note_step_failure(&mut self, e: &AppError) {
        match e {
            AppError::Session(SessionError::InvalidOtpCode { .. }) => {
                if let Ok(a) = self.flow.approving_mut() {
                    a.attempt.wrong_codes += 1;
                }
            }
            AppError::Session(
                SessionError::ExpiredChallengeToken
                | SessionError::TokenReused
                | SessionError::InvalidChallengeToken { .. },
            ) => {
                if let Ok(a) = self.flow.end_approval() {
                    self.close_attempt(a, "failed", Some(e));
                }
                self.forget_stored_challenge();
            }
            _ => {}
        }
    }

    fn grant_view(&self, ch: &StepUpChallenge) -> GrantView {
        GrantView {
            scope: ch.scope.clone(),
            session_id: self.client.session_id(),
            grant_mode: ch.grant_mode.clone(),
            metadata: ch.metadata.clone().into_iter().collect(),
            expires_at: ch
                .granted_for
                .filter(|s| *s > 0)
                .map(|s| ms(SystemTime::now() + Duration::from_secs(s as u64))),
        }
    }

    pub fn cancel_step_up(&mut self) -> AppResult<()> {
        self.notice = None;
        let a = self.flow.end_approval()?;
        self.close_attempt(a, "cancelled", None);
        self.forget_stored_challenge();
        Ok(())
    }

    pub fn finish_step_up(&mut self) -> AppResult<()> {
        self.notice = None;
        self.flow.done()
    }

    // -----------------------------------------------------------------------------------------
    // Sessions

    pub async fn list_sessions(&mut self) -> AppResult<Vec<SessionRow>> {
        if !self.signed_in() {
            return Err(AppError::NotSignedIn);
        }
        let own = self.client.session_id();
        let list = self.client.list_sessions(Some(50), None).await?;
        Ok(list
            .sessions
            .into_iter()
            .map(|s| SessionRow {
                current: own.as_deref() == Some(s.id.as_str()),
                device: [s.device_model.clone(), s.os_version.clone()]
                    .into_iter()
                    .flatten()
                    .filter(|x| x != "unknown")
                    .collect::<Vec<_>>()
                    .join(" · "),
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
            })
            .collect())
    }

    pub async fn revoke_sessions(&mut self, target: &str, id: Option<String>) -> AppResult<()> {
        if !self.signed_in() {
            return Err(AppError::NotSignedIn);
        }
        let t = match (target, id) {
            ("all", _) => RevokeTarget::All,
            ("others", _) => RevokeTarget::Others,
            ("mine", _) => RevokeTarget::Mine,
            ("session", Some(id)) => RevokeTarget::Session(id),
            _ => {
                return Err(AppError::InvalidInput(
                    "choose all, others, mine, or one session".into(),
                ));
            }
        };
        self.client.revoke_sessions(t).await?;
        if self.client.profile().is_none() {
            self.end_flow("cancelled", None);
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Demo

    pub async fn demo_inbox(&self) -> AppResult<Vec<InboxMessage>> {
        if let Some(e) = &self.emulator {
            return Ok(e.outbox().into_iter().map(InboxMessage::from).collect());
        }
        match &self.demo_url {
            Some(url) => fetch_outbox(url).await,
            None => Err(AppError::DemoOnly),
        }
    }

    pub async fn set_scenario(&mut self, name: &str) -> AppResult<()> {
        let emu = self.emulator.as_ref().ok_or(AppError::DemoOnly)?;
        let s = match name {
            "review_sms" => DemoScenario::ReviewSms,
            "email_then_sms" => DemoScenario::EmailThenSms,
            "email_then_app" => DemoScenario::EmailThenApp,
            "blocked" => DemoScenario::Blocked,
            "granted" => DemoScenario::Granted,
            other => return Err(AppError::InvalidInput(format!("unknown scenario {other}"))),
        };
        if s == DemoScenario::EmailThenApp && self.customer.is_none() {
            // Made on first use: it generates an RSA key.
            let customer = CustomerBackend::start(serde_json::json!({"status": "block"}))
                .await
                .map_err(|e| AppError::Emulator(e.to_string()))?;
            emu.set_jwks_url(Some(customer.jwks_url()));
            self.customer = Some(customer);
        }
        emu.set_scenario(s);
        Ok(())
    }

    /// Resets the demo server; the local session is gone with it.
    pub async fn reset_demo(&mut self) -> AppResult<()> {
        let emu = self.emulator.as_ref().ok_or(AppError::DemoOnly)?;
        emu.reset();
        self.end_flow("cancelled", None);
        self.notice = None;
        // The server forgot the session; forget it here too (the revoke is refused, harmlessly).
        let _ = self.client.logout().await;
        Ok(())
    }
}

/// The code in what the person typed or pasted: the first run of 4 to 8 digits.
fn code_in(typed: &str) -> AppResult<String> {
    prelude_wire::find_code(typed)
        .ok_or_else(|| AppError::InvalidInput("enter the 4 to 8 digit code you received".into()))
}

async fn probe_demo(origin: &str) -> bool {
    fetch_outbox(origin).await.is_ok()
}

pub async fn fetch_outbox(origin: &str) -> AppResult<Vec<InboxMessage>> {
    #[derive(serde::Deserialize)]
    struct Msg {
        id: String,
        channel: String,
        to: String,
        code: String,
        purpose: String,
        sent_at: String,
    }
    // One client for every poll: building one loads the system's trust store.
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let http = HTTP.get_or_init(reqwest::Client::new);
    let resp = http
        .get(format!("{origin}/emulator/v1/outbox"))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map_err(|e| AppError::Emulator(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(AppError::DemoOnly);
    }
    let msgs: Vec<Msg> = resp.json().await.map_err(|_| AppError::DemoOnly)?;
    Ok(msgs
        .into_iter()
        .map(|m| InboxMessage {
            id: m.id,
            channel: m.channel,
            to: m.to,
            code: m.code,
            purpose: m.purpose,
            sent_at: m.sent_at,
        })
        .collect())
}

/// Checks that a server answers like a Prelude frontend: its JWKS is reachable and readable.
pub async fn test_connection(server: &Server) -> AppResult<String> {
    let Some(endpoint) = server.endpoint()? else {
        return Ok("The built-in demo server runs inside the app.".into());
    };
    let origin = endpoint.origin();
    let base = origin.as_str().trim_end_matches('/').to_owned();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| AppError::Connection(e.to_string()))?;
    let resp = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .map_err(|e| AppError::Connection(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(AppError::Connection(format!(
            "{base} answered HTTP {}",
            resp.status().as_u16()
        )));
    }
    let jwks: serde_json::Value = resp
        .json()
        .await
        .map_err(|_| AppError::Connection(format!("{base} did not answer with a key set")))?;
    let keys = jwks["keys"].as_array().map_or(0, Vec::len);
    if keys == 0 {
        return Err(AppError::Connection(format!(
            "{base} published no signing keys"
        )));
    }
    Ok(format!("Reached {base}: {keys} signing key(s) published."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prelude_emulator::Config;
    use prelude_session::MemoryStore;
    use std::collections::BTreeMap;

    async fn setup() -> (Emulator, Backend, PathBuf) {
        let emu = Emulator::start(
            Config {
                resend_cooldown_secs: 0,
                ..Config::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "countersign-backend-{}-{}",
            std::process::id(),
            emu.local_addr().port()
        ));
        let b = Backend::connect(
            Server::Url(emu.url()),
            "unit",
            Some(dir.clone()),
            Some(Arc::new(MemoryStore::new())),
        )
        .await
        .unwrap();
        (emu, b, dir)
    }

    fn view(b: &Backend) -> AppView {
        b.view(None, "system".into())
    }

    fn transfer() -> Approval {
        Approval {
            scope: "transfer:write".into(),
            metadata: BTreeMap::from([("amount".into(), "500".into())]),
        }
    }

    #[tokio::test]
    async fn the_whole_story_without_a_window() {
        let (emu, mut b, dir) = setup().await;
        b.resume().await;
        let v = view(&b);
        assert_eq!(v.stage, Stage::Login);
        assert!(v.server.demo, "an emulator URL shows the demo inbox");
        assert!(
            !v.server.scenarios,
            "scenarios are for the embedded emulator only"
        );

        b.start_login("+33 6 12 34 56 78").await.unwrap();
        assert_eq!(view(&b).stage, Stage::Code);
        assert_eq!(view(&b).identifier.as_deref(), Some("+33612345678"));
        let code = emu.outbox().last().unwrap().code.clone();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let e = b.verify_login_code(wrong).await.unwrap_err();
        assert_eq!(e.code(), "invalid_otp_code");
        assert_eq!(view(&b).stage, Stage::Code);
        b.verify_login_code(&code).await.unwrap();
        let v = view(&b);
        assert_eq!(v.stage, Stage::Logged);
        assert!(v.user.unwrap().session_id.unwrap().starts_with("ses_"));

        b.request_step_up(transfer()).await.unwrap();
        let v = view(&b);
        assert_eq!(v.stage, Stage::StepUpOtp);
        let c = v.challenge.unwrap();
        assert_eq!((c.step, c.step_count, c.channel), (1, 1, Some("sms")));
        assert_eq!(c.destination.as_deref(), Some("+33 •••• 5678"));
        assert!(c.expires_at.unwrap() > 0 && c.resend_at.is_some());
        let code = emu.outbox().last().unwrap().code.clone();
        b.verify_step_up_code(wrong).await.unwrap_err();
        b.verify_step_up_code(&code).await.unwrap();
        let v = view(&b);
        assert_eq!(v.stage, Stage::Done);
        let g = v.grant.unwrap();
        assert_eq!(g.scope, "transfer:write");
        assert_eq!(g.grant_mode.as_deref(), Some("session-bound"));
        assert!(g.expires_at.is_some());
        b.finish_step_up().unwrap();
        assert_eq!(view(&b).stage, Stage::Logged);

        // Blocked, then cancelled: each attempt is in the log, newest first.
        emu.set_scenario(DemoScenario::Blocked);
        assert_eq!(
            b.request_step_up(transfer()).await.unwrap_err().code(),
            "step_up_blocked"
        );
        emu.set_scenario(DemoScenario::ReviewSms);
        b.request_step_up(transfer()).await.unwrap();
        b.cancel_step_up().unwrap();
        assert_eq!(view(&b).stage, Stage::Logged);
        let (log, bad) = b.audit().unwrap().read(10).unwrap();
        assert_eq!(bad, 0);
        let outcomes: Vec<&str> = log.iter().map(|e| e.outcome.as_str()).collect();
        assert_eq!(outcomes, ["cancelled", "blocked", "granted"]);
        assert_eq!(log[2].steps, ["verify_sms"]);
        assert_eq!(log[2].wrong_codes, 1);
        assert_eq!(log[1].error_code.as_deref(), Some("step_up_blocked"));
        let text = std::fs::read_to_string(b.audit().unwrap().path()).unwrap();
        assert!(!text.contains(&code), "no code in the audit log");

        b.logout().await.unwrap();
        assert_eq!(view(&b).stage, Stage::Login);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn the_embedded_server_keeps_the_session_across_a_restart() {
        let dir = std::env::temp_dir().join(format!("countersign-restart-{}", std::process::id()));
        let store: Arc<dyn prelude_session::SecretStore> = Arc::new(MemoryStore::new());
        let connect = || {
            Backend::connect(
                Server::Embedded,
                "unit",
                Some(dir.clone()),
                Some(store.clone()),
            )
        };
        let mut b = connect().await.unwrap();
        b.resume().await;
        b.start_login("+33612345678").await.unwrap();
        let code = b.emulator().unwrap().outbox().last().unwrap().code.clone();
        b.verify_login_code(&code).await.unwrap();
        let session = view(&b).user.unwrap().session_id;
        assert!(session.is_some());
        let emu = b.emulator.take().unwrap();
        let port = emu.local_addr().port();
        emu.shutdown().await;
        drop(b);

        // Hold the old port so the new emulator must listen on another one.
        let _held = std::net::TcpListener::bind(("127.0.0.1", port));
        let mut b = connect().await.unwrap();
        assert_ne!(b.emulator().unwrap().local_addr().port(), port);
        b.resume().await;
        let v = view(&b);
        assert_eq!(v.stage, Stage::Logged, "the stored session is resumed");
        assert_eq!(v.user.unwrap().session_id, session);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn commands_out_of_place_are_refused_clearly() {
        let (_emu, mut b, _dir) = setup().await;
        assert_eq!(
            b.request_step_up(transfer()).await.unwrap_err().code(),
            "not_signed_in"
        );
        assert_eq!(
            b.verify_step_up_code("123456").await.unwrap_err().code(),
            "not_signed_in"
        );
        assert_eq!(
            b.start_login("0612").await.unwrap_err().code(),
            "invalid_input"
        );
        assert_eq!(
            b.set_scenario("blocked").await.unwrap_err().code(),
            "demo_only"
        );
        assert_eq!(b.cancel_step_up().unwrap_err().code(), "not_signed_in");
        assert_eq!(b.change_identifier().unwrap_err().code(), "wrong_stage");
    }

    #[tokio::test]
    async fn a_custom_step_is_passed_with_the_stand_in_customer_backend() {
        let dir = std::env::temp_dir().join(format!("countersign-custom-{}", std::process::id()));
        let mut b = Backend::connect(
            Server::Embedded,
            "unit",
            Some(dir.clone()),
            Some(Arc::new(MemoryStore::new())),
        )
        .await
        .unwrap();
        b.resume().await;
        b.set_scenario("email_then_app").await.unwrap();
        b.start_login("+33612345678").await.unwrap();
        let code = b.emulator().unwrap().outbox().last().unwrap().code.clone();
        b.verify_login_code(&format!("Your code is {code}."))
            .await
            .unwrap();
        assert_eq!(
            b.complete_custom_step().await.unwrap_err().code(),
            "wrong_stage"
        );
        b.request_step_up(transfer()).await.unwrap();
        let c = view(&b).challenge.unwrap();
        assert_eq!((c.step, c.step_count, c.channel), (1, 2, Some("email")));
        assert_eq!(
            b.complete_custom_step().await.unwrap_err().code(),
            "wrong_stage",
            "an OTP step is not confirmed by the app"
        );
        let code = b.emulator().unwrap().outbox().last().unwrap().code.clone();
        b.verify_step_up_code(&code).await.unwrap();
        let c = view(&b).challenge.unwrap();
        assert_eq!((c.step, c.channel, c.custom_here), (2, None, true));
        assert_eq!(c.step_key, prelude_emulator::APP_STEP);
        b.complete_custom_step().await.unwrap();
        assert_eq!(view(&b).stage, Stage::Done);
        let (log, _) = b.audit().unwrap().read(1).unwrap();
        assert_eq!(log[0].steps, ["verify_email", prelude_emulator::APP_STEP]);
        b.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_connection_test_tells_a_prelude_server_from_anything_else() {
        let (emu, _b, _dir) = setup().await;
        let ok = test_connection(&Server::Url(emu.url())).await.unwrap();
        assert!(ok.contains("signing key"), "{ok}");
        let e = test_connection(&Server::Url("http://127.0.0.1:9".into()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "connection_failed");
        assert_eq!(
            test_connection(&Server::Url("not a url".into()))
                .await
                .unwrap_err()
                .code(),
            "invalid_input"
        );
    }
}
