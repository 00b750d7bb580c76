//! Whether the window draws through the GPU.
//!
//! WebKitGTK composites with GL. On a machine with no GPU that GL is Mesa's software
//! rasteriser, which compiles a shader on the CPU for each new kind of drawing: measured here,
//! the first screen comes ~200 ms later and the process tree holds ~50 MiB more than when
//! WebKit draws on the CPU directly. A form like ours gains nothing from GL, so without a GPU
//! render node the window draws on the CPU.

use std::path::Path;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rendering {
    /// GPU compositing when the machine has a GPU render node, CPU drawing otherwise.
    #[default]
    Auto,
    /// WebKit's default: composite with GL, whatever implements it.
    Gpu,
    /// Draw on the CPU.
    Cpu,
}

impl Rendering {
    /// Whether to draw on the CPU, given the directory holding DRM device nodes.
    pub fn use_cpu(self, dri: &Path) -> bool {
        match self {
            Rendering::Gpu => false,
            Rendering::Cpu => true,
            Rendering::Auto => !has_render_node(dri),
        }
    }
}

fn has_render_node(dri: &Path) -> bool {
    std::fs::read_dir(dri).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// Applies the choice to a freshly built window.
pub fn apply(window: &tauri::WebviewWindow, rendering: Rendering) {
    let cpu = rendering.use_cpu(Path::new("/dev/dri"));
    tracing::debug!(?rendering, cpu, "rendering");
    if !cpu {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let done = window.with_webview(|w| {
            use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
            if let Some(settings) = w.inner().settings() {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        });
        if let Err(e) = done {
            tracing::warn!(error = %e, "could not switch the window to CPU drawing");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_draws_on_the_cpu_only_without_a_render_node() {
        let dir = std::env::temp_dir().join(format!("countersign-dri-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Rendering::Auto.use_cpu(&dir), "empty /dev/dri");
        assert!(Rendering::Auto.use_cpu(&dir.join("missing")), "no /dev/dri");
        std::fs::write(dir.join("card0"), b"").unwrap();
        assert!(
            Rendering::Auto.use_cpu(&dir),
            "a display card alone renders nothing"
        );
        std::fs::write(dir.join("renderD128"), b"").unwrap();
        assert!(!Rendering::Auto.use_cpu(&dir));
        assert!(Rendering::Cpu.use_cpu(&dir));
        assert!(!Rendering::Gpu.use_cpu(&dir.join("missing")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
