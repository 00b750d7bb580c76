// Like Countersign, report once the first frame with content is painted.
requestAnimationFrame(() => window.__TAURI__.core.invoke("ready"));
