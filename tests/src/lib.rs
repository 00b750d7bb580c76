//! Drives the real Countersign window: `tauri-driver` (which runs WebKitWebDriver) opens a
//! WebDriver session on the built binary, each window on its own Xvfb screen. Needs `Xvfb` and
//! `tauri-driver` on the PATH and the binaries built first (`cargo build --workspace`).

use serde_json::{Value, json};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use thirtyfour::prelude::*;

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_owned()
}

/// Which build the tests start: `debug` unless `COUNTERSIGN_E2E_BUILD=release` asks for the
/// binaries of `cargo build --release --workspace --bins` (for timings a person would see).
pub fn build_profile() -> &'static str {
    match std::env::var("COUNTERSIGN_E2E_BUILD").as_deref() {
        Ok("release") => "release",
        Ok("debug") | Err(_) => "debug",
        Ok(other) => panic!("COUNTERSIGN_E2E_BUILD is debug or release, not {other:?}"),
    }
}

pub fn target_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let profile = build_profile();
    let p = dir.join(profile).join(name);
    let build = if profile == "release" {
        "cargo build --release --workspace --bins"
    } else {
        "cargo build --workspace"
    };
    assert!(
        p.exists(),
        "{} is missing: run `{build}` before the end-to-end tests",
        p.display()
    );
    p
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub(crate) fn wait_for_port(port: u16, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Ends a child with SIGTERM so it can stop its own children (tauri-driver stops
/// WebKitWebDriver; a SIGKILL would orphan it and keep our stdout pipe open).
pub(crate) fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

mod display;
mod emulator;
mod proc;
pub use display::Display;
pub use emulator::{EmulatorProc, prelude_management_key};
pub use proc::{Finished, Proc, finish};
mod bench;
mod demo;
mod dialogs;
mod looks;
mod picks;
#[cfg(target_os = "linux")]
pub mod tray;

// ---------------------------------------------------------------------------------------------
// The app window

/// Where one test's app keeps its files: its own XDG dirs, so a test never touches a real
/// store, and a second launch with the same `Sandbox` sees the first one's data.
pub struct Sandbox {
    pub dir: PathBuf,
    pub profile: String,
}

impl Sandbox {
    pub fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "countersign-e2e-{test}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        std::fs::create_dir_all(&dir).expect("sandbox dir");
        Self {
            dir,
            profile: format!("e2e-{test}-{}", std::process::id()),
        }
    }
}

impl Sandbox {
    /// The app's runtime dir (its approval socket lives there): private, as a login's is.
    pub fn runtime_dir(&self) -> PathBuf {
        use std::os::unix::fs::DirBuilderExt;
        let d = self.dir.join("run");
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&d);
        d
    }

    /// `countersign ARGS…` as a program asking this sandbox's app, with its output captured.
    pub fn countersign(&self, args: &[&str]) -> Command {
        let mut c = Command::new(target_bin("countersign"));
        c.args(args)
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("COUNTERSIGN_PROFILE", &self.profile)
            .env_remove("COUNTERSIGN_ENDPOINT")
            .env_remove("COUNTERSIGN_APP_ID")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct App {
    pub driver: WebDriver,
    tauri_driver: Child,
    /// The profile's lock, which the app holds while it runs.
    profile_lock: PathBuf,
    artifacts: PathBuf,
    // Dropped last: the window goes before its screen.
    _display: Display,
}

impl App {
    /// Starts the app in `sandbox`, talking to `endpoint` (or its embedded emulator).
    pub async fn launch(test: &str, sandbox: &Sandbox, endpoint: Option<&str>) -> Self {
        Self::launch_with(test, sandbox, endpoint, &[]).await
    }

    /// Like [`App::launch`], with extra environment for the app.
    pub async fn launch_with(
        test: &str,
        sandbox: &Sandbox,
        endpoint: Option<&str>,
        env: &[(&str, &str)],
    ) -> Self {
        Self::launch_binary(test, sandbox, endpoint, env, &target_bin("countersign")).await
    }

    /// Like [`App::launch_with`], for a given build of the app (an installed package's).
    pub async fn launch_binary(
        test: &str,
        sandbox: &Sandbox,
        endpoint: Option<&str>,
        env: &[(&str, &str)],
        app_bin: &Path,
    ) -> Self {
        let display = Display::start();
        let port = free_port();
        let native_port = free_port();
        let mut cmd = Command::new("tauri-driver");
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .env("XDG_DATA_HOME", sandbox.dir.join("data"))
        .env("XDG_CONFIG_HOME", sandbox.dir.join("config"))
        .env("XDG_CACHE_HOME", sandbox.dir.join("cache"))
        .env("COUNTERSIGN_PROFILE", &sandbox.profile)
        .env("XDG_RUNTIME_DIR", sandbox.runtime_dir())
        .env("DISPLAY", display.name())
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("COUNTERSIGN_APP_ID")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("E2E_APP_LOGS").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
        match endpoint {
            Some(e) => cmd.env("COUNTERSIGN_ENDPOINT", e),
            None => cmd.env_remove("COUNTERSIGN_ENDPOINT"),
        };
        let mut tauri_driver = cmd
            .spawn()
            .expect("tauri-driver on the PATH (cargo install tauri-driver --version 2.1.0)");
        if !wait_for_port(port, Duration::from_secs(15)) {
            terminate(&mut tauri_driver);
            panic!("tauri-driver did not listen on {port}");
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            json!({ "application": app_bin.to_string_lossy() }),
        );
        let session = tokio::time::timeout(
            Duration::from_secs(60),
            WebDriver::new(format!("http://127.0.0.1:{port}"), caps),
        )
        .await;
        let driver = match session {
            Ok(Ok(d)) => d,
            other => {
                terminate(&mut tauri_driver);
                panic!("no WebDriver session: {other:?}");
            }
        };
        let artifacts = workspace_root().join("tests").join("artifacts").join(test);
        std::fs::create_dir_all(&artifacts).expect("artifacts dir");
        Self {
            driver,
            tauri_driver,
            profile_lock: sandbox
                .runtime_dir()
                .join("countersign")
                .join(format!("{}.lock", sandbox.profile)),
            artifacts,
            _display: display,
        }
    }

    /// The app's private X display (`:N`), for tools that look at its windows (xdotool).
    pub fn display(&self) -> &str {
        self._display.name()
    }

    /// Saves a PNG of the window as `tests/artifacts/<test>/<label>.png`.
    pub async fn shot(&self, label: &str) -> PathBuf {
        let path = self.artifacts.join(format!("{label}.png"));
        save_screenshot(&self.driver, &path).await;
        path
    }

    pub async fn close(mut self) {
        let _ = self.driver.clone().quit().await;
        terminate(&mut self.tauri_driver);
        // An app that is still ending holds its profile: a launch now would hand itself to it.
        wait_released(&self.profile_lock, Duration::from_secs(15)).await;
    }

    /// Runs a test body against the window. On failure (error or panic) it saves
    /// `failure.png`, then closes the session either way and reports the failure.
    pub async fn run<F, Fut>(self, body: F)
    where
        F: FnOnce(AppRef) -> Fut,
        Fut: std::future::Future<Output = TestResult> + Send + 'static,
    {
        let handle = AppRef {
            driver: self.driver.clone(),
            artifacts: self.artifacts.clone(),
            display: self._display.name().to_owned(),
        };
        let outcome =
            tokio::time::timeout(Duration::from_secs(120), tokio::spawn(body(handle))).await;
        let failure = match outcome {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(e))) => Some(format!("test failed: {e}")),
            Ok(Err(join)) => Some(format!("test panicked: {join}")),
            Err(_) => Some("test timed out after 120 s".to_owned()),
        };
        if failure.is_some() {
            let _ = self.shot("failure").await;
        }
        self.close().await;
        if let Some(f) = failure {
            panic!("{f}");
        }
    }
}

/// Waits until nobody holds the flock(2) on `lock` (or it does not exist), at most `limit`.
async fn wait_released(lock: &Path, limit: Duration) {
    use nix::fcntl::{Flock, FlockArg};
    let began = std::time::Instant::now();
    while began.elapsed() < limit {
        let Ok(file) = std::fs::File::open(lock) else {
            return;
        };
        if Flock::lock(file, FlockArg::LockExclusiveNonblock).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the page to paint two frames, then saves a screenshot. On a busy machine WebKit
/// can lag behind the DOM, and a snapshot taken at once shows an older frame.
///
/// WebKitWebDriver answers a screenshot after the page's next drawing. Without a GPU the app
/// draws with no GL compositing (rendering.rs), and there an idle page draws nothing more, so
/// the screenshot would wait for ever: while it is taken, a mark of one pixel in a corner, at
/// 1% opacity, changes at every frame.
async fn save_screenshot(driver: &WebDriver, path: &Path) {
    let painted = driver.execute_async(SHOT_BEGIN, vec![]);
    let _ = tokio::time::timeout(Duration::from_secs(10), painted).await;
    match tokio::time::timeout(Duration::from_secs(30), driver.screenshot_as_png()).await {
        Ok(Ok(png)) => {
            let _ = std::fs::write(path, png);
        }
        Ok(Err(e)) => eprintln!("screenshot {} failed: {e}", path.display()),
        Err(_) => eprintln!("screenshot {} timed out", path.display()),
    }
    let _ = driver.execute(SHOT_END, vec![]).await;
}

const SHOT_BEGIN: &str = "const done = arguments[arguments.length - 1];
    let mark = document.getElementById('e2e-shot-mark');
    if (!mark) {
      mark = document.createElement('div');
      mark.id = 'e2e-shot-mark';
      mark.setAttribute('aria-hidden', 'true');
      mark.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none;z-index:2147483647;background:#000';
      document.documentElement.appendChild(mark);
    }
    let n = 0;
    cancelAnimationFrame(window.__e2eShotFrame);
    const tick = () => {
      mark.style.opacity = n++ % 2 ? '0.01' : '0.02';
      window.__e2eShotFrame = requestAnimationFrame(tick);
    };
    tick();
    requestAnimationFrame(() => requestAnimationFrame(() => done(true)));";

const SHOT_END: &str = "cancelAnimationFrame(window.__e2eShotFrame);
    document.getElementById('e2e-shot-mark')?.remove();";

/// What a test body gets: the session and a place for screenshots.
#[derive(Clone)]
pub struct AppRef {
    pub driver: WebDriver,
    artifacts: PathBuf,
    /// The X display the window is on (for native dialogs).
    display: String,
}

impl AppRef {
    /// A handle on a session outside [`App::run`] (the benchmarks drive it themselves).
    pub fn new(driver: WebDriver) -> Self {
        Self {
            driver,
            artifacts: std::env::temp_dir(),
            display: std::env::var("DISPLAY").unwrap_or_default(),
        }
    }

    pub async fn shot(&self, label: &str) {
        save_screenshot(&self.driver, &self.artifacts.join(format!("{label}.png"))).await;
    }

    fn sel(testid: &str) -> By {
        By::Css(format!("[data-testid=\"{testid}\"]"))
    }

    /// The element with this `data-testid`, once it is on screen.
    pub async fn el(&self, testid: &str) -> WebDriverResult<WebElement> {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(e) = self.driver.find(Self::sel(testid)).await
                && e.is_displayed().await.unwrap_or(false)
            {
                return Ok(e);
            }
            if Instant::now() > until {
                return self.driver.find(Self::sel(testid)).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the control once it is enabled (busy states and resend cooldowns disable
    /// buttons, and an answer button settles for a moment after it appears, marked
    /// `aria-disabled`); a control still disabled after 10 s is an error, not a silent click.
    pub async fn click(&self, testid: &str) -> TestResult {
        let e = self.el(testid).await?;
        let until = Instant::now() + Duration::from_secs(10);
        while !e.is_enabled().await.unwrap_or(false)
            || e.attr("aria-disabled").await.ok().flatten().as_deref() == Some("true")
        {
            if Instant::now() > until {
                return Err(format!("{testid} stayed disabled").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(e.click().await?)
    }

    /// Types into a field the reliable way for WebKit: set the value and fire `input`.
    pub async fn fill(&self, testid: &str, text: &str) -> WebDriverResult<()> {
        let e = self.el(testid).await?;
        self.driver
            .execute(
                "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
                vec![e.to_json()?, json!(text)],
            )
            .await?;
        Ok(())
    }

    /// Whether the element with this testid is wholly inside the window's viewport: seen
    /// without scrolling.
    pub async fn in_view(&self, testid: &str) -> WebDriverResult<bool> {
        let seen = self
            .driver
            .execute(
                "const r = document.querySelector(`[data-testid=\"${arguments[0]}\"]`).getBoundingClientRect(); \
                 return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth;",
                vec![json!(testid)],
            )
            .await?;
        Ok(seen.json() == &json!(true))
    }

    pub async fn text(&self, testid: &str) -> WebDriverResult<String> {
        self.el(testid).await?.text().await
    }

    /// The element's text with every value shortened for the screen put back whole (from its
    /// title), white space folded.
    pub async fn full_text(&self, testid: &str) -> WebDriverResult<String> {
        let e = self.el(testid).await?;
        let ret = self
            .driver
            .execute(
                "const c = arguments[0].cloneNode(true);
                 for (const b of c.querySelectorAll('[data-shortened]')) b.textContent = b.title;
                 return c.textContent.replace(/\\s+/g, ' ').trim();",
                vec![e.to_json()?],
            )
            .await?;
        Ok(ret.json().as_str().unwrap_or_default().to_owned())
    }

    /// The stage on screen, or `starting` until the page has heard the backend and listens
    /// for live events (a test acting earlier would race the app's start).
    pub async fn stage(&self) -> WebDriverResult<String> {
        let ret = self
            .driver
            .execute(
                "const a = document.getElementById('app'); return a.dataset.ready ? a.dataset.stage : 'starting';",
                vec![],
            )
            .await?;
        Ok(ret.json().as_str().unwrap_or_default().to_owned())
    }

    /// Waits until the UI root carries `data-stage="<stage>"`.
    pub async fn wait_stage(&self, stage: &str) -> TestResult {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let now = self.stage().await?;
            if now == stage {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!("stage is {now:?}, expected {stage:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the error line shows `text`.
    pub async fn wait_error(&self, text: &str) -> TestResult {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(e) = self.driver.find(Self::sel("error")).await
                && e.is_displayed().await.unwrap_or(false)
                && e.text().await.unwrap_or_default().contains(text)
            {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(format!("the error line never said {text:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `body` in the page every 100 ms until `done` holds for its result, for up to 10 s;
    /// the last result, or an error naming `what` was awaited.
    pub async fn wait_script(
        &self,
        body: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.script(body).await?;
            if done(&v) {
                return Ok(v);
            }
            if Instant::now() > until {
                return Err(format!("waited for {what}; the page says {v}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element with `testid` is drawn (present, and not hidden by itself, an
    /// ancestor or a closed `<details>`), naming `what` if it never is.
    pub async fn wait_drawn(&self, testid: &str, what: &str) -> TestResult {
        self.wait_script(
            &format!(
                "return document.querySelector('[data-testid=\"{testid}\"]')?.checkVisibility() ?? false;"
            ),
            what,
            |v| v.as_bool() == Some(true),
        )
        .await?;
        Ok(())
    }

    /// Waits until the demo inbox holds `n` messages; the newest one's code (the list shows
    /// the newest first).
    pub async fn inbox_code(
        &self,
        n: usize,
    ) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
        let v = self
            .wait_script(
                "const m = document.querySelectorAll('[data-testid=demo-inbox-message]'); \
                 return m.length ? [m.length, m[0].dataset.code] : [0, ''];",
                &format!("demo inbox message #{n}"),
                |v| v[0].as_u64().unwrap_or(0) >= n as u64,
            )
            .await?;
        Ok(v[1].as_str().unwrap_or_default().to_owned())
    }

    /// On the embedded demo server: signs in with `phone`, approves `transfer:write` with the
    /// codes from the demo inbox, and waits for "Scope granted."; the codes it submitted.
    pub async fn approve_on_demo(
        &self,
        phone: &str,
    ) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
        self.wait_stage("login").await?;
        self.fill("identifier-input", phone).await?;
        self.click("send-code").await?;
        self.wait_stage("code").await?;
        let login = self.inbox_code(1).await?;
        self.fill("login-code-input", &login).await?;
        self.click("verify-login").await?;
        self.wait_stage("logged").await?;
        self.click("request-scope").await?;
        self.wait_stage("step-up-otp").await?;
        let step = self.inbox_code(2).await?;
        self.fill("stepup-code-input", &step).await?;
        self.click("verify-stepup").await?;
        self.wait_stage("done").await?;
        if self.text("scope-granted").await? != "Scope granted." {
            return Err("the done screen does not say \"Scope granted.\"".into());
        }
        Ok(vec![login, step])
    }

    /// Runs a script in the page; its result, or the error text it threw.
    pub async fn script(&self, body: &str) -> WebDriverResult<Value> {
        let wrapped = format!("try {{ {body} }} catch (e) {{ return 'script error: ' + e; }}");
        Ok(self.driver.execute(wrapped, vec![]).await?.json().clone())
    }
}
