//! Command line and environment: which server, which profile.

use crate::error::{AppError, AppResult};
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug, Default)]
#[command(
    name = "countersign",
    // The usage line names the command people run, not `countersign-app`, which it runs.
    bin_name = "countersign",
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
    /// A `countersign:` link to open, as the desktop's URL handler passes it (`countersign %u`).
    #[arg(value_name = "LINK", value_parser = link_arg)]
    pub link: Option<String>,
    /// Started with the session (the autostart entry): needs a tray. With none within 30 s it
    /// says so and exits; with one, Countersign starts in the tray, with no window until a
    /// request arrives or the tray's "Open Countersign" is chosen.
    #[arg(long)]
    pub background: bool,
    /// Set by Countersign when it starts itself again at rest in the tray: it takes over what
    /// the process before carried over (rest.rs).
    #[arg(long, hide = true)]
    pub rested: bool,
    /// Set by WebKitWebDriver, which starts the app as a browser for a WebDriver session
    /// (tauri-driver): the app needs nothing from it, but must start.
    #[arg(long, hide = true)]
    pub automation: bool,
}

/// The one positional argument: only a `countersign:` link, so that a mistyped command
/// (`countersign stauts`) is named rather than taken for something to open.
fn link_arg(text: &str) -> AppResult<String> {
    if crate::requests::link::is_link(text) {
        Ok(text.to_owned())
    } else {
        Err(AppError::InvalidInput("not a countersign: link".to_owned()))
    }
}

impl Args {
    /// Checks what clap cannot: the profile's name.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`], as [`check_profile`].
    pub fn validate(&self) -> AppResult<()> {
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

impl Args {
    /// `--ca-file` made absolute, as a later start reads it: the folder it was relative to
    /// may have changed since.
    pub fn ca_file_absolute(&self) -> Option<PathBuf> {
        self.ca_file
            .as_ref()
            .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
    }

    /// The arguments that start this run again in the tray (rest.rs): the same server,
    /// profile, certificates and drawing, without a link, with `--background --rested`.
    pub fn again(&self) -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> = vec!["--profile".into(), self.profile.clone().into()];
        if let Some(e) = &self.endpoint {
            a.extend(["--endpoint".into(), e.into()]);
        }
        if let Some(id) = &self.app_id {
            a.extend(["--app-id".into(), id.into()]);
        }
        if let Some(f) = self.ca_file_absolute() {
            a.extend(["--ca-file".into(), f.into_os_string()]);
        }
        let rendering = clap::ValueEnum::to_possible_value(&self.rendering)
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        if !rendering.is_empty() {
            a.extend(["--rendering".into(), rendering.into()]);
        }
        a.extend(["--background".into(), "--rested".into()]);
        a
    }
}

/// The largest `--ca-file` read: a few certificates take a few KiB.
const CA_FILE_LIMIT: u64 = 1 << 20;

/// The PEM text of the certificate file at `path`, checked.
///
/// # Errors
/// As [`Args::extra_roots`].
pub(crate) fn read_ca_file(path: &std::path::Path) -> AppResult<Vec<u8>> {
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
///
/// # Errors
/// [`AppError::InvalidInput`] naming the profile and the rule.
pub fn check_profile(p: &str) -> AppResult<()> {
    countersign_requests::profile::check(p).map_err(|e| AppError::InvalidInput(e.to_string()))
}

/// Parses the app's command line (`argv` starts with the program). An argument the app does
/// not know is an error that names it, as clap's usage errors do (exit status 2): GTK reads no
/// arguments of its own here (tao starts it without argv), and the only foreign flag a
/// launcher adds is WebKitWebDriver's `--automation`, which [`Args`] accepts.
///
/// # Errors
/// A clap error: an unknown flag or argument, a bad value, or `--help`/`--version` (which
/// print to stdout and exit 0; see [`clap::Error::exit_code`]).
pub fn parse<I, T>(argv: I) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Args::try_parse_from(argv)
}

/// The certificate of a TLS emulator, as a `--ca-file` holds it (PEM), for tests.
#[cfg(test)]
pub(crate) async fn emulator_cert() -> String {
    let emu = prelude_emulator::Emulator::start(
        prelude_emulator::Config {
            tls: true,
            ..prelude_emulator::Config::default()
        },
        "127.0.0.1:0".parse().expect("an address"),
    )
    .await
    .expect("a TLS emulator");
    let cert = emu.cert_pem().expect("its certificate").to_owned();
    emu.shutdown().await;
    cert
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(argv: &[&str]) -> Result<Args, clap::Error> {
        parse(
            std::iter::once("countersign")
                .chain(argv.iter().copied())
                .map(String::from),
        )
    }

    #[test]
    fn starting_again_keeps_the_run_s_choices_and_drops_its_link() {
        let a = parse_all(&[
            "--profile",
            "work",
            "--endpoint",
            "http://127.0.0.1:9",
            "--rendering",
            "cpu",
            "countersign://approve?scope=a",
        ])
        .unwrap();
        let again: Vec<String> = a
            .again()
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert_eq!(
            again,
            [
                "--profile",
                "work",
                "--endpoint",
                "http://127.0.0.1:9",
                "--rendering",
                "cpu",
                "--background",
                "--rested"
            ]
        );
        let b = parse(std::iter::once("countersign".to_owned()).chain(again)).unwrap();
        assert!(b.background && b.rested && b.link.is_none());
        assert_eq!(b.profile, "work");
    }

    #[test]
    fn own_flags_links_and_the_webdriver_flag_are_accepted() {
        let a = parse_all(&["--automation", "--endpoint", "http://x:1", "--profile=t1"]).unwrap();
        assert_eq!(a.endpoint.as_deref(), Some("http://x:1"));
        assert_eq!(a.profile, "t1");
        assert!(a.automation);
        assert!(a.validate().is_ok());
        let bad = Args {
            profile: "../x".into(),
            ..Args::default()
        };
        assert!(bad.validate().is_err());
        // What the desktop entry runs (`countersign %u`), in any spelling of the scheme.
        for link in [
            "countersign://approve?scope=s&amount=5",
            "Countersign:approve?scope=s",
        ] {
            assert_eq!(parse_all(&[link]).unwrap().link.as_deref(), Some(link));
            let a = parse_all(&["--profile", "p", link]).unwrap();
            assert_eq!((a.profile.as_str(), a.link.as_deref()), ("p", Some(link)));
        }
        assert_eq!(parse_all(&[]).unwrap().link, None);
    }

    #[test]
    fn unknown_flags_and_arguments_are_named_with_exit_status_2() {
        for (argv, named) in [
            (&["--bogus"][..], "--bogus"),
            (&["--bogus=1"], "--bogus"),
            (&["--profile", "p", "--no-sandbox"], "--no-sandbox"),
            (&["-x"], "-x"),
            (
                &["--automation", "--endpoint=http://x:1", "--Profile", "p"],
                "--Profile",
            ),
            (&["stauts"], "stauts"),
            (&["https://example.com"], "https://example.com"),
            (
                &[
                    "countersign://approve?scope=s",
                    "countersign://approve?scope=t",
                ],
                "countersign://approve?scope=t",
            ),
        ] {
            let e = parse_all(argv).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{argv:?}");
            assert!(e.use_stderr(), "{argv:?}");
            let text = e.to_string();
            assert!(text.contains(named), "{argv:?}: {text}");
        }
        for shown in [&["--help"][..], &["--version"]] {
            assert_eq!(parse_all(shown).unwrap_err().exit_code(), 0);
        }
    }

    #[tokio::test]
    async fn the_ca_file_is_read_and_checked_at_start() {
        let cert = emulator_cert().await;
        let dir = std::env::temp_dir().join(format!("ca-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let args = |file: &std::path::Path| {
            parse(["countersign", "--ca-file", file.to_str().unwrap()].map(String::from)).unwrap()
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
            parse(
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
