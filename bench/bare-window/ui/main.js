// Like Countersign, report once the first frame with content has been produced: the callback
// of the frame after it.
requestAnimationFrame(() => requestAnimationFrame(() => window.__TAURI__.core.invoke("ready")));
