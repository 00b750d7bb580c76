//! Command line and environment: which server, which profile.

use crate::error::{AppError, AppResult};
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug, Default)]
#[command(
    name = "countersign",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("COUNTERSIGN_COMMIT"), ")"),
    about = "Approve sensitive actions with a Prelude step-up challenge"
)]
pub struct Args {
    /// Talk to this server (a Prelude-compatible base URL): https://, or plain http:// to this
    /// computer only (localhost, 127.0.0.0/8, ::1).
    #[arg(long, env = "COUNTERSIGN_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Talk to this Prelude app (https://ID.session.prelude.dev).
    #[arg(long, env = "COUNTERSIGN_APP_ID")]
    pub app_id: Option<String>,
    /// Keep this profile's keyring entries, settings and data apart from others.
    #[arg(long, env = "COUNTERSIGN_PROFILE", default_value = "default")]
    pub profile: String,
    /// Also trust the certificates in this PEM file: a server with a certificate of its own,
    /// such as a standalone emulator started with `--tls --cert-out FILE`.
    #[arg(long, env = "COUNTERSIGN_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Draw the window through the GPU (`gpu`), on the CPU (`cpu`), or `auto`: the GPU when
    /// the machine has one.
    #[arg(long, env = "COUNTERSIGN_RENDERING", value_enum, default_value_t)]
    pub rendering: crate::rendering::Rendering,
}

impl Args {
    pub fn validate(&self) -> Result<(), String> {
        check_profile(&self.profile)
    }

    /// The PEM text of `--ca-file`, read and checked now, so that a wrong file stops the start
    /// with its reason rather than fail every connection later.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] naming the file: unreadable, over 1 MiB, or holding no
    /// certificate.
    pub fn extra_roots(&self) -> AppResult<Option<Vec<u8>>> {
        let Some(path) = &self.ca_file else {
            return Ok(None);
        };
        read_ca_file(path).map(Some)
    }
}

/// The largest `--ca-file` read: a few certificates take a few KiB.
const CA_FILE_LIMIT: u64 = 1 << 20;

fn read_ca_file(path: &std::path::Path) -> AppResult<Vec<u8>> {
    use std::io::Read;
    let why =
        |what: String| AppError::InvalidInput(format!("--ca-file {}: {what}", path.display()));
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(CA_FILE_LIMIT + 1).read_to_end(&mut pem))
        .map_err(|e| why(e.to_string()))?;
    if pem.len() as u64 > CA_FILE_LIMIT {
        return Err(why("larger than 1 MiB, so not a certificate file".into()));
    }
    prelude_session::extra_roots(&pem).map_err(|e| why(e.reason().unwrap_or_default().into()))?;
    Ok(pem)
}

/// A profile names files and a socket: 1-40 letters, digits, - or _.
pub fn check_profile(p: &str) -> Result<(), String> {
    if p.is_empty()
        || p.len() > 40
        || !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "profile {p:?} must be 1-40 letters, digits, - or _"
        ));
    }
    Ok(())
}

/// Keeps our own flags and drops the rest: the WebDriver launcher adds flags of its own
/// (`--automation`), which must not stop the app.
pub fn parse_lenient<I: IntoIterator<Item = String>>(argv: I) -> Result<Args, clap::Error> {
    const WITH_VALUE: [&str; 5] = [
        "--endpoint",
        "--app-id",
        "--profile",
        "--rendering",
        "--ca-file",
    ];
    const ALONE: [&str; 4] = ["--help", "-h", "--version", "-V"];
    let mut it = argv.into_iter();
    let mut kept: Vec<String> = it.next().into_iter().collect();
    while let Some(a) = it.next() {
        if WITH_VALUE.contains(&a.as_str()) {
            kept.push(a);
            if let Some(v) = it.next() {
                kept.push(v);
            }
        } else if ALONE.contains(&a.as_str())
            || WITH_VALUE.iter().any(|f| a.starts_with(&format!("{f}=")))
        {
            kept.push(a);
        }
    }
    Args::try_parse_from(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_flags_are_ignored() {
        let a = parse_lenient(
            [
                "countersign",
                "--automation",
                "--endpoint",
                "http://x:1",
                "--profile=t1",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(a.endpoint.as_deref(), Some("http://x:1"));
        assert_eq!(a.profile, "t1");
        assert!(a.validate().is_ok());
        let bad = Args {
            profile: "../x".into(),
            ..Args::default()
        };
        assert!(bad.validate().is_err());
    }

    #[tokio::test]
    async fn the_ca_file_is_read_and_checked_at_start() {
        let emu = prelude_emulator::Emulator::start(
            prelude_emulator::Config {
                tls: true,
                ..prelude_emulator::Config::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let cert = emu.cert_pem().unwrap().to_owned();
        emu.shutdown().await;
        let dir = std::env::temp_dir().join(format!("ca-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let args = |file: &std::path::Path| {
            parse_lenient(["countersign", "--ca-file", file.to_str().unwrap()].map(String::from))
                .unwrap()
        };
        let good = dir.join("emulator.pem");
        std::fs::write(&good, &cert).unwrap();
        let a = args(&good);
        assert_eq!(a.ca_file.as_deref(), Some(good.as_path()));
        assert_eq!(a.extra_roots().unwrap().as_deref(), Some(cert.as_bytes()));
        assert_eq!(Args::default().extra_roots().unwrap(), None);

        let not_pem = dir.join("not.pem");
        std::fs::write(&not_pem, b"hello").unwrap();
        let missing = dir.join("missing.pem");
        for bad in [not_pem, missing] {
            let e = args(&bad).extra_roots().unwrap_err();
            assert_eq!(e.code(), "invalid_input");
            assert!(e.to_string().contains("--ca-file"), "{e}");
            assert!(e.to_string().contains(&bad.display().to_string()), "{e}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn rendering_is_auto_unless_chosen() {
        use crate::rendering::Rendering;
        let parse = |extra: &[&str]| {
            parse_lenient(
                std::iter::once("countersign")
                    .chain(extra.iter().copied())
                    .map(String::from),
            )
        };
        assert_eq!(parse(&[]).unwrap().rendering, Rendering::Auto);
        assert_eq!(
            parse(&["--rendering", "cpu"]).unwrap().rendering,
            Rendering::Cpu
        );
        assert_eq!(
            parse(&["--rendering=gpu"]).unwrap().rendering,
            Rendering::Gpu
        );
        let err = parse(&["--rendering=fast"]).unwrap_err().to_string();
        assert!(err.contains("fast"), "{err}");
    }
}
