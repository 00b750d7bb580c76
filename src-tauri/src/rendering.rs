//! How WebKit rasterises the window.
//!
//! WebKitGTK rasterises with Skia on GL. On a machine with no GPU that GL is Mesa's software
//! rasteriser, which compiles a shader on the CPU for each new kind of drawing: measured here,
//! the first screen comes ~250 ms later and the process tree holds ~30 MiB more than when Skia
//! rasterises on the CPU directly. So without a GPU render node, Countersign asks for the
//! latter; composition is unchanged. (Turning compositing off instead starts as fast, but then
//! WebKitWebDriver's screenshots hang about one time in twelve.)

use std::path::Path;

/// WebKit reads it in the web process, which inherits our environment.
const CPU_RASTER_VAR: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rendering {
    /// The GPU when the machine has a render node, the CPU otherwise.
    #[default]
    Auto,
    /// WebKit's default: rasterise with GL, whatever implements it.
    Gpu,
    /// Rasterise on the CPU.
    Cpu,
}

impl Rendering {
    /// Whether to rasterise on the CPU, given the directory holding DRM device nodes.
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

/// Applies the choice; returns whether WebKit will rasterise on the CPU. It must run before
/// any other thread exists (it writes the process environment) and before WebKit starts. A
/// value the user set for WebKit's variable is kept.
pub fn prepare(rendering: Rendering) -> bool {
    if let Some(v) = std::env::var_os(CPU_RASTER_VAR) {
        return v != "0";
    }
    let cpu = rendering.use_cpu(Path::new("/dev/dri"));
    #[cfg(target_os = "linux")]
    if cpu && glib::setenv(CPU_RASTER_VAR, "1", false).is_err() {
        return false;
    }
    cpu
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_rasterises_on_the_cpu_only_without_a_render_node() {
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
