//! The published web SDK (`@prelude.so/js-sdk` 0.6, bundled by scripts/test.sh) logs in, steps
//! up to `transfer:write` and logs out against the emulator over HTTPS, in headless Chromium.

use countersign_e2e::{EmulatorProc, workspace_root};
use serde_json::json;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use thirtyfour::prelude::*;

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_web_sdk_logs_in_steps_up_and_logs_out() {
    let site = workspace_root().join("tests/web-sdk/site");
    assert!(
        site.join("bundle.js").exists(),
        "tests/web-sdk/site/bundle.js is missing: scripts/test.sh builds it (npm ci && npm run build)"
    );
    let emu = EmulatorProc::start(&["--tls", "--web-root", &site.to_string_lossy()]);
    assert!(emu.url.starts_with("https://"));

    let port = free_port();
    let mut driver_proc = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver on the PATH (Debian package chromium-driver)");
    let until = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(Instant::now() < until, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let profile = std::env::temp_dir().join(format!("web-sdk-chromium-{}", std::process::id()));
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("acceptInsecureCerts".into(), json!(true));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--ignore-certificate-errors", "--no-first-run", "--disable-sync",
                     "--disable-background-networking", "--disable-component-update",
                     format!("--user-data-dir={}", profile.display())],
        }),
    );
    let driver = tokio::time::timeout(
        Duration::from_secs(60),
        WebDriver::new(format!("http://127.0.0.1:{port}"), caps),
    )
    .await
    .expect("a Chromium session in time")
    .expect("a Chromium session");

    let outcome = async {
        driver.goto(format!("{}/web/index.html", emu.url)).await?;
        let until = Instant::now() + Duration::from_secs(45);
        loop {
            let title = driver.title().await?;
            if title == "PASS" || title.starts_with("FAIL") || Instant::now() > until {
                let log = driver.find(By::Id("log")).await?.text().await?;
                return Ok::<_, WebDriverError>((title, log));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    .await;
    let _ = driver.quit().await;
    let _ = Command::new("kill")
        .args(["-TERM", &driver_proc.id().to_string()])
        .status();
    let _ = driver_proc.wait();
    let _ = std::fs::remove_dir_all(&profile);
    let (title, log) = outcome.expect("the page ran");
    assert_eq!(title, "PASS", "the web SDK flow failed:\n{log}");
    assert!(
        log.contains("scope granted") && log.contains("signed out"),
        "{log}"
    );
}
