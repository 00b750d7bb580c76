use clap::Parser;
use prelude_emulator::{Config, DEFAULT_MANAGEMENT_KEY, Emulator};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// A local, wire-compatible Prelude Session API server for demos and tests.
#[derive(Parser, Debug)]
#[command(name = "prelude-emulator", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4010")]
    listen: SocketAddr,
    /// The emulated app's id.
    #[arg(long, default_value = "demo")]
    app_id: String,
    /// Bearer key for the management API and for seeding users. A key of your own also
    /// guards every /emulator/v1 route, and is needed to listen beyond loopback.
    #[arg(long, default_value = DEFAULT_MANAGEMENT_KEY)]
    management_key: String,
    /// Start with no login or step-up configuration, like a new account.
    #[arg(long)]
    bare: bool,
    /// Keep the state in this file across restarts (written 0600).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Every OTP is this code (4 to 8 digits; for demos).
    #[arg(long)]
    fixed_code: Option<String>,
    /// Seconds between two codes sent to the same identifier (0 to 3600).
    #[arg(long, default_value_t = 30)]
    resend_cooldown: i64,
    /// Access-token lifetime in seconds (5 to 86400).
    #[arg(long, default_value_t = 60)]
    access_ttl: i64,
    /// Serve HTTPS with a self-signed certificate made at start; it names every host the
    /// emulator answers to (loopback, --public-url, each --allow-host).
    #[arg(long)]
    tls: bool,
    /// Write that certificate (PEM) here.
    #[arg(long, requires = "tls")]
    cert_out: Option<PathBuf>,
    /// Serve this folder's files under /web/, same-origin with the API.
    #[arg(long)]
    web_root: Option<PathBuf>,
    /// The origin clients use when a proxy fronts the emulator (https://emu.example);
    /// DPoP `htu` and the token issuer follow it.
    #[arg(long)]
    public_url: Option<String>,
    /// Also answer requests whose Host is this name (NAME or NAME:PORT); repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// Grant CORS to this origin (https://app.example); repeatable. Loopback origins may
    /// always call the frontend API.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Start from this scenario file (as `GET /emulator/v1/scenario` exports it).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let scenario = match &args.scenario {
        None => None,
        Some(path) => {
            let read = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| prelude_emulator::Scenario::parse(&b).map_err(|e| e.message));
            match read {
                Ok(s) => Some(s),
                Err(why) => {
                    eprintln!("prelude-emulator: scenario {}: {why}", path.display());
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let cfg = Config {
        app_id: args.app_id,
        management_key: args.management_key,
        bare: args.bare,
        fixed_code: args.fixed_code,
        state_file: args.state,
        resend_cooldown_secs: args.resend_cooldown,
        access_ttl_secs: args.access_ttl,
        tls: args.tls,
        cert_out: args.cert_out,
        web_root: args.web_root,
        public_url: args.public_url,
        allow_hosts: args.allow_hosts,
        cors_origins: args.cors_origins,
        scenario,
        ..Config::default()
    };
    let key_note = if cfg.management_key == DEFAULT_MANAGEMENT_KEY {
        format!("management key: {DEFAULT_MANAGEMENT_KEY} (default)")
    } else {
        "management key: (given)".to_owned()
    };
    let emu = match Emulator::start(cfg, args.listen).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("prelude-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("{key_note}");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "prelude-emulator listening on {}", emu.url());
    let _ = out.flush();
    drop(out);
    wait_for_signal().await;
    emu.shutdown().await;
    ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM (what `kill` and service managers send).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
