//! `tracing` to stderr and to a daily-rotated file in the app's log dir; `RUST_LOG` respected.

use std::path::PathBuf;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keep the guard alive for the life of the app, or buffered lines are lost at exit.
pub fn init(log_dir: Option<PathBuf>) -> Option<WorkerGuard> {
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let stderr = fmt::layer().with_writer(std::io::stderr);
    let appender = log_dir.and_then(|dir| {
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("countersign: no log folder {}: {e}", dir.display());
            return None;
        }
        RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix("countersign")
            .filename_suffix("log")
            .max_log_files(7)
            .build(dir)
            .map_err(|e| eprintln!("countersign: no log file: {e}"))
            .ok()
    });
    let (file, guard) = match appender {
        Some(a) => {
            let (writer, guard) = tracing_appender::non_blocking(a);
            (
                Some(fmt::layer().with_ansi(false).with_writer(writer)),
                Some(guard),
            )
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init();
    guard
}
