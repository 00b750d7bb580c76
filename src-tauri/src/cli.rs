//! Command line and environment: which server, which profile.

use clap::Parser;

#[derive(Parser, Debug, Default)]
#[command(
    name = "countersign",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("COUNTERSIGN_COMMIT"), ")"),
    about = "Approve sensitive actions with a Prelude step-up challenge"
)]
pub struct Args {
    /// Talk to this server (a Prelude-compatible base URL).
    #[arg(long, env = "COUNTERSIGN_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Talk to this Prelude app (https://ID.session.prelude.dev).
    #[arg(long, env = "COUNTERSIGN_APP_ID")]
    pub app_id: Option<String>,
    /// Keep this profile's keyring entries, settings and data apart from others.
    #[arg(long, env = "COUNTERSIGN_PROFILE", default_value = "default")]
    pub profile: String,
    /// Draw the window through the GPU (`gpu`), on the CPU (`cpu`), or `auto`: the GPU when
    /// the machine has one.
    #[arg(long, env = "COUNTERSIGN_RENDERING", value_enum, default_value_t)]
    pub rendering: crate::rendering::Rendering,
}

impl Args {
    pub fn validate(&self) -> Result<(), String> {
        check_profile(&self.profile)
    }
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
    const WITH_VALUE: [&str; 4] = ["--endpoint", "--app-id", "--profile", "--rendering"];
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
