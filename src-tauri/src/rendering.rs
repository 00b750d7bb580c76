//! How WebKit draws the window.
//!
//! With a GPU, WebKitGTK rasterises with Skia on GL, composites the layers with GL in the web
//! process, and the app shows each frame through GTK's GL. On a machine with no GPU, all of that
//! GL is Mesa's software rasteriser (llvmpipe), which compiles shaders on the CPU. So without a
//! GPU render node Countersign turns GL off:
//! - Skia rasterises on the CPU (`WEBKIT_SKIA_ENABLE_CPU_RENDERING`): rasterising through
//!   llvmpipe cost ~250 ms more on the first screen and ~30 MiB more;
//! - GTK gets no GL (`GDK_GL=disable`), and WebKit then draws without GL compositing: Skia paints
//!   the page into shared memory, which the app shows with cairo. Measured on 2 cores, 24
//!   interleaved starts: the first screen 43 ms sooner (374 against 417 ms, median), 90 ms less
//!   CPU and 55 MiB less resident memory for the window's process tree.
//!
//! WebKit's own switch for that mode, `WEBKIT_DISABLE_COMPOSITING_MODE`, is not used: set as
//! well, it made 4 of 24 starts here about 480 ms slower. WebKitWebDriver's screenshots wait for
//! the page's next drawing, which an idle page without compositing never makes; the end-to-end
//! tests keep one pixel changing while they take one (tests/src/lib.rs).

use std::path::Path;

/// WebKit reads it in the web process, which inherits our environment.
const CPU_RASTER_VAR: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";

/// The variables set for a window drawn on the CPU: a value the user set is kept.
#[cfg(target_os = "linux")]
const CPU_ENV: [(&str, &str); 2] = [(CPU_RASTER_VAR, "1"), ("GDK_GL", "disable")];

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

/// Applies the choice; returns whether WebKit will draw on the CPU. It must run before
/// any other thread exists (it writes the process environment) and before WebKit starts. A
/// value the user set for WebKit's variable is kept.
pub fn prepare(rendering: Rendering) -> bool {
    if let Some(v) = std::env::var_os(CPU_RASTER_VAR) {
        return v != "0";
    }
    let cpu = rendering.use_cpu(Path::new("/dev/dri"));
    #[cfg(target_os = "linux")]
    if cpu
        && CPU_ENV
            .iter()
            .any(|(name, value)| glib::setenv(name, value, false).is_err())
    {
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
